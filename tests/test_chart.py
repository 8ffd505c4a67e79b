"""The price chart: cells computed by hand for a tiny series, the incremental repaint, the
candle feed's backfill without double counting, and the chart screen on the sandbox."""

from __future__ import annotations

from decimal import Decimal as D

from textual.app import App, ComposeResult

from aitbc_tui.chart_feed import CandleFeed, FillMark
from aitbc_tui.domain import Side
from aitbc_tui.market_data import Candle, Trade
from aitbc_tui.ui.panes.chart import (
    ChartView,
    PriceChart,
    Scale,
    axis_width_for,
    chart_grid,
    grid_text,
    header_text,
)
from tests.apptools import wait_ready, wait_until


def candle(t: int, o, h, low, c, v) -> Candle:
    return Candle("1m", t, D(o), D(h), D(low), D(c), D(v))


# Three 1m candles with a gap at 02:00: up 10->12, down 12->11 (wick to 14), up 11->13 (wick to 10).
SERIES = (candle(0, 10, 12, 10, 12, 2), candle(60, 12, 14, 11, 11, 4), candle(180, 11, 13, 10, 13, 1))


def view(candles=SERIES, last=D(13), fills=()) -> ChartView:
    return ChartView("sim", "T/U", "1m", tuple(candles), last, tuple(fills), price_places=0, amount_places=0)


def test_scale_maps_prices_to_half_cells():
    # hi 14, lo 10 over 8 half-cells: (14 - p) / 4 x 7, rounded half up.
    scale = Scale(14.0, 10.0, 8)
    assert [scale.sub(p) for p in (14, 13, 12, 11, 10)] == [0, 2, 4, 5, 7]


def test_tiny_series_cell_by_cell():
    # 8 x 7: 4 plot columns + a 4-cell axis (" 14 "); header, 4 price lines, 1 volume line, time.
    grid, frame = chart_grid(view(), 8, 7)
    assert frame is not None and frame.layout.plot_width == 4 and frame.layout.price_rows == 4
    assert grid_text(grid) == [
        "        ",  # no header group fits whole in 8 cells: none is shown cut
        " │   14 ",  # only candle B's wick reaches 14
        "─│─█ 13 ",  # the last price line (13) through the empty cells; C's body from 13
        "██ █    ",  # A's body, B's body (12..11), the gap at 02:00, C's body
        "█  │ 10 ",  # A down to 10, C's lower wick to 10
        "▄█ ▂ vol",  # volume 2, 4, -, 1 of 4 in eighths: 4, 8, 2
        " 00:00  ",  # the newest bucket's label does not fit beside it: left out, not cut
    ]
    # Colours: up candles are "chart--up", the down one "chart--down", the line "chart--last".
    assert [cls for _, cls in grid[3][:4]] == ["chart--up", "chart--down", "", "chart--up"]
    assert grid[2][0] == ("─", "chart--last") and grid[2][6] == ("3", "chart--last-label")


def test_volume_scale_is_rounded_up_to_a_step_so_a_growing_candle_rarely_rescales():
    from aitbc_tui.ui.panes.chart import volume_ceiling

    assert [volume_ceiling(D(v)) for v in ("4", "4.01", "0.0123", "9.5", "10", "123", "0")] == [
        D("4"), D("5"), D("0.0125"), D("10"), D("10"), D("125"), D("0")]  # fmt: skip
    # The tallest bar fills at least 75 % of the rows: the widest step is 1.5 -> 2 (and 3 -> 4, 6 -> 8).
    assert volume_ceiling(D("1.51")) == D("2") and D("1.51") / D("2") > D("0.75")


def test_header_has_the_current_candle_and_last_price():
    text = "".join(t for t, _ in header_text(view()))
    assert text == " sim · T/U · 1m  O 11 H 13 L 10 C 13 V 1  last 13"


def test_a_narrow_header_leaves_groups_out_whole_never_a_cut_figure():
    def at(width: int) -> str:
        return "".join(t for t, _ in header_text(view(), width))

    assert at(49) == " sim · T/U · 1m  O 11 H 13 L 10 C 13 V 1  last 13"  # 49 cells: all of it
    assert at(48) == " O 11 H 13 L 10 C 13 V 1  last 13"  # the name goes first (a pane title says it)
    assert at(30) == " O 11 H 13 L 10 C 13  last 13"  # then the volume
    assert at(24) == " H 13 L 10 C 13  last 13"  # then open, high, low
    assert at(14) == " C 13  last 13"
    assert at(9) == "  last 13"
    assert at(8) == ""  # nothing fits whole: nothing is shown


def test_fills_are_marked_on_their_candle():
    # A buy at 11 during candle A (00:30) sits on row sub(11)//2 = 2; a sell at 14 on B's top.
    fills = (FillMark(30.0, D(11), Side.BUY), FillMark(90.0, D(14), Side.SELL))
    grid, _ = chart_grid(view(fills=fills), 8, 7)
    assert grid[3][0] == ("▲", "chart--buy")
    assert grid[1][1] == ("▼", "chart--sell")


def test_no_candles_says_why():
    grid, frame = chart_grid(ChartView("sim", "T/U", "1m", (), message="loading"), 20, 7)
    assert frame is None and grid_text(grid) == [" loading            "]


class ChartApp(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        from aitbc_tui.ui.themes import TRADING_VARIABLE_DEFAULTS

        return {**super().get_theme_variable_defaults(), **TRADING_VARIABLE_DEFAULTS}

    def compose(self) -> ComposeResult:
        yield PriceChart()


async def test_a_trade_inside_the_range_repaints_only_the_newest_column():
    app = ChartApp()
    async with app.run_test(size=(8, 7)) as pilot:
        chart = app.query_one(PriceChart)
        chart.show(view())
        await pilot.pause()
        await wait_until(pilot, lambda: chart.full_builds >= 1)
        builds = chart.full_builds
        # A trade at 12.6 on C: close 12.6 (row 1 still: sub = 2), volume 1.5 -> 3 eighths.
        moved = (*SERIES[:2], candle(180, 11, 13, 10, D("12.6"), D("1.5")))
        chart.show(view(moved, last=D("12.6")))
        await pilot.pause()
        assert chart.full_builds == builds and chart.partial_builds == 1
        painted = ["".join(seg.text for seg in chart.render_line(y)) for y in range(7)]
        assert painted == grid_text(chart_grid(view(moved, last=D("12.6")), 8, 7)[0])
        assert painted[5] == "▄█ ▃ vol"
        # A new bucket (a new candle) rebuilds everything.
        chart.show(view((*moved, candle(240, 13, 13, 13, 13, 1)), last=D(13)))
        await pilot.pause()
        assert chart.full_builds == builds + 1


def trade(t: float, price, amount, tid: str, own: bool = False, side=Side.BUY) -> Trade:
    return Trade("T/U", t, D(price), D(amount), side, tid, own)


def test_feed_backfill_does_not_count_the_current_candle_twice():
    feed = CandleFeed(None, "T/U", "1m")
    # The venue's candles: 00:00 and 00:01 (the newest, 2 traded so far); its trades since 00:01.
    venue_candles = [candle(0, 10, 11, 9, 10, 5), candle(60, 10, 12, 10, 12, 2)]
    feed.load_backfill(venue_candles, [trade(61, 10, 1, "a"), trade(62, 12, 1, "b")])
    got = feed.candles()
    assert got[0] == candle(0, 10, 11, 9, 10, 5)
    assert (got[1].open, got[1].high, got[1].low, got[1].close, got[1].volume) == (D(10), D(12), D(10), D(12), D(2))
    # A poll returns "b" again (since is inclusive) and one new own trade: only the new one counts.
    assert feed.ingest([trade(62, 12, 1, "b"), trade(62, 13, D("0.5"), "c", own=True)]) == 1
    now = feed.candles()[-1]
    assert (now.high, now.close, now.volume) == (D(13), D(13), D("2.5"))
    assert feed.last == D(13) and feed.fills == [FillMark(62, D(13), Side.BUY)]
    # A trade into the newest bucket replaces only the newest candle (the older are the same objects).
    before = feed.candles()
    feed.ingest([trade(63, 11, 1, "d")])
    after = feed.candles()
    assert after[0] is before[0] and after[1] != before[1] and after[1].low == D(10) and after[1].close == D(11)
    # A trade in a new bucket opens a candle.
    feed.ingest([trade(125, 14, 2, "e")])
    assert [c.open_time for c in feed.candles()] == [0, 60, 120] and feed.candles(1)[0].volume == D(2)


async def test_chart_screen_on_the_sandbox(sandbox_app):
    from aitbc_tui.ui.screens.chart import ChartScreen

    app = sandbox_app
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_ready(pilot)
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ChartScreen))
        screen = app.screen
        chart = screen.query_one(PriceChart)
        engine = app.service.venue(app.venue).engine
        expected = engine.candles(app.symbol, "1m")
        await wait_until(pilot, lambda: chart.view is not None and list(chart.view.candles) == expected,
                         what=lambda: f"chart {chart.view} vs engine {expected}")  # fmt: skip
        assert chart.view.last == engine.recent_trades(app.symbol)[-1].price
        lines = chart.lines()
        assert lines[0].startswith(f" {app.venue} · {app.symbol} · 1m  O ")
        # The market moves: the current candle follows the engine's (built live from trades).
        before = expected[-1].trades
        app.world.run_steps(30, 0.1)
        assert engine.candles(app.symbol, "1m")[-1].trades > before
        await wait_until(pilot, lambda: list(chart.view.candles) == engine.candles(app.symbol, "1m"),
                         what=lambda: f"chart {chart.view.candles[-1]} vs {engine.candles(app.symbol, '1m')[-1]}")  # fmt: skip
        await pilot.press("full_stop")
        await wait_until(pilot, lambda: chart.view.timeframe == "5m" and len(chart.view.candles) == 1)
        assert chart.view.candles[-1].volume == engine.candles(app.symbol, "5m")[-1].volume
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ChartScreen))


async def test_own_fill_is_marked_and_the_chart_follows_the_venue_key(sandbox_app):
    from aitbc_tui.domain import OrderRequest, OrderType
    from aitbc_tui.ui.screens.chart import ChartScreen

    app = sandbox_app
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_ready(pilot)
        venue, symbol = app.venue, app.symbol
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ChartScreen))
        chart = app.screen.query_one(PriceChart)
        await wait_until(pilot, lambda: chart.view is not None and bool(chart.view.candles))
        # The operator buys 0.01 at the best ask: a trade of their own, marked on the candle.
        ask = app.service.book(venue, symbol).best_ask
        await app.service.venue(venue).place_order(
            OrderRequest(venue, symbol, Side.BUY, OrderType.LIMIT, D("0.01"), ask, "chart-fill-1")
        )
        await wait_until(pilot, lambda: chart.view.fills == (FillMark(app.world.clock(), ask, Side.BUY),),
                         what=lambda: f"fills {chart.view.fills}")  # fmt: skip
        marks = [line for line in chart.lines() if "▲" in line]
        # On the newest candle: the last column before the price axis.
        assert len(marks) == 1 and marks[0].index("▲") == chart.size.width - axis_width_for(chart.view) - 1
        # `v` (the dashboard's next venue) moves the chart to that venue's candles.
        await pilot.press("v")
        await wait_until(pilot, lambda: app.venue != venue)
        other = app.service.venue(app.venue).engine
        await wait_until(pilot, lambda: chart.view.venue == app.venue
                         and list(chart.view.candles) == other.candles(app.symbol, "1m"))  # fmt: skip
        assert chart.view.fills == ()


def test_a_flat_single_candle_and_venue_text_with_controls():
    flat = (candle(0, 5, 5, 5, 5, 1),)
    v = ChartView("sim\x1b[2J", "T/U\n[red]", "1m", flat, D(5), (), price_places=0, amount_places=0)
    grid, frame = chart_grid(v, 8, 7)
    # hi == lo: every price sits in the middle half-cell (4 of 8: row 2, upper half): a body top.
    assert frame is not None and frame.scale.sub(5.0) == 4
    # The axis is 3 cells (" 5 "), so 5 plot columns; the candle is the newest, column 4.
    assert grid_text(grid) == [
        "  last 5",  # the one header group that fits whole in 8 cells
        "      5 ",
        "        ",
        "────▀ 5 ",  # the last price line through the empty cells, the candle's body top
        "      5 ",
        "    █   ",  # its volume is the largest: a full line (no room for "vol")
        " 23:56  ",  # the first column is 4 minutes before the candle
    ]
    text = "".join(t for t, _ in header_text(v))
    assert text.startswith(" sim · T/U [red] · 1m ") and "\x1b" not in text and "\n" not in text


def test_too_narrow_for_the_axis_says_so():
    # The axis needs 4 cells (" 14 "): 7 columns leave 3 for candles, fewer than 4.
    grid, frame = chart_grid(view(), 7, 7)
    assert frame is None and grid_text(grid) == [" too sm"]
    assert chart_grid(view(), 8, 7)[1] is not None


async def test_fills_from_the_journal_are_marked(tmp_path):
    """A venue's public trades need not say which were ours: the journal's fills are marked too."""
    from aitbc_tui.domain import OrderRequest, OrderType
    from aitbc_tui.journal import EventKind, Journal
    from aitbc_tui.ui.screens.chart import ChartScreen
    from tests.apptools import FROZEN_NOW, make_app

    app = make_app(tmp_path / "sandbox")
    # The journal's clock a second after the venue's: its fill lands on the same (newest) candle.
    journal = app.service.journal = Journal(tmp_path / "journal.sqlite3", clock=lambda: FROZEN_NOW + 1)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            await wait_ready(pilot)
            venue, symbol = app.venue, app.symbol
            await pilot.press("C")
            await wait_until(pilot, lambda: isinstance(app.screen, ChartScreen))
            screen = app.screen
            chart = screen.query_one(PriceChart)
            await wait_until(pilot, lambda: chart.view is not None and bool(chart.view.candles))
            bid = app.service.book(venue, symbol).best_bid
            tracked = app.service.prepare_order(
                OrderRequest(venue, symbol, Side.SELL, OrderType.LIMIT, D("0.01"), bid, "chart-journal-1")
            )
            await app.service.send_order(tracked)
            fills = lambda: [e for e in journal.events(venue) if e.kind is EventKind.FILL]  # noqa: E731
            await wait_until(pilot, lambda: bool(fills()))
            event = fills()[0]
            assert (event.price, event.side) == (bid, "sell")
            await wait_until(pilot, lambda: FillMark(event.at, bid, Side.SELL) in chart.view.fills,
                             what=lambda: f"fills {chart.view.fills}")  # fmt: skip
            assert screen._journal._marks == (FillMark(FROZEN_NOW + 1, bid, Side.SELL),)
            assert any("▼" in line for line in chart.lines())
    finally:
        journal.close()
