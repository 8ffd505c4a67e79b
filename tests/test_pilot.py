"""Pilot tests: drive the dashboard by keyboard as an operator would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets import DataTable, Input, Static

from aitbc_tui.domain import OrderStatus, OrderType, Side, TimeInForce
from aitbc_tui.ui.screens.confirm import ConfirmScreen
from aitbc_tui.ui.screens.help import HelpScreen
from aitbc_tui.ui.screens.order_form import OrderForm
from aitbc_tui.ui.widgets.ladder import BookLadder
from aitbc_tui.ui.widgets.linetable import LineTable
from tests.apptools import make_app, wait_ready, wait_until

SIZE = (160, 45)


def venue_of(app, name="binance"):
    return app.service.venue(name)


def palette_offers(app, title: str) -> bool:
    """The command palette is open and lists a command called ``title``."""
    from textual.command import CommandList, CommandPalette

    if not isinstance(app.screen, CommandPalette):
        return False
    options = app.screen.query_one(CommandList)
    return any(title in str(options.get_option_at_index(i).prompt) for i in range(options.option_count))


async def place_by_keyboard(pilot, side_key: str, amount: str, *, market: bool = False) -> None:
    await pilot.press(side_key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, OrderForm))
    if market:
        await pilot.press("ctrl+t")
    await pilot.press(*amount)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await pilot.press("y")
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, (OrderForm, ConfirmScreen)))
    await pilot.app.workers.wait_for_complete()
    await pilot.app.service.wait_idle()  # the account refresh after the ack runs on its own
    await pilot.pause()


async def test_limit_buy_rests_shows_in_open_orders_and_cancels(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        best_bid = app.service.book("binance", "BTC/USDT").best_bid
        await place_by_keyboard(pilot, "b", "0.01")

        venue = venue_of(app)
        assert len(venue.place_requests) == 1
        request = venue.place_requests[0]
        assert (request.side, request.type, request.amount, request.price) == (
            Side.BUY,
            OrderType.LIMIT,
            Decimal("0.01"),
            best_bid,
        )
        open_orders = app.service.open_orders()
        assert [(o.symbol, o.side, o.price, o.status) for o in open_orders] == [
            ("BTC/USDT", Side.BUY, best_bid, OrderStatus.OPEN)
        ]
        table = app.query_one("#orders", DataTable)
        assert table.row_count == 1
        assert [str(c) for c in table.get_row_at(0)[:2]] == ["binance", "BTC/USDT"]
        # Funds are reserved: price * amount * (1 + max fee) leaves free USDT.
        usdt = app.service.balances("binance")["USDT"]
        assert usdt.used > 0 and usdt.free + usdt.used == Decimal("100000")

        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await app.service.wait_idle()
        await pilot.pause()
        assert app.service.open_orders() == []
        assert table.row_count == 0
        await pilot.press("h")  # history shows the cancelled order
        assert table.row_count == 1
        assert str(table.get_row_at(0)[7]) == "canceled"
        assert app.service.balances("binance")["USDT"].free == Decimal("100000")


async def test_market_sell_fills_and_moves_balances(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await place_by_keyboard(pilot, "s", "0.01", market=True)
        [order] = app.service.closed_orders()
        # A market order goes out as a marketable IOC limit at the slippage cap.
        assert (order.side, order.type, order.time_in_force, order.status, order.filled) == (
            Side.SELL,
            OrderType.LIMIT,
            TimeInForce.IOC,
            OrderStatus.FILLED,
            Decimal("0.01"),
        )
        balances = app.service.balances("binance")
        assert balances["BTC"].total == Decimal("1.99")
        # Proceeds net of the 0.1 % taker fee, in USDT.
        proceeds = order.average_price * Decimal("0.01")
        assert balances["USDT"].total == Decimal("100000") + proceeds - order.fee
        assert order.fee == proceeds * Decimal("0.001")


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("1e3", "exponent"),
        ("-1", "greater than 0"),
        ("NaN", "not a number"),
        ("٣", "ASCII digits"),
        ("0.000001", "lot size"),
        ("500", "only 100000 USDT free"),
    ],
)
async def test_bad_amount_shows_its_error_and_sends_nothing(sandbox_app, typed, expected):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm))
        app.screen.query_one("#amount", Input).value = typed  # pasted, like an operator would
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, OrderForm), "a bad order must not reach the confirmation"
        error = str(app.screen.query_one("#amount-error", Static).render())
        assert expected.lower() in error.lower(), error
        await pilot.press("escape")
        await pilot.pause()
        assert venue_of(app).place_requests == []
        assert app.service.open_orders() == []


async def test_confirmation_n_goes_back_to_the_form_with_values_kept(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("b", *"0.02", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, OrderForm)
        assert app.screen.query_one("#amount", Input).value == "0.02"
        await pilot.press("escape")
        await pilot.pause()
        assert venue_of(app).place_requests == []


async def test_kill_switch_cancels_every_open_order_on_every_venue(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await place_by_keyboard(pilot, "b", "0.01")
        await pilot.press("v")  # kraken
        await place_by_keyboard(pilot, "s", "0.01")
        assert {o.venue for o in app.service.open_orders()} == {"binance", "kraken"}
        await pilot.press("ctrl+k")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await app.service.wait_idle()
        await pilot.pause()
        assert app.service.open_orders() == []
        assert {o.status for o in app.service.closed_orders()} == {OrderStatus.CANCELED}


async def test_venue_and_symbol_switching(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert (app.venue, app.symbol) == ("binance", "BTC/USDT")
        await pilot.press("v")
        assert app.venue == "kraken"
        await pilot.press("V")
        assert app.venue == "binance"
        await pilot.press("[")
        assert app.venue == "coinbase"
        await pilot.press("]")
        assert app.venue == "binance"
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"eth/b", "enter")
        await pilot.pause()
        assert app.symbol == "ETH/BTC"
        ladder = app.query_one(BookLadder)
        assert ladder.border_title == "Order book · binance · ETH/BTC"
        # AITBC/ETH is not on binance: picking it moves to a venue that lists it.
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"aitbc/eth", "enter")
        await pilot.pause()
        assert app.symbol == "AITBC/ETH" and app.venue in app.service.venues_for("AITBC/ETH")
        # Cycling venues keeps the chosen symbol where a venue lists it, says so where one
        # does not, and comes back to it on the next venue that lists it.
        listing = set(app.service.venues_for("AITBC/ETH"))
        seen = []
        for _ in range(3):
            await pilot.press("v")
            seen.append((app.venue, app.symbol))
        for venue, symbol in seen:
            assert (symbol == "AITBC/ETH") == (venue in listing), seen
        assert any("binance does not list AITBC/ETH" in str(n.message) for n in app.notices)


async def test_help_theme_and_panes(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        before = app.theme
        await pilot.press("t")
        assert app.theme != before
        # Every pane has content.
        assert app.query_one("#health", LineTable).rows
        assert app.query_one("#balances", LineTable).rows
        assert app.query_one("#arb", LineTable).rows


async def test_live_sandbox_fills_every_pane(tmp_path):
    """How fast is measured in bench/ (start-up and book -> frame); here only that every
    pane fills, with a timeout a busy 2-core CI machine cannot miss."""
    app = make_app(tmp_path, frozen=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot, timeout=30.0)
        await wait_until(pilot, lambda: all(h.latency_ms is not None for h in app.service.health()), timeout=30.0)
        await wait_until(pilot, lambda: bool(app.query_one("#arb", LineTable).rows), what="the arbitrage pane painted")
        arb = app.query_one("#arb", LineTable).rows
        symbols = [row[0][0] for row in arb]
        assert symbols and len(symbols) == len(set(symbols))
        assert len(app.query_one("#health", LineTable).rows) >= 3
        first = app.service.book("binance", "BTC/USDT").sequence
        await wait_until(pilot, lambda: app.service.book("binance", "BTC/USDT").sequence != first, timeout=30.0)


async def test_every_action_is_in_the_command_palette(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for title in (
            "Buy",
            "Sell",
            "Cancel selected order",
            "Kill switch",
            "Next venue",
            "Previous venue",
            "Pick symbol",
            "Open orders / history",
            "Next theme",
            "Help",
        ):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"kill switch")
        await wait_until(pilot, lambda: palette_offers(app, "Kill switch"), what="the palette offering 'Kill switch'")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")


async def test_dashboard_holds_still_behind_the_form_which_shows_the_live_top_of_book(tmp_path):
    app = make_app(tmp_path, frozen=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm))
        ladder = app.screen_stack[0].query_one(BookLadder)
        shown = ladder.snapshot.sequence
        market_line = app.screen.query_one("#form-market", Static)
        first = str(market_line.render())
        assert first.startswith("bid ")
        live = app.service.book("binance", "BTC/USDT").sequence
        await wait_until(pilot, lambda: app.service.book("binance", "BTC/USDT").sequence > live + 3)
        # The form follows the market (so snapshots are reaching the screens) ...
        await wait_until(pilot, lambda: str(market_line.render()) != first, what="the form's top of book moving")
        # ... while the dashboard behind it holds one consistent picture, not half-updated rows.
        assert ladder.snapshot.sequence == shown
        await pilot.press("escape")
        await wait_until(pilot, lambda: ladder.snapshot.sequence > shown, what="the ladder moving again")


async def test_impact_size_per_symbol_from_config(tmp_path):
    app = make_app(tmp_path, impact_sizes={"BTC/USDT": Decimal("0.5")})
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        ladder = app.query_one(BookLadder)
        assert any(text.startswith(" impact 0.5 BTC") for text in ladder.analysis_text)
        await pilot.press("slash", *"eth/usdt", "enter")
        await pilot.pause()
        assert any(text.startswith(" impact 1 ETH") for text in ladder.analysis_text)


async def test_impact_by_default_is_for_an_order_worth_10000_usdt(tmp_path):
    """1 AITBC is worth 0.85 USD: the default impact is for an order of a quote value, the
    same on every pair, not for one unit of base."""
    app = make_app(tmp_path, impact_size=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        ladder = app.query_one(BookLadder)
        await wait_until(pilot, lambda: any(t.startswith(" impact 10,000 USDT: buy ") for t in ladder.analysis_text))
        line = next(t for t in ladder.analysis_text if t.startswith(" impact"))
        assert "bps" in line or "fillable" in line, line
        await pilot.press("slash", *"eth/btc", "enter")  # quoted in BTC: converted through BTC/USDT
        await wait_until(pilot, lambda: app.symbol == "ETH/BTC")
        await wait_until(pilot, lambda: any(t.startswith(" impact 10,000 USDT: buy ") and "bps" in t
                                            for t in ladder.analysis_text))  # fmt: skip


async def test_open_order_age_keeps_ticking_without_other_changes(sandbox_app):
    from tests.apptools import FROZEN_NOW

    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await place_by_keyboard(pilot, "b", "0.01")
        table = app.query_one("#orders", DataTable)
        assert str(table.get_row_at(0)[8]) == "<1s"
        app.clock = lambda: FROZEN_NOW + 125  # two minutes later, nothing else changed
        await wait_until(pilot, lambda: str(table.get_row_at(0)[8]) == "2m", what="the age column ticking to 2m")
        assert table.row_count == 1


async def test_the_orders_pane_shows_what_a_datatable_would(sandbox_app, monkeypatch):
    """OrdersPane draws its lines itself (ui/widgets/row_table.py): the dashboard's picture with
    open orders, focused and not, is the picture DataTable's own rendering gives."""
    from aitbc_tui.ui.widgets.row_table import RowTable

    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await place_by_keyboard(pilot, "b", "0.01")
        await place_by_keyboard(pilot, "s", "0.02")
        table = app.query_one("#orders", DataTable)
        assert table.row_count == 2

        async def pictures() -> list[str]:
            shots = []
            for focused in (False, True):
                if focused:
                    table.focus()
                    table.move_cursor(row=1)
                await pilot.pause()
                shots.append(app.export_screenshot())
            app.query_one("#ladder").focus()
            table.move_cursor(row=0)
            return shots

        ours = await pictures()
        monkeypatch.setattr(RowTable, "_pass_state", lambda self: None)  # every line DataTable's way
        table.refresh()
        assert await pictures() == ours
