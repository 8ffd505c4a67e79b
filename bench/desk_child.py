"""Child processes of the desk benchmarks (bench/desk_bench.py), one per role:

    python -m bench.desk_child emulator N_SYMBOLS LEVELS CHANGES_PER_S   # binance emulator, prints its URLs
    python -m bench.desk_child dashboard CONFIG                          # a headless dashboard's market data
    python -m bench.desk_child ccxt API_URL WS_URL SYMBOL...             # ccxt.pro alone on the same streams
    python -m bench.desk_child depthbook WS_URL SYMBOL...                # raw frames into aitbc_tui/book

Each prints ``ready`` once it is receiving and runs until stdin closes; the parent reads
CPU time from /proc. The emulator prints ``frames N`` (depth frames sent so far) each second.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
from decimal import Decimal as D
from typing import Any


def _until_stdin_closes(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    def wait() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait, daemon=True).start()


async def emulator(n_symbols: int, levels: int, changes_per_s: float) -> None:
    """The binance emulator on an engine of ``n_symbols`` markets, each a ladder of ``levels``
    per side whose sizes change ``changes_per_s`` times a second in all (random symbol, level)."""
    from aitbc_tui.domain import Market, OrderType, Side
    from aitbc_tui.emulator import binance, start_emulator
    from aitbc_tui.sim.engine import MatchingEngine

    sent = [0]
    original = binance.StreamConnection.send

    async def counting(self: Any, stream: str, data: Any) -> None:
        if "@depth" in stream:
            sent[0] += 1
        await original(self, stream, data)

    binance.StreamConnection.send = counting  # type: ignore[method-assign]
    engine = MatchingEngine("binance")
    engine.set_unlimited("mm", quiet=True)
    rng = random.Random(7)
    orders: dict[str, list[str]] = {}
    for i in range(n_symbols):
        symbol = f"C{i:03d}/USDT"
        engine.add_market(Market(symbol, f"C{i:03d}", "USDT", D("0.01"), D("0.001"), D("0.001"), D("1"),
                                 D("0.001"), D("0.001")))  # fmt: skip
        mid = D(100 + i)
        ids = []
        for j in range(levels):
            for side, price in ((Side.BUY, mid - D(j + 1) / 100), (Side.SELL, mid + D(j + 1) / 100)):
                ids.append(str(engine.place_quiet("mm", symbol, side, OrderType.LIMIT, D("1.000"), price)))
        orders[symbol] = ids
    # Every client here takes a depth snapshot per symbol (limit 1000: weight 50) and the clients
    # run one after another within a minute: Binance's 6,000 a minute would make the later ones
    # wait out 429s inside their measuring window.
    emu = await start_emulator("binance", port=0, engine=engine, simulate=False, fund=False, weight_per_minute=1e9)
    print(f"urls {emu.url} {emu.ws_url}", flush=True)
    stop = asyncio.Event()
    _until_stdin_closes(asyncio.get_running_loop(), stop)
    symbols = list(orders)

    async def move() -> None:
        loop = asyncio.get_running_loop()
        period, due = 0.01, loop.time()
        per_tick = max(1, round(changes_per_s * period))
        while True:
            for _ in range(per_tick):
                symbol = rng.choice(symbols)
                order_id = rng.choice(orders[symbol])
                engine.amend_remaining("mm", order_id, D(rng.randint(1, 9000)) / 1000)
            due += period
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def report() -> None:
        while True:
            print(f"frames {sent[0]}", flush=True)
            await asyncio.sleep(1.0)

    tasks = [asyncio.create_task(move()), asyncio.create_task(report())]
    await stop.wait()
    for t in tasks:
        t.cancel()
    await emu.stop()


async def dashboard(config_path: str) -> None:
    """What a dashboard runs for market data, without painting: the config's venues (a feed
    venue, or a direct ccxt venue) inside the MarketService, every book watched."""
    from aitbc_tui.config import load_config
    from aitbc_tui.service import MarketService
    from aitbc_tui.venues.factory import build_venues

    config = load_config(config_path)
    venues = build_venues(config, credentials={})
    service = MarketService(venues, health_interval_s=1.0, account_interval_s=3600)
    stop = asyncio.Event()
    _until_stdin_closes(asyncio.get_running_loop(), stop)
    await service.start()
    want = {(v.name, s) for v in config.venues for s in v.symbols}
    while not stop.is_set() and not all(service.book(n, s) is not None for n, s in want):
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    await stop.wait()
    await service.stop()


async def ccxt_alone(api_url: str, ws_url: str, symbols: list[str]) -> None:
    """ccxt.pro's binance client on the emulator: one watch_order_book loop per symbol, nothing else."""
    import ccxt.pro

    from aitbc_tui.emulator.binance import ccxt_urls

    exchange = ccxt.pro.binance({"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                                             "fetchMargins": False}})  # fmt: skip
    exchange.urls["api"] = ccxt_urls(api_url, ws_url)
    await exchange.load_markets()
    stop = asyncio.Event()
    _until_stdin_closes(asyncio.get_running_loop(), stop)
    got: set[str] = set()

    async def watch(symbol: str) -> None:
        while True:
            await exchange.watch_order_book(symbol, 20)
            got.add(symbol)

    tasks = [asyncio.create_task(watch(s)) for s in symbols]
    while not stop.is_set() and len(got) < len(symbols):
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    await stop.wait()
    for t in tasks:
        t.cancel()
    await exchange.close()


async def depthbook(ws_url: str, symbols: list[str]) -> None:
    """The same depth frames straight into aitbc_tui/book (one JSON parse, one apply, a
    top-20 read per frame, as a collector needs): the cost of a book path without ccxt.
    No REST snapshot: the books start from the first diff (the cost per frame is the same)."""
    import aiohttp

    from aitbc_tui.book import OrderBook
    from aitbc_tui.emulator.binance import market_id

    try:
        import orjson

        loads = orjson.loads
    except ImportError:  # pragma: no cover
        import json

        loads = json.loads
    books = {market_id(s).lower(): OrderBook("binance", s) for s in symbols}
    stop = asyncio.Event()
    _until_stdin_closes(asyncio.get_running_loop(), stop)
    got: set[str] = set()
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        params = [f"{k}@depth@100ms" for k in books]
        await ws.send_str(orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": 1}).decode())

        async def receive() -> None:
            async for msg in ws:
                data = loads(msg.data)
                stream = data.get("stream")
                if not stream:
                    continue
                book = books.get(stream.split("@", 1)[0])
                if book is None:
                    continue
                book.apply_binance_depth(data)
                book.top(20)
                got.add(stream)

        task = asyncio.create_task(receive())
        while not stop.is_set() and len(got) < len(symbols):
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        await stop.wait()
        task.cancel()


def main(argv: list[str]) -> None:
    role, rest = argv[0], argv[1:]
    if role == "emulator":
        asyncio.run(emulator(int(rest[0]), int(rest[1]), float(rest[2])))
    elif role == "dashboard":
        asyncio.run(dashboard(rest[0]))
    elif role == "ccxt":
        asyncio.run(ccxt_alone(rest[0], rest[1], rest[2:]))
    elif role == "depthbook":
        asyncio.run(depthbook(rest[0], rest[1:]))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
