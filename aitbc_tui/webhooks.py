"""Webhooks: a JSON POST per event to each subscribed URL, from a queue in SQLite.

Body ``{"event": ..., "data": {...}, "timestamp": ISO 8601 UTC}``; headers
``X-AITBC-Signature: sha256=<hex HMAC-SHA256 of the body with the hook's secret>``,
``X-AITBC-Event``, and ``Idempotency-Key`` (the same on every retry of one delivery, so a
receiver can drop repeats: delivery is at least once). Timeout 3 s; network errors and 5xx
are retried with exponential backoff and jitter, a 4xx never (the receiver refused it).
The queue (``webhooks.sqlite3`` in the data dir) survives a restart. The secret is never
in the config nor in this file: the caller keeps it like an API key (credential store)
and hands it over through ``secret_for``. Only http(s) URLs are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aitbc_tui import paths
from aitbc_tui.errors import UserError
from aitbc_tui.events import iso_utc

WEBHOOKS_FILENAME = "webhooks.sqlite3"
SCHEMA_VERSION = 1
EVENT_TYPES = ("fill", "alert", "order", "health", "price", "test")
TIMEOUT_S = 3.0
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 300.0


class WebhookError(UserError):
    """One line: a bad URL, event type or id."""


def secret_name(hook_id: int) -> str:
    """The name the hook's secret is stored under in the credential store."""
    return f"webhook-{hook_id}"


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"{url!r} is not allowed: use an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise WebhookError(f"{url!r} has an invalid port") from None
    return url.strip()


def display_url(url: str) -> str:
    """The URL without user info and query (where a token may hide): for logs and lists."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?…" if parts.query else "")


def check_events(text: str | Iterable[str]) -> tuple[str, ...]:
    names = [e.strip() for e in (text.split(",") if isinstance(text, str) else text) if e.strip()]
    bad = [e for e in names if e not in EVENT_TYPES]
    if not names or bad:
        raise WebhookError(f"events: {', '.join(bad) or 'none given'} not allowed; use a comma list of "
                           f"{', '.join(EVENT_TYPES[:-1])}")  # fmt: skip
    return tuple(dict.fromkeys(names))


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_s(attempt: int, rng: random.Random | None = None) -> float:
    """Delay before retry ``attempt`` (1, 2, ...): 0.5 s doubling, capped, plus up to 50 % jitter."""
    base = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return base + (rng or random).uniform(0, base / 2)


@dataclass(frozen=True, slots=True)
class Hook:
    id: int
    url: str
    events: tuple[str, ...]
    created_at: float


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    hook_id: int
    idempotency_key: str
    event: str
    body: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: int
    hook_id: int
    event: str
    result: str  # "delivered" | "retry" | "failed"
    detail: str  # "HTTP 200", "HTTP 500, retry 2 in 1.3 s", "timeout", ...


def body_of(event: str, data: dict[str, Any], at: float) -> bytes:
    return json.dumps({"event": event, "data": data, "timestamp": iso_utc(at)}, separators=(",", ":"),
                      ensure_ascii=False, default=str).encode()  # fmt: skip


class WebhookStore:
    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path or paths.data_dir() / WEBHOOKS_FILENAME
        self.clock = clock
        try:
            paths.ensure_private_dir(self.path.parent)
            self._db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise WebhookError(f"{self.path}: schema version {version} is newer than this aitbc-tui")
            self._db.executescript(
                "PRAGMA journal_mode=WAL;"
                # Commits survive the process dying (a crash, a kill); only a power loss may
                # take the last ones: each commit is not an fsync (one per delivery cost ~10 ms).
                "PRAGMA synchronous=NORMAL;"
                "CREATE TABLE IF NOT EXISTS hooks (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL,"
                " events TEXT NOT NULL, created_at REAL NOT NULL);"
                "CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY AUTOINCREMENT, hook_id INTEGER NOT NULL,"
                " idempotency_key TEXT NOT NULL UNIQUE, event TEXT NOT NULL, body BLOB NOT NULL,"
                " attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
                " last_error TEXT NOT NULL DEFAULT '');"
                "CREATE INDEX IF NOT EXISTS queue_due ON queue(status, next_at);"
                f"PRAGMA user_version={SCHEMA_VERSION};"
            )
            self.path.chmod(0o600)
        except sqlite3.Error as exc:
            raise WebhookError(f"{self.path}: cannot open the webhook queue: {exc}") from None

    def close(self) -> None:
        self._db.close()

    # ---- hooks

    def add(self, url: str, events: str | Iterable[str]) -> Hook:
        url, names = check_url(url), check_events(events)
        with self._db:
            cursor = self._db.execute("INSERT INTO hooks(url, events, created_at) VALUES (?, ?, ?)",
                                      (url, ",".join(names), self.clock()))  # fmt: skip
        return Hook(int(cursor.lastrowid or 0), url, names, self.clock())

    def hooks(self) -> list[Hook]:
        rows = self._db.execute("SELECT id, url, events, created_at FROM hooks ORDER BY id").fetchall()
        return [Hook(r[0], r[1], tuple(r[2].split(",")), r[3]) for r in rows]

    def hook(self, hook_id: int) -> Hook:
        for hook in self.hooks():
            if hook.id == hook_id:
                return hook
        raise WebhookError(f"no webhook {hook_id}; `aitbc-tui webhook list` shows them")

    def remove(self, hook_id: int) -> None:
        self.hook(hook_id)
        with self._db:
            self._db.execute("DELETE FROM hooks WHERE id = ?", (hook_id,))
            self._db.execute("DELETE FROM queue WHERE hook_id = ? AND status = 'pending'", (hook_id,))

    # ---- queue

    def enqueue(self, event: str, data: dict[str, Any], *, at: float | None = None,
                hook_ids: Iterable[int] | None = None) -> list[int]:  # fmt: skip
        """One delivery per hook subscribed to ``event`` (or the given hooks); returns their ids."""
        return self.enqueue_many([(event, data, self.clock() if at is None else at)], hook_ids=hook_ids)

    def enqueue_many(self, events: Iterable[tuple[str, dict[str, Any], float]], *,
                     hook_ids: Iterable[int] | None = None) -> list[int]:  # fmt: skip
        """``enqueue`` for many (event, data, at) in one transaction."""
        wanted = set(hook_ids) if hook_ids is not None else None
        hooks = self.hooks()
        ids = []
        with self._db:
            for event, data, at in events:
                body = body_of(event, data, at)
                for hook in hooks:
                    if (wanted is None and event not in hook.events) or (wanted is not None and hook.id not in wanted):
                        continue
                    cursor = self._db.execute(
                        "INSERT INTO queue(hook_id, idempotency_key, event, body, next_at) VALUES (?, ?, ?, ?, ?)",
                        (hook.id, str(uuid.uuid4()), event, body, self.clock()),
                    )
                    ids.append(int(cursor.lastrowid or 0))
        return ids

    def due(self, limit: int = 50) -> list[Delivery]:
        rows = self._db.execute(
            "SELECT id, hook_id, idempotency_key, event, body, attempts FROM queue"
            " WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT ?",
            (self.clock(), limit),
        ).fetchall()
        return [Delivery(r[0], r[1], r[2], r[3], bytes(r[4]), r[5]) for r in rows]

    def next_due_at(self) -> float | None:
        """When the earliest pending delivery is due (epoch seconds), or None."""
        row = self._db.execute("SELECT MIN(next_at) FROM queue WHERE status = 'pending'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def subscribed(self) -> frozenset[str]:
        """Every event type some hook subscribes to."""
        return frozenset(e for hook in self.hooks() for e in hook.events)

    def queue_counts(self) -> dict[int, dict[str, int]]:
        """Per hook: how many deliveries are delivered, pending and failed."""
        out: dict[int, dict[str, int]] = {}
        for hook_id, status, n in self._db.execute(
            "SELECT hook_id, status, COUNT(*) FROM queue GROUP BY hook_id, status"
        ):
            out.setdefault(hook_id, {"delivered": 0, "pending": 0, "failed": 0})[status] = n
        return out

    def last_error(self, hook_id: int) -> str:
        """The last failed or retried delivery's reason for ``hook_id`` ("" if none)."""
        row = self._db.execute("SELECT last_error FROM queue WHERE hook_id = ? AND status != 'delivered' AND"
                               " last_error != '' ORDER BY id DESC LIMIT 1", (hook_id,)).fetchone()  # fmt: skip
        return row[0] if row else ""

    def pending(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM queue WHERE status = 'pending'").fetchone()[0]

    def status(self, delivery_id: int) -> tuple[str, int, str]:
        row = self._db.execute("SELECT status, attempts, last_error FROM queue WHERE id = ?", (delivery_id,)).fetchone()
        return (row[0], row[1], row[2]) if row else ("gone", 0, "")

    def _mark(self, delivery: Delivery, status: str, detail: str, next_at: float | None = None) -> None:
        with self._db:
            self._db.execute("UPDATE queue SET status = ?, attempts = attempts + 1, last_error = ?, next_at = ?"
                             " WHERE id = ?", (status, detail, next_at or self.clock(), delivery.id))  # fmt: skip


class Deliverer:
    """Posts due deliveries; ``secret_for(hook_id)`` returns the hook's secret (a str or an
    object with ``reveal()``); ``on_outcome`` hears every attempt's result (the event log)."""

    def __init__(self, store: WebhookStore, secret_for: Callable[[int], Any], *,
                 on_outcome: Callable[[Outcome], None] | None = None, rng: random.Random | None = None,
                 timeout_s: float = TIMEOUT_S, max_attempts: int = MAX_ATTEMPTS) -> None:  # fmt: skip
        self.store = store
        self.secret_for = secret_for
        self.on_outcome = on_outcome
        self.rng = rng or random.Random()
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts

    async def deliver_due(self, session) -> list[Outcome]:
        """One pass over what is due now (call it from a loop; it never raises for a receiver)."""
        outcomes = []
        hooks = {h.id: h for h in self.store.hooks()}
        for delivery in self.store.due():
            hook = hooks.get(delivery.hook_id)
            if hook is None:
                self.store._mark(delivery, "failed", "webhook removed")
                continue
            outcomes.append(await self._post(session, hook, delivery))
        return outcomes

    async def _post(self, session, hook: Hook, delivery: Delivery) -> Outcome:

        import aiohttp

        try:
            secret = self.secret_for(hook.id)
            secret = secret.reveal() if hasattr(secret, "reveal") else str(secret or "")
            missing = "" if secret else f"no signing secret {secret_name(hook.id)} in the credential store"
        except Exception as exc:  # noqa: BLE001 - the store's own one-line message, never the secret
            secret, missing = "", f"signing secret unavailable: {type(exc).__name__}: {exc}"
        if missing:  # never sent unsigned: kept, and tried again later
            return self._retry_or_fail(delivery, True, missing)
        headers = {
            "Content-Type": "application/json",
            "X-AITBC-Event": delivery.event,
            "X-AITBC-Signature": sign(secret, delivery.body),
            "Idempotency-Key": delivery.idempotency_key,
        }
        retry, detail = False, ""
        try:
            async with session.post(hook.url, data=delivery.body, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=self.timeout_s), allow_redirects=False) as reply:  # fmt: skip
                detail = f"HTTP {reply.status}"
                if 200 <= reply.status < 300:
                    self.store._mark(delivery, "delivered", detail)
                    return self._tell(delivery, "delivered", detail)
                retry = reply.status >= 500
        except TimeoutError:
            retry, detail = True, f"no answer in {self.timeout_s:g} s"
        except aiohttp.ClientError as exc:
            retry, detail = True, f"network error: {type(exc).__name__}"
        return self._retry_or_fail(delivery, retry, detail)

    def _retry_or_fail(self, delivery: Delivery, retry: bool, detail: str) -> Outcome:
        attempt = delivery.attempts + 1
        if retry and attempt < self.max_attempts:
            delay = backoff_s(attempt, self.rng)
            self.store._mark(delivery, "pending", detail, self.store.clock() + delay)
            return self._tell(delivery, "retry", f"{detail}, retry {attempt} in {delay:.1f} s")
        self.store._mark(delivery, "failed", detail)
        why = "refused, not retried" if not retry else f"gave up after {attempt} attempts"
        return self._tell(delivery, "failed", f"{detail}, {why}")

    def _tell(self, delivery: Delivery, result: str, detail: str) -> Outcome:
        outcome = Outcome(delivery.id, delivery.hook_id, delivery.event, result, detail)
        if self.on_outcome is not None:
            try:
                self.on_outcome(outcome)
            except Exception:  # noqa: BLE001 - the log's failure never stops a delivery
                pass
        return outcome


def log_outcome(event_log, hook_url: Callable[[int], str]) -> Callable[[Outcome], None]:
    """An ``on_outcome`` that writes each attempt to the event log (no secret, no body)."""

    def tell(outcome: Outcome) -> None:
        severity = {"delivered": "information", "retry": "warning"}.get(outcome.result, "error")
        event_log.log(f"webhook {outcome.hook_id} ({hook_url(outcome.hook_id)}): {outcome.event} "
                      f"{outcome.result}: {outcome.detail}", severity=severity, kind="webhook")  # fmt: skip

    return tell
