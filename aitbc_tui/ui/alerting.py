"""The dashboard's event log and alert hooks, kept out of app.py: every toast is also an
event; health changes become events; the `e` screen; unread alert count for the badge;
the alert rules (``alert_runner``), the webhook delivery thread and the desktop / apprise
notifier, none of which the UI ever waits for.

A mixin for AitbcApp: it uses ``self.service``, ``self.notify`` and ``self.ring_bell``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches

from aitbc_tui.alert_store import AlertStore, AlertStoreError
from aitbc_tui.alerts import Alert, AlertsConfig, Rule
from aitbc_tui.events import EventLog, EventLogError, HealthWatcher

if TYPE_CHECKING:
    from textual.app import App

    from aitbc_tui.service import MarketService

    _AppBase = App[None]
else:
    _AppBase = object


class EventsMixin(_AppBase):
    event_log: EventLog
    unread_alerts: int
    # What the app this is mixed into provides (AitbcApp):
    service: MarketService
    config: Any
    clock: Callable[[], float]
    venue: str | None
    symbol: str | None
    if TYPE_CHECKING:

        def ring_bell(self) -> None: ...
        def _update_status(self) -> None: ...

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
        self._init_alerts()

    # ---- alerts ---------------------------------------------------------------------------

    def _init_alerts(self) -> None:
        from aitbc_tui.alert_runner import AlertRunner
        from aitbc_tui.delivery import WebhookDispatcher, env_secret_lookup
        from aitbc_tui.notify import Notifier

        configured = getattr(self.config, "alerts", None)
        self.alerts_config = configured if isinstance(configured, AlertsConfig) else AlertsConfig()
        self._alert_store_problem = ""
        try:
            self.alert_store: AlertStore | None = AlertStore()
            rules = self.alert_store.all_rules(self.alerts_config.rules)
        except AlertStoreError as exc:
            self.alert_store, rules = None, list(self.alerts_config.rules)
            self._alert_store_problem = str(exc)
        # Webhooks: events handed to the delivery thread (never a wait here).
        self._ui_loop: asyncio.AbstractEventLoop | None = None
        self.webhooks = WebhookDispatcher(
            env_secret_lookup(getattr(self, "_credential_store_factory", None)),
            on_outcome=lambda outcome: self._from_delivery(self._webhook_outcome, outcome),
            on_problem=lambda text: self._from_delivery(self._webhook_problem, text),
        )
        self.notifier = Notifier(
            self.alerts_config.notify, on_problem=lambda text: self._from_delivery(self._channel_problem, text)
        )
        self.alert_runner = AlertRunner(self.service, self.alerts_config, rules, clock=self.clock,
                                        webhooks=self.webhooks, notifier=self.notifier,
                                        on_warning=lambda text: self.notify(text, severity="warning"))  # fmt: skip
        self.alert_engine = self.alert_runner.engine
        self.alerts_fired: list[Alert] = []
        self._books_held: set[tuple[str, str]] = set()  # changed behind a modal, not yet painted

    def _from_delivery(self, callback: Callable[[Any], None], value: Any) -> None:
        """Run ``callback(value)`` on the UI's loop (called from the delivery thread; never waits)."""
        loop = self._ui_loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(callback, value)
            except RuntimeError:  # the app's loop is gone (shutting down)
                pass

    def _webhook_outcome(self, outcome) -> None:
        """Every attempt in the event log; a delivery given up on is also a toast."""
        where = self.webhooks.hook_urls.get(outcome.hook_id, "")
        text = f"webhook {outcome.hook_id} ({where}): {outcome.event} {outcome.result}: {outcome.detail}"
        if outcome.result == "failed":
            self._notice_kind = ("webhook", "")
            self.notify(text, severity="error", timeout=10)
        elif not (outcome.result == "delivered" and outcome.event == "price"):  # prices: only their problems
            severity = "information" if outcome.result == "delivered" else "warning"
            self.event_log.log(text, severity=severity, kind="webhook")

    def _webhook_problem(self, text: str) -> None:
        self._notice_kind = ("webhook", "")
        self.notify(text, severity="error", timeout=10)

    def _channel_problem(self, text: str) -> None:
        """A desktop or apprise notification that failed (said once per channel)."""
        self._notice_kind = ("notice", "")
        self.notify(text, severity="warning", timeout=10)

    def _webhook_kill_switch(self, report) -> None:
        self.alert_runner.kill_switch(report)

    def _deliver_alerts(self, alerts: list[Alert]) -> None:
        """Event log, toast, bell, the badge's unread count and the ``alert`` webhook."""
        self.alert_runner.deliver(alerts)
        for alert in alerts:
            self.alerts_fired.append(alert)
            self.unread_alerts += 1
            if self.alerts_config.toast:
                self._notice_kind = ("alert", alert.venue)
                self.notify(alert.text, title="Alert", severity="error" if alert.severity == "error" else "warning",
                            timeout=10)  # fmt: skip
            else:
                self.event_log.log(alert.text, severity=alert.severity, kind="alert", venue=alert.venue)
            if self.alerts_config.bell:
                self.ring_bell()
        if alerts:
            self._update_status()

    def _alerts_on_books(self, dirty) -> None:
        """Only the changed symbols' rules are evaluated (after each 20 Hz drain)."""
        found = self.alert_runner.on_books(dirty)
        if found:
            self._deliver_alerts(found)

    def _alerts_behind_modal(self) -> None:
        """While a modal is open the panes hold still, but alerts do not pause: the changed
        books are drained and evaluated now (and the arbitrage index kept current for the
        arbitrage rules), and held for the repaint when the modal closes."""
        try:
            dirty = self.service.drain_dirty_books()
            if not dirty:
                return
            self._books_held |= dirty
            self._alerts_on_books(dirty)
            index = getattr(self, "_arb_index", None)
            if index is not None:
                books = self.service.books()
                excluded: set[str] = getattr(self, "_arb_excluded", set())
                for key in dirty:
                    book = books.get(key)
                    if book is None or key[0] in excluded:
                        index.remove(*key)
                    else:
                        index.update(book)
        except (NoMatches, IndexError):  # a tick landing while the app shuts down
            pass

    def _take_books_held(self) -> set[tuple[str, str]]:
        held, self._books_held = self._books_held, set()
        return held

    def _alerts_slow(self) -> None:
        """Health, balances, resync, P&L and arbitrage rules, at the health tick (2 Hz)."""
        found = self.alert_runner.slow(getattr(self, "_arb_index", None))
        if found:
            self._deliver_alerts(found)

    def _alerts_order_event(self, event) -> None:
        found = self.alert_runner.on_order_event(event)
        if found:
            self._deliver_alerts(found)

    def _reload_rules(self) -> None:
        if self.alert_store is not None:
            self.alert_engine.set_rules(self.alert_store.all_rules(self.alerts_config.rules))

    def _check_rule(self, table: dict) -> str:
        if self.alert_store is None:
            return f"alert rules cannot be saved: {self._alert_store_problem}"
        try:
            self._new_rule: Rule | None = self.alert_store.add(table, self.alerts_config.rules)
        except AlertStoreError as exc:
            return str(exc)
        return ""

    def action_new_alert(self) -> None:
        from aitbc_tui.formatting import decimals_of, fmt_fixed
        from aitbc_tui.ui.screens.alert_form import AlertForm

        last = ""
        venue, symbol = self.venue, self.symbol
        book = self.service.book(venue, symbol) if venue and symbol else None
        if venue and symbol and book is not None and book.best_bid is not None and book.best_ask is not None:
            market = self.service.market(venue, symbol)
            mid = (book.best_bid + book.best_ask) / 2
            last = fmt_fixed(mid, decimals_of(market.tick_size) if market else 8, grouping=False)

        def saved(table: dict | None) -> None:
            rule = getattr(self, "_new_rule", None)
            if table is None or rule is None:
                return
            self._new_rule = None
            self._reload_rules()
            self._notice_kind = ("alert", rule.venue or "")
            self.notify(f"alert rule {rule.id} saved: {rule.describe()}", timeout=5)
            if rule.symbol:  # evaluated against the books there are now, not only the next update
                self._alerts_on_books([k for k in self.service.books() if k[1] == rule.symbol])

        self.push_screen(AlertForm(venue=self.venue or "", symbol=self.symbol or "", last=last,
                                   check=self._check_rule), saved)  # fmt: skip

    def _events_mounted(self) -> None:
        self._ui_loop = asyncio.get_running_loop()
        self.webhooks.start()  # only when a webhook was ever added (its queue file exists)
        self.service.add_event_listener(self._alerts_order_event)
        for severity, text in self.notifier.startup_notes:  # a headless machine: the event log only
            if severity == "information":
                self.event_log.log(text, kind="notice")
            else:
                self.notify(text, severity="warning", timeout=10)
        if self._alert_store_problem:
            self.notify(f"alert rules from the data dir not loaded: {self._alert_store_problem}", severity="warning")
        if self._event_log_problem:
            self.notify(f"event log not saved: {self._event_log_problem}", severity="warning", timeout=10)
        for notice in getattr(self.config, "notices", ()) or ():
            self._notice_kind = ("config", "")
            self.notify(notice, severity="warning", timeout=10)

    def _events_unmounted(self) -> None:
        self.webhooks.stop()  # what was submitted is in the queue (sent after a restart)
        self.notifier.stop()
        if self.alert_store is not None:
            self.alert_store.close()
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
        self.alert_runner.health_webhooks()
        self.alert_runner.price_webhooks()
        self._alerts_slow()

    def action_events(self) -> None:
        from aitbc_tui.ui.screens.events import EventLogScreen

        self.unread_alerts = 0
        self.push_screen(EventLogScreen(self.event_log), lambda _: self._update_status())
