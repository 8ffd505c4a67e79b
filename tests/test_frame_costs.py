"""What a frame costs with the market panes on screen (bench/market_panes_bench.py), pinned by
behaviour: painted lines are freed by refcount (no reference cycle per strip), a table marks
only its changed rows dirty, the tape formats a trade once, and the orders pane repaints an age
tick without DataTable's whole-table render (and draws what DataTable draws)."""

from __future__ import annotations

import gc
from dataclasses import replace
from decimal import Decimal as D

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable, Input

from aitbc_tui.domain import Market, Order, OrderStatus, OrderType, Side
from aitbc_tui.market_data import Trade
from aitbc_tui.market_feed import TapeSnapshot
from aitbc_tui.ui import strip_cycles
from aitbc_tui.ui.panes import tape as tape_module
from aitbc_tui.ui.panes.orders import OrderLine, OrdersPane, OrdersView
from aitbc_tui.ui.panes.tape import TapeView, tape_rows
from aitbc_tui.ui.themes import TRADING_VARIABLE_DEFAULTS
from aitbc_tui.ui.widgets.linetable import Column, LineTable
from tests.apptools import wait_until


def test_a_strip_divided_at_its_own_end_leaves_no_cycle_for_the_collector():
    strip_cycles.install()
    strip_cycles.install()  # idempotent
    gc.collect()
    gc.disable()
    try:
        for n in range(200):
            strip = Strip([Segment(f"row {n:03d} "), Segment("x" * 10)])
            assert strip.divide([strip.cell_length]) == [strip]
            del strip
        assert gc.collect() == 0  # everything went with its last reference
    finally:
        gc.enable()


def test_divide_answers_what_textual_does():
    strip_cycles.install()
    strip = Strip([Segment("abcdef"), Segment("ghij")])
    assert [s.text for s in strip.divide([3, 10])] == ["abc", "defghij"]
    assert [s.text for s in strip.divide(iter([10]))] == ["abcdefghij"]  # any iterable
    assert [s.text for s in strip.divide([10, 12])] == ["abcdefghij"]  # cuts past the end dropped
    assert [s.text for s in strip.divide([4, 6, 10])] == ["abcd", "ef", "ghij"]


class TableApp(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **TRADING_VARIABLE_DEFAULTS}

    def compose(self) -> ComposeResult:
        yield LineTable([Column("Name", 8, "<"), Column("Value", 8)], id="table")


def recording(table: LineTable) -> list[tuple[tuple, dict]]:
    """Every refresh the table asks for from now on: (regions, options)."""
    calls: list[tuple[tuple, dict]] = []
    real = table.refresh

    def refresh(*regions, **options):
        calls.append((regions, options))
        return real(*regions, **options)

    table.refresh = refresh  # type: ignore[method-assign]
    return calls


def lines_of(calls: list[tuple[tuple, dict]]) -> set[int] | None:
    """The content lines the refreshes name; None when one of them repaints the whole table."""
    out: set[int] = set()
    for regions, _options in calls:
        if not regions:
            return None
        out |= {y for region in regions for y in region.line_range}
    return out


async def test_a_changed_row_repaints_only_its_line_a_new_row_count_the_whole_table():
    app = TableApp()
    async with app.run_test(size=(40, 20)) as pilot:
        table = app.query_one("#table", LineTable)
        rows = [((f"r{i}", ""), (str(i), "")) for i in range(5)]
        table.set_rows(rows)
        await wait_until(pilot, lambda: table.size.height > 0)
        calls = recording(table)
        changed = list(rows)
        changed[1] = (("r1", ""), ("11", ""))
        changed[2] = (("r2", ""), ("12", ""))
        changed[4] = (("r4", ""), ("14", ""))
        table.set_rows(changed)
        assert lines_of(calls) == {2, 3, 5}  # line 0 is the header: rows 1, 2 and 4
        assert len(calls) == 2  # rows 1 and 2 in one region
        assert table.render_line(2).text.split() == ["r1", "11"]
        calls.clear()
        table.set_rows(changed)  # the same rows: nothing to paint
        assert calls == []
        table.set_rows(changed + [(("r5", ""), ("5", ""))])  # one more row: the height may change
        assert lines_of(calls) is None and calls[-1][1].get("layout") is True


MARKET = Market("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"), D("1"), D("0.001"), D("0.001"))


def trade(n: int) -> Trade:
    return Trade("BTC/USDT", 1_795_000_000.0 + n, D("64000.00") + n, D("0.01000"), Side.BUY if n % 2 else Side.SELL,
                 str(n))  # fmt: skip


def test_the_tape_formats_each_trade_once_and_shows_what_it_would_without_the_memo(monkeypatch):
    calls: list[str] = []
    real = tape_module.trade_cells

    def counting(t, *places):
        calls.append(t.id)
        return real(t, *places)

    monkeypatch.setattr(tape_module, "trade_cells", counting)
    memo: dict = {}
    trades = [trade(n) for n in range(10)]
    view = TapeView("sim", "BTC/USDT", TapeSnapshot("sim", "BTC/USDT", tuple(trades), 1), MARKET)
    first = tape_rows(view, memo)
    assert len(calls) == 10
    trades.append(trade(10))
    view = TapeView("sim", "BTC/USDT", TapeSnapshot("sim", "BTC/USDT", tuple(trades), 2), MARKET)
    calls.clear()
    second = tape_rows(view, memo)
    assert calls == ["10"]  # only the new trade is formatted
    assert second == tape_rows(view) and second[1:] == first
    assert second[0] == (("11:06:50", "linetable--dim"), ("sell", "linetable--ask"), ("64,010.00", "linetable--ask"),
                         ("0.01000", ""), ("", "linetable--live"))  # fmt: skip


async def test_full_collections_are_spaced_while_the_dashboard_runs_and_restored_after(tmp_path):
    from aitbc_tui.ui.app import FULL_GC_EVERY
    from tests.apptools import make_app, wait_ready

    before = gc.get_threshold()
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: gc.get_threshold()[2] == FULL_GC_EVERY)
        assert gc.get_threshold()[:2] == before[:2]
    assert gc.get_threshold() == before


NOW = 1_795_000_000.0


def some_orders(now: float = NOW) -> list[Order]:
    statuses = [OrderStatus.OPEN, OrderStatus.PENDING, OrderStatus.UNKNOWN, OrderStatus.OPEN, OrderStatus.OPEN,
                OrderStatus.OPEN, OrderStatus.OPEN]  # fmt: skip
    return [
        Order(
            f"venue{i % 3}",
            f"id-{i}",
            f"cid-{i}",
            "BTC/USDT",
            Side.BUY if i % 2 else Side.SELL,
            OrderType.LIMIT,
            None if i == 4 else D("64000") + i,
            D("0.5"),
            D("0.1") * (i % 2),
            status,
            now - 7 - 50 * i,
            now,
        )
        for i, status in enumerate(statuses)
    ]


def orders_view(orders: list[Order], now: float, history: bool = False) -> OrdersView:
    return OrdersView(tuple(OrderLine(o, 2, "USDT") for o in orders), history, now)


class OrdersApp(App[None]):
    CSS = "OrdersPane { height: 7; border: round $accent; } Input { height: 3; }"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **TRADING_VARIABLE_DEFAULTS}

    def compose(self) -> ComposeResult:
        yield Input(id="other")
        yield OrdersPane(id="orders")


def assert_lines_as_datatable_draws_them(pane: OrdersPane) -> int:
    """Every line of the pane as DataTable itself would draw it now (segments and styles,
    mouse metadata included); returns how many lines came from the fast path."""
    pane.render_lines(Region(0, 0, pane.size.width, pane.size.height))  # the pass state, as the compositor would
    for y in range(pane.size.height):
        ours = list(pane.render_line(y))
        pane._update_count += 1  # DataTable draws from its data, none of its caches
        theirs = list(DataTable.render_line(pane, y))
        assert ours == theirs, f"line {y}: {ours} != {theirs}"
    return len(pane._line_strips)


async def test_the_orders_pane_draws_every_line_as_datatable_does():
    app = OrdersApp()
    async with app.run_test(size=(120, 20)) as pilot:
        pane = app.query_one(OrdersPane)
        orders = some_orders()
        pane.show(orders_view(orders, NOW))
        await pilot.pause()
        assert not pane.has_focus
        assert assert_lines_as_datatable_draws_them(pane) == 5  # the header and the 4 rows in sight, all fast
        pane.focus()
        await pilot.pause()
        assert_lines_as_datatable_draws_them(pane)
        pane.move_cursor(row=2)
        await pilot.pause()
        assert_lines_as_datatable_draws_them(pane)
        pane._show_hover_cursor = True  # the mouse over row 1
        pane.hover_coordinate = Coordinate(1, 0)
        await pilot.pause()
        assert_lines_as_datatable_draws_them(pane)
        pane.hover_coordinate = Coordinate(3, 0)  # ... then over row 3
        await pilot.pause()
        assert_lines_as_datatable_draws_them(pane)
        pane.scroll_to(y=2, animate=False)  # rows scroll under the header
        await pilot.pause()
        assert pane.scroll_offset.y == 2
        assert_lines_as_datatable_draws_them(pane)
        pane.show(orders_view(orders, NOW + 61))  # every age ticks
        await pilot.pause()
        assert_lines_as_datatable_draws_them(pane)
        app.theme = "textual-light"
        await pilot.pause()
        assert_lines_as_datatable_draws_them(pane)
        await pilot.resize_terminal(50, 20)  # narrower than the table: it scrolls sideways
        await pilot.pause()
        pane.scroll_to(x=9, animate=False)
        await pilot.pause()
        assert pane.scroll_offset.x == 9
        assert_lines_as_datatable_draws_them(pane)
        rejected = replace(orders[0], status=OrderStatus.REJECTED, message="price outside the band " * 4)
        pane.show(orders_view([rejected, *orders[1:]], NOW + 62, history=True))  # a cell wider than its column
        await pilot.pause()
        assert_lines_as_datatable_draws_them(pane)


async def test_an_age_tick_repaints_only_the_rows_that_changed_without_datatables_cell_renderer(monkeypatch):
    app = OrdersApp()
    async with app.run_test(size=(120, 20)) as pilot:
        pane = app.query_one(OrdersPane)
        orders = some_orders()
        pane.show(orders_view(orders, NOW))
        await pilot.pause()
        pane.render_lines(Region(0, 0, pane.size.width, pane.size.height))
        cells: list[tuple[int, int]] = []
        real_cell = DataTable._render_cell

        def counting(self, row_index, column_index, *args, **kwargs):
            cells.append((row_index, column_index))
            return real_cell(self, row_index, column_index, *args, **kwargs)

        monkeypatch.setattr(DataTable, "_render_cell", counting)
        calls = recording(pane)
        # A second later the three youngest orders' ages tick (7s -> 8s ...); the others are in minutes.
        pane.show(orders_view(orders, NOW + 1))
        assert lines_of(calls) == {1, 2, 3}  # the rows whose age changed, under the header
        assert str(pane.get_row_at(0)[8]) == "8s"
        pane.render_lines(Region(0, 0, pane.size.width, pane.size.height))
        assert cells == []  # no cell went through Rich's renderer
        assert pane.render_line(1).text.split()[-1] == "8s"
        calls.clear()
        pane.show(orders_view(orders, NOW + 1.5))  # nothing shown changed
        assert calls == []
