"""The feed collector: connects each venue once and publishes its market data on the bus.

The venues run inside the ordinary ``MarketService`` (its supervision, reconnects, backoff
and health rules, exactly as the dashboard runs them); each venue is wrapped in a
``_Tap`` that publishes every book the service receives and has no account at all (the
collector never trades and holds no keys).

Per book: every update gets the next sequence number of this collector run (``epoch``) and
goes out as a delta on core NATS; a full snapshot goes to the JetStream stream of last
values (one message per subject) on the first update and then at most every
``snapshot_interval_s``, so a dashboard that starts late, or one that saw a gap, has a
recent snapshot at once. Health goes out every ``health_interval_s``. After the bus comes
back (a NATS restart) the stream is made again and every last value republished.

Without a bus (``sink``, as ``record`` uses it without ``--nats``) the same messages, with the
same subjects, go to ``sink(subject, payload)`` instead, in the order they would be published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aitbc_tui.desk import bus, wire
from aitbc_tui.domain import Balance, BookSnapshot, Market, Order, OrderRejected, OrderRequest, PriceLevel
from aitbc_tui.sanitize import BadData, check_book
from aitbc_tui.venues.base import Venue

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 5.0


@dataclass
class _BookState:
    seq: int = 0
    bids: tuple[PriceLevel, ...] = ()
    asks: tuple[PriceLevel, ...] = ()
    timestamp: float = 0.0
    snapshot_at: float | None = None  # monotonic time of the last snapshot published
    held: bool = False  # fault injection: a delta was dropped; no keyframe until the next delta


@dataclass
class CollectorStats:
    deltas: int = 0
    snapshots: int = 0
    dropped: int = 0  # updates not sent while the bus was away (consumers see a gap)
    republished: int = 0  # last values sent again after a reconnect
    reconnects: int = 0
    trades: int = 0
    tickers: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class _Tap:
    """A venue as the collector runs it: market data passes through and is published;
    no balances, no orders."""

    read_only = True

    def __init__(self, inner: Venue, collector: Collector) -> None:
        self.inner = inner
        self.name = inner.name
        self.mode = inner.mode
        self._collector = collector
        self.probe: str = getattr(inner, "probe", "")

    async def start(self) -> None:
        await self.inner.start()
        self.probe = getattr(self.inner, "probe", "")

    async def close(self) -> None:
        await self.inner.close()

    async def load_markets(self) -> Mapping[str, Market]:
        markets = dict(await self.inner.load_markets())
        await self._collector.markets_loaded(self.name, markets)
        return markets

    async def watch_order_book(self, symbol: str, depth: int) -> BookSnapshot:
        snapshot = await self.inner.watch_order_book(symbol, depth)
        try:
            check_book(snapshot)
        except BadData:
            self._collector.book_refused(self.name, symbol)
            raise
        await self._collector.book_received(snapshot)
        return snapshot

    async def ping(self) -> float:
        return await self.inner.ping()

    async def fetch_balances(self) -> Mapping[str, Balance]:
        return {}

    async def fetch_open_orders(self) -> Sequence[Order]:
        return ()

    async def fetch_closed_orders(self, limit: int = 100) -> Sequence[Order]:
        return ()

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None:
        return None

    async def place_order(self, request: OrderRequest) -> Order:
        raise OrderRejected(f"{self.name}: the feed collector does not trade")

    async def cancel_order(self, order_id: str, symbol: str) -> Order:
        raise OrderRejected(f"{self.name}: the feed collector does not trade")


class Collector:
    def __init__(
        self,
        venues: Sequence[Venue],
        nats_url: str | None,
        *,
        depth: int = 50,
        snapshot_interval_s: float = 1.0,
        health_interval_s: float = 1.0,
        trades_interval_s: float | None = 2.0,
        tickers_interval_s: float | None = 10.0,
        token: str | None = None,
        tls: bus.BusTls | None = None,
        clock: Callable[[], float] = time.time,
        reconnect_wait_s: float = 0.5,
        login: bus.BusLogin | None = None,
        sink: Callable[[str, bytes], Awaitable[None]] | None = None,
    ) -> None:
        from aitbc_tui.service import MarketService

        if (nats_url is None) == (sink is None):
            raise ValueError("a collector publishes on a bus (nats_url) or to a sink, one of the two")
        self._login = login
        self._sink = sink
        self.nats_url = bus.check_nats_url(nats_url) if nats_url is not None else None
        self.epoch = f"{int(clock())}-{secrets.token_hex(4)}"
        self.depth = depth
        self.snapshot_interval_s = snapshot_interval_s
        self.health_interval_s = health_interval_s
        self.trades_interval_s = trades_interval_s
        self.tickers_interval_s = tickers_interval_s
        self._token = token
        self._tls = tls
        self._clock = clock
        self._reconnect_wait_s = reconnect_wait_s
        self.taps = [_Tap(v, self) for v in venues]
        self.service = MarketService(
            self.taps, book_depth=depth, health_interval_s=health_interval_s, account_interval_s=3600, read_only=True
        )
        self._books: dict[tuple[str, str], _BookState] = {}
        self._markets: dict[str, dict[str, Market]] = {}
        self._nc: Any = None
        self._js: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seen_trades: dict[tuple[str, str], set[str]] = {}
        self.stats = CollectorStats()
        self._drop_deltas = 0
        self.connected = asyncio.Event()

    # ---- lifecycle

    async def start(self) -> None:
        if self.nats_url is None:
            self.connected.set()
            await self._start_tasks()
            return
        self._nc = await bus.connect(
            self.nats_url,
            name=f"aitbc-collector-{self.epoch}",
            login=self._login,
            token=self._token,
            tls=self._tls,
            on_reconnect=self._on_reconnect,
            on_disconnect=self._on_disconnect,
            reconnect_wait_s=self._reconnect_wait_s,
        )
        self._js = self._nc.jetstream()
        await bus.ensure_stream(self._js)
        self.connected.set()
        await self._start_tasks()

    async def _start_tasks(self) -> None:
        await self.service.start()
        self._tasks.append(asyncio.create_task(self._loop(self._publish_health, self.health_interval_s), name="health"))
        self._tasks.append(asyncio.create_task(self._loop(self._keyframes, self.snapshot_interval_s), name="keyframes"))
        if self.trades_interval_s:
            self._tasks.append(
                asyncio.create_task(self._loop(self._poll_trades, self.trades_interval_s), name="trades")
            )
        if self.tickers_interval_s:
            self._tasks.append(
                asyncio.create_task(self._loop(self._poll_tickers, self.tickers_interval_s), name="tickers")
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.service.stop()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), CLOSE_TIMEOUT_S)  # a stop never hangs on the bus

    async def _loop(self, step: Callable[[], Any], interval_s: float) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - counted and logged; the loop goes on
                name = getattr(step, "__name__", "step")
                self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
                log.warning("collector %s failed: %s", name, type(exc).__name__, exc_info=True)
            await asyncio.sleep(interval_s)

    @property
    def bus_connected(self) -> bool:
        if self._sink is not None:
            return True
        return self._nc is not None and self._nc.is_connected

    async def _on_disconnect(self) -> None:
        self.connected.clear()

    async def _on_reconnect(self) -> None:
        """The server may be a new one (memory stream gone): make the stream again and send
        every last value, so late joiners and consumers that saw a gap have a snapshot."""
        self.stats.reconnects += 1
        try:
            await bus.ensure_stream(self._js)
        except Exception as exc:  # noqa: BLE001 - JetStream not ready yet: the next health round retries
            log.warning("collector: stream not made after reconnect: %s", type(exc).__name__)
        self.connected.set()
        await self.republish()

    async def republish(self) -> None:
        sent = self._clock()
        for venue, markets in self._markets.items():
            await self._send(wire.markets_subject(venue), wire.markets_bytes(venue, markets, sent))
        for (venue, symbol), state in self._books.items():
            if state.seq:
                await self._send_snapshot(venue, symbol, state)
                self.stats.republished += 1
        await self._publish_health()

    # ---- publishing

    async def _send(self, subject: str, payload: bytes) -> bool:
        if self._sink is not None:
            await self._sink(subject, payload)
            return True
        if not self.bus_connected:
            return False
        try:
            await self._nc.publish(subject, payload)
        except Exception as exc:  # noqa: BLE001 - the bus went away mid-publish
            log.debug("publish %s failed: %s", subject, type(exc).__name__)
            return False
        return True

    async def markets_loaded(self, venue: str, markets: dict[str, Market]) -> None:
        self._markets[venue] = markets
        await self._send(wire.markets_subject(venue), wire.markets_bytes(venue, markets, self._clock()))

    def book_refused(self, venue: str, symbol: str) -> None:
        # The next good book starts over with a snapshot: consumers never keep a refused one live.
        state = self._books.get((venue, symbol))
        if state is not None:
            state.bids, state.asks, state.snapshot_at = (), (), None

    async def book_received(self, snapshot: BookSnapshot) -> None:
        """Number and publish one update (awaited in the book's own task, so a book's
        messages leave in sequence order)."""
        key = (snapshot.venue, snapshot.symbol)
        state = self._books.get(key)
        if state is None:
            state = self._books[key] = _BookState()
        bid_changes = wire.diff_levels(state.bids, snapshot.bids)
        ask_changes = wire.diff_levels(state.asks, snapshot.asks)
        state.seq += 1
        state.bids, state.asks, state.timestamp = snapshot.bids, snapshot.asks, snapshot.timestamp
        now = time.monotonic()
        if not self.bus_connected:
            self.stats.dropped += 1
            return
        sent = self._clock()
        if state.snapshot_at is not None and self._drop_deltas:
            self._drop_deltas -= 1
            self.stats.dropped += 1
            state.held = True  # and no keyframe heals it before the next delta shows the gap
            return  # lost on the way, snapshot and all
        if state.snapshot_at is not None:
            delta = wire.BookMessage("delta", key[0], key[1], self.epoch, state.seq, state.timestamp, sent,
                                     bid_changes, ask_changes)  # fmt: skip
            await self._send(wire.subject(key[0], key[1], "delta"), delta.to_bytes())
            self.stats.deltas += 1
            state.held = False
        if state.snapshot_at is None or now - state.snapshot_at >= self.snapshot_interval_s:
            state.snapshot_at = now
            await self._send(wire.subject(key[0], key[1], "book"), self._snapshot_message(key[0], key[1], state, sent))
            self.stats.snapshots += 1

    def _snapshot_message(self, venue: str, symbol: str, state: _BookState, sent: float) -> bytes:
        return wire.BookMessage(
            "snapshot", venue, symbol, self.epoch, state.seq, state.timestamp, sent, state.bids, state.asks
        ).to_bytes()

    async def _send_snapshot(self, venue: str, symbol: str, state: _BookState) -> None:
        state.snapshot_at = time.monotonic()
        await self._send(
            wire.subject(venue, symbol, "book"), self._snapshot_message(venue, symbol, state, self._clock())
        )

    async def _keyframes(self) -> None:
        """A snapshot of every book not snapshotted within the interval, changed or not: a
        consumer that saw a gap in a quiet market is live again within the interval."""
        now = time.monotonic()
        for (venue, symbol), state in list(self._books.items()):
            if (
                state.seq
                and not state.held
                and (state.snapshot_at is None or now - state.snapshot_at >= self.snapshot_interval_s)
            ):
                await self._send_snapshot(venue, symbol, state)
                self.stats.snapshots += 1

    def drop_next_deltas(self, count: int) -> None:
        """Fault injection (tests, drills): the next ``count`` deltas are numbered but not
        sent, as if the bus had lost them; consumers must see the gap and resync."""
        self._drop_deltas += count

    async def _publish_health(self) -> None:
        sent = self._clock()
        for health in self.service.health():
            await self._send(wire.health_subject(health.venue), wire.health_bytes(health, sent, epoch=self.epoch))

    async def _poll_trades(self) -> None:
        from aitbc_tui.venues.base import fetch_trades

        for tap in self.taps:
            if getattr(tap.inner, "fetch_trades", None) is None:
                continue
            for symbol in self.service.markets(tap.name):
                trades = await fetch_trades(tap.inner, symbol, limit=100)
                seen = self._seen_trades.setdefault((tap.name, symbol), set())
                new = [t for t in trades if t.id not in seen]
                if not new:
                    continue
                if len(seen) > 5000:
                    seen.clear()
                seen.update(t.id for t in new)
                await self._send(wire.subject(tap.name, symbol, "trades"),
                                 wire.trades_bytes(tap.name, symbol, new, self._clock()))  # fmt: skip
                self.stats.trades += len(new)

    async def _poll_tickers(self) -> None:
        from aitbc_tui.venues.base import fetch_tickers

        for tap in self.taps:
            if getattr(tap.inner, "fetch_tickers", None) is None:
                continue
            symbols = list(self.service.markets(tap.name))
            if not symbols:
                continue
            tickers = await fetch_tickers(tap.inner, symbols)
            sent = self._clock()
            for ticker in tickers.values():
                await self._send(
                    wire.subject(tap.name, ticker.symbol, "ticker"), wire.ticker_bytes(tap.name, ticker, sent)
                )
                self.stats.tickers += 1


def collector_venues(config: Any, *, seed: int | None = None) -> list[Venue]:
    """The venues a collector runs: the config's, with public market data only (no keys
    are read; a live venue's public feed is the paper venue's); none configured: the sandbox."""
    from dataclasses import replace

    from aitbc_tui.domain import Mode

    if config.is_sandbox:
        from aitbc_tui.venues import sim

        _world, venues = sim.create_sandbox_venues(seed=seed)
        return list(venues)
    from aitbc_tui.config import ConfigError
    from aitbc_tui.venues.ccxt_venue import CcxtVenue

    out: list[Venue] = []
    for venue in config.venues:
        if venue.mode is Mode.FEED:
            raise ConfigError(
                config.path,
                f"venues.{venue.name}.mode",
                'a collector reads venues, not a feed; use "paper", "testnet" or "live"',
            )
        public = replace(venue, mode=Mode.PAPER) if venue.mode is Mode.LIVE else venue
        try:
            out.append(CcxtVenue(public, credentials=None))
        except ConfigError as exc:
            raise ConfigError(config.path, exc.key, exc.problem) from None
    return out


__all__ = ["Collector", "CollectorStats", "collector_venues"]
