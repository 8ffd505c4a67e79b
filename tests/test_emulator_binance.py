"""The real ccxt Binance client (REST and ccxt.pro websockets) against the emulator."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt
import pytest

from aitbc_tui.domain import OrderType, Side
from tests.apptools import wait_until
from tests.emulator_helpers import ccxt_client

SYMBOL = "BTC/USDT"


@pytest.fixture
async def emu(still_emulator):
    # No background flow: the books change only when a test changes them.
    return await still_emulator("binance")


def engine_top(emu, depth: int = 5) -> tuple[list, list]:
    book = emu.engine.book(SYMBOL, depth)
    return ([[float(p), float(q)] for p, q in book.bids], [[float(p), float(q)] for p, q in book.asks])


def poke_book(emu, n: int) -> Decimal:
    """Rest a small bid of the emulator's account below the best bid: one book change."""
    best_bid = emu.engine.book(SYMBOL, 1).best_bid
    price = best_bid - Decimal("0.37") - Decimal(n) * Decimal("0.01")
    emu.engine.place(emu.ctx.account, SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.001"), price, f"poke-{n}")
    return price


# ---- REST -----------------------------------------------------------------------------


async def test_market_data_and_account(emu):
    async with ccxt_client(emu) as ex:
        markets = await ex.load_markets()
        assert {"BTC/USDT", "ETH/USDT", "ETH/BTC"} <= set(markets)
        btc = markets[SYMBOL]
        assert btc["spot"] and btc["active"] and btc["id"] == "BTCUSDT"
        assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
        assert btc["limits"]["cost"]["min"] == 5 and btc["limits"]["amount"]["min"] == 0.00001

        book = await ex.fetch_order_book(SYMBOL, 5)
        assert book["nonce"] == emu.engine.sequence(SYMBOL)
        assert (book["bids"], book["asks"]) == engine_top(emu)

        ticker = await ex.fetch_ticker(SYMBOL)
        assert ticker["bid"] == book["bids"][0][0] and ticker["ask"] == book["asks"][0][0]
        assert ticker["bid"] < ticker["last"] < ticker["ask"]  # no trades yet: last is the mid

        balance = await ex.fetch_balance()
        assert balance["USDT"]["free"] == 100000 and balance["BTC"]["total"] == 2

        assert abs(await ex.fetch_time() - ex.milliseconds()) < 5000
        assert (await ex.fetch_status())["status"] == "ok"


async def test_order_lifecycle_by_client_id(emu):
    async with ccxt_client(emu) as ex:
        await ex.load_markets()
        order = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"clientOrderId": "aitbc-test-1"})
        assert order["status"] == "open" and order["clientOrderId"] == "aitbc-test-1"
        assert order["amount"] == 0.01 and order["price"] == 60000

        found = await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "aitbc-test-1"})
        assert found["id"] == order["id"] and found["status"] == "open"
        assert [o["id"] for o in await ex.fetch_open_orders(SYMBOL)] == [order["id"]]

        balance = await ex.fetch_balance()
        assert balance["USDT"]["used"] == pytest.approx(600 * 1.001)  # price*amount + max fee reserved

        canceled = await ex.cancel_order(order["id"], SYMBOL)
        assert canceled["status"] == "canceled"
        assert await ex.fetch_open_orders(SYMBOL) == []
        assert (await ex.fetch_order(order["id"], SYMBOL))["status"] == "canceled"


async def test_marketable_order_fills_and_updates_ticker(emu):
    async with ccxt_client(emu) as ex:
        await ex.load_markets()
        ask = (await ex.fetch_order_book(SYMBOL, 1))["asks"][0][0]
        order = await ex.create_order(SYMBOL, "market", "buy", 0.001)
        assert order["status"] == "closed" and order["filled"] == 0.001
        assert order["average"] == ask and len(order["trades"]) >= 1
        ticker = await ex.fetch_ticker(SYMBOL)
        assert ticker["last"] == ask and ticker["baseVolume"] == 0.001
        assert (await ex.fetch_balance())["BTC"]["free"] == pytest.approx(2.001)


# ---- errors: Binance codes -> ccxt exceptions --------------------------------------------


async def test_filter_failures(emu):
    async with ccxt_client(emu) as ex:
        await ex.load_markets()
        raw = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        # ccxt rounds amounts and prices to precision, so send off-grid values raw.
        with pytest.raises(ccxt.InvalidOrder, match="Filter failure: LOT_SIZE"):
            await ex.private_post_order({**raw, "quantity": "0.000015", "price": "60000"})
        with pytest.raises(ccxt.InvalidOrder, match="Filter failure: PRICE_FILTER"):
            await ex.private_post_order({**raw, "quantity": "0.001", "price": "60000.005"})
        # ccxt does not check the minimum notional; Binance's -1013 maps to BadRequest.
        with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):
            await ex.create_order(SYMBOL, "limit", "buy", 0.0001, 30000)


async def test_insufficient_balance(emu):
    async with ccxt_client(emu) as ex:
        await ex.load_markets()
        with pytest.raises(ccxt.InsufficientFunds, match="Account has insufficient balance"):
            await ex.create_order(SYMBOL, "limit", "buy", 10, 60000)


async def test_unknown_order(emu):
    async with ccxt_client(emu) as ex:
        await ex.load_markets()
        with pytest.raises(ccxt.OrderNotFound, match="Unknown order sent"):
            await ex.cancel_order("424242", SYMBOL)
        with pytest.raises(ccxt.OrderNotFound, match="Order does not exist"):
            await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "never-sent"})


async def test_bad_signature_and_bad_key(emu):
    async with ccxt_client(emu, secret="not-the-secret") as ex:
        with pytest.raises(ccxt.AuthenticationError, match="Signature for this request is not valid"):
            await ex.fetch_balance()
    async with ccxt_client(emu, apiKey="unknown-key") as ex:
        with pytest.raises(ccxt.AuthenticationError, match="Invalid API-key"):
            await ex.fetch_balance()


async def test_timestamp_outside_recv_window(emu):
    async with ccxt_client(emu) as ex:
        ex.nonce = lambda: ex.milliseconds() - 30_000  # a client clock 30 s behind
        # ccxt's generic Binance map (used for non-binance.com URLs) says InvalidNonce, a NetworkError.
        with pytest.raises(ccxt.InvalidNonce, match="outside of the recvWindow"):
            await ex.fetch_balance()
        ex.nonce = lambda: ex.milliseconds() + 5_000
        with pytest.raises(ccxt.InvalidNonce, match="ahead of the server"):
            await ex.fetch_balance()


async def test_rate_limit_429(emulator_factory):
    emu = await emulator_factory("binance", simulate=False, weight_per_minute=25)
    async with ccxt_client(emu) as ex:
        await ex.load_markets()  # exchangeInfo, weight 20
        await ex.fetch_time()  # weight 1
        with pytest.raises(ccxt.DDoSProtection, match="429") as caught:
            await ex.fetch_order_book(SYMBOL, 5)  # weight 5: 26 > 25
        assert "Too much request weight used" in str(caught.value)
        assert int(ex.last_response_headers["Retry-After"]) >= 1
        assert ex.last_response_headers["Content-Type"].startswith("application/json")


# ---- websockets ------------------------------------------------------------------------


async def test_watch_order_book_follows_the_engine(emu):
    async with ccxt_client(emu, pro=True) as ex:
        book = await ex.watch_order_book(SYMBOL)
        assert book["nonce"] == emu.engine.sequence(SYMBOL)
        for n in range(3):
            price = poke_book(emu, n)
            book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 5)
            assert book["nonce"] == emu.engine.sequence(SYMBOL)
            assert float(price) in [p for p, _ in book["bids"]]
        assert (book["bids"][:5], book["asks"][:5]) == engine_top(emu)


async def test_depth_gap_is_detected_and_the_book_resyncs(emu):
    async with ccxt_client(emu, pro=True) as ex:
        await ex.watch_order_book(SYMBOL)
        emu.inject_fault("depth_gap", "BTCUSDT")
        poke_book(emu, 1)  # this diff is dropped by the emulator
        await wait_until(lambda: not emu.ctx.faults.armed("depth_gap"), what="the emulator dropping a diff")
        poke_book(emu, 2)  # this one arrives with U > previous u + 1
        with pytest.raises(ccxt.ChecksumError):
            # ccxt 4.5.90 rejects the watcher on a gap and forgets the book and the subscription
            await asyncio.wait_for(ex.watch_order_book(SYMBOL), 5)
        book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 5)  # resubscribes, new snapshot
        assert book["nonce"] == emu.engine.sequence(SYMBOL)
        assert (book["bids"][:5], book["asks"][:5]) == engine_top(emu)
        poke_book(emu, 3)
        book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 5)
        assert (book["bids"][:5], book["asks"][:5]) == engine_top(emu)


async def test_watch_orders_and_balance_over_websocket_api(emu):
    async with ccxt_client(emu, pro=True) as ex:
        await ex.load_markets()
        watcher = asyncio.ensure_future(ex.watch_orders(SYMBOL))
        await wait_until(lambda: bool(emu.ctx.state["binance"].user_queues.get(emu.ctx.account)))
        created = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"clientOrderId": "ws-1"})
        orders = await asyncio.wait_for(watcher, 5)
        assert orders[-1]["id"] == created["id"] and orders[-1]["status"] == "open"
        assert orders[-1]["clientOrderId"] == "ws-1"
        balance_watch = asyncio.ensure_future(ex.watch_balance())
        await wait_until(lambda: any("spot:balance" in c.futures for c in ex.clients.values()),
                         what="ccxt.pro waiting for a balance update")  # fmt: skip
        await ex.cancel_order(created["id"], SYMBOL)
        balance = await asyncio.wait_for(balance_watch, 5)
        assert balance["USDT"]["free"] == 100000


async def test_listen_key_user_stream(emu):
    async with ccxt_client(emu) as ex:
        await ex.load_markets()
        listen_key = (await ex.public_post_userdatastream())["listenKey"]
        assert await ex.public_put_userdatastream({"listenKey": listen_key}) == {}
        ws_root = emu.ws_url.removesuffix("/stream")
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{ws_root}/ws/{listen_key}") as ws:
            await wait_until(lambda: bool(emu.ctx.state["binance"].user_queues.get(emu.ctx.account)),
                             what="the listen-key stream subscribed to the account")  # fmt: skip
            order = await ex.create_order(SYMBOL, "limit", "sell", 0.001, 70000, {"clientOrderId": "lk-1"})
            report = json.loads((await ws.receive(timeout=5)).data)
            position = json.loads((await ws.receive(timeout=5)).data)
        assert report["e"] == "executionReport" and report["x"] == "NEW" and report["c"] == "lk-1"
        assert str(report["i"]) == order["id"]
        assert position["e"] == "outboundAccountPosition"
        assert {b["a"]: b["l"] for b in position["B"]}["BTC"] == "0.00100000"


async def test_trade_aggtrade_and_kline_streams(emu):
    """Raw /ws streams: each trade after the subscription as binance sends it, and the
    current 1m candle; a trade of 0.002 at the best ask lifted by a buy."""
    ask = emu.engine.book(SYMBOL, 1).best_ask
    streams = "btcusdt@trade/btcusdt@aggTrade/btcusdt@kline_1m"
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{emu.ws_url}?streams={streams}") as ws:
        await wait_until(lambda: emu.ctx.open_websockets >= 1, what="the stream connected")
        async with ccxt_client(emu) as ex:
            await ex.load_markets()
            await ex.create_order(SYMBOL, "limit", "buy", 0.002, float(ask))
        got: dict[str, dict] = {}
        while len(got) < 3:
            frame = json.loads((await ws.receive(timeout=10)).data)
            got.setdefault(frame["stream"], frame["data"])
    trade, agg, kline = got["btcusdt@trade"], got["btcusdt@aggTrade"], got["btcusdt@kline_1m"]
    assert (trade["e"], trade["s"], trade["p"], trade["q"], trade["m"]) == (
        "trade",
        "BTCUSDT",
        f"{ask:.8f}",
        "0.00200000",
        False,
    )
    assert (agg["e"], agg["a"], agg["f"], agg["l"], agg["p"], agg["q"]) == (
        "aggTrade",
        trade["t"],
        trade["t"],
        trade["t"],
        trade["p"],
        trade["q"],
    )
    k = kline["k"]
    assert (kline["e"], k["i"], k["o"], k["c"], k["v"], k["n"], k["x"]) == (
        "kline",
        "1m",
        trade["p"],
        trade["p"],
        "0.00200000",
        1,
        False,
    )


async def test_unknown_rest_path_is_a_json_error(emu):
    async with aiohttp.ClientSession() as session, session.get(f"{emu.url}/api/v3/nope") as response:
        assert response.status == 404
        assert (await response.json())["code"] == -1000


# ---- the live simulation and the `emulate` command ----------------------------------------


async def test_simulated_market_streams_a_consistent_book(emulator_factory):
    emu = await emulator_factory("binance", seed=3, step_s=0.05)
    async with ccxt_client(emu, pro=True) as ex:
        first = await ex.watch_order_book(SYMBOL)
        nonce = first["nonce"]
        for _ in range(5):
            book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 5)
            assert book["nonce"] > nonce
            nonce = book["nonce"]
            assert book["bids"][0][0] < book["asks"][0][0]


async def test_emulate_command_prints_what_a_client_needs_and_stops(emulator_factory):
    import io
    import re

    from aitbc_tui.cli import build_parser
    from aitbc_tui.commands.emulate import serve

    args = build_parser().parse_args(
        ["emulate", "--venue", "binance", "--seed", "5", "--api-key", "cmd-key", "--port", "0"]
    )
    out, stop = io.StringIO(), asyncio.Event()
    server = asyncio.create_task(serve(args, out, stop))
    await wait_until(lambda: "Ctrl-C" in out.getvalue())
    text = out.getvalue()
    url = re.search(r"REST\s+(http://127\.0\.0\.1:\d+)", text).group(1)
    secret = re.search(r"secret\s+(\S+)", text).group(1)
    assert "API key    cmd-key" in text and "ws://127.0.0.1:" in text
    assert "exchange.urls['api'] = " in text and "[venues.binance-emulator]" in text
    assert f'api_url = "{url}"' in text
    options = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
    exchange = ccxt.binance({"apiKey": "cmd-key", "secret": secret, "options": options})
    exchange.urls["api"] = {"public": f"{url}/api/v3", "private": f"{url}/api/v3"}
    try:
        assert (await exchange.fetch_balance())["USDT"]["free"] == 100000
    finally:
        await exchange.close()
    stop.set()
    assert await asyncio.wait_for(server, 10) == 0
    assert "emulator stopped" in out.getvalue()
