"""Both legs of an arbitrage route: `y` → each leg received by its exchange emulator.

The real ``MarketService`` with a real journal (WAL, synchronous=FULL) and the real
``CcxtVenue`` (ccxt, its throttle off as in the tests) trade against the kraken and coinbase
emulators on 127.0.0.1, whose still books hold a route (kraken asks from 3,400.10, coinbase
bids from 3,499.90). Each round does what `y` on the dashboard's two-leg confirmation does:
``ArbDesk.prepare`` (both legs checked against the risk limits together, the group row and
both intents committed) and ``ArbDesk.send`` (both legs sent concurrently as IOC limits).
The time of `y` is taken just before ``prepare``; each emulator's engine records when it
receives its leg (``time.perf_counter`` in this one process).

- apart: |kraken received − coinbase received|, per round (target ≤ 20 ms p99);
- later: the later of the two receipts − `y` (target ≤ 100 ms p99);
- anchor: one order alone through ``MarketService.prepare_order`` + ``send_order`` to
  kraken, `y` → received (the floor of one journalled create on loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.common import Result

SYMBOL = "ETH/USDT"
MIDS = {"kraken": Decimal("3400"), "coinbase": Decimal("3500")}
AMOUNT = Decimal("0.01")


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))] if ordered else float("nan")


def _engine(spec, mid: Decimal):
    from aitbc_tui.domain import OrderType, Side
    from aitbc_tui.sim.engine import MatchingEngine

    engine = MatchingEngine(spec.name)
    for market_spec in spec.markets:
        engine.add_market(market_spec.market(spec))
    engine.set_unlimited("mm", quiet=True)
    m = next(m for m in spec.markets if m.symbol == SYMBOL)
    for i in range(1, 6):
        engine.place("mm", SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("5"), mid - m.tick_size * i * 10)
        engine.place("mm", SYMBOL, Side.SELL, OrderType.LIMIT, Decimal("5"), mid + m.tick_size * i * 10)
    return engine


def _record(emu, log: list[float]) -> None:
    place = emu.engine.place

    def timed(*args, **kwargs):
        if args and args[0] == emu.ctx.account:
            log.append(time.perf_counter())
        return place(*args, **kwargs)

    emu.engine.place = timed


async def _measure(rounds: int) -> dict[str, list[float]]:
    from aitbc_tui.arb_desk import ArbDesk
    from aitbc_tui.config import load_config
    from aitbc_tui.credentials import Credentials
    from aitbc_tui.domain import HealthStatus, OrderRequest, OrderType, Side, TimeInForce
    from aitbc_tui.emulator.server import start_emulator
    from aitbc_tui.journal import Journal
    from aitbc_tui.service import MarketService
    from aitbc_tui.sim import specs
    from aitbc_tui.venues.factory import build_venues

    emus = {}
    for name, spec in (("kraken", specs.KRAKEN), ("coinbase", specs.COINBASE)):
        # kraken's REST counter (15, -0.33/s) would refuse the account refreshes that follow
        # each round long before the rounds end: raised, so every round measures the send.
        extra = {"rest_counter_max": 10_000} if name == "kraken" else {}
        emus[name] = await start_emulator(name, engine=_engine(spec, MIDS[name]), fund=False, simulate=False, **extra)
    emus["kraken"].engine.deposit(emus["kraken"].ctx.account, "USDT", Decimal("100000"))
    emus["coinbase"].engine.deposit(emus["coinbase"].ctx.account, "ETH", Decimal("50"))
    received: dict[str, list[float]] = {name: [] for name in emus}
    for name, emu in emus.items():
        _record(emu, received[name])
    tmp = Path(tempfile.mkdtemp())
    blocks = [f'[venues.{n}]\nexchange = "{e.ccxt_id}"\nmode = "live"\nsymbols = ["{SYMBOL}"]\napi_url = "{e.url}"\n'
              f'ws_url = "{e.ws_url.rsplit("/", 1)[0]}"\n' for n, e in emus.items()]  # fmt: skip
    (tmp / "venues.toml").write_text("\n".join(blocks), encoding="utf-8")
    credentials = {n: Credentials(api_key=e.api_key, secret=e.secret) for n, e in emus.items()}
    venues = build_venues(load_config(tmp / "venues.toml"), credentials=credentials)
    for venue in venues:
        venue._rest.enableRateLimit = False
    journal = Journal(tmp / "journal.sqlite3")
    service = MarketService(venues, journal=journal, health_interval_s=0.5, account_interval_s=3600)
    desk = ArbDesk(service)

    async def keep_fresh() -> None:  # a still book sends nothing; a stale one is refused
        while True:
            for emu in emus.values():
                order, _ = emu.engine.place("mm", SYMBOL, Side.SELL, OrderType.LIMIT, Decimal("0.01"), Decimal("9000"))
                emu.engine.cancel("mm", order.id)
            await asyncio.sleep(0.5)

    fresh = asyncio.create_task(keep_fresh())
    out: dict[str, list[float]] = {"apart_ms": [], "later_ms": [], "single_ms": []}
    try:
        await service.start()
        deadline = time.monotonic() + 30
        while not (all(service.book(v, SYMBOL) for v in emus)
                   and all(h.status is HealthStatus.CONNECTED for h in service.health())):  # fmt: skip
            if time.monotonic() > deadline:
                raise TimeoutError(f"venues not ready: {service.health()}")
            await asyncio.sleep(0.05)
        for _ in range(rounds):
            plan = desk.plan(SYMBOL, "kraken", "coinbase", AMOUNT)
            before = {n: len(v) for n, v in received.items()}
            t_y = time.perf_counter()
            group = desk.prepare(plan)
            await desk.send(group)
            if group.errors or any(len(received[n]) != before[n] + 1 for n in received):
                raise RuntimeError(f"a leg did not reach its emulator: {group.errors}")
            t_k, t_c = received["kraken"][-1], received["coinbase"][-1]
            out["apart_ms"].append(abs(t_k - t_c) * 1000)
            out["later_ms"].append((max(t_k, t_c) - t_y) * 1000)
            await service.wait_idle()
            await asyncio.sleep(0.05)
        for _ in range(max(5, rounds // 4)):
            request = OrderRequest("kraken", SYMBOL, Side.BUY, OrderType.LIMIT, AMOUNT, plan.buy.limit_price,
                                   time_in_force=TimeInForce.IOC)  # fmt: skip
            t_y = time.perf_counter()
            await service.send_order(service.prepare_order(request))
            out["single_ms"].append((received["kraken"][-1] - t_y) * 1000)
            await service.wait_idle()
    finally:
        fresh.cancel()
        with contextlib.suppress(BaseException):
            await desk.wait_idle()
        await service.stop()
        journal.close()
        for emu in emus.values():
            await emu.stop()
    return out


def run(quick: bool = False) -> list[Result]:
    got = asyncio.run(_measure(12 if quick else 60))
    apart, later, single = _p99(got["apart_ms"]), _p99(got["later_ms"]), statistics.median(got["single_ms"])
    n = len(got["apart_ms"])
    return [
        Result("arbitrage execution", "y -> both legs received: arrival times apart, p99", apart, "ms",
               target="<= 20 ms", ok=apart <= 20, notes=f"{n} rounds, kraken + coinbase emulators; median "
               f"{statistics.median(got['apart_ms']):.2f} ms"),
        Result("arbitrage execution", "y -> the later leg received, p99", later, "ms", anchor=single,
               anchor_label="y -> one journalled order received (median)", target="<= 100 ms", ok=later <= 100,
               notes=f"median {statistics.median(got['later_ms']):.2f} ms; includes the group row and both "
               "intents committed (synchronous=FULL)"),
    ]  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    for result in run(quick=True):
        print(result)
