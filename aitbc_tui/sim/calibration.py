"""Measure how realistic the sandbox market is: realised volatility, book reach, liquidity ratio.

Runs a seeded ``SandboxWorld`` on simulated time only (no wall clock), so the same seed,
minutes and step give the same figures. ``bench/sandbox_calibration.py`` prints them; a unit
test asserts them within generous bounds.

- **Realised volatility**: standard deviation of log returns of each venue's mid, sampled every
  ``sample_s`` simulated seconds, annualised with sqrt(seconds per year / sample_s), pooled over
  the venues listing the symbol. Also the same for the common reference price (the random walk
  without per-venue deviations and dislocations), and the median absolute one-second move in bps.
- **Book reach**: how far from the mid the full book extends, in bps, on the shallower side
  (min of bid reach and ask reach), its minimum over every sample.
- **Liquidity ratio**: bid depth / ask depth within ±1 % of the mid (``analysis.liquidity_ratio``),
  its minimum and maximum over every sample.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass
from decimal import Decimal

from aitbc_tui import analysis
from aitbc_tui.sim.world import SandboxWorld

SECONDS_PER_YEAR = 365 * 24 * 3600
FROZEN_CLOCK = 1_700_000_000.0
FULL_DEPTH = 1000


@dataclass(frozen=True, slots=True)
class SymbolCalibration:
    symbol: str
    venues: int
    annual_vol: float  # venue mids, pooled
    reference_annual_vol: float  # the common random walk only
    median_move_1s_bps: float  # median |mid change| over one second
    reach_bps_min: float  # shallower side, minimum over the samples
    reach_bps_median: float
    ratio_min: float
    ratio_max: float
    ratio_median: float


def _stdev(values: list[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def calibrate(seed: int = 1, minutes: float = 30.0, dt: float = 0.1, sample_s: float = 60.0,
              book_every_s: float = 5.0) -> list[SymbolCalibration]:  # fmt: skip
    """Run the seeded world for ``minutes`` of simulated time; figures per symbol."""
    world = SandboxWorld(seed=seed, clock=lambda: FROZEN_CLOCK)
    keys = sorted((v, s) for v, e in world.engines.items() for s in e.markets)
    symbols = sorted({s for _, s in keys})
    steps = round(minutes * 60 / dt)
    sample_every = max(1, round(sample_s / dt))
    book_every = max(1, round(book_every_s / dt))
    second_every = max(1, round(1.0 / dt))
    mids: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    ref: dict[str, list[float]] = {s: [] for s in symbols}
    moves: dict[str, list[float]] = {s: [] for s in symbols}
    last_1s: dict[tuple[str, str], float] = {}
    reach: dict[str, list[float]] = {s: [] for s in symbols}
    ratios: dict[str, list[float]] = {s: [] for s in symbols}

    def mid_of(venue: str, symbol: str) -> float | None:
        bid, ask = world.engines[venue].best_bid_ask(symbol)
        return None if bid is None or ask is None else float((bid + ask) / 2)

    for i in range(steps + 1):
        if i:
            world.step(dt)
        if i % second_every == 0:
            for k in keys:
                m = mid_of(*k)
                if m is None:
                    continue
                prev = last_1s.get(k)
                if prev:
                    moves[k[1]].append(abs(m / prev - 1) * 10_000)
                last_1s[k] = m
        if i % sample_every == 0:
            for k in keys:
                m = mid_of(*k)
                if m is not None:
                    mids[k].append(m)
            for s in symbols:
                base, quote = s.split("/")
                cross = world.prices.cross(base, quote)
                if cross:
                    ref[s].append(cross)
        if i % book_every == 0:
            for venue, symbol in keys:
                book = world.engines[venue].book(symbol, FULL_DEPTH)
                book_mid = book.mid
                if book_mid is None:
                    continue
                bid_reach = (book_mid - book.bids[-1][0]) / book_mid * 10_000
                ask_reach = (book.asks[-1][0] - book_mid) / book_mid * 10_000
                reach[symbol].append(float(min(bid_reach, ask_reach)))
                ratio = analysis.liquidity_ratio(analysis.depth_within(book, Decimal("0.01")))
                if ratio is not None:
                    ratios[symbol].append(float(ratio))

    annualise = math.sqrt(SECONDS_PER_YEAR / sample_s)
    out = []
    for s in symbols:
        returns: list[float] = []
        venues = 0
        for (_venue, sym), series in mids.items():
            if sym != s:
                continue
            venues += 1
            returns.extend(math.log(b / a) for a, b in itertools.pairwise(series))
        ref_returns = [math.log(b / a) for a, b in itertools.pairwise(ref[s])]
        out.append(
            SymbolCalibration(
                symbol=s,
                venues=venues,
                annual_vol=_stdev(returns) * annualise,
                reference_annual_vol=_stdev(ref_returns) * annualise,
                median_move_1s_bps=statistics.median(moves[s]) if moves[s] else 0.0,
                reach_bps_min=min(reach[s]),
                reach_bps_median=statistics.median(reach[s]),
                ratio_min=min(ratios[s]),
                ratio_max=max(ratios[s]),
                ratio_median=statistics.median(ratios[s]),
            )
        )
    return out


def report(rows: list[SymbolCalibration]) -> str:
    lines = [
        f"{'symbol':<11}{'venues':>7}{'vol/yr':>9}{'ref vol':>9}{'|1s move|':>11}"
        f"{'reach min':>11}{'reach med':>11}{'ratio min':>11}{'ratio med':>11}{'ratio max':>11}"
    ]
    for r in rows:
        lines.append(
            f"{r.symbol:<11}{r.venues:>7}{r.annual_vol:>8.0%} {r.reference_annual_vol:>8.0%}"
            f"{r.median_move_1s_bps:>8.2f}bps{r.reach_bps_min:>8.0f}bps{r.reach_bps_median:>8.0f}bps"
            f"{r.ratio_min:>11.2f}{r.ratio_median:>11.2f}{r.ratio_max:>11.2f}"
        )
    return "\n".join(lines)
