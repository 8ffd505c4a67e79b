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
    alerts: int = 0  # unread alerts (the badge; nothing shown at 0; `e` reads them)

    def text(self, width: int | None = None) -> str:
        """The line; in ``width`` cells the date goes first, then the key hints (the
        footer shows keys too), so mode, venue, symbol and the time stay."""
        when = datetime.fromtimestamp(self.now, tz=UTC)
        where = f"{self.venue} · {self.symbol}" if self.venue else "no venue"
        extra = "  READ-ONLY" if self.read_only else ""
        if self.locked:
            extra += "  LOCKED"
        paused = " │ panes paused" if self.paused else ""
        if self.alerts:
            paused += f" │ ! {self.alerts} alert{'s' if self.alerts != 1 else ''}"
        head = f" {self.mode.value.upper()} {extra} │ {where} │ "
        full = f"{head}{when.strftime('%Y-%m-%d %H:%M:%S UTC')}{paused} │ {self.hints}"
        if width is None or len(full) <= width:
            return full
        short = f"{head}{when.strftime('%H:%M:%S UTC')}{paused}"
        hints = f" │ {self.hints}" if self.hints else ""
        return short + hints if len(short + hints) <= width else short


class StatusBar(Static):
    """One line of fixed size: a clock tick costs no layout pass."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self._shown: str | None = None
        self._view: StatusView | None = None

    def on_resize(self) -> None:
        if self._view is not None:
            self.show(self._view)

    def show(self, view: StatusView) -> None:
        self._view = view
        text = view.text(self.size.width or None)
        if text != self._shown:
            self._shown = text
            self.update(Text(text), layout=False)
