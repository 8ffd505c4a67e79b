"""Per-exchange facts the order path needs, kept as data (freqtrade keeps ``_ft_has``
tables per exchange the same way) instead of branches through the client.

``ORDER_LANE``: the venue's own limit on order actions (create / cancel), which our
order lane enforces itself so it never waits in ccxt's throttle behind market-data and
account polling:
- binance: 50 orders per 10 s per account (and one IP weight budget of 6,000 a minute,
  of which an order costs 1): a burst of 50, refilled at 5 a second;
- kraken: the trading-engine counter, per pair: threshold 60 (starter tier), decaying 1
  a second; AddOrder and CancelOrder do not spend the REST call counter that Balance and
  OpenOrders use;
- coinbase: 30 private requests a second;
- any other exchange: 10 a second.

``TIME_IN_FORCE``: which of GTC / IOC / FOK and post-only the venue supports on spot.

Nothing here imports textual or ccxt.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LaneLimit:
    burst: float  # actions that may go at once
    per_second: float  # refill rate
    per_symbol: bool = False  # kraken's counter is per pair


ORDER_LANE: dict[str, LaneLimit] = {
    "binance": LaneLimit(burst=50, per_second=5),
    "kraken": LaneLimit(burst=60, per_second=1, per_symbol=True),
    "coinbase": LaneLimit(burst=30, per_second=30),
    "coinbaseexchange": LaneLimit(burst=15, per_second=15),
}
DEFAULT_LANE = LaneLimit(burst=10, per_second=10)

# Spot order options each venue offers through ccxt (post-only is a flag on a GTC limit).
TIME_IN_FORCE: dict[str, frozenset[str]] = {
    "binance": frozenset({"gtc", "ioc", "fok", "post_only"}),
    "kraken": frozenset({"gtc", "ioc", "post_only"}),  # spot has no fill-or-kill
    "coinbase": frozenset({"gtc", "ioc", "fok", "post_only"}),
    "coinbaseexchange": frozenset({"gtc", "ioc", "fok", "post_only"}),
    "sim": frozenset({"gtc", "ioc", "fok", "post_only"}),
}
DEFAULT_TIME_IN_FORCE = frozenset({"gtc", "ioc", "post_only"})


def lane_limit(exchange_id: str) -> LaneLimit:
    return ORDER_LANE.get(exchange_id, DEFAULT_LANE)


def order_options(exchange_id: str) -> frozenset[str]:
    return TIME_IN_FORCE.get(exchange_id, DEFAULT_TIME_IN_FORCE)


class TokenBucket:
    """The order lane's own limiter: ``burst`` actions at once, refilled continuously."""

    def __init__(self, limit: LaneLimit, monotonic=time.monotonic) -> None:
        self.limit = limit
        self._monotonic = monotonic
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}

    def delay_s(self, key: str = "") -> float:
        """Take one token for ``key``; return how long to wait before acting (0: now)."""
        key = key if self.limit.per_symbol else ""
        now = self._monotonic()
        tokens = self._tokens.get(key, self.limit.burst)
        tokens = min(self.limit.burst, tokens + (now - self._stamp.get(key, now)) * self.limit.per_second)
        self._stamp[key] = now
        tokens -= 1
        self._tokens[key] = tokens
        return 0.0 if tokens >= 0 else -tokens / self.limit.per_second

    async def wait(self, key: str = "") -> None:
        delay = self.delay_s(key)
        if delay > 0:
            await asyncio.sleep(delay)
