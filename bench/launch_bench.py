"""Launch to the first full frame, and peak memory, in a fresh process.

The child (bench/launch_child.py) goes through the CLI's own build_service (config ->
venue factory -> MarketService) and AitbcApp, headless but generating every frame's
ANSI; it reports the monotonic time of the first written frame with every pane
populated (ladder book, a health row per venue, arbitrage rows) and its peak RSS.
Launch time = that minus the parent's monotonic time just before spawning it.
Anchor: a process doing only ``import textual.app``, measured the same way.
Three ccxt venues: binance, kraken and coinbase emulators (aitbc_tui.emulator) served
from a thread of this process, configured as paper venues.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import Result, median

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).with_name("launch_child.py")


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[float, dict]:
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=90)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(lines[-1])
    if "error" in data:
        raise RuntimeError(data["error"])
    return data["t_frame"] - t0, data


def _anchor(env) -> tuple[float, float]:
    code = (
        "import time, json, textual.app; t = time.monotonic(); "
        "hwm = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]; "
        "print(json.dumps({'t_frame': t, 'maxrss_kib': hwm}))"
    )
    t, d = _spawn([sys.executable, "-c", code], env)
    return t, d["maxrss_kib"] / 1024


class _Emulators:
    """binance, kraken and coinbase emulators on a private event loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running = []

    def start(self):
        from aitbc_tui.emulator import start_emulator

        for venue in ("binance", "kraken", "coinbase"):
            fut = asyncio.run_coroutine_threadsafe(start_emulator(venue, seed=1), self.loop)
            self.running.append(fut.result(30))
        return self.running

    def stop(self):
        for emu in self.running:
            asyncio.run_coroutine_threadsafe(emu.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _config(emus, path: Path) -> None:
    lines = []
    for emu in emus:
        lines += [
            f"[venues.emu-{emu.venue}]",
            f'exchange = "{emu.ccxt_id}"',
            'mode = "paper"',
            'symbols = ["BTC/USDT"]',
            f'api_url = "{emu.url}"',
        ]
        if emu.ws_url:
            lines.append(f'ws_url = "{emu.ws_url}"')
        lines.append("")
    path.write_text("\n".join(lines))


def run(quick: bool) -> list[Result]:
    repeat = 1 if quick else 3
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Bytecode as an installed wheel has it (pip compiles at install): a private cache,
        # so the checkout gets no __pycache__, filled by one unmeasured run of each kind.
        # Without it an editable checkout under PYTHONDONTWRITEBYTECODE compiled every
        # module of the package at every launch.
        env = dict(
            os.environ,
            AITBC_DATA_DIR=str(Path(tmp) / "data"),
            AITBC_CONFIG_DIR=str(Path(tmp) / "config"),
            PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        _anchor(env)
        anchors = [_anchor(env) for _ in range(repeat)]
        a_t, a_mem = median([a[0] for a in anchors]), median([a[1] for a in anchors])
        _spawn([sys.executable, str(CHILD), "--seed", "1"], env)
        runs = [_spawn([sys.executable, str(CHILD), "--seed", "1"], env) for _ in range(repeat)]
        t = median([r[0] for r in runs])
        mem = median([r[1]["maxrss_kib"] / 1024 for r in runs])
        ccxt_loaded = any(r[1].get("ccxt_imported") for r in runs)
        results.append(
            Result(
                "launch",
                "sandbox: launch to first full frame",
                t,
                "s",
                a_t,
                "import textual.app",
                "≤ 0.5 s",
                t <= 0.5,
                "ccxt imported!" if ccxt_loaded else "ccxt not imported",
            )
        )
        results.append(
            Result(
                "launch",
                "sandbox: peak RSS at first full frame",
                mem,
                "MiB",
                a_mem,
                "import textual.app",
                "≤ 80 MiB",
                mem <= 80,
            )
        )
        emus = _Emulators()
        try:
            running = emus.start()
            cfg = Path(tmp) / "three.toml"
            _config(running, cfg)
            _spawn([sys.executable, str(CHILD), "--config", str(cfg)], env)
            runs = [_spawn([sys.executable, str(CHILD), "--config", str(cfg)], env) for _ in range(repeat)]
        finally:
            emus.stop()
        t = median([r[0] for r in runs])
        mem = median([r[1]["maxrss_kib"] / 1024 for r in runs])
        results.append(
            Result(
                "launch",
                "3 ccxt venues (paper, local emulators): launch to first full frame",
                t,
                "s",
                a_t,
                "import textual.app",
                "≤ 1.3 s",
                t <= 1.3,
            )
        )
        results.append(
            Result(
                "launch",
                "3 ccxt venues: peak RSS at first full frame",
                mem,
                "MiB",
                a_mem,
                "import textual.app",
                "≤ 130 MiB",
                mem <= 130,
            )
        )
    return results
