"""Desk feed measurements (issue 14), each a module of bench/run.py:

- ``fanout_bench``: N headless dashboards on one feed (a ``feed`` collector on the binance
  emulator, NATS) against N dashboards each connected directly to the same emulator: CPU per
  dashboard process, the collector's and the emulator's CPU. N = 10 (quick: 3).
- ``ingest_bench``: the collector (``aitbc-tui feed``, the product's process) on 200 symbols
  of binance depth@100ms through the emulator's websocket: depth frames per CPU second of the
  collector on its native binance path (venues/binance_depth.py), beside the collector on
  ccxt.pro (book_feed = "ccxt"), ccxt.pro alone and aitbc_tui/book alone on the same streams.
- ``desk_replay_bench``: a 10-minute recording (quick: 2 minutes) replayed at 10x into the
  replay's engines and a MarketService on its venues: wall time and CPU.

Every process here is a real one (the product's ``emulate``-equivalent emulator child,
``aitbc-tui feed``, nats-server, dashboards built from a config as the dashboard builds them,
without painting: painting is the same in both setups). CPU is read from /proc for each
process over the same window; figures are per process, as a desk's machine would see them.

    python -m bench --only fanout_bench,ingest_bench,desk_replay_bench [--quick]
"""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import Result

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
READY_TIMEOUT_S = 60.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


class Child:
    """A child process whose stdout lines are read in a thread; ends when its stdin closes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, cwd=str(ROOT), text=True)  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.last_frames = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("frames "):
                self.last_frames = int(line.split()[1])
            else:
                self.lines.put(line)

    def expect(self, prefix: str, timeout: float = READY_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.05, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                line = ""
            if line.startswith(prefix):
                return line
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read()[-800:] if self.proc.stderr and self.proc.poll() is not None else ""
                raise RuntimeError(f"{' '.join(self.args[-3:])}: no {prefix!r} (exit {self.proc.poll()}): {err}")

    @property
    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


class Pid:
    """A process started elsewhere (nats-server), for ``window``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    @property
    def cpu(self) -> float:
        return cpu_seconds(self.pid)


class ProductProcess(Child):
    """``aitbc-tui feed`` (runs until SIGTERM; its banner line says it is publishing)."""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def env_for(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "AITBC_DATA_DIR": str(tmp / "data"), "AITBC_CONFIG_DIR": str(tmp / "cfg")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def child(role: str, *args: str, env: dict[str, str]) -> Child:
    return Child([sys.executable, "-m", "bench.desk_child", role, *args], env)


def start_emulator(n_symbols: int, levels: int, changes_per_s: float, env: dict[str, str]) -> tuple[Child, str, str]:
    emu = child("emulator", str(n_symbols), str(levels), str(changes_per_s), env=env)
    _, http_url, ws_url = emu.expect("urls").split()
    return emu, http_url, ws_url


def direct_config(path: Path, http_url: str, ws_url: str, symbols: list[str], book_feed: str = "") -> Path:
    """A paper binance venue on the emulator; ``book_feed`` "ccxt" keeps ccxt.pro's books
    ("" : the default, the native depth feed)."""
    ws_root = "/".join(ws_url.split("/", 3)[:3])
    quoted = ", ".join(f'"{s}"' for s in symbols)
    feed = f'book_feed = "{book_feed}"\n' if book_feed else ""
    path.write_text(f'[venues.binance]\nexchange = "binance"\nmode = "paper"\nsymbols = [{quoted}]\n'
                    f'api_url = "{http_url}"\nws_url = "{ws_root}"\n{feed}')  # fmt: skip
    return path


def feed_config(path: Path, nats_url: str, symbols: list[str]) -> Path:
    quoted = ", ".join(f'"{s}"' for s in symbols)
    path.write_text(f'[venues.binance]\nmode = "feed"\nfeed = "{nats_url}"\nsymbols = [{quoted}]\n')
    return path


def start_collector(config: Path, nats_url: str, env: dict[str, str], depth: int = 20) -> ProductProcess:
    collector = ProductProcess([sys.executable, "-m", "aitbc_tui", "--config", str(config), "feed", "--nats",
                                nats_url, "--depth", str(depth), "--trades-every", "0", "--tickers-every", "0"],
                               env)  # fmt: skip
    collector.expect("aitbc-tui feed: publishing")
    return collector


def window(
    processes: list[Child | Pid], seconds: float, emulator: Child | None = None
) -> tuple[list[float], float, int]:
    """CPU seconds of each process over ``seconds`` of wall time, the wall time, and the
    emulator's depth frames sent meanwhile."""
    cpu0 = [p.cpu for p in processes]
    frames0 = emulator.last_frames if emulator else 0
    t0 = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    cpu = [p.cpu - c for p, c in zip(processes, cpu0, strict=True)]
    return cpu, wall, (emulator.last_frames - frames0) if emulator else 0


# ---- fan-out ------------------------------------------------------------------------------------


def run_fanout(quick: bool) -> list[Result]:
    from aitbc_tui.desk.local_server import LocalNatsServer, nats_server_binary

    if nats_server_binary() is None:
        print("fanout_bench: nats-server not installed: skipped", file=sys.stderr)
        return []
    n = 3 if quick else 10
    seconds = 4.0 if quick else 20.0
    symbols_n, levels, changes = 10, 20, 200.0  # 10 books, 200 level changes/s in all
    symbols = [f"C{i:03d}/USDT" for i in range(symbols_n)]
    group = "desk fan-out"
    figures: dict[str, dict[str, float]] = {}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aitbc-fanout-") as tmp_name:
        tmp = Path(tmp_name)
        env = env_for(tmp)
        for setup in ("feed", "direct"):
            emu, http_url, ws_url = start_emulator(symbols_n, levels, changes, env)
            server = LocalNatsServer(store_dir=tmp / f"nats-{setup}") if setup == "feed" else None
            running: list[Child] = []
            try:
                collector = None
                if server is not None:
                    asyncio.run(server.start())
                    direct = direct_config(tmp / "collector.toml", http_url, ws_url, symbols)
                    collector = start_collector(direct, server.url, env)
                    config = feed_config(tmp / "feed.toml", server.url, symbols)
                else:
                    config = direct_config(tmp / "direct.toml", http_url, ws_url, symbols)
                running = [child("dashboard", str(config), env=env) for _ in range(n)]
                for d in running:
                    d.expect("ready", timeout=READY_TIMEOUT_S * 2)
                time.sleep(0.5 if quick else 2.0)  # settle after the start-up burst
                nats = [Pid(server.process.pid)] if server is not None and server.process is not None else []
                watched: list[Child | Pid] = [*running, *([collector] if collector else []), *nats, emu]
                cpu, wall, frames = window(watched, seconds, emu)
                per = [100.0 * c / wall for c in cpu]
                figures[setup] = {
                    "dash_mean": sum(per[:n]) / n,
                    "dash_max": max(per[:n]),
                    "dash_total": sum(per[:n]),
                    "collector": per[n] if collector else 0.0,
                    "nats": per[-2] if nats else 0.0,
                    "emulator": per[-1],
                    "frames_s": frames / wall,
                }
            finally:
                for d in running:
                    d.stop()
                if collector is not None:
                    collector.stop()
                emu.stop()
                if server is not None:
                    asyncio.run(server.close())
    f, d = figures["feed"], figures["direct"]
    notes = (f"{n} dashboards, {symbols_n} books of 20+20 levels, ~{changes:.0f} level changes/s at the emulator, "
             f"{seconds:g} s window; feed: collector {f['collector']:.1f}%, nats-server {f['nats']:.1f}%, emulator {f['emulator']:.1f}% "
             f"({f['frames_s']:.0f} depth frames/s sent), all dashboards {f['dash_total']:.0f}%; direct: emulator "
             f"{d['emulator']:.1f}% ({d['frames_s']:.0f} frames/s), all dashboards {d['dash_total']:.0f}%; "
             f"whole desk (dashboards + collector + nats-server + emulator): feed "
             f"{f['dash_total'] + f['collector'] + f['nats'] + f['emulator']:.0f}% "
             f"vs direct {d['dash_total'] + d['emulator']:.0f}% of a core; load average {load:.1f} on "
             f"{os.cpu_count()} cores")  # fmt: skip
    return [
        Result(
            group,
            f"CPU per dashboard on the feed ({n} dashboards)",
            f["dash_mean"],
            "% core",
            anchor=d["dash_mean"],
            anchor_label="per dashboard connected directly",
            notes=notes,
        ),  # fmt: skip
        Result(
            group,
            "CPU of the busiest feed dashboard",
            f["dash_max"],
            "% core",
            anchor=d["dash_max"],
            anchor_label="busiest direct dashboard",
        ),  # fmt: skip
        Result(group, f"collector CPU serving {n} dashboards", f["collector"], "% core"),
        Result(
            group,
            "emulator (exchange) CPU, feed vs direct",
            f["emulator"],
            "% core",
            anchor=d["emulator"],
            anchor_label=f"with {n} direct clients",
        ),  # fmt: skip
    ]


# ---- ingest -------------------------------------------------------------------------------------


class BusCounter:
    """Watches the collector's output from this process (a nats-py client in a thread): which
    books have been published (keyframe snapshots every second for every live book) and how
    many deltas. A book that is not live yet (its REST snapshot still queued) publishes
    nothing, and its frames are cheap to buffer: the window opens when every book is live."""

    def __init__(self, nats_url: str, venue: str = "binance") -> None:
        self.nats_url = nats_url
        self.venue = venue
        self.books: set[str] = set()
        self.deltas = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        import nats

        self._stop = asyncio.Event()
        nc = await nats.connect(self.nats_url)

        async def on_book(msg) -> None:  # noqa: ANN001 - nats-py's Msg
            self.books.add(msg.subject)

        async def on_delta(msg) -> None:  # noqa: ANN001
            self.deltas += 1

        await nc.subscribe(f"md.{self.venue}.*.book", cb=on_book)
        await nc.subscribe(f"md.{self.venue}.*.delta", cb=on_delta)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.close()

    def wait_books(self, n: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while len(self.books) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return len(self.books)

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


INGEST_VARIANTS = ("collector", "collector (ccxt.pro)", "ccxt.pro", "depth_book")
INGEST_TARGET_RATIO = 1.5  # the native path must beat the collector on ccxt.pro by this much to be worth its code


def run_ingest(quick: bool) -> list[Result]:
    """The collector on its native binance path and on ccxt.pro (book_feed = "ccxt"), ccxt.pro
    alone and depth_book alone, one after another on the same emulator and streams; a
    collector's window opens once every book is live (published on the bus), ccxt.pro alone's
    once each of its watch loops has a book. Quick: 50 symbols, 3 s windows, depth_book alone
    left out (the full run has it)."""
    from aitbc_tui.desk.local_server import LocalNatsServer, nats_server_binary

    if nats_server_binary() is None:
        print("ingest_bench: nats-server not installed: skipped", file=sys.stderr)
        return []
    symbols_n = 50 if quick else 200
    changes = 10.0 * symbols_n  # level changes/s at the emulator: ~10 frames/s per book at depth@100ms
    seconds = 3.0 if quick else 20.0
    live_wait_s = 12.0 if quick else 150.0  # for every book to be live (ccxt: snapshots one by one)
    symbols = [f"C{i:03d}/USDT" for i in range(symbols_n)]
    variants = INGEST_VARIANTS[:3] if quick else INGEST_VARIANTS
    group = "desk ingest"
    out: dict[str, tuple[float, float, float]] = {}
    failed: dict[str, str] = {}
    live: dict[str, tuple[int, float, float]] = {}  # collectors: books live, seconds to get them, deltas/s
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aitbc-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        env = env_for(tmp)
        emu, http_url, ws_url = start_emulator(symbols_n, 20, changes, env)  # one emulator, a client at a time
        server = None
        try:
            for variant in variants:
                consumer: Child | None = None
                counter: BusCounter | None = None
                try:
                    if variant.startswith("collector"):
                        if server is None:
                            server = LocalNatsServer(store_dir=tmp / "nats")
                            asyncio.run(server.start())
                        book_feed = "ccxt" if "ccxt" in variant else ""
                        config = direct_config(tmp / f"c-{book_feed or 'native'}.toml", http_url, ws_url, symbols,
                                               book_feed)  # fmt: skip
                        counter = BusCounter(server.url)
                        started = time.monotonic()
                        consumer = start_collector(config, server.url, env)
                        seen = counter.wait_books(symbols_n, live_wait_s)
                        live[variant] = (seen, time.monotonic() - started, 0.0)
                    elif variant == "ccxt.pro":
                        consumer = child("ccxt", http_url, ws_url, *symbols, env=env)
                        consumer.expect("ready", timeout=READY_TIMEOUT_S * 2)
                    else:
                        consumer = child("depthbook", ws_url, *symbols, env=env)
                        consumer.expect("ready", timeout=READY_TIMEOUT_S * 2)
                    time.sleep(0.5 if quick else 3.0)  # settle after the start-up burst
                    deltas0 = counter.deltas if counter is not None else 0
                    (cpu, emu_cpu), wall, frames = window([consumer, emu], seconds, emu)
                    out[variant] = (frames / wall, cpu / wall, emu_cpu / wall)
                    if counter is not None:
                        seen, took, _ = live[variant]
                        live[variant] = (seen, took, (counter.deltas - deltas0) / wall)
                except RuntimeError as exc:  # a child that did not start: reported, the others go on
                    failed[variant] = str(exc)[:200]
                    print(f"ingest_bench: {variant}: {exc}", file=sys.stderr)
                finally:
                    if consumer is not None:
                        consumer.stop()
                    if counter is not None:
                        counter.close()
        finally:
            if server is not None:
                asyncio.run(server.close())
            emu.stop()
    per_core = {k: (rate / cpu if cpu > 0 else 0.0) for k, (rate, cpu, _e) in out.items()}
    cost_us = {k: (1e6 / v if v else 0.0) for k, v in per_core.items()}
    native, on_ccxt = per_core.get("collector"), per_core.get("collector (ccxt.pro)")
    gain = native / on_ccxt if native and on_ccxt else None
    rates = ", ".join(f"{k}: {r:.0f} frames/s at {100 * c:.0f}% CPU (emulator {100 * e:.0f}%)"
                      for k, (r, c, e) in out.items())  # fmt: skip
    costs = ", ".join(f"{k} {v:.0f} us" for k, v in cost_us.items())
    missing = "; ".join(f"{k} did not run: {v}" for k, v in failed.items())
    lives = ", ".join(f"{k}: {n}/{symbols_n} books live after {t:.1f} s, {d:.0f} deltas/s published in the window"
                      for k, (n, t, d) in live.items())  # fmt: skip
    notes = (f"{symbols_n} symbols of <sym>@depth@100ms, ~{changes:.0f} level changes/s at the emulator, "
             f"{seconds:g} s windows; {lives}; {rates}; per frame: {costs}; load average {load:.1f} on "
             f"{os.cpu_count()} cores{'; ' + missing if missing else ''}")  # fmt: skip
    results = [
        Result(
            group,
            f"collector ingest (aitbc-tui feed, native binance path), {symbols_n} binance depth streams",
            per_core.get("collector", 0.0),
            "frames/s per core",
            anchor=per_core.get("collector (ccxt.pro)"),
            anchor_label='the collector on ccxt.pro (book_feed = "ccxt")',
            target=f">= {INGEST_TARGET_RATIO:g}x anchor",
            ok=gain is not None and gain >= INGEST_TARGET_RATIO,
            notes=notes,
        ),  # fmt: skip
        Result(
            group,
            'collector ingest on ccxt.pro (book_feed = "ccxt")',
            per_core.get("collector (ccxt.pro)", 0.0),
            "frames/s per core",
            anchor=per_core.get("ccxt.pro"),
            anchor_label="ccxt.pro alone",
        ),  # fmt: skip
        Result(
            group,
            "collector ingest, native path, against ccxt.pro alone",
            per_core.get("collector", 0.0),
            "frames/s per core",
            anchor=per_core.get("ccxt.pro"),
            anchor_label="ccxt.pro alone",
        ),  # fmt: skip
    ]
    if "depth_book" in variants:
        results.append(
            Result(
                group,
                "depth_book alone on the same frames",
                per_core.get("depth_book", 0.0),
                "frames/s per core",
                anchor=per_core.get("ccxt.pro"),
                anchor_label="ccxt.pro alone",
            )  # fmt: skip
        )
    return results


# ---- replay -------------------------------------------------------------------------------------


def synthesise_recording(path: Path, minutes: float, symbols_n: int = 3, updates_per_s: float = 10.0) -> int:
    """A recording as ``record`` writes one (the product's RecordingWriter and wire messages):
    the sandbox binance's markets, then per book a snapshot and ``updates_per_s`` deltas a
    second (one or two levels each, within the top 20), a keyframe snapshot every second and
    health every second. Returns the number of messages."""
    import random
    from decimal import Decimal as D

    from aitbc_tui.desk import wire
    from aitbc_tui.desk.recording import RecordingWriter
    from aitbc_tui.domain import HealthStatus, VenueHealth
    from aitbc_tui.sim import specs

    spec = specs.venue_spec("binance")
    assert spec is not None
    markets = {m.market(spec).symbol: m.market(spec) for m in spec.markets[:symbols_n]}
    rng = random.Random(11)
    t0 = 1_790_000_000.0
    writer = RecordingWriter(path, {"started": t0, "nats": None, "subjects": "md.>", "venues": ["binance"]})
    writer.open()
    writer.write(t0, wire.markets_subject("binance"), wire.markets_bytes("binance", markets, t0))
    books: dict[str, tuple[dict[D, D], dict[D, D], D]] = {}
    seqs = dict.fromkeys(markets, 0)
    for symbol, market in markets.items():
        mid = D(str(specs.REFERENCE_PRICES_USDT.get(market.base, 100)))
        tick = market.tick_size
        mid = (mid / tick).to_integral_value() * tick
        bids = {mid - tick * (j + 1): D("1.000") for j in range(30)}
        asks = {mid + tick * (j + 1): D("1.000") for j in range(30)}
        books[symbol] = (bids, asks, tick)
    steps = int(minutes * 60 * updates_per_s)
    for k in range(steps):
        t = t0 + k / updates_per_s
        for symbol in markets:
            bids, asks, tick = books[symbol]
            seqs[symbol] += 1
            if seqs[symbol] == 1 or k % int(updates_per_s) == 0:
                top_b = tuple(sorted(bids.items(), reverse=True)[:20])
                top_a = tuple(sorted(asks.items())[:20])
                msg = wire.BookMessage("snapshot", "binance", symbol, "synth", seqs[symbol], t, t, top_b, top_a)
                writer.write(t, wire.subject("binance", symbol, "book"), msg.to_bytes())
                continue
            side = bids if rng.random() < 0.5 else asks
            price = sorted(side, reverse=side is bids)[rng.randrange(20)]
            size = D(rng.randint(1, 5000)) / 1000
            side[price] = size
            changes = ((price, size),)
            msg = wire.BookMessage("delta", "binance", symbol, "synth", seqs[symbol], t, t,
                                   changes if side is bids else (), changes if side is asks else ())  # fmt: skip
            writer.write(t, wire.subject("binance", symbol, "delta"), msg.to_bytes())
        if k % int(updates_per_s) == 0:
            health = VenueHealth("binance", HealthStatus.CONNECTED, 5.0, 0.1)
            writer.write(t, wire.health_subject("binance"), wire.health_bytes(health, t, epoch="synth"))
    writer.close()
    return writer.messages


def run_replay(quick: bool) -> list[Result]:
    from aitbc_tui.desk.recording import Replayer, ReplayWorld, read_recording, replay_venues
    from aitbc_tui.service import MarketService

    minutes = 2.0 if quick else 10.0
    speed = 10.0
    group = "desk replay"
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aitbc-replay-") as tmp_name:
        path = Path(tmp_name) / "synth.jsonl.gz"
        t = time.perf_counter()
        messages = synthesise_recording(path, minutes)
        synth_s = time.perf_counter() - t
        size_mb = path.stat().st_size / 1e6
        t, c = time.perf_counter(), time.process_time()
        header, records = read_recording(path)
        read_s, read_cpu = time.perf_counter() - t, time.process_time() - c

        async def play() -> tuple[float, float, int, int]:
            holder: dict[str, Replayer] = {}
            world = ReplayWorld(records, clock=lambda: holder["r"].now)
            replayer = holder["r"] = Replayer(records, world, speed=speed)
            service = MarketService(replay_venues(world), health_interval_s=1.0, account_interval_s=3600)
            await service.start()
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                await replayer.run()
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                books = len(service.books())
            finally:
                await service.stop()
            return wall, cpu, world.applied, books

        wall, cpu, applied, books = asyncio.run(play())
    ideal = (records[-1].t - records[0].t) / speed
    notes = (f"a {minutes:g}-minute recording synthesised with the product's RecordingWriter ({messages} messages: "
             f"3 books, 10 updates/s each, a keyframe and health each second; {size_mb:.1f} MB gzip; written in "
             f"{synth_s:.1f} s), read in {read_s:.1f} s ({read_cpu:.1f} s CPU), replayed at {speed:g}x into the "
             f"replay engines and a MarketService on the replay venues ({applied} book updates, {books} books): "
             f"{wall:.1f} s wall for {ideal:.1f} s of recording at {speed:g}x, {cpu:.1f} s CPU; load average "
             f"{load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    return [
        Result(
            group,
            f"replay at {speed:g}x of a {minutes:g}-minute recording: wall time",
            wall,
            "s",
            anchor=ideal,
            anchor_label="recorded span / speed",
            target=f"<= {ideal * 1.05:.0f} s",
            ok=wall <= ideal * 1.05,
            notes=notes,
        ),  # fmt: skip
        Result(group, f"replay at {speed:g}x: CPU", 100.0 * cpu / wall if wall else 0.0, "% core"),
    ]
