"""The real ccxt client (never a mock) reads the emulators' market data on 127.0.0.1: trades,
candles and 24 h figures are what the emulator's own engine traded. The market is still
(``simulate=False``), so the only trades are the two this test makes by crossing the book."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.emulator_helpers import ccxt_client, emulator_factory  # noqa: F401

SYMBOL = "BTC/USDT"
VENUES = ("binance", "kraken", "coinbase")


def dec(value: float) -> D:
    return D(str(value))


async def cross_the_book(exchange) -> list[tuple[D, D, str]]:
    """Buy 0.02 at the best ask, then sell 0.01 at the best bid: (price, amount, aggressor side)."""
    await exchange.load_markets()
    book = await exchange.fetch_order_book(SYMBOL)
    ask, ask_size = book["asks"][0][:2]
    bid, bid_size = book["bids"][0][:2]
    assert ask_size >= 0.02 and bid_size >= 0.01
    await exchange.create_order(SYMBOL, "limit", "buy", 0.02, ask)
    await exchange.create_order(SYMBOL, "limit", "sell", 0.01, bid)
    return [(dec(ask), D("0.02"), "buy"), (dec(bid), D("0.01"), "sell")]


@pytest.fixture(params=VENUES)
async def traded(request, emulator_factory):  # noqa: F811
    emu = await emulator_factory(request.param, seed=3, simulate=False)
    async with ccxt_client(emu) as exchange:
        if request.param == "kraken":
            exchange.has["fetchCurrencies"] = False
        made = await cross_the_book(exchange)
        yield emu, exchange, made


async def test_fetch_trades_returns_what_the_engine_traded(traded):
    emu, exchange, made = traded
    trades = await exchange.fetch_trades(SYMBOL)
    got = sorted(((dec(t["price"]), dec(t["amount"]), t["side"], t["id"], t["timestamp"]) for t in trades),
                 key=lambda row: int(row[3]))  # fmt: skip
    assert [(p, a, s) for p, a, s, _id, _ts in got] == made
    assert [row[3] for row in got] == ["1", "2"]
    engine_trades = emu.engine.recent_trades(SYMBOL)
    # kraken sends times with 4 decimals of a second: ccxt's milliseconds may round up by one
    assert all(abs(int(t.time * 1000) - row[4]) <= 1 for t, row in zip(engine_trades, got, strict=True))
    assert await exchange.fetch_trades("ETH/USDT") == []  # nothing traded there


async def test_fetch_ohlcv_builds_candles_from_those_trades(traded):
    emu, exchange, made = traded
    candles = await exchange.fetch_ohlcv(SYMBOL, "1m")
    times = [t.time for t in emu.engine.recent_trades(SYMBOL)]
    (ask, buy_amount, _), (bid, sell_amount, _) = made
    if int(times[0] // 60) == int(times[1] // 60):  # both trades in one minute (almost always)
        assert [[dec(v) for v in c[1:]] for c in candles] == [[ask, ask, bid, bid, buy_amount + sell_amount]]
        assert candles[0][0] == int(times[0] // 60) * 60_000
    else:  # the two trades straddle a minute boundary
        assert [[dec(v) for v in c[1:]] for c in candles] == [
            [ask, ask, ask, ask, buy_amount],
            [bid, bid, bid, bid, sell_amount],
        ]
    day = await exchange.fetch_ohlcv(SYMBOL, "1d")
    assert len(day) == 1 and dec(day[0][5]) == D("0.03") and dec(day[0][2]) == ask and dec(day[0][3]) == bid


async def test_24h_ticker_figures_are_real(traded):
    emu, exchange, made = traded
    (ask, buy_amount, _), (bid, sell_amount, _) = made
    quote_volume = ask * buy_amount + bid * sell_amount
    tickers = await exchange.fetch_tickers()
    assert SYMBOL in tickers and "ETH/USDT" in tickers
    ticker = tickers[SYMBOL] if emu.venue == "coinbase" else await exchange.fetch_ticker(SYMBOL)
    assert dec(ticker["last"]) == bid
    assert dec(ticker["baseVolume"]) == D("0.03")
    # kraken sends no quote volume: ccxt multiplies the base volume by the vwap (5 more decimals)
    assert ticker["quoteVolume"] == pytest.approx(float(quote_volume), rel=1e-9 if emu.venue != "kraken" else 1e-7)
    if emu.venue != "coinbase":
        assert dec(ticker["open"]) == ask and dec(ticker["high"]) == ask and dec(ticker["low"]) == bid
        assert ticker["percentage"] == pytest.approx(float((bid - ask) / ask * 100), abs=1e-3)
    untouched = tickers["ETH/USDT"]
    assert untouched["baseVolume"] in (0, 0.0)


async def test_ccxt_market_data_functions_give_domain_types(traded):
    from aitbc_tui.venues import ccxt_market_data as md

    emu, exchange, made = traded
    trades = await md.fetch_trades(exchange, SYMBOL, limit=10, venue=emu.venue)
    assert [(t.price, t.amount, t.side.value) for t in trades] == made and trades[0].venue == emu.venue
    candles = await md.fetch_ohlcv(exchange, SYMBOL, "1d")
    assert len(candles) == 1 and candles[0].volume == D("0.03") and candles[0].timeframe == "1d"
    tickers = await md.fetch_tickers(exchange, [SYMBOL], venue=emu.venue)
    assert tickers[SYMBOL].last == made[1][0] and tickers[SYMBOL].base_volume == D("0.03")
    with pytest.raises(ValueError, match="timeframes|1m"):
        await md.fetch_ohlcv(exchange, SYMBOL, "2m")
