"""The market simulator: reference prices, per-venue deviations, a market maker and taker flow.

- Each asset has one USDT price following a geometric random walk (seeded ``random.Random``).
- Each (venue, symbol) deviates from the cross price ``P[base]/P[quote]`` by a mean-reverting
  amount plus rare dislocations that decay over seconds; a dislocation is large enough to beat
  two taker fees now and then, so net-positive cross-venue arbitrage appears and vanishes.
- The market maker quotes a fixed grid of ``levels`` price levels per side. On each step only
  levels that left the wanted range, or were consumed, are touched: a quiet step costs a few
  dict look-ups per level, not a requote. A requote that crosses a resting operator order
  trades against it as taker, which is how the operator's limit orders get filled.
- Taker flow sends small market orders; the top levels' sizes flicker (amend).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from aitbc_tui.domain import Market, OrderRejected, OrderType, Side
from aitbc_tui.sim.engine import MatchingEngine
from aitbc_tui.sim.specs import MARKET_MAKER, TAKER_FLOW, VOLATILITY_PER_SQRT_S, MarketSpec

LEVELS_PER_SIDE = 60

# Deviation of one venue's price from the common price (fractions of price).
DEVIATION_REVERSION_PER_S = 0.5
DEVIATION_STD = 0.0008
DISLOCATION_RATE_PER_S = 1 / 25  # per market
DISLOCATION_SIZE = (0.004, 0.011)
DISLOCATION_REVERSION_PER_S = 0.12
TAKER_RATE_PER_S = 1.2
FLICKER_RATE_PER_S = 4.0
FLICKER_TOP_LEVELS = 5


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
        for asset in sorted(self.prices):
            vol = VOLATILITY_PER_SQRT_S.get(asset)
            if vol:
                self.prices[asset] *= math.exp(vol * root * gauss(0.0, 1.0) - 0.5 * vol * vol * dt)

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
    deviation: float = 0.0
    dislocation: float = 0.0
    bids: dict[int, str] = field(default_factory=dict)  # grid index -> order id
    asks: dict[int, str] = field(default_factory=dict)
    bid_top: int | None = None
    ask_top: int | None = None

    @property
    def key(self) -> str:
        return f"{self.engine.venue}:{self.market.symbol}"


class MarketSimulator:
    def __init__(self, rng: random.Random, prices: PriceModel) -> None:
        self.rng = rng
        self.prices = prices
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
        quoter = Quoter(
            engine=engine,
            market=market,
            spec=spec,
            step=market.tick_size * ticks,
            half_spread=spec.half_spread_bps * spread_factor / 10_000,
            level_size_base=spec.level_notional_usdt / base_usdt,
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
        rng = self.rng
        decay = math.exp(-DEVIATION_REVERSION_PER_S * dt)
        noise = DEVIATION_STD * math.sqrt(1.0 - decay * decay)
        q.deviation = q.deviation * decay + noise * rng.gauss(0.0, 1.0)
        q.dislocation *= math.exp(-DISLOCATION_REVERSION_PER_S * dt)
        if rng.random() < DISLOCATION_RATE_PER_S * dt:
            size = rng.uniform(*DISLOCATION_SIZE)
            q.dislocation += size if rng.random() < 0.5 else -size

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
            low = bid_top - q.levels + 1
            for idx in [i for i in q.bids if i > bid_top or i < low]:
                self._pull(engine, q.bids.pop(idx))
        if ask_top != q.ask_top:
            high = ask_top + q.levels - 1
            for idx in [i for i in q.asks if i < ask_top or i > high]:
                self._pull(engine, q.asks.pop(idx))
        q.bid_top, q.ask_top = bid_top, ask_top
        self._fill_side(q, Side.SELL, q.asks, range(ask_top, ask_top + q.levels))
        self._fill_side(q, Side.BUY, q.bids, range(bid_top, max(bid_top - q.levels, 0), -1))

    @staticmethod
    def _pull(engine: MatchingEngine, order_id: str) -> None:
        if engine.is_open(order_id):
            engine.cancel_quiet(MARKET_MAKER, order_id)

    def _fill_side(self, q: Quoter, side: Side, quotes: dict[int, str], indices: range) -> None:
        engine, symbol, is_open = q.engine, q.market.symbol, q.engine.is_open
        for depth, idx in enumerate(indices):
            order_id = quotes.get(idx)
            if order_id is not None and is_open(order_id):
                continue
            amount = self._level_size(q, depth, q.step * idx)
            try:
                quotes[idx] = engine.place_quiet(MARKET_MAKER, symbol, side, OrderType.LIMIT,
                                                 amount, q.step * idx)  # fmt: skip
            except OrderRejected:
                quotes.pop(idx, None)

    def _level_size(self, q: Quoter, depth: int, price: Decimal) -> Decimal:
        m = q.market
        size = q.level_size_base * (0.4 + 0.12 * depth) * self.rng.lognormvariate(0.0, 0.45)
        return self._to_amount(m, size, price)

    @staticmethod
    def _to_amount(m: Market, size: float, price: Decimal) -> Decimal:
        amount = Decimal(int(size / float(m.lot_size))) * m.lot_size
        floor = m.min_amount
        if price > 0 and floor * price < m.min_notional:
            floor = (m.min_notional / price / m.lot_size).to_integral_value(rounding="ROUND_CEILING") * m.lot_size
        return max(amount, floor)

    def _flow(self, q: Quoter, dt: float) -> None:
        rng, engine, symbol = self.rng, q.engine, q.market.symbol
        if rng.random() < FLICKER_RATE_PER_S * dt:
            quotes, top = (q.bids, q.bid_top) if rng.random() < 0.5 else (q.asks, q.ask_top)
            depth = rng.randrange(FLICKER_TOP_LEVELS)
            idx = (top - depth) if quotes is q.bids else (top + depth)
            order_id = quotes.get(idx)
            factor = rng.uniform(0.5, 1.6)
            if order_id is not None and engine.is_open(order_id):
                remaining = engine.open_remaining(order_id)
                new = self._to_amount(q.market, float(remaining) * factor, q.step * idx)
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
