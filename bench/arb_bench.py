"""Arbitrage after one book update, 10 venues x 200 symbols.

Incremental: ArbitrageIndex.update(snapshot) (and, as an extra row, update + the
opportunities() call the dashboard makes after it). Anchor: find_arbitrage over all
books, the full rescan.
"""

from __future__ import annotations

import gc
import random
import time
from decimal import Decimal

from aitbc_tui.analysis import ArbitrageIndex, find_arbitrage
from aitbc_tui.domain import BookSnapshot
from bench.common import Result, median

VENUES = 10
SYMBOLS = 200
DEPTH = 20


def _book(rng, venue, symbol, base, seq):
    mid = base * (1 + rng.uniform(-0.002, 0.002))
    bids = tuple(
        (Decimal(f"{mid * (1 - 0.0002 * (i + 1)):.2f}"), Decimal(f"{rng.uniform(0.01, 5):.4f}")) for i in range(DEPTH)
    )
    asks = tuple(
        (Decimal(f"{mid * (1 + 0.0002 * (i + 1)):.2f}"), Decimal(f"{rng.uniform(0.01, 5):.4f}")) for i in range(DEPTH)
    )
    return BookSnapshot(venue, symbol, bids, asks, 0.0, seq)


def run(quick: bool) -> list[Result]:
    rng = random.Random(5)
    venues = [f"v{i}" for i in range(VENUES)]
    symbols = [f"S{i}/USDT" for i in range(SYMBOLS)]
    bases = {s: rng.uniform(1, 50000) for s in symbols}
    fees = {(v, s): Decimal("0.001") for v in venues for s in symbols}
    books = {(v, s): _book(rng, v, s, bases[s], 0) for v in venues for s in symbols}
    index = ArbitrageIndex(fees)
    for b in books.values():
        index.update(b)
    index.opportunities()
    n = 2000 if quick else 20000
    updates = [
        _book(rng, rng.choice(venues), s, bases[s], k + 1) for k, s in enumerate(rng.choice(symbols) for _ in range(n))
    ]
    perf = time.perf_counter_ns
    inc: list[int] = []
    inc_opp: list[int] = []
    gc.collect()
    gc.disable()
    try:
        for b in updates[: n // 2]:
            t0 = perf()
            index.update(b)
            inc.append(perf() - t0)
            books[(b.venue, b.symbol)] = b
        for b in updates[n // 2 :]:
            t0 = perf()
            index.update(b)
            index.opportunities()
            inc_opp.append(perf() - t0)
            books[(b.venue, b.symbol)] = b
    finally:
        gc.enable()
    rescans = []
    for _ in range(2 if quick else 5):
        t0 = time.perf_counter()
        full = find_arbitrage(books, fees)
        rescans.append(time.perf_counter() - t0)
    assert [o.net_bps for o in full] == [o.net_bps for o in index.opportunities()], "index disagrees with rescan"
    rescan_us = min(rescans) * 1e6
    inc_us = median(inc) / 1e3
    inc_opp_us = median(inc_opp) / 1e3
    return [
        Result(
            "analysis",
            "arbitrage update after one book, 10 venues x 200 symbols (median)",
            inc_us,
            "µs",
            rescan_us,
            "find_arbitrage full rescan",
            "≤ 50 µs and ≥ 50x less than anchor",
            inc_us <= 50 and rescan_us / inc_us >= 50,
            f"{rescan_us / inc_us:,.0f}x less than the rescan",
        ),
        Result(
            "analysis",
            "arbitrage update + opportunities() (what the dashboard does)",
            inc_opp_us,
            "µs",
            rescan_us,
            "find_arbitrage full rescan",
            "",
            None,
            f"{rescan_us / inc_opp_us:,.0f}x less than the rescan",
        ),
    ]
