"""The collector side of bench/bus_bench.py, run as its own process:
``python -m bench.bus_child NATS_URL SECONDS sandbox|paced``."""

from __future__ import annotations

import asyncio
import sys
import time
from decimal import Decimal as D

from aitbc_tui.desk.collector import Collector
from aitbc_tui.domain import BookSnapshot, Market, Mode, OrderRejected


class PacedVenue:
    """Books that change one level at a time, evenly spread: SYMBOLS books, each every PERIOD_S
    (a websocket feed's pace rather than the sandbox's synchronous world steps)."""

    mode = Mode.PAPER
    probe = "paced"
    SYMBOLS, PERIOD_S = 10, 0.02

    def __init__(self, name: str) -> None:
        self.name = name
        self.symbols = [f"S{i}/USDT" for i in range(self.SYMBOLS)]
        self.n = dict.fromkeys(self.symbols, 0)
        self.t0 = time.monotonic()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def load_markets(self):
        one = D("0.001")
        return {s: Market(s, s.split("/")[0], "USDT", D("0.01"), one, one, D("1"), one, one) for s in self.symbols}

    async def watch_order_book(self, symbol: str, depth: int) -> BookSnapshot:
        i = self.symbols.index(symbol)
        self.n[symbol] += 1
        k = self.n[symbol]
        due = self.t0 + k * self.PERIOD_S + i * self.PERIOD_S / self.SYMBOLS
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        changed = k % depth
        bids = tuple((D(1000) - D(j) / 100, D(1) + (D(k % 7) if j == changed else 0)) for j in range(depth))
        asks = tuple((D(1001) + D(j) / 100, D(1)) for j in range(depth))
        return BookSnapshot(self.name, symbol, bids, asks, time.time(), k)

    async def ping(self) -> float:
        return 1.0

    async def fetch_balances(self):
        return {}

    async def fetch_open_orders(self):
        return []

    async def fetch_closed_orders(self, limit: int = 100):
        return []

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str):
        return None

    async def place_order(self, request):
        raise OrderRejected("bench venue")

    async def cancel_order(self, order_id: str, symbol: str):
        raise OrderRejected("bench venue")


async def main(url: str, seconds: float, source: str) -> None:
    if source == "paced":
        venues = [PacedVenue("binance")]
    else:
        from aitbc_tui.venues.sim import create_sandbox_venues

        _world, venues = create_sandbox_venues(seed=7, reset=True, latency=False, persist=False)
    collector = Collector(venues, url, depth=20, trades_interval_s=None, tickers_interval_s=None)
    await collector.start()
    print("ready", flush=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu = 100.0 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    s = collector.stats
    print(f"{s.deltas} deltas, {s.snapshots} snapshots, CPU {cpu:.0f}% of a core", flush=True)
    await collector.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
