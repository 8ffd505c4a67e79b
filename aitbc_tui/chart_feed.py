"""Candles for the price chart: backfilled from the venue's ``fetch_ohlcv``, then built live
from its public trades (the current candle moves as trades arrive).

No textual here. Two ways in:

- the chart screen (``C``) runs ``CandleFeed.run``: trades polled with
  ``fetch_trades(since=...)``, which every venue with market data serves;
- the trade layout's chart pane (``MarketFeed.candles``) runs only the backfill and is then
  fed the trade tape's own trades (``offer``): one stream feeds both panes, so the chart's
  current candle moves with the tape and a gap the tape backfilled is in the candles too.

Trades are deduplicated by id; the operator's own (``Trade.own``) are kept as fill marks.

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
BACKFILL_TRADES = 1000  # trades asked for (and kept while waiting) with the backfill
MAX_FILLS = 200


@dataclass(frozen=True, slots=True)
class FillMark:
    """One of the operator's fills, drawn on the candle it belongs to."""

    time: float
    price: Decimal
    side: Side


class JournalFills:
    """The operator's fills on one venue and symbol from the journal (every mode: a venue's
    public trades do not say which were ours), read again only when the service's orders
    changed (``orders_version``) or the chart's first candle moved."""

    def __init__(self) -> None:
        self._key: tuple = ()
        self._marks: tuple[FillMark, ...] = ()

    def get(self, service: Any, venue: str, symbol: str, since: float | None) -> tuple[FillMark, ...]:
        journal = getattr(service, "journal", None)
        if journal is None or since is None:
            return ()
        key = (service.orders_version, venue, symbol, since)
        if key != self._key:
            self._key = key
            try:
                events = journal.events(venue, since=since)
            except Exception:  # noqa: BLE001 - the chart still shows the fills the trades marked
                events = []
            self._marks = tuple(
                FillMark(e.at, e.price, Side(e.side))
                for e in events
                if e.kind.value == "fill" and e.symbol == symbol and e.price is not None
            )
        return self._marks


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
        self._pending: list[Trade] = []  # offered before the backfill arrived

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

    def offer(self, trades: list[Trade]) -> int:
        """Trades from a live source (the tape): ingested once the backfill is in, kept
        until then (so the backfill's newest bucket is not built twice)."""
        if not self.ready:
            self._pending.extend(trades)
            del self._pending[:-BACKFILL_TRADES]
            return 0
        return self.ingest(trades)

    def load_backfill(self, candles: list[Candle], trades: list[Trade]) -> None:
        """The venue's candles (oldest first) and its trades since the newest one opened
        (with any offered meanwhile: ``ingest`` drops the ones seen twice)."""
        self._cache = None
        if candles:
            self.builder.merge(candles[:-1])
        trades, self._pending = [*trades, *self._pending], []
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
        await self.backfill_once()
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

    async def backfill_once(self) -> None:
        """``fetch_ohlcv`` and the trades since its newest candle opened, retried until the
        venue answers (a venue without candles builds them from trades only)."""
        while True:
            try:
                candles = list(await base.fetch_ohlcv(self.venue, self.symbol, self.timeframe, limit=self.backfill))
                since = float(candles[-1].open_time) if candles else None
                trades = list(await base.fetch_trades(self.venue, self.symbol, limit=BACKFILL_TRADES, since=since))
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
