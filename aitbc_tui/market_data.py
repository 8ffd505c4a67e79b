"""Market data from trades: the public trade (tape), candles per timeframe, 24 h ticker figures.

Pure logic (no textual, no ccxt, no I/O): the sim engine, the emulators, the venues and the
panes all build on these types. Money is Decimal; times are epoch seconds (float), candle
boundaries whole seconds in UTC.

Rules the panes and tests rely on:

- ``Trade.side`` is the aggressor's side (the taker): a buy lifted an ask.
- A candle covers ``[open_time, open_time + timeframe)``; a trade exactly on a boundary opens
  the next candle. Open is the earliest trade by time, close the latest (a late trade, one older
  than the candle's newest, changes high/low/volume but not the close; one older than the
  candle's first trade becomes the open). Ties in time keep arrival order.
- A trade older than the oldest candle a full builder keeps is dropped (``add`` returns None).
- 24 h figures cover the trades with ``now - 24 h < time <= now``; ``last`` is the newest trade
  even when it is older than the window (then volumes are 0 and the change is 0).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from aitbc_tui.domain import ZERO, Side

# Supported timeframes and their length in seconds (the names ccxt and the venues use).
TIMEFRAMES: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
DAY_S = 86400
DEFAULT_MAX_CANDLES = 1000


def timeframe_seconds(timeframe: str) -> int:
    """Seconds of ``timeframe``; ValueError naming the allowed ones otherwise."""
    seconds = TIMEFRAMES.get(timeframe)
    if seconds is None:
        raise ValueError(f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAMES)}")
    return seconds


def bucket_start(time: float, timeframe: str) -> int:
    """Open time (epoch seconds, UTC-aligned) of the ``timeframe`` candle containing ``time``."""
    seconds = timeframe_seconds(timeframe)
    return int(time // seconds) * seconds


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade (a line of the tape)."""

    symbol: str
    time: float  # epoch seconds
    price: Decimal
    amount: Decimal  # base
    side: Side  # the aggressor (taker)
    id: str  # the venue's trade id, unique per symbol
    own: bool = False  # the operator's account was maker or taker
    venue: str = ""

    @property
    def cost(self) -> Decimal:
        """Value in quote: price x amount."""
        return self.price * self.amount


@dataclass(frozen=True, slots=True)
class Candle:
    timeframe: str
    open_time: int  # epoch seconds, start of the bucket
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal  # base
    quote_volume: Decimal = ZERO
    trades: int = 0  # number of trades (0 when a backfill did not say)

    @property
    def close_time(self) -> int:
        """Exclusive end of the bucket."""
        return self.open_time + TIMEFRAMES[self.timeframe]


class _Bucket:
    __slots__ = ("open_time", "open", "high", "low", "close", "volume", "quote_volume", "trades",
                 "first_time", "last_time", "backfilled")  # fmt: skip

    def __init__(self, open_time: int, trade: Trade | None = None) -> None:
        self.open_time = open_time
        self.backfilled = False
        if trade is not None:
            p = trade.price
            self.open = self.high = self.low = self.close = p
            self.volume = trade.amount
            self.quote_volume = trade.price * trade.amount
            self.trades = 1
            self.first_time = self.last_time = trade.time

    def add(self, trade: Trade) -> None:
        p = trade.price
        if p > self.high:
            self.high = p
        if p < self.low:
            self.low = p
        self.volume += trade.amount
        self.quote_volume += p * trade.amount
        self.trades += 1
        if trade.time < self.first_time:
            self.first_time = trade.time
            self.open = p
        if trade.time >= self.last_time:
            self.last_time = trade.time
            self.close = p

    def candle(self, timeframe: str) -> Candle:
        return Candle(timeframe, self.open_time, self.open, self.high, self.low, self.close,
                      self.volume, self.quote_volume, self.trades)  # fmt: skip


class CandleBuilder:
    """OHLCV candles of one symbol and timeframe, built from trades and merged with a backfill.

    Keeps at most ``max_candles`` candles (the oldest go first). Buckets without trades have
    no candle (no flat filler candles: a chart draws the gap)."""

    def __init__(self, timeframe: str = "1m", max_candles: int = DEFAULT_MAX_CANDLES) -> None:
        self.timeframe = timeframe
        self.seconds = timeframe_seconds(timeframe)
        self.max_candles = max(1, max_candles)
        self._times: list[int] = []  # ascending open times
        self._buckets: dict[int, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._times)

    def add(self, trade: Trade) -> Candle | None:
        """Add one trade; returns the candle it changed, or None when it is too old to keep."""
        start = int(trade.time // self.seconds) * self.seconds
        bucket = self._buckets.get(start)
        if bucket is not None:
            bucket.add(trade)
            return bucket.candle(self.timeframe)
        times = self._times
        if times and start < times[0] and len(times) >= self.max_candles:
            return None
        if not times or start > times[-1]:
            times.append(start)
        else:
            bisect.insort(times, start)
        bucket = self._buckets[start] = _Bucket(start, trade)
        self._trim()
        return bucket.candle(self.timeframe)

    def add_many(self, trades: Iterable[Trade]) -> None:
        for trade in trades:
            self.add(trade)

    def _trim(self) -> None:
        while len(self._times) > self.max_candles:
            del self._buckets[self._times.pop(0)]

    def merge(self, candles: Iterable[Candle]) -> None:
        """Backfill from the venue (``fetch_ohlcv``). The venue saw every trade of a bucket and
        we may have joined in the middle of one, so a backfilled candle replaces ours, except
        for our newest bucket (still being built live): there the venue's open is kept, high
        and low are widened to both, our close stands (it is newer) and the volume is the
        larger of the two (the same trades may be counted by both; we have no ids to tell)."""
        newest = self._times[-1] if self._times else None
        for c in candles:
            if c.timeframe != self.timeframe:
                raise ValueError(f"cannot merge a {c.timeframe} candle into {self.timeframe} candles")
            mine = self._buckets.get(c.open_time)
            if mine is not None and c.open_time == newest and not mine.backfilled:
                mine.open = c.open
                mine.high = max(mine.high, c.high)
                mine.low = min(mine.low, c.low)
                if c.volume > mine.volume:
                    mine.volume, mine.quote_volume = c.volume, c.quote_volume
                mine.trades = max(mine.trades, c.trades)
                mine.first_time = min(mine.first_time, float(c.open_time))
                continue
            bucket = _Bucket(c.open_time)
            bucket.open, bucket.high, bucket.low, bucket.close = c.open, c.high, c.low, c.close
            bucket.volume, bucket.quote_volume, bucket.trades = c.volume, c.quote_volume, c.trades
            bucket.first_time, bucket.last_time = float(c.open_time), float(c.open_time)
            bucket.backfilled = True
            if mine is None:
                bisect.insort(self._times, c.open_time)
            self._buckets[c.open_time] = bucket
        self._trim()

    def candles(self, limit: int | None = None, since: float | None = None) -> list[Candle]:
        """Oldest first; ``since``: only candles opening at or after it; ``limit``: the newest N."""
        times = self._times
        if since is not None:
            times = times[bisect.bisect_left(times, since) :]
        if limit is not None:
            times = times[-limit:] if limit > 0 else []
        return [self._buckets[t].candle(self.timeframe) for t in times]

    @property
    def current(self) -> Candle | None:
        """The newest candle (the one the chart's last price line belongs to)."""
        return self._buckets[self._times[-1]].candle(self.timeframe) if self._times else None


def build_candles(trades: Iterable[Trade], timeframe: str, max_candles: int = DEFAULT_MAX_CANDLES) -> list[Candle]:
    builder = CandleBuilder(timeframe, max_candles)
    builder.add_many(trades)
    return builder.candles()


def aggregate(candles: Sequence[Candle], timeframe: str) -> list[Candle]:
    """Roll finer candles (oldest first) up into ``timeframe`` candles."""
    seconds = timeframe_seconds(timeframe)
    out: list[Candle] = []
    for c in candles:
        if TIMEFRAMES[c.timeframe] > seconds or seconds % TIMEFRAMES[c.timeframe]:
            raise ValueError(f"cannot build {timeframe} candles from {c.timeframe} candles")
        start = c.open_time // seconds * seconds
        if out and out[-1].open_time == start:
            last = out[-1]
            out[-1] = replace(last, high=max(last.high, c.high), low=min(last.low, c.low), close=c.close,
                              volume=last.volume + c.volume, quote_volume=last.quote_volume + c.quote_volume,
                              trades=last.trades + c.trades)  # fmt: skip
        else:
            out.append(replace(c, timeframe=timeframe, open_time=start))
    return out


# ---- 24 h figures ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ticker24h:
    """Rolling 24 h figures of one symbol, computed from trades (not a copy of the mid)."""

    symbol: str
    last: Decimal | None  # newest trade price; None when nothing ever traded
    open: Decimal | None  # first trade price inside the window
    high: Decimal | None
    low: Decimal | None
    base_volume: Decimal
    quote_volume: Decimal
    trades: int
    timestamp: float  # the "now" the window ends at
    bid: Decimal | None = None
    ask: Decimal | None = None
    venue: str = ""
    last_amount: Decimal | None = None
    first_trade_id: str = ""  # oldest trade in the window ("" when none)
    last_trade_id: str = ""

    @property
    def change(self) -> Decimal | None:
        if self.last is None or self.open is None:
            return ZERO if self.last is not None else None
        return self.last - self.open

    @property
    def change_pct(self) -> Decimal | None:
        """(last - open) / open x 100, unrounded."""
        change = self.change
        if change is None or not self.open:
            return ZERO if change is not None else None
        return change / self.open * 100

    @property
    def vwap(self) -> Decimal | None:
        return self.quote_volume / self.base_volume if self.base_volume else self.last


def ticker_from_trades(symbol: str, trades: Iterable[Trade], now: float, *, window_s: float = DAY_S,
                       bid: Decimal | None = None, ask: Decimal | None = None, venue: str = "") -> Ticker24h:  # fmt: skip
    """24 h figures of ``trades`` (any order) for the window ``(now - window_s, now]``."""
    start = now - window_s
    last: Trade | None = None
    first_in: Trade | None = None
    last_in: Trade | None = None
    high = low = None
    base = quote = ZERO
    count = 0
    for t in trades:
        if t.time > now:
            continue
        if last is None or t.time >= last.time:
            last = t
        if t.time <= start:
            continue
        count += 1
        base += t.amount
        quote += t.price * t.amount
        high = t.price if high is None or t.price > high else high
        low = t.price if low is None or t.price < low else low
        if first_in is None or t.time < first_in.time:
            first_in = t
        if last_in is None or t.time >= last_in.time:
            last_in = t
    return Ticker24h(symbol, last.price if last else None,
                     first_in.price if first_in else (last.price if last else None),
                     high if high is not None else (last.price if last else None),
                     low if low is not None else (last.price if last else None),
                     base, quote, count, now, bid, ask, venue, last.amount if last else None,
                     first_in.id if first_in else "", last_in.id if last_in else "")  # fmt: skip


def ticker_from_candles(symbol: str, candles_1m: Sequence[Candle], now: float, *, last: Decimal | None = None,
                        bid: Decimal | None = None, ask: Decimal | None = None, venue: str = "") -> Ticker24h:  # fmt: skip
    """24 h figures from 1-minute candles (oldest first): the 1440 minute buckets ending with the
    one containing ``now`` (minute resolution, like the venues' rolling windows). ``last``
    defaults to the newest candle's close."""
    start = int(now // 60) * 60 - DAY_S + 60
    inside = [c for c in candles_1m if start <= c.open_time <= now]
    newest = candles_1m[-1].close if candles_1m else None
    last = last if last is not None else newest
    if not inside:
        return Ticker24h(symbol, last, last, last, last, ZERO, ZERO, 0, now, bid, ask, venue)
    return Ticker24h(
        symbol, last, inside[0].open, max(c.high for c in inside), min(c.low for c in inside),
        sum((c.volume for c in inside), ZERO), sum((c.quote_volume for c in inside), ZERO),
        sum(c.trades for c in inside), now, bid, ask, venue,
    )  # fmt: skip


class SymbolMarketData:
    """Everything the engine keeps per symbol: a bounded recent-trades buffer and candle
    builders for every timeframe (``max_candles`` each; the 1m builder keeps at least a day)."""

    def __init__(self, symbol: str, max_trades: int = 1000, max_candles: int = DEFAULT_MAX_CANDLES) -> None:
        from collections import deque

        self.symbol = symbol
        self.trades: deque[Trade] = deque(maxlen=max_trades)
        self.builders = {tf: CandleBuilder(tf, max(max_candles, DAY_S // 60 + 1) if tf == "1m" else max_candles)
                         for tf in TIMEFRAMES}  # fmt: skip
        self.trade_count = 0

    def add(self, trade: Trade) -> None:
        self.trades.append(trade)
        self.trade_count += 1
        for builder in self.builders.values():
            builder.add(trade)

    def recent(self, limit: int | None = None) -> list[Trade]:
        """Newest last."""
        trades = list(self.trades)
        return trades[-limit:] if limit else trades

    def candles(self, timeframe: str, limit: int | None = None, since: float | None = None) -> list[Candle]:
        timeframe_seconds(timeframe)
        return self.builders[timeframe].candles(limit, since)

    def ticker(self, now: float, bid: Decimal | None = None, ask: Decimal | None = None, venue: str = "") -> Ticker24h:
        last = self.trades[-1] if self.trades else None
        ticker = ticker_from_candles(self.symbol, self.builders["1m"].candles(), now,
                                     last=last.price if last else None, bid=bid, ask=ask, venue=venue)  # fmt: skip
        if last is None:
            return ticker
        first = next((t for t in self.trades if t.time > now - DAY_S), None)
        return replace(ticker, last_amount=last.amount, first_trade_id=first.id if first else "",
                       last_trade_id=last.id)  # fmt: skip
