"""`aitbc-tui watch`: the alert engine without the UI (for a server).

The same pieces as the dashboard, minus textual: the market service, ``AlertRunner`` (rules
and webhook events), the webhook delivery thread and the event log. Every alert, and unless
``alerts_only`` every event (health changes, venue errors, order events, webhook
deliveries), is printed as it happens: one line each, or one JSON object per line. It runs
until ``stop`` is set (Ctrl+C, SIGTERM).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aitbc_tui.alert_runner import AlertRunner
from aitbc_tui.alerts import Alert
from aitbc_tui.events import Event, EventLog, HealthWatcher, iso_utc
from aitbc_tui.sanitize import plain_text

BOOKS_EVERY_S = 0.05  # as the dashboard's 20 Hz drain
SLOW_EVERY_S = 0.5  # as its 2 Hz health tick
SEVERITY_SHORT = {"information": "info", "warning": "warn", "error": "error"}


def alert_json(alert: Alert) -> dict[str, Any]:
    return {"time": iso_utc(alert.at), "severity": alert.severity, "kind": "alert", "venue": alert.venue,
            "symbol": alert.symbol, "rule": alert.rule_id, "text": alert.text, "data": dict(alert.data)}  # fmt: skip


def line(at: float, severity: str, kind: str, venue: str, text: str) -> str:
    return f"{iso_utc(at)}  {SEVERITY_SHORT.get(severity, severity):<5}  {kind:<8}  {venue or '-':<10}  {plain_text(text, 1000)}"


class HeadlessWatch:
    def __init__(self, service: Any, runner: AlertRunner, event_log: EventLog, *, write: Callable[[str], None],
                 as_json: bool = False, alerts_only: bool = False,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.service = service
        self.runner = runner
        self.event_log = event_log
        self.write = write
        self.as_json = as_json
        self.alerts_only = alerts_only
        self.clock = clock
        self.alerts: list[Alert] = []
        self._health = HealthWatcher()
        self._index: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        event_log.add_listener(self._print_event)

    # ---- output -----------------------------------------------------------------------------

    def _print_event(self, event: Event) -> None:
        if event.kind == "alert" or self.alerts_only:
            return  # alerts are printed with their data by _show
        self.write(json.dumps(event.as_json(), ensure_ascii=False) if self.as_json
                   else line(event.at, event.severity, event.kind, event.venue, event.text))  # fmt: skip

    def _show(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        self.runner.deliver(alerts)
        for alert in alerts:
            self.alerts.append(alert)
            self.event_log.log(alert.text, severity=alert.severity, kind="alert", venue=alert.venue, at=alert.at)
            self.write(json.dumps(alert_json(alert), ensure_ascii=False) if self.as_json
                       else line(alert.at, alert.severity, "alert", alert.venue, alert.text))  # fmt: skip

    # ---- inputs -----------------------------------------------------------------------------

    def _order_event(self, event: Any) -> None:
        order = event.order
        if event.kind == "fill" and event.fill is not None:
            fill = event.fill
            text = f"{order.venue}: fill {order.side.value} {fill.amount} {order.symbol} at {fill.price}"
            self.event_log.log(text, kind="fill", venue=order.venue)
        elif event.kind in ("rejected", "canceled", "unknown"):
            why = f": {event.message}" if event.message else ""
            self.event_log.log(f"{order.venue}: {order.side.value} {order.amount} {order.symbol} {event.kind}{why}",
                               severity="warning", kind="rejected" if event.kind == "rejected" else "order",
                               venue=order.venue)  # fmt: skip
        self._show(self.runner.on_order_event(event))

    def webhook_outcome(self, outcome: Any) -> None:
        """From the delivery thread: moved to the watch's loop."""
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._log_outcome, outcome)
            except RuntimeError:
                pass

    def _log_outcome(self, outcome: Any) -> None:
        if outcome.result == "delivered" and outcome.event == "price":
            return  # a price every few seconds per book: only its problems are events
        where = self.runner.webhooks.hook_urls.get(outcome.hook_id, "")
        severity = {"delivered": "information", "retry": "warning"}.get(outcome.result, "error")
        self.event_log.log(f"webhook {outcome.hook_id} ({where}): {outcome.event} {outcome.result}: {outcome.detail}",
                           severity=severity, kind="webhook")  # fmt: skip

    def problem(self, text: str, kind: str = "webhook") -> None:
        """From the delivery or notifier thread: an error event on the watch's loop."""
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(lambda: self.event_log.log(text, severity="error", kind=kind))
            except RuntimeError:
                pass

    # ---- the loop ---------------------------------------------------------------------------

    def _books(self) -> None:
        dirty = self.service.drain_dirty_books()
        if not dirty:
            return
        if self._index is not None:
            books = self.service.books()
            for key in dirty:
                book = books.get(key)
                if book is None:
                    self._index.remove(*key)
                else:
                    self._index.update(book)
        self._show(self.runner.on_books(dirty))

    def _slow(self) -> None:
        for severity, kind, venue, text in self._health.observe(self.service.health()):
            self.event_log.log(text, severity=severity, kind=kind, venue=venue)
        self.runner.health_webhooks()
        self.runner.price_webhooks()
        if self._index is not None:
            for venue in self.service.venue_names:
                self._index.set_balances(venue, self.service.balances(venue))
        self._show(self.runner.slow(self._index))

    async def run(self, stop: asyncio.Event) -> None:
        from aitbc_tui import analysis

        self._loop = asyncio.get_running_loop()
        self.runner.webhooks.start()
        self.service.add_event_listener(self._order_event)
        self.service.add_listener(lambda message: self.event_log.log(message, severity="warning", kind="order"))
        rules = self.runner.engine.rules.values()
        self.event_log.log(f"watching {', '.join(self.service.venue_names)}: {sum(not r.paused for r in rules)} "
                           f"alert rule(s) active", kind="notice")  # fmt: skip
        if self.runner.notifier is not None:
            for severity, text in self.runner.notifier.startup_notes:
                self.event_log.log(text, severity=severity, kind="notice")
        await self.service.start()
        self._index = analysis.ArbitrageIndex(self.service.taker_fees())
        next_slow = 0.0
        try:
            while not stop.is_set():
                self._books()
                now = time.monotonic()
                if now >= next_slow:
                    next_slow = now + SLOW_EVERY_S
                    self._slow()
                try:
                    async with asyncio.timeout(BOOKS_EVERY_S):
                        await stop.wait()
                except TimeoutError:
                    pass
        finally:
            await self.service.stop()
            self.runner.webhooks.stop()  # what was submitted is in the queue
            if self.runner.notifier is not None:
                self.runner.notifier.stop()
