"""Webhooks on loopback: a fill handed to the delivery thread (``WebhookDispatcher.submit``,
what the dashboard does) until the receiver's handler sees the signed POST, one at a time;
anchor: the same POST sent directly from the receiver's loop with aiohttp (no queue, no
thread, no SQLite). Then 10,000 events queued at once and drained, with the process's RSS
after the first 2,000 and at the end (the queue is SQLite, not memory).

    python -m bench --only webhook_bench
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from bench.common import Result, percentile

SECRET = "whsec_bench-2c9f"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _bench(quick: bool, tmp: Path) -> list[Result]:
    import aiohttp
    from aiohttp import web

    from aitbc_tui.delivery import WebhookDispatcher
    from aitbc_tui.webhooks import WebhookStore

    arrived: dict[int, float] = {}
    count = {"n": 0}
    done = asyncio.Event()
    wanted = {"n": 0}

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        arrived[body["data"]["n"]] = time.perf_counter()
        count["n"] += 1
        if count["n"] >= wanted["n"]:
            done.set()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/hook"
    store = WebhookStore(tmp / "webhooks.sqlite3")
    store.add(url, "fill")
    store.close()
    dispatcher = WebhookDispatcher({1: SECRET}.get, path=tmp / "webhooks.sqlite3", rng=random.Random(1))
    dispatcher.start()
    dispatcher.wait_ready()
    n = 60 if quick else 300
    latencies = []
    try:
        for i in range(-5, n):  # five to warm the session and the secret cache
            wanted["n"] = count["n"] + 1
            done.clear()
            sent = time.perf_counter()
            dispatcher.submit("fill", {"n": i, "venue": "binance", "symbol": "BTC/USDT", "amount": "0.1"}, time.time())
            await asyncio.wait_for(done.wait(), 10)
            if i >= 0:
                latencies.append((arrived[i] - sent) * 1000)
        # Anchor: a direct POST from this loop.
        direct = []
        async with aiohttp.ClientSession() as session:
            for i in range(n):
                body = b'{"event":"fill","data":{"n":%d},"timestamp":"x"}' % (100000 + i)
                wanted["n"] = count["n"] + 1
                done.clear()
                sent = time.perf_counter()
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as reply:
                    await reply.read()
                await asyncio.wait_for(done.wait(), 10)
                direct.append((arrived[100000 + i] - sent) * 1000)
        # 10,000 queued at once, then drained.
        total = 2000 if quick else 10000
        first = min(2000, total // 5)
        wanted["n"] = count["n"] + first
        done.clear()
        base = count["n"]
        start = time.perf_counter()
        for i in range(total):
            dispatcher.submit("fill", {"n": 200000 + i}, time.time())
        await asyncio.wait_for(done.wait(), 300)
        rss_early = _rss_mb()
        wanted["n"] = base + total
        done.clear()
        await asyncio.wait_for(done.wait(), 600)
        drain_s = time.perf_counter() - start
        rss_end = _rss_mb()
    finally:
        dispatcher.stop()
        await runner.cleanup()
    p99 = percentile(latencies, 0.99)
    return [
        Result("webhooks", "fill handed over -> receiver's POST on loopback (p99)", p99, "ms",
               percentile(direct, 0.99), "direct aiohttp POST", "≤ 200 ms", p99 <= 200,
               f"{n} fills one at a time; median {percentile(latencies, 0.5):.1f} ms"),
        Result("webhooks", f"{total:,} queued events drained", total / drain_s, "events/s", None, "", "", None,
               f"{drain_s:.1f} s; RSS {rss_early:.0f} MB after {first:,}, {rss_end:.0f} MB at the end"),
        Result("webhooks", f"RSS growth while draining {total:,} events (after the first {first:,})",
               rss_end - rss_early, "MB", None, "", "≤ 5 MB", rss_end - rss_early <= 5),
    ]  # fmt: skip


def run(quick: bool) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_bench(quick, Path(tmp)))
