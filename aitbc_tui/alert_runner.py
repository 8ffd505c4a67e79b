"""The alert engine over a running market service, and the webhook events that go with it:
one piece shared by the dashboard (``ui.alerting.EventsMixin``) and the headless
`aitbc-tui watch`. No textual; nothing here waits for the disk or the network (webhook
events are handed to ``delivery.WebhookDispatcher``).

The caller drives it: ``on_books(dirty)`` after each drain of the service's changed books
(only those symbols' rules are looked at), ``slow(arbitrage_index)`` at the health tick
(venue health, balances, resync storms, P&L, arbitrage), ``on_order_event`` from the
service's order events (fills, rejections). Each returns the alerts to show; the caller
shows them and calls ``deliver`` (webhooks, desktop, apprise).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aitbc_tui.alerts import Alert, AlertEngine, AlertsConfig, Rule, pnl_figures
from aitbc_tui.delivery import PricePublisher, WebhookDispatcher, alert_payload, order_event_payload
from aitbc_tui.notify import Notifier


def resync_count(venue: Any) -> int | None:
    """A venue's book resyncs so far (ccxt venues count them; a paper venue's feed is its
    inner ccxt venue's); None for a venue that has no such counter (the sandbox)."""
    for candidate in (venue, getattr(venue, "inner", None)):
        count = getattr(candidate, "resyncs", None)
        if isinstance(count, int) and not isinstance(count, bool):
            return count
    return None


class AlertRunner:
    def __init__(
        self,
        service: Any,
        config: AlertsConfig,
        rules: Iterable[Rule],
        *,
        clock: Callable[[], float],
        webhooks: WebhookDispatcher,
        notifier: Notifier | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.config = config
        self.clock = clock
        self.webhooks = webhooks
        self.notifier = notifier
        self.on_warning = on_warning
        self.engine = AlertEngine(rules, clock=clock, max_per_minute=config.max_per_minute)
        self.prices = PricePublisher(config.price_interval_s, config.price_symbols)
        self._venue_status: dict[str, str] = {}
        self._pnl: Any = None  # a pnl.PnlTracker once a P&L rule exists
        self._pnl_trades: set[tuple[str, str]] = set()  # (venue, trade id) already in it

    # ---- webhooks ---------------------------------------------------------------------------

    def webhook(self, event: str, data: dict[str, Any], at: float | None = None) -> None:
        self.webhooks.submit(event, data, self.clock() if at is None else at)

    def deliver(self, alerts: Iterable[Alert]) -> None:
        """The channels outside the app: the ``alert`` webhook, desktop and apprise."""
        for alert in alerts:
            self.webhook("alert", alert_payload(alert), at=alert.at)
            rule = self.engine.rules.get(alert.rule_id)
            if self.notifier is not None and (rule is None or rule.notify):
                self.notifier.alert(alert, rule.apprise_urls if rule is not None else ())

    def health_webhooks(self) -> None:
        """A venue down, degraded or up again: a ``health`` event per change."""
        for h in self.service.health():
            status = h.status.value
            before = self._venue_status.get(h.venue)
            self._venue_status[h.venue] = status
            if before is not None and before != status:
                self.webhook("health", {"venue": h.venue, "status": status, "previous": before,
                                        "error": h.last_error or ""})  # fmt: skip

    def price_webhooks(self) -> None:
        """The ``price`` event (for an oracle), per symbol at its interval, when a hook wants it."""
        if self.webhooks.wants("price"):
            for data in self.prices.due(self.service.books(), self.service.health(), self.clock()):
                self.webhook("price", data)

    def kill_switch(self, report: Any) -> None:
        """The kill switch's result as one ``order`` event (each cancel is one as well)."""
        self.webhook("order", {"kind": "kill_switch", "cancelled": len(report.cancelled),
                               "failed": len(report.failed), "venues": list(self.service.venue_names)})  # fmt: skip

    # ---- rules ------------------------------------------------------------------------------

    def on_books(self, dirty: Iterable[tuple[str, str]]) -> list[Alert]:
        engine = self.engine
        books = None
        found: list[Alert] = []
        for venue, symbol in dirty:
            if not engine.wants_symbol(symbol):
                continue
            books = books or self.service.books()
            book = books.get((venue, symbol))
            if book is not None:
                found += engine.on_book(venue, symbol, book.best_bid, book.best_ask)
        return found

    def slow(self, arbitrage_index: Any = None) -> list[Alert]:
        """Health, balances, resync storms, P&L and arbitrage rules (call at ~2 Hz)."""
        engine = self.engine
        service = self.service
        found = engine.on_health({h.venue: h.status.value for h in service.health()})
        if engine._by_kind.get("balance_below"):
            for venue in service.venue_names:
                for asset, balance in service.balances(venue).items():
                    found += engine.on_balance(venue, asset, balance.free)
        if engine._by_kind.get("resync_storm"):
            for venue in service.venue_names:
                resyncs = resync_count(service.venue(venue))
                if isinstance(resyncs, int):
                    found += engine.on_resyncs(venue, resyncs)
        wanted = engine.pnl_wanted()
        if wanted:
            found += engine.on_pnl(pnl_figures(self.pnl_tracker(), service.books().values(), wanted))
        if engine._by_kind.get("arbitrage_above") and arbitrage_index is not None:
            for o in arbitrage_index.opportunities():
                found += engine.on_arbitrage(o.symbol, o.net_bps, o.executable_size, f"{o.buy_venue}->{o.sell_venue}")
        return found

    def on_order_event(self, event: Any) -> list[Alert]:
        """An order event: its webhook (``fill`` or ``order``), the P&L, the fill and
        rejection rules."""
        payload = order_event_payload(event)
        if payload is not None:
            self.webhook(*payload)
        order = event.order
        if event.kind == "fill" and event.fill is not None:
            self._pnl_fill(event.fill)
            return self.engine.on_fill(order.venue, order.symbol, order.side.value, event.fill.amount,
                                       event.fill.price)  # fmt: skip
        if event.kind == "rejected":
            return self.engine.on_rejected(order.venue, order.symbol, event.message or order.message or "")
        return []

    # ---- P&L --------------------------------------------------------------------------------

    def pnl_tracker(self) -> Any:
        """The P&L for the P&L rules: the journal's fills (once), then each new fill."""
        if self._pnl is None:
            from aitbc_tui.pnl import PnlTracker, journal_fills

            self._pnl = PnlTracker(clock=self.clock, session_start=self.clock())
            journal = getattr(self.service, "journal", None)
            fills: list[Any] = []
            if journal is not None:
                try:
                    fills = journal_fills(journal)
                except Exception as exc:  # noqa: BLE001 - said once; new fills still count
                    if self.on_warning is not None:
                        self.on_warning(f"P&L alerts: the journal's fills were not read: {exc}")
            for fill in fills:
                self._pnl_fill(fill)
        return self._pnl

    def _pnl_fill(self, fill: Any) -> None:
        if self._pnl is None:
            return  # no P&L rule yet: the journal has the fill for when one comes
        key = (fill.venue, fill.trade_id)
        if fill.trade_id and key in self._pnl_trades:
            return  # already counted (from the journal)
        self._pnl_trades.add(key)
        self._pnl.apply(fill)
