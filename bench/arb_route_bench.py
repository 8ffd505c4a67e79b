"""A route appearing in the arbitrage index → the arbitrage pane showing it executable, in frames.

The real dashboard (``AitbcApp`` over the real ``MarketService``) on a seeded, still sandbox
(no market ticks: only the moves made here). Set-up: a whale sweeps kraken's BTC/USDT asks,
leaving kraken without asks and its bids below every other venue's ask: no route into kraken.
The operator's kraken BTC is set to 0.2 free, so a route into kraken is cut by it. Each round
places a 0.5 BTC bid at 66,000 on kraken's engine (binance asks ≈ 65,000: a route of ≈ 103 bps
net) and cancels it once shown; binance's and coinbase's books are touched first (a far-away
ask placed and cancelled) so that no book goes stale in the still market.

- t0: ``ArbitrageIndex.update`` took the kraken book holding that bid (the route is in the index);
- shown: the first frame the app writes (the headless driver switched to write real frames, as in
  ``dashboard_bench.record_frames``) in which the arbitrage pane's painted lines show the route
  with its fundable size and limit ("0.20000 BTC bal kraken BTC");
- frames: frames written after t0 up to and including that one (target ≤ 1), and the time in ms.

Anchor: the frame interval (1 / TEXTUAL_FPS) the app paints at.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.common import Result
from bench.dashboard_bench import _FrameDriver

SIZE = (160, 45)
SYMBOL = "BTC/USDT"
BID = Decimal("66000")
SHOWN = "0.20000 BTC bal kraken BTC"  # the route's fundable size and what limits it, as painted
ROUND_TIMEOUT_S = 10.0  # a round that takes longer is counted missed, never raised


class _RouteRecorder:
    """Frames written, and for the current round: when the route entered the index and the
    frame that first showed it."""

    def __init__(self, app) -> None:
        self.app = app
        self.frames = 0
        self.t0: float | None = None
        self.frames_at_t0 = 0
        self.shown: asyncio.Future | None = None
        self.gone: asyncio.Future | None = None

    def _painted(self) -> bool:
        pane = self.app.screen_stack[0].query_one("#arb")
        return any(SHOWN in pane.render_line(y).text for y in range(pane.size.height))

    def on_frame(self, _data: str) -> None:
        t = time.perf_counter()
        self.frames += 1
        try:
            painted = self._painted()
        except Exception:  # noqa: BLE001 - a frame while the app starts or stops
            return
        if self.shown is not None and not self.shown.done() and self.t0 is not None and painted:
            self.shown.set_result((t - self.t0, self.frames - self.frames_at_t0))
        if self.gone is not None and not self.gone.done() and not painted:
            self.gone.set_result(t)

    def on_index_update(self, book) -> None:
        if (self.t0 is None and self.shown is not None and book.venue == "kraken" and book.symbol == SYMBOL
                and book.bids and book.bids[0][0] == BID):  # fmt: skip
            self.t0 = time.perf_counter()
            self.frames_at_t0 = self.frames


def _rank(values: list[float], q: float) -> float:
    """Nearest-rank percentile: a value that occurred (a whole number of frames stays whole)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def _record(app) -> _RouteRecorder:
    rec = _RouteRecorder(app)
    index = app._arb_index
    update = index.update

    def recorded(book, _update=update):
        _update(book)
        rec.on_index_update(book)

    index.update = recorded
    _FrameDriver.recorder = rec  # type: ignore[assignment]
    app._driver.__class__ = _FrameDriver
    app.refresh()
    return rec


async def _measure(rounds: int, data_dir: Path) -> dict:
    from aitbc_tui.domain import OrderType, Side
    from aitbc_tui.service import MarketService
    from aitbc_tui.sim.specs import OPERATOR
    from aitbc_tui.ui.app import AitbcApp
    from aitbc_tui.venues.sim import create_sandbox_venues

    world, venues = create_sandbox_venues(seed=7, reset=True, data_dir=data_dir, autostart_ticks=False,
                                          latency=False, persist=False)  # fmt: skip
    world.run_steps(40, 0.1)
    service = MarketService(venues, account_interval_s=3600)
    app = AitbcApp(service, impact_size=Decimal("1"))
    kraken = world.engine("kraken")
    results: list[tuple[float, int]] = []
    missed = 0
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 30
        while app._arb_index is None or not all(service.balances(v) for v in service.venue_names):
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start within 30 s")
            await pilot.pause(0.02)
        kraken.set_unlimited("whale")
        asks = kraken.book(SYMBOL, 500).asks
        kraken.place("whale", SYMBOL, Side.BUY, OrderType.LIMIT, sum((s for _, s in asks), Decimal(0)), asks[-1][0])
        kraken.set_balance(OPERATOR, "BTC", Decimal("0.2"))
        await service.refresh_account("kraken")
        await pilot.pause(0.2)
        rec = _record(app)
        loop = asyncio.get_running_loop()
        for _ in range(rounds):
            for venue in ("binance", "coinbase"):
                # A still market sends no book updates, and a book older than the health rule's
                # stale-after time leaves the index: a far-away ask placed and cancelled keeps it fresh.
                engine = world.engine(venue)
                engine.set_unlimited("bench")
                far, _ = engine.place("bench", SYMBOL, Side.SELL, OrderType.LIMIT, Decimal("0.01"), Decimal("99000"))
                engine.cancel("bench", far.id)
            await pilot.pause(0.05)
            rec.t0, rec.shown, rec.gone = None, loop.create_future(), None
            order, _ = kraken.place("whale", SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.5"), BID)
            try:
                results.append(await asyncio.wait_for(asyncio.shield(rec.shown), ROUND_TIMEOUT_S))
            except TimeoutError:
                missed += 1
            rec.shown = None
            rec.gone = loop.create_future()
            kraken.cancel("whale", order.id)
            try:
                await asyncio.wait_for(asyncio.shield(rec.gone), ROUND_TIMEOUT_S)
            except TimeoutError:
                missed += 1
            await pilot.pause(0.05)  # a few quiet frames between rounds
    return {"results": results, "missed": missed}


def run(quick: bool = False) -> list[Result]:
    rounds = 10 if quick else 50
    with tempfile.TemporaryDirectory(prefix="aitbc-arb-route-") as scratch:
        got = asyncio.run(_measure(rounds, Path(scratch)))
    results, missed = got["results"], got["missed"]
    frames = [float(n) for _, n in results]
    ms = [s * 1000 for s, _ in results]
    frame_ms = 1000 / float(os.environ.get("TEXTUAL_FPS", "60"))
    p99_frames = _rank(frames, 0.99)
    notes = f"{len(results)} of {rounds} rounds shown" + (f", {missed} waits timed out" if missed else "")
    return [
        Result(
            "arbitrage pane", "route in the index -> shown executable, p50", _rank(frames, 0.5), "frames", notes=notes
        ),  # fmt: skip
        Result(
            "arbitrage pane",
            "route in the index -> shown executable, p99",
            p99_frames,
            "frames",
            target="<= 1 frame",
            ok=bool(frames) and p99_frames <= 1 and not missed,
            notes=notes,
        ),  # fmt: skip
        Result(
            "arbitrage pane",
            "route in the index -> shown executable, p99 (ms)",
            _rank(ms, 0.99),
            "ms",
            anchor=frame_ms,
            anchor_label="one frame",
            notes=f"p50 {_rank(ms, 0.5):.1f} ms, max {max(ms):.1f} ms" if ms else notes,
        ),  # fmt: skip
    ]


if __name__ == "__main__":
    for result in run(quick=True):
        print(result)
