"""The dashboard's event log and alert hooks, kept out of app.py: every toast is also an
event; health changes become events; the `e` screen; unread alert count for the badge.

A mixin for AitbcApp: it uses ``self.service``, ``self.notify`` and ``self.ring_bell``.
"""

from __future__ import annotations

from aitbc_tui.events import EventLog, EventLogError, HealthWatcher


class EventsMixin:
    event_log: EventLog
    unread_alerts: int

    def _init_events(self, event_log: EventLog | None) -> None:
        self._owns_event_log = event_log is None
        self._event_log_problem = ""
        if event_log is None:
            try:
                event_log = EventLog()
            except EventLogError as exc:  # the log still works in memory; said once at start
                self._event_log_problem = str(exc)
                event_log = EventLog(persist=False)
        self.event_log = event_log
        self.unread_alerts = 0
        self._health_watcher = HealthWatcher()
        self._notice_kind: tuple[str, str] | None = None  # (kind, venue) for the next notify

    def _events_mounted(self) -> None:
        if self._event_log_problem:
            self.notify(f"event log not saved: {self._event_log_problem}", severity="warning", timeout=10)
        for notice in getattr(self.config, "notices", ()) or ():
            self._notice_kind = ("config", "")
            self.notify(notice, severity="warning", timeout=10)

    def _events_unmounted(self) -> None:
        if self._owns_event_log:
            self.event_log.close()
        else:
            self.event_log.flush()

    def _record_notice(self, message: str, title: str, severity: str) -> None:
        """Every toast goes to the event log too, with its kind and venue."""
        kind, venue = self._notice_kind or ("", "")
        self._notice_kind = None
        text = f"{title}: {message}" if title and not kind else message
        if not venue:
            head = message.split(":", 1)[0].strip()
            if head in self.service.venue_names:
                venue = head
        if not kind:
            lower = message.lower()
            if title == "Fill":
                kind = "fill"
            elif "rejected" in lower or "not sent" in lower:
                kind = "rejected"
            elif lower.startswith("theme"):
                kind = "theme"
            elif " canceled" in lower or "cancelled" in lower or "kill switch" in lower:
                kind = "canceled"
            elif venue:
                kind = "order"
            else:
                kind = "notice"
        self.event_log.log(text, severity=severity, kind=kind, venue=venue)

    def _watch_health_events(self) -> None:
        """Status changes and new venue errors: events (no toast: the health pane shows them)."""
        for severity, kind, venue, text in self._health_watcher.observe(self.service.health()):
            self.event_log.log(text, severity=severity, kind=kind, venue=venue)

    def action_events(self) -> None:
        from aitbc_tui.ui.screens.events import EventLogScreen

        self.unread_alerts = 0
        self.push_screen(EventLogScreen(self.event_log), lambda _: self._update_status())
