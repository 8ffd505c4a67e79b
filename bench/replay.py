"""A bench-only Venue: replays Binance-style depth diffs at a fixed rate.

One ReplayFeed drives every (venue, symbol) book round-robin at ``rate_hz`` updates per
second in total. Each update is applied to a real aitbc_tui.book.OrderBook and gets a
sequence number (per book, from 1) and a send time (time.perf_counter()), so a benchmark
can match it to the frame that first shows it. ReplayVenue implements the protocol in
aitbc_tui/venues/base.py on top of the feed.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

from aitbc_tui.book import OrderBook
from aitbc_tui.domain import Balance, BookSnapshot, Market, Mode, Order, OrderRejected, OrderStatus, OrderType, Side
from bench.book_bench import make_stream


class ReplayFeed:
    def __init__(self, rate_hz: float, keys: list[tuple[str, str]], levels: int = 500, seed: int = 1) -> None:
        self.rate_hz = rate_hz
        self.keys = keys
        snapshot, texts = make_stream(levels, 4000, seed=seed)
        self._diffs = [json.loads(t)["data"] for t in texts]
        self.books: dict[tuple[str, str], OrderBook] = {}
        self.sent: dict[tuple[str, str], list[float]] = {}  # sent[key][seq - 1] = perf_counter at send
        self._events: dict[tuple[str, str], asyncio.Event] = {}
        for k in keys:
            book = OrderBook(*k)
            book.load_binance_snapshot(snapshot)
            book.sequence = 0
            self.books[k] = book
            self.sent[k] = []
        self.total = 0  # updates sent
        self.limit: int | None = None  # stop after this many
        self.cpu_s = 0.0  # process CPU spent producing (excluded from nothing; reported)
        self._task: asyncio.Task | None = None
        self._cursor = {k: 0 for k in keys}
        self.done = asyncio.Event()

    def event(self, key) -> asyncio.Event:
        ev = self._events.get(key)
        if ev is None:
            ev = self._events[key] = asyncio.Event()
        return ev

    def start(self) -> None:
        if self._task is None and self.rate_hz > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="replay-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def reset_clock(self) -> None:
        self._t0 = time.perf_counter()
        self._base = self.total

    async def _run(self) -> None:
        self.reset_clock()
        keys = self.keys
        nkeys = len(keys)
        diffs = self._diffs
        ndiffs = len(diffs)
        perf = time.perf_counter
        cpu = time.process_time
        while True:
            # Sleep until the next update is due (at least 1 ms), as a socket delivering
            # messages at this rate would wake the loop; a fixed 1 ms poll cost the
            # dashboard process ~8% of a core by itself, idle or not.
            ahead = (self.total + 1 - self._base) / self.rate_hz - (perf() - self._t0) if self.rate_hz > 0 else 0.05
            await asyncio.sleep(min(0.05, max(0.001, ahead)))
            c0 = cpu()
            due = self._base + int((perf() - self._t0) * self.rate_hz) - self.total
            if self.limit is not None:
                due = min(due, self.limit - self.total)
            touched = set()
            for _ in range(due):
                key = keys[self.total % nkeys]
                book = self.books[key]
                i = self._cursor[key]
                self._cursor[key] = (i + 1) % ndiffs
                d = diffs[i]
                book.apply_binance_depth(d)
                sent = self.sent[key]
                sent.append(perf())
                book.sequence = len(sent)
                self.total += 1
                touched.add(key)
            for key in touched:
                ev = self._events.get(key)
                if ev is not None:
                    ev.set()
            self.cpu_s += cpu() - c0
            if self.limit is not None and self.total >= self.limit:
                self.done.set()
                self._task = None  # start() resumes the feed after the limit is raised
                return


def _market(symbol: str) -> Market:
    base, quote = symbol.split("/")
    return Market(
        symbol,
        base,
        quote,
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("0.00001"),
        Decimal("5"),
        Decimal("0.001"),
        Decimal("0.001"),
    )


class ReplayVenue:
    mode = Mode.SANDBOX
    probe = "replay (in process)"

    def __init__(self, feed: ReplayFeed, name: str, symbols: list[str]) -> None:
        self.feed = feed
        self.name = name
        self.symbols = symbols
        self._seen: dict[str, int] = {}
        self._orders_version = 0
        self._last_change = 0.0
        now = time.time()
        self._orders = [
            Order(
                name,
                f"{name}-{i}",
                f"cid-{i}",
                symbols[0],
                Side.BUY if i % 2 else Side.SELL,
                OrderType.LIMIT,
                Decimal("29000") + i,
                Decimal("0.5"),
                Decimal("0"),
                OrderStatus.OPEN,
                now - 60 * i,
                now,
            )
            for i in range(3)
        ]

    async def start(self) -> None:
        self.feed.start()

    async def close(self) -> None:
        await self.feed.stop()

    async def load_markets(self):
        return {s: _market(s) for s in self.symbols}

    async def watch_order_book(self, symbol: str, depth: int) -> BookSnapshot:
        key = (self.name, symbol)
        book = self.feed.books[key]
        while self._seen.get(symbol, -1) == book.sequence:
            ev = self.feed.event(key)
            ev.clear()
            await ev.wait()
        self._seen[symbol] = book.sequence
        return book.snapshot(depth=depth, timestamp=time.time())

    async def fetch_balances(self):
        return {"BTC": Balance("BTC", Decimal("1.5")), "USDT": Balance("USDT", Decimal("100000"))}

    async def fetch_open_orders(self):
        # The orders pane stays live: one order fills a little more every second.
        now = time.time()
        if now - self._last_change >= 1.0:
            self._last_change = now
            o = self._orders[0]
            filled = (o.filled + Decimal("0.001")) % o.amount
            self._orders[0] = Order(
                o.venue,
                o.id,
                o.client_order_id,
                o.symbol,
                o.side,
                o.type,
                o.price,
                o.amount,
                filled,
                o.status,
                o.created_at,
                now,
            )
        return tuple(self._orders)

    async def fetch_closed_orders(self, limit: int = 100):
        return ()

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str):
        return None

    async def place_order(self, request):
        raise OrderRejected("replay venue does not trade")

    async def cancel_order(self, order_id: str, symbol: str):
        raise OrderRejected("replay venue does not trade")

    async def ping(self) -> float:
        t0 = time.perf_counter()
        await asyncio.sleep(0)
        return (time.perf_counter() - t0) * 1000.0


def replay_venues(rate_hz: float, venues: int = 4, symbols: tuple[str, ...] = ("BTC/USDT",)):
    names = [f"replay{i}" for i in range(venues)]
    feed = ReplayFeed(rate_hz, [(n, s) for n in names for s in symbols])
    return feed, [ReplayVenue(feed, n, list(symbols)) for n in names]
