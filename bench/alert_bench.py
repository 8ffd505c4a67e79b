"""Alert evaluation after one book update: 200 rules over 50 symbols (4 per symbol: price
above on last, price below on bid, price above on ask, spread wider than N bps), armed and
not firing, so each update evaluates its symbol's 4 rules. Anchor: the same rules evaluated
without the per-symbol index (every rule looked at on every update).

    python -m bench --only alert_bench
"""

from __future__ import annotations

import gc
import random
import time
from decimal import Decimal

from aitbc_tui.alerts import AlertEngine, parse_rule
from bench.common import Result, median

SYMBOLS = 50
PER_SYMBOL = 4


def _rules():
    rules = []
    for i in range(SYMBOLS):
        symbol = f"S{i}/USDT"
        rules += [
            parse_rule({"kind": "price_above", "symbol": symbol, "level": "2000"}, default_id=f"a{i}"),
            parse_rule({"kind": "price_below", "symbol": symbol, "level": "10", "price": "bid"}, default_id=f"b{i}"),
            parse_rule({"kind": "price_above", "symbol": symbol, "level": "3000", "price": "ask"}, default_id=f"c{i}"),
            parse_rule({"kind": "spread_above", "symbol": symbol, "bps": "500", "for_s": 5}, default_id=f"d{i}"),
        ]
    return rules


def _measure(engine, updates) -> list[float]:
    times = []
    gc.disable()
    try:
        for venue, symbol, bid, ask in updates:
            t0 = time.perf_counter_ns()
            engine.on_book(venue, symbol, bid, ask)
            times.append((time.perf_counter_ns() - t0) / 1000)
    finally:
        gc.enable()
    return times


def run(quick: bool) -> list[Result]:
    rng = random.Random(3)
    rules = _rules()
    assert len(rules) == SYMBOLS * PER_SYMBOL
    engine = AlertEngine(rules, clock=time.time, max_per_minute=600)
    n = 5000 if quick else 50000
    updates = []
    for _ in range(n):
        mid = Decimal(f"{rng.uniform(100, 1000):.2f}")
        updates.append(("binance", f"S{rng.randrange(SYMBOLS)}/USDT", mid - Decimal("0.05"), mid + Decimal("0.05")))
    _measure(engine, updates[:1000])  # warm: first observations arm the rules
    inc = median(_measure(engine, updates))

    # Anchor: no index, every rule on every update (one engine whose lookup returns all rules).
    flat = AlertEngine(rules, clock=time.time, max_per_minute=600)
    everything = [r for r in flat.rules.values()]
    flat._by_symbol = {f"S{i}/USDT": everything for i in range(SYMBOLS)}
    _measure(flat, updates[:1000])
    # Rules of other symbols still check their venue/symbol only through on_book's symbol key,
    # so this anchor evaluates all 200 against each update's prices: the cost without the index.
    full = median(_measure(flat, updates[: n // 5]))
    return [
        Result(
            "alerts",
            "alert evaluation after one book update, 200 rules over 50 symbols (median)",
            inc,
            "µs",
            full,
            "all 200 rules evaluated",
            "≤ 20 µs",
            inc <= 20,
            f"{n} updates, {PER_SYMBOL} rules per symbol",
        ),
    ]
