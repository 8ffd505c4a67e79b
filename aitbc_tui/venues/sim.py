"""The sandbox venue: the Venue protocol on top of one engine of the in-process SandboxWorld."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from aitbc_tui.domain import (
    Balance,
    BookSnapshot,
    FeatureUnavailable,
    Market,
    Mode,
    Order,
    OrderRejected,
    OrderRequest,
    Transfer,
)
from aitbc_tui.market_data import TIMEFRAMES, Candle, Ticker24h, Trade
from aitbc_tui.sim.engine import RECENT_TRADES, BookDelta, OrderUpdated, TradeExecuted
from aitbc_tui.sim.specs import OPERATOR
from aitbc_tui.sim.world import SandboxWorld, open_world


class LatencyModel:
    """Simulated network round trip: base + seeded jitter, with a rare spike."""

    def __init__(self, base_ms: float, jitter_ms: float, seed: int) -> None:
        self.base_ms = base_ms
        self.jitter_ms = jitter_ms
        self.rng = random.Random(seed)

    def sample_s(self) -> float:
        ms = self.base_ms + self.rng.uniform(0, self.jitter_ms)
        if self.rng.random() < 0.02:
            ms *= 3
        return ms / 1000.0


class SimVenue:
    mode = Mode.SANDBOX
    probe = "in-process engine round trip"

    def __init__(self, world: SandboxWorld, venue: str, account: str = OPERATOR,
                 latency: LatencyModel | None = None, autostart_ticks: bool = True) -> None:  # fmt: skip
        self.world = world
        self.name = venue
        self.engine = world.engine(venue)
        self.account = account
        self.latency = latency
        self.autostart_ticks = autostart_ticks
        self._waiters: dict[str, asyncio.Event] = {}
        self._seen: dict[str, int] = {}
        self._started = False
        # The operator's order updates as the engine makes them (the sandbox's user stream).
        self._updates: list[tuple[Order, tuple]] = []
        self._updates_ready = asyncio.Event()
        # Public trades of the symbols someone watches (watch_trades), newest last.
        self._trade_queues: dict[str, deque[Trade]] = {}
        self._trade_waiters: dict[str, asyncio.Event] = {}

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.engine.add_listener(self._on_event)
        if self.autostart_ticks:
            self.world.acquire()

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        self.engine.remove_listener(self._on_event)
        for event in self._waiters.values():
            event.set()
        self._waiters.clear()
        self._updates_ready.set()
        for waiter in self._trade_waiters.values():
            waiter.set()
        if self.autostart_ticks:
            await self.world.release()

    def _on_event(self, event: object) -> None:
        if isinstance(event, OrderUpdated):
            if event.account == self.account:
                self._updates.append((event.order, event.fills))
                self._updates_ready.set()
            return
        if isinstance(event, TradeExecuted):
            queue = self._trade_queues.get(event.trade.symbol)
            if queue is not None:
                trade = event.trade
                if self.account in (event.maker_account, event.taker_account):
                    trade = dataclasses.replace(trade, own=True)
                queue.append(trade)
                waiter = self._trade_waiters.get(trade.symbol)
                if waiter is not None:
                    waiter.set()
            return
        if isinstance(event, BookDelta):
            waiter = self._waiters.pop(event.symbol, None)
            if waiter is not None:
                waiter.set()

    async def _network(self) -> None:
        await asyncio.sleep(self.latency.sample_s() if self.latency else 0)

    # ---- market data ------------------------------------------------------------------

    async def load_markets(self) -> Mapping[str, Market]:
        await self._network()
        return dict(self.engine.markets)

    async def watch_order_book(self, symbol: str, depth: int) -> BookSnapshot:
        if symbol not in self.engine.markets:
            raise OrderRejected(f"{self.name} does not list {symbol}")
        while self._seen.get(symbol) == self.engine.sequence(symbol):
            waiter = self._waiters.get(symbol)
            if waiter is None:
                waiter = self._waiters[symbol] = asyncio.Event()
            await waiter.wait()
            if not self._started:
                break
        snapshot = self.engine.book(symbol, depth)
        self._seen[symbol] = snapshot.sequence
        return snapshot

    # ---- public trades, candles, 24 h figures (from the engine's own trades) ---------------

    def _require_symbol(self, symbol: str) -> None:
        if symbol not in self.engine.markets:
            raise OrderRejected(f"{self.name} does not list {symbol}")

    async def fetch_trades(self, symbol: str, limit: int = 100, since: float | None = None) -> list[Trade]:
        """The newest ``limit`` trades (at or after ``since``), oldest first; own ones marked."""
        self._require_symbol(symbol)
        await self._network()
        trades = self.engine.recent_trades(symbol, None if since is not None else limit, account=self.account)
        if since is not None:
            trades = [t for t in trades if t.time >= since][:limit]
        return trades

    async def watch_trades(self, symbol: str) -> list[Trade]:
        """The trades made since the previous call (the first call waits for the next trade);
        an empty list once the venue is closed."""
        self._require_symbol(symbol)
        queue = self._trade_queues.get(symbol)
        if queue is None:
            queue = self._trade_queues[symbol] = deque(maxlen=RECENT_TRADES)
        while not queue and self._started:
            waiter = self._trade_waiters.get(symbol)
            if waiter is None:
                waiter = self._trade_waiters[symbol] = asyncio.Event()
            waiter.clear()
            await waiter.wait()
        trades = list(queue)
        queue.clear()
        return trades

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", limit: int = 100,
                          since: float | None = None) -> list[Candle]:  # fmt: skip
        """Candles built from the engine's trades, oldest first (buckets without trades omitted)."""
        self._require_symbol(symbol)
        if timeframe not in TIMEFRAMES:
            raise FeatureUnavailable(f"{self.name} has no {timeframe!r} candles; timeframes: {', '.join(TIMEFRAMES)}")
        await self._network()
        candles = self.engine.candles(symbol, timeframe, None if since is not None else limit, since)
        return candles[:limit] if since is not None else candles

    async def fetch_tickers(self, symbols: Sequence[str] | None = None) -> dict[str, Ticker24h]:
        """24 h figures from the engine's trades (with the current best bid / ask)."""
        wanted = list(self.engine.markets) if symbols is None else list(symbols)
        for symbol in wanted:
            self._require_symbol(symbol)
        await self._network()
        return {symbol: self.engine.ticker(symbol) for symbol in wanted}

    # ---- account -----------------------------------------------------------------------

    async def fetch_balances(self) -> Mapping[str, Balance]:
        await self._network()
        return self.engine.balances(self.account)

    async def fetch_open_orders(self) -> Sequence[Order]:
        await self._network()
        return self.engine.open_orders(self.account)

    async def fetch_transfers(self, since: float | None = None) -> Sequence[Transfer]:
        """The engine's ledger: the start funding (deposits at the sandbox's creation, see
        ``SandboxWorld``) and any deposit or withdrawal made since."""
        await self._network()
        return self.engine.transfers(self.account, since)

    async def fetch_closed_orders(self, limit: int = 100) -> Sequence[Order]:
        await self._network()
        return self.engine.closed_orders(self.account, limit)

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None:
        await self._network()
        order = self.engine.get_order(self.account, client_order_id=client_order_id)
        return order if order is not None and order.symbol == symbol else None

    async def watch_order_updates(self) -> list[tuple[Order, tuple]] | None:
        """The next batch of the operator's order updates (fills with trade ids, cancels,
        expiries), as the engine made them; None once the venue is closed."""
        while not self._updates:
            if not self._started:
                return None
            self._updates_ready.clear()
            await self._updates_ready.wait()
        updates, self._updates = self._updates, []
        if self.latency is not None:
            await self._network()  # a push travels the simulated network too
        return updates

    async def place_order(self, request: OrderRequest) -> Order:
        if request.venue and request.venue != self.name:
            raise OrderRejected(f"order for {request.venue} sent to {self.name}")
        await self._network()
        order, _fills = self.engine.place(
            self.account, request.symbol, request.side, request.type, request.amount,
            request.price, request.client_order_id,
            time_in_force=request.time_in_force, post_only=request.post_only,
        )  # fmt: skip
        return order

    async def cancel_order(self, order_id: str, symbol: str) -> Order:
        await self._network()
        return self.engine.cancel(self.account, order_id)

    async def ping(self) -> float:
        """A real round trip through the event loop into the engine (plus simulated network)."""
        started = time.perf_counter()
        await self._network()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        symbol = next(iter(self.engine.markets), None)

        def answer() -> None:
            if not future.done():
                future.set_result(self.engine.sequence(symbol) if symbol else 0)

        loop.call_soon(answer)
        await future
        return (time.perf_counter() - started) * 1000.0


def create_sandbox_venues(
    seed: int | None = None,
    reset: bool = False,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    autostart_ticks: bool = True,
    *,
    latency: bool = True,
    persist: bool = True,
) -> tuple[SandboxWorld, list[SimVenue]]:
    """Build the sandbox world (restored from ``data_dir``, default ``paths.data_dir()``) and one
    SimVenue per simulated exchange.

    ``autostart_ticks``: the first venue's ``start()`` starts ticking the world on the event loop
    and the last ``close()`` stops it; False leaves the world paused for ``world.step()``.
    ``latency``: simulated 5-60 ms network round trips (seeded) on requests and ping.
    ``persist``: False keeps everything in memory (nothing read or written)."""
    world = open_world(seed, reset=reset, data_dir=data_dir, persist=persist, clock=clock)
    venues = []
    for index, (name, spec) in enumerate(world.venue_specs.items()):
        model = (LatencyModel(spec.latency_base_ms, spec.latency_jitter_ms, world.seed + index)
                 if latency else None)  # fmt: skip
        venues.append(SimVenue(world, name, latency=model, autostart_ticks=autostart_ticks))
    return world, venues
