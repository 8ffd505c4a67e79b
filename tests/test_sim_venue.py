"""SimVenue through the Venue protocol (async)."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from aitbc_tui.domain import (
    InsufficientFunds,
    Mode,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from aitbc_tui.venues.base import Venue
from aitbc_tui.venues.sim import create_sandbox_venues

FROZEN = 1_700_000_000.0


@pytest.fixture
async def paused(tmp_path):
    world, venues = create_sandbox_venues(seed=11, data_dir=tmp_path, clock=lambda: FROZEN,
                                          autostart_ticks=False, latency=False)  # fmt: skip
    for venue in venues:
        await venue.start()
    yield world, {v.name: v for v in venues}
    for venue in venues:
        await venue.close()
    world.close()


async def test_protocol_and_market_data(paused):
    world, venues = paused
    binance = venues["binance"]
    assert isinstance(binance, Venue)
    assert binance.mode is Mode.SANDBOX and binance.probe
    markets = await binance.load_markets()
    assert "BTC/USDT" in markets and markets["BTC/USDT"].min_notional == D("5")

    first = await binance.watch_order_book("BTC/USDT", 20)  # immediate
    assert len(first.bids) == 20 and first.timestamp == FROZEN
    waiting = asyncio.create_task(binance.watch_order_book("BTC/USDT", 20))
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing changed yet
    world.run_steps(3, 0.1)
    second = await asyncio.wait_for(waiting, 1)
    assert second.sequence > first.sequence
    with pytest.raises(OrderRejected, match="does not list"):
        await binance.watch_order_book("DOGE/USDT", 5)
    assert await binance.ping() >= 0


async def test_orders_through_the_protocol(paused):
    world, venues = paused
    kraken = venues["kraken"]
    book = await kraken.watch_order_book("ETH/USDT", 5)
    low = book.best_bid - D("100")
    request = OrderRequest("kraken", "ETH/USDT", Side.BUY, OrderType.LIMIT, D("1"), low, "c-1")
    order = await kraken.place_order(request)
    assert order.status is OrderStatus.OPEN and order.client_order_id == "c-1"
    # 1 ETH at low reserves low * 1.004 USDT (kraken taker fee is the larger one)
    balances = await kraken.fetch_balances()
    assert balances["USDT"].used == low * D("1.004")
    assert [o.id for o in await kraken.fetch_open_orders()] == [order.id]
    assert (await kraken.fetch_order_by_client_id("c-1", "ETH/USDT")).id == order.id
    assert await kraken.fetch_order_by_client_id("c-1", "BTC/USDT") is None

    canceled = await kraken.cancel_order(order.id, "ETH/USDT")
    assert canceled.status is OrderStatus.CANCELED
    assert (await kraken.fetch_balances())["USDT"].used == 0
    assert (await kraken.fetch_closed_orders())[0].id == order.id
    with pytest.raises(OrderNotFound):
        await kraken.cancel_order(order.id, "ETH/USDT")

    market_sell = OrderRequest("kraken", "ETH/USDT", Side.SELL, OrderType.MARKET, D("2"))
    sold = await kraken.place_order(market_sell)
    assert sold.status is OrderStatus.FILLED and sold.fee > 0
    assert (await kraken.fetch_balances())["ETH"].free == D("28")
    with pytest.raises(InsufficientFunds):
        await kraken.place_order(OrderRequest("kraken", "ETH/USDT", Side.SELL, OrderType.MARKET,
                                              D("1000")))  # fmt: skip
    with pytest.raises(OrderRejected, match="tick size"):
        await kraken.place_order(OrderRequest("kraken", "ETH/USDT", Side.BUY, OrderType.LIMIT,
                                              D("1"), low + D("0.001")))  # fmt: skip


async def test_clock_driven_world_ticks_and_stops(tmp_path):
    world, venues = create_sandbox_venues(seed=1, data_dir=tmp_path, latency=True, persist=False)
    coinbase = venues[2]
    await coinbase.start()
    assert world.running
    first = await coinbase.watch_order_book("AITBC/USDT", 10)
    second = await asyncio.wait_for(coinbase.watch_order_book("AITBC/USDT", 10), 2)
    assert second.sequence > first.sequence
    latency_ms = await coinbase.ping()
    assert latency_ms >= 14  # coinbase's simulated base latency
    await coinbase.close()
    assert not world.running
    world.close()
