"""Kraken's two rate counters in the emulator, hit by the real ccxt kraken client with its own
throttle off (``enableRateLimit: False``): the REST call counter (starter tier: at most 15,
-0.33/s; trade history +2; orders do not count) and the per-pair trading-engine counter
(threshold 60, -1/s; AddOrder +1, a cancel of a young order a penalty by its age)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from aitbc_tui.emulator import kraken as kraken_protocol
from tests.apptools import wait_until
from tests.emulator_helpers import TEST_API_KEY, ccxt_client

D = Decimal
SYMBOL = "BTC/USDT"


@pytest.fixture
async def emu(still_emulator):
    return await still_emulator("kraken", funds={"USDT": "10000", "ETH": "5"})


@pytest.fixture
async def client(emu):
    async with ccxt_client(emu, enableRateLimit=False) as exchange:
        exchange.has["fetchCurrencies"] = False
        await exchange.load_markets()  # public: not on the REST counter
        yield exchange


def rest_counter(emu) -> kraken_protocol.DecayingCounter:
    return emu.ctx.state["kraken.rest_counters"][TEST_API_KEY]


async def test_rest_counter_allows_15_then_eapi_rate_limit(emu, client):
    for _ in range(15):
        await client.fetch_balance()
    with pytest.raises(ccxt.DDoSProtection, match="EAPI:Rate limit exceeded") as caught:
        await client.fetch_balance()
    assert type(caught.value) is ccxt.DDoSProtection  # ccxt's exact map: a NetworkError
    assert int(client.last_response_headers["Retry-After"]) >= 1
    # orders are on the trading counter, not this one
    order = await client.create_order(SYMBOL, "limit", "buy", 0.001, 30000)
    await client.cancel_order(order["id"])
    # it decays by 0.33 a second: one call fits again after ~3 s
    await wait_until(lambda: rest_counter(emu).value <= 14, timeout=6)
    await client.fetch_balance()


async def test_trade_history_costs_two(emu, client):
    for _ in range(7):
        await client.fetch_my_trades()  # TradesHistory: +2 each, 14
    with pytest.raises(ccxt.DDoSProtection, match="EAPI:Rate limit exceeded"):
        await client.fetch_my_trades()  # 16 > 15
    await client.fetch_balance()  # +1 still fits: 15


async def test_trading_counter_per_pair(emu, client):
    loop = asyncio.get_running_loop()
    started = loop.time()
    accepted = 0
    with pytest.raises(ccxt.DDoSProtection, match="EOrder:Rate limit exceeded") as caught:
        for _ in range(200):
            await client.create_order(SYMBOL, "limit", "buy", 0.0001, 30000)
            accepted += 1
    elapsed = loop.time() - started
    assert type(caught.value) is ccxt.DDoSProtection
    # 60, plus what decayed (1/s) while they were sent
    assert 60 <= accepted <= 61 + int(elapsed)
    assert len(emu.engine.open_orders(emu.ctx.account, SYMBOL)) == accepted
    # another pair has its own counter; the REST counter never moved
    await client.create_order("ETH/USDT", "limit", "sell", 0.01, 9000)
    assert TEST_API_KEY not in emu.ctx.state["kraken.rest_counters"]  # no private call but orders yet
    # cancels are always processed, even over the threshold
    first = emu.engine.open_orders(emu.ctx.account, SYMBOL)[0]
    await client.cancel_order(first.id)
    assert emu.engine.get_order(emu.ctx.account, order_id=first.id).status.value == "canceled"


async def test_cancelling_young_orders_costs_a_penalty(emu, client):
    cycles = 0
    with pytest.raises(ccxt.DDoSProtection, match="EOrder:Rate limit exceeded"):
        for _ in range(20):
            order = await client.create_order(SYMBOL, "limit", "buy", 0.0001, 30000)
            await client.cancel_order(order["id"])  # under 5 s old: +8
            cycles += 1
    # each cycle +1 +8: seven fit under 60 (63 after the 7th), the 8th AddOrder is refused
    assert cycles == 7


def test_cancel_penalty_table():
    assert [kraken_protocol.cancel_penalty(age) for age in (0, 4.9, 5, 9.9, 10, 14.9, 15, 44.9, 45, 89, 90, 299, 300)] == [
        8, 8, 6, 6, 5, 5, 4, 4, 2, 2, 1, 1, 0
    ]  # fmt: skip


def test_counter_decays_and_refuses_over_the_maximum():
    now = [0.0]
    counter = kraken_protocol.DecayingCounter(15, 0.33, clock=lambda: now[0])
    assert all(counter.try_add(1) is None for _ in range(15))
    wait = counter.try_add(1)
    assert wait == pytest.approx(1 / 0.33)
    now[0] += 3.1
    assert counter.value == pytest.approx(15 - 0.33 * 3.1)
    assert counter.try_add(1) is None
    now[0] += 1000
    assert counter.value == 0
