"""The depth chart: cumulative sizes per column and every cell of a tiny book, by hand; the
chart screen's depth view on the sandbox."""

from __future__ import annotations

from decimal import Decimal as D

from aitbc_tui.domain import BookSnapshot
from aitbc_tui.formatting import decimals_of, fmt_fixed
from aitbc_tui.ui.panes.depth_chart import DepthChart, DepthView, depth_columns, depth_grid, grid_text
from tests.apptools import wait_ready, wait_until

# mid 100.5; bids reach 3.5 below it (97), asks 3.5 above (104).
BOOK = BookSnapshot(
    "sim", "T/U", ((D(100), D(1)), (D(99), D(2)), (D(97), D(1))), ((D(101), D(1)), (D(102), D(1)), (D(104), D(3))), 0.0
)


def test_cumulative_sizes_per_column():
    # 15 columns: 7 a side (step 3.5 / 7 = 0.5) and the mid column.
    cols = depth_columns(BOOK, 15)
    assert cols is not None and (cols.mid, cols.reach, cols.step) == (D("100.5"), D("3.5"), D("0.5"))
    # Bid thresholds 97, 97.5 .. 100: every bid priced at or above; ask thresholds 101 .. 104.
    assert cols.sizes == (D(4), D(3), D(3), D(3), D(3), D(1), D(1), None,
                          D(1), D(1), D(2), D(2), D(2), D(2), D(5))  # fmt: skip
    assert cols.sides == ("bid",) * 7 + ("mid",) + ("ask",) * 7


def test_the_shorter_side_sets_the_range():
    book = BookSnapshot("sim", "T/U", ((D(100), D(1)), (D(90), D(1))), ((D(102), D(2)),), 0.0)
    cols = depth_columns(book, 4)  # mid 101: bids reach 11, asks 1 -> range ± 1, step 0.5
    # Bid thresholds 100 and 100.5 (nothing between 100.5 and the mid), ask thresholds 101.5, 102.
    assert cols is not None and cols.reach == D(1) and cols.sizes == (D(1), D(0), D(0), D(2))


def test_tiny_book_cell_by_cell():
    # 18 x 4: header, 2 plot lines (16 eighths), the price line; axis " 5 " (peak 5, 0 places).
    view = DepthView("sim", "T/U", BOOK, price_places=0, amount_places=0)
    grid = depth_grid(view, 18, 4)
    # Heights in eighths, round(size / 5 x 16): bids 13, 10, 10, 10, 10, 3, 3; asks 3, 3, 6 x 4, 16.
    assert grid_text(grid) == [
        " sim · T/U · depth",
        "▅▂▂▂▂  │      █ 5 ",
        "█████▃▃│▃▃▆▆▆▆█ 0 ",
        "97   100.5  104   ",
    ]
    assert grid[2][0] == ("█", "depth--bid") and grid[2][8] == ("▃", "depth--ask")
    assert grid[1][7] == ("│", "depth--mid")


def test_one_empty_side_says_so():
    book = BookSnapshot("sim", "T/U", ((D(100), D(1)),), (), 0.0)
    grid = depth_grid(DepthView("sim", "T/U", book), 50, 6)
    assert grid_text(grid) == [" one side of the book is empty: no mid, no depth".ljust(50)]


async def test_depth_chart_on_the_sandbox(sandbox_app):
    from aitbc_tui.ui.screens.chart import ChartScreen

    app = sandbox_app
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_ready(pilot)
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ChartScreen))
        depth = app.screen.query_one(DepthChart)
        book = app.service.book(app.venue, app.symbol)
        await wait_until(pilot, lambda: depth.view is not None and depth.view.book is book)
        lines = depth.lines()
        market = app.service.market(app.venue, app.symbol)
        places = decimals_of(market.tick_size)
        assert lines[0].startswith(
            f" {app.venue} · {app.symbol} · depth  mid {fmt_fixed(book.mid, places + 1)}  spread "
        )
        # The price line ends on mid ± the shorter side's reach.
        reach = min(book.mid - book.bids[-1][0], book.asks[-1][0] - book.mid)
        assert lines[-1].startswith(fmt_fixed(book.mid - reach, places))
        assert fmt_fixed(book.mid + reach, places) in lines[-1]
        # The book moves: the chart follows (only while it is on screen).
        app.world.run_steps(20, 0.1)
        await wait_until(pilot, lambda: app.service.book(app.venue, app.symbol) is not book)
        await wait_until(pilot, lambda: depth.view.book is app.service.book(app.venue, app.symbol))
        await pilot.press("C")
        await wait_until(pilot, lambda: app.screen.query_one("#price-chart").display and not depth.display)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ChartScreen))


def test_a_locked_book_draws_without_a_range():
    # bid == ask: mid 100, no reach on either side: every column sits on the mid price.
    book = BookSnapshot("sim\x1b[1m", "T/U", ((D(100), D(2)),), ((D(100), D(1)),), 0.0)
    cols = depth_columns(book, 4)
    assert cols is not None and cols.reach == 0 and cols.sizes == (D(2), D(2), D(1), D(1))
    lines = grid_text(depth_grid(DepthView("sim\x1b[1m", "T/U", book, price_places=0, amount_places=0), 60, 4))
    assert lines[0].startswith(" sim · T/U · depth  mid 100.0  spread 0") and "\x1b" not in lines[0]


async def test_the_depth_chart_alone_asks_the_venue_for_no_candles(sandbox_app):
    from aitbc_tui.ui.screens.chart import ChartScreen

    app = sandbox_app
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_ready(pilot)
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ChartScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.query_one(DepthChart).view is not None)
        assert screen.feed is None and not [w for w in app.workers if w.name == "chart-feed"]
        await pilot.press("C")  # the price chart starts its feed
        await wait_until(pilot, lambda: screen.feed is not None and screen.feed.ready)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not [w for w in app.workers if w.name == "chart-feed" and w.is_running])


async def test_only_changed_lines_are_rebuilt():
    from textual.app import App, ComposeResult

    from aitbc_tui.ui.themes import TRADING_VARIABLE_DEFAULTS

    class DepthApp(App[None]):
        def get_theme_variable_defaults(self) -> dict[str, str]:
            return {**super().get_theme_variable_defaults(), **TRADING_VARIABLE_DEFAULTS}

        def compose(self) -> ComposeResult:
            yield DepthChart()

    app = DepthApp()
    async with app.run_test(size=(18, 4)) as pilot:
        chart = app.query_one(DepthChart)
        chart.show(DepthView("sim", "T/U", BOOK, price_places=0, amount_places=0))
        await wait_until(pilot, lambda: chart._strips is not None and len(chart._strips) == 4)
        before = list(chart._strips)
        # The worst ask grows from 3 to 4: the peak (5 -> 6) rescales every bar; the header
        # (same mid, spread, range) and the price line stay the very same Strips.
        asks = ((D(101), D(1)), (D(102), D(1)), (D(104), D(4)))
        chart.show(DepthView("sim", "T/U", BookSnapshot("sim", "T/U", BOOK.bids, asks, 0.0), 0, 0))
        after = chart._strips
        assert after[0] is before[0] and after[3] is before[3]
        assert after[1] is not before[1] and after[2] is not before[2]
        assert chart.lines()[1].endswith(" 6 ")
