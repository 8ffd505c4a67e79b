"""A service on a feed venue (the bus) against a service on the same emulator directly.

Real components throughout: the binance emulator on 127.0.0.1, the real ccxt client (over
its websocket) inside the collector and inside the direct service, a real nats-server.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from aitbc_tui.desk.collector import Collector
from aitbc_tui.desk.feed_venue import FeedVenue
from aitbc_tui.domain import HealthStatus, Mode, OrderRejected, OrderRequest, OrderType, Side
from aitbc_tui.service import MarketService
from tests.apptools import wait_until

DEPTH = 20
SYMBOLS = ("BTC/USDT", "ETH/USDT")


def top(book, depth: int = DEPTH):
    return None if book is None else (book.bids[:depth], book.asks[:depth])


@pytest.fixture
async def desk(still_emulator, nats_server, emulator_venue):
    """The emulator, a collector on it, a direct service on it; ``feed_service()`` starts a
    service on a feed venue. Everything is stopped at teardown."""

    class Desk:
        pass

    d = Desk()
    d.emu = await still_emulator("binance")
    d.server = nats_server
    d.running: list = []

    async def start_collector(**kwargs):
        kwargs.setdefault("snapshot_interval_s", 0.5)
        collector = Collector([emulator_venue(d.emu)], nats_server.url, depth=DEPTH, trades_interval_s=None,
                              tickers_interval_s=None, health_interval_s=0.2, reconnect_wait_s=0.1, **kwargs)  # fmt: skip
        await asyncio.wait_for(collector.start(), 60)
        d.running.append(collector)
        return collector

    async def feed_service(**kwargs):
        venue = FeedVenue("binance", nats_server.url, reconnect_wait_s=0.1, collector_silent_s=1.5, **kwargs)
        service = MarketService([venue], health_interval_s=0.2, account_interval_s=3600)
        await asyncio.wait_for(service.start(), 60)
        d.running.append(service)
        return service, venue

    d.start_collector = start_collector
    d.feed_service = feed_service
    d.collector = await start_collector()
    d.direct = MarketService([emulator_venue(d.emu)], health_interval_s=3600, account_interval_s=3600)
    await asyncio.wait_for(d.direct.start(), 60)
    d.running.append(d.direct)
    yield d
    for thing in reversed(d.running):
        await asyncio.wait_for(thing.stop(), 60)  # a hang here is a failure, never a stuck run


def same_books(direct: MarketService, feed: MarketService) -> bool:
    return all(
        top(direct.book("binance", s)) is not None and top(direct.book("binance", s)) == top(feed.book("binance", s))
        for s in SYMBOLS
    )


def move_market(emu, symbol: str = "BTC/USDT", ticks: int = 1) -> Decimal:
    """A maker order one tick above the best bid (a new best bid); returns its price."""
    engine = emu.engine
    market = engine.markets[symbol]
    best_bid, _ = engine.best_bid_ask(symbol)
    price = best_bid + market.tick_size * ticks
    engine.place("mm", symbol, Side.BUY, OrderType.LIMIT, market.min_amount * 100, price)
    return price


async def test_a_feed_venue_shows_the_same_books_as_a_direct_one(desk, loopback_only):
    feed, venue = await desk.feed_service()
    assert venue.mode is Mode.FEED and feed.market("binance", "BTC/USDT") == desk.direct.market("binance", "BTC/USDT")
    await wait_until(lambda: same_books(desk.direct, feed))
    price = move_market(desk.emu)
    await wait_until(lambda: (b := feed.book("binance", "BTC/USDT")) is not None and b.best_bid == price)
    await wait_until(lambda: same_books(desk.direct, feed))
    # Health: the collector's view of the venue plus the bus hop.
    await wait_until(
        lambda: feed.health()[0].status is HealthStatus.CONNECTED and feed.health()[0].latency_ms is not None
    )
    assert venue.bus_hop_ms() is not None and 0 <= venue.bus_hop_ms() < 5000
    assert "bus hop" in feed.health()[0].probe and "collector" in feed.health()[0].probe


async def test_a_late_joiner_gets_the_books_from_the_stream_with_the_collector_gone(desk):
    await wait_until(lambda: desk.collector.stats.snapshots >= len(SYMBOLS))
    expected = {s: top(desk.collector.service.book("binance", s)) for s in SYMBOLS}
    await desk.collector.stop()  # nothing is published from now on: only the stream can answer
    desk.running.remove(desk.collector)
    feed, venue = await desk.feed_service()
    await wait_until(lambda: all(feed.book("binance", s) is not None for s in SYMBOLS))
    assert {s: top(feed.book("binance", s)) for s in SYMBOLS} == expected
    # ... and the health pane says the collector is gone.
    await wait_until(lambda: feed.health()[0].status is HealthStatus.DOWN, timeout=20)
    assert "collector silent" in feed.health()[0].last_error


async def test_a_sequence_gap_drops_the_book_then_resyncs(desk):
    feed, venue = await desk.feed_service()
    await wait_until(lambda: same_books(desk.direct, feed))
    bad_before = feed.bad_data
    desk.collector.drop_next_deltas(1)
    first = move_market(desk.emu)  # its delta is lost
    await wait_until(lambda: desk.collector.stats.dropped >= 1)
    second = move_market(desk.emu)  # its delta shows the gap
    await wait_until(lambda: venue.book_gaps("BTC/USDT") >= 1)
    # The holed book was never shown: the service dropped it (counted as refused data) ...
    await wait_until(lambda: feed.bad_data > bad_before)
    assert "sequence gap" in feed.health()[0].last_error
    # ... and the next snapshot made it live again, with both moves in it.
    await wait_until(lambda: venue.is_live("BTC/USDT") and same_books(desk.direct, feed))
    assert feed.book("binance", "BTC/USDT").best_bid == second > first
    assert venue.resyncs >= 1


async def test_collector_restart_is_survived(desk):
    feed, venue = await desk.feed_service()
    await wait_until(lambda: same_books(desk.direct, feed))
    await desk.collector.stop()
    desk.running.remove(desk.collector)
    await wait_until(lambda: feed.health()[0].status is HealthStatus.DOWN, timeout=20)
    new = await desk.start_collector()
    assert new.epoch != desk.collector.epoch
    price = move_market(desk.emu)
    await wait_until(lambda: (b := feed.book("binance", "BTC/USDT")) is not None and b.best_bid == price, timeout=20)
    await wait_until(lambda: same_books(desk.direct, feed))
    await wait_until(lambda: feed.health()[0].status is HealthStatus.CONNECTED)


async def test_nats_restart_is_survived(desk):
    feed, venue = await desk.feed_service()
    await wait_until(lambda: same_books(desk.direct, feed))
    await desk.server.restart()
    await wait_until(lambda: desk.collector.stats.reconnects >= 1)
    price = move_market(desk.emu)
    await wait_until(lambda: (b := feed.book("binance", "BTC/USDT")) is not None and b.best_bid == price, timeout=20)
    await wait_until(lambda: same_books(desk.direct, feed))
    await wait_until(lambda: feed.health()[0].status is HealthStatus.CONNECTED, timeout=20)


async def test_a_watch_only_feed_venue_refuses_orders(desk):
    feed, venue = await desk.feed_service()
    request = OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("60000"))
    assert feed.is_read_only("binance")
    with pytest.raises(OrderRejected, match="read-only"):
        await feed.place_order(request)
    with pytest.raises(OrderRejected, match="watch-only"):
        await venue.place_order(request)
    assert desk.emu.engine.open_orders("emulator") == []  # nothing reached the venue


async def test_a_slow_consumer_does_not_slow_the_collector_or_the_others(desk, nats_client):
    feed, venue = await desk.feed_service()
    await wait_until(lambda: same_books(desk.direct, feed))
    stuck = asyncio.Event()
    slow = await nats_client(desk.server.url)

    async def never_done(msg):
        await stuck.wait()  # a dashboard that stopped reading

    await slow.subscribe("md.>", cb=never_done, pending_msgs_limit=5)
    await slow.flush()
    before = desk.collector.stats.deltas
    try:
        for _ in range(20):
            price = move_market(desk.emu)
            await wait_until(lambda p=price: (b := feed.book("binance", "BTC/USDT")) is not None and b.best_bid == p)
        assert desk.collector.stats.deltas >= before + 20
        assert venue.book_gaps("BTC/USDT") == 0 and same_books(desk.direct, feed)
    finally:
        stuck.set()


@pytest.mark.parametrize("fault", ["ws_close_1006", "depth_gap"])
async def test_venue_faults_at_the_collector_are_survived_on_the_feed(desk, fault):
    feed, venue = await desk.feed_service()
    await wait_until(lambda: same_books(desk.direct, feed))
    desk.emu.set_fault(fault, "BTCUSDT")
    first = move_market(desk.emu)  # the frame that meets the fault
    second = move_market(desk.emu)
    # The collector's venue recovers as the dashboard's would; the feed follows it.
    await wait_until(lambda: (b := feed.book("binance", "BTC/USDT")) is not None and b.best_bid == second > first,
                     timeout=40)  # fmt: skip
    await wait_until(lambda: same_books(desk.direct, feed), timeout=40)
    assert desk.emu.ctx.faults.find(fault, "BTCUSDT") is None  # the fault did happen (its one use was taken)
