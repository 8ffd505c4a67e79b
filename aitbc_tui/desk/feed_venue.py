"""A venue whose market data comes from the desk bus (``mode = "feed"``).

Books: on start, the last snapshot of every symbol is read from the JetStream stream (a
dashboard that starts late has the books at once); then snapshots and deltas arrive on core
NATS. A delta applies only on top of the one before it (same collector run, next sequence
number). Anything else is a gap: the book is dropped at once (``BookGap``, so the service
shows no book rather than one with a hole) and comes back live from the next snapshot,
which is read from the stream straight away and is in any case published at least every
``snapshot_interval_s`` by the collector.

Health: ``ping`` fails while the bus is away, while the collector is silent (no health
message for ``collector_silent_s``) and while the collector says the venue is down; else it
is the collector's own round trip to the venue plus the bus round trip. A degraded venue
at the collector shows as degraded here (``rate_limit_text``). ``probe`` names both and the
bus hop (collector publish -> here) of the newest book message.

Orders never travel over the bus: watch-only (``read_only``), unless ``trade_on`` is given,
a venue of its own (the operator's keys, straight to the exchange) that takes balances and
orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aitbc_tui.desk import bus, wire
from aitbc_tui.domain import (
    Balance,
    BookSnapshot,
    HealthStatus,
    Market,
    Mode,
    Order,
    OrderRejected,
    OrderRequest,
    VenueUnavailable,
)
from aitbc_tui.market_data import Ticker24h, Trade
from aitbc_tui.sanitize import BadData, plain_text
from aitbc_tui.venues.base import Venue

log = logging.getLogger(__name__)

COLLECTOR_SILENT_S = 5.0  # no health message from the collector for this long: it is gone
MAX_BUFFERED_DELTAS = 2000
HOP_HISTORY = 4096
TRADES_KEPT = 1000


class BookGap(BadData):
    """A sequence gap: the book is not live until the next snapshot."""


class _FeedBook:
    __slots__ = ("book", "buffer", "version", "waiter", "gap", "gaps", "high_epoch", "high_seq")

    def __init__(self) -> None:
        self.book: wire.L2Book | None = None
        self.buffer: deque[wire.BookMessage] = deque(maxlen=MAX_BUFFERED_DELTAS)
        self.version = 0
        self.waiter = asyncio.Event()
        self.gap = ""  # set at a gap, reported once by watch_order_book
        self.gaps = 0
        self.high_epoch = ""  # the collector run of the newest message seen
        self.high_seq = 0  # the highest sequence number seen in that run


class FeedVenue:
    def __init__(
        self,
        name: str,
        nats_url: str,
        *,
        source: str | None = None,
        symbols: Sequence[str] = (),
        trade_on: Venue | None = None,
        token: str | None = None,
        tls: bus.BusTls | None = None,
        collector_silent_s: float = COLLECTOR_SILENT_S,
        clock: Callable[[], float] = time.time,
        reconnect_wait_s: float = 0.5,
        login: bus.BusLogin | str | None = None,
    ) -> None:
        self.name = name
        self._login = login  # a BusLogin, or the name of one in the credential store (read at start)
        self.nats_url = bus.check_nats_url(nats_url, f"venues.{name}.feed")
        self.source = wire.venue_token(source or name)
        self.symbols = tuple(symbols)
        self.trade_on = trade_on
        self.inner = trade_on  # the service reads exchange_id and read_only through it
        self.mode: Mode = trade_on.mode if trade_on is not None else Mode.FEED
        self.read_only = trade_on is None or bool(getattr(trade_on, "read_only", False))
        self.exchange_id = getattr(trade_on, "exchange_id", "sim") if trade_on is not None else "sim"
        self._token = token
        self._tls = tls
        self.collector_silent_s = collector_silent_s
        self._clock = clock
        self._reconnect_wait_s = reconnect_wait_s
        self._nc: Any = None
        self._js: Any = None
        self._subs: list[Any] = []
        self._markets: dict[str, Market] = {}
        self._books: dict[str, _FeedBook] = {}
        self._seen: dict[str, int] = {}
        self._health: wire.CollectorHealth | None = None
        self._health_at: float | None = None  # monotonic time the last health message arrived
        self._trades: dict[str, deque[Trade]] = {}
        self._tickers: dict[str, Ticker24h] = {}
        self.hops_ms: deque[float] = deque(maxlen=HOP_HISTORY)  # collector publish -> applied here
        self.bad_messages = 0
        self.resyncs = 0
        self.probe = f"feed {self.source} via {self.nats_url}: collector's venue probe + bus round trip"
        self._closed = False

    def __repr__(self) -> str:
        return f"FeedVenue(name={self.name!r}, source={self.source!r}, feed={self.nats_url!r})"

    # ---- lifecycle

    async def start(self) -> None:
        self._closed = False
        if self._nc is None:
            if isinstance(self._login, str):
                self._login = bus.load_login(self._login)
            self._nc = await bus.connect(
                self.nats_url,
                name=f"aitbc-feed-{self.name}",
                login=self._login,
                token=self._token,
                tls=self._tls,
                on_reconnect=self._on_reconnect,
                reconnect_wait_s=self._reconnect_wait_s,
                retry_first=False,  # the service retries a venue that does not start, visibly
            )
            self._js = self._nc.jetstream()
            prefix = f"md.{self.source}"
            for pattern, handler in (
                (f"{prefix}.*.book", self._on_book),
                (f"{prefix}.*.delta", self._on_book),
                (f"{prefix}.*.trades", self._on_trades),
                (f"{prefix}.*.ticker", self._on_ticker),
                (f"{prefix}.health", self._on_health),
                (f"{prefix}.markets", self._on_markets),
            ):
                self._subs.append(await self._nc.subscribe(pattern, cb=handler))
            await self._nc.flush()
        await self._load_last_values()
        if self.trade_on is not None:
            await self.trade_on.start()

    async def close(self) -> None:
        self._closed = True
        for fb in self._books.values():
            fb.waiter.set()
        nc, self._nc = self._nc, None
        self._subs.clear()
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5.0)  # a stop never hangs on the bus
        if self.trade_on is not None:
            await self.trade_on.close()

    async def _last(self, subject: str) -> Any:
        from nats.js.errors import NotFoundError

        try:
            return await self._js.get_last_msg(wire.STREAM, subject)
        except NotFoundError:
            return None

    async def _load_last_values(self) -> None:
        """The markets, the health and every book's last snapshot, from the stream."""
        try:
            msg = await self._last(wire.markets_subject(self.source))
        except Exception as exc:  # noqa: BLE001 - no stream yet (no collector ever ran)
            raise VenueUnavailable(
                f"{self.name}: no desk stream on {self.nats_url} ({type(exc).__name__}); is the collector running?"
            ) from None
        if msg is None:
            raise VenueUnavailable(f"{self.name}: the collector has published no markets for {self.source!r} yet")
        await self._on_markets(msg)
        health = await self._last(wire.health_subject(self.source))
        if health is not None:
            await self._on_health(health)
        for symbol in self._markets:
            await self._resync(symbol)

    async def _resync(self, symbol: str) -> None:
        try:
            msg = await self._last(wire.subject(self.source, symbol, "book"))
        except Exception as exc:  # noqa: BLE001 - the next published snapshot resyncs instead
            log.debug("%s: resync of %s failed: %s", self.name, symbol, type(exc).__name__)
            return
        if msg is not None:
            await self._on_book(msg)

    async def _on_reconnect(self) -> None:
        # Deltas were lost while the bus was away: every book starts again from a snapshot.
        for symbol, fb in self._books.items():
            if fb.book is not None:
                self._mark_gap(fb, "the bus reconnected")
            await self._resync(symbol)

    # ---- messages

    def _decode(self, msg: Any) -> dict[str, Any] | None:
        try:
            return wire.decode(msg.data)
        except wire.WireError as exc:
            self.bad_messages += 1
            log.debug("%s: refused a message on %s: %s", self.name, msg.subject, exc)
            return None

    def _mark_gap(self, fb: _FeedBook, why: str) -> None:
        fb.book = None
        fb.gap = why
        fb.gaps += 1
        fb.waiter.set()

    async def _on_book(self, msg: Any) -> None:
        obj = self._decode(msg)
        if obj is None:
            return
        try:
            message = wire.parse_book(obj)
        except wire.WireError as exc:
            self.bad_messages += 1
            log.debug("%s: refused a book message: %s", self.name, exc)
            return
        if message.venue != self.source or (self._markets and message.symbol not in self._markets):
            # Another venue or symbol sharing the subject token, or one this venue does not list.
            # Before the markets are known every book is kept: a delta dropped now would make
            # the first snapshot look complete when it is not.
            return
        fb = self._books.get(message.symbol)
        if fb is None:
            fb = self._books[message.symbol] = _FeedBook()
        if message.epoch != fb.high_epoch:
            # A new collector run (its first message of a book is a snapshot): start over.
            fb.high_epoch, fb.high_seq = message.epoch, 0
            fb.buffer.clear()
            if fb.book is not None and message.kind == "delta":
                self._mark_gap(fb, "the collector restarted")
        fb.high_seq = max(fb.high_seq, message.seq)
        book = fb.book
        if message.kind == "snapshot":
            if book is not None and book.epoch == message.epoch and message.seq <= book.seq:
                return  # already there
            fresh = wire.L2Book(message)
            for delta in sorted((d for d in fb.buffer if d.seq > fresh.seq), key=lambda d: d.seq):
                if not fresh.follows(delta):
                    break
                fresh.apply(delta)
            if fresh.seq < fb.high_seq:
                return  # older than updates already seen: wait for a newer snapshot
            fb.buffer.clear()
            if book is None:
                self.resyncs += 1
            fb.book = fresh
            self._updated(fb, message)
            return
        if book is None:
            fb.buffer.append(message)
            return
        if book.follows(message):
            book.apply(message)
            self._updated(fb, message)
            return
        if message.seq <= book.seq:
            return  # a repeat
        self._mark_gap(fb, f"sequence gap: got {message.seq}, expected {book.seq + 1}")
        fb.buffer.append(message)
        asyncio.ensure_future(self._resync(message.symbol))

    def _updated(self, fb: _FeedBook, message: wire.BookMessage) -> None:
        fb.version += 1
        fb.waiter.set()
        self.hops_ms.append((self._clock() - message.sent) * 1000.0)

    async def _on_trades(self, msg: Any) -> None:
        obj = self._decode(msg)
        if obj is None:
            return
        try:
            trades = wire.parse_trades(obj)
        except wire.WireError:
            self.bad_messages += 1
            return
        for trade in trades:
            self._trades.setdefault(trade.symbol, deque(maxlen=TRADES_KEPT)).append(trade)

    async def _on_ticker(self, msg: Any) -> None:
        obj = self._decode(msg)
        if obj is None:
            return
        try:
            ticker = wire.parse_ticker(obj)
        except wire.WireError:
            self.bad_messages += 1
            return
        self._tickers[ticker.symbol] = ticker

    async def _on_health(self, msg: Any) -> None:
        obj = self._decode(msg)
        if obj is None:
            return
        try:
            self._health = wire.parse_health(obj)
        except wire.WireError:
            self.bad_messages += 1
            return
        self._health_at = time.monotonic()

    async def _on_markets(self, msg: Any) -> None:
        obj = self._decode(msg)
        if obj is None:
            return
        try:
            markets = wire.parse_markets(obj)
        except wire.WireError:
            self.bad_messages += 1
            return
        if self.symbols:
            markets = {s: m for s, m in markets.items() if s in self.symbols}
        self._markets = markets

    # ---- the Venue protocol: market data

    async def load_markets(self) -> Mapping[str, Market]:
        if self.trade_on is not None:
            traded = await self.trade_on.load_markets()
            # The trading venue's rules decide what an order may be.
            return {s: traded.get(s, m) for s, m in self._markets.items()}
        return dict(self._markets)

    async def watch_order_book(self, symbol: str, depth: int) -> BookSnapshot:
        fb = self._books.get(symbol)
        if fb is None:
            fb = self._books[symbol] = _FeedBook()
        while True:
            if self._closed:
                raise VenueUnavailable(f"{self.name}: closed")
            if fb.gap:
                why, fb.gap = fb.gap, ""
                raise BookGap(f"{why}; resyncing from the last snapshot", venue=self.name, symbol=symbol)
            if fb.book is not None and fb.version != self._seen.get(symbol):
                self._seen[symbol] = fb.version
                snapshot = fb.book.snapshot(depth)
                # The book is named after this venue; its sequence is the collector's.
                return BookSnapshot(
                    self.name, symbol, snapshot.bids, snapshot.asks, snapshot.timestamp, snapshot.sequence
                )
            fb.waiter.clear()
            await fb.waiter.wait()

    def book_gaps(self, symbol: str) -> int:
        fb = self._books.get(symbol)
        return fb.gaps if fb is not None else 0

    def is_live(self, symbol: str) -> bool:
        fb = self._books.get(symbol)
        return fb is not None and fb.book is not None

    async def fetch_trades(self, symbol: str, limit: int = 100, since: float | None = None) -> Sequence[Trade]:
        trades = [t for t in self._trades.get(symbol, ()) if since is None or t.time >= since]
        return trades[-limit:]

    async def fetch_tickers(self, symbols: Sequence[str] | None = None) -> Mapping[str, Ticker24h]:
        return {s: t for s, t in self._tickers.items() if symbols is None or s in symbols}

    # ---- health

    def collector_health(self) -> wire.CollectorHealth | None:
        return self._health

    def bus_hop_ms(self) -> float | None:
        return self.hops_ms[-1] if self.hops_ms else None

    async def ping(self) -> float:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise VenueUnavailable(f"bus: not connected to {self.nats_url}")
        started = time.perf_counter()
        await nc.flush(timeout=2)
        rtt_ms = (time.perf_counter() - started) * 1000.0
        health = self._health
        silent = None if self._health_at is None else time.monotonic() - self._health_at
        hop = self.bus_hop_ms()
        hop_text = f"; bus hop {hop:.1f} ms" if hop is not None else ""
        collector = health.health if health is not None else None
        self.probe = (
            f"feed {self.source}: collector's probe ({plain_text(collector.probe) if collector else '—'}) "
            f"+ bus round trip{hop_text}"
        )
        if collector is None or silent is None or silent > self.collector_silent_s:
            said = "never heard from" if silent is None else f"silent for {silent:.0f} s"
            raise VenueUnavailable(f"collector {said} (no health on md.{self.source}.health)")
        if collector.status is HealthStatus.DOWN:
            raise VenueUnavailable(
                f"collector: {self.source} is down: {plain_text(collector.last_error) or 'no reason given'}"
            )
        return (collector.latency_ms or 0.0) + rtt_ms

    def rate_limit_text(self) -> str:
        """Non-empty while the collector reports the venue degraded (the service then shows
        this venue degraded with this text)."""
        health = self._health
        if health is None or health.health.status is not HealthStatus.DEGRADED:
            return ""
        if self._health_at is None or time.monotonic() - self._health_at > self.collector_silent_s:
            return ""  # an old report: the collector is silent (ping says so), not degraded
        reason = plain_text(health.health.last_error) or "slow or stale at the collector"
        return f"collector: {self.source} degraded: {reason}"

    # ---- the Venue protocol: account and orders (never over the bus)

    def _watch_only(self) -> OrderRejected:
        return OrderRejected(f"{self.name}: a watch-only feed venue; name a venue to trade on with trade_on")

    async def fetch_balances(self) -> Mapping[str, Balance]:
        return await self.trade_on.fetch_balances() if self.trade_on is not None else {}

    async def fetch_open_orders(self) -> Sequence[Order]:
        if self.trade_on is None:
            return ()
        return [self._to_trade_venue(o) for o in await self.trade_on.fetch_open_orders()]

    async def fetch_closed_orders(self, limit: int = 100) -> Sequence[Order]:
        if self.trade_on is None:
            return ()
        return [self._to_trade_venue(o) for o in await self.trade_on.fetch_closed_orders(limit)]

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None:
        if self.trade_on is None:
            return None
        found = await self.trade_on.fetch_order_by_client_id(client_order_id, symbol)
        return self._to_trade_venue(found) if found is not None else None

    def _to_trade_venue(self, order: Order) -> Order:
        """Orders at the trading venue, named after this venue (the one the dashboard shows)."""
        from dataclasses import replace

        return replace(order, venue=self.name) if order.venue != self.name else order

    async def place_order(self, request: OrderRequest) -> Order:
        if self.trade_on is None:
            raise self._watch_only()
        from dataclasses import replace

        order = await self.trade_on.place_order(replace(request, venue=self.trade_on.name))
        return self._to_trade_venue(order)

    async def cancel_order(self, order_id: str, symbol: str) -> Order:
        if self.trade_on is None:
            raise self._watch_only()
        return self._to_trade_venue(await self.trade_on.cancel_order(order_id, symbol))


def feed_venues_for(config: Any, built: Sequence[Venue]) -> list[Venue]:
    """The config's venues in its order: feed venues made here around the venue each trades
    on (if any), which then does not run on its own; ``built``: the other venues."""
    from aitbc_tui.config import ConfigError

    by_name = {v.name: v for v in built}
    traded = {v.trade_on for v in config.venues if v.mode is Mode.FEED and v.trade_on}
    out: list[Venue] = []
    for vc in config.venues:
        if vc.mode is Mode.FEED:
            try:
                tls = bus.BusTls(*(Path(f) if f else None for f in (vc.tls_ca, vc.tls_cert, vc.tls_key)))
                if tls.given:
                    try:
                        bus.tls_context(tls, "tls")  # a missing or bad file is refused now, not at start
                    except bus.TlsFileError as exc:
                        raise ConfigError(config.path, f"venues.{vc.name}.tls_{exc.option}", exc.problem) from None
                venue = FeedVenue(vc.name, vc.feed, source=vc.source, symbols=vc.symbols, login=vc.login,
                                  trade_on=by_name.get(vc.trade_on) if vc.trade_on else None,
                                  tls=tls if tls.given else None)  # fmt: skip
            except bus.BusError as exc:
                raise ConfigError(config.path, f"venues.{vc.name}.feed", str(exc)) from None
            venue.read_only = venue.read_only or vc.read_only
            out.append(venue)
        elif vc.name not in traded and vc.name in by_name:
            out.append(by_name[vc.name])
    return out


__all__ = ["BookGap", "FeedVenue", "feed_venues_for"]
