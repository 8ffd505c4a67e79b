"""Snapshot tests: fixed size, seeded paused simulation, frozen clock."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.apptools import make_app, wait_ready

SIZE = (160, 45)


def steady_cursors(pilot) -> None:
    """A blinking cursor is on or off depending on when the picture is taken: keep it on."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


async def _ready(pilot):
    await wait_ready(pilot)


class TestMainScreen:
    def test_main_screen(self, snap_compare, tmp_path):
        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=_ready)

    def test_main_screen_120x35(self, snap_compare, tmp_path):
        assert snap_compare(make_app(tmp_path), terminal_size=(120, 35), run_before=_ready)

    @pytest.mark.parametrize("size", [(200, 60), (100, 30), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
    def test_main_screen_sizes(self, snap_compare, tmp_path, size):
        assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=_ready)

    @pytest.mark.parametrize(
        "theme", ["aitbc-dark", "aitbc-light", "aitbc-amber", "aitbc-colorblind", "aitbc-high-contrast"]
    )
    def test_theme(self, snap_compare, tmp_path, theme):
        assert snap_compare(make_app(tmp_path, theme=theme), terminal_size=SIZE, run_before=_ready)


SMALL = (80, 24)


class TestSmallTerminal:
    def test_order_form_80x24(self, snap_compare, tmp_path):
        async def run_before(pilot):
            await wait_ready(pilot)
            await pilot.press("b")
            await pilot.pause()
            steady_cursors(pilot)
            pilot.app.screen.query_one("#amount", Input).value = "0.05"
            await pilot.pause()

        assert snap_compare(make_app(tmp_path), terminal_size=SMALL, run_before=run_before)

    def test_help_80x24(self, snap_compare, tmp_path):
        async def run_before(pilot):
            await wait_ready(pilot)
            await pilot.press("question_mark")
            await pilot.pause()

        assert snap_compare(make_app(tmp_path), terminal_size=SMALL, run_before=run_before)


class TestOrderFlow:
    def test_order_form_with_error(self, snap_compare, tmp_path):
        async def run_before(pilot):
            await wait_ready(pilot)
            await pilot.press("b")
            await pilot.pause()
            steady_cursors(pilot)
            pilot.app.screen.query_one("#amount", Input).value = "0.123456"
            await pilot.press("enter")
            await pilot.pause()

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_confirmation(self, snap_compare, tmp_path):
        async def run_before(pilot):
            await wait_ready(pilot)
            await pilot.press("s", *"0.25", "enter")
            await pilot.pause()

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_help(self, snap_compare, tmp_path):
        async def run_before(pilot):
            await wait_ready(pilot)
            await pilot.press("question_mark")
            await pilot.pause()

        assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=run_before)
