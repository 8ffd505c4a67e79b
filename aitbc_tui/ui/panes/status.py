"""The status bar: mode, focused venue and symbol, the clock, key hints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from aitbc_tui.domain import Mode


@dataclass(frozen=True, slots=True)
class StatusView:
    mode: Mode
    venue: str | None
    symbol: str | None
    now: float  # epoch seconds
    read_only: bool = False
    locked: bool = False  # live trading not armed yet
    hints: str = ""
    paused: bool = False  # the panes hold still behind a modal

    def text(self) -> str:
        clock = datetime.fromtimestamp(self.now, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        where = f"{self.venue} · {self.symbol}" if self.venue else "no venue"
        extra = "  READ-ONLY" if self.read_only else ""
        if self.locked:
            extra += "  LOCKED"
        paused = " │ panes paused" if self.paused else ""
        return f" {self.mode.value.upper()} {extra} │ {where} │ {clock}{paused} │ {self.hints}"


class StatusBar(Static):
    """One line of fixed size: a clock tick costs no layout pass."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self._shown: str | None = None

    def show(self, view: StatusView) -> None:
        text = view.text()
        if text != self._shown:
            self._shown = text
            self.update(Text(text), layout=False)
