"""The market simulator: reference prices, per-venue deviations, a market maker and taker flow.

- Each asset has one USDT price following a geometric random walk (seeded ``random.Random``).
- Each (venue, symbol) deviates from the cross price ``P[base]/P[quote]`` by a mean-reverting
  amount plus rare dislocations that decay over seconds; a dislocation is large enough to beat
  two taker fees now and then, so net-positive cross-venue arbitrage appears and vanishes.
- The market maker quotes ``levels`` price levels per side on a grid in zones (``GRID_ZONES``):
  every grid step near the top, then every 4th (past ±1 % on BTC), then every 16th step, each zone aligned to
  multiples of its stride so a one-step move of the top only touches the zones' edges. The book
  reaches several percent from the mid (BTC ~3.6 %), like a real one, not 0.5 %. On each step only
  levels that left the wanted set, or were consumed, are touched: a quiet step costs a few dict
  look-ups per level, not a requote. A requote that crosses a resting operator order trades
  against it as taker, which is how the operator's limit orders get filled.
- Level sizes are drawn fresh around a depth profile, scaled by an inventory skew (bid sizes up,
  ask sizes down, or the reverse) that mean-reverts over ~20 s with occasional bursts, so the
  liquidity ratio wanders around 1 with realistic swings instead of random-walking to 0.07 or 12.
- Taker flow sends small market orders; the top levels' sizes flicker (amended to a fresh size).
- Random streams are separate (``random.Random`` seeded by text): the reference prices have one,
  each market's deviations another, each market's book and flow a third. The price path of a
  seed is therefore the same whatever the operator does and whatever pairs are added; a book's
  sizes follow the seed until an operator's order changes what the market maker must refill.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from aitbc_tui.domain import Market, OrderRejected, OrderType, Side
from aitbc_tui.sim.engine import MatchingEngine
from aitbc_tui.sim.specs import MARKET_MAKER, TAKER_FLOW, VOLATILITY_PER_SQRT_S, MarketSpec

# (stride in grid steps, levels): every step near the top, then coarser further out.
GRID_ZONES: tuple[tuple[int, int], ...] = ((1, 20), (4, 25), (16, 15))
LEVELS_PER_SIDE = sum(count for _, count in GRID_ZONES)
# A coarse level stands for `stride` fine ones; its size grows less than linearly.
STRIDE_SIZE_EXPONENT = 0.8

# Deviation of one venue's price from the common price (fractions of price): a couple of bps,
# closed within seconds by arbitrageurs, as between large venues.
DEVIATION_REVERSION_PER_S = 0.2
DEVIATION_STD = 0.0002
# Rare dislocations (one venue's price jumps, then decays over seconds): large enough to beat
# two taker fees now and then, so net-positive arbitrage appears and vanishes. They were every
# 25 s a market, which tripled the realised volatility of the venue prices.
DISLOCATION_RATE_PER_S = 1 / 900  # per market: about once a minute somewhere in the sandbox
DISLOCATION_SIZE = (0.004, 0.009)
DISLOCATION_REVERSION_PER_S = 0.25
# Loading of each asset on the common market factor: BTC and ETH correlate ~0.8 as in real
# markets, so ETH/BTC moves ~55 %/yr, not the ~90 % of two independent walks.
MARKET_CORRELATION: dict[str, float] = {"BTC": 0.9, "ETH": 0.9, "AITBC": 0.6}
TAKER_RATE_PER_S = 1.2
FLICKER_RATE_PER_S = 4.0
FLICKER_TOP_LEVELS = 5
# Inventory skew of the market maker (log of bid size / ask size multiplier): mean-reverting
# with occasional bursts.
SKEW_REVERSION_PER_S = 1 / 20
SKEW_STD = 0.12
SKEW_BURST_RATE_PER_S = 1 / 240
SKEW_BURST_SIZE = (0.2, 0.4)
SKEW_LIMIT = 0.6


def stream(seed: object, *names: str) -> random.Random:
    """An independent, reproducible random stream for ``seed`` and a name (str seeding is
    deterministic across runs and platforms)."""
    return random.Random("/".join([str(seed), *names]))


class PriceModel:
    """One USDT price per asset, geometric random walk."""

    def __init__(self, rng: random.Random, prices_usdt: dict[str, Decimal]) -> None:
        self.rng = rng
        self.prices: dict[str, float] = {a: float(p) for a, p in prices_usdt.items()}

    def set_price(self, asset: str, price_usdt: Decimal) -> None:
        self.prices[asset] = float(price_usdt)

    def step(self, dt: float) -> None:
        if dt <= 0:
            return
        root = math.sqrt(dt)
        gauss = self.rng.gauss
        common = gauss(0.0, 1.0)  # crypto moves together: one market factor
        for asset in sorted(self.prices):
            vol = VOLATILITY_PER_SQRT_S.get(asset)
            if vol:
                rho = MARKET_CORRELATION.get(asset, 0.0)
                shock = rho * common + math.sqrt(1.0 - rho * rho) * gauss(0.0, 1.0)
                self.prices[asset] *= math.exp(vol * root * shock - 0.5 * vol * vol * dt)

    def cross(self, base: str, quote: str) -> float | None:
        b, q = self.prices.get(base), self.prices.get(quote)
        if b is None or q is None or q <= 0:
            return None
        return b / q


@dataclass
class Quoter:
    """Market-maker state for one (venue, symbol)."""

    engine: MatchingEngine
    market: Market
    spec: MarketSpec
    step: Decimal  # grid distance between levels, a multiple of the tick
    half_spread: float  # fraction of price
    level_size_base: float  # typical size of a top level, in base
    levels: int = LEVELS_PER_SIDE
    path_rng: random.Random = field(default_factory=random.Random)  # deviations, dislocations
    flow_rng: random.Random = field(default_factory=random.Random)  # sizes, flicker, takers
    deviation: float = 0.0
    dislocation: float = 0.0
    skew: float = 0.0  # log multiplier: bid sizes * e^skew, ask sizes * e^-skew
    bids: dict[int, str] = field(default_factory=dict)  # grid index -> order id
    asks: dict[int, str] = field(default_factory=dict)
    bid_top: int | None = None
    ask_top: int | None = None
    # Wanted (grid index, depth, stride) best first, recomputed when the top moves.
    bid_want: list[tuple[int, int, int]] = field(default_factory=list)
    ask_want: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.engine.venue}:{self.market.symbol}"


def grid_levels(top: int, descending: bool, zones: tuple[tuple[int, int], ...] = GRID_ZONES
                ) -> list[tuple[int, int, int]]:  # fmt: skip
    """Grid indices of one side, best first, as (index, depth, stride): the top zone every
    index from ``top``, each further zone on multiples of its stride beyond the previous one.
    Bids (``descending``) stop above index 0 (a price must stay positive)."""
    out: list[tuple[int, int, int]] = []
    last = top + (1 if descending else -1)
    for stride, count in zones:
        if descending:
            idx = (last - 1) // stride * stride
        else:
            idx = (last // stride + 1) * stride
        for _ in range(count):
            if descending and idx <= 0:
                return out
            out.append((idx, len(out), stride))
            last = idx
            idx = idx - stride if descending else idx + stride
    return out


class MarketSimulator:
    def __init__(self, rng: random.Random, prices: PriceModel, seed: object | None = None) -> None:
        self.rng = rng
        self.prices = prices
        self.seed = seed  # None: every market's streams come from ``rng``
        self.quoters: list[Quoter] = []

    def add_market(self, engine: MatchingEngine, market: Market, spec: MarketSpec,
                   spread_factor: float = 1.0) -> Quoter | None:  # fmt: skip
        """Quote ``market`` if both assets have a reference price; return its quoter."""
        fair = self.prices.cross(market.base, market.quote)
        base_usdt = self.prices.prices.get(market.base)
        if fair is None or base_usdt is None:
            return None
        for account in (MARKET_MAKER, TAKER_FLOW):
            engine.set_unlimited(account, quiet=True)
        ticks = max(1, round(fair * spec.level_step_bps / 10_000 / float(market.tick_size)))
        if self.seed is None:
            path_rng, flow_rng = random.Random(self.rng.random()), random.Random(self.rng.random())
        else:
            path_rng = stream(self.seed, engine.venue, market.symbol, "path")
            flow_rng = stream(self.seed, engine.venue, market.symbol, "flow")
        quoter = Quoter(
            engine=engine,
            market=market,
            spec=spec,
            step=market.tick_size * ticks,
            half_spread=spec.half_spread_bps * spread_factor / 10_000,
            level_size_base=spec.level_notional_usdt / base_usdt,
            path_rng=path_rng,
            flow_rng=flow_rng,
        )
        self.quoters.append(quoter)
        self._quote(quoter)
        return quoter

    def step(self, dt: float) -> None:
        self.prices.step(dt)
        for quoter in self.quoters:
            self._move_deviation(quoter, dt)
            with quoter.engine.batch(quoter.market.symbol):
                self._quote(quoter)
                self._flow(quoter, dt)

    def fair_price(self, quoter: Quoter) -> float | None:
        cross = self.prices.cross(quoter.market.base, quoter.market.quote)
        if cross is None:
            return None
        return cross * (1.0 + quoter.deviation + quoter.dislocation)

    # ---- internals --------------------------------------------------------------------

    def _move_deviation(self, q: Quoter, dt: float) -> None:
        if dt <= 0:
            return
        rng = q.path_rng
        decay = math.exp(-DEVIATION_REVERSION_PER_S * dt)
        noise = DEVIATION_STD * math.sqrt(1.0 - decay * decay)
        q.deviation = q.deviation * decay + noise * rng.gauss(0.0, 1.0)
        q.dislocation *= math.exp(-DISLOCATION_REVERSION_PER_S * dt)
        if rng.random() < DISLOCATION_RATE_PER_S * dt:
            size = rng.uniform(*DISLOCATION_SIZE)
            q.dislocation += size if rng.random() < 0.5 else -size
        # the market maker's inventory skew (drawn from the flow stream: it shapes sizes only)
        flow = q.flow_rng
        skew_decay = math.exp(-SKEW_REVERSION_PER_S * dt)
        q.skew = q.skew * skew_decay + SKEW_STD * math.sqrt(1.0 - skew_decay * skew_decay) * flow.gauss(0.0, 1.0)
        if flow.random() < SKEW_BURST_RATE_PER_S * dt:
            burst = flow.uniform(*SKEW_BURST_SIZE)
            q.skew += burst if flow.random() < 0.5 else -burst
        q.skew = max(-SKEW_LIMIT, min(SKEW_LIMIT, q.skew))

    def _quote(self, q: Quoter) -> None:
        fair = self.fair_price(q)
        if fair is None or fair <= 0:
            return
        step_f = float(q.step)
        centre = fair / step_f
        half = q.half_spread * centre
        bid_top = math.floor(centre - half)
        ask_top = math.ceil(centre + half)
        if ask_top <= bid_top:
            ask_top = bid_top + 1
        engine = q.engine
        # Cancel first (both sides) so the new quotes never cross the market maker's own.
        if bid_top != q.bid_top:
            q.bid_want = grid_levels(bid_top, descending=True)[: q.levels]
            wanted = {i for i, _, _ in q.bid_want}
            for idx in [i for i in q.bids if i not in wanted]:
                self._pull(engine, q.bids.pop(idx))
        if ask_top != q.ask_top:
            q.ask_want = grid_levels(ask_top, descending=False)[: q.levels]
            wanted = {i for i, _, _ in q.ask_want}
            for idx in [i for i in q.asks if i not in wanted]:
                self._pull(engine, q.asks.pop(idx))
        q.bid_top, q.ask_top = bid_top, ask_top
        self._fill_side(q, Side.SELL, q.asks, q.ask_want)
        self._fill_side(q, Side.BUY, q.bids, q.bid_want)

    @staticmethod
    def _pull(engine: MatchingEngine, order_id: str) -> None:
        if engine.is_open(order_id):
            engine.cancel_quiet(MARKET_MAKER, order_id)

    def _fill_side(self, q: Quoter, side: Side, quotes: dict[int, str], wanted: list[tuple[int, int, int]]) -> None:
        engine, symbol, is_open = q.engine, q.market.symbol, q.engine.is_open
        for idx, depth, stride in wanted:
            order_id = quotes.get(idx)
            if order_id is not None and is_open(order_id):
                continue
            amount = self._level_size(q, depth, q.step * idx, side, stride)
            try:
                quotes[idx] = engine.place_quiet(MARKET_MAKER, symbol, side, OrderType.LIMIT,
                                                 amount, q.step * idx)  # fmt: skip
            except OrderRejected:
                quotes.pop(idx, None)

    def _level_size(self, q: Quoter, depth: int, price: Decimal, side: Side = Side.BUY, stride: int = 1) -> Decimal:
        fine_depth = min(depth, GRID_ZONES[0][1] - 1)
        skew = q.skew if side is Side.BUY else -q.skew
        size = (q.level_size_base * (0.4 + 0.12 * fine_depth) * stride**STRIDE_SIZE_EXPONENT
                * math.exp(skew) * q.flow_rng.lognormvariate(0.0, 0.45))  # fmt: skip
        return self._to_amount(q.market, size, price)

    @staticmethod
    def _to_amount(m: Market, size: float, price: Decimal) -> Decimal:
        amount = Decimal(int(size / float(m.lot_size))) * m.lot_size
        floor = m.min_amount
        if price > 0 and floor * price < m.min_notional:
            floor = (m.min_notional / price / m.lot_size).to_integral_value(rounding="ROUND_CEILING") * m.lot_size
        return max(amount, floor)

    def _flow(self, q: Quoter, dt: float) -> None:
        rng, engine, symbol = q.flow_rng, q.engine, q.market.symbol
        if rng.random() < FLICKER_RATE_PER_S * dt:
            is_bid = rng.random() < 0.5
            quotes, top = (q.bids, q.bid_top) if is_bid else (q.asks, q.ask_top)
            depth = rng.randrange(FLICKER_TOP_LEVELS)
            # No top yet (never quoted: no fair price) means no quotes to flicker.
            idx = None if top is None else (top - depth) if is_bid else (top + depth)
            order_id = None if idx is None else quotes.get(idx)
            if idx is not None and order_id is not None and engine.is_open(order_id):
                # A fresh size around the profile: amending by a factor of the current size
                # made the top levels random-walk to 36x or 1/36 of normal within minutes.
                new = self._level_size(q, depth, q.step * idx, Side.BUY if is_bid else Side.SELL)
                engine.amend_remaining(MARKET_MAKER, order_id, new)
        if rng.random() < TAKER_RATE_PER_S * dt:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            fair = self.fair_price(q) or 0.0
            size = q.level_size_base * rng.uniform(0.03, 0.5)
            amount = self._to_amount(q.market, size, Decimal(repr(fair)) if fair > 0 else Decimal(0))
            try:
                engine.place_quiet(TAKER_FLOW, symbol, side, OrderType.MARKET, amount)
            except OrderRejected:
                pass
