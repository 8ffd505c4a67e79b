"""The real ccxt coinbase (Advanced Trade) client against the emulator on 127.0.0.1."""

from __future__ import annotations

import base64
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.emulator_helpers import ccxt_client

D = Decimal


@pytest.fixture
async def emu(still_emulator):
    return await still_emulator("coinbase")


@pytest.fixture
async def client(emu):
    async with ccxt_client(emu) as exchange:
        await exchange.load_markets()
        yield exchange


async def test_markets_and_fee_tier(client):
    assert {"BTC/USDT", "ETH/USDT", "ETH/BTC", "AITBC/USDT", "AITBC/BTC", "AITBC/ETH"} == set(client.markets)
    btc = client.market("BTC/USDT")
    assert btc["id"] == "BTC-USDT" and btc["spot"] and btc["active"]
    assert btc["precision"] == {"amount": 1e-08, "price": 0.01}
    assert btc["limits"]["cost"]["min"] == 1
    assert btc["maker"] == 0.004 and btc["taker"] == 0.006  # from transaction_summary


async def test_public_market_data_and_balance(client):
    book = await client.fetch_order_book("BTC/USDT", 3)
    assert book["bids"][0][0] == 64999.9 and book["asks"][0][0] == 65000.1 and len(book["asks"]) == 3
    ticker = await client.fetch_ticker("BTC/USDT")
    assert ticker["bid"] == 64999.9 and ticker["ask"] == 65000.1
    balance = await client.fetch_balance()
    assert balance["free"]["USDT"] == 10000 and balance["total"]["BTC"] == 1
    v2 = await client.v2PrivateGetAccounts({"limit": 2})
    assert len(v2["data"]) == 2 and v2["pagination"]["next_starting_after"]


async def test_accounts_are_paged_with_a_cursor(client):
    page = await client.v3PrivateGetBrokerageAccounts({"limit": 2})
    assert page["has_next"] and page["cursor"] and len(page["accounts"]) == 2
    balance = await client.fetch_balance()  # ccxt follows the cursor
    assert {"AITBC", "BTC", "ETH", "USDT"} <= set(balance["total"])


async def test_order_lifecycle_and_client_order_id_idempotency(client):
    order = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"client_order_id": "ui-1"})
    assert order["clientOrderId"] == "ui-1" and order["symbol"] == "BTC/USDT"
    again = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"client_order_id": "ui-1"})
    assert again["id"] == order["id"]
    (open_order,) = await client.fetch_open_orders("BTC/USDT")
    assert open_order["id"] == order["id"] and open_order["price"] == 60000 and open_order["amount"] == 0.01
    looked_up = await client.fetch_order("unknown", params={"client_order_id": "ui-1"})
    assert looked_up["id"] == order["id"] and looked_up["status"] == "open"
    assert (await client.fetch_balance())["used"]["USDT"] > 600

    cancelled = await client.cancel_order(order["id"])
    assert cancelled["id"] == order["id"]
    assert (await client.fetch_order(order["id"]))["status"] == "canceled"
    assert await client.fetch_open_orders() == []
    # the id stays taken: a retry after a lost answer returns the cancelled order, never a new one
    retry = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"client_order_id": "ui-1"})
    assert retry["id"] == order["id"] and await client.fetch_open_orders() == []


async def test_market_order_fills(client):
    sold = await client.create_order("BTC/USDT", "market", "sell", 0.01)
    filled = await client.fetch_order(sold["id"])
    assert filled["status"] == "closed" and filled["filled"] == 0.01 and filled["average"] == 64999.9
    bought = await client.create_order("BTC/USDT", "market", "buy", 0.001, 65000)  # quote_size 65 USDT
    assert (await client.fetch_order(bought["id"]))["status"] == "closed"


async def test_errors_reach_ccxt_as_the_right_exceptions(client):
    with pytest.raises(ccxt.InsufficientFunds, match="INSUFFICIENT_FUND"):
        await client.create_order("BTC/USDT", "limit", "buy", 1, 60000)
    with pytest.raises(ccxt.ExchangeError, match="below quote_min_size"):  # ccxt maps no InvalidOrder here
        await client.create_order("BTC/USDT", "limit", "buy", 0.00001, 60000)
    with pytest.raises(ccxt.BadRequest, match="INVALID_ARGUMENT"):
        await client.create_order("BTC/USDT", "limit", "buy", -1, 60000)
    with pytest.raises(ccxt.ExchangeError, match="order with this orderID was not found"):
        await client.fetch_order("no-such-order")
    with pytest.raises(ccxt.BadRequest, match="cancelOrders"):  # ccxt's reading of UNKNOWN_CANCEL_ORDER
        await client.cancel_order("no-such-order")
    assert "UNKNOWN_CANCEL_ORDER" in client.last_http_response


async def test_bad_credentials_are_authentication_errors(emu):
    async with ccxt_client(emu, secret="not-the-secret") as forger:
        with pytest.raises(ccxt.AuthenticationError, match="invalid signature"):
            await forger.load_markets()
    async with ccxt_client(emu, apiKey="unknown") as stranger:
        with pytest.raises(ccxt.AuthenticationError, match="invalid API key"):
            await stranger.fetch_balance()


def _pem_secret() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def _ed25519_secret() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw + public).decode()


@pytest.mark.parametrize("api_key, make_secret", [
    ("organizations/org/apiKeys/key", _pem_secret),  # ES256 JWT
    ("d2efa49a-369c-43d7-a60e-ae26e28853c2", _ed25519_secret),  # EdDSA JWT
])  # fmt: skip
async def test_cdp_keys_sign_with_jwt(still_emulator, api_key, make_secret):
    emu = await still_emulator("coinbase", api_key=api_key, secret=make_secret())
    async with ccxt_client(emu) as exchange:
        assert (await exchange.fetch_balance())["total"]["USDT"] == 10000
    async with ccxt_client(emu, secret=_pem_secret()) as forger:
        with pytest.raises(ccxt.AuthenticationError):
            await forger.fetch_balance()


async def test_over_budget_is_429_with_retry_after(still_emulator):
    emu = await still_emulator("coinbase", weight_per_minute=6)
    async with ccxt_client(emu) as exchange:
        await exchange.load_markets()  # 5 public requests + transaction_summary (signed)
        await exchange.fetch_ticker("BTC/USDT")
        await exchange.fetch_balance()
        with pytest.raises(ccxt.RateLimitExceeded, match="rate_limit_exceeded"):
            await exchange.fetch_ticker("BTC/USDT")
        assert int(exchange.last_response_headers["Retry-After"]) >= 1
