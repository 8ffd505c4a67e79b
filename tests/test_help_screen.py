"""The help screen: plain text (never markup by accident), and a key table built from the
app's live bindings, so a remap, a clash or read-only mode never makes it lie."""

from __future__ import annotations

from textual.geometry import Region
from textual.widgets import Static

from aitbc_tui.ui.app import AitbcApp
from aitbc_tui.ui.screens.help import HelpScreen
from tests.apptools import make_app, wait_ready

SIZE = (160, 45)


async def open_help(pilot) -> list:
    """The help body as rendered: a list of Strips, one a line."""
    await wait_ready(pilot)
    await pilot.press("question_mark")
    app = pilot.app
    while not isinstance(app.screen, HelpScreen):
        await pilot.pause()
    body = app.screen.query_one("#help-body", Static)
    while body.size.height == 0:
        await pilot.pause()
    return body.render_lines(Region(0, 0, body.size.width, body.size.height))


def lines_of(strips) -> list[str]:
    return [strip.text.rstrip() for strip in strips]


def key_line(lines: list[str], description: str) -> str:
    found = [line for line in lines if description in line]
    assert len(found) == 1, (description, lines)
    return found[0]


def keys_on(line: str, description: str) -> str:
    return line.split(description)[0].strip()


async def test_brackets_in_keys_are_text_not_markup(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        strips = await open_help(pilot)
        lines = lines_of(strips)
        text = "\n".join(lines)
        assert "[/b]" not in text and "[b]" not in text
        assert keys_on(key_line(lines, "previous venue"), "previous venue") == "V / ["
        assert keys_on(key_line(lines, "next venue"), "next venue") == "v / ]"
        # Only the key column and the headings are bold: the markup leak made the rest bold.
        for strip in strips:
            for segment in strip:
                if "previous venue" in segment.text or "simulated venues" in segment.text:
                    assert not (segment.style and segment.style.bold), segment


async def test_every_app_binding_is_listed_with_its_keys(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        lines = lines_of(await open_help(pilot))
        expected = {
            "buy form": "b",
            "sell form": "s",
            "cancel the selected open order": "c",
            "kill switch": "^k",
            "symbol picker": "/",
            "open orders / order history": "h",
            "next theme": "t",
            "credentials": "K",
            "this help": "?",
            "quit": "q",
            "next pane": "tab",
            "previous pane": "shift+tab",
            "event log": "e",
            "new alert rule": "!",
            "price chart": "C",
            "depth chart": "D",
            "ladder grouping": "g",
            "layout 1": "1",
            "layout 2 trade": "2",
            "layout 3 watch": "3",
            "layout 4 account": "4",
            "maximise the focused pane": "z",
            "grow the focused pane's column or row": ">",
            "shrink the focused pane's column or row": "<",
            "this layout's panes back to their default sizes": "0",
            "execute the route at the top of the arbitrage pane": "x",
            "inventory: each asset's free and used amount per venue": "I",
        }
        for description, keys in expected.items():
            assert keys_on(key_line(lines, description), description) == keys, description
        assert len(AitbcApp.BINDINGS) == 29


async def test_a_remapped_key_is_shown_and_the_old_one_is_not(tmp_path):
    app = make_app(tmp_path, keymap={"order.buy": "f2", "venue.previous": "ctrl+left,p", "app.help": "f1"})
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("f1")
        while not isinstance(app.screen, HelpScreen):
            await pilot.pause()
        body = app.screen.query_one("#help-body", Static)
        while body.size.height == 0:
            await pilot.pause()
        lines = lines_of(body.render_lines(Region(0, 0, body.size.width, body.size.height)))
        assert keys_on(key_line(lines, "buy form"), "buy form") == "f2"
        assert keys_on(key_line(lines, "previous venue"), "previous venue") == "^← / p"
        assert keys_on(key_line(lines, "this help"), "this help") == "f1"
        assert keys_on(key_line(lines, "sell form"), "sell form") == "s"


async def test_a_key_taken_by_a_remap_shows_as_unbound(tmp_path):
    # The config refuses this; the app given it directly must still tell the truth.
    app = make_app(tmp_path, keymap={"order.buy": "s"})
    async with app.run_test(size=SIZE) as pilot:
        lines = lines_of(await open_help(pilot))
        assert keys_on(key_line(lines, "buy form"), "buy form") == "s"
        assert keys_on(key_line(lines, "sell form"), "sell form") == "(no key)"


async def test_read_only_marks_every_order_action_as_off(tmp_path):
    """And no line wraps, so each mark stays on its action's line."""
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        lines = lines_of(await open_help(pilot))
        for description in ("buy form", "sell form", "cancel the selected open order", "kill switch"):
            assert key_line(lines, description).endswith("(off)"), description
        assert "(off)" not in key_line(lines, "next venue")
        assert any("READ-ONLY" in line for line in lines)


async def test_without_read_only_no_action_is_marked_off(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        lines = lines_of(await open_help(pilot))
        assert not any("(off)" in line or "READ-ONLY" in line for line in lines)
