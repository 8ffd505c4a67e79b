"""Snapshots of the chart screen (C) and the depth chart (D): a sandbox that traded for 90
simulated minutes, then froze (tests.apptools.make_chart_app); fixed size, seed and clock."""

from __future__ import annotations

import pytest

from tests.apptools import make_chart_app, wait_ready, wait_until

SIZE = (120, 35)


def _opened(key: str):
    async def run_before(pilot):
        from aitbc_tui.ui.screens.chart import ChartScreen

        app = pilot.app
        await wait_ready(pilot)
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, ChartScreen))
        screen = app.screen
        if key == "C":
            chart = screen.query_one("#price-chart")
            await wait_until(pilot, lambda: chart.view is not None and len(chart.view.candles) > 60)
        else:
            depth = screen.query_one("#depth-chart")
            await wait_until(pilot, lambda: depth.view is not None and depth.view.book is not None)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("key", ["C", "D"], ids=["price", "depth"])
def test_chart_screen(snap_compare, tmp_path, key):
    assert snap_compare(make_chart_app(tmp_path), terminal_size=SIZE, run_before=_opened(key))


def test_price_chart_light_theme(snap_compare, tmp_path):
    assert snap_compare(make_chart_app(tmp_path, theme="aitbc-light"), terminal_size=SIZE, run_before=_opened("C"))


def trade_layout_ready(app) -> bool:
    """The trade layout's chart has its backfill painted and the tape its trades."""
    feed = app.service.market_feed()
    chart = feed.candles(app.venue, app.symbol, app.chart_timeframe)
    tape = feed.tape(app.venue, app.symbol)
    pane = app.screen_stack[0].query("#chart")
    return (chart is not None and chart.ready and tape is not None and len(tape.entries) > 0
            and bool(pane) and pane.first().view is not None and len(pane.first().view.candles) > 20)  # fmt: skip


@pytest.mark.parametrize("size", [(120, 35), (160, 45)], ids=["120x35", "160x45"])
def test_trade_layout_chart_pane_with_history(snap_compare, tmp_path, size):
    async def run_before(pilot):
        app = pilot.app
        await wait_ready(pilot)
        await pilot.press("2")
        await wait_until(pilot, lambda: trade_layout_ready(app), what="the trade layout's chart and tape")
        app.clear_notifications()
        await pilot.pause()
        app.repaint_now()
        await pilot.pause()

    assert snap_compare(make_chart_app(tmp_path), terminal_size=size, run_before=run_before)
