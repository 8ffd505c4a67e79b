"""`x` on the arbitrage pane, on the frozen sandbox: the two-leg confirmation, `y` sending both
legs at once, the banner of an unhedged group and its hedge / unwind / leave.

The route is made by hand: a whale sweeps kraken's BTC/USDT asks and leaves 0.5 BTC bid at
66,000, while binance still asks 65,000.00: buying on binance (taker 0.1 %) and selling on
kraken (taker 0.4 %) nets (66,000 × 0.996 − 65,000 × 1.001) / 65,065 = 103.13 bps."""

from __future__ import annotations

from decimal import Decimal as D

from aitbc_tui.arb_exec import GroupState
from aitbc_tui.domain import OrderType, Side, TimeInForce
from aitbc_tui.ui.screens.arbitrage import ArbBanner, ArbConfirmScreen, ArbResolveScreen
from tests.apptools import wait_ready, wait_until

SIZE = (160, 45)
SYMBOL = "BTC/USDT"


def make_route(app) -> None:
    kraken = app.world.engine("kraken")
    kraken.set_unlimited("whale")
    asks = kraken.book(SYMBOL, 500).asks
    kraken.place("whale", SYMBOL, Side.BUY, OrderType.LIMIT, sum((s for _, s in asks), D(0)) + D("0.5"), D("66000"))
    price, resting = kraken.book(SYMBOL, 1).bids[0]
    assert price == D("66000")
    if resting > D("0.5"):  # the market maker had more behind its visible asks: leave exactly 0.5
        kraken.set_unlimited("seller")
        kraken.place("seller", SYMBOL, Side.SELL, OrderType.LIMIT, resting - D("0.5"), D("66000"))
    assert kraken.book(SYMBOL, 1).bids[0] == (D("66000"), D("0.5"))


def top_is_the_route(app) -> bool:
    route = app._top_route()
    return (
        route is not None
        and (route.buy_venue, route.sell_venue, route.symbol) == ("binance", "kraken", SYMBOL)
        and route.net_bps > 100
    )


async def open_confirmation(pilot) -> ArbConfirmScreen:
    app = pilot.app
    make_route(app)
    await wait_until(pilot, lambda: top_is_the_route(app), what=lambda: f"the route on top: {app._top_route()}")
    await pilot.press("x")
    await wait_until(pilot, lambda: isinstance(app.screen, ArbConfirmScreen), what=lambda: f"{list(app.notices)[-3:]}")
    return app.screen


def sent(app, venue: str) -> list:
    return [r for r in app.service.venue(venue).place_requests if r.group_id]


def banner(app) -> str:
    widget = app.screen_stack[0].query_one("#arb-banner", ArbBanner)
    return str(widget.render()) if widget.has_class("-shown") else ""


async def test_x_shows_both_legs_and_y_sends_them_at_once(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        screen = await open_confirmation(pilot)
        plan = screen.plan
        # kraken's bid holds 0.5 BTC at 66,000; binance's asks are deep at 65,000.00 and above.
        assert (plan.buy.venue, plan.sell.venue, plan.amount, plan.sell.limit_price) == ("binance", "kraken", D("0.5"),
                                                                                         D("66000"))  # fmt: skip
        assert plan.fundable is not None and plan.fundable.text == "book"
        shown = str(screen.query_one("#arb-plan").render())
        assert "BUY  0.50000 BTC on binance" in shown and "SELL 0.50000 BTC on kraken " in shown
        # binance: 0.5 walked up to 65,006.50 for 32,501.36 (fee 32.50); kraken: 33,000.00 − 132.00.
        assert "limit 65,006.50  ≈ 32,501.36 USDT  fee ≈ 32.50 USDT (0.10 % taker)" in shown
        assert "limit 66,000.0  ≈ 33,000.00 USDT  fee ≈ 132.00 USDT (0.40 % taker)" in shown
        assert "Expected net 334.14 USDT (102.70 bps)" in shown
        await pilot.press("y")
        await wait_until(pilot, lambda: app.arb_desk.groups and all(g.resolution for g in app.arb_desk.groups.values()),
                         what=lambda: f"the group settled: {app.arb_desk.groups} {screen.error!r} {list(app.notices)[-2:]}")  # fmt: skip
        [group] = app.arb_desk.groups.values()
        assert group.resolution == "balanced"
        [buy], [sell] = sent(app, "binance"), sent(app, "kraken")
        assert (buy.side, buy.amount, buy.time_in_force, buy.group_id) == (Side.BUY, D("0.5"), TimeInForce.IOC,
                                                                           group.group_id)  # fmt: skip
        assert (sell.side, sell.price, sell.time_in_force) == (Side.SELL, D("66000"), TimeInForce.IOC)
        outcome = app.arb_desk.outcome(group)
        assert outcome.state is GroupState.BALANCED and outcome.realised_net_quote == plan.expected_net_quote
        assert any("balanced: realised net" in n.message for n in app.notices)
        assert banner(app) == ""


async def test_a_bad_amount_is_one_line_and_changes_nothing(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        screen = await open_confirmation(pilot)
        before = screen.plan
        for typed, message in (("1e3", "amount: "), ("１", "amount: "), ("NaN", "amount: "), ("-1", "amount"),
                               ("5", "more than the route allows now: 0.5")):  # fmt: skip
            assert screen.apply_amount(typed) is False
            assert message in screen.error and "\n" not in screen.error, (typed, screen.error)
            assert screen.plan is before
        assert screen.apply_amount("0.25") is True and screen.plan.amount == D("0.25") and screen.error == ""
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ArbConfirmScreen))
        assert sent(app, "binance") == [] and sent(app, "kraken") == []


async def unhedged(pilot):
    """`y` after someone took 0.3 of kraken's 0.5 BTC bid: the sell leg fills 0.2 only."""
    app = pilot.app
    await open_confirmation(pilot)
    kraken = app.world.engine("kraken")
    kraken.set_unlimited("someone")
    kraken.place("someone", SYMBOL, Side.SELL, OrderType.LIMIT, D("0.3"), D("66000"))
    await pilot.press("y")
    await wait_until(pilot, lambda: "0.3 BTC unhedged" in banner(app), what=lambda: f"the banner: {banner(app)!r}")
    [group] = app.arb_desk.groups.values()
    assert "bought on binance, not sold · x: hedge / unwind / leave" in banner(app)
    await pilot.press("x")
    await wait_until(pilot, lambda: isinstance(app.screen, ArbResolveScreen))
    return group


async def test_an_unhedged_group_stays_on_the_banner_until_left(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        group = await unhedged(pilot)
        await pilot.press("escape")  # later: the banner stays
        await pilot.pause()
        assert "0.3 BTC unhedged" in banner(app) and not group.resolution
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ArbResolveScreen))
        await pilot.press("l")
        await wait_until(pilot, lambda: group.resolution == "left")
        await wait_until(pilot, lambda: banner(app) == "")
        assert "left by the operator: 0.3 BTC unhedged" in group.message


async def test_an_unhedged_group_is_hedged_on_the_better_venue(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        group = await unhedged(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: group.resolution == "hedged", what=lambda: f"{group} {banner(app)!r}")
        hedge = group.orders[-1].request
        # binance's bid (≈ 64,999 × 0.999) beats kraken's left after the whale (≈ 64,990 × 0.996).
        assert (hedge.venue, hedge.side, hedge.amount, hedge.time_in_force) == ("binance", Side.SELL, D("0.3"),
                                                                                TimeInForce.IOC)  # fmt: skip
        await wait_until(pilot, lambda: banner(app) == "")


async def test_an_unhedged_group_is_unwound_on_the_filled_legs_venue(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        group = await unhedged(pilot)
        await pilot.press("u")
        await wait_until(pilot, lambda: group.resolution == "unwound", what=lambda: f"{group} {banner(app)!r}")
        unwind = group.orders[-1].request
        assert (unwind.venue, unwind.side, unwind.amount) == ("binance", Side.SELL, D("0.3"))
        assert app.arb_desk.outcome(group).state is GroupState.BALANCED


async def test_x_is_refused_in_read_only_mode_and_nothing_is_sent(tmp_path):
    from tests.apptools import make_app

    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        make_route(app)
        await wait_until(pilot, lambda: top_is_the_route(app))
        await pilot.press("x")
        await wait_until(pilot, lambda: any("read-only" in n.message for n in app.notices))
        assert not isinstance(app.screen, ArbConfirmScreen)
        assert sent(app, "binance") == [] and sent(app, "kraken") == []
