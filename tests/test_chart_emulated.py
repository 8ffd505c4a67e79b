"""The candle feed against the binance emulator through the real ccxt client on 127.0.0.1:
the backfill (klines) and the trades after it (``/api/v3/trades`` polled with ``since`` in
milliseconds) add up to the emulator engine's own candles, with no trade counted twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from aitbc_tui.chart_feed import CandleFeed
from aitbc_tui.venues import ccxt_market_data
from tests.apptools import wait_until
from tests.emulator_helpers import ccxt_client
from tests.test_emulator_market_data import cross_the_book

SYMBOL = "BTC/USDT"


class CcxtMarketData:
    """A venue's market data through ccxt, as ``venues.ccxt_market_data`` serves it."""

    def __init__(self, exchange) -> None:
        self.name = "binance"
        self.exchange = exchange

    async def fetch_trades(self, symbol, limit=100, since=None):
        return await ccxt_market_data.fetch_trades(self.exchange, symbol, limit, since, venue=self.name)

    async def fetch_ohlcv(self, symbol, timeframe="1m", limit=100, since=None):
        return await ccxt_market_data.fetch_ohlcv(self.exchange, symbol, timeframe, limit, since)


def ohlcv(candles):
    return [(c.open_time, c.open, c.high, c.low, c.close, c.volume) for c in candles]


async def test_feed_backfills_then_follows_the_emulators_trades(emulator_factory, loopback_only):
    emu = await emulator_factory("binance", seed=3, simulate=False)
    async with ccxt_client(emu) as exchange:
        await cross_the_book(exchange)  # two trades: buy 0.02 at the ask, sell 0.01 at the bid
        feed = CandleFeed(CcxtMarketData(exchange), SYMBOL, "1m", poll_s=0.05)
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: feed.ready, what="the backfill")
            assert feed.error is None
            assert ohlcv(feed.candles()) == ohlcv(emu.engine.candles(SYMBOL, "1m"))
            assert sum(c.volume for c in feed.candles()) == D("0.03")
            version = feed.version
            await cross_the_book(exchange)  # two more: the polls pick them up, once each
            await wait_until(lambda: sum(c.volume for c in feed.candles()) == D("0.06"),
                             what=lambda: f"feed {ohlcv(feed.candles())}")  # fmt: skip
            assert feed.version > version
            assert ohlcv(feed.candles()) == ohlcv(emu.engine.candles(SYMBOL, "1m"))
            assert feed.last == emu.engine.recent_trades(SYMBOL)[-1].price
        finally:
            task.cancel()
