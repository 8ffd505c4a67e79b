"""The dashboard on a recording (``aitbc-tui --replay FILE``): every pane as in the sandbox,
the books moved by the recording, practice orders filled by the sandbox matching engine
against the recorded levels. Space pauses and plays, ``.`` steps one book update while
paused, ``+`` / ``-`` change the speed (1x to 50x). The clock shown is the recording's."""

from __future__ import annotations

from textual.binding import Binding

from aitbc_tui.desk.recording import MAX_SPEED, MIN_SPEED, Replayer
from aitbc_tui.domain import Mode
from aitbc_tui.service import MarketService
from aitbc_tui.ui.app import AitbcApp

SPEEDS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


class ReplayApp(AitbcApp):
    BINDINGS = [
        *AitbcApp.BINDINGS,
        Binding("space", "replay_pause", "Pause/play", id="replay.pause"),
        Binding("full_stop", "replay_step", "Step", id="replay.step"),
        Binding("plus", "replay_faster", "Faster", id="replay.faster"),
        Binding("minus", "replay_slower", "Slower", id="replay.slower"),
    ]

    def __init__(self, service: MarketService, replayer: Replayer, *, paused: bool = False, **kwargs) -> None:
        kwargs.setdefault("clock", lambda: replayer.now)
        super().__init__(service, mode=Mode.SANDBOX, **kwargs)
        self.replayer = replayer
        if paused:
            replayer.pause()

    def on_mount(self) -> None:
        # AitbcApp.on_mount runs as well (Textual calls each class's handler).
        self.run_worker(self._play(), name="replay", exit_on_error=False)

    async def _play(self) -> None:
        await self.replayer.run()
        self.notify("replay finished: the last recorded books stay; q quits", timeout=10)

    def replay_state(self) -> str:
        r = self.replayer
        state = "paused" if r.paused else "playing"
        return f"REPLAY {state} {r.speed:g}x · {r.position}/{len(r.records)}"

    def _hints(self) -> str:
        return f"{self.replay_state()} · {super()._hints()}"

    def _replay_changed(self) -> None:
        self._update_status()
        self.repaint_now()

    def action_replay_pause(self) -> None:
        if self.replayer.paused:
            self.replayer.resume()
        else:
            self.replayer.pause()
        self._replay_changed()

    def action_replay_step(self) -> None:
        if not self.replayer.paused:
            self.replayer.pause()
        if not self.replayer.step():
            self.notify("end of the recording", timeout=4)
        self._replay_changed()

    def _set_speed(self, up: bool) -> None:
        now = self.replayer.speed
        faster = [s for s in SPEEDS if s > now]
        slower = [s for s in SPEEDS if s < now]
        wanted = (faster[0] if faster else MAX_SPEED) if up else (slower[-1] if slower else MIN_SPEED)
        self.replayer.set_speed(wanted)
        self._replay_changed()

    def action_replay_faster(self) -> None:
        self._set_speed(True)

    def action_replay_slower(self) -> None:
        self._set_speed(False)


__all__ = ["ReplayApp"]
