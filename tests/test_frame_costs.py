"""What a frame costs with the market panes on screen (bench/market_panes_bench.py), pinned by
behaviour: painted lines are freed by refcount (no reference cycle per strip), a table marks
only its changed rows dirty, and the tape formats a trade once."""

from __future__ import annotations

import gc
from decimal import Decimal as D

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.strip import Strip

from aitbc_tui.domain import Market, Side
from aitbc_tui.market_data import Trade
from aitbc_tui.market_feed import TapeSnapshot
from aitbc_tui.ui import strip_cycles
from aitbc_tui.ui.panes import tape as tape_module
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
