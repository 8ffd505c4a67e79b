"""Pane sizes per layout (> / < / 0), remembered per config in layouts.json beside the layout.

Unit tests of the clamping and of reading the file, with expectations computed by hand;
Pilot tests that press the keys, restart the app on the same data dir, and check that every
layout still fits at 120x35 and 80x24 with the sizes at their limits."""

from __future__ import annotations

import json

import pytest

from aitbc_tui import paths
from aitbc_tui.ui.layouts import SIZE_RANGE, clamp_split, load_state, parse_sizes, save_state, state_path
from tests.apptools import make_app, wait_ready, wait_until

SIZE = (120, 35)
SMALL = (80, 24)

# ---- clamping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, total, min_first, min_rest, expected",
    [
        # 160 columns, 28 each side: 28/160 = 17.5 % -> at least 18; (160-28)/160 = 82.5 % -> at most 82.
        (40, 160, 28, 28, 40),
        (90, 160, 28, 28, 82),
        (10, 160, 28, 28, 18),
        # 80 columns: 28/80 = 35 %; 52/80 = 65 %.
        (75, 80, 28, 28, 65),
        (20, 80, 28, 28, 35),
        (50, 80, 28, 28, 50),
        # 200 columns: 86 % would fit, SIZE_RANGE stops at 85; 14 % would fit, it starts at 15.
        (90, 200, 28, 28, 85),
        (10, 200, 28, 28, 15),
        # 22 lines (80x24 less the status bar and the footer), the watch layout: the watchlist
        # at least 6/22 = 27.3 % -> 28; the rest 13 lines -> at most 9/22 = 40.9 % -> 40.
        (62, 22, 6, 13, 40),
        (15, 22, 6, 13, 28),
        # 40 columns cannot hold 28 + 28: shared in proportion to the minimums, 50 %.
        (70, 40, 28, 28, 50),
        # 10 lines for 6 + 13: 6 / 19 = 31.6 % -> 32.
        (70, 10, 6, 13, 32),
    ],
)
def test_clamp_split(size, total, min_first, min_rest, expected):
    assert clamp_split(size, total, min_first, min_rest) == expected


def test_parse_sizes_keeps_the_good_ones_and_says_what_was_wrong_with_each_other():
    sizes, problems = parse_sizes(
        {"trade": 40, "watch": 150, "account": "60", "default": True, "chart": 50}, "layouts.json"
    )
    assert sizes == {"trade": 40}
    assert problems == [
        "layouts.json: sizes.watch = '150' is not a whole percent from 15 to 85: layout watch uses its default size",
        "layouts.json: sizes.account = '60' is not a whole percent from 15 to 85: layout account uses its default size",
        "layouts.json: sizes.default = 'True' is not a whole percent from 15 to 85: layout default uses its default size",
        "layouts.json: sizes: unknown layout 'chart': ignored",
    ]
    assert parse_sizes([40], "f")[0] == {} and "must be a table" in parse_sizes([40], "f")[1][0]
    assert parse_sizes(None, "f") == ({}, [])
    assert SIZE_RANGE == (15, 85)


def test_state_round_trip_and_unusable_files_fall_back_with_a_reason(tmp_path):
    path = tmp_path / "layouts.json"
    save_state(None, "trade", {"trade": 40, "default": 60}, path)
    state = load_state(None, path)
    assert (state.layout, state.sizes, state.problems) == ("trade", {"default": 60, "trade": 40}, [])
    assert json.loads(path.read_text())["sandbox"] == {"layout": "trade", "sizes": {"default": 60, "trade": 40}}
    assert path.stat().st_mode & 0o777 == 0o600

    path.write_text('{"sandbox": {"layout": "trade", "sizes": {"trade": 400}}}')
    state = load_state(None, path)
    assert (state.layout, state.sizes) == ("trade", {})  # the layout stays; the bad size does not
    assert state.problems == [f"{path}: sizes.trade = '400' is not a whole percent from 15 to 85: "
                              "layout trade uses its default size"]  # fmt: skip

    path.write_text('{"sandbox": {"layout": "trade", "siz')  # cut off mid-write
    state = load_state(None, path)
    assert (state.layout, state.sizes) == ("default", {})
    assert state.problems == [f"{path}: unreadable (JSONDecodeError): the default layout and sizes"]

    path.write_text('{"sandbox": {"layout": "grid"}}')
    assert load_state(None, path).problems == [f"{path}: unknown layout 'grid': the default layout"]
    path.write_text('{"sandbox": 3}')
    assert load_state(None, path).layout == "default" and load_state(None, path).problems
    assert load_state(None, tmp_path / "none.json").problems == []  # no file yet: nothing to say


def test_the_charts_timeframe_is_remembered_and_a_bad_one_falls_back_with_a_reason(tmp_path):
    path = tmp_path / "layouts.json"
    save_state(None, "trade", {}, path, timeframe="4h")
    assert json.loads(path.read_text())["sandbox"] == {"layout": "trade", "timeframe": "4h"}
    assert (load_state(None, path).timeframe, load_state(None, path).problems) == ("4h", [])
    path.write_text('{"sandbox": {"layout": "trade", "timeframe": "7m"}}')
    state = load_state(None, path)
    assert (state.layout, state.timeframe) == ("trade", "1m")
    assert state.problems == [f"{path}: unknown chart timeframe '7m': 1m"]


# ---- on screen ----------------------------------------------------------------------------


def region(app, widget_id: str):
    return app.screen_stack[0].query_one(f"#{widget_id}").region


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
    await pilot.pause()


async def test_greater_and_less_than_resize_the_focused_pane_and_the_size_survives_a_restart(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "2")
        await wait_until(pilot, lambda: region(app, "tape").width > 0)
        before = region(app, "left").width  # the ladder column's CSS width at 120 columns (narrow)
        assert before == 44
        assert app.focused is not None and app.focused.id == "ladder"
        await press(pilot, "greater_than_sign")  # 44/120 = 36.7 % -> 37 %, + 5 = 42 % of 120 = 50.4 columns
        await wait_until(pilot, lambda: region(app, "left").width in (50, 51))
        assert app._sizes == {"trade": 42}
        assert region(app, "tape").x == region(app, "left").right  # the tape takes the rest
        assert app.notices[-1].message == "layout trade: the ladder column 42% of the width (0 resets)"
        app.screen_stack[0].query_one("#tape").focus()
        await press(pilot, "greater_than_sign", "greater_than_sign")  # the tape grows: the ladder column shrinks twice
        await wait_until(pilot, lambda: app._sizes == {"trade": 32})
        await press(pilot, "less_than_sign")  # the tape shrinks: the ladder grows
        await wait_until(pilot, lambda: app._sizes == {"trade": 37})
        left = region(app, "left").width
        assert json.loads(state_path().read_text())["sandbox"] == {"layout": "trade", "sizes": {"trade": 37}}
        await press(pilot, "1")  # the default layout keeps its own (CSS) size
        await wait_until(pilot, lambda: region(app, "left").width == 44)
    again = make_app(tmp_path / "again")
    async with again.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert again.layout_name == "default" and region(again, "left").width == 44
        await press(pilot, "2")
        await wait_until(pilot, lambda: region(again, "left").width == left)
        assert again._sizes == {"trade": 37}
        await press(pilot, "0")  # back to the default size, and remembered so
        await wait_until(pilot, lambda: region(again, "left").width == 44)
        assert again._sizes == {} and "sizes" not in json.loads(state_path().read_text())["sandbox"]


async def test_the_rows_of_a_stacked_layout_and_the_limit_said(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "4")
        await wait_until(pilot, lambda: region(app, "positions").height > 0)
        assert app.focused.id == "positions"
        # 33 lines between the status bar and the footer; the rest keeps 6: at most
        # (33 - 6) / 33 = 81.8 % -> 81 %, reached in steps of 5 from the CSS's 3fr : 2fr.
        for _ in range(12):
            await press(pilot, "greater_than_sign")
        await wait_until(pilot, lambda: app.notices[-1].message == "positions: as large as it goes at this size")
        assert app._sizes == {"account": 81}
        await wait_until(pilot, lambda: region(app, "account-col").height in (26, 27))  # 81 % of 33 = 26.7
        assert region(app, "orders").height >= 5 and region(app, "orders").bottom <= 34


async def test_a_bad_size_in_the_file_falls_back_with_a_notice_and_no_crash(tmp_path):
    path = paths.data_dir() / "layouts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"sandbox": {"layout": "trade", "sizes": {"trade": 99, "watch": "x"}}}')
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: app.layout_name == "trade" and region(app, "tape").width > 0)
        messages = [n.message for n in app.notices if n.severity == "warning"]
        assert any("sizes.trade = '99' is not a whole percent from 15 to 85" in m for m in messages)
        assert any("sizes.watch = 'x'" in m for m in messages)
        assert app._sizes == {} and region(app, "left").width == 44  # the CSS default
    path.write_text("\x00garbage")
    app = make_app(tmp_path / "again")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert app.layout_name == "default"
        assert any("unreadable" in n.message for n in app.notices)


@pytest.mark.parametrize("size", [SIZE, SMALL], ids=["120x35", "80x24"])
@pytest.mark.parametrize("percent", [15, 85])
async def test_every_layout_fits_with_its_size_at_either_limit(tmp_path, size, percent):
    path = paths.data_dir() / "layouts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    sizes = {"default": percent, "trade": percent, "watch": percent, "account": percent}
    path.write_text(json.dumps({"sandbox": {"layout": "default", "sizes": sizes}}))
    shown = {"1": ("ladder", "health", "balances", "arb", "orders"), "2": ("ladder", "health", "tape"),
             "3": ("watchlist", "health", "arb"), "4": ("positions", "equity", "orders", "account-history")}  # fmt: skip
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await wait_ready(pilot)
        assert app._sizes == sizes
        for key, panes in shown.items():
            await press(pilot, key)
            await wait_until(pilot, lambda panes=panes: all(region(app, p).height for p in panes))
            app.repaint_now()
            await pilot.pause()
            for pane_id in panes:
                box = region(app, pane_id)
                assert box.height >= 3 and box.width >= 20, (key, pane_id, box)
                assert box.right <= size[0] and box.bottom <= size[1] - 1, (key, pane_id, box)  # above the footer
            # The header row of every table is on screen, whole.
            for pane_id in set(panes) - {"ladder"}:
                pane = app.screen_stack[0].query_one(f"#{pane_id}")
                header = pane.render_line(0).text.split()
                assert header and header[0] in ("Venue", "Time", "Asset", "Symbol"), (key, pane_id, header)


async def test_maximise_wins_over_a_size_and_restoring_brings_it_back(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "greater_than_sign")  # default layout, the ladder focused
        await wait_until(pilot, lambda: region(app, "left").width == 50)  # 37 + 5 = 42 % of 120
        await press(pilot, "z")
        await wait_until(pilot, lambda: region(app, "ladder").width == 120)
        await press(pilot, "greater_than_sign")  # nothing to resize while maximised: said, not done
        await wait_until(pilot, lambda: "z restores the layout first" in app.notices[-1].message)
        assert app._sizes == {"default": 42}
        await press(pilot, "z")
        await wait_until(pilot, lambda: region(app, "left").width == 50)


async def test_resize_keys_do_nothing_behind_a_modal(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "question_mark")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await press(pilot, "greater_than_sign", "less_than_sign")
        assert app._sizes == {}


async def test_layout_and_resize_keys_remapped_from_the_config_work_and_help_says_so(tmp_path):
    from textual.geometry import Region

    from aitbc_tui.config import parse_config
    from aitbc_tui.ui.screens.help import HelpScreen

    config = parse_config('[keys]\n"layout.trade" = "f7"\n"pane.grow" = ["f8", "ctrl+right"]\n"pane.shrink" = "f9"\n',
                          "/home/op/.config/aitbc-tui/config.toml")  # fmt: skip
    app = make_app(tmp_path, keymap=dict(config.keys))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await press(pilot, "2")  # no longer layout 2's key
        assert app.layout_name == "default"
        await press(pilot, "f7")
        await wait_until(pilot, lambda: app.layout_name == "trade" and region(app, "tape").width > 0)
        await press(pilot, "greater_than_sign")  # no longer the grow key (> is)
        assert app._sizes == {}
        await press(pilot, "f8")
        await wait_until(pilot, lambda: app._sizes == {"trade": 42})
        await press(pilot, "ctrl+right", "f9", "f9")
        await wait_until(pilot, lambda: app._sizes == {"trade": 37})
        await press(pilot, "question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        body = app.screen.query_one("#help-body")
        await wait_until(pilot, lambda: body.size.height > 0)
        lines = [s.text.rstrip() for s in body.render_lines(Region(0, 0, body.size.width, body.size.height))]

        def keys_for(description: str) -> str:
            (line,) = [line for line in lines if description in line]
            return line.split(description)[0].strip()

        assert keys_for("layout 2 trade") == "f7"
        assert keys_for("grow the focused pane's column or row") == "f8 / ^→"
        assert keys_for("shrink the focused pane's column or row") == "f9"
        assert keys_for("layout 3 watch") == "3"


@pytest.mark.parametrize("app_class", ["AitbcApp", "ReplayApp"])
def test_no_key_does_two_actions_in_the_dashboard_or_the_replay_dashboard(app_class):
    """The replay dashboard (a subclass) has + / - for its speed: the pane keys must not
    take them, in either app."""
    from collections import Counter

    from textual.binding import Binding

    from aitbc_tui.ui.app import AitbcApp
    from aitbc_tui.ui.replay_app import ReplayApp

    bindings = list(Binding.make_bindings({"AitbcApp": AitbcApp, "ReplayApp": ReplayApp}[app_class].BINDINGS))
    counts = Counter(b.key for b in bindings)
    assert [key for key, n in counts.items() if n > 1] == []
    keys = {b.id: b.key for b in bindings}
    assert (keys["pane.grow"], keys["pane.shrink"], keys["pane.size_reset"]) == (
        "greater_than_sign",
        "less_than_sign",
        "0",
    )
