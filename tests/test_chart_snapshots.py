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
