"""The event log on its own screen (``e``): the events pane over the whole terminal,
repainted when the log changes; ``e`` or Esc goes back."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from aitbc_tui.ui.panes.events import EventsPane


class EventLogScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,e", "close", "Back", id="events.close"),
    ]

    def __init__(self, log) -> None:
        super().__init__(id="event-log")
        self.event_log = log
        self._seen = -1

    def compose(self) -> ComposeResult:
        yield EventsPane(self.event_log, id="events-pane")
        yield Static(Text("f severity · g venue · ↑↓ PgUp PgDn Home End scroll · e / Esc back"), classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one(EventsPane).focus()
        self._poll()
        self.set_interval(0.25, self._poll, name="events-repaint")

    def _poll(self) -> None:
        if self.event_log.version != self._seen:
            self._seen = self.event_log.version
            self.query_one(EventsPane).refresh_view()

    def action_close(self) -> None:
        self.dismiss(None)
