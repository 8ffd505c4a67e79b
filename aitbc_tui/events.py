"""The event log: every notice the app produces, in one place, persisted in SQLite.

Order events, fills, rejections, venue errors, health changes, alerts, config and theme
warnings, webhook deliveries: each is an ``Event`` (time, severity, kind, venue, text).
``EventLog.log`` never blocks its caller: the event goes to an in-memory ring (which the
events pane and listeners read) and to a queue that a writer thread commits in batches,
so neither the UI nor an order ever waits for a disk. ``events.sqlite3`` under the data
dir, schema versioned with ``PRAGMA user_version``; rows older than the retention
(default 30 days) are deleted when the log opens.

Text is plain (control characters removed, bounded) and is never parsed as markup.
Secrets never reach it: callers log what an operator may see; ``redact`` removes
anything registered with ``add_secret`` as a second guard.
"""

from __future__ import annotations

import collections
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from aitbc_tui import paths
from aitbc_tui.errors import UserError
from aitbc_tui.sanitize import plain_text

EVENTS_FILENAME = "events.sqlite3"
SCHEMA_VERSION = 1
RETENTION_DAYS = 30
RECENT = 2000  # events kept in memory for the pane
FLUSH_EVERY_S = 0.25

SEVERITIES = ("information", "warning", "error")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
# Short names people type (`events --severity warn`) and the pane shows.
SEVERITY_SHORT = {"information": "info", "warning": "warn", "error": "error"}
_SEVERITY_ALIASES = {"info": "information", "information": "information", "warn": "warning",
                     "warning": "warning", "error": "error", "err": "error"}  # fmt: skip

KINDS = ("notice", "order", "fill", "rejected", "canceled", "venue", "health", "alert", "config", "theme",
         "webhook", "journal")  # fmt: skip


class EventLogError(UserError):
    """The event log cannot be opened or read; one line."""


@dataclass(frozen=True, slots=True)
class Event:
    at: float  # epoch seconds
    severity: str  # information | warning | error
    kind: str  # one of KINDS
    venue: str  # "" when the event is not about one venue
    text: str
    seq: int = 0  # row id once stored; 0 before

    @property
    def iso(self) -> str:
        return iso_utc(self.at)

    def as_json(self) -> dict:
        data = asdict(self)
        data["time"] = self.iso
        del data["at"]
        return data


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def severity_of(name: str) -> str:
    """A severity from what people type (info/warn/error, full names); ValueError otherwise."""
    try:
        return _SEVERITY_ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown severity {plain_text(name, 40)!r}; use info, warning or error") from None


def default_events_path() -> Path:
    return paths.data_dir() / EVENTS_FILENAME


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    severity TEXT NOT NULL,
    kind TEXT NOT NULL,
    venue TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
"""


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    try:
        if read_only:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, check_same_thread=False)
        else:
            paths.ensure_private_dir(path.parent)
            db = sqlite3.connect(path, timeout=5, check_same_thread=False)
            path.chmod(0o600)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if read_only:
            if version != SCHEMA_VERSION:
                raise EventLogError(
                    f"{path}: event log schema version {version}, this aitbc-tui reads {SCHEMA_VERSION}"
                )
            return db
        if version > SCHEMA_VERSION:
            raise EventLogError(
                f"{path}: event log schema version {version} is newer than this aitbc-tui ({SCHEMA_VERSION})"
            )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a lost last batch on power loss is acceptable for notices
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.commit()
        return db
    except sqlite3.Error as exc:
        raise EventLogError(f"{path}: cannot open the event log: {exc}") from None


class EventLog:
    """Append-only, batched, non-blocking. ``clock`` is for tests (epoch seconds)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        retention_days: float = RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
        persist: bool = True,
    ) -> None:
        self.path = path or default_events_path()
        self.clock = clock
        self.retention_days = retention_days
        self.recent: collections.deque[Event] = collections.deque(maxlen=RECENT)
        self.version = 0  # bumped on every event (the pane repaints when it changed)
        self.write_errors = 0
        self._listeners: list[Callable[[Event], None]] = []
        self._secrets: set[str] = set()
        self._queue: list[Event] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._flushed = threading.Condition()
        self._pending = 0
        self._db: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        if persist:
            self._db = _connect(self.path)
            self._prune()
            self._load_recent()
            self._thread = threading.Thread(target=self._writer, name="event-log-writer", daemon=True)
            self._thread.start()

    # ---- writing ----------------------------------------------------------------------

    def add_secret(self, value: str) -> None:
        """A value that must never be logged (a webhook secret, a key): replaced by ****."""
        if value and len(value) >= 6:
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "****")
        return text

    def log(self, text: object, *, severity: str = "information", kind: str = "notice", venue: str = "",
            at: float | None = None) -> Event:  # fmt: skip
        severity = severity if severity in SEVERITY_RANK else "information"
        event = Event(
            at=self.clock() if at is None else at,
            severity=severity,
            kind=kind if kind in KINDS else "notice",
            venue=plain_text(venue, 64),
            text=self.redact(plain_text(text, 1000)),
        )
        self.recent.append(event)
        self.version += 1
        if self._db is not None:
            with self._lock:
                self._queue.append(event)
                self._pending += 1
            self._wake.set()
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a listener's failure never stops the log
                pass
        return event

    def add_listener(self, callback: Callable[[Event], None]) -> None:
        self._listeners.append(callback)

    def _writer(self) -> None:
        while True:
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()
            with self._lock:
                batch, self._queue = self._queue, []
            if batch:
                self._write(batch)
            if self._closed and not self._queue:
                return

    def _write(self, batch: list[Event]) -> None:
        assert self._db is not None
        try:
            with self._db:
                self._db.executemany(
                    "INSERT INTO events(at, severity, kind, venue, text) VALUES (?, ?, ?, ?, ?)",
                    [(e.at, e.severity, e.kind, e.venue, e.text) for e in batch],
                )
        except sqlite3.Error:
            self.write_errors += 1  # the events stay in memory; the pane still shows them
        with self._flushed:
            self._pending -= len(batch)
            self._flushed.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything logged so far is committed (tests, shutdown)."""
        if self._db is None:
            return True
        self._wake.set()
        with self._flushed:
            return self._flushed.wait_for(lambda: self._pending <= 0, timeout)

    def close(self) -> None:
        if self._db is None or self._closed:
            return
        self.flush()
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._db.close()

    # ---- reading ----------------------------------------------------------------------

    def _prune(self) -> None:
        assert self._db is not None
        cutoff = self.clock() - self.retention_days * 86400
        with self._db:
            self._db.execute("DELETE FROM events WHERE at < ?", (cutoff,))

    def _load_recent(self) -> None:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT seq, at, severity, kind, venue, text FROM events ORDER BY seq DESC LIMIT ?", (RECENT,)
        ).fetchall()
        for row in reversed(rows):
            self.recent.append(_row(row))


def _row(row: Iterable) -> Event:
    seq, at, severity, kind, venue, text = row
    return Event(at=at, severity=severity, kind=kind, venue=venue, text=text, seq=seq)


def read_events(
    path: Path | None = None,
    *,
    since: float | None = None,
    min_severity: str | None = None,
    venue: str | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Stored events, oldest first, read-only (never creates the file: none means [])."""
    path = path or default_events_path()
    if not path.exists():
        return []
    db = _connect(path, read_only=True)
    try:
        where: list[str] = []
        params: list[str | float] = []
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if min_severity is not None:
            allowed = SEVERITIES[SEVERITY_RANK[min_severity] :]
            where.append(f"severity IN ({','.join('?' * len(allowed))})")
            params.extend(allowed)
        if venue is not None:
            where.append("venue = ?")
            params.append(venue)
        sql = "SELECT seq, at, severity, kind, venue, text FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        rows = db.execute(sql, params).fetchall()
    except sqlite3.Error as exc:
        raise EventLogError(f"{path}: cannot read the event log: {exc}") from None
    finally:
        db.close()
    events = [_row(r) for r in rows]
    return events[-limit:] if limit else events


def filter_events(events: Iterable[Event], *, min_severity: str | None = None, venue: str | None = None) -> list[Event]:
    rank = SEVERITY_RANK[min_severity] if min_severity else 0
    return [e for e in events if SEVERITY_RANK.get(e.severity, 0) >= rank and (venue is None or e.venue == venue)]


class HealthWatcher:
    """Turns successive ``service.health()`` lists into events: a status change (connected,
    degraded, down) and a new error text per venue (resyncs, watchdog rebuilds, feed errors
    arrive as the venue's last error). The first observation of a venue only records it."""

    def __init__(self) -> None:
        self._status: dict[str, str] = {}
        self._error: dict[str, str] = {}

    def observe(self, health: Iterable) -> list[tuple[str, str, str, str]]:
        """(severity, kind, venue, text) for each change."""
        out: list[tuple[str, str, str, str]] = []
        for h in health:
            status = getattr(h.status, "value", str(h.status))
            before = self._status.get(h.venue)
            if before is not None and before != status:
                severity = {"connected": "information", "degraded": "warning"}.get(status, "error")
                out.append((severity, "health", h.venue, f"{h.venue}: {before} -> {status}"))
            self._status[h.venue] = status
            error = h.last_error or ""
            if error and error != self._error.get(h.venue, ""):
                out.append(("warning", "venue", h.venue, f"{h.venue}: {error}"))
            self._error[h.venue] = error
        return out


def to_json_lines(events: Iterable[Event]) -> str:
    return "".join(json.dumps(e.as_json(), ensure_ascii=False) + "\n" for e in events)


__all__ = ["Event", "EventLog", "EventLogError", "HealthWatcher", "KINDS", "SEVERITIES", "default_events_path", "filter_events",
           "iso_utc", "read_events", "severity_of"]  # fmt: skip
