"""Candles for the price chart: backfilled from the venue's ``fetch_ohlcv``, then built live
from its public trades (the current candle moves as trades arrive).

No textual here. Trades are polled with ``fetch_trades(since=...)``, which every venue with
market data serves and which, unlike a trade stream, has no single consumer (the trade tape
may watch the same symbol's stream). Trades are deduplicated by id; the operator's own
(``Trade.own``) are kept as fill marks.

Backfill without double counting: the venue's candles are merged except the newest, the
newest bucket is built from the venue's trades in it, then the venue's newest candle is
merged on top (``CandleBuilder.merge`` keeps its open and widens high/low; the volume is the
larger of the two).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aitbc_tui.domain import FeatureUnavailable, Side
from aitbc_tui.market_data import Candle, CandleBuilder, Trade
from aitbc_tui.venues import base

BACKFILL_CANDLES = 500
MAX_FILLS = 200


@dataclass(frozen=True, slots=True)
class FillMark:
    """One of the operator's fills, drawn on the candle it belongs to."""

    time: float
    price: Decimal
    side: Side


class CandleFeed:
    """One venue, symbol and timeframe. ``version`` grows with every change (the chart
    repaints, at its own bounded rate, only when it did)."""

    def __init__(self, venue: Any, symbol: str, timeframe: str, *, backfill: int = BACKFILL_CANDLES,
                 poll_s: float = 1.0) -> None:  # fmt: skip
        self.venue = venue
        self.symbol = symbol
        self.timeframe = timeframe
        self.builder = CandleBuilder(timeframe, max(backfill, 1) * 2)
        self.backfill = backfill
        self.poll_s = poll_s
        self.version = 0
        self.last: Decimal | None = None
        self.fills: list[FillMark] = []
        self.error: str | None = None  # the newest failure, shown on the chart; None when well
        self.ready = False  # the backfill arrived
        self._since: float | None = None
        self._seen_at_since: set[str] = set()
        # The candles as last read, oldest first: a trade into the newest bucket replaces only
        # the last one, so a repaint does not rebuild every Candle (and the chart can tell the
        # older ones did not change by identity).
        self._cache: list[Candle] | None = None

    # ---- data ---------------------------------------------------------------------------

    def candles(self, limit: int | None = None) -> list[Candle]:
        """Oldest first; the newest ``limit``."""
        if self._cache is None:
            self._cache = self.builder.candles()
        if limit is None:
            return list(self._cache)
        return self._cache[-limit:] if limit > 0 else []

    def ingest(self, trades: list[Trade]) -> int:
        """Add the trades not seen before (by id); how many were new."""
        added = 0
        for trade in sorted(trades, key=lambda t: t.time):
            if self._since is not None:
                if trade.time < self._since or (trade.time == self._since and trade.id in self._seen_at_since):
                    continue
            if self._since is None or trade.time > self._since:
                self._since = trade.time
                self._seen_at_since = set()
            self._seen_at_since.add(trade.id)
            changed = self.builder.add(trade)
            cache = self._cache
            if cache and changed is not None and changed.open_time == cache[-1].open_time:
                cache[-1] = changed
            else:
                self._cache = None
            self.last = trade.price
            if trade.own:
                self.fills.append(FillMark(trade.time, trade.price, trade.side))
                del self.fills[:-MAX_FILLS]
            added += 1
        if added:
            self.version += 1
        return added

    def load_backfill(self, candles: list[Candle], trades: list[Trade]) -> None:
        """The venue's candles (oldest first) and its trades since the newest one opened."""
        self._cache = None
        if candles:
            self.builder.merge(candles[:-1])
        self.ingest([t for t in trades if not candles or t.time >= candles[-1].open_time])
        if candles:
            self.builder.merge(candles[-1:])
            self._cache = None
            if self.last is None:
                self.last = candles[-1].close
        self.ready = True
        self.version += 1

    # ---- the loop (run in a worker by the chart screen) ---------------------------------

    async def run(self) -> None:
        await self._backfill()
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                trades = await base.fetch_trades(self.venue, self.symbol, limit=1000, since=self._since)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - shown on the chart, tried again next poll
                self._fail(exc)
                continue
            if self.error is not None:
                self.error = None
                self.version += 1
            self.ingest(list(trades))

    async def _backfill(self) -> None:
        while True:
            try:
                candles = list(await base.fetch_ohlcv(self.venue, self.symbol, self.timeframe, limit=self.backfill))
                since = float(candles[-1].open_time) if candles else None
                trades = list(await base.fetch_trades(self.venue, self.symbol, limit=1000, since=since))
            except asyncio.CancelledError:
                raise
            except FeatureUnavailable as exc:  # no candles from this venue: build them from trades only
                self._fail(exc)
                self.load_backfill([], [])
                return
            except Exception as exc:  # noqa: BLE001 - shown on the chart, tried again
                self._fail(exc)
                await asyncio.sleep(self.poll_s * 4)
                continue
            self.error = None
            self.load_backfill(candles, trades)
            return

    def _fail(self, exc: Exception) -> None:
        from aitbc_tui.service import describe_error

        self.error = describe_error(exc)
        self.version += 1
