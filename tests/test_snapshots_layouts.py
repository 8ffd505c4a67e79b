"""Snapshots of layouts 2-4 (trade, watch, account): fixed size, seeded paused simulation,
frozen clock (tests.apptools.make_app), as tests/test_snapshots.py does for the default one."""

from __future__ import annotations

import pytest

from tests.apptools import make_app, wait_ready, wait_until

LAYOUTS = {"2": "trade", "3": "watch", "4": "account"}
SIZES = [(120, 35), (80, 24)]


def layout_ready(app, name: str) -> bool:
    feed = app.service.market_feed()
    if name == "trade":
        tape = feed.tape(app.venue, app.symbol)
        chart = feed.candles(app.venue, app.symbol, app.chart_timeframe)
        return tape is not None and len(tape.entries) > 0 and chart is not None and chart.ready
    if name == "watch":
        return len(feed.tickers()) == len(app.service.venue_names)
    return feed.transfers_ready  # account: the start funding's deposits are in the positions


def switch_to(key: str):
    async def run_before(pilot):
        app = pilot.app
        await wait_ready(pilot)
        await pilot.press(key)
        await wait_until(pilot, lambda: layout_ready(app, LAYOUTS[key]), what=f"layout {LAYOUTS[key]}'s data")
        app.clear_notifications()  # the "layout: …" toast: its timeout would race the picture
        await pilot.pause()
        app.repaint_now()
        await pilot.pause()

    return run_before


class TestLayouts:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    @pytest.mark.parametrize("key", list(LAYOUTS), ids=lambda k: LAYOUTS[k])
    def test_layout(self, snap_compare, tmp_path, key, size):
        assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=switch_to(key))

    def test_maximised_tape(self, snap_compare, tmp_path):
        async def run_before(pilot):
            await switch_to("2")(pilot)
            pilot.app.screen_stack[0].query_one("#tape").focus()
            await pilot.press("z")
            pilot.app.clear_notifications()
            await pilot.pause()
            pilot.app.repaint_now()
            await pilot.pause()

        assert snap_compare(make_app(tmp_path), terminal_size=(120, 35), run_before=run_before)
