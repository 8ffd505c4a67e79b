"""Time in force, post-only and the account's trade history through the real ccxt clients
(binance, kraken, coinbase) against the emulators on 127.0.0.1.

The books are still (no simulated flow), so each test knows what crosses:
binance (seed 7) BTC/USDT best ask 65006.50 x 0.31458, next 65013.00 x 0.54424;
kraken and coinbase use tests.test_emulator_kraken.seeded_engine (five equal levels a side).
"""

from __future__ import annotations

from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from tests.emulator_helpers import ccxt_client

D = Decimal
SYMBOL = "BTC/USDT"


# ---- binance ----------------------------------------------------------------------------


@pytest.fixture
async def binance(still_emulator):
    emu = await still_emulator("binance")
    async with ccxt_client(emu) as exchange:
        await exchange.load_markets()
        yield emu, exchange


def top_ask(emu) -> tuple[float, float]:
    price, size = emu.engine.book(SYMBOL, 1).asks[0]
    return float(price), float(size)


async def test_binance_ioc_fills_what_crosses_and_expires_the_rest(binance):
    emu, ex = binance
    price, size = top_ask(emu)
    order = await ex.create_order(SYMBOL, "limit", "buy", 0.5, price, {"timeInForce": "IOC"})
    assert order["info"]["status"] == "EXPIRED" and order["status"] == "expired"
    assert order["timeInForce"] == "IOC"
    assert order["filled"] == size and order["remaining"] == pytest.approx(0.5 - size)
    assert await ex.fetch_open_orders(SYMBOL) == []
    fetched = await ex.fetch_order(order["id"], SYMBOL)
    assert fetched["status"] == "expired" and fetched["filled"] == size


async def test_binance_fok_fills_all_or_expires_with_nothing(binance):
    emu, ex = binance
    price, _ = top_ask(emu)
    killed = await ex.create_order(SYMBOL, "limit", "buy", 0.5, price, {"timeInForce": "FOK"})
    assert killed["info"]["status"] == "EXPIRED" and killed["status"] == "expired" and killed["filled"] == 0
    assert top_ask(emu)[0] == price  # nothing traded
    filled = await ex.create_order(SYMBOL, "limit", "buy", 0.5, 65013.0, {"timeInForce": "FOK"})
    assert filled["status"] == "closed" and filled["filled"] == 0.5 and filled["timeInForce"] == "FOK"


async def test_binance_post_only_is_limit_maker_and_a_crossing_one_is_refused(binance):
    emu, ex = binance
    price, _ = top_ask(emu)
    # -2010 "Order would immediately match and take." is matched by message in ccxt's exact map:
    # OrderImmediatelyFillable, a subclass of InvalidOrder.
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="Order would immediately match and take"):
        await ex.create_order(SYMBOL, "limit", "buy", 0.01, price, {"postOnly": True})
    resting = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"postOnly": True})
    assert resting["info"]["type"] == "LIMIT_MAKER" and resting["status"] == "open"
    assert resting["postOnly"] is True
    with pytest.raises(ccxt.BadRequest, match="-1115"):
        await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"timeInForce": "GTD"})


async def test_binance_my_trades_are_the_account_fills_with_trade_ids(binance):
    emu, ex = binance
    assert await ex.fetch_my_trades(SYMBOL) == []
    price, size = top_ask(emu)
    order = await ex.create_order(SYMBOL, "limit", "buy", 0.5, 65013.0)  # two levels
    assert order["status"] == "closed"
    trades = await ex.fetch_my_trades(SYMBOL)
    assert [t["order"] for t in trades] == [order["id"], order["id"]]
    assert [t["id"] for t in trades] == [str(f["tradeId"]) for f in order["info"]["fills"]]
    assert len({t["id"] for t in trades}) == 2
    assert [t["price"] for t in trades] == [price, 65013.0]
    assert sum(t["amount"] for t in trades) == pytest.approx(0.5) and trades[0]["amount"] == size
    assert all(t["side"] == "buy" and t["takerOrMaker"] == "taker" and t["fee"]["currency"] == "USDT" for t in trades)
    assert trades[0]["fee"]["cost"] == pytest.approx(price * size * 0.001)
    assert [t["id"] for t in await ex.fetch_my_trades(SYMBOL, params={"orderId": order["id"]})] == [
        t["id"] for t in trades
    ]
    assert await ex.fetch_my_trades("ETH/USDT") == []


# ---- kraken -----------------------------------------------------------------------------


@pytest.fixture
async def kraken(still_emulator):
    emu = await still_emulator("kraken")
    async with ccxt_client(emu) as exchange:
        exchange.has["fetchCurrencies"] = False
        await exchange.load_markets()
        yield emu, exchange


async def test_kraken_ioc_and_no_fok(kraken):
    emu, ex = kraken
    price, size = top_ask(emu)
    order = await ex.create_order(SYMBOL, "limit", "buy", 0.05, price, {"timeInForce": "IOC"})
    fetched = await ex.fetch_order(order["id"])
    assert fetched["status"] == "canceled" and fetched["filled"] == size
    assert fetched["info"]["reason"] == "Immediate or cancel"
    assert await ex.fetch_open_orders() == []
    # Kraken spot has no fill-or-kill: "EGeneral:Invalid arguments" is ccxt's BadRequest
    with pytest.raises(ccxt.BadRequest, match="EGeneral:Invalid arguments"):
        await ex.create_order(SYMBOL, "limit", "buy", 0.01, price, {"timeInForce": "FOK"})
    gtc = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"timeInForce": "GTC"})
    assert (await ex.fetch_order(gtc["id"]))["status"] == "open"


async def test_kraken_post_only_that_would_take_is_accepted_then_canceled(kraken):
    emu, ex = kraken
    price, _ = top_ask(emu)
    # Kraken does not refuse it: AddOrder returns a txid, the order is canceled at once.
    order = await ex.create_order(SYMBOL, "limit", "buy", 0.01, price, {"postOnly": True})
    fetched = await ex.fetch_order(order["id"])
    assert fetched["status"] == "canceled" and fetched["filled"] == 0
    assert fetched["info"]["reason"] == "Post only order"
    assert top_ask(emu)[0] == price
    resting = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"postOnly": True})
    fetched = await ex.fetch_order(resting["id"])
    assert fetched["status"] == "open" and "post" in fetched["info"]["oflags"]


async def test_kraken_trades_history(kraken):
    emu, ex = kraken
    price, size = top_ask(emu)
    order = await ex.create_order(SYMBOL, "limit", "buy", 0.05, 65002.0)  # two levels
    trades = await ex.fetch_my_trades(SYMBOL)
    assert sorted(t["price"] for t in trades) == [price, 65002.0]
    assert {t["order"] for t in trades} == {order["id"]} and len({t["id"] for t in trades}) == 2
    assert all(t["id"].startswith("T") and t["symbol"] == SYMBOL and t["side"] == "buy" for t in trades)
    assert sum(t["amount"] for t in trades) == pytest.approx(0.05)
    assert {t["takerOrMaker"] for t in trades} == {"taker"}
    assert [t["id"] for t in await ex.fetch_my_trades(SYMBOL)] == [t["id"] for t in trades]  # stable ids


# ---- coinbase ---------------------------------------------------------------------------


@pytest.fixture
async def coinbase(still_emulator):
    emu = await still_emulator("coinbase")
    async with ccxt_client(emu) as exchange:
        await exchange.load_markets()
        yield emu, exchange


def top_bid(emu) -> tuple[float, float]:
    price, size = emu.engine.book(SYMBOL, 1).bids[0]
    return float(price), float(size)


async def test_coinbase_ioc_is_sor_limit_ioc(coinbase):
    emu, ex = coinbase
    price, size = top_bid(emu)
    order = await ex.create_order(
        SYMBOL, "limit", "sell", 0.1, price, {"timeInForce": "IOC", "client_order_id": "ioc-1"}
    )
    fetched = await ex.fetch_order(order["id"])
    assert "sor_limit_ioc" in fetched["info"]["order_configuration"]
    assert fetched["info"]["status"] == "EXPIRED" and fetched["status"] == "canceled"
    assert fetched["filled"] == size and fetched["timeInForce"] == "IOC"


async def test_coinbase_fok_is_limit_limit_fok(coinbase):
    emu, ex = coinbase
    price, _ = top_bid(emu)
    killed = await ex.create_order(
        SYMBOL, "limit", "sell", 0.1, price, {"timeInForce": "FOK", "client_order_id": "fok-1"}
    )
    fetched = await ex.fetch_order(killed["id"])
    assert "limit_limit_fok" in fetched["info"]["order_configuration"]
    assert fetched["info"]["status"] == "EXPIRED" and fetched["filled"] == 0
    assert fetched["info"]["time_in_force"] == "FILL_OR_KILL"
    second = float(emu.engine.book(SYMBOL, 2).bids[1][0])
    filled = await ex.create_order(
        SYMBOL, "limit", "sell", 0.1, second, {"timeInForce": "FOK", "client_order_id": "fok-2"}
    )
    fetched = await ex.fetch_order(filled["id"])
    assert fetched["status"] == "closed" and fetched["filled"] == 0.1


async def test_coinbase_post_only_that_would_take_fails(coinbase):
    emu, ex = coinbase
    price, _ = top_bid(emu)
    # success: false, error INVALID_LIMIT_PRICE_POST_ONLY: not in ccxt 4.5.90's coinbase map,
    # so it reaches the caller as a plain ExchangeError (not InvalidOrder).
    with pytest.raises(ccxt.ExchangeError, match="Invalid limit price for post only order") as caught:
        await ex.create_order(SYMBOL, "limit", "sell", 0.01, price, {"postOnly": True, "client_order_id": "po-1"})
    assert type(caught.value) is ccxt.ExchangeError
    resting = await ex.create_order(SYMBOL, "limit", "sell", 0.01, 70000, {"postOnly": True, "client_order_id": "po-2"})
    fetched = await ex.fetch_order(resting["id"])
    assert fetched["status"] == "open" and fetched["postOnly"] is True


async def test_coinbase_fills_are_my_trades(coinbase):
    emu, ex = coinbase
    price, size = top_bid(emu)
    order = await ex.create_order(SYMBOL, "limit", "sell", 0.1, 64999.8, {"client_order_id": "fill-1"})
    trades = await ex.fetch_my_trades(SYMBOL)
    assert {t["order"] for t in trades} == {order["id"]} and len({t["id"] for t in trades}) == 2
    assert sorted(t["price"] for t in trades) == [64999.8, price]
    assert sum(t["amount"] for t in trades) == pytest.approx(0.1)
    assert all(t["side"] == "sell" and t["takerOrMaker"] == "taker" and t["symbol"] == SYMBOL for t in trades)
    assert await ex.fetch_my_trades("ETH/USDT") == []
