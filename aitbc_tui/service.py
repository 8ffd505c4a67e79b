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
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from aitbc_tui.domain import (
    Balance,
    BookSnapshot,
    HealthStatus,
    Market,
    Order,
    OrderRequest,
    OrderStatus,
    VenueError,
    VenueHealth,
    VenueUnavailable,
)
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
        self._ready = asyncio.Event()
        self._listeners: list[Callable[[str], None]] = []

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, *, stream: bool = True) -> None:
        """Start every venue, load markets, and (with ``stream``) start the feeds.

        A venue that fails to start is reported in its health row; the others run.
        """
        await asyncio.gather(*(self._start_venue(s) for s in self._states.values()))
        if stream:
            for state in self._states.values():
                if not state.started:
                    continue
                for symbol in state.markets:
                    self._spawn(self._watch_book(state, symbol), f"book:{state.venue.name}:{symbol}")
                self._spawn(self._probe_health(state), f"health:{state.venue.name}")
                self._spawn(self._poll_account(state), f"account:{state.venue.name}")
        self._ready.set()

    async def _start_venue(self, state: _VenueState) -> None:
        try:
            await state.venue.start()
            state.markets = dict(await state.venue.load_markets())
            state.started = True
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
        orders = [o for s in self._states.values() for o in s.open_orders]
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
            await asyncio.sleep(self.account_interval_s)
            try:
                await self._refresh_account(state)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                state.last_error = f"account: {_describe(exc)}"
                self.health_version += 1

    async def _refresh_account(self, state: _VenueState) -> None:
        venue = state.venue
        balances = dict(await venue.fetch_balances())
        open_orders = tuple(await venue.fetch_open_orders())
        closed = tuple(await venue.fetch_closed_orders(100))
        if (balances, open_orders, closed) != (state.balances, state.open_orders, state.closed_orders):
            state.balances, state.open_orders, state.closed_orders = balances, open_orders, closed
            self.orders_version += 1

    async def refresh_account(self, venue: str) -> None:
        await self._refresh_account(self._states[venue])

    # ---- actions ----------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        """Place an order. Raises ``VenueError`` (readable) on rejection or failure."""
        state = self._states[request.venue]
        if self._order_gate is not None:
            self._order_gate(request)  # raises OrderRejected with the limit named
        try:
            order = await state.venue.place_order(request)
        finally:
            with contextlib.suppress(Exception):
                await self._refresh_account(state)
        return order

    async def cancel_order(self, order: Order) -> Order:
        state = self._states[order.venue]
        try:
            return await state.venue.cancel_order(order.id, order.symbol)
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

        async def one(order: Order) -> None:
            try:
                cancelled.append(await self._states[order.venue].venue.cancel_order(order.id, order.symbol))
            except Exception as exc:  # noqa: BLE001
                failed.append((order, _describe(exc)))

        await asyncio.gather(*(one(o) for o in targets))
        for state in self._states.values():
            with contextlib.suppress(Exception):
                await self._refresh_account(state)
        return CancelReport(tuple(cancelled), tuple(failed))


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
    "VenueUnavailable",
    "OrderStatus",
]
