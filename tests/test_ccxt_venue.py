"""The ccxt venue: URL redirection on real ccxt objects, modes, error text, and end to end
against the exchange emulator on 127.0.0.1 (binance over websocket, kraken and coinbase
by REST polling), plus the paper venue filling locally."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from aitbc_tui.config import ConfigError, VenueConfig, parse_config
from aitbc_tui.credentials import Credentials
from aitbc_tui.domain import (
    FeatureUnavailable,
    InsufficientFunds,
    Mode,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    VenueError,
)
from aitbc_tui.venues import factory
from aitbc_tui.venues.ccxt_venue import (
    DECIMAL_PLACES,
    CcxtVenue,
    PaperVenue,
    iter_urls,
    market_from_ccxt,
    readable_error,
)
from aitbc_tui.venues.quirks import DEFAULT_QUIRKS, quirks

API = "http://127.0.0.1:8901"
WS = "ws://127.0.0.1:8901"
EXCHANGES = ["binance", "kraken", "coinbase", "coinbaseexchange"]


def venue_config(exchange: str, mode: Mode = Mode.PAPER, **kw) -> VenueConfig:
    kw.setdefault("symbols", ("BTC/USDT",))
    return VenueConfig(name=f"my{exchange}", exchange=exchange, mode=mode, **kw)


def creds(key: str = "k", secret: str = "s") -> Credentials:
    return Credentials(api_key=key, secret=secret)


# ---- URL redirection ------------------------------------------------------------------


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("pro", [False, True])
async def test_every_url_is_redirected(exchange, pro):
    venue = CcxtVenue(venue_config(exchange, api_url=API, ws_url=WS))
    client = venue._new_exchange(pro=pro)
    try:
        urls = iter_urls(client.urls["api"])
        assert urls
        leaks = [u for u in urls if not (u.startswith(API + "/") or u == API or u.startswith(WS + "/") or u == WS)]
        assert leaks == [], f"{exchange} still points at {leaks}"
        rest = [u for u in urls if u.startswith("http")]
        assert rest and all(u.startswith(API) for u in rest)
        if pro:
            assert any(u.startswith(WS) for u in urls)
        if exchange == "binance":
            assert client.urls["api"]["public"] == API + "/api/v3"
            if pro:
                assert "/stream" in client.urls["api"]["ws"]["spot"]
    finally:
        await client.close()
        await venue.close()


async def test_ws_url_path_prefix_is_kept_once():
    venue = CcxtVenue(venue_config("binance", api_url=API, ws_url=WS + "/stream"))
    client = venue._new_exchange(pro=True)
    assert client.urls["api"]["ws"]["spot"] == WS + "/stream/ws"
    await client.close()
    await venue.close()


async def test_rest_redirected_without_ws_means_polling():
    venue = CcxtVenue(venue_config("binance", api_url=API))
    assert venue.uses_websocket is False
    await venue.close()


async def test_fast_load_markets_options():
    venue = CcxtVenue(venue_config("binance"))
    assert venue._rest.options["fetchMarkets"]["types"] == ["spot"]
    assert venue._rest.options["fetchCurrencies"] is False
    assert venue._rest.options["maxRetriesOnFailure"] == 0
    await venue.close()
    for exchange in ("kraken", "coinbase"):
        other = CcxtVenue(venue_config(exchange))
        assert other._rest.has["fetchCurrencies"] is False
        await other.close()


# ---- quirks: per-exchange facts as one table ----------------------------------------------


def test_quirks_exact_family_and_default():
    binance, binanceus, other = quirks("binance"), quirks("binanceus"), quirks("bitstamp")
    assert binance.book_limits[0] == 5 and binance.client_id_fetch_param == "origClientOrderId"
    # binanceus shares the family's stream path, window and weight header, not binance's own lane
    assert binanceus.ws_spot_stream_path and binanceus.validity_window_s == 10.0 and binanceus.weight_header
    assert binanceus.order_lane == other.order_lane == DEFAULT_QUIRKS.order_lane
    assert quirks("coinbaseexchange").needs_passphrase and quirks("coinbase").client_id_param == "client_order_id"
    assert quirks("coinbaseinternational").book_limits is None and other.book_limits == ()
    assert quirks("kraken").ws_private_host == "ws-auth." and not quirks("krakenfutures").ws_private_host
    with pytest.raises(AttributeError):
        binance.validity_window_s = 1.0  # frozen


@pytest.mark.parametrize(
    "exchange", ["binance", "binanceus", "kraken", "coinbase", "coinbaseexchange", "sim", "bitstamp", "Binance"]
)
def test_quirks_validity_window_agrees_with_the_tracker(exchange):
    from aitbc_tui.orders import validity_window_s

    assert quirks(exchange).validity_window_s == validity_window_s(exchange)


async def test_rest_depth_limit_follows_the_table():
    sizes = {}
    for exchange in ("binance", "kraken", "coinbase"):
        venue = CcxtVenue(venue_config(exchange))
        sizes[exchange] = [venue._rest_depth_limit(d) for d in (3, 20, 21, 9999)]
        await venue.close()
    assert sizes == {"binance": [5, 20, 50, 5000], "kraken": [3, 20, 21, 9999], "coinbase": [None] * 4}


# ---- modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("exchange", ["kraken", "coinbase"])
def test_testnet_without_test_network_is_a_clear_config_error(exchange):
    config = parse_config(f'[venues.v]\nexchange = "{exchange}"\nmode = "testnet"\nsymbols = ["BTC/USD"]\n', "cfg.toml")
    with pytest.raises(ConfigError) as info:
        factory.build_venues(config, credentials={})
    message = str(info.value)
    assert "cfg.toml" in message and "venues.v.mode" in message
    assert "no test network" in message and 'mode = "paper"' in message


async def test_testnet_binance_uses_ccxt_sandbox_urls():
    venue = CcxtVenue(venue_config("binance", Mode.TESTNET))
    assert "testnet.binance.vision" in venue._rest.urls["api"]["public"]
    await venue.close()


def test_live_without_credentials_is_refused():
    config = parse_config('[venues.v]\nexchange = "binance"\nmode = "live"\nsymbols = ["BTC/USDT"]\n', "cfg.toml")
    with pytest.raises(ConfigError, match=r"cfg.toml: venues.v.mode: live mode needs API keys"):
        factory.build_venues(config, credentials={})
    with pytest.raises(ConfigError, match="live mode needs API keys"):
        CcxtVenue(venue_config("binance", Mode.LIVE))


async def test_paper_mode_never_sends_keys():
    config = parse_config('[venues.v]\nexchange = "binance"\nmode = "paper"\nsymbols = ["BTC/USDT"]\n')
    [venue] = factory.build_venues(config, credentials={"v": creds("KEY", "SECRET")})
    assert isinstance(venue, PaperVenue)
    assert not venue.inner._rest.apiKey and not venue.inner._rest.secret
    await venue.close()


async def test_secrets_not_in_repr():
    venue = CcxtVenue(venue_config("binance", Mode.LIVE), credentials=creds("APIKEYVALUE", "SECRETVALUE"))
    assert "APIKEYVALUE" not in repr(venue) and "SECRETVALUE" not in repr(venue)
    assert venue._rest.apiKey == "APIKEYVALUE"  # set from reveal(), only on the ccxt client
    await venue.close()


async def test_read_only_refuses_orders():
    venue = CcxtVenue(venue_config("binance", Mode.LIVE, read_only=True), credentials=creds())
    with pytest.raises(FeatureUnavailable, match="read-only"):
        await venue.place_order(OrderRequest("x", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(1)))
    await venue.close()


# ---- conversions ----------------------------------------------------------------------


def test_readable_error_strips_ccxt_noise():
    text = 'binance {"code":-2010,"msg":"Account has insufficient balance for requested action."}'
    assert readable_error("main", "binance", text) == (
        "main: Account has insufficient balance for requested action. (code -2010)"
    )
    assert (
        readable_error("k", "kraken", 'kraken {"error":["EOrder:Insufficient funds"]}')
        == "k: EOrder:Insufficient funds"
    )
    assert readable_error("b", "binance", "binance fetchOrder() requires a symbol argument") == (
        "b: fetchOrder() requires a symbol argument"
    )


SIGNED = (
    "DELETE http://127.0.0.1:8901/api/v3/order?symbol=BTCUSDT&orderId=7&timestamp=1712345678901"
    "&recvWindow=10000&signature=9ac6d1e2f3"
)


def test_error_text_carries_no_query_string_nor_credentials():
    # ccxt's text for a body it cannot map, and for a request that timed out
    unmapped = readable_error("b", "binance", f"binance {SIGNED} 502 Bad Gateway <html>oops</html>")
    assert unmapped == "b: DELETE http://127.0.0.1:8901/api/v3/order 502 Bad Gateway <html>oops</html>"
    mapped = readable_error("b", "binance", f'binance {SIGNED} 400 {{"code":-2011,"msg":"Unknown order sent."}}')
    assert mapped == "b: Unknown order sent. (code -2011)"
    leaky = 'X-MBX-APIKEY: KEYVALUE "token": "WSTOKEN" apiKey=AK1 API-Sign=c2ln== Authorization: Bearer eyJx'
    text = readable_error("k", "kraken", f"kraken POST https://api.kraken.com/0/private/AddOrder {leaky}")
    assert not any(s in text for s in ("KEYVALUE", "WSTOKEN", "AK1", "c2ln", "eyJx", "?", "timestamp"))
    assert text.startswith("k: POST https://api.kraken.com/0/private/AddOrder X-MBX-APIKEY: ****")


async def test_venue_errors_carry_no_signed_url():
    import ccxt

    venue = CcxtVenue(venue_config("binance", Mode.LIVE), credentials=creds())
    for exc in (ccxt.RequestTimeout(f"binance {SIGNED}"), ccxt.ExchangeError(f"binance {SIGNED} 500"),
                OSError(f"Cannot connect: {SIGNED}")):  # fmt: skip

        async def fail(exc=exc):
            raise exc

        with pytest.raises(VenueError) as info:
            await venue._call(fail)
        assert "signature" not in str(info.value) and "timestamp" not in str(info.value)
        assert "DELETE http://127.0.0.1:8901/api/v3/order" in str(info.value)
    await venue.close()


def test_market_decimal_places_precision():
    market = market_from_ccxt(
        {
            "symbol": "BTC/USD",
            "base": "BTC",
            "quote": "USD",
            "maker": 0.0016,
            "taker": 0.0026,
            "precision": {"price": 1, "amount": 8},
            "limits": {"amount": {"min": 0.0001}, "cost": {"min": 0.5}},
        },
        DECIMAL_PLACES,
    )
    assert market.tick_size == Decimal("0.1") and market.lot_size == Decimal("1E-8")
    assert market.min_amount == Decimal("0.0001") and market.min_notional == Decimal("0.5")
    assert market.maker_fee == Decimal("0.0016") and market.taker_fee == Decimal("0.0026")


# ---- end to end against the emulator ---------------------------------------------------

EMULATED = [
    # (emulator venue, expected tick, expected lot, expected maker fee, book by websocket)
    ("binance", Decimal("0.01"), Decimal("0.00001"), Decimal("0.001"), True),
    ("kraken", Decimal("0.1"), Decimal("1E-8"), Decimal("0.0025"), True),
    ("coinbase", Decimal("0.01"), Decimal("1E-8"), Decimal("0.004"), True),
]


@pytest.fixture
async def emulated():
    from aitbc_tui.emulator import start_emulator

    started = []
    venues = []

    async def make(name: str, *, paper: bool = False, book_feed: str = "", **emulator_options):
        emulator_options.setdefault("simulate", False)
        emu = await start_emulator(name, api_key="test-key", seed=1, **emulator_options)
        started.append(emu)
        config = VenueConfig(
            name=f"emu-{name}",
            exchange=emu.ccxt_id,
            mode=Mode.PAPER if paper else Mode.LIVE,
            symbols=("BTC/USDT",),
            api_url=emu.url,
            ws_url=emu.ws_url or None,
            book_feed=book_feed,
        )
        inner = CcxtVenue(
            config,
            credentials=None if paper else Credentials(api_key=emu.api_key, secret=emu.secret),
            poll_interval_s=0.05,
        )
        inner._rest.enableRateLimit = False  # ccxt's kraken throttle (3 s per private call) only slows the test
        venue = PaperVenue(inner) if paper else inner
        venues.append(venue)
        await venue.start()
        return emu, venue

    yield make
    for venue in venues:
        await venue.close()
    for emu in started:
        await emu.stop()


@pytest.mark.parametrize(("name", "tick", "lot", "maker", "websocket"), EMULATED, ids=[e[0] for e in EMULATED])
async def test_live_venue_against_emulator(emulated, name, tick, lot, maker, websocket):
    emu, venue = await emulated(name)
    markets = await venue.load_markets()
    market = markets["BTC/USDT"]
    assert (market.tick_size, market.lot_size, market.maker_fee) == (tick, lot, maker)
    assert market.min_notional > 0

    book = await asyncio.wait_for(venue.watch_order_book("BTC/USDT", 10), 10)
    assert book.bids and book.asks and book.best_bid < book.best_ask
    assert all(isinstance(p, Decimal) and isinstance(q, Decimal) for p, q in book.bids + book.asks)
    assert venue.last_feed_event == ("websocket" if websocket else "rest")

    assert await venue.ping() > 0 and venue.probe.startswith("fetch_time")
    balances = await venue.fetch_balances()
    assert balances["USDT"].free == Decimal("100000")

    price = (book.best_bid - 100 * tick).quantize(tick)
    request = OrderRequest(venue.name, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), price, f"t-{name}-1")
    order = await venue.place_order(request)
    assert order.status is OrderStatus.OPEN and order.client_order_id == request.client_order_id
    assert order.price == price and order.amount == Decimal("0.01")

    found = await venue.fetch_order_by_client_id(request.client_order_id, "BTC/USDT")
    assert found is not None and found.id == order.id
    assert await venue.fetch_order_by_client_id("no-such-id", "BTC/USDT") is None
    assert [o.id for o in await venue.fetch_open_orders()] == [order.id]

    cancelled = await venue.cancel_order(order.id, "BTC/USDT")
    assert cancelled.status is OrderStatus.CANCELED and cancelled.client_order_id == request.client_order_id
    assert await venue.fetch_open_orders() == []
    closed = await venue.fetch_closed_orders()
    assert closed and closed[0].id == order.id and closed[0].status is OrderStatus.CANCELED

    too_big = OrderRequest(venue.name, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("1000"), book.best_bid, "t-big")
    with pytest.raises(InsufficientFunds) as info:
        await venue.place_order(too_big)
    assert str(info.value).startswith(f"{venue.name}: ") and "{" not in str(info.value)

    # One lot: below the venue's minimum amount or minimum order value on every venue.
    tiny = OrderRequest(venue.name, "BTC/USDT", Side.BUY, OrderType.LIMIT, lot, book.best_bid, "t-tiny")
    with pytest.raises(OrderRejected) as info:
        await venue.place_order(tiny)
    assert str(info.value).startswith(f"{venue.name}: ") and "{" not in str(info.value)

    with pytest.raises(OrderNotFound):
        await venue.cancel_order("999999", "BTC/USDT")


async def test_wrong_secret_is_a_readable_authentication_error(emulated):
    emu, venue = await emulated("binance")
    venue._rest.secret = "wrong"
    with pytest.raises(VenueError, match="authentication failed"):
        await venue.fetch_balances()


@pytest.mark.parametrize("name", ["binance", "kraken"])
async def test_paper_venue_fills_locally_against_the_live_book(emulated, name):
    emu, venue = await emulated(name, paper=True)
    assert isinstance(venue, PaperVenue) and venue.mode is Mode.PAPER
    book = await asyncio.wait_for(venue.watch_order_book("BTC/USDT", 20), 10)
    start = await venue.fetch_balances()
    assert start["USDT"].free == Decimal("100000") and start["BTC"].free == Decimal("2")
    market = (await venue.load_markets())["BTC/USDT"]

    buy = await venue.place_order(
        OrderRequest(venue.name, "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), None, "p-1")
    )
    assert buy.status is OrderStatus.FILLED and buy.filled == Decimal("0.01")
    assert buy.average_price >= book.best_ask
    assert buy.fee == buy.average_price * Decimal("0.01") * market.taker_fee
    after = await venue.fetch_balances()
    assert after["BTC"].free == Decimal("2.01")
    assert after["USDT"].free == Decimal("100000") - buy.average_price * Decimal("0.01") - buy.fee

    rest_price = (book.best_bid - 50 * market.tick_size).quantize(market.tick_size)
    resting = await venue.place_order(
        OrderRequest(venue.name, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), rest_price, "p-2")
    )
    assert resting.status is OrderStatus.OPEN
    assert (await venue.fetch_balances())["USDT"].used > 0
    assert (await venue.fetch_order_by_client_id("p-2", "BTC/USDT")).id == resting.id
    cancelled = await venue.cancel_order(resting.id, "BTC/USDT")
    assert cancelled.status is OrderStatus.CANCELED
    assert (await venue.fetch_balances())["USDT"].used == 0
    with pytest.raises(OrderNotFound):
        await venue.cancel_order(resting.id, "BTC/USDT")
    with pytest.raises(InsufficientFunds):
        await venue.place_order(
            OrderRequest(venue.name, "BTC/USDT", Side.SELL, OrderType.MARKET, Decimal("5"), None, "p-3")
        )
    # The emulator saw no order: paper never trades on the venue.
    assert emu.engine.open_orders("emulator") == [] and emu.engine.closed_orders("emulator") == []


async def test_stale_websocket_is_rebuilt_and_resynced_by_rest(emulated):
    emu, venue = await emulated("binance", book_feed="ccxt")
    venue._stale_after_s = 0.5  # no market flow in this emulator: the feed goes quiet
    first = await asyncio.wait_for(venue.watch_order_book("BTC/USDT", 5), 10)
    assert venue.last_feed_event == "websocket"
    old_client = venue._ws
    second = await asyncio.wait_for(venue.watch_order_book("BTC/USDT", 5), 10)
    assert venue.last_feed_event == "rest" and venue._ws is None and old_client is not None
    assert second.best_bid == first.best_bid
    third = await asyncio.wait_for(venue.watch_order_book("BTC/USDT", 5), 10)
    assert third.bids and venue._ws is not None  # a fresh client took over


# ---- ccxt facts: sequence gaps, clock skew, rate limits ---------------------------------


async def test_depth_sequence_gap_is_a_resync_not_a_failure(emulated):
    emu, venue = await emulated("binance", book_feed="ccxt", simulate=True)  # a moving market: diffs flow
    first = await asyncio.wait_for(venue.watch_order_book("BTC/USDT", 5), 10)
    client = venue._ws
    emu.inject_fault("depth_gap", "BTCUSDT")  # the next diff event is dropped: a U/u gap
    books = [await asyncio.wait_for(venue.watch_order_book("BTC/USDT", 5), 10) for _ in range(15)]
    assert venue.resyncs == 1
    assert venue._ws is client  # resubscribed on the same connection, not rebuilt
    assert all(b.bids and b.asks for b in books)
    assert books[-1].sequence > first.sequence


async def test_repeated_sequence_gaps_become_a_feed_error(emulated, monkeypatch):
    import ccxt

    emu, venue = await emulated("binance", book_feed="ccxt")
    await asyncio.wait_for(venue.watch_order_book("BTC/USDT", 5), 10)
    client = await venue._ws_client()

    async def always_gapped(symbol, *args, **kwargs):
        raise ccxt.ChecksumError("binance BTC/USDT : orderbook data checksum validation failed")

    monkeypatch.setattr(client, "watch_order_book", always_gapped)
    with pytest.raises(VenueError, match="sequence gap; resubscribing"):
        await venue.watch_order_book("BTC/USDT", 5)
    assert venue.resyncs == 3


async def test_binance_clock_skew_is_readable_and_a_create_is_not_called_rejected(emulated):
    import time

    from aitbc_tui.domain import VenueUnavailable

    emu, venue = await emulated("binance")
    emu.ctx.clock = lambda: time.time() + 60  # the exchange's clock a minute ahead of ours
    with pytest.raises(VenueUnavailable) as info:
        await venue.fetch_balances()
    assert "clock" in str(info.value) and "(code -1021)" in str(info.value)
    request = OrderRequest(
        venue.name, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal("1000"), "t-skew"
    )
    with pytest.raises(VenueUnavailable) as info:  # an unknown outcome: looked up, never resent
        await venue.place_order(request)
    assert not isinstance(info.value, OrderRejected) and "clock" in str(info.value)
    assert emu.engine.open_orders("emulator") == []


@pytest.mark.parametrize(("name", "retry_after"), [("binance", 60), ("kraken", 1), ("coinbase", 1)])
async def test_rate_limit_is_venue_unavailable_with_retry_after(emulated, name, retry_after):
    from aitbc_tui.domain import VenueUnavailable

    emu, venue = await emulated(name, weight_per_minute=1_000_000)
    if name == "binance":
        emu.ctx.limiter.weight_per_minute = 0  # over budget: HTTP 429, -1003, Retry-After 60
    else:
        emu.inject_fault("rate_limit")
    with pytest.raises(VenueUnavailable) as info:
        await venue.fetch_balances()
    assert str(info.value).startswith(f"{venue.name}: rate limited, retry after {retry_after} s")
    # Inside the window nothing more is sent: a create is refused before it goes out (a
    # definite "not sent", never an unknown outcome), and the health text names the end.
    assert venue.rate_limit_text().startswith("rate limited until ")
    request = OrderRequest(venue.name, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal("1000"), "t-429")
    with pytest.raises(OrderRejected, match="not sent: rate limited until"):
        await venue.place_order(request)
    assert emu.engine.open_orders(emu.ctx.account) == []
    with pytest.raises(VenueUnavailable, match="rate limited until"):
        await venue.fetch_balances()  # polls wait out the window too


async def test_ping_is_the_round_trip_not_the_wait_in_ccxts_throttle(emulated):
    emu, venue = await emulated("kraken")
    venue._rest.enableRateLimit = True  # kraken: one public call a second
    loop = asyncio.get_running_loop()
    started = loop.time()
    ahead = asyncio.ensure_future(venue._rest.fetch_time())  # takes the throttle's only slot
    latency_ms = await venue.ping()
    await ahead
    assert loop.time() - started >= 0.9  # the probe did wait its turn
    assert latency_ms < 500  # but reports the request's own time


async def test_http_418_stops_all_traffic_until_the_ban_ends(emulated):
    """Binance's IP ban (418, Retry-After): every request, a cancel included, is refused
    locally until the ban ends, and the venue says so; nothing reaches the venue."""
    from aitbc_tui.domain import OrderRejected, VenueUnavailable

    emu, venue = await emulated("binance", weight_per_minute=1_000_000)
    emu.set_fault("http_418", "/api/v3/account", count=1, retry_after=300)
    with pytest.raises(VenueUnavailable):
        await venue.fetch_balances()
    text = venue.rate_limit_text()
    assert text.startswith("IP banned (HTTP 418) until ") and "all traffic to binance stopped" in text
    request = OrderRequest(venue.name, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal("1000"), "t-418")
    with pytest.raises(OrderRejected, match="not sent: IP banned"):
        await venue.place_order(request)
    with pytest.raises(OrderRejected, match="not sent: IP banned"):
        await venue.cancel_order("1", "BTC/USDT")
    with pytest.raises(VenueUnavailable, match="IP banned"):
        await venue.fetch_open_orders()
    assert emu.engine.open_orders(emu.ctx.account) == []


def test_an_order_view_without_an_average_takes_it_from_cost_over_filled():
    """kraken's views carry the executed cost but no average: a buy limit at 3,400.00 that
    filled 0.5 for 1,699.95 was bought at 3,399.90, not at its limit."""
    from decimal import Decimal as D

    from aitbc_tui.venues.ccxt_convert import order_from_ccxt

    view = {"id": "O1", "symbol": "ETH/USDT", "side": "buy", "type": "limit", "price": 3400.0, "amount": 0.5,
            "filled": 0.5, "cost": 1699.95, "average": None, "status": "closed"}  # fmt: skip
    order = order_from_ccxt("kraken", view)
    assert order.average_price == D("3399.9") and order.price == D("3400")
    assert order_from_ccxt("kraken", {**view, "average": 3399.5}).average_price == D("3399.5")
    assert order_from_ccxt("kraken", {**view, "filled": 0, "cost": 0}).average_price is None
