"""The real ccxt kraken client against the emulator's Kraken spot protocol on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from aitbc_tui.emulator import kraken as kraken_protocol
from tests.emulator_helpers import ccxt_client, seeded_engine  # noqa: F401 - seeded_engine: tests/faults imports it from here

D = Decimal


@pytest.fixture
async def emu(still_emulator):
    return await still_emulator("kraken", funds={"USDT": "10000", "BTC": "1", "ETH": "5"})


@pytest.fixture
async def client(emu):
    async with ccxt_client(emu) as exchange:
        exchange.has["fetchCurrencies"] = False
        await exchange.load_markets()
        yield exchange


async def test_markets_come_out_as_unified_symbols_with_the_rules(client):
    assert set(client.markets) == {"BTC/USDT", "ETH/USDT", "ETH/BTC", "AITBC/USDT", "AITBC/ETH"}
    btc = client.market("BTC/USDT")
    assert btc["id"] == "XBTUSDT" and btc["baseId"] == "BTC"
    assert btc["info"]["base"] == "XXBT" and btc["info"]["wsname"] == "XBT/USDT"
    assert btc["precision"] == {"amount": 1e-08, "price": 0.1}
    assert btc["limits"]["amount"]["min"] == 0.00005 and btc["limits"]["cost"]["min"] == 0.5
    assert btc["maker"] == 0.0025 and btc["taker"] == 0.004 and btc["active"]
    assert client.market("ETH/BTC")["id"] == "XETHXXBT"


async def test_assets_and_currencies_load_too(emu):
    async with ccxt_client(emu) as exchange:  # fetchCurrencies left on: Assets is called
        await exchange.load_markets()
        assert {"BTC", "ETH", "USDT", "AITBC"} <= set(exchange.currencies)
        assert "BTC/USDT" in exchange.markets


async def test_public_market_data(client):
    book = await client.fetch_order_book("BTC/USDT", 3)
    assert book["bids"][0][0] == 64999.0 and book["asks"][0][0] == 65001.0 and len(book["bids"]) == 3
    ticker = await client.fetch_ticker("ETH/BTC")
    assert ticker["bid"] == 0.0499 and ticker["ask"] == 0.0501
    assert abs(await client.fetch_time() / 1000 - client.seconds()) < 5
    assert (await client.fetch_status())["status"] == "ok"


async def test_limit_order_lifecycle_with_client_order_id(client):
    balance = await client.fetch_balance()
    assert balance["total"]["USDT"] == 10000 and balance["total"]["BTC"] == 1

    order = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"clientOrderId": "ui-1"})
    assert order["clientOrderId"] == "ui-1" and order["symbol"] == "BTC/USDT" and order["price"] == 60000

    (by_client,) = await client.fetch_open_orders(params={"clientOrderId": "ui-1"})
    assert by_client["id"] == order["id"] and by_client["status"] == "open" and by_client["amount"] == 0.01
    assert (await client.fetch_order(order["id"]))["clientOrderId"] == "ui-1"
    assert (await client.fetch_balance())["used"]["USDT"] > 600

    await client.cancel_order(None, params={"cl_ord_id": "ui-1"})
    assert await client.fetch_open_orders() == []
    closed = await client.fetch_closed_orders(params={"clientOrderId": "ui-1"})
    assert [o["status"] for o in closed] == ["canceled"]


async def test_cancel_by_txid_and_market_fill(client):
    order = await client.create_order("ETH/USDT", "limit", "sell", 0.5, 3500)
    await client.cancel_order(order["id"])
    assert (await client.fetch_order(order["id"]))["status"] == "canceled"
    fill = await client.create_order("BTC/USDT", "market", "sell", 0.01)
    filled = await client.fetch_order(fill["id"])
    assert filled["status"] == "closed" and filled["filled"] == 0.01 and filled["average"] == 64999.0


async def test_order_errors_reach_ccxt_as_the_right_exceptions(client):
    with pytest.raises(ccxt.InsufficientFunds, match="EOrder:Insufficient funds"):
        await client.create_order("BTC/USDT", "limit", "buy", 1, 60000)
    with pytest.raises(ccxt.InvalidOrder, match="EOrder:Order minimum not met"):
        await client.create_order("BTC/USDT", "limit", "buy", 0.00001, 60000)
    with pytest.raises(ccxt.InvalidOrder, match="Invalid arguments:volume"):
        await client.create_order("BTC/USDT", "limit", "buy", -1, 60000)
    with pytest.raises(ccxt.InvalidOrder, match="EOrder:Invalid price"):
        await client.privatePostAddOrder({"pair": "XBTUSDT", "type": "buy", "ordertype": "limit",
                                          "volume": "0.01", "price": "60000.05"})  # fmt: skip
    with pytest.raises(ccxt.OrderNotFound, match="EOrder:Unknown order"):
        await client.cancel_order("no-such-order")
    with pytest.raises(ccxt.OrderNotFound):
        await client.fetch_order("no-such-order")
    await client.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.ExchangeError, match="Duplicate"):
        await client.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"clientOrderId": "dup"})


async def test_authentication_errors(emu, client):
    async with ccxt_client(emu, apiKey="unknown") as stranger:
        stranger.has["fetchCurrencies"] = False
        with pytest.raises(ccxt.AuthenticationError, match="EAPI:Invalid key"):
            await stranger.fetch_balance()
    async with ccxt_client(emu, secret=kraken_protocol.generate_secret()) as forger:
        forger.has["fetchCurrencies"] = False
        with pytest.raises(ccxt.AuthenticationError, match="EAPI:Invalid key"):
            await forger.fetch_balance()
    await client.fetch_balance()
    client.options["lastNonce"] = 0
    client.nonce = lambda: 1000  # far below the nonce the key already used
    with pytest.raises(ccxt.InvalidNonce, match="EAPI:Invalid nonce"):
        await client.fetch_balance()


async def test_over_budget_is_429_with_retry_after(still_emulator):
    # public calls: a per-IP weight budget; private: Kraken's REST call counter (here at most 1)
    emu = await still_emulator("kraken", funds={}, weight_per_minute=3, rest_counter_max=1)
    async with ccxt_client(emu) as exchange:
        exchange.has["fetchCurrencies"] = False
        await exchange.load_markets()
        await exchange.fetch_ticker("BTC/USDT")
        await exchange.fetch_ticker("BTC/USDT")
        with pytest.raises(ccxt.DDoSProtection, match="EGeneral:Too many requests"):
            await exchange.fetch_ticker("BTC/USDT")
        assert int(exchange.last_response_headers["Retry-After"]) >= 1
        await exchange.fetch_balance()  # private calls spend the key's own counter
        with pytest.raises(ccxt.DDoSProtection, match="EAPI:Rate limit exceeded"):
            await exchange.fetch_balance()
