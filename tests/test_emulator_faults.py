"""Fault modes of the exchange emulators, each seen through the real ccxt client (4.5.90):
which ccxt exception a fault produces decides how the order path classifies the outcome
(a NetworkError: the outcome is unknown, look the order up by client id; never resend).

Faults are armed per venue and per endpoint through the server's fault table, from the test
(``emu.set_fault``) or from another process (``POST /__faults``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt
import pytest

from aitbc_tui.domain import OrderType, Side
from tests.apptools import wait_until
from tests.emulator_helpers import ccxt_client

D = Decimal
SYMBOL = "BTC/USDT"
VENUES = ("binance", "kraken", "coinbase")


async def client_for(emu, **config):
    context = ccxt_client(emu, **config)
    exchange = await context.__aenter__()
    if emu.venue == "kraken":
        exchange.has["fetchCurrencies"] = False
    await exchange.load_markets()
    return context, exchange


# endpoint of the balance call of each venue (what fetch_balance requests)
BALANCE = {"binance": "/api/v3/account", "kraken": "BalanceEx", "coinbase": "accounts"}
CREATE = {"binance": "/api/v3/order", "kraken": "AddOrder", "coinbase": "/api/v3/brokerage/orders"}


def order_params(venue: str, client_id: str) -> dict:
    return {"client_order_id": client_id} if venue == "coinbase" else {"clientOrderId": client_id}


# ---- reply now, act later (binance -1007) ------------------------------------------------


async def test_binance_1007_replies_at_once_and_the_order_appears_later(still_emulator):
    emu = await still_emulator("binance")
    context, ex = await client_for(emu)
    try:
        emu.set_fault("reply_then_act", "/api/v3/order", method="POST", delay_s=0.3)
        # -1007 is RequestTimeout in ccxt's generic binance map (and the spot map has no
        # entry of its own): a NetworkError, the execution status is unknown.
        with pytest.raises(ccxt.RequestTimeout, match="-1007") as caught:
            await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"clientOrderId": "late-1"})
        assert type(caught.value) is ccxt.RequestTimeout
        assert ex.last_http_response and json.loads(ex.last_http_response)["code"] == -1007
        with pytest.raises(ccxt.OrderNotFound):  # -2013: not there yet
            await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "late-1"})
        await wait_until(lambda: bool(emu.engine.open_orders(emu.ctx.account)))
        found = await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "late-1"})
        assert found["status"] == "open" and found["clientOrderId"] == "late-1"
        assert len(emu.engine.open_orders(emu.ctx.account)) == 1  # applied once
    finally:
        await context.__aexit__(None, None, None)


@pytest.mark.parametrize("venue", ["kraken", "coinbase"])
async def test_reply_then_act_on_kraken_and_coinbase(still_emulator, venue):
    emu = await still_emulator(venue)
    context, ex = await client_for(emu)
    try:
        emu.set_fault("reply_then_act", CREATE[venue], method="POST", delay_s=0.2)
        # kraken: {"error":["EService:Unavailable"]} -> ExchangeNotAvailable (by its exact map);
        # coinbase: an HTML 504 from the gateway -> RequestTimeout (ccxt's HTTP status map).
        expected = ccxt.ExchangeNotAvailable if venue == "kraken" else ccxt.RequestTimeout
        with pytest.raises(expected) as caught:
            await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, order_params(venue, "late-2"))
        assert type(caught.value) is expected
        await wait_until(lambda: bool(emu.engine.open_orders(emu.ctx.account)))
        assert emu.engine.open_orders(emu.ctx.account)[0].client_order_id == "late-2"
    finally:
        await context.__aexit__(None, None, None)


# ---- the create is applied, the reply never comes ---------------------------------------


@pytest.mark.parametrize("venue", VENUES)
async def test_held_create_is_a_request_timeout_and_the_order_exists(still_emulator, venue):
    emu = await still_emulator(venue)
    context, ex = await client_for(emu, timeout=400)  # ms
    try:
        emu.set_fault("hold", CREATE[venue], method="POST")  # no delay_s: never answers
        with pytest.raises(ccxt.RequestTimeout) as caught:
            await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, order_params(venue, "held-1"))
        assert type(caught.value) is ccxt.RequestTimeout
        [order] = emu.engine.open_orders(emu.ctx.account)
        assert order.client_order_id == "held-1"
        assert emu.ctx.in_flight_requests  # the held handler is still in flight
    finally:
        await context.__aexit__(None, None, None)
    started = time.monotonic()
    await emu.stop()  # cancels the held handler instead of waiting for it
    assert time.monotonic() - started < 2
    assert emu.ctx.in_flight_requests == 0


@pytest.mark.parametrize("venue", VENUES)
async def test_stop_ends_a_held_create_and_an_open_websocket_at_once(still_emulator, venue):
    """A client still waiting for a held reply and still subscribed to a book: stop() cancels
    the handler and closes the websocket; it never waits for either (aiohttp's graceful
    shutdown would wait up to its shutdown timeout)."""
    emu = await still_emulator(venue)
    async with ccxt_client(emu, pro=True, timeout=60_000) as ex:
        if venue == "kraken":
            ex.has["fetchCurrencies"] = False
        await ex.load_markets()
        await asyncio.wait_for(ex.watch_order_book(SYMBOL), 30)
        assert emu.ctx.open_websockets >= 1
        emu.set_fault("hold", CREATE[venue], method="POST")  # never answers
        create = asyncio.ensure_future(
            ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, order_params(venue, "held-2"))
        )
        await wait_until(lambda: bool(emu.engine.open_orders(emu.ctx.account)))  # applied, reply held
        started = time.monotonic()
        await emu.stop()
        assert time.monotonic() - started < 2
        assert emu.ctx.in_flight_requests == 0 and emu.ctx.open_websockets == 0
        with pytest.raises(ccxt.NetworkError):  # the held reply ends with the connection
            await asyncio.wait_for(create, 10)


async def test_a_late_reply_after_the_client_gave_up(still_emulator):
    emu = await still_emulator("binance")
    context, ex = await client_for(emu, timeout=300)
    try:
        emu.set_fault("hold", "/api/v3/order", method="POST", delay_s=0.6)
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(SYMBOL, "limit", "buy", 0.01, 60000, {"clientOrderId": "slow-1"})
        found = await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "slow-1"})
        assert found["status"] == "open"
    finally:
        await context.__aexit__(None, None, None)


# ---- HTML 5xx, 429, 418 ------------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize(("status", "expected"), [(503, ccxt.ExchangeNotAvailable), (500, ccxt.ExchangeNotAvailable),
                                                  (502, ccxt.ExchangeNotAvailable), (504, ccxt.RequestTimeout)])  # fmt: skip
async def test_html_5xx(still_emulator, venue, status, expected):
    emu = await still_emulator(venue)
    context, ex = await client_for(emu)
    try:
        emu.set_fault("http_5xx", BALANCE[venue], status=status)
        with pytest.raises(expected, match=str(status)) as caught:
            await ex.fetch_balance()
        assert type(caught.value) is expected
        assert ex.last_response_headers["Content-Type"].startswith("text/html")
        assert (await ex.fetch_balance())["USDT"]["free"] > 0  # count 1: the next call is fine
    finally:
        await context.__aexit__(None, None, None)


# binance: its handle_errors turns any 418/429 into DDoSProtection before reading the body;
# kraken: the envelope's EAPI:Rate limit exceeded -> DDoSProtection (exact map);
# coinbase: rate_limit_exceeded -> RateLimitExceeded (a DDoSProtection subclass), 418 or 429.
RATE_LIMITED = {"binance": ccxt.DDoSProtection, "kraken": ccxt.DDoSProtection, "coinbase": ccxt.RateLimitExceeded}


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("kind", ["http_429", "http_418"])
async def test_429_and_418_with_retry_after(still_emulator, venue, kind):
    emu = await still_emulator(venue)
    context, ex = await client_for(emu)
    try:
        emu.set_fault(kind, BALANCE[venue], retry_after=42)
        with pytest.raises(RATE_LIMITED[venue]) as caught:
            await ex.fetch_balance()
        assert type(caught.value) is RATE_LIMITED[venue]
        assert ex.last_response_headers["Retry-After"] == "42"
        if venue == "binance" and kind == "http_418":
            assert "IP banned until" in str(caught.value)
    finally:
        await context.__aexit__(None, None, None)


# ---- clock skew --------------------------------------------------------------------------


async def test_clock_skew(still_emulator):
    binance = await still_emulator("binance")
    kraken = await still_emulator("kraken")
    coinbase = await still_emulator("coinbase")
    contexts = []
    try:
        (c1, b), (c2, k), (c3, cb) = [await client_for(e) for e in (binance, kraken, coinbase)]
        contexts = [c1, c2, c3]
        # ccxt 4.5.90 sends recvWindow=10000: a client up to 10 s behind still passes
        binance.set_fault("clock_skew", offset_s=30)  # the server runs 30 s ahead of the client
        assert abs(await b.fetch_time() - b.milliseconds() - 30_000) < 2000
        # -1021 is InvalidNonce (a NetworkError) in ccxt's generic binance map
        with pytest.raises(ccxt.InvalidNonce, match="recvWindow"):
            await b.fetch_balance()
        binance.set_fault("clock_skew", offset_s=-3)  # the client is 3 s ahead
        with pytest.raises(ccxt.InvalidNonce, match="ahead of the server"):
            await b.fetch_balance()
        binance.clear_faults("clock_skew")
        await b.fetch_balance()

        kraken.set_fault("clock_skew", offset_s=120)  # kraken signs with a nonce, not a time
        assert abs(await k.fetch_time() - k.milliseconds() - 120_000) < 2000
        await k.fetch_balance()

        coinbase.set_fault("clock_skew", offset_s=60)  # beyond Coinbase's 30 s tolerance
        # ccxt's coinbase map has 'request timestamp expired' -> InvalidNonce, but only as a broad
        # match, after the exact 'authentication_error' id: the caller sees AuthenticationError.
        with pytest.raises(ccxt.AuthenticationError, match="request timestamp expired") as caught:
            await cb.fetch_balance()
        assert type(caught.value) is ccxt.AuthenticationError
    finally:
        for context in contexts:
            await context.__aexit__(None, None, None)


# ---- websocket faults (binance streams) --------------------------------------------------


def poke_book(emu, n: int) -> None:
    best_bid = emu.engine.book(SYMBOL, 1).best_bid
    price = best_bid - D("0.37") - D(n) * D("0.01")
    emu.engine.place(emu.ctx.account, SYMBOL, Side.BUY, OrderType.LIMIT, D("0.001"), price, f"poke-{n}")


@pytest.fixture
async def streaming(still_emulator):
    emu = await still_emulator("binance")
    async with ccxt_client(emu, pro=True) as ex:
        await ex.watch_order_book(SYMBOL)
        yield emu, ex


async def test_ws_close_1006_is_a_network_error_and_the_next_watch_reconnects(streaming):
    emu, ex = streaming
    emu.set_fault("ws_close_1006", "BTCUSDT")
    poke_book(emu, 1)
    with pytest.raises(ccxt.NetworkError, match="1006") as caught:
        await asyncio.wait_for(ex.watch_order_book(SYMBOL), 30)
    assert type(caught.value) is ccxt.NetworkError
    book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 30)
    assert book["nonce"] == emu.engine.sequence(SYMBOL)


async def test_ws_malformed_frame_silently_kills_the_feed(streaming):
    emu, ex = streaming
    emu.set_fault("ws_malformed", "BTCUSDT")
    poke_book(emu, 1)
    # ccxt.pro's receive loop dies on the bad JSON: no exception reaches the watcher, and no
    # data either, even once the server sends good frames again. Only a staleness watchdog sees it.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ex.watch_order_book(SYMBOL), 1.0)
    poke_book(emu, 2)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ex.watch_order_book(SYMBOL), 1.0)


async def test_ws_stall_then_resume_shows_a_gap(streaming):
    emu, ex = streaming
    emu.set_fault("ws_stall", "/stream", count=None)  # until cleared
    poke_book(emu, 1)
    with pytest.raises(asyncio.TimeoutError):  # a stall raises nothing: the watch just waits
        await asyncio.wait_for(ex.watch_order_book(SYMBOL), 1.0)
    emu.clear_faults("ws_stall")
    poke_book(emu, 2)
    # the diffs sent during the stall were lost: the first one after it does not continue u
    with pytest.raises(ccxt.ChecksumError):
        await asyncio.wait_for(ex.watch_order_book(SYMBOL), 30)
    book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 30)
    assert book["nonce"] == emu.engine.sequence(SYMBOL)


async def test_ws_stall_for_a_while(streaming):
    emu, ex = streaming
    emu.set_fault("ws_stall", "btcusdt@depth@100ms", duration_s=0.5)
    poke_book(emu, 1)
    [stream] = emu.ctx.state["binance"].depth_subscribers
    await wait_until(lambda: stream.conn.stalled_until > 0)  # the stall began
    loop = asyncio.get_running_loop()
    await wait_until(lambda: loop.time() > stream.conn.stalled_until)  # and ended
    poke_book(emu, 2)
    with pytest.raises(ccxt.ChecksumError):  # the next diff arrives with a gap
        # A generous bound, not a pace: it failed once at 5 s on a loaded 2-core machine.
        await asyncio.wait_for(ex.watch_order_book(SYMBOL), 30)


# ---- the fault table over HTTP, from another process -------------------------------------


async def test_admin_endpoint_from_another_process(still_emulator):
    emu = await still_emulator("binance")
    rule = {"kind": "http_5xx", "endpoint": "/api/v3/account", "count": 2, "params": {"status": 503}}
    script = (
        "import json, sys, urllib.request\n"
        f"req = urllib.request.Request({emu.url + '/__faults'!r}, data=sys.argv[1].encode(), method='POST',"
        " headers={'Content-Type': 'application/json'})\n"
        "print(urllib.request.urlopen(req, timeout=5).read().decode())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, json.dumps(rule), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    table = json.loads(out)
    assert table["venue"] == "binance" and table["faults"][0]["kind"] == "http_5xx"
    async with ccxt_client(emu) as ex:
        await ex.load_markets()
        for _ in range(2):
            with pytest.raises(ccxt.ExchangeNotAvailable):
                await ex.fetch_balance()
        await ex.fetch_balance()
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{emu.url}/__faults", json=[{"kind": "http_429", "endpoint": "account", "count": None}]
            ) as r:
                assert r.status == 200
            async with session.get(f"{emu.url}/__faults") as r:
                assert [f["kind"] for f in (await r.json())["faults"]] == ["http_429"]
            with pytest.raises(ccxt.DDoSProtection):
                await ex.fetch_balance()
            async with session.delete(f"{emu.url}/__faults") as r:
                assert (await r.json())["faults"] == []
            await ex.fetch_balance()
            async with session.post(f"{emu.url}/__faults", json={"kind": "no-such-fault"}) as r:
                assert r.status == 400 and "unknown fault kind" in (await r.json())["error"]
