"""The health pane: status, round trip, book age and RTT history per venue."""

from __future__ import annotations

from dataclasses import dataclass

from aitbc_tui.domain import HealthStatus, VenueHealth
from aitbc_tui.formatting import fmt_age, sparkline
from aitbc_tui.ui.widgets.linetable import Cell, Column, Fit, LineTable


def health_columns(venue_width: int) -> list[Column]:
    """Venue, status and RTT always; book age, then the RTT history, go when short of room."""
    return [
        Column("Venue", venue_width, "<", min_width=7),
        Column("Status", 9, "<"),
        Column(Fit("RTT ms", "RTT"), 6),
        Column(Fit("Book age", "Book"), 8, priority=1, min_width=6),
        Column("RTT history", 16, "<", priority=2),
    ]


STATUS_CLASS = {
    HealthStatus.CONNECTED: "linetable--good",
    HealthStatus.DEGRADED: "linetable--warn",
    HealthStatus.DOWN: "linetable--bad",
}


@dataclass(frozen=True, slots=True)
class HealthView:
    venues: tuple[VenueHealth, ...]

    @classmethod
    def build(cls, service) -> HealthView:
        return cls(tuple(service.health()))


class HealthPane(LineTable):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(health_columns(9), empty_text="starting venues…", id=id, classes=classes)

    def show(self, view: HealthView) -> None:
        venue_width = max([9] + [len(h.venue) for h in view.venues])
        if self.columns[0].width != venue_width:
            self.columns = health_columns(venue_width)
        rows: list[tuple[Cell, ...]] = []
        for h in view.venues:
            latency = "—" if h.latency_ms is None else f"{h.latency_ms:.1f}"
            age_class = "linetable--warn" if h.book_age_s is not None and h.book_age_s > h.stale_after_s else ""
            rows.append(
                (
                    (h.venue, ""),
                    (h.status.value, STATUS_CLASS[h.status]),
                    (latency, ""),
                    (fmt_age(h.book_age_s), age_class),
                    (sparkline(h.latency_history_ms, 16), "linetable--dim"),
                )
            )
            if h.last_error:
                rows.append(((f"  ⚠ {h.last_error}", "linetable--warn"),))
        probes = sorted({h.probe for h in view.venues if h.probe})
        footer = [((f"RTT = {', '.join(probes)}", "linetable--dim"),)] if probes else None
        self.set_rows(rows, footer)
