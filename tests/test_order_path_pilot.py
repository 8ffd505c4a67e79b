"""Pilot tests of the order path, driven by keyboard on the sandbox: the pending row, the
ack without waiting for the refresh, a resting order's fill (toast, bell, history), the
slippage cap on a moved market, the price band's second confirmation, ctrl+k in a text
field, and the quit warning with open live orders."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from textual.widgets import DataTable, Input, Static

from aitbc_tui.domain import Mode, OrderStatus, OrderType, Side, TimeInForce
from aitbc_tui.journal import EventKind, Journal, JournalState
from aitbc_tui.ui.screens.confirm import ConfirmScreen
from aitbc_tui.ui.screens.order_form import OrderForm
from aitbc_tui.ui.screens.quit_confirm import QuitConfirm
from tests.apptools import make_app, wait_ready, wait_until

SIZE = (160, 45)


def rows(app) -> list[list[str]]:
    table = app.query_one("#orders", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def toasts(app) -> list[str]:
    return [str(n.message) for n in app.notices]


async def open_form(pilot, key="b", amount="0.01", market=False):
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, OrderForm))
    if market:
        await pilot.press("ctrl+t")
    await pilot.press(*amount)
    return pilot.app.screen


async def review_and_confirm(pilot) -> None:
    """Enter on the form, then y on the confirmation."""
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await pilot.press("y")


def with_journal(app, tmp_path) -> Journal:
    journal = Journal(tmp_path / "journal.sqlite3")
    app.service.journal = journal
    return journal


async def test_pending_row_shows_at_y_and_becomes_the_order_on_the_ack(sandbox_app):
    app = sandbox_app
    venue = app.service.venue("binance")
    gate = asyncio.Event()
    original = venue.place_order

    async def slow_venue(request):
        await gate.wait()  # the venue has not answered yet
        return await original(request)

    venue.place_order = slow_venue
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await open_form(pilot)
        await review_and_confirm(pilot)
        # Painted at once, before the venue answered: no wait for the repaint timer.
        await wait_until(pilot, lambda: not isinstance(app.screen, (OrderForm, ConfirmScreen)))
        assert [r[7] for r in rows(app)] == ["sending…"]
        assert [o.status for o in app.service.open_orders()] == [OrderStatus.PENDING]
        gate.set()
        await wait_until(pilot, lambda: [r[7] for r in rows(app)] == ["open"])
        assert any("acknowledged" in t for t in toasts(app))


async def test_the_ack_does_not_wait_for_the_account_refresh(sandbox_app):
    app = sandbox_app
    venue = app.service.venue("binance")
    hold = asyncio.Event()
    original = venue.fetch_balances

    async def stuck_balances():
        await hold.wait()  # an account call that takes forever
        return await original()

    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        venue.fetch_balances = stuck_balances
        await open_form(pilot)
        await review_and_confirm(pilot)
        await wait_until(pilot, lambda: [r[7] for r in rows(app)] == ["open"])
        assert any("acknowledged" in t for t in toasts(app))
        hold.set()
        await app.service.wait_idle()


async def test_a_resting_order_that_fills_is_toasted_rung_and_in_the_history(tmp_path):
    app = make_app(tmp_path)
    journal = with_journal(app, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        bid = app.service.book("binance", "BTC/USDT").best_bid
        await open_form(pilot)  # limit buy prefilled at the best bid: it rests
        await review_and_confirm(pilot)
        await wait_until(pilot, lambda: [r[7] for r in rows(app)] == ["open"])
        # Someone sells into the bid: our resting order fills as a maker.
        engine = app.world.engine("binance")
        engine.set_unlimited("someone")
        engine.place("someone", "BTC/USDT", Side.SELL, OrderType.MARKET, D("5"))
        await wait_until(
            pilot,
            lambda: any(t.startswith("binance: filled") for t in toasts(app)),
            what=lambda: (
                f"a 'binance: filled' toast; toasts {toasts(app)}, tracked "
                f"{[(t.coid, t.state, t.filled) for t in app.service.tracker.tracked()]}, "
                f"resting {engine.open_orders('operator')}"
            ),
        )
        toast = next(t for t in toasts(app) if t.startswith("binance: filled"))
        fee = bid * D("0.01") * D("0.001")  # binance sandbox maker fee 0.1 %
        assert "buy 0.01 BTC/USDT at" in toast and "(maker)" in toast and "USDT" in toast
        assert app.bells == 1
        await wait_until(pilot, lambda: rows(app) == [])
        await pilot.press("h")
        [row] = rows(app)
        assert row[4] == f"{bid:,.2f}" and row[6] == "0.01" and row[7] == "filled" and row[9] == "maker"
        assert row[8].endswith("USDT") and D(row[8].split()[0]) == fee.quantize(D("0.01"))
        [fill] = [e for e in journal.events() if e.kind is EventKind.FILL]
        assert fill.trade_id and fill.amount == D("0.01") and fill.price == bid and fill.fee == fee
        assert journal.orders()[0].state is JournalState.FILLED
    journal.close()


async def test_bell_can_be_silenced(tmp_path):
    class Ui:
        bell = False

    class Config:
        ui = Ui()

    app = make_app(tmp_path, config=Config())
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await open_form(pilot, market=True)
        await review_and_confirm(pilot)
        await wait_until(pilot, lambda: any(t.startswith("binance: filled") for t in toasts(app)))
        assert app.bells == 0


async def test_market_order_is_capped_and_refused_when_the_market_moved(sandbox_app):
    app = sandbox_app
    venue = app.service.venue("binance")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        form = await open_form(pilot, amount="0.01", market=True)
        estimate = str(form.query_one("#form-estimate", Static).render())
        assert "Expected  avg" in estimate and "worst" in estimate and "cap" in estimate
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert "IOC limit" in body and "slippage cap 50 bps" in body and "worst" in body
        # While the confirmation is open, the asks within 50 bps are taken by someone else.
        engine = app.world.engine("binance")
        engine.set_unlimited("someone")
        best_ask = engine.book("BTC/USDT", 1).best_ask
        for price, size in engine.book("BTC/USDT", 500).asks:
            engine.place("someone", "BTC/USDT", Side.BUY, OrderType.LIMIT, size, price)
        far = (best_ask * D("1.02")).quantize(D("0.01"))  # what is left: 2 % away, beyond the cap
        engine.place("someone", "BTC/USDT", Side.SELL, OrderType.LIMIT, D("1"), far)
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm))
        error = str(app.screen.query_one("#form-error", Static).render())
        assert error.startswith("not sent: the market moved") and "slippage cap" in error
        assert venue.place_requests == []


async def test_market_order_goes_out_as_ioc_limit_at_the_cap(sandbox_app):
    app = sandbox_app
    venue = app.service.venue("binance")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        ask = app.service.book("binance", "BTC/USDT").best_ask
        await open_form(pilot, amount="0.01", market=True)
        await review_and_confirm(pilot)
        await wait_until(pilot, lambda: len(venue.place_requests) == 1)
        [request] = venue.place_requests
        cap = (ask * D("1.005") / D("0.01")).to_integral_value(rounding="ROUND_FLOOR") * D("0.01")
        assert (request.type, request.time_in_force, request.price) == (OrderType.LIMIT, TimeInForce.IOC, cap)


async def test_price_far_from_the_mid_needs_a_second_confirmation(sandbox_app):
    app = sandbox_app
    venue = app.service.venue("binance")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        mid = app.service.book("binance", "BTC/USDT").mid
        far = (mid * D("0.90")).quantize(D("0.01"))  # a buy 10 % under the mid
        form = await open_form(pilot)
        form.query_one("#price", Input).value = str(far)
        await review_and_confirm(pilot)
        await wait_until(pilot, lambda: getattr(app.screen, "id", None) == "price-band-confirm")
        assert "% from the mid" in str(app.screen.query_one(".modal-title", Static).render())
        await pilot.press("n")  # back to the form, nothing sent
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm))
        assert venue.place_requests == []
        await review_and_confirm(pilot)
        await wait_until(pilot, lambda: getattr(app.screen, "id", None) == "price-band-confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: len(venue.place_requests) == 1)
        assert venue.place_requests[0].price == far


async def test_ctrl_k_in_a_text_field_edits_it_and_never_opens_the_kill_switch(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        form = await open_form(pilot, amount="0.015")
        amount = form.query_one("#amount", Input)
        await pilot.press("home", "right", "right", "ctrl+k")
        assert amount.value == "0."
        assert isinstance(app.screen, OrderForm)  # no kill switch confirmation
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderForm))
        await pilot.press("ctrl+k")  # outside a text field it is the kill switch
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "KILL SWITCH" in str(app.screen.query_one(".modal-title", Static).render())


async def test_time_in_force_and_post_only_from_the_form(sandbox_app):
    app = sandbox_app
    venue = app.service.venue("binance")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        ask = app.service.book("binance", "BTC/USDT").best_ask
        form = await open_form(pilot)
        await pilot.press("ctrl+g")  # post-only, on a price that would cross
        form.query_one("#price", Input).value = str(ask)
        await review_and_confirm(pilot)
        await wait_until(pilot, lambda: len(venue.place_requests) == 1)
        assert venue.place_requests[0].post_only is True
        await wait_until(pilot, lambda: any("would take liquidity" in t for t in toasts(app)))
        await app.workers.wait_for_complete()
        await pilot.press("h")
        await wait_until(pilot, lambda: any("rejected" in r[7] for r in rows(app)))  # kept with the venue's message
        await pilot.press("h")
        form = await open_form(pilot)
        await pilot.press("ctrl+o")  # GTC -> IOC
        assert form.time_in_force is TimeInForce.IOC
        await pilot.press("ctrl+o")  # -> FOK
        assert form.time_in_force is TimeInForce.FOK


async def test_size_presets_fill_a_share_of_what_is_free(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        form = await open_form(pilot, key="s", amount="")
        await pilot.press("f3")  # 50 % of the 2 BTC free
        assert form.query_one("#amount", Input).value == "1.00000"
        await pilot.press("f4")
        assert form.query_one("#amount", Input).value == "2.00000"


async def test_quitting_with_open_live_orders_asks(sandbox_app):
    app = sandbox_app
    for name in app.service.venue_names:
        app.service.venue(name).mode = Mode.LIVE  # the sandbox engine standing in for a live venue
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await open_form(pilot)
        await review_and_confirm(pilot)
        await wait_until(pilot, lambda: [r[7] for r in rows(app)] == ["open"])
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitConfirm))
        await pilot.press("s")  # stay
        await wait_until(pilot, lambda: not isinstance(app.screen, QuitConfirm))
        assert app.is_running
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitConfirm))
        await pilot.press("c")  # cancel all, then quit
        await wait_until(pilot, lambda: not app.is_running)
    assert app.world.engine("binance").open_orders("operator") == []


async def test_keys_typed_in_one_burst_land_in_the_fields_they_were_typed_for(sandbox_app):
    """A fast typist (or a terminal read holding several keys) sends "0.01<Tab>64000" at
    once. Tab used to reach the app only after the amount field had been handed the keys
    behind it: the amount became 0.0164000 and the price stayed the default. Posted here
    as the terminal driver posts one read's keys: all of them before any is handled."""
    from textual import events

    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm) and app.focused is not None
                         and app.focused.id == "amount", what="the order form, amount focused")  # fmt: skip
        form = app.screen
        names = {".": "full_stop", "\t": "tab"}
        for ch in "0.01\t64000":
            app.post_message(events.Key(names.get(ch, ch), ch))
        await wait_until(pilot, lambda: form.query_one("#price", Input).value == "64000", what="the price typed")
        assert form.query_one("#amount", Input).value == "0.01"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "0.01 BTC" in shown and "64,000.00 USDT" in shown, shown


async def test_an_amount_typed_right_behind_b_lands_whole_in_the_amount_field(sandbox_app):
    """ "b1.5" read at once, or "1" typed before the form is up: `b` used to wait its turn
    behind the focused pane, which had already been handed the "1": amount ".5" (0.5 BTC
    for 1.5). Also: `b` typed into another screen's text field stays text."""
    from textual import events

    app = sandbox_app
    names = {".": "full_stop"}

    def post(text: str) -> None:
        for ch in text:
            app.post_message(events.Key(names.get(ch, ch), ch))

    def amount() -> str:
        return app.screen.query_one("#amount", Input).value

    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        # as an operator meets it: the one form is built off screen after start-up
        await wait_until(pilot, lambda: app.is_screen_installed("order-form"), what="the order form prepared")
        # the whole order in one read, Tab included
        names["\t"] = "tab"
        post("b1.5\t64000")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm)
                         and app.screen.query_one("#price", Input).value == "64000", what="the price typed")  # fmt: skip
        assert amount() == "1.5"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, OrderForm), what="the form closed")
        for first, rest in (("b1.5", ""), ("b1", ".5"), ("s2", "")):
            post(first)
            await pilot.pause()
            post(rest)
            expected = first[1:] + rest
            await wait_until(pilot, lambda e=expected: isinstance(app.screen, OrderForm) and amount() == e,
                             what=f"the amount {expected!r} after {first!r} {rest!r}")  # fmt: skip
            assert app.screen.side is (Side.BUY if first[0] == "b" else Side.SELL)
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, OrderForm), what="the form closed")
        # `b` and `s` are letters in the symbol picker's filter, not orders
        await pilot.press("slash")
        await wait_until(pilot, lambda: app.screen.query(Input), what="the symbol picker")
        post("bs")
        await wait_until(pilot, lambda: app.screen.query_one(Input).value == "bs", what="'bs' in the filter")
        assert not isinstance(app.screen, OrderForm)
