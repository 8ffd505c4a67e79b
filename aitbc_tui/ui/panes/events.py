"""The events pane: time, severity, kind, venue and text of every notice, newest last;
``f`` cycles the severity filter (all, warnings and errors, errors), ``g`` the venue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from textual.binding import Binding

from aitbc_tui.events import SEVERITIES, SEVERITY_SHORT, Event, filter_events
from aitbc_tui.ui.titles import set_title
from aitbc_tui.ui.widgets.linetable import Column, LineTable

SEVERITY_CLASS = {"information": "", "warning": "linetable--warn", "error": "linetable--bad"}


def events_columns() -> list[Column]:
    return [
        Column("Time (UTC)", 19, "<", priority=3, min_width=8),
        Column("Sev", 5, "<"),
        Column("Kind", 8, "<", priority=2),
        Column("Venue", 10, "<", priority=1, min_width=6),
        Column("Text", 400, "<", min_width=20),
    ]


@dataclass(frozen=True, slots=True)
class EventsView:
    events: tuple[Event, ...]  # everything in memory, oldest first
    min_severity: str | None = None  # None: all
    venue: str | None = None  # None: every venue

    @classmethod
    def build(cls, log, *, min_severity: str | None = None, venue: str | None = None) -> EventsView:
        return cls(tuple(log.recent), min_severity, venue)

    @property
    def shown(self) -> list[Event]:
        return filter_events(self.events, min_severity=self.min_severity, venue=self.venue)

    @property
    def venues(self) -> list[str]:
        return sorted({e.venue for e in self.events if e.venue})

    @property
    def title(self) -> str:
        severity = "all severities" if self.min_severity is None else f"{SEVERITY_SHORT[self.min_severity]} and above"
        venue = "every venue" if self.venue is None else self.venue
        return f"Events · {severity} (f) · {venue} (g)"


def event_row(event: Event) -> tuple[tuple[str, str], ...]:
    when = datetime.fromtimestamp(event.at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    style = SEVERITY_CLASS.get(event.severity, "")
    return (
        (when, "linetable--dim"),
        (SEVERITY_SHORT.get(event.severity, event.severity), style),
        (event.kind, ""),
        (event.venue or "—", ""),
        (event.text, style),
    )


class EventsPane(LineTable):
    """Filters are view state of the pane; the owner rebuilds the view when the log changes."""

    BINDINGS = [
        Binding("f", "cycle_severity", "Severity filter", id="events.severity"),
        Binding("g", "cycle_venue", "Venue filter", id="events.venue"),
    ]

    def __init__(self, log, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(events_columns(), empty_text="no events", id=id, classes=classes)
        self.log_source = log
        self.min_severity: str | None = None
        self.venue_filter: str | None = None
        self._view: EventsView | None = None

    def refresh_view(self) -> None:
        view = EventsView.build(self.log_source, min_severity=self.min_severity, venue=self.venue_filter)
        self.show(view)

    def show(self, view: EventsView) -> None:
        follow = self._view is None or self.top_row >= max(0, len(self.rows) - self.visible_rows)
        self._view = view
        set_title(self, view.title)
        self.set_rows([event_row(e) for e in view.shown])
        if follow:  # at the bottom: stay at the newest
            self.action_scroll_to(-1)

    def action_cycle_severity(self) -> None:
        order = [None, *SEVERITIES[1:]]
        self.min_severity = order[(order.index(self.min_severity) + 1) % len(order)]
        self.refresh_view()

    def action_cycle_venue(self) -> None:
        venues = [None, *(self._view.venues if self._view else [])]
        index = venues.index(self.venue_filter) if self.venue_filter in venues else 0
        self.venue_filter = venues[(index + 1) % len(venues)]
        self.refresh_view()
