"""The replay dashboard (``--replay FILE``): the recorded books in the panes, pause/step/speed keys."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aitbc_tui.commands.desk import build_replay
from tests.apptools import wait_until
from tests.desk.test_record_replay import DEPTH, recorded, top  # noqa: F401 - the fixture

SIZE = (160, 45)


async def test_the_replay_dashboard_shows_the_recording_and_steps(recorded):  # noqa: F811
    path, live = recorded
    app = build_replay(str(path), paused=True)
    async with app.run_test(size=SIZE) as pilot:
        replayer = app.replayer
        service = app.service
        await wait_until(pilot, lambda: app.venue == "binance" and app.symbol is not None)
        assert replayer.paused and replayer.position == 0
        # Step to the first book of BTC/USDT: the ladder shows the recorded book.
        while service.book("binance", "BTC/USDT") is None or top(service.book("binance", "BTC/USDT")) != live[0]:
            await pilot.press("full_stop")
            await wait_until(pilot, lambda: replayer.position > 0)
            if replayer.position >= len(replayer.records):
                break
        await wait_until(pilot, lambda: top(service.book("binance", "BTC/USDT")) == live[0])
        assert "REPLAY paused 1x" in app._hints()
        # Faster, then play to the end: the last recorded book stays.
        await pilot.press("plus", "plus", "plus")
        assert replayer.speed == 10.0
        await pilot.press("minus")
        assert replayer.speed == 5.0
        await pilot.press("plus", "plus", "plus", "plus")
        assert replayer.speed == 50.0
        await pilot.press("space")
        assert not replayer.paused
        await wait_until(pilot, lambda: replayer.finished.is_set(), timeout=60)
        await wait_until(pilot, lambda: top(service.book("binance", "BTC/USDT")) == live[-1])
        assert app.clock() == replayer.records[-1].t  # the status bar's clock is the recording's
        # The help screen lists the replay keys from the live bindings.
        await pilot.press("question_mark")
        await pilot.pause()
        from aitbc_tui.ui.screens.help import HelpScreen

        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        rows = {what for _keys, what, _off in help_screen.key_rows()}
        assert {"Pause/play", "Step", "Faster", "Slower"} <= rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--replay", "nope.gz"), "not a readable recording"),
        (("--speed", "10"), "--speed needs --replay FILE"),
        (("--replay", "x.gz", "--speed", "100"), "use a number from 1 to 50"),
        (("--replay", "x.gz", "--speed", "nan"), "use a number from 1 to 50"),
    ],
)
def test_replay_arguments_are_refused_in_one_line(args, message, tmp_path):
    done = subprocess.run([sys.executable, "-m", "aitbc_tui", *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
