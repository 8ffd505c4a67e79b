"""The trade layout's price chart pane (ladder | chart over tape): its candles are the venue's
backfill and then the tape's own trades, so they must equal what the venue itself says its
candles are, with no trade counted twice and none missed across a gap. Pilot tests on the
frozen, seeded sandbox and on the binance emulator through the real ccxt client; waits are
conditions with deadlines, never sleeps."""

from __future__ import annotations

from decimal import Decimal as D

from aitbc_tui.chart_feed import CandleFeed
from aitbc_tui.domain import OrderRequest, OrderType, Side
from aitbc_tui.market_feed import TapeGap
from aitbc_tui.ui.app import AitbcApp
from aitbc_tui.ui.layouts import load_state
from aitbc_tui.ui.panes.chart import ChartPane
from aitbc_tui.ui.titles import title_of
from tests.apptools import FROZEN_NOW, make_app, wait_ready, wait_until
from tests.test_chart import candle, trade

SIZE = (120, 35)


def ohlcv(candles) -> list[tuple]:
    return [(c.open_time, c.open, c.high, c.low, c.close, c.volume) for c in candles]


async def show_trade_layout(pilot) -> None:
    await wait_ready(pilot)
    await pilot.press("2")
    app = pilot.app
    await wait_until(pilot, lambda: chart_feed(app) is not None and chart_feed(app).ready, what="the chart's backfill")
    app.repaint_now()
    await pilot.pause()


def trade_more(app: AitbcApp, trades: int, until=lambda: True, each_round=lambda: None) -> None:
    """Step the sandbox until the focused symbol made ``trades`` more trades (and ``until``)."""
    engine = app.world.engine(app.venue)
    before = engine.trade_count(app.symbol)
    while engine.trade_count(app.symbol) < before + trades or not until():
        each_round()
        app.world.run_steps(10, 0.1)


def chart_feed(app: AitbcApp) -> CandleFeed | None:
    feed = app.service.market_feed()
    return feed._chart if feed._chart_key == (app.venue, app.symbol, app.chart_timeframe) else None


def pane(app: AitbcApp) -> ChartPane:
    return app.screen_stack[0].query_one("#chart", ChartPane)


def pane_lines(app: AitbcApp) -> list[str]:
    chart = pane(app)
    return [chart.render_line(y).text for y in range(chart.size.height)]


# ---- the candle feed fed by a tape (hand-computed) -------------------------------------------


def test_trades_offered_before_the_backfill_are_counted_once_after_it():
    feed = CandleFeed(None, "T/U", "1m")
    # The tape delivers "b" and "c" while fetch_ohlcv is still on its way.
    assert feed.offer([trade(62, 12, 1, "b"), trade(64, 13, D("0.5"), "c")]) == 0
    assert feed.candles() == []
    # The backfill: the venue's 00:00 and 00:01 candles (00:01 has traded "a" and "b" so far)
    # and its trades since 00:01 opened, "a" and "b" (so "b" arrives twice, "c" once).
    feed.load_backfill([candle(0, 10, 11, 9, 10, 5), candle(60, 10, 12, 10, 12, 2)],
                       [trade(61, 10, 1, "a"), trade(62, 12, 1, "b")])  # fmt: skip
    got = feed.candles()
    assert ohlcv(got) == [(0, D(10), D(11), D(9), D(10), D(5)), (60, D(10), D(13), D(10), D(13), D("2.5"))]
    # Live again: "c" once more from a reconnect is dropped; "d" opens 00:02.
    assert feed.offer([trade(64, 13, D("0.5"), "c"), trade(121, 14, 2, "d")]) == 1
    assert ohlcv(feed.candles())[-1] == (120, D(14), D(14), D(14), D(14), D(2)) and feed.last == D(14)


# ---- the pane on the sandbox -----------------------------------------------------------------


async def test_trade_layout_chart_is_the_venues_own_candles_built_live_from_the_tape(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await show_trade_layout(pilot)
        engine = app.world.engine(app.venue)
        feed = chart_feed(app)
        assert title_of(pane(app)) == f"Chart · {app.venue} {app.symbol} · 1m"
        assert ohlcv(feed.candles()) == ohlcv(engine.candles(app.symbol, "1m"))
        # More trades, over two minute boundaries (the venue's clock moves 30 s a round):
        # each reaches the chart only through the tape.
        now = [FROZEN_NOW]
        engine.clock = lambda: now[0]
        trade_more(app, 20, lambda: now[0] >= FROZEN_NOW + 120, lambda: now.__setitem__(0, now[0] + 30))
        expected = ohlcv(engine.candles(app.symbol, "1m"))
        assert len(expected) >= 3
        await wait_until(pilot, lambda: ohlcv(feed.candles()) == expected,
                         what=lambda: f"chart {ohlcv(feed.candles())[-2:]} venue {expected[-2:]}")  # fmt: skip
        app.repaint_now()
        await pilot.pause()
        newest = engine.candles(app.symbol, "1m")[-1]
        market = app.service.market(app.venue, app.symbol)
        places = -market.tick_size.as_tuple().exponent
        header = pane_lines(app)[0]  # inside the border: O H L C V of the newest candle, and the last price
        assert f" C {newest.close:,.{places}f}" in header and f"last {newest.close:,.{places}f}" in header
        assert f"{app.venue} · {app.symbol}" not in header  # the title says it once


async def test_comma_and_full_stop_on_the_chart_change_its_timeframe(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await show_trade_layout(pilot)
        pane(app).focus()
        await pilot.press("full_stop")
        await wait_until(pilot, lambda: app.chart_timeframe == "5m" and chart_feed(app) is not None
                         and chart_feed(app).ready)  # fmt: skip
        app.repaint_now()
        await pilot.pause()
        engine = app.world.engine(app.venue)
        assert ohlcv(chart_feed(app).candles()) == ohlcv(engine.candles(app.symbol, "5m"))
        assert title_of(pane(app)).endswith("· 5m")
        assert load_state(app.config).timeframe == "5m"  # remembered with the layout, per config
        await pilot.press("comma", "comma")
        await wait_until(pilot, lambda: app.chart_timeframe == "1d")  # wraps round: 5m -> 1m -> 1d
        # The other layouts' keys are untouched: "," and "." mean nothing off the chart.
        app.screen_stack[0].query_one("#ladder").focus()
        await pilot.press("full_stop")
        await pilot.pause()
        assert app.chart_timeframe == "1d"


async def test_maximised_chart_still_follows_the_tape_and_a_venue_change_starts_afresh(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await show_trade_layout(pilot)
        pane(app).focus()
        await pilot.press("z")
        await wait_until(pilot, lambda: app.maximised == "chart")
        region = pane(app).region
        assert (region.width, region.height) == (120, 33)
        engine = app.world.engine(app.venue)
        trade_more(app, 5)
        feed = chart_feed(app)
        await wait_until(pilot, lambda: ohlcv(feed.candles()) == ohlcv(engine.candles(app.symbol, "1m")))
        await pilot.press("z")
        first = (app.venue, app.symbol)
        await pilot.press("v")
        await wait_until(pilot, lambda: (app.venue, app.symbol) != first and chart_feed(app) is not None
                         and chart_feed(app).ready)  # fmt: skip
        other = app.world.engine(app.venue)
        assert ohlcv(chart_feed(app).candles()) == ohlcv(other.candles(app.symbol, "1m"))
        # One chart feed at a time, and none once the layout is left.
        await pilot.press("1")
        await pilot.pause()
        assert app.service.market_feed()._chart is None
        assert not [t for t in app.service._tasks if t.get_name().startswith("candles:") and not t.done()]


async def test_titles_from_a_venue_are_never_markup(tmp_path):
    """A symbol or venue name with markup in it is shown as typed and crashes nothing."""
    from aitbc_tui.ui.panes.tape import TapePane, TapeView

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await show_trade_layout(pilot)
        tape = app.screen_stack[0].query_one("#tape", TapePane)
        tape.show(TapeView("bin[/x]ance", "BTC/[b]USDT", None, None))
        view = pane(app).view
        from dataclasses import replace

        pane(app).show(replace(view, venue="bin[/x]ance", symbol="BTC/[b]USDT"))
        await pilot.pause()
        assert title_of(tape) == "Trades · bin[/x]ance BTC/[b]USDT"
        assert title_of(pane(app)) == "Chart · bin[/x]ance BTC/[b]USDT · 1m"


# ---- on the binance emulator through the real ccxt client ------------------------------------


async def test_chart_pane_on_the_emulator_follows_its_trades_across_a_dropped_stream(emulated_app, loopback_only):
    emu, app = emulated_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.service.book("binance", "BTC/USDT") is not None
                         and app.service.balances("binance"))  # fmt: skip
        await pilot.press("2")
        await wait_until(pilot, lambda: chart_feed(app) is not None and chart_feed(app).ready)
        feed = chart_feed(app)
        book = app.service.book("binance", "BTC/USDT")
        ask, bid = book.best_ask, book.best_bid
        await app.service.place_order(OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), ask,
                                                   "emu-chart-1"))  # fmt: skip
        await wait_until(pilot, lambda: feed.last == ask, what=lambda: f"last {feed.last}")
        volume = sum((c.volume for c in feed.candles()), D(0))
        # The stream drops on the next trade frame: the sale it carried reaches the chart
        # through the tape's backfill after the gap, once.
        emu.set_fault("ws_close_1006", "btcusdt@trade", count=1)
        await app.service.place_order(OrderRequest("binance", "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.02"), bid,
                                                   "emu-chart-2"))  # fmt: skip
        tape = app.service.market_feed()
        await wait_until(pilot, lambda: any(isinstance(e, TapeGap) for e in tape.tape("binance", "BTC/USDT").entries),
                         timeout=20)  # fmt: skip
        await wait_until(pilot, lambda: feed.last == bid)
        assert sum((c.volume for c in feed.candles()), D(0)) == volume + D("0.02")
        app.repaint_now()
        await pilot.pause()
        assert f"last {bid:,.2f}" in pane_lines(app)[0]
