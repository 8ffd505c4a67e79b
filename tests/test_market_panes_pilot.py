"""The market panes (trade tape, watchlist, positions & P&L, equity), the named layouts (1-4)
and maximise (z): Pilot tests on the frozen, seeded sandbox and on an exchange emulator on
127.0.0.1 through the real ccxt client. Waits are conditions with deadlines, never sleeps."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from aitbc_tui.domain import OrderRequest, OrderType, Side, VenueUnavailable
from aitbc_tui.market_feed import TapeGap
from aitbc_tui.ui.app import AitbcApp
from aitbc_tui.ui.layouts import load_layout
from aitbc_tui.ui.panes.tape import OWN_MARK
from tests.apptools import make_app, wait_ready, wait_until

SIZE = (120, 35)
SMALL = (80, 24)
NEW_PANES = ("chart", "tape", "watchlist", "positions", "equity", "account-history")
DEFAULT_PANES = ("ladder", "health", "balances", "arb", "orders")
LAYOUT_PANES = {
    "1": {"ladder", "health", "balances", "arb", "orders"},
    "2": {"ladder", "health", "chart", "tape"},
    "3": {"watchlist", "health", "arb"},
    "4": {"positions", "equity", "orders", "account-history"},
}


def shown(app: AitbcApp) -> set[str]:
    """Ids of the panes with room on the screen now (a layout not shown yet has no panes)."""
    screen = app.screen_stack[0]
    out = set()
    for pane_id in NEW_PANES + DEFAULT_PANES:
        found = screen.query(f"#{pane_id}")
        if not found:
            continue
        region = found.first().region
        if region.width and region.height:
            out.add(pane_id)
    return out


def lines(app: AitbcApp, pane_id: str) -> list[str]:
    pane = app.screen_stack[0].query_one(f"#{pane_id}")
    return [pane.render_line(y).text.rstrip() for y in range(pane.size.height)]


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
    await pilot.pause()
    pilot.app.repaint_now()
    await pilot.pause()


# ---- layouts --------------------------------------------------------------------------


async def test_layouts_show_their_panes_and_are_remembered(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert shown(app) == LAYOUT_PANES["1"] and app.layout_name == "default"
        for key, name in (("2", "trade"), ("3", "watch"), ("4", "account"), ("1", "default"), ("3", "watch")):
            await press(pilot, key)
            await wait_until(pilot, lambda key=key: shown(app) == LAYOUT_PANES[key],
                             what=lambda key=key: f"layout {key}: {shown(app)}")  # fmt: skip
            assert app.layout_name == name
        assert load_layout(None) == "watch"
    again = make_app(tmp_path / "again")
    async with again.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert again.layout_name == "watch" and shown(again) == LAYOUT_PANES["3"]


def composed(app: AitbcApp) -> set[str]:
    """Ids of the layout panes that exist in the DOM (shown or not)."""
    screen = app.screen_stack[0]
    return {pane_id for pane_id in NEW_PANES + DEFAULT_PANES if screen.query(f"#{pane_id}")}


async def test_a_layouts_panes_are_composed_on_its_first_use_and_show_their_data(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert composed(app) == LAYOUT_PANES["1"]  # launch builds only what the default layout paints
        await press(pilot, "3")  # never shown before: composed now, and filled with tickers
        await wait_until(pilot, lambda: shown(app) == LAYOUT_PANES["3"])
        assert composed(app) == LAYOUT_PANES["1"] | {"watchlist"}
        pane = app.screen_stack[0].query_one("#watchlist")
        count = sum(len(app.service.markets(v)) for v in app.service.venue_names)
        await wait_until(pilot, lambda: len(pane.rows) == count and all(r[2][0] != "—" for r in pane.rows),
                         what=lambda: f"watchlist rows {pane.rows}")  # fmt: skip
        assert app.focused is pane
        await press(pilot, "2")
        await wait_until(pilot, lambda: shown(app) == LAYOUT_PANES["2"] and len(tape_trades(app)) > 0)
        app.repaint_now()
        await pilot.pause()
        assert lines(app, "tape")[0].split()[:2] == ["Time", "Side"] and len(lines(app, "tape")[1].split()) >= 4
        await press(pilot, "4")
        await wait_until(pilot, lambda: shown(app) == LAYOUT_PANES["4"])
        equity = app.screen_stack[0].query_one("#equity")
        await wait_until(pilot, lambda: len(equity.rows) > 0)
        history = app.screen_stack[0].query_one("#account-history")
        assert history.parent is app.screen_stack[0].query_one("#right")  # beside the open orders
        # Back and forth: each layout's panes are composed once, never twice.
        for key in ("2", "3", "1", "4"):
            await press(pilot, key)
            await wait_until(pilot, lambda key=key: shown(app) == LAYOUT_PANES[key])
        assert composed(app) == set(NEW_PANES + DEFAULT_PANES)
        assert len(app.screen_stack[0].query("#tape")) == 1


async def test_a_remembered_layout_is_composed_at_start_and_the_others_are_not(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "4")
    again = make_app(tmp_path / "again")
    async with again.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: shown(again) == LAYOUT_PANES["4"])
        assert composed(again) == LAYOUT_PANES["1"] | LAYOUT_PANES["4"]
        assert again.focused is not None and again.focused.id == "positions"


@pytest.mark.parametrize("size", [SIZE, SMALL], ids=["120x35", "80x24"])
async def test_every_layout_fits_and_each_pane_reads_its_header(tmp_path, size):
    app = make_app(tmp_path)
    headers = {"tape": "Time", "watchlist": "Venue", "positions": "Venue", "equity": "Venue", "health": "Venue"}
    async with app.run_test(size=size) as pilot:
        await wait_ready(pilot)
        for key in ("2", "3", "4"):
            await press(pilot, key)
            await wait_until(pilot, lambda key=key: shown(app) == LAYOUT_PANES[key])
            screen = app.screen_stack[0]
            for pane_id in LAYOUT_PANES[key]:
                region = screen.query_one(f"#{pane_id}").region
                assert region.height >= 3 and region.right <= size[0] and region.bottom <= size[1], (key, pane_id)
                if pane_id in headers:
                    assert lines(app, pane_id)[0].lstrip().startswith(headers[pane_id]), (key, pane_id)


async def test_z_maximises_the_focused_pane_and_z_restores(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "4")
        assert app.focused is not None and app.focused.id == "positions"
        # The start funding's deposits add position rows as they arrive (the pane's height
        # follows its rows): the regions are compared once they are in.
        await wait_until(pilot, lambda: app.service.market_feed().transfers_ready)
        await press(pilot)
        before = {p: app.screen_stack[0].query_one(f"#{p}").region for p in LAYOUT_PANES["4"]}
        await press(pilot, "z")
        await wait_until(pilot, lambda: shown(app) == {"positions"})
        region = app.screen_stack[0].query_one("#positions").region
        assert (region.x, region.y, region.width, region.height) == (0, 1, 120, 33)  # between status bar and footer
        await press(pilot, "z")
        await wait_until(pilot, lambda: shown(app) == LAYOUT_PANES["4"])
        assert {p: app.screen_stack[0].query_one(f"#{p}").region for p in LAYOUT_PANES["4"]} == before
        # A layout key while maximised restores first, then switches.
        await press(pilot, "z", "2")
        await wait_until(pilot, lambda: shown(app) == LAYOUT_PANES["2"])
        assert app.maximised is None


# ---- trade tape -------------------------------------------------------------------------


def tape_trades(app: AitbcApp):
    tape = app.service.market_feed().tape(app.venue, app.symbol)
    return [] if tape is None else [e for e in tape.entries if not isinstance(e, TapeGap)]


async def test_tape_on_sandbox_newest_on_top_and_own_fill_marked(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "2")
        engine = app.world.engine(app.venue)
        traded = engine.recent_trades(app.symbol)
        assert traded, "the warm-up made trades"
        await wait_until(pilot, lambda: len(tape_trades(app)) == len(traded))
        app.repaint_now()
        await pilot.pause()
        newest = traded[-1]
        top = lines(app, "tape")[1].split()
        market = app.service.market(app.venue, app.symbol)
        assert top[1] == newest.side.value and top[2] == f"{newest.price:,.{-market.tick_size.as_tuple().exponent}f}"
        assert D(top[3]) == newest.amount

        book = app.service.book(app.venue, app.symbol)
        ask = book.best_ask
        request = OrderRequest(app.venue, app.symbol, Side.BUY, OrderType.LIMIT, D("0.01"), ask, "tape-own-1")
        await app.service.place_order(request)
        await wait_until(pilot, lambda: any(t.own for t in tape_trades(app)))
        app.repaint_now()
        await pilot.pause()
        own = [line for line in lines(app, "tape")[1:] if line.endswith(OWN_MARK)]
        assert own and own[0].split()[1:4] == ["buy", f"{ask:,.{-market.tick_size.as_tuple().exponent}f}", "0.01000"]
        assert "side = aggressor" in "\n".join(lines(app, "tape"))


async def test_tape_marks_a_gap_after_a_disconnect_and_backfills_it(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        venue = app.service.venue(app.venue)
        real_watch = venue.watch_trades

        async def disconnected(symbol):
            raise VenueUnavailable(f"{venue.name}: connection lost (injected)")

        venue.watch_trades = disconnected  # the feed drops before the tape starts
        await press(pilot, "2")
        feed = app.service.market_feed()
        await wait_until(pilot, lambda: "connection lost" in feed.tape(app.venue, app.symbol).error)
        app.repaint_now()
        await pilot.pause()
        assert any("connection lost (injected)" in line for line in lines(app, "tape"))
        before = {t.id for t in tape_trades(app)}
        # Trades while the feed is down: not seen by the tape until it reconnects.
        engine = app.world.engine(app.venue)
        while len(engine.recent_trades(app.symbol)) < len(before) + 3:
            app.world.run_steps(5, 0.1)
        missed = [t for t in engine.recent_trades(app.symbol) if t.id not in before]
        venue.watch_trades = real_watch  # reconnected: the next watch waits for the next trade

        def gaps():
            tape = feed.tape(app.venue, app.symbol)
            return [e for e in tape.entries if isinstance(e, TapeGap)]

        deadline = asyncio.get_running_loop().time() + 15
        while not gaps():
            assert asyncio.get_running_loop().time() < deadline, "no gap marker within 15 s"
            app.world.run_steps(1, 0.1)  # a trade now and then, so the reconnected watch returns
            await pilot.pause(0.05)
        (gap,) = gaps()
        assert gap.backfilled >= len(missed) and "connection lost" in gap.reason
        ids = [t.id for t in tape_trades(app)]
        assert {t.id for t in missed} <= set(ids) and len(ids) == len(set(ids))  # backfilled, no duplicates
        app.repaint_now()
        await pilot.pause()
        text = "\n".join(lines(app, "tape"))
        assert "── gap 11:06:40–" in text and f": {gap.backfilled} trades backfilled" in text
        assert feed.tape(app.venue, app.symbol).error == ""


def running_tapes(app: AitbcApp) -> list[str]:
    return sorted(t.get_name() for t in app.service._tasks if t.get_name().startswith("tape:") and not t.done())


async def test_only_the_focused_tape_runs_and_none_off_screen(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert running_tapes(app) == []  # the default layout has no tape: no feed
        await press(pilot, "2")
        await wait_until(pilot, lambda: running_tapes(app) == [f"tape:{app.venue}:{app.symbol}"])
        first = app.venue
        await press(pilot, "v")  # the next venue: its tape, and only its
        assert app.venue != first
        await wait_until(pilot, lambda: running_tapes(app) == [f"tape:{app.venue}:{app.symbol}"])
        await press(pilot, "3")
        await wait_until(pilot, lambda: running_tapes(app) == [])


async def test_tape_size_filter_keeps_only_the_larger_trades(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "2")
        await wait_until(pilot, lambda: len(tape_trades(app)) > 2)
        app.screen_stack[0].query_one("#tape").focus()
        await press(pilot, "f")  # at least the median amount
        amounts = sorted(t.amount for t in tape_trades(app))
        median = amounts[len(amounts) // 2]
        pane = app.screen_stack[0].query_one("#tape")
        assert pane.border_title.endswith(f"≥ {median}")
        shown_amounts = [D(row[3][0]) for row in pane.rows if len(row) > 1]
        assert shown_amounts and all(a >= median for a in shown_amounts)
        assert len(shown_amounts) == sum(1 for a in amounts if a >= median)
        await press(pilot, "f", "f", "f")  # 5x, 20x, then off again
        assert len([row for row in pane.rows if len(row) > 1]) == len(amounts)


# ---- watchlist ----------------------------------------------------------------------------


async def test_watchlist_on_sandbox_lists_every_symbol_sorts_and_enter_focuses(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await press(pilot, "3")
        feed = app.service.market_feed()
        await wait_until(pilot, lambda: len(feed.tickers()) == 3)
        app.repaint_now()
        await pilot.pause()
        pane = app.screen_stack[0].query_one("#watchlist")
        listed = sum(len(app.service.markets(v)) for v in app.service.venue_names)
        assert len(pane.rows) == listed
        # Sorted by symbol, then venue: the first row is the alphabetically first pair.
        first = lines(app, "watchlist")[1].split()
        symbols = sorted((s, v) for v in app.service.venue_names for s in app.service.markets(v))
        assert (first[1], first[0]) == symbols[0]
        # The 24 h figures are the engine's own (not a copy of the mid).
        ticker = feed.tickers()["binance"]["BTC/USDT"]
        assert ticker == app.world.engine("binance").ticker("BTC/USDT")

        await press(pilot, "o")  # by 24 h change, largest first
        changes = [r[3][0] for r in pane.rows]
        numbers = [D(c) for c in changes if c != "—"]
        assert numbers == sorted(numbers, reverse=True) and "24h %" in pane.border_title
        await press(pilot, "O")
        assert [D(r[3][0]) for r in pane.rows if r[3][0] != "—"] == sorted(numbers)

        start = pane.cursor  # the cursor keeps its row through a re-sort
        await press(pilot, "down", "down")
        chosen = pane.selected
        assert chosen is not None and chosen == (pane.rows[start + 2][0][0], pane.rows[start + 2][1][0])
        await press(pilot, "enter")
        assert (app.venue, app.symbol) == chosen


# ---- positions & P&L, equity ----------------------------------------------------------------


async def funding_deposit(pilot, feed, venue: str, symbol: str):
    """The sandbox's start funding of ``symbol``'s base, once the feed has applied it."""
    await wait_until(pilot, lambda: (p := feed.tracker.position(venue, symbol)) is not None and p.transfers == 1)
    (moved,) = [m for t, m in feed.transfers() if m is not None and (m.venue, m.symbol) == (venue, symbol)]
    assert moved.amount == D(2)
    return moved


async def test_positions_and_equity_on_sandbox_after_a_fill(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "4")
        venue, symbol = "binance", "BTC/USDT"
        feed = app.service.market_feed()
        # The sandbox's start funding is its deposits: 2 BTC at their price, nothing realised.
        deposit = await funding_deposit(pilot, feed, venue, symbol)
        market = app.service.market(venue, symbol)
        ask = app.service.book(venue, symbol).best_ask
        await app.service.place_order(OrderRequest(venue, symbol, Side.BUY, OrderType.LIMIT, D("0.01"), ask, "pos-1"))
        await wait_until(pilot, lambda: feed.tracker.position(venue, symbol).fills == 1)
        position = feed.tracker.position(venue, symbol)
        # One buy of 0.01 at the ask, taker, on the 2 deposited: average cost (2 x deposit
        # price + 0.01 x ask) / 2.01, nothing realised, the fee in USDT = 0.01 x ask x the
        # taker fee (the engine's).
        fee = D("0.01") * ask * market.taker_fee
        average = (2 * deposit.price + D("0.01") * ask) / D("2.01")
        assert (position.quantity, position.average_cost, position.realised) == (D("2.01"), average, 0)
        assert position.fees == fee
        await app.service.wait_idle()  # the balances' refresh after the fill
        app.repaint_now()
        await pilot.pause()
        row = next(line for line in lines(app, "positions") if line.split()[:2] == ["binance", "BTC/USDT"])
        cells = row.split()
        assert cells[:4] == ["binance", "BTC/USDT", "2.01", f"{average:,.2f}"] and cells[4] == "0.00"
        assert cells[6] == f"{fee.quantize(D('0.01'))}"
        # the totals line under the rows (below the pane's height now that 9 funded positions show)
        pane_footer = app.screen_stack[0].query_one("#positions")._footer
        assert "average cost · USDT" in pane_footer[0][0][0]
        await press(pilot, "m")  # the cost method, stated where the figures are
        assert feed.tracker.method.value == "fifo" and "FIFO (m switches)" in str(
            app.screen_stack[0].query_one("#positions").border_title
        )
        assert feed.tracker.position(venue, symbol).average_cost == average  # no sale: the same either way
        await press(pilot, "m")
        assert feed.tracker.method.value == "average"
        pane = app.screen_stack[0].query_one("#equity")
        report = feed.pnl_report("USDT")
        assert pane.border_title == f"Balances · equity {report.equity.total:,.2f} USDT (at the books' mids)"
        btc = next(r for r in pane.rows if r[:2] == (("binance", ""), ("BTC", "")))
        assert btc[6][0] == "BTC/USDT mid (binance, coinbase, kraken)"  # the rate's route, stated
        # total = free + used for every balance row, exact as the venue holds it
        for cells_ in pane.rows:
            total, free, used = (D(cells_[i][0]) for i in (2, 3, 4))
            assert total == free + used


async def test_positions_from_the_journal_then_this_sessions_fills_counted_once(tmp_path):
    from aitbc_tui.journal import Journal
    from tests.test_cli_market import FILLS, journal_fills

    journal_fills(FILLS)  # earlier sessions: 0.015 BTC left at 61,000 (average), 75 USDT realised
    app = make_app(tmp_path)
    app.service.journal = Journal()  # the order path journals this session's order too
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_ready(pilot)
            await press(pilot, "4")
            feed = app.service.market_feed()
            deposit = await funding_deposit(pilot, feed, "binance", "BTC/USDT")
            position = feed.tracker.position("binance", "BTC/USDT")
            # the start funding (now) comes after the journalled fills: 2 BTC more at its price
            cost = D("915") + 2 * deposit.price
            assert (position.quantity, position.average_cost, position.realised) == (D("2.015"), cost / D("2.015"),
                                                                                     D("75"))  # fmt: skip
            ask = app.service.book("binance", "BTC/USDT").best_ask
            request = OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), ask, "j-session-1")
            await app.service.place_order(request)
            await wait_until(pilot, lambda: feed.tracker.position("binance", "BTC/USDT").quantity == D("2.025"))
            position = feed.tracker.position("binance", "BTC/USDT")
            # (cost + 0.01 x ask) / 2.025 for the average; the realised 75 unchanged; 4 fills, not 5
            assert position.average_cost == (cost + D("0.01") * ask) / D("2.025")
            assert (position.realised, position.fills) == (D("75"), 4)
    finally:
        app.service.journal.close()


# ---- on an exchange emulator through the real ccxt client -----------------------------------


async def test_every_market_pane_on_the_binance_emulator(emulated_app, loopback_only):
    emu, app = emulated_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.service.book("binance", "BTC/USDT") is not None
                         and app.service.balances("binance"))  # fmt: skip
        await press(pilot, "2")
        feed = app.service.market_feed()
        await wait_until(pilot, lambda: feed.tape("binance", "BTC/USDT") is not None)
        ask = app.service.book("binance", "BTC/USDT").best_ask
        await app.service.place_order(OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), ask,
                                                   "emu-tape-1"))  # fmt: skip
        # The tape polls the emulator's /aggTrades: the buy shows, at the ask, as a buy.
        await wait_until(pilot, lambda: any(t.price == ask and t.amount == D("0.01") for t in tape_trades(app)))
        app.repaint_now()
        await pilot.pause()
        assert lines(app, "tape")[1].split()[1:4] == ["buy", f"{ask:,.2f}", "0.01000"]

        await press(pilot, "3")
        await wait_until(pilot, lambda: "binance" in feed.tickers())
        app.repaint_now()
        await pilot.pause()
        btc = next(line for line in lines(app, "watchlist") if "BTC/USDT" in line).split()
        assert btc[:3] == ["binance", "BTC/USDT", f"{ask:,.2f}"]  # last = the trade the test made

        await press(pilot, "4")
        # the emulator's starting 2 BTC are its deposits (/sapi/v1/capital/deposit/hisrec), before the buy
        deposit = await funding_deposit(pilot, feed, "binance", "BTC/USDT")
        app.repaint_now()
        await pilot.pause()
        row = next(line for line in lines(app, "positions") if line.split()[:2] == ["binance", "BTC/USDT"]).split()
        average = (2 * deposit.price + D("0.01") * ask) / D("2.01")
        assert row[:4] == ["binance", "BTC/USDT", "2.01", f"{average:,.2f}"]
        assert any(line.lstrip().startswith("binance") and " USDT " in f" {line} " for line in lines(app, "equity"))


async def test_tape_gap_on_the_emulator_after_its_trade_stream_drops(emulated_app, loopback_only):
    emu, app = emulated_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.service.book("binance", "BTC/USDT") is not None)
        await press(pilot, "2")
        feed = app.service.market_feed()
        book = app.service.book("binance", "BTC/USDT")
        await app.service.place_order(OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"),
                                                   book.best_ask, "emu-gap-1"))  # fmt: skip
        await wait_until(pilot, lambda: len(tape_trades(app)) == 1)
        # The tape comes over ccxt.pro's trade stream; the next frame for BTCUSDT drops the
        # connection (close 1006, no close frame): the sale it carried is lost to the stream.
        assert app.service.venue("binance").trades_by_websocket
        emu.set_fault("ws_close_1006", "btcusdt@trade", count=1)
        bid = app.service.book("binance", "BTC/USDT").best_bid
        await app.service.place_order(OrderRequest("binance", "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.01"), bid,
                                                   "emu-gap-2"))  # fmt: skip

        def gaps():
            return [e for e in feed.tape("binance", "BTC/USDT").entries if isinstance(e, TapeGap)]

        await wait_until(pilot, lambda: len(gaps()) == 1, timeout=20)
        (gap,) = gaps()
        # The sale made while the feed was down is backfilled once, after the gap marker.
        assert gap.backfilled == 1 and "closing code 1006" in gap.reason, gap
        entries = feed.tape("binance", "BTC/USDT").entries
        assert [type(e).__name__ for e in entries] == ["Trade", "TapeGap", "Trade"]
        assert (entries[2].side, entries[2].price, entries[2].amount) == (Side.SELL, bid, D("0.01"))
        assert feed.tape("binance", "BTC/USDT").error == ""
