"""Native Binance spot diff-depth feed: many symbols on one websocket (issue 14).

Binance's documented procedure ("How to manage a local order book correctly"), per symbol:

1. Open the combined stream ``/stream?streams=<sym>@depth@100ms/...`` and buffer the events.
2. GET ``/api/v3/depth?symbol=X&limit=1000`` (the snapshot, ``lastUpdateId``).
3. Drop buffered events with ``u <= lastUpdateId``.
4. The first event applied must straddle the snapshot: ``U <= lastUpdateId + 1 <= u``;
   otherwise the snapshot does not join the stream: get a new one.
5. Every later event must follow on: ``U == previous u + 1``. Anything else is a gap: the
   book is discarded and the symbol resyncs (a new snapshot); a book with a hole is never
   shown. A crossed book after a diff (best bid >= best ask) also resyncs.

The socket reconnects with backoff when it drops; no data frame for ``stale_after_s`` on the
whole socket counts as a dropped socket (a stalled feed). After a reconnect every symbol
resyncs. Books are ``aitbc_tui.book.OrderBook``: the venue's strings are kept and become
``Decimal`` only in ``top(n)``, so the BookSnapshot values are exact.

``DepthSync`` is the sequencing alone (no I/O, unit tested with hand-computed cases);
``BinanceDepthFeed`` does the socket, the snapshots and the waiting. This module imports
neither ccxt nor textual; ``CcxtVenue.watch_order_book`` uses it for binance spot
(``quirks.native_book_feed``, config ``book_feed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from aitbc_tui.book import OrderBook
from aitbc_tui.domain import BookSnapshot, VenueUnavailable
from aitbc_tui.sanitize import check_book

log = logging.getLogger(__name__)

_loads: Callable[[Any], Any]
try:  # orjson is optional (the desk extra): ~3x faster than json on depth frames
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    _loads = json.loads

SNAPSHOT_LIMIT = 1000  # Binance's documented snapshot depth for a local book
STREAM_SUFFIX = "@depth@100ms"
MAX_STREAMS = 1024  # Binance: streams per connection
MAX_SNAPSHOTS_IN_FLIGHT = 4
MAX_BUFFERED_EVENTS = 2000  # per symbol while its snapshot is on the way; older ones drop (then a resync)
MAX_BACKOFF_S = 30.0
MAX_RESYNCS_IN_A_ROW = 3  # snapshots that do not join the stream before the watcher is told


# ---- the sequencing -------------------------------------------------------------------------

BUFFERED = "buffered"
DROPPED = "dropped"  # u <= the book's update id: already in the book
APPLIED = "applied"
GAP = "gap"  # U does not follow on: the book is discarded
CROSSED = "crossed"  # the diff left best bid >= best ask: the book is discarded
BAD = "bad"  # a malformed event (missing U/u, a level that is not a number): discarded
LIVE = "live"  # on_snapshot: the book is live (buffered events applied)


class DepthSync:
    """One symbol's book through Binance's procedure, without I/O.

    ``on_event(data)`` returns BUFFERED while there is no snapshot, else DROPPED, APPLIED,
    GAP, CROSSED or BAD; ``on_snapshot(body)`` returns LIVE, or GAP / CROSSED / BAD when the
    buffered events do not join it. After GAP, CROSSED or BAD the book is empty and not live
    (events are buffered again) until the next ``on_snapshot``.
    """

    __slots__ = ("book", "buffer", "live", "last_u", "first_pending")

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.buffer: deque[Mapping[str, Any]] = deque(maxlen=MAX_BUFFERED_EVENTS)
        self.live = False
        self.last_u = 0  # lastUpdateId, then the u of the last event applied
        self.first_pending = False  # the next event applied is the first after the snapshot

    def reset(self) -> None:
        self.live = False
        self.buffer.clear()
        self.first_pending = False
        self.book.clear()

    def on_event(self, data: Mapping[str, Any]) -> str:
        if not self.live:
            self.buffer.append(data)
            return BUFFERED
        result = self._apply(data)
        if result in (GAP, CROSSED, BAD):
            self.reset()
        return result

    def on_snapshot(self, body: Mapping[str, Any]) -> str:
        last_id = body.get("lastUpdateId")
        if type(last_id) is not int:
            self.reset()
            return BAD
        try:
            self.book.load_binance_snapshot(body)
        except (TypeError, ValueError):
            self.reset()
            return BAD
        if self.book.crossed:
            self.reset()
            return CROSSED
        self.last_u = last_id
        self.book.sequence = last_id
        self.first_pending = True
        self.live = True
        buffered = list(self.buffer)
        self.buffer.clear()
        for data in buffered:
            result = self._apply(data)
            if result in (GAP, CROSSED, BAD):
                self.reset()
                return result
        return LIVE

    def _apply(self, data: Mapping[str, Any]) -> str:
        first = data.get("U")
        last = data.get("u")
        if type(first) is not int or type(last) is not int or first > last:
            return BAD
        if last <= self.last_u:
            return DROPPED
        if self.first_pending:
            if not first <= self.last_u + 1 <= last:
                return GAP  # the snapshot does not join the stream
        elif first != self.last_u + 1:
            return GAP
        try:
            self.book.apply_binance_depth(data)
        except (TypeError, ValueError):
            return BAD
        self.last_u = last
        self.first_pending = False
        if self.book.crossed:
            return CROSSED
        return APPLIED


# ---- URLs -----------------------------------------------------------------------------------


def stream_base(ccxt_spot_ws_url: str) -> str:
    """The combined-stream endpoint from ccxt.pro's spot websocket URL (already moved to the
    configured ws_url): ``wss://stream.binance.com:9443/ws`` -> ``wss://stream.binance.com:9443/stream``,
    ``ws://127.0.0.1:8901/stream/ws`` -> ``ws://127.0.0.1:8901/stream``."""
    parts = urlsplit(ccxt_spot_ws_url)
    path = parts.path.rstrip("/")
    if path.endswith("/ws"):
        path = path[: -len("/ws")]
    if not path.endswith("/stream"):
        path += "/stream"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def stream_name(market_id: str) -> str:
    return market_id.lower() + STREAM_SUFFIX


# ---- the feed -------------------------------------------------------------------------------


class _Symbol:
    __slots__ = ("symbol", "market_id", "stream", "sync", "version", "seen", "waiters", "error", "generation",
                 "timestamp", "resyncs_in_a_row", "task", "down_since")  # fmt: skip

    def __init__(self, venue: str, symbol: str, market_id: str) -> None:
        self.symbol = symbol
        self.market_id = market_id
        self.stream = stream_name(market_id)
        self.sync = DepthSync(OrderBook(venue, symbol))
        self.version = 0  # bumped whenever the live book changes (or goes live)
        self.seen = 0  # the version the watcher was last given
        self.waiters: list[asyncio.Future[None]] = []
        self.error: Exception | None = None  # told to the next watch, once
        self.generation = 0  # bumped at every reset: a snapshot for an older one is dropped
        self.timestamp = 0.0
        self.resyncs_in_a_row = 0
        self.task: asyncio.Task[None] | None = None
        self.down_since: float | None = None  # loop time the book stopped being live (None: live or never)

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


class BinanceDepthFeed:
    """Books of many Binance spot symbols from one combined-stream websocket.

    ``watch(symbol, depth)`` returns the next BookSnapshot of that symbol (at once if the
    book changed since the last call): top ``depth`` levels, exact Decimals, ``sequence``
    the venue's update id (``u``; ``lastUpdateId`` after a snapshot), as ccxt's book nonce.
    """

    def __init__(
        self,
        venue: str,
        ws_url: str,
        depth_url: str,
        symbols: Mapping[str, str],  # unified symbol -> Binance market id ("BTC/USDT" -> "BTCUSDT")
        *,
        stale_after_s: float = 15.0,
        request_timeout_s: float = 10.0,
        snapshot_limit: int = SNAPSHOT_LIMIT,
        rest_blocked: Callable[[], float] | None = None,  # seconds REST must still wait (rate limit), 0: none
        on_rate_limit: Callable[[int, float | None], None] | None = None,  # HTTP 429/418 and Retry-After
        market_ids: Callable[[str], str | None] | None = None,  # a symbol watched that was not configured
    ) -> None:
        self.venue = venue
        self.ws_url = stream_base(ws_url)
        self.depth_url = depth_url
        self.stale_after_s = stale_after_s
        self.request_timeout_s = request_timeout_s
        self.snapshot_limit = snapshot_limit
        self._rest_blocked = rest_blocked or (lambda: 0.0)
        self._on_rate_limit = on_rate_limit
        self._market_ids = market_ids
        self._symbols: dict[str, _Symbol] = {}
        self._by_stream: dict[str, _Symbol] = {}
        for symbol, mid in symbols.items():
            self._add(symbol, mid)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._snapshots = asyncio.Semaphore(MAX_SNAPSHOTS_IN_FLIGHT)
        self._request_id = 0
        self._closed = False
        # counters for health, tests and benches
        self.connects = 0
        self.resyncs = 0  # snapshots taken again after a gap, a crossed book or a stale snapshot
        self.gaps = 0
        self.frames = 0
        self.last_event = ""

    def __repr__(self) -> str:
        return f"BinanceDepthFeed({self.venue!r}, {self.ws_url!r}, symbols={len(self._symbols)})"

    def _add(self, symbol: str, market_id: str) -> _Symbol:
        if len(self._symbols) >= MAX_STREAMS:
            raise VenueUnavailable(f"{self.venue}: more than {MAX_STREAMS} books on one binance websocket")
        state = _Symbol(self.venue, symbol, market_id)
        self._symbols[symbol] = state
        self._by_stream[state.stream] = state
        return state

    # ---- the watcher's side

    async def watch(self, symbol: str, depth: int) -> BookSnapshot:
        state = self._symbols.get(symbol)
        if state is None:
            market_id = self._market_ids(symbol) if self._market_ids is not None else None
            if market_id is None:
                raise VenueUnavailable(f"{self.venue}: {symbol} is not a market of this venue")
            state = self._add(symbol, market_id)
            await self._subscribe_late(state)
        self._ensure_running()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stale_after_s
        while True:
            if state.error is not None:
                error, state.error = state.error, None
                raise error
            sync = state.sync
            if sync.live and state.version != state.seen:
                state.seen = state.version
                return self._snapshot(state, depth)
            remaining = deadline - loop.time()
            if remaining <= 0:
                if sync.live:
                    # A quiet market on a socket that is not stale (the reader reconnects
                    # one that is): the book is current, and says so.
                    return self._snapshot(state, depth)
                down_since = state.down_since
                if down_since is not None and loop.time() - down_since < self.stale_after_s:
                    deadline = down_since + self.stale_after_s  # a resync under way: its own time
                    continue
                raise VenueUnavailable(
                    f"{self.venue}: no {symbol} book for {self.stale_after_s:g} s ({self.last_event or 'connecting'})"
                )
            fut: asyncio.Future[None] = loop.create_future()
            state.waiters.append(fut)
            timer = loop.call_at(deadline, _release, fut)  # cheaper per frame than asyncio.wait's
            try:
                await fut
            finally:
                timer.cancel()

    def _snapshot(self, state: _Symbol, depth: int) -> BookSnapshot:
        book = state.sync.book
        bids, asks = book.top(depth)
        return check_book(
            BookSnapshot(self.venue, state.symbol, bids, asks, state.timestamp or time.time(), book.sequence)
        )

    def book(self, symbol: str) -> OrderBook | None:
        """The live book of ``symbol`` (None while it has none): for tests and benches."""
        state = self._symbols.get(symbol)
        return state.sync.book if state is not None and state.sync.live else None

    # ---- lifecycle

    def _ensure_running(self) -> None:
        if self._closed:
            raise VenueUnavailable(f"{self.venue}: depth feed closed")
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"binance-depth:{self.venue}")

    async def close(self) -> None:
        self._closed = True
        tasks = [t for t in [self._task, *(s.task for s in self._symbols.values())] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
            self._ws = None
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None
        for state in self._symbols.values():
            state.error = VenueUnavailable(f"{self.venue}: depth feed closed")
            state.wake()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.request_timeout_s))
        return self._session

    # ---- the socket

    async def _run(self) -> None:
        backoff = 0.0
        while not self._closed:
            if backoff:
                await asyncio.sleep(backoff)
            delivered = connected = False
            opened_at = time.monotonic()
            reason: str
            try:
                url = self.ws_url + "?streams=" + "/".join(s.stream for s in self._symbols.values())
                async with self._http().ws_connect(
                    url, heartbeat=max(1.0, min(20.0, self.stale_after_s / 2)), autoping=True,
                    timeout=aiohttp.ClientWSTimeout(ws_close=self.request_timeout_s), max_msg_size=0,
                ) as ws:  # fmt: skip
                    self._ws = ws
                    connected = True
                    opened_at = time.monotonic()
                    self.connects += 1
                    self.last_event = "connected"
                    for state in self._symbols.values():
                        self._resync(state, "connected")
                    delivered, reason = await self._receive(ws)
            except asyncio.CancelledError:
                raise
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except Exception as exc:  # noqa: BLE001 - a bug must not end the feed for the session
                log.exception("%s: binance depth feed failed", self.venue)
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            if self._closed:
                return
            self.last_event = f"reconnecting: {reason}"
            log.log(logging.INFO if connected else logging.WARNING, "%s: binance depth websocket: %s; reconnecting",
                    self.venue, reason)  # fmt: skip
            # Every book is unknown now: none is shown until its new snapshot. A socket that
            # could not be opened is told to the watchers at once; one that ended or went
            # quiet is reopened first (the watchers hear of it if no book comes in time).
            error = None if connected else VenueUnavailable(f"{self.venue}: depth websocket: {reason}; reconnecting")
            for state in self._symbols.values():
                self._reset(state)
                if error is not None:
                    state.error = error
                    state.wake()
            if delivered:
                backoff = 0.0
            elif connected and time.monotonic() - opened_at >= self.stale_after_s:
                backoff = 0.5  # quiet for the whole stale window (a still market): reopen soon
            else:  # not opened, or ended at once: Binance allows 300 connections per 5 minutes
                backoff = min(MAX_BACKOFF_S, max(0.5, backoff * 2))

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> tuple[bool, str]:
        """Read until the socket ends or stalls; (whether data arrived, why it ended)."""
        by_stream = self._by_stream
        delivered = False
        loop = asyncio.get_running_loop()
        # Counted from the last data frame (pings and pongs do not count).
        stale_at = loop.time() + self.stale_after_s
        while True:
            try:
                async with asyncio.timeout_at(stale_at):  # not receive(timeout=): pongs restart that
                    msg = await ws.receive()
            except TimeoutError:
                return delivered, f"no data for {self.stale_after_s:g} s"
            if msg.type is aiohttp.WSMsgType.TEXT or msg.type is aiohttp.WSMsgType.BINARY:
                delivered = True
                stale_at = loop.time() + self.stale_after_s
                self.frames += 1
                try:
                    message = _loads(msg.data)
                    state = by_stream.get(message.get("stream", "")) if type(message) is dict else None
                    data = message.get("data") if state is not None else None
                except (ValueError, TypeError, AttributeError):
                    log.info("%s: a depth frame that is not JSON: ignored", self.venue)
                    continue
                if state is None or type(data) is not dict:
                    continue  # subscription answers, other streams
                self._on_event(state, data)
            elif msg.type is aiohttp.WSMsgType.CLOSE or msg.type is aiohttp.WSMsgType.CLOSING:
                return delivered, f"closed by the venue ({ws.close_code})"
            elif msg.type is aiohttp.WSMsgType.CLOSED:
                return delivered, f"closed ({ws.close_code})"
            elif msg.type is aiohttp.WSMsgType.ERROR:
                return delivered, f"error: {ws.exception()}"

    def _on_event(self, state: _Symbol, data: dict) -> None:
        result = state.sync.on_event(data)
        if result == APPLIED:
            e = data.get("E")
            state.timestamp = e / 1000 if type(e) is int and 0 < e < 1e14 else time.time()
            state.version += 1
            state.resyncs_in_a_row = 0
            if state.waiters:
                state.wake()
        elif result in (GAP, CROSSED, BAD):
            self.gaps += result == GAP
            self._resync(state, f"{result}: U={data.get('U')} u={data.get('u')}", again=True)

    async def _subscribe_late(self, state: _Symbol) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            return  # the next connection's URL names it
        self._request_id += 1
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [state.stream], "id": self._request_id}))
        self._resync(state, "subscribed")

    # ---- snapshots

    def _reset(self, state: _Symbol) -> None:
        if state.sync.live or state.down_since is None:
            state.down_since = asyncio.get_running_loop().time()
        state.sync.reset()
        state.generation += 1
        if state.task is not None and not state.task.done():
            state.task.cancel()
        state.task = None

    def _resync(self, state: _Symbol, why: str, *, again: bool = False) -> None:
        """Discard the book and fetch a new snapshot; events are buffered meanwhile."""
        self._reset(state)
        if again:
            self.resyncs += 1
            state.resyncs_in_a_row += 1
            self.last_event = f"resync: {state.symbol} {why}"
            log.info("%s: %s book %s; resyncing (resync %d)", self.venue, state.symbol, why, self.resyncs)
            if state.resyncs_in_a_row > MAX_RESYNCS_IN_A_ROW:
                state.error = VenueUnavailable(
                    f"{self.venue}: {state.symbol} book sequence gaps {state.resyncs_in_a_row} times in a row; resyncing"
                )
                state.wake()
        state.task = asyncio.get_running_loop().create_task(
            self._snapshot_loop(state, state.generation), name=f"binance-depth-snapshot:{state.symbol}"
        )

    async def _snapshot_loop(self, state: _Symbol, generation: int) -> None:
        backoff = 0.5
        while generation == state.generation:
            wait = self._rest_blocked()
            if wait > 0:  # a 429's or 418's window (the venue's, shared with its other requests)
                self.last_event = f"snapshot of {state.symbol} waits {wait:.0f} s: rate limited"
                await asyncio.sleep(min(wait, MAX_BACKOFF_S))
                continue
            try:
                body = await self._fetch_snapshot(state)
            except (VenueUnavailable, Exception) as exc:  # noqa: BLE001 - any failure: told, then retried
                state.error = exc if isinstance(exc, VenueUnavailable) else VenueUnavailable(
                    f"{self.venue}: depth snapshot: {type(exc).__name__}: {exc}")  # fmt: skip
                state.wake()
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                continue
            if generation != state.generation:
                return
            result = state.sync.on_snapshot(body)
            if result == LIVE:
                state.down_since = None
                state.timestamp = time.time()
                state.version += 1
                state.wake()
                return
            # The buffered events do not join this snapshot (it is older than the stream's
            # first buffered event, or they gap): events are buffered again; a new snapshot.
            self.resyncs += 1
            state.resyncs_in_a_row += 1
            self.gaps += result == GAP
            self.last_event = f"resync: {state.symbol} snapshot {result}"
            if state.resyncs_in_a_row > MAX_RESYNCS_IN_A_ROW:
                state.error = VenueUnavailable(
                    f"{self.venue}: {state.symbol} snapshot does not join the stream ({result}); resyncing"
                )
                state.wake()
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    async def _fetch_snapshot(self, state: _Symbol) -> Mapping[str, Any]:
        async with self._snapshots:
            params = {"symbol": state.market_id, "limit": str(self.snapshot_limit)}
            try:
                async with self._http().get(self.depth_url, params=params) as response:
                    status = response.status
                    if status in (418, 429):
                        retry = _retry_after(response.headers)
                        if self._on_rate_limit is not None:
                            self._on_rate_limit(status, retry)
                        raise VenueUnavailable(f"{self.venue}: rate limited (HTTP {status}) fetching a depth snapshot")
                    text = await response.text()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise VenueUnavailable(f"{self.venue}: depth snapshot: {type(exc).__name__}: {exc}") from None
        if status != 200:
            raise VenueUnavailable(f"{self.venue}: depth snapshot: HTTP {status}: {text[:200]}")
        try:
            body = _loads(text)
        except ValueError:
            raise VenueUnavailable(f"{self.venue}: depth snapshot is not JSON") from None
        if type(body) is not dict:
            raise VenueUnavailable(f"{self.venue}: depth snapshot is not an object")
        return body

    # ---- for tests

    def streams(self) -> Iterable[str]:
        return list(self._by_stream)


def _release(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
