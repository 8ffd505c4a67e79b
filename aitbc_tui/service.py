"""The market service: runs venues, owns books and account state, places orders.

It is the only place that knows the concurrency policy: one task per venue and
symbol for books, one health prober and one account poller per venue, each
re-armed only after the previous round finished. The UI never calls a venue; it
reads immutable snapshots from here at a bounded rate (see ``drain_dirty_books``)
and asks for actions through the coroutines below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from aitbc_tui.config import RiskConfig
from aitbc_tui.domain import (
    ZERO,
    Balance,
    BookSnapshot,
    FeatureUnavailable,
    Fill,
    HealthStatus,
    Market,
    Order,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    VenueError,
    VenueHealth,
    VenueUnavailable,
)
from aitbc_tui.journal import EventKind, Journal, JournalState, new_client_order_id
from aitbc_tui.risk import RiskGate, traded_value, utc_day_start
from aitbc_tui.venues.base import Venue

log = logging.getLogger(__name__)

# Health rule, stated in the help screen:
#   connected: the last probe answered within DEGRADED_LATENCY_MS and a book update
#              arrived within STALE_BOOK_S;
#   degraded:  the probe is slow or failed fewer than DOWN_AFTER_FAILURES times in a
#              row, or the newest book is older than STALE_BOOK_S;
#   down:      DOWN_AFTER_FAILURES probes in a row failed, or no book for DOWN_BOOK_S.
DEGRADED_LATENCY_MS = 1000.0
STALE_BOOK_S = 5.0
DOWN_BOOK_S = 30.0
DOWN_AFTER_FAILURES = 3
LATENCY_HISTORY = 60

# Tests only: SIGKILL the process at a named point of the order path ("after_intent":
# intent committed, nothing sent; "before_send": marked sent, request not yet made).
CRASH_ENV = "AITBC_TEST_CRASH_AT"
# Looking up an UNKNOWN order: waits before each lookup (the last repeats), and how many
# "no such order" answers in a row settle it as not placed (a request may still be in flight).
UNKNOWN_LOOKUP_DELAYS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
UNKNOWN_MISSES_TO_SETTLE = 3

HEALTH_RULE = (
    f"connected: probe answered under {DEGRADED_LATENCY_MS:.0f} ms and a book update within {STALE_BOOK_S:.0f} s; "
    f"degraded: slow or failed probe, or book older than {STALE_BOOK_S:.0f} s; "
    f"down: {DOWN_AFTER_FAILURES} failed probes in a row, or no book for {DOWN_BOOK_S:.0f} s"
)


@dataclass
class _VenueState:
    venue: Venue
    markets: dict[str, Market] = field(default_factory=dict)
    balances: dict[str, Balance] = field(default_factory=dict)
    open_orders: tuple[Order, ...] = ()
    closed_orders: tuple[Order, ...] = ()
    latency_ms: float | None = None
    latency_history: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_HISTORY))
    probe_failures: int = 0
    last_book_at: float | None = None  # monotonic
    last_error: str = ""
    started: bool = False


@dataclass(frozen=True, slots=True)
class CancelReport:
    cancelled: tuple[Order, ...]
    failed: tuple[tuple[Order, str], ...]  # order, reason


class MarketService:
    def __init__(
        self,
        venues: Sequence[Venue],
        *,
        book_depth: int = 50,
        health_interval_s: float = 1.0,
        account_interval_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        order_gate: Callable[[OrderRequest], None] | None = None,
        journal: Journal | None = None,
        risk: RiskConfig | None = None,
        read_only: bool = False,
        clock: Callable[[], float] = time.time,
        unknown_lookup_delays_s: Sequence[float] = UNKNOWN_LOOKUP_DELAYS_S,
        unknown_misses_to_settle: int = UNKNOWN_MISSES_TO_SETTLE,
    ) -> None:
        if not venues:
            raise ValueError("no venues to run")
        self._states: dict[str, _VenueState] = {v.name: _VenueState(v) for v in venues}
        self.book_depth = book_depth
        self.health_interval_s = health_interval_s
        self.account_interval_s = account_interval_s
        self._monotonic = monotonic
        self._order_gate = order_gate
        self._books: dict[tuple[str, str], BookSnapshot] = {}
        self._dirty_books: set[tuple[str, str]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.orders_version = 0  # bumps whenever orders or balances change
        self.health_version = 0
        self._listeners: list[Callable[[str], None]] = []
        self.journal = journal
        self._risk = RiskGate(risk)
        self.read_only = read_only
        self._clock = clock
        self.unknown_lookup_delays_s = tuple(unknown_lookup_delays_s) or (1.0,)
        self.unknown_misses_to_settle = max(1, unknown_misses_to_settle)
        self._order_lock = asyncio.Lock()
        self._reconciled = asyncio.Event()
        self._unknown: dict[str, Order] = {}  # client order id -> placeholder, while looked up
        self._tracked: dict[str, tuple[OrderStatus, Decimal]] = {}  # journal-open orders, last seen
        self.notices: list[str] = []
        self.reconcile_report: list[str] = []  # what start() settled from the last session

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, *, stream: bool = True) -> None:
        """Start every venue, load markets, and (with ``stream``) start the feeds.

        A venue that fails to start is reported in its health row; the others run.
        """
        await asyncio.gather(*(self._start_venue(s, stream) for s in self._states.values()))
        await self._reconcile_journal()
        if stream:
            for state in self._states.values():
                if state.started:
                    self._spawn(self._poll_account(state), f"account:{state.venue.name}")

    async def _reconcile_journal(self) -> None:
        """Settle every order the journal does not know the outcome of, by looking it up
        at its venue by client order id, before any new order is accepted."""
        try:
            if self.journal is None:
                return
            settled: list[str] = []
            for state in self._states.values():
                venue = state.venue
                mode = getattr(venue.mode, "value", str(venue.mode))
                pending = [o for o in self.journal.unresolved(venue.name) if o.mode == mode]
                for entry in pending:
                    if not state.started:
                        self._hold_unknown(state, entry, f"{venue.name} did not start")
                        continue
                    try:
                        found = await venue.fetch_order_by_client_id(entry.client_order_id, entry.symbol)
                    except Exception as exc:  # noqa: BLE001 - keep it UNKNOWN and keep looking
                        self._hold_unknown(state, entry, _describe(exc))
                        settled.append(f"{venue.name} {entry.client_order_id}: lookup failed, still UNKNOWN")
                        continue
                    if entry.state is JournalState.OPEN and found is not None and (
                        found.status, found.filled) == (OrderStatus.OPEN, entry.filled):  # fmt: skip
                        self._tracked[entry.client_order_id] = (found.status, found.filled)
                        continue  # still resting as journaled: nothing to report
                    self.journal.reconcile(entry.client_order_id, found, "reconciled at start")
                    if found is not None and not found.status.is_final:
                        self._tracked[entry.client_order_id] = (found.status, found.filled)
                    outcome = "not placed" if found is None else found.status.value
                    settled.append(
                        f"{venue.name} {entry.side} {entry.amount} {entry.symbol} "
                        f"({entry.client_order_id}, was {entry.state.value}) → {outcome}"
                    )
            self.reconcile_report = settled
            if settled:
                self._emit(f"journal reconciled {len(settled)} order(s) from the last session: " + "; ".join(settled))
        finally:
            self._reconciled.set()

    def _hold_unknown(self, state: _VenueState, entry, reason: str) -> None:
        now = self._clock()
        self._unknown[entry.client_order_id] = Order(
            venue=entry.venue, id=entry.venue_order_id or "", client_order_id=entry.client_order_id,
            symbol=entry.symbol, side=Side(entry.side), type=OrderType(entry.type), price=entry.price,
            amount=entry.amount, filled=entry.filled, status=OrderStatus.UNKNOWN,
            created_at=entry.created_at, updated_at=now, message=reason,
        )
        self.orders_version += 1
        if state.started:
            self._spawn(self._resolve_unknown(state, entry.client_order_id, entry.symbol),
                        f"lookup:{entry.client_order_id}")  # fmt: skip

    async def _start_venue(self, state: _VenueState, stream: bool = True) -> None:
        try:
            await state.venue.start()
            state.markets = dict(await state.venue.load_markets())
            state.started = True
            if stream:
                # Books and the health probe start as soon as the markets are known: the
                # first frame should not wait for the account round trips below.
                for symbol in state.markets:
                    self._spawn(self._watch_book(state, symbol), f"book:{state.venue.name}:{symbol}")
                self._spawn(self._probe_health(state), f"health:{state.venue.name}")
            await self._refresh_account(state)
        except Exception as exc:  # noqa: BLE001 - shown to the operator
            state.last_error = _describe(exc)
            state.probe_failures = DOWN_AFTER_FAILURES
            log.warning("venue %s failed to start: %s", state.venue.name, state.last_error)

    def _spawn(self, coro, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for state in self._states.values():
            with contextlib.suppress(Exception):
                await state.venue.close()

    # ---- read side (snapshots, immutable) --------------------------------------------

    @property
    def venue_names(self) -> list[str]:
        return list(self._states)

    def venue(self, name: str) -> Venue:
        return self._states[name].venue

    def markets(self, venue: str) -> Mapping[str, Market]:
        return self._states[venue].markets

    def market(self, venue: str, symbol: str) -> Market | None:
        return self._states[venue].markets.get(symbol)

    def all_symbols(self) -> list[str]:
        symbols: set[str] = set()
        for state in self._states.values():
            symbols.update(state.markets)
        return sorted(symbols)

    def venues_for(self, symbol: str) -> list[str]:
        return [name for name, s in self._states.items() if symbol in s.markets]

    def book(self, venue: str, symbol: str) -> BookSnapshot | None:
        return self._books.get((venue, symbol))

    def books(self) -> Mapping[tuple[str, str], BookSnapshot]:
        return self._books

    def drain_dirty_books(self) -> set[tuple[str, str]]:
        """Keys of books updated since the last call (the UI coalesces on this)."""
        dirty, self._dirty_books = self._dirty_books, set()
        return dirty

    def balances(self, venue: str) -> Mapping[str, Balance]:
        return self._states[venue].balances

    def open_orders(self) -> list[Order]:
        """Open orders of every venue, plus UNKNOWN orders (reply lost) while they are looked up."""
        orders = [o for s in self._states.values() for o in s.open_orders]
        seen = {o.client_order_id for o in orders if o.client_order_id}
        orders.extend(o for coid, o in self._unknown.items() if coid not in seen)
        orders.sort(key=lambda o: o.created_at, reverse=True)
        return orders

    def closed_orders(self) -> list[Order]:
        orders = [o for s in self._states.values() for o in s.closed_orders]
        orders.sort(key=lambda o: o.updated_at, reverse=True)
        return orders

    def health(self) -> list[VenueHealth]:
        now = self._monotonic()
        return [self._health_of(s, now) for s in self._states.values()]

    def taker_fees(self) -> dict[tuple[str, str], object]:
        return {
            (name, symbol): market.taker_fee
            for name, state in self._states.items()
            for symbol, market in state.markets.items()
        }

    def _health_of(self, state: _VenueState, now: float) -> VenueHealth:
        book_age = None if state.last_book_at is None else max(0.0, now - state.last_book_at)
        if not state.started or state.probe_failures >= DOWN_AFTER_FAILURES or (
            book_age is not None and book_age > DOWN_BOOK_S
        ):
            status = HealthStatus.DOWN
        elif (
            state.probe_failures > 0
            or state.latency_ms is None
            or state.latency_ms > DEGRADED_LATENCY_MS
            or book_age is None
            or book_age > STALE_BOOK_S
        ):
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.CONNECTED
        return VenueHealth(
            venue=state.venue.name,
            status=status,
            latency_ms=state.latency_ms,
            book_age_s=book_age,
            last_error=state.last_error,
            latency_history_ms=tuple(state.latency_history),
            probe=getattr(state.venue, "probe", ""),
        )

    # ---- background work --------------------------------------------------------------

    async def _watch_book(self, state: _VenueState, symbol: str) -> None:
        backoff = 0.5
        key = (state.venue.name, symbol)
        while True:
            try:
                snapshot = await state.venue.watch_order_book(symbol, self.book_depth)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - feed errors are shown, then retried
                state.last_error = f"{symbol} book: {_describe(exc)}"
                self.health_version += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            self._books[key] = snapshot
            self._dirty_books.add(key)
            state.last_book_at = self._monotonic()

    async def _probe_health(self, state: _VenueState) -> None:
        while True:
            await self.probe_once(state.venue.name)
            await asyncio.sleep(self.health_interval_s)

    async def probe_once(self, venue: str) -> None:
        state = self._states[venue]
        try:
            latency = await state.venue.ping()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            state.probe_failures += 1
            state.last_error = f"probe: {_describe(exc)}"
        else:
            state.probe_failures = 0
            state.latency_ms = latency
            state.latency_history.append(latency)
        self.health_version += 1

    async def _poll_account(self, state: _VenueState) -> None:
        while True:
            # A venue may ask to be polled less often (its private rate limit).
            await asyncio.sleep(max(self.account_interval_s, getattr(state.venue, "account_interval_s", 0.0)))
            try:
                await self._refresh_account(state)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                state.last_error = f"account: {_describe(exc)}"
                self.health_version += 1

    async def _refresh_account(self, state: _VenueState) -> None:
        venue = state.venue
        # Three requests in flight at once: one round trip instead of three.
        balances_, open_, closed_ = await asyncio.gather(
            venue.fetch_balances(), venue.fetch_open_orders(), venue.fetch_closed_orders(100)
        )
        balances, open_orders, closed = dict(balances_), tuple(open_), tuple(closed_)
        if (balances, open_orders, closed) != (state.balances, state.open_orders, state.closed_orders):
            state.balances, state.open_orders, state.closed_orders = balances, open_orders, closed
            self.orders_version += 1
            self._sync_journal(open_orders + closed)
        for order in open_orders + closed:
            if order.client_order_id in self._unknown and order.status is not OrderStatus.UNKNOWN:
                self._settle(state, order.client_order_id, order, "seen in the venue's order list")

    async def refresh_account(self, venue: str) -> None:
        await self._refresh_account(self._states[venue])

    # ---- actions ----------------------------------------------------------------------

    def is_read_only(self, venue: str) -> bool:
        """True when order actions are disabled for ``venue`` (``--read-only``, the venue's
        ``read_only`` config, or read-only keys)."""
        return self.read_only or _venue_read_only(self._states[venue].venue)

    @property
    def accepting_orders(self) -> bool:
        """False until the journal's unresolved orders were reconciled with their venues."""
        return self._reconciled.is_set()

    def unknown_orders(self, venue: str | None = None) -> list[Order]:
        return [o for o in self._unknown.values() if venue is None or o.venue == venue]

    def _check_may_place(self, request: OrderRequest) -> None:
        if self.read_only:
            raise OrderRejected(f"{request.venue}: read-only session (--read-only): order actions are disabled")
        if _venue_read_only(self._states[request.venue].venue):
            raise OrderRejected(
                f"{request.venue}: venue is read-only (venues.{request.venue}.read_only or read-only keys)"
            )
        if not self._reconciled.is_set():
            raise OrderRejected(
                f"{request.venue}: orders from the last session are still being reconciled with the venues; "
                "no new order is accepted until that finishes"
            )
        unknown = self.unknown_orders(request.venue)
        if unknown:
            ids = ", ".join(o.client_order_id for o in unknown[:3])
            raise OrderRejected(
                f"{request.venue}: {len(unknown)} order(s) UNKNOWN ({ids}): the reply was lost and the "
                "order is being looked up by client order id; resend only after it is resolved"
            )

    def _open_order_count(self) -> int:
        open_orders = [o for s in self._states.values() for o in s.open_orders]
        coids = {o.client_order_id for o in open_orders if o.client_order_id}
        count = len(open_orders) + sum(1 for coid in self._unknown if coid not in coids)
        if self.journal is not None:
            in_flight = self.journal.orders(
                states=(JournalState.INTENT, JournalState.SENT, JournalState.UNKNOWN)
            )
            count += sum(1 for o in in_flight if o.client_order_id not in coids and o.client_order_id not in self._unknown)
        return count

    def _traded_today(self) -> Decimal:
        if self.journal is None:
            return ZERO
        since = utc_day_start(self._clock())
        orders = self.journal.orders(since=since)
        fill_prices: dict[str, Decimal] = {}
        for event in self.journal.events(since=since):
            if event.price is not None and event.kind in (EventKind.ACK, EventKind.FILL, EventKind.RECONCILED):
                fill_prices[event.client_order_id] = event.price

        def price_of(order) -> Decimal | None:
            found = fill_prices.get(order.client_order_id)
            if found is not None:
                return found
            book = self._books.get((order.venue, order.symbol))
            return book.mid if book is not None else None

        return traded_value(orders, price_of)

    def _check_risk(self, request: OrderRequest) -> None:
        if not self._risk.enabled:
            return
        market = self.market(request.venue, request.symbol)
        book = self._books.get((request.venue, request.symbol))
        reference = None
        if book is not None:
            reference = book.best_ask if request.side is Side.BUY else book.best_bid
        self._risk.check(
            request,
            quote=market.quote if market else "",
            reference_price=reference,
            open_orders=self._open_order_count(),
            traded_today=self._traded_today(),
        )

    async def place_order(self, request: OrderRequest) -> Order:
        """Place an order. Raises ``VenueError`` (readable) on rejection or failure.

        With a journal: the intent is committed before anything is sent, and a create is
        never retried. A timeout or network error after sending leaves the order UNKNOWN:
        it is looked up by client order id in the background, and no new order is
        accepted on that venue until it is resolved.
        """
        state = self._states[request.venue]
        venue = state.venue
        self._check_may_place(request)
        async with self._order_lock:
            # Gate and intent under one lock: two orders cannot both pass a limit that only one fits.
            self._check_may_place(request)
            if self._order_gate is not None:
                self._order_gate(request)  # raises OrderRejected with the limit named
            self._check_risk(request)
            coid = ""
            if self.journal is not None:
                exchange_id = exchange_id_of(venue)
                coid = request.client_order_id or new_client_order_id(exchange_id)
                request = replace(request, client_order_id=coid)
                self.journal.record_intent(request, venue.mode, exchange_id)
                crash_point("after_intent")
                self.journal.mark_sent(coid)
                crash_point("before_send")
        try:
            try:
                order = await venue.place_order(request)
            except (OrderRejected, FeatureUnavailable, OrderNotFound) as exc:
                if coid:
                    self.journal.mark_rejected(coid, _describe(exc))
                raise
            except VenueUnavailable as exc:
                raise self._went_unknown(state, request, exc) from exc
            except asyncio.CancelledError:
                if coid:  # cancelled mid-send (shutdown): the outcome is unknown
                    self.journal.mark_unknown(coid, "cancelled while waiting for the venue's reply")
                raise
            except VenueError as exc:
                # A definite answer from the venue (authentication, exchange error): not placed.
                if coid:
                    self.journal.mark_rejected(coid, _describe(exc))
                raise
            except Exception as exc:  # noqa: BLE001 - timeouts and bugs after sending: ambiguous
                raise self._went_unknown(state, request, exc) from exc
            if coid:
                self._journal_ack(coid, order)
        finally:
            with contextlib.suppress(Exception):
                await self._refresh_account(state)
        return order

    def _journal_ack(self, coid: str, order: Order) -> None:
        journal = self.journal
        journal.mark_ack(coid, order)
        if order.filled:
            journal.record_fill(
                coid,
                Fill(
                    venue=order.venue, order_id=order.id, symbol=order.symbol, side=order.side,
                    price=order.average_price or order.price or ZERO, amount=order.filled, fee=order.fee,
                    fee_currency=order.fee_currency, timestamp=order.updated_at, is_maker=False,
                ),
            )
        if not order.status.is_final:
            self._tracked[coid] = (order.status, order.filled)

    def _went_unknown(self, state: _VenueState, request: OrderRequest, exc: BaseException) -> VenueError:
        reason = _describe(exc)
        coid = request.client_order_id
        if not coid:  # no journal: nothing to look up by
            return VenueUnavailable(f"{request.venue}: {reason}; the order may or may not have been placed")
        self.journal.mark_unknown(coid, reason)
        now = self._clock()
        self._unknown[coid] = Order(
            venue=request.venue, id="", client_order_id=coid, symbol=request.symbol, side=request.side,
            type=request.type, price=request.price, amount=request.amount, filled=ZERO,
            status=OrderStatus.UNKNOWN, created_at=now, updated_at=now, message=reason,
        )
        self.orders_version += 1
        self._spawn(self._resolve_unknown(state, coid, request.symbol), f"lookup:{coid}")
        return VenueUnavailable(
            f"{request.venue}: {reason}: the order is UNKNOWN (it may have been placed); it is being "
            f"looked up by client order id {coid}; do not resend until it is resolved"
        )

    async def _resolve_unknown(self, state: _VenueState, coid: str, symbol: str) -> None:
        """Look an UNKNOWN order up until the venue says what became of it. Lookups are
        safe to repeat; a create is not, so the order is never sent again from here."""
        misses = 0
        attempt = 0
        delays = self.unknown_lookup_delays_s
        while coid in self._unknown:
            await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
            attempt += 1
            try:
                found = await state.venue.fetch_order_by_client_id(coid, symbol)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep looking; the order stays UNKNOWN
                state.last_error = f"looking up {coid}: {_describe(exc)}"
                continue
            if found is None:
                # A request can still be in flight at the venue: only repeated misses settle it.
                misses += 1
                if misses < self.unknown_misses_to_settle:
                    continue
            self._settle(state, coid, found, "looked up after an ambiguous send")

    def _settle(self, state: _VenueState, coid: str, found: Order | None, why: str) -> None:
        self.journal.reconcile(coid, found, why)
        self._unknown.pop(coid, None)
        if found is not None and not found.status.is_final:
            self._tracked[coid] = (found.status, found.filled)
        outcome = "not placed" if found is None else found.status.value
        self._emit(f"{state.venue.name}: order {coid} was UNKNOWN; the venue says: {outcome}")
        self.orders_version += 1

    def _sync_journal(self, orders: Iterable[Order]) -> None:
        """Journal what the account poll shows about orders the journal still has open."""
        if self.journal is None or not self._tracked:
            return
        for order in orders:
            known = self._tracked.get(order.client_order_id)
            if known is None or known == (order.status, order.filled):
                continue
            if order.status is OrderStatus.UNKNOWN:
                continue
            with contextlib.suppress(Exception):
                self.journal.reconcile(order.client_order_id, order, "account update")
                if order.status.is_final:
                    self._tracked.pop(order.client_order_id, None)
                else:
                    self._tracked[order.client_order_id] = (order.status, order.filled)

    async def cancel_order(self, order: Order) -> Order:
        if self.is_read_only(order.venue):
            raise OrderRejected(f"{order.venue}: read-only: order actions are disabled")
        if order.status is OrderStatus.UNKNOWN:
            raise OrderRejected(f"{order.venue}: order {order.client_order_id} is UNKNOWN; it is being looked up")
        state = self._states[order.venue]
        try:
            result = await state.venue.cancel_order(order.id, order.symbol)
            self._sync_journal([result])
            return result
        finally:
            with contextlib.suppress(Exception):
                await self._refresh_account(state)

    async def cancel_all(self) -> CancelReport:
        """Kill switch: cancel every open order on every venue; report what failed."""
        cancelled: list[Order] = []
        failed: list[tuple[Order, str]] = []
        for state in self._states.values():
            with contextlib.suppress(Exception):
                await self._refresh_account(state)
        targets = [o for s in self._states.values() for o in s.open_orders]
        failed.extend((o, "UNKNOWN: being looked up, cancel it when resolved") for o in self._unknown.values())

        async def one(order: Order) -> None:
            if self.is_read_only(order.venue):
                failed.append((order, "read-only: order actions are disabled"))
                return
            try:
                result = await self._states[order.venue].venue.cancel_order(order.id, order.symbol)
                cancelled.append(result)
                self._sync_journal([result])
            except Exception as exc:  # noqa: BLE001
                failed.append((order, _describe(exc)))

        await asyncio.gather(*(one(o) for o in targets))
        for state in self._states.values():
            with contextlib.suppress(Exception):
                await self._refresh_account(state)
        return CancelReport(tuple(cancelled), tuple(failed))

    # ---- notices for the operator -------------------------------------------------------

    def add_listener(self, callback: Callable[[str], None]) -> None:
        """``callback(message)`` for things the operator should see (reconciliation)."""
        self._listeners.append(callback)

    def _emit(self, message: str) -> None:
        log.info("%s", message)
        self.notices.append(message)
        for callback in list(self._listeners):
            with contextlib.suppress(Exception):
                callback(message)


def exchange_id_of(venue: Venue) -> str:
    """The venue's ccxt exchange id (client order id format), or "sim" for the sandbox."""
    found = getattr(venue, "exchange_id", None) or getattr(getattr(venue, "inner", None), "exchange_id", None)
    return str(found) if found else "sim"


def _venue_read_only(venue: Venue) -> bool:
    inner = getattr(venue, "inner", None)
    return bool(getattr(venue, "read_only", False) or getattr(inner, "read_only", False))


def crash_point(name: str) -> None:
    """Tests only: SIGKILL this process at ``name`` when AITBC_TEST_CRASH_AT names it."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _describe(exc: BaseException) -> str:
    """One readable line for the operator, never a traceback."""
    if isinstance(exc, VenueError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    if isinstance(exc, (ConnectionError, OSError)):
        return f"connection failed: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def describe_error(exc: BaseException) -> str:
    return _describe(exc)


__all__ = [
    "CancelReport",
    "HEALTH_RULE",
    "MarketService",
    "describe_error",
]
