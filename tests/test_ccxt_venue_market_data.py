"""CcxtVenue's public trades, candles and 24 h figures: the real ccxt client against the
emulators on 127.0.0.1 (still markets, so the only trades are the ones the test makes)."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from aitbc_tui.config import VenueConfig
from aitbc_tui.domain import FeatureUnavailable, Mode, Side, VenueUnavailable
from aitbc_tui.market_data import Trade
from aitbc_tui.venues.ccxt_venue import CcxtVenue, PaperVenue
from tests.emulator_helpers import ccxt_client

SYMBOL = "BTC/USDT"


async def cross(emu, buy: str = "0.02", sell: str = "0.01") -> list[tuple[D, D, Side]]:
    """Lift the best ask with ``buy``, hit the best bid with ``sell`` (another ccxt client
    on the emulator's account): (price, amount, aggressor side) of the two trades."""
    async with ccxt_client(emu) as exchange:
        if emu.venue == "kraken":
            exchange.has["fetchCurrencies"] = False
        await exchange.load_markets()
        book = await exchange.fetch_order_book(SYMBOL)
        ask, bid = book["asks"][0][0], book["bids"][0][0]
        await exchange.create_order(SYMBOL, "limit", "buy", float(buy), ask)
        await exchange.create_order(SYMBOL, "limit", "sell", float(sell), bid)
    return [(D(str(ask)), D(buy), Side.BUY), (D(str(bid)), D(sell), Side.SELL)]


def paper_venue(emu, ws: bool = True) -> CcxtVenue:
    config = VenueConfig(name=f"emu-{emu.venue}", exchange=emu.ccxt_id, mode=Mode.PAPER, symbols=(SYMBOL, "ETH/USDT"),
                         api_url=emu.url, ws_url=(emu.ws_url or None) if ws else None)  # fmt: skip
    venue = CcxtVenue(config, poll_interval_s=0.05)
    venue._rest.enableRateLimit = False  # kraken's 1 s public throttle only slows the test
    return venue


@pytest.fixture
async def venue_on(emulator_factory):
    opened: list[CcxtVenue] = []

    async def make(name: str, ws: bool = True):
        emu = await emulator_factory(name, seed=3, simulate=False)
        venue = paper_venue(emu, ws)
        opened.append(venue)
        await venue.start()
        return emu, venue

    yield make
    for venue in opened:
        await venue.close()


@pytest.mark.parametrize("name", ["binance", "kraken", "coinbase"])
async def test_trades_candles_and_tickers_through_ccxt(venue_on, name, loopback_only):
    emu, venue = await venue_on(name)
    made = await cross(emu)
    trades = await venue.fetch_trades(SYMBOL, limit=10)
    assert all(isinstance(t, Trade) and t.venue == venue.name for t in trades)
    assert [(t.price, t.amount, t.side) for t in trades] == made
    assert await venue.fetch_trades("ETH/USDT") == []

    day = await venue.fetch_ohlcv(SYMBOL, "1d")
    (ask, _, _), (bid, _, _) = made
    assert [(c.open, c.high, c.low, c.close, c.volume) for c in day] == [(ask, ask, bid, bid, D("0.03"))]
    with pytest.raises(FeatureUnavailable, match="no '2m' candles"):
        await venue.fetch_ohlcv(SYMBOL, "2m")

    tickers = await venue.fetch_tickers()
    assert set(tickers) == {SYMBOL, "ETH/USDT"}  # the configured symbols
    assert tickers[SYMBOL].last == bid and tickers[SYMBOL].base_volume == D("0.03")
    assert tickers["ETH/USDT"].base_volume == 0


async def test_watch_trades_polls_and_returns_only_new_trades(venue_on):
    emu, venue = await venue_on("binance", ws=False)
    await cross(emu)  # before the watch: not "new"
    assert not venue.trades_by_websocket  # REST redirected, no websocket: fetch_trades polling
    watching = asyncio.ensure_future(venue.watch_trades(SYMBOL))
    from tests.apptools import wait_until

    await wait_until(lambda: SYMBOL in venue._trade_cursors, what="the watch's first fetch")
    made = await cross(emu, "0.03", "0.02")
    fresh = await asyncio.wait_for(watching, 10)
    assert [(t.price, t.amount, t.side) for t in fresh] == made
    assert [t.id for t in fresh] == ["3", "4"]


async def test_watch_trades_by_ccxt_pro_on_the_emulators_trade_stream(venue_on):
    """binance's emulator serves <sym>@trade: ccxt.pro's watch_trades, not polling."""
    emu, venue = await venue_on("binance")
    assert venue.trades_by_websocket
    watching = asyncio.ensure_future(venue.watch_trades(SYMBOL))
    made: list = []
    for _ in range(10):  # the subscription is in place once a trade comes back
        made += await cross(emu)
        done, _ = await asyncio.wait({watching}, timeout=2)
        if done:
            break
    first = watching.result()
    assert first and all((t.price, t.amount, t.side) in made for t in first)
    # subscribed now: the next trades come over the stream, exactly
    later = await cross(emu, "0.03", "0.02")
    fresh: list = []
    while len(fresh) < 2:
        fresh += await asyncio.wait_for(venue.watch_trades(SYMBOL), 10)
    assert [(t.price, t.amount, t.side) for t in fresh] == later
    assert int(fresh[0].id) < int(fresh[1].id)
    assert venue.trades_by_websocket  # it delivered: still the websocket


async def test_a_failed_poll_is_venue_unavailable_then_polling_resumes(venue_on):
    emu, venue = await venue_on("binance")
    for path in ("/api/v3/trades", "/api/v3/aggTrades"):  # ccxt reads aggTrades for binance's trades
        emu.set_fault("http_5xx", path, count=1)
    with pytest.raises(VenueUnavailable):
        await venue.fetch_trades(SYMBOL)
    emu.clear_faults()
    made = await cross(emu)
    assert [(t.price, t.amount, t.side) for t in await venue.fetch_trades(SYMBOL)] == made


async def test_paper_venue_serves_the_real_venues_market_data(venue_on):
    emu, inner = await venue_on("kraken")
    paper = PaperVenue(inner)
    made = await cross(emu)
    assert [(t.price, t.amount, t.side) for t in await paper.fetch_trades(SYMBOL)] == made
    assert (await paper.fetch_tickers([SYMBOL]))[SYMBOL].base_volume == D("0.03")
    assert len(await paper.fetch_ohlcv(SYMBOL, "1h")) == 1
