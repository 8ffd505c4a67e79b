"""Ladder grouping: levels aggregated by hand-computed buckets (bids down, asks up), exact
in Decimal; `g` on the sandbox dashboard."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aitbc_tui.domain import BookSnapshot
from aitbc_tui.grouping import GROUPING_TICKS, group_book, group_levels, next_grouping
from aitbc_tui.ui.panes.book import BookPane
from tests.apptools import wait_ready, wait_until

BIDS = ((D("100.04"), D("1")), (D("100.03"), D("2")), (D("99.99"), D("0.5")), (D("99.95"), D("1")),
        (D("99.94"), D("3")))  # fmt: skip
ASKS = ((D("100.06"), D("1")), (D("100.10"), D("2")), (D("100.11"), D("1")), (D("100.15"), D("4")))


def test_five_ticks_of_a_cent():
    # 100.04 and 100.03 round down to 100.00; 99.99 and 99.95 to 99.95; 99.94 to 99.90.
    assert group_levels(BIDS, D("0.05"), "bid") == ((D("100.00"), D(3)), (D("99.95"), D("1.5")), (D("99.90"), D(3)))
    # 100.06 and 100.10 round up to 100.10; 100.11 and 100.15 to 100.15.
    assert group_levels(ASKS, D("0.05"), "ask") == ((D("100.10"), D(3)), (D("100.15"), D(5)))


def test_ten_ticks():
    assert group_levels(BIDS, D("0.10"), "bid") == ((D("100.0"), D(3)), (D("99.9"), D("4.5")))
    assert group_levels(ASKS, D("0.10"), "ask") == ((D("100.1"), D(3)), (D("100.2"), D(5)))


def test_sizes_are_summed_exactly():
    levels = ((D("10.01"), D("0.1")), (D("10.02"), D("0.2")))
    assert group_levels(levels, D("0.05"), "ask") == ((D("10.05"), D("0.3")),)  # not 0.30000000000000004


def test_one_tick_changes_nothing_and_a_bad_increment_is_refused():
    book = BookSnapshot("sim", "X/Y", BIDS, ASKS, 0.0, 3)
    assert group_book(book, D("0.01")) == book
    with pytest.raises(ValueError):
        group_levels(BIDS, D(0), "bid")


def test_the_cycle():
    assert GROUPING_TICKS == (1, 5, 10, 50)
    assert [next_grouping(t) for t in GROUPING_TICKS] == [5, 10, 50, 1]


async def test_g_groups_the_ladder_on_the_sandbox(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        pane = app.query_one("#ladder", BookPane)
        title = pane.border_title
        book = app.service.book(app.venue, app.symbol)
        tick = app.service.market(app.venue, app.symbol).tick_size
        assert tick == D("0.01") and pane.snapshot is book
        analysis = pane.analysis_text
        await pilot.press("g")
        await wait_until(pilot, lambda: pane.group_ticks == 5 and pane.border_title == f"{title} · grouped by 0.05")
        grouped = pane.snapshot
        assert grouped == group_book(book, D("0.05"))
        assert grouped.best_bid <= book.best_bid and grouped.best_ask >= book.best_ask
        assert sum(s for _, s in grouped.bids) == sum(s for _, s in book.bids)
        assert pane.analysis_text == analysis  # depth and impact from the real levels
        await pilot.press("g", "g")
        await wait_until(pilot, lambda: pane.border_title == f"{title} · grouped by 0.50")
        await pilot.press("g")
        await wait_until(pilot, lambda: pane.group_ticks == 1 and pane.border_title == title)
        assert pane.snapshot is app.service.book(app.venue, app.symbol)
