"""The engine's public trades, candles and 24 h figures; the sandbox venue's market-data methods."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from aitbc_tui.domain import FeatureUnavailable, Market, OrderRejected, OrderType, Side
from aitbc_tui.sim.engine import MatchingEngine, TradeExecuted
from aitbc_tui.venues import base
from aitbc_tui.venues.sim import create_sandbox_venues

T0 = 1_700_000_040.0  # a whole minute


def engine_at(clock: list[float]) -> MatchingEngine:
    engine = MatchingEngine("simx", clock=lambda: clock[0])
    engine.add_market(Market("BTC/USDT", "BTC", "USDT", D("0.1"), D("0.001"), D("0.001"), D(0), D("0.001"), D("0.002")))
    for account in ("maker", "taker"):
        engine.set_unlimited(account)
    return engine


def test_crossing_orders_make_public_trades_candles_and_figures():
    clock = [T0 + 5]
    engine = engine_at(clock)
    events = []
    engine.add_listener(events.append)
    engine.place("maker", "BTC/USDT", Side.SELL, OrderType.LIMIT, D(1), D(100))
    engine.place("maker", "BTC/USDT", Side.SELL, OrderType.LIMIT, D(1), D("100.5"))
    engine.place("taker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("1.5"), D(101))  # two trades
    clock[0] = T0 + 65
    engine.place("maker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D(2), D(99))
    engine.place("taker", "BTC/USDT", Side.SELL, OrderType.MARKET, D("0.25"))
    trades = engine.recent_trades("BTC/USDT", account="taker")
    assert [(t.id, t.price, t.amount, t.side, t.time, t.own) for t in trades] == [
        ("1", D(100), D(1), Side.BUY, T0 + 5, True),
        ("2", D("100.5"), D("0.5"), Side.BUY, T0 + 5, True),
        ("3", D(99), D("0.25"), Side.SELL, T0 + 65, True),
    ]
    assert not any(t.own for t in engine.recent_trades("BTC/USDT", account="someone"))
    assert [t.id for t in engine.recent_trades("BTC/USDT", limit=2)] == ["2", "3"]
    executed = [e for e in events if isinstance(e, TradeExecuted)]
    assert [(e.trade.id, e.maker_account, e.taker_account) for e in executed] == [
        ("1", "maker", "taker"),
        ("2", "maker", "taker"),
        ("3", "maker", "taker"),
    ]
    first, second = engine.candles("BTC/USDT", "1m")
    assert (first.open_time, first.open, first.high, first.low, first.close, first.volume) == (
        int(T0),
        D(100),
        D("100.5"),
        D(100),
        D("100.5"),
        D("1.5"),
    )
    assert first.quote_volume == D("150.25") and first.trades == 2  # 100 + 50.25
    assert (second.open, second.close, second.volume) == (D(99), D(99), D("0.25"))
    assert len(engine.candles("BTC/USDT", "1h")) == 1
    ticker = engine.ticker("BTC/USDT")
    assert (ticker.last, ticker.open, ticker.high, ticker.low) == (D(99), D(100), D("100.5"), D(99))
    assert ticker.base_volume == D("1.75") and ticker.quote_volume == D(
        "175.00"
    )  # 150.25 + 24.75 and ticker.trades == 3
    assert ticker.change_pct == D(-1) and ticker.bid == D(99) and ticker.ask == D("100.5")  # half of it left
    assert engine.trade_count("BTC/USDT") == 3


def test_self_trade_prevention_makes_no_trade():
    clock = [T0]
    engine = engine_at(clock)
    engine.place("maker", "BTC/USDT", Side.SELL, OrderType.LIMIT, D(1), D(100))
    engine.place("maker", "BTC/USDT", Side.BUY, OrderType.LIMIT, D(1), D(100))
    assert engine.recent_trades("BTC/USDT") == [] and engine.ticker("BTC/USDT").last is None


async def test_sandbox_venue_serves_trades_candles_tickers_and_a_stream():
    world, venues = create_sandbox_venues(seed=7, persist=False, latency=False, autostart_ticks=False)
    venue = venues[0]
    try:
        await venue.start()
        symbol = "BTC/USDT"
        watcher = asyncio.create_task(venue.watch_trades(symbol))
        await asyncio.sleep(0)  # the watcher registers before the world moves
        for _ in range(600):
            world.step(0.1)
            if venue.engine.trade_count(symbol) >= 3:
                break
        assert venue.engine.trade_count(symbol) >= 3, "the seeded taker flow traded"
        streamed = await asyncio.wait_for(watcher, 5)
        assert streamed and all(t.symbol == symbol and not t.own for t in streamed)
        _bid, ask = venue.engine.best_bid_ask(symbol)
        market = venue.engine.markets[symbol]
        order, fills = venue.engine.place(venue.account, symbol, Side.BUY, OrderType.LIMIT, market.min_amount * 10, ask)
        assert fills
        trades = await venue.fetch_trades(symbol, limit=5)
        assert len(trades) <= 5 and trades[-1].own and trades[-1].price == ask and trades[-1].side is Side.BUY
        assert trades == sorted(trades, key=lambda t: int(t.id))
        own = await base.fetch_trades(venue, symbol, limit=1000)
        assert sum(t.amount for t in own if t.own) == order.filled
        candles = await venue.fetch_ohlcv(symbol, "1m", limit=10)
        assert candles and sum(c.volume for c in await venue.fetch_ohlcv(symbol, "1d")) == sum(t.amount for t in own)
        tickers = await venue.fetch_tickers()
        assert set(tickers) == set(venue.engine.markets) and tickers[symbol].last == ask
        assert (await base.fetch_tickers(venue, [symbol]))[symbol].trades == venue.engine.trade_count(symbol)
        with pytest.raises(FeatureUnavailable, match="timeframes: 1m"):
            await venue.fetch_ohlcv(symbol, "2m")
        with pytest.raises(OrderRejected):
            await venue.fetch_trades("NOPE/USDT")
    finally:
        await venue.close()
        world.close()


async def test_a_venue_without_market_data_says_so():
    class Bare:
        name = "bare"

    with pytest.raises(FeatureUnavailable, match="bare does not serve public trades"):
        await base.fetch_trades(Bare(), "BTC/USDT")
    with pytest.raises(FeatureUnavailable, match="candles"):
        await base.fetch_ohlcv(Bare(), "BTC/USDT")
