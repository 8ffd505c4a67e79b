"""The desk bus hop on loopback: collector publish -> feed venue book applied, p50 / p99.

A real nats-server on 127.0.0.1 (Debian's nats-server; skipped without it). The collector
runs in a child process (bench/bus_child.py); this process runs a MarketService on feed
venues, as a dashboard does. The hop of each book message is the time it was applied here
minus the time the collector stamped when publishing (one clock: both processes on this
machine). Two sources: the sandbox's venues (18 books updated together at each 15 Hz world
step: bursts) and a paced venue (10 books, one update every 2 ms, evenly spread, as a
websocket feed arrives). Anchor, same run and process: the bare bus hop of the same
messages, taken as NATS hands them to a plain subscriber, before any decoding. Target:
p99 <= 5 ms.

    python -m bench --only bus_bench
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result, median, percentile

GROUP = "bus"
TARGET_P99_MS = 5.0
SOURCES = {
    "sandbox": "the sandbox's 3 venues, 18 books updated together at each 15 Hz world step (bursts)",
    "paced": "10 books on one venue, one update every 2 ms evenly spread (500/s)",
}


async def _measure(seconds: float, source: str) -> dict[str, object]:
    import nats
    import orjson

    from aitbc_tui.desk.feed_venue import FeedVenue
    from aitbc_tui.desk.local_server import LocalNatsServer
    from aitbc_tui.service import MarketService

    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="aitbc-bus-bench-") as tmp:
        server = LocalNatsServer(store_dir=Path(tmp) / "nats")
        await server.start()
        env = {**os.environ, "AITBC_DATA_DIR": str(Path(tmp) / "data"), "AITBC_CONFIG_DIR": str(Path(tmp) / "cfg")}
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        child = subprocess.Popen([sys.executable, "-m", "bench.bus_child", server.url, str(seconds + 3), source],
                                 stdout=subprocess.PIPE, env=env, text=True, cwd=root)  # fmt: skip
        service = None
        raw = None
        try:
            assert child.stdout is not None
            line = await loop.run_in_executor(None, child.stdout.readline)
            assert line.strip() == "ready", line
            raw = await nats.connect(server.url)
            bare: list[float] = []

            async def on_raw(msg) -> None:
                now = time.time()
                bare.append((now - orjson.loads(msg.data)["sent"]) * 1000.0)

            await raw.subscribe("md.*.*.delta", cb=on_raw)
            names = ("binance",) if source == "paced" else ("binance", "kraken", "coinbase")
            venues = [FeedVenue(name, server.url) for name in names]
            service = MarketService(venues, health_interval_s=1.0, account_interval_s=3600)
            await service.start()
            await asyncio.sleep(1.5)  # warm-up: connections, first snapshots
            for v in venues:
                v.hops_ms.clear()
            bare.clear()
            gaps0 = sum(v.book_gaps(s) for v in venues for s in list(v._books))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(seconds)
            cpu = time.process_time() - cpu0
            wall = time.perf_counter() - wall0
            hops = [h for v in venues for h in v.hops_ms]
            gaps = sum(v.book_gaps(s) for v in venues for s in list(v._books)) - gaps0
            books = len(service.books())
        finally:
            if raw is not None:
                await raw.close()
            if service is not None:
                await service.stop()
            out, _ = await loop.run_in_executor(None, child.communicate)
            await server.close()
    return {"hops": hops, "bare": list(bare), "cpu_pct": 100.0 * cpu / wall, "gaps": gaps, "books": books,
            "child": (out or "").strip().splitlines()[-1:] or [""]}  # fmt: skip


def run(quick: bool) -> list[Result]:
    from aitbc_tui.desk.local_server import nats_server_binary

    if nats_server_binary() is None:
        print("bus_bench: nats-server not installed (apt-get install -y nats-server): skipped", file=sys.stderr)
        return []
    seconds = 5.0 if quick else 30.0
    results: list[Result] = []
    for source, what in SOURCES.items():
        load = os.getloadavg()[0]
        got = asyncio.run(_measure(seconds, source))
        hops: list[float] = got["hops"]  # type: ignore[assignment]
        bare: list[float] = got["bare"]  # type: ignore[assignment]
        rate = len(hops) / seconds
        p50, p99 = percentile(hops, 0.5), percentile(hops, 0.99)
        notes = (f"{what}: {len(hops)} book messages applied in {seconds:g} s ({rate:.0f}/s, {got['books']} books), "
                 f"{got['gaps']} gaps after warm-up; feed dashboard CPU {got['cpu_pct']:.0f}% of a core; "
                 f"collector: {got['child'][0]}; load average {load:.1f} on {os.cpu_count()} cores")  # type: ignore[index]  # fmt: skip
        results += [
            Result(
                GROUP,
                f"bus hop p50, {source} (collector publish -> feed book applied)",
                p50,
                "ms",
                anchor=median(bare),
                anchor_label="bare NATS hop p50",
                notes=notes,
            ),  # fmt: skip
            Result(
                GROUP,
                f"bus hop p99, {source}",
                p99,
                "ms",
                anchor=percentile(bare, 0.99),
                anchor_label="bare NATS hop p99",
                target=f"<= {TARGET_P99_MS:g} ms",
                ok=p99 <= TARGET_P99_MS,
            ),  # fmt: skip
        ]
    return results
