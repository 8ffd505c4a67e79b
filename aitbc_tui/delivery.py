"""Webhook delivery in the background: a thread of its own with its own event loop.

The dashboard (and `aitbc-tui watch`) hands events over with ``submit`` (thread-safe,
never blocks: an append and a wake-up). The delivery thread writes them to the SQLite
queue (``webhooks.WebhookStore``), posts what is due with ``webhooks.Deliverer`` (3 s
timeout, retries with backoff), and sleeps until the next delivery is due or a new event
arrives. Neither the disk nor the network is ever touched on the caller's thread, so the
UI and the order path never wait for a receiver.

What is queued survives a restart: ``stop`` writes every submitted event to the queue
before the thread ends (a POST in flight is abandoned and stays pending, so it is sent
again with the same idempotency key: delivery is at least once). The signing secrets come
from ``secret_for(hook_id)`` (the credential store), looked up in the delivery thread
and kept in memory only. Every attempt's outcome goes to ``on_outcome`` (called in the
delivery thread: the caller moves it to its own thread if it needs to).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from aitbc_tui import paths
from aitbc_tui.events import iso_utc
from aitbc_tui.webhooks import WEBHOOKS_FILENAME, Deliverer, Outcome, WebhookError, WebhookStore, display_url

log = logging.getLogger(__name__)

INBOX_MAX = 100_000  # events handed over and not yet in the queue (the thread drains them in ms)
IDLE_WAKE_S = 2.0  # re-read the hooks this often when nothing is due (a `webhook add` meanwhile)


class WebhookDispatcher:
    def __init__(
        self,
        secret_for: Callable[[int], Any],
        *,
        path: Path | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        on_problem: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
        timeout_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path or paths.data_dir() / WEBHOOKS_FILENAME
        self.secret_for = secret_for
        self.on_outcome = on_outcome
        self.on_problem = on_problem
        self.rng = rng or random.Random()
        self.timeout_s = timeout_s
        self.clock = clock  # the queue's schedule (retries): wall time, not a test's frozen clock
        self.subscribed: frozenset[str] = frozenset()  # event types some hook wants (refreshed by the thread)
        self.hook_urls: dict[int, str] = {}  # id -> URL without user info or query
        self.submitted = 0
        self.dropped = 0  # refused because the delivery thread fell INBOX_MAX behind
        self.outcomes: collections.Counter[str] = collections.Counter()
        self._inbox: collections.deque[tuple[str, dict[str, Any], float]] = collections.deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._ready = threading.Event()
        self._secrets: dict[int, Any] = {}

    # ---- the caller's side (any thread) ----------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, only_if_configured: bool = True) -> bool:
        """Start the delivery thread; with ``only_if_configured``, only once the queue's
        file exists (`webhook add` made it), so a dashboard without webhooks runs none."""
        if self._thread is not None:
            return True
        if only_if_configured and not self.path.exists():
            return False
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
        self._thread.start()
        return True

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """The thread has opened the queue and read the hooks (tests, `watch`)."""
        return self._ready.wait(timeout)

    def wants(self, event: str) -> bool:
        return event in self.subscribed

    def submit(self, event: str, data: dict[str, Any], at: float) -> bool:
        """Queue ``event`` for every hook subscribed to it; False when no webhook is set up
        (the queue's file does not exist). Never blocks on the disk or the network."""
        if not self.start():
            return False
        if self._thread is not None and not self._thread.is_alive():
            return False  # the delivery thread ended (its problem was said): nothing piles up
        with self._lock:
            if len(self._inbox) >= INBOX_MAX:  # the thread is stuck (a secret lookup that hangs)
                self.dropped += 1
                if self.dropped == 1:
                    self._problem(f"webhook events dropped: {INBOX_MAX:,} are waiting for the delivery thread")
                return False
            self._inbox.append((event, data, at))
        self.submitted += 1
        self._poke()
        return True

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(wake.set)

    def stop(self, timeout: float = 5.0) -> None:
        """Queue everything submitted, abandon a POST in flight (it stays pending), end."""
        self._stopping = True
        self._poke()
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- the delivery thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # noqa: BLE001 - said once; the dashboard goes on without webhooks
            log.exception("webhook delivery stopped")
            self._problem(f"webhook delivery stopped: {type(exc).__name__}: {exc}")
        finally:
            self._ready.set()

    def _problem(self, text: str) -> None:
        if self.on_problem is not None:
            with contextlib.suppress(Exception):
                self.on_problem(text)

    def _secret(self, hook_id: int) -> Any:
        found = self._secrets.get(hook_id)
        if found is None:
            found = self.secret_for(hook_id)
            if found:
                self._secrets[hook_id] = found
        return found

    def _tell(self, outcome: Outcome) -> None:
        self.outcomes[outcome.result] += 1
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _drain(self, store: WebhookStore) -> None:
        """Everything submitted so far into the queue, in one transaction."""
        with self._lock:
            batch = list(self._inbox)
            self._inbox.clear()
        if not batch:
            return
        try:
            store.enqueue_many(batch)
        except Exception as exc:  # noqa: BLE001 - said; the dashboard goes on
            self._problem(f"{len(batch)} webhook event(s) not queued: {type(exc).__name__}: {exc}")

    async def _main(self) -> None:
        import aiohttp

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            store = WebhookStore(self.path, clock=self.clock)
        except WebhookError as exc:
            self._problem(str(exc))
            return
        deliverer = Deliverer(store, self._secret, on_outcome=self._tell, rng=self.rng)
        if self.timeout_s is not None:
            deliverer.timeout_s = self.timeout_s
        try:
            async with aiohttp.ClientSession() as session:
                while True:
                    self._drain(store)
                    hooks = store.hooks()
                    self.hook_urls = {h.id: display_url(h.url) for h in hooks}
                    self.subscribed = frozenset(e for h in hooks for e in h.events)
                    self._ready.set()
                    if self._stopping:
                        break
                    await self._one_pass(deliverer, session)
                    if self._stopping:
                        break
                    due = store.next_due_at()
                    delay = IDLE_WAKE_S if due is None else min(IDLE_WAKE_S, max(0.0, due - self.clock()))
                    if delay > 0:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(delay):
                                await self._wake.wait()
                    self._wake.clear()
        finally:
            self._drain(store)  # what was submitted is in the queue: sent after a restart
            store.close()

    async def _one_pass(self, deliverer: Deliverer, session: Any) -> None:
        """Deliver what is due; new events are queued meanwhile; a stop abandons the POST in
        flight (it stays pending, sent again after a restart)."""
        assert self._wake is not None
        posting = asyncio.ensure_future(deliverer.deliver_due(session))
        while not posting.done():
            self._wake.clear()
            waking = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({posting, waking}, return_when=asyncio.FIRST_COMPLETED)
            waking.cancel()
            if self._stopping and not posting.done():
                posting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await posting
                return
            self._drain(deliverer.store)
        if not posting.cancelled() and posting.exception() is not None:
            exc = posting.exception()
            self._problem(f"webhook delivery pass failed: {type(exc).__name__}: {exc}")


def env_secret_lookup(store_factory: Callable | None = None) -> Callable[[int], Any]:
    """``secret_for`` from the credential store (the keyring when it is a secure one, else
    the vault). Never prompts: a vault is opened with ``AITBC_VAULT_PASSPHRASE`` or not at
    all (the terminal belongs to the dashboard or to `watch`'s output)."""
    from aitbc_tui.webhooks import secret_name

    opened: list[Any] = []

    def provider(new: bool):
        import os

        from aitbc_tui.credentials import PASSPHRASE_ENV, VaultError
        from aitbc_tui.secret import Secret

        value = os.environ.get(PASSPHRASE_ENV)
        if not value:
            raise VaultError(f"the webhook secrets are in the vault: set {PASSPHRASE_ENV} to sign deliveries")
        return Secret(value)

    def lookup(hook_id: int) -> Any:
        if not opened:
            from aitbc_tui.credentials import CredentialStore

            opened.append(
                store_factory(provider) if store_factory else CredentialStore.open(passphrase_provider=provider)
            )
        found = opened[0].get(secret_name(hook_id))
        return found.secret if found is not None else None

    return lookup


# ---- payloads (what a receiver gets in ``data``; Decimals as exact strings) -----------------


def order_data(order: Any) -> dict[str, Any]:
    return {
        "venue": order.venue,
        "symbol": order.symbol,
        "order_id": order.id,
        "client_order_id": order.client_order_id,
        "side": getattr(order.side, "value", str(order.side)),
        "type": getattr(order.type, "value", str(order.type)),
        "price": None if order.price is None else str(order.price),
        "amount": str(order.amount),
        "filled": str(order.filled),
        "status": getattr(order.status, "value", str(order.status)),
    }


def order_event_payload(event: Any) -> tuple[str, dict[str, Any]] | None:
    """(webhook event type, data) for a service ``OrderEvent``: a fill is ``fill``, every
    other change of an order (ack, canceled, rejected, unknown, settled, journal) ``order``."""
    if event.kind == "fill" and event.fill is not None:
        fill = event.fill
        return "fill", {
            **order_data(event.order),
            "side": getattr(fill.side, "value", str(fill.side)),
            "fill_price": str(fill.price),
            "fill_amount": str(fill.amount),
            "notional": str(fill.price * fill.amount),
            "fee": str(fill.fee),
            "fee_currency": fill.fee_currency,
            "liquidity": "maker" if fill.is_maker else "taker",
            "trade_id": fill.trade_id,
        }
    data = {"kind": event.kind, **order_data(event.order)}
    if event.message:
        data["message"] = event.message
    if event.by:
        data["by"] = event.by
    return "order", data


def alert_payload(alert: Any) -> dict[str, Any]:
    return {**alert.data, "rule": alert.rule_id, "kind": alert.kind, "severity": alert.severity, "text": alert.text}


# ---- the `price` event: a venue's prices for an oracle, with a confidence -----------------


def price_confidence(book_age_s: float | None, stale_after_s: float, spread_bps: Decimal) -> Decimal:
    """How far a consumer may trust a venue's price now, from 0 to 1 (3 decimals):
    freshness x tightness, where freshness = 1 - book age / the venue's stale-after (0 once
    stale or never seen) and tightness = 10 / (10 + spread in bps) (1 at no spread, 0.5 at
    10 bps, 0.1 at 90 bps)."""
    if book_age_s is None or stale_after_s <= 0:
        return Decimal("0.000")
    age = Decimal(str(round(book_age_s, 3)))
    freshness = max(Decimal(0), 1 - age / Decimal(str(stale_after_s)))
    tightness = Decimal(10) / (Decimal(10) + max(Decimal(0), spread_bps))
    return (freshness * tightness).quantize(Decimal("0.001"), rounding=ROUND_DOWN)


class PricePublisher:
    """Which books are due for a ``price`` event: every symbol each ``interval_s``, or only
    ``symbols`` (symbol -> seconds). ``clock`` is monotonic (the schedule); the event's
    timestamp is the caller's."""

    def __init__(self, interval_s: float = 10.0, symbols: Iterable[tuple[str, float]] = (), *,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.interval_s = interval_s
        self.symbols = dict(symbols)
        self.clock = clock
        self._sent: dict[tuple[str, str], float] = {}

    def due(self, books: Mapping[tuple[str, str], Any], health: Iterable[Any], at: float) -> list[dict[str, Any]]:
        now = self.clock()
        venues = {h.venue: h for h in health}
        out = []
        for (venue, symbol), book in sorted(books.items()):
            every = self.symbols.get(symbol) if self.symbols else self.interval_s
            if every is None or now - self._sent.get((venue, symbol), float("-inf")) < every:
                continue
            bid, ask = book.best_bid, book.best_ask
            if bid is None or ask is None:
                continue
            self._sent[(venue, symbol)] = now
            mid = (bid + ask) / 2
            spread_bps = (ask - bid) / mid * 10000 if mid else Decimal(0)
            h = venues.get(venue)
            age = h.book_age_s if h is not None else None
            out.append({
                "venue": venue,
                "symbol": symbol,
                "last": str(mid),  # the mid until the service exposes trades
                "bid": str(bid),
                "ask": str(ask),
                "mid": str(mid),
                "spread_bps": str(spread_bps.quantize(Decimal("0.01"))),
                "book_age_s": None if age is None else round(age, 3),
                "confidence": str(price_confidence(age, h.stale_after_s if h is not None else 0.0, spread_bps)),
                "source": f"aitbc-tui {venue}",
                "timestamp": iso_utc(at),
            })  # fmt: skip
        return out
