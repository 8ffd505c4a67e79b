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
import functools
import logging
import os
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from aitbc_tui.config import RiskConfig
from aitbc_tui.domain import (
    ZERO,
    Balance,
    BookSnapshot,
    FeatureUnavailable,
    HealthStatus,
    Market,
    Order,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    Side,
    VenueError,
    VenueHealth,
    VenueUnavailable,
)
from aitbc_tui.journal import EventKind, Journal, JournalError, JournalState, new_client_order_id
from aitbc_tui.orders import (
    ABSENT_MARKER,
    OrderEvent,
    OrderTracker,
    TrackedOrder,
    TrackState,
    journal_failure_text,
    request_of,
    validity_window_s,
)
from aitbc_tui.risk import RiskGate, traded_value, utc_day_start
from aitbc_tui.sanitize import BadData, check_book
from aitbc_tui.venues.base import Venue

if TYPE_CHECKING:
    from aitbc_tui.market_feed import MarketFeed

log = logging.getLogger(__name__)

# Health rule, stated in the help screen:
#   connected: the last probe answered within DEGRADED_LATENCY_MS and a book update
#              arrived within the venue's stale-after time;
#   degraded:  the probe is slow or failed fewer than DOWN_AFTER_FAILURES times in a
#              row, or the newest book is older than the stale-after time;
#   down:      DOWN_AFTER_FAILURES probes in a row failed, or no book for DOWN_BOOK_S.
# Stale-after follows the venue's own cadence: twice its usual interval between book
# updates (the median of the last BOOK_INTERVALS), never under STALE_BOOK_S (the floor)
# nor over STALE_BOOK_MAX_S. A websocket venue updates many times a second (5 s); kraken
# polled over REST under its throttle brings a book every ~4 s (8 s), which a fixed 5 s
# rule called degraded on a healthy venue.
DEGRADED_LATENCY_MS = 1000.0
STALE_BOOK_S = 5.0
STALE_BOOK_MAX_S = 20.0
BOOK_INTERVALS = 30
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
# A venue that fails to start is tried again after these waits (the last repeats), forever.
START_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)
# At start, orders settled "not placed" only because the venue did not show them within
# this long are looked up again.
RECHECK_UNCERTAIN_S = 24 * 3600

HEALTH_RULE = (
    f"connected: probe answered under {DEGRADED_LATENCY_MS:.0f} ms and a book update within the venue's stale-after time; "
    f"degraded: slow or failed probe, or book older than stale-after; "
    f"down: {DOWN_AFTER_FAILURES} failed probes in a row, or no book for {DOWN_BOOK_S:.0f} s; "
    f"stale-after: twice the venue's usual interval between book updates (median of the last {BOOK_INTERVALS}), "
    f"at least {STALE_BOOK_S:.0f} s, at most {STALE_BOOK_MAX_S:.0f} s"
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
    error_text: str = ""
    error_at: float = 0.0  # monotonic time of the last error
    started: bool = False
    refreshing: bool = False
    refresh_again: bool = False
    account_failures: int = 0  # account calls failed in a row
    book_intervals: deque[float] = field(default_factory=lambda: deque(maxlen=BOOK_INTERVALS))
    answering: asyncio.Event = field(default_factory=asyncio.Event)  # set when probes succeed again

    @property
    def last_error(self) -> str:
        return self.error_text

    @last_error.setter
    def last_error(self, text: str) -> None:
        self.error_text = text
        self.error_at = time.monotonic() if text else 0.0

    @property
    def stale_after_s(self) -> float:
        """Twice the venue's usual interval between book updates, within the stated bounds."""
        if len(self.book_intervals) < 3:
            return STALE_BOOK_S
        ordered = sorted(self.book_intervals)
        return min(STALE_BOOK_MAX_S, max(STALE_BOOK_S, 2 * ordered[len(ordered) // 2]))


STOP_GRACE_S = 2.0  # per step of stop(): tasks to end, venues to close
ERROR_SHOWN_S = 30.0  # an error older than this is not shown beside "connected"


@dataclass(frozen=True, slots=True)
class CancelReport:
    cancelled: tuple[Order, ...]
    failed: tuple[tuple[Order, str], ...]  # order, reason
    # Found filled at the venue (before the cancel got there, or while still being sent):
    # nothing of them was left to cancel.
    ended: tuple[Order, ...] = ()


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
        self._stopped = False
        self.orders_version = 0  # bumps whenever orders or balances change
        self.health_version = 0
        self._listeners: list[Callable[[str], None]] = []
        self._journal = journal
        self._risk = RiskGate(risk)
        self.read_only = read_only
        self._clock = clock
        self.unknown_lookup_delays_s = tuple(unknown_lookup_delays_s) or (1.0,)
        self.unknown_misses_to_settle = max(1, unknown_misses_to_settle)
        self._reconciled = asyncio.Event()
        self._event_listeners: list[Callable[[OrderEvent], None]] = []
        self.tracker = OrderTracker(journal, clock=clock, emit=self._on_order_event)
        self.task_failures: dict[str, int] = {}
        self.bad_data = 0  # books refused where they entered
        self._adopt_checked: set[str] = set()  # client ids of foreign-looking orders already checked
        self.notices: list[str] = []
        self.reconcile_report: list[str] = []  # what start() settled from the last session

    @property
    def journal(self) -> Journal | None:
        return self._journal

    @journal.setter
    def journal(self, journal: Journal | None) -> None:
        self._journal = journal
        self.tracker.journal = journal

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, *, stream: bool = True) -> None:
        """Start every venue, load markets, and (with ``stream``) start the feeds.

        A venue that fails to start is reported in its health row; the others run.
        """
        self._stopped = False
        await asyncio.gather(*(self._start_venue(s, stream) for s in self._states.values()))
        await self._reconcile_journal()
        if stream:
            for state in self._states.values():
                if state.started:
                    self._spawn(functools.partial(self._poll_account, state), f"account:{state.venue.name}")

    async def _reconcile_journal(self) -> None:
        """Settle every order the journal does not know the outcome of, by looking it up
        at its venue by client order id, before any new order is accepted. Orders that an
        earlier session settled as not placed only because the venue did not show them are
        looked up again: a late create would otherwise be an order nobody knows about."""
        try:
            if self.journal is None:
                return
            settled: list[str] = []
            recheck_since = self._clock() - RECHECK_UNCERTAIN_S
            for state in self._states.values():
                venue = state.venue
                mode = getattr(venue.mode, "value", str(venue.mode))
                pending = [o for o in self.journal.unresolved(venue.name) if o.mode == mode]
                uncertain = [
                    o
                    for o in self.journal.orders(
                        venue=venue.name, since=recheck_since, states=(JournalState.NOT_PLACED,)
                    )
                    if o.mode == mode and ABSENT_MARKER in (o.message or "")
                ]
                for entry in pending + uncertain:
                    restored = self.tracker.restore(
                        request_of(entry),
                        entry.mode,
                        exchange_id_of(venue),
                        TrackState.UNKNOWN if entry.state is not JournalState.OPEN else TrackState.OPEN,
                        filled=entry.filled,
                        created_at=entry.created_at,
                        venue_order_id=entry.venue_order_id,
                        message=entry.message,
                    )
                    final_before = entry.state is JournalState.NOT_PLACED
                    if not state.started:
                        if not final_before:
                            restored.state = TrackState.UNKNOWN
                            restored.message = f"{venue.name} did not start"
                            self._spawn_lookup(state, restored)
                        else:
                            self.tracker.forget(restored)
                        continue
                    try:
                        found = await venue.fetch_order_by_client_id(entry.client_order_id, entry.symbol)
                    except Exception as exc:  # noqa: BLE001 - keep it UNKNOWN and keep looking
                        if final_before:
                            self.tracker.forget(restored)
                            continue
                        restored.state = TrackState.UNKNOWN
                        restored.message = _describe(exc)
                        self._spawn_lookup(state, restored)
                        settled.append(f"{venue.name} {entry.client_order_id}: lookup failed, still UNKNOWN")
                        continue
                    if final_before:
                        self.tracker.forget(restored)
                        if found is not None:
                            self.journal.reconcile(entry.client_order_id, found, "reconciled at start: found after all")
                            if not found.status.is_final:
                                self.tracker.restore(request_of(entry), entry.mode, exchange_id_of(venue),
                                                     _state_of(found), filled=found.filled, created_at=entry.created_at,
                                                     venue_order_id=found.id)  # fmt: skip
                            settled.append(f"{venue.name} {entry.side} {entry.amount} {entry.symbol} "
                                           f"({entry.client_order_id}, was not placed) → {found.status.value}")  # fmt: skip
                        continue
                    if entry.state is JournalState.OPEN and found is not None and (
                        found.status, found.filled) == (OrderStatus.OPEN, entry.filled):  # fmt: skip
                        restored.order = found
                        continue  # still resting as journaled: nothing to report
                    never_sent = entry.state is JournalState.INTENT  # 'sent' is journalled before the send
                    if found is None and not never_sent and not self.tracker.may_settle_absent(restored):
                        restored.state = TrackState.UNKNOWN
                        self._spawn_lookup(state, restored)
                        settled.append(f"{venue.name} {entry.client_order_id}: not found yet, still UNKNOWN")
                        continue
                    self.journal.reconcile(
                        entry.client_order_id,
                        found,
                        "reconciled at start"
                        if found is not None
                        else "reconciled at start: never sent"
                        if never_sent
                        else f"reconciled at start: {ABSENT_MARKER}",
                    )
                    self.tracker.forget(restored)
                    if found is not None and not found.status.is_final:
                        self.tracker.restore(request_of(entry), entry.mode, exchange_id_of(venue), _state_of(found),
                                             filled=found.filled, created_at=entry.created_at, venue_order_id=found.id)  # fmt: skip
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
            self.orders_version += 1

    async def _start_venue(self, state: _VenueState, stream: bool = True) -> None:
        try:
            await self._start_once(state, stream)
        except Exception as exc:  # noqa: BLE001 - shown to the operator, retried in the background
            state.last_error = f"start: {_describe(exc)}"
            state.probe_failures = DOWN_AFTER_FAILURES
            log.warning("venue %s failed to start: %s", state.venue.name, state.last_error)
            if stream:
                self._spawn(lambda: self._retry_start(state), f"start:{state.venue.name}")

    async def _start_once(self, state: _VenueState, stream: bool) -> None:
        await state.venue.start()
        state.markets = dict(await state.venue.load_markets())
        state.started = True
        state.probe_failures = 0
        if stream:
            # Books and the health probe start as soon as the markets are known: the
            # first frame should not wait for the account round trips below.
            for symbol in state.markets:
                self._spawn(functools.partial(self._watch_book, state, symbol), f"book:{state.venue.name}:{symbol}")
            self._spawn(lambda: self._probe_health(state), f"health:{state.venue.name}")
            self._spawn(lambda: self._watch_pushes(state), f"push:{state.venue.name}")
        try:
            await self._refresh_account(state)
        except Exception as exc:  # noqa: BLE001 - the venue runs; its account is retried by the poller
            state.last_error = f"account: {_describe(exc)}"

    async def _retry_start(self, state: _VenueState) -> None:
        """A venue that was down at start-up is retried with backoff, forever, visibly."""
        backoff = START_RETRY_S[0]
        attempt = 0
        while not state.started:
            state.last_error = f"{state.last_error.split(' · retry')[0]} · retry in {backoff:g} s"
            self.health_version += 1
            await asyncio.sleep(backoff)
            attempt += 1
            backoff = START_RETRY_S[min(attempt, len(START_RETRY_S) - 1)]
            try:
                await self._start_once(state, True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                state.last_error = f"start: {_describe(exc)}"
                state.started = False
                continue
            state.last_error = ""
            self._spawn(lambda: self._poll_account(state), f"account:{state.venue.name}")
            self.orders_version += 1
            self.health_version += 1
            self._emit(f"{state.venue.name}: connected after {attempt} retr{'y' if attempt == 1 else 'ies'}")

    def _spawn(self, factory: Callable[[], Awaitable[None]], name: str) -> None:
        """Every background task is supervised: one that dies is logged, shown in its
        venue's health row and started again with backoff, never silently gone."""
        if self._stopped:
            return
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(self._supervise(factory, name), name=name))

    async def _supervise(self, factory: Callable[[], Awaitable[None]], name: str) -> None:
        backoff = 0.5
        while True:
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - supervised: shown, then restarted
                parts = name.split(":")
                reason = f"{parts[0]} task failed: {_describe(exc)}; restarted in {backoff:g} s"
                log.warning("%s: %s", name, reason, exc_info=True)
                self.task_failures[name] = self.task_failures.get(name, 0) + 1
                state = self._states.get(parts[1]) if len(parts) > 1 else None
                if state is not None:
                    state.last_error = reason
                    self.health_version += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def stop(self) -> None:
        """Cancel every task and close every venue, in bounded time: quitting must never
        hang on a task that does not end or a venue that does not answer its close."""
        self._stopped = True  # a start still in flight spawns nothing more
        tasks = [t for t in self._tasks if not t.done()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        pending = await self._settle(tasks, STOP_GRACE_S)
        # Closing the clients fails their pending futures, which frees a task stuck in one.
        await asyncio.gather(*(self._close_venue(s.venue) for s in self._states.values()))
        if pending:
            for task in pending:
                task.cancel()
            pending = await self._settle(pending, STOP_GRACE_S)
        if pending:
            log.warning("stop: left %d task(s) running: %s", len(pending), ", ".join(t.get_name() for t in pending))

    @staticmethod
    async def _settle(tasks: Collection[asyncio.Task], timeout: float) -> set[asyncio.Task]:
        if not tasks:
            return set()
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in done:  # retrieved, so asyncio does not log them as never retrieved
            if not task.cancelled():
                task.exception()
        return pending

    async def _close_venue(self, venue: Venue) -> None:
        try:
            async with asyncio.timeout(STOP_GRACE_S):
                await venue.close()
        except Exception:  # noqa: BLE001 - closing must not fail the shutdown
            log.warning("stop: %s did not close cleanly", venue.name, exc_info=True)

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
        """Open orders of every venue, plus orders being sent (pending) and UNKNOWN ones."""
        now = self._clock()
        tracked = {t.coid: t for t in self.tracker.tracked()}
        orders = []
        for s in self._states.values():
            for o in s.open_orders:
                if o.client_order_id and self.tracker.ended(o.venue, o.client_order_id):
                    continue  # filled or cancelled since the last poll
                orders.append(o)
        seen = {o.client_order_id for o in orders if o.client_order_id} | {(o.venue, o.id) for o in orders}
        for t in tracked.values():
            if t.coid in seen:
                continue
            view = t.view(now)
            if view.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN) or (
                view.status is OrderStatus.OPEN and (view.venue, view.id) not in seen and view.id
            ):
                orders.append(view)
        orders.sort(key=lambda o: o.created_at, reverse=True)
        return orders

    def closed_orders(self) -> list[Order]:
        """Filled and cancelled orders from the venues, plus orders refused (with the
        venue's message) or settled as not placed in this session."""
        orders = [o for s in self._states.values() for o in s.closed_orders]
        known = {(o.venue, o.client_order_id) for o in orders if o.client_order_id}
        now = self._clock()
        for t in self.tracker.finished:
            if (t.venue, t.coid) not in known:
                orders.append(t.view(now))
        orders.sort(key=lambda o: o.updated_at, reverse=True)
        return orders

    def health(self) -> list[VenueHealth]:
        now = self._monotonic()
        return [self._health_of(s, now) for s in self._states.values()]

    def taker_fees(self) -> dict[tuple[str, str], Decimal]:
        return {
            (name, symbol): market.taker_fee
            for name, state in self._states.items()
            for symbol, market in state.markets.items()
        }

    def _health_of(self, state: _VenueState, now: float) -> VenueHealth:
        book_age = None if state.last_book_at is None else max(0.0, now - state.last_book_at)
        limited = getattr(state.venue, "rate_limit_text", None)
        limited_text = limited() if callable(limited) else ""
        if (
            not state.started
            or state.probe_failures >= DOWN_AFTER_FAILURES
            or (book_age is not None and book_age > DOWN_BOOK_S)
            or limited_text.startswith("IP banned")
        ):
            status = HealthStatus.DOWN
        elif (
            state.probe_failures > 0
            or state.latency_ms is None
            or state.latency_ms > DEGRADED_LATENCY_MS
            or book_age is None
            or book_age > state.stale_after_s
            or state.account_failures > 0
            or limited_text
        ):
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.CONNECTED
        error = limited_text or state.last_error
        if state.account_failures > 1 and not limited_text:
            error = f"{error} ({state.account_failures} account calls failed in a row)"
        if status is HealthStatus.CONNECTED and error and time.monotonic() - state.error_at > ERROR_SHOWN_S:
            error = ""  # healthy again: an old error is history, not news
        return VenueHealth(
            venue=state.venue.name,
            status=status,
            # While probes fail, the last good latency is not shown as if it were current.
            latency_ms=state.latency_ms if state.probe_failures == 0 else None,
            book_age_s=book_age,
            stale_after_s=state.stale_after_s,
            last_error=error,
            latency_history_ms=tuple(state.latency_history),
            probe=getattr(state.venue, "probe", ""),
        )

    # ---- background work --------------------------------------------------------------

    async def _watch_book(self, state: _VenueState, symbol: str) -> None:
        backoff = 0.5
        key = (state.venue.name, symbol)
        while True:
            try:
                # Refused where it enters: a crossed, NaN or absurd book never reaches a pane.
                snapshot = check_book(await state.venue.watch_order_book(symbol, self.book_depth))
            except asyncio.CancelledError:
                raise
            except BadData as exc:
                state.last_error = f"{symbol}: {exc}"
                self.bad_data += 1
                self.health_version += 1
                if self._books.pop(key, None) is not None:
                    self._dirty_books.add(key)  # nothing downstream keeps the old book
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except Exception as exc:  # noqa: BLE001 - feed errors are shown, then retried
                state.last_error = f"{symbol} book: {_describe(exc)}"
                self.health_version += 1
                # A venue that answers its probe again is retried at once, not after the
                # rest of a 30 s backoff (an emulator restart took ~50 s to show books).
                backoff = 0.5 if await self._answering_again(state, backoff) else min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            self._books[key] = snapshot
            self._dirty_books.add(key)
            now = self._monotonic()
            if state.last_book_at is not None:
                state.book_intervals.append(now - state.last_book_at)
            state.last_book_at = now

    @staticmethod
    async def _answering_again(state: _VenueState, delay: float) -> bool:
        """Wait ``delay`` s, or less if the venue's probe succeeds again after failing;
        True when it was the probe."""
        state.answering.clear()
        try:
            async with asyncio.timeout(delay):
                await state.answering.wait()
        except TimeoutError:
            return False
        return True

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
            if state.probe_failures:
                state.answering.set()  # back after failing: book watchers in backoff retry now
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
        try:
            balances_, open_, closed_ = await asyncio.gather(
                venue.fetch_balances(), venue.fetch_open_orders(), venue.fetch_closed_orders(100)
            )
        except Exception:
            state.account_failures += 1
            self.health_version += 1
            raise
        if state.account_failures:
            state.account_failures = 0
            if state.last_error.startswith("account:"):
                state.last_error = ""
            self.health_version += 1
        balances, open_orders, closed = dict(balances_), tuple(open_), tuple(closed_)
        for order in open_orders + closed:
            self._observe_polled(order)
        if (balances, open_orders, closed) != (state.balances, state.open_orders, state.closed_orders):
            state.balances, state.open_orders, state.closed_orders = balances, open_orders, closed
            self.orders_version += 1

    def _observe_polled(self, order: Order) -> None:
        """An order from an account poll: ours if we track it; adopted if it carries a client
        id the journal settled otherwise (a late create, an order from a crashed session)."""
        if self.tracker.observe(order, source="account update") is not None:
            return
        coid = order.client_order_id
        if not coid or self.journal is None or coid in self._adopt_checked or not self._reconciled.is_set():
            return
        self._adopt_checked.add(coid)
        entry = self.journal.order(coid)
        if entry is None or entry.venue != order.venue:
            return
        if entry.state in (JournalState.NOT_PLACED, JournalState.REJECTED, JournalState.UNKNOWN,
                           JournalState.INTENT, JournalState.SENT) or (
            entry.state is JournalState.OPEN and order.status.is_final):  # fmt: skip
            if order.status.is_final and entry.state in (JournalState.FILLED, JournalState.CANCELED):
                return
            self.journal.reconcile(coid, order, f"adopted: seen in {order.venue}'s order list")
            if not order.status.is_final:
                self.tracker.restore(request_of(entry), entry.mode, exchange_id_of(self._states[order.venue].venue),
                                     _state_of(order), filled=order.filled, created_at=entry.created_at,
                                     venue_order_id=order.id)  # fmt: skip
            self._emit(f"{order.venue}: order {coid} ({entry.state.value} in the journal) is {order.status.value} "
                       "at the venue: adopted and the journal corrected")  # fmt: skip

    async def _watch_pushes(self, state: _VenueState) -> None:
        """Order updates pushed by the venue (the sandbox engine; ccxt.pro's user stream
        where the venue has one); polling stays the fallback and sees the same orders."""
        watch = getattr(state.venue, "watch_order_updates", None)
        if watch is None:
            return
        while True:
            updates = await watch()
            if updates is None:
                return  # this venue has no push feed
            for order, fills in updates:
                self.tracker.observe(order, fills=fills, source="push")
            self.orders_version += 1

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
        now = self._clock()
        return [t.view(now) for t in self.tracker.unknown(venue)]

    def blocked_reason(self, venue: str) -> str | None:
        """Why no new order may go to ``venue`` now, or None."""
        return self.tracker.blocked_reason(venue)

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
        blocked = self.tracker.blocked_reason(request.venue)
        if blocked:
            raise OrderRejected(blocked)

    def _mode_of(self, venue: str) -> str:
        mode = self._states[venue].venue.mode
        return getattr(mode, "value", str(mode))

    def _quote_of(self, venue: str, symbol: str) -> str:
        market = self.market(venue, symbol)
        return market.quote if market else symbol.rpartition("/")[2]

    def _open_order_count(self, mode: str) -> int:
        """Open, in-flight and unknown orders of ``mode`` (a sandbox order never counts
        toward a live limit)."""
        coids: set[str] = set()
        count = 0
        for state in self._states.values():
            if self._mode_of(state.venue.name) != mode:
                continue
            for order in state.open_orders:
                count += 1
                if order.client_order_id:
                    coids.add(order.client_order_id)
        for tracked in self.tracker.tracked():
            if tracked.mode == mode and tracked.coid not in coids and not tracked.state.is_final:
                count += 1
                coids.add(tracked.coid)
        if self.journal is not None:
            in_flight = self.journal.orders(states=(JournalState.INTENT, JournalState.SENT, JournalState.UNKNOWN))
            count += sum(1 for o in in_flight if o.mode == mode and o.client_order_id not in coids)
        return count

    def _traded_today(self, mode: str, quote: str) -> Decimal:
        """Value traded since 00:00 UTC by orders of ``mode`` quoted in ``quote``: limits are
        per quote currency, never sums of different currencies."""
        if self.journal is None:
            return ZERO
        since = utc_day_start(self._clock())
        orders = [o for o in self.journal.orders(since=since)
                  if o.mode == mode and o.symbol.rpartition("/")[2] == quote]  # fmt: skip
        if not orders:
            return ZERO
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
        book = self._books.get((request.venue, request.symbol))
        reference = None
        if book is not None:
            reference = book.best_ask if request.side is Side.BUY else book.best_bid
        mode = self._mode_of(request.venue)
        quote = self._quote_of(request.venue, request.symbol)
        self._risk.check(
            request,
            quote=quote,
            reference_price=reference,
            open_orders=self._open_order_count(mode),
            traded_today=self._traded_today(mode, quote),
            mode=mode,
        )

    def prepare_order(self, request: OrderRequest) -> TrackedOrder:
        """Check an order and journal its intent, synchronously: the pending row exists when
        this returns, before anything is sent. Raises ``VenueError`` (readable) when refused."""
        state = self._states[request.venue]
        venue = state.venue
        self._check_may_place(request)
        if self._order_gate is not None:
            self._order_gate(request)  # raises OrderRejected with the limit named
        self._check_risk(request)
        exchange_id = exchange_id_of(venue)
        coid = request.client_order_id or new_client_order_id(exchange_id)
        request = replace(request, client_order_id=coid)
        try:
            tracked = self.tracker.begin(request, venue.mode, exchange_id)
        except JournalError as exc:
            raise OrderRejected(f"{request.venue}: not sent: the journal could not record the order: {exc}") from None
        except (sqlite3.Error, OSError) as exc:
            raise OrderRejected(
                f"{request.venue}: not sent: the journal could not record the order: {journal_failure_text(exc)}"
            ) from None
        self.orders_version += 1
        return tracked

    async def send_order(self, tracked: TrackedOrder) -> Order:
        """Send a prepared order. The ack is returned as soon as the venue answers; the
        account refresh that follows runs on its own. A create is never retried: a timeout,
        a 5xx or a lost connection leaves the order UNKNOWN until the venue proves it."""
        state = self._states[tracked.venue]
        venue = state.venue
        request = tracked.request
        crash_point("after_intent")
        try:
            self.tracker.sending(tracked)
        except (JournalError, sqlite3.Error, OSError) as exc:
            self.tracker.discard(tracked, f"not sent: the journal could not be written: {journal_failure_text(exc)}")
            self.orders_version += 1
            raise OrderRejected(f"{request.venue}: {tracked.message}") from None
        crash_point("before_send")
        self.orders_version += 1
        try:
            try:
                order = await venue.place_order(request)
            except (OrderRejected, FeatureUnavailable, OrderNotFound) as exc:
                self.tracker.rejected(tracked, _describe(exc))
                if tracked.journal_failed:
                    raise VenueUnavailable(f"{request.venue}: {tracked.message}") from None
                raise
            except VenueUnavailable as exc:
                raise self._went_unknown(state, tracked, exc) from None
            except asyncio.CancelledError:
                # Cancelled mid-send (shutdown): the outcome is unknown.
                self.tracker.went_unknown(tracked, "cancelled while waiting for the venue's reply")
                raise
            except VenueError as exc:
                if _is_definite_refusal(exc):
                    self.tracker.rejected(tracked, _describe(exc))
                    raise
                raise self._went_unknown(state, tracked, exc) from None
            except Exception as exc:  # noqa: BLE001 - timeouts and bugs after sending: ambiguous
                raise self._went_unknown(state, tracked, exc) from None
            self.tracker.acked(tracked, order)
            if tracked.journal_failed:
                raise VenueUnavailable(f"{request.venue}: {tracked.message}")
            return (
                tracked.view(self._clock())
                if self.tracker.get(tracked.coid) is not None
                else _final_view(order, tracked)
            )
        finally:
            self.orders_version += 1
            self.request_refresh(request.venue)

    async def place_order(self, request: OrderRequest) -> Order:
        """Prepare and send (see ``prepare_order`` and ``send_order``)."""
        return await self.send_order(self.prepare_order(request))

    def _went_unknown(self, state: _VenueState, tracked: TrackedOrder, exc: BaseException) -> VenueError:
        reason = _describe(exc)
        prefix = f"{tracked.venue}: "
        if reason.startswith(prefix):  # the venue's errors name it already: say it once
            reason = reason[len(prefix) :]
        self.tracker.went_unknown(tracked, reason)
        if tracked.state is not TrackState.UNKNOWN:
            # An account poll showed the order while its reply was lost: it is placed.
            return VenueUnavailable(f"{tracked.venue}: {reason}; the order was seen at the venue: it is placed "
                                    f"({tracked.state.value}); nothing more to do")  # fmt: skip
        self.orders_version += 1
        self._spawn_lookup(state, tracked)
        return VenueUnavailable(
            f"{tracked.venue}: {reason}: the order is UNKNOWN (it may have been placed); it is being "
            f"looked up by client order id {tracked.coid}; do not resend until it is resolved"
        )

    def _spawn_lookup(self, state: _VenueState, tracked: TrackedOrder) -> None:
        self._spawn(lambda: self._resolve_unknown(state, tracked), f"lookup:{state.venue.name}:{tracked.coid}")

    async def _resolve_unknown(self, state: _VenueState, tracked: TrackedOrder) -> None:
        """Look an UNKNOWN order up until the venue says what became of it. Lookups are
        safe to repeat; a create is not, so the order is never sent again from here. Not
        finding it settles it only once the venue's validity window has passed (and after
        ``unknown_misses_to_settle`` misses in a row)."""
        misses = 0
        attempt = 0
        delays = self.unknown_lookup_delays_s
        while tracked.state is TrackState.UNKNOWN and not tracked.journal_failed:
            await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
            attempt += 1
            if tracked.state is not TrackState.UNKNOWN:
                break
            try:
                found = await state.venue.fetch_order_by_client_id(tracked.coid, tracked.request.symbol)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep looking; the order stays UNKNOWN
                state.last_error = f"looking up {tracked.coid}: {_describe(exc)}"
                self.health_version += 1
                continue
            if found is None:
                misses += 1
                if misses >= self.unknown_misses_to_settle and self.tracker.may_settle_absent(tracked):
                    window = validity_window_s(tracked.exchange_id)
                    self.tracker.not_placed(tracked, f"{misses} lookups, validity window {window:g} s passed")
                    self.orders_version += 1
                continue
            misses = 0
            self.tracker.observe(found, source="looked up after an unclear send")
            self.orders_version += 1

    async def cancel_order(self, order: Order, *, by: str = "operator") -> Order:
        if self.is_read_only(order.venue):
            raise OrderRejected(f"{order.venue}: read-only: order actions are disabled")
        if order.status is OrderStatus.UNKNOWN:
            raise OrderRejected(f"{order.venue}: order {order.client_order_id} is UNKNOWN; it is being looked up")
        if order.status is OrderStatus.PENDING or not order.id:
            raise OrderRejected(
                f"{order.venue}: order {order.client_order_id} is still being sent; cancel it when it is open"
            )
        state = self._states[order.venue]
        self.tracker.cancel_requested(order, by)
        try:
            result = await state.venue.cancel_order(order.id, order.symbol)
            if not result.client_order_id and order.client_order_id:
                result = replace(result, client_order_id=order.client_order_id)
            self.tracker.observe(result, source=f"cancel by {by}")
            self._drop_open(state, result)
            return result
        finally:
            self.orders_version += 1
            self.request_refresh(order.venue)

    def _drop_open(self, state: _VenueState, result: Order) -> None:
        if result.status.is_final:
            state.open_orders = tuple(o for o in state.open_orders if o.id != result.id)

    async def cancel_all(self, *, by: str = "kill switch", wait_sweep: bool = True) -> CancelReport:
        """Kill switch: every cancel on every venue is sent at once, in parallel, from what
        is known now; then the accounts are refreshed and anything that showed up since is
        cancelled too. The report says per order what was cancelled and what failed."""
        cancelled: list[Order] = []
        failed: list[tuple[Order, str]] = []
        ended: list[Order] = []
        attempted: set[tuple[str, str]] = set()

        def known_open() -> list[Order]:
            seen: dict[tuple[str, str], Order] = {}
            for state in self._states.values():
                for o in state.open_orders:
                    if o.id:
                        seen[(o.venue, o.id)] = o
            now = self._clock()
            for tracked in self.tracker.tracked():
                view = tracked.view(now)
                if view.id and tracked.state in (TrackState.OPEN, TrackState.PARTIALLY_FILLED):
                    seen.setdefault((view.venue, view.id), view)
            return [o for key, o in seen.items() if key not in attempted]

        async def one(order: Order) -> None:
            attempted.add((order.venue, order.id))
            if self.is_read_only(order.venue):
                failed.append((order, "read-only: order actions are disabled"))
                return
            state = self._states[order.venue]
            self.tracker.cancel_requested(order, by)
            try:
                result = await state.venue.cancel_order(order.id, order.symbol)
            except Exception as exc:  # noqa: BLE001
                failed.append((order, _describe(exc)))
                return
            if not result.client_order_id and order.client_order_id:
                result = replace(result, client_order_id=order.client_order_id)
            cancelled.append(result)
            self.tracker.observe(result, source=f"cancel by {by}")
            self._drop_open(state, result)

        for tracked in self.tracker.pending():
            view = tracked.view(self._clock())
            failed.append((view, "UNKNOWN or still being sent: cancel it when it is resolved"))
        await asyncio.gather(*(one(o) for o in known_open()))
        self.orders_version += 1

        def settle_failures() -> tuple[int, int]:
            """A cancel whose reply was lost may still have worked, and a cancel refused as
            "unknown order" may have met an order that had just filled: once the refresh
            shows the order cancelled or filled, the report says so instead of calling it
            live. Returns (now cancelled, now ended)."""
            now, moved, done = self._clock(), 0, 0
            for entry in list(failed):
                order = entry[0]
                tracked = self.tracker.ended_order(order.client_order_id) if order.client_order_id else None
                if tracked is None or tracked.venue != order.venue:
                    continue
                if tracked.state is TrackState.CANCELED:
                    failed.remove(entry)
                    cancelled.append(tracked.view(now))
                    moved += 1
                elif tracked.state is TrackState.FILLED:
                    failed.remove(entry)
                    ended.append(tracked.view(now))
                    done += 1
            return moved, done

        async def sweep() -> None:
            # Then what the venues hold now (orders placed since the last poll), concurrently.
            await asyncio.gather(*(self._refresh_quietly(s) for s in self._states.values() if s.started))
            confirmed, filled = settle_failures()
            before = (len(cancelled), len(failed))
            await asyncio.gather(*(one(o) for o in known_open()))
            self.orders_version += 1
            more, bad = len(cancelled) - before[0], len(failed) - before[1]
            if not wait_sweep and confirmed:
                self._emit(f"{by}: {confirmed} order(s) reported NOT cancelled were cancelled after all "
                           "(their cancel's reply was lost; the account refresh shows them cancelled)")  # fmt: skip
            if not wait_sweep and filled:
                self._emit(f"{by}: {filled} order(s) reported NOT cancelled had filled "
                           "(the account refresh shows them filled): nothing of them left open")  # fmt: skip
            if not wait_sweep and (more or bad):
                self._emit(f"{by}: after refreshing the accounts, {more} more order(s) cancelled"
                           + (f", {bad} NOT cancelled" if bad else ""))  # fmt: skip

        if wait_sweep:
            await sweep()
        else:
            # The report of what was sent goes out now; the sweep reports only what it finds.
            first = CancelReport(tuple(cancelled), tuple(failed))
            self._tasks.append(asyncio.create_task(sweep(), name="kill-switch-sweep"))
            return first
        return CancelReport(tuple(cancelled), tuple(failed), tuple(ended))

    async def _refresh_quietly(self, state: _VenueState) -> None:
        try:
            await self._refresh_account(state)
        except Exception as exc:  # noqa: BLE001
            state.last_error = f"account: {_describe(exc)}"
            self.health_version += 1

    def request_refresh(self, venue: str) -> None:
        """Refresh ``venue``'s account soon, without anyone waiting for it; refreshes asked
        for while one runs are merged into one more."""
        state = self._states[venue]
        if not state.started:
            return
        if state.refreshing:
            state.refresh_again = True
            return

        async def run() -> None:
            state.refreshing = True
            try:
                while True:
                    state.refresh_again = False
                    await self._refresh_quietly(state)
                    if not state.refresh_again:
                        break
            finally:
                state.refreshing = False

        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(run(), name=f"refresh:{venue}"))

    async def wait_idle(self) -> None:
        """Wait for the account refreshes in flight (tests and headless commands)."""
        while True:
            running = [t for t in self._tasks if t.get_name().startswith("refresh:") and not t.done()]
            if not running:
                return
            await asyncio.gather(*running, return_exceptions=True)

    def add_event_listener(self, callback: Callable[[OrderEvent], None]) -> None:
        self._event_listeners.append(callback)

    def _on_order_event(self, event: OrderEvent) -> None:
        self.orders_version += 1
        if event.kind in ("fill", "canceled") and event.order.venue in self._states:
            self.request_refresh(event.order.venue)  # balances moved
        if event.kind in ("settled", "journal") and event.message:
            self._emit(event.message)
        for callback in list(self._event_listeners):
            with contextlib.suppress(Exception):
                callback(event)

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

    # ---- market context: trade tapes, tickers, positions (aitbc_tui.market_feed) ----------

    def market_feed(self) -> MarketFeed:
        """Made on first use; its tasks are the service's (supervised, stopped with it)."""
        feed: MarketFeed | None = getattr(self, "_market_feed_instance", None)
        if feed is None:
            from aitbc_tui.market_feed import MarketFeed

            feed = self._market_feed_instance = MarketFeed(self, clock=self._clock)
        return feed

    # ---- orders sent together (an arbitrage's legs) ---------------------------------------

    def check_orders(self, requests: Sequence[OrderRequest]) -> None:
        """Check orders meant to go out together, before any is journalled: each must be
        allowed (read-only, reconciliation, UNKNOWN orders on its venue, the order gate) and
        within the risk limits counting the ones before it (one more open order each, their
        values in the day's traded total). Raises ``VenueError`` naming the first refusal."""
        for request in requests:
            self._check_may_place(request)
            if self._order_gate is not None:
                self._order_gate(request)
        if not self._risk.enabled:
            return
        more_open: dict[str, int] = {}
        more_traded: dict[tuple[str, str], Decimal] = {}
        for request in requests:
            book = self._books.get((request.venue, request.symbol))
            reference = None if book is None else book.best_ask if request.side is Side.BUY else book.best_bid
            mode = self._mode_of(request.venue)
            quote = self._quote_of(request.venue, request.symbol)
            value = self._risk.check(
                request,
                quote=quote,
                reference_price=reference,
                open_orders=self._open_order_count(mode) + more_open.get(mode, 0),
                traded_today=self._traded_today(mode, quote) + more_traded.get((mode, quote), ZERO),
                mode=mode,
            )
            more_open[mode] = more_open.get(mode, 0) + 1
            more_traded[(mode, quote)] = more_traded.get((mode, quote), ZERO) + (value or ZERO)


def exchange_id_of(venue: Venue) -> str:
    """The venue's ccxt exchange id (client order id format), or "sim" for the sandbox."""
    found = getattr(venue, "exchange_id", None) or getattr(getattr(venue, "inner", None), "exchange_id", None)
    return str(found) if found else "sim"


def _state_of(order: Order) -> TrackState:
    if order.status is OrderStatus.OPEN:
        return TrackState.PARTIALLY_FILLED if order.filled > 0 else TrackState.OPEN
    return TrackState.UNKNOWN if order.status is OrderStatus.UNKNOWN else TrackState.OPEN


def _is_definite_refusal(exc: VenueError) -> bool:
    """Only an explicit refusal from the venue is a rejection: authentication, a refused
    order. Any other exchange error answering a create (an unclear or server error) leaves
    its outcome unknown."""
    text = str(exc)
    return isinstance(exc, OrderRejected) or "authentication failed" in text


def _final_view(order: Order, tracked: TrackedOrder) -> Order:
    view = tracked.view(order.updated_at)
    return replace(
        view, status=order.status if order.status.is_final else view.status, message=order.message or view.message
    )


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
