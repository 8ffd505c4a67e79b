"""``mode = "feed"`` in the config: validation, the factory, and trading through ``trade_on``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aitbc_tui.config import ConfigError, parse_config
from aitbc_tui.credentials import Credentials
from aitbc_tui.desk.collector import Collector
from aitbc_tui.desk.feed_venue import FeedVenue
from aitbc_tui.domain import Mode, OrderRequest, OrderStatus, OrderType, Side
from aitbc_tui.service import MarketService
from aitbc_tui.venues.ccxt_venue import CcxtVenue
from aitbc_tui.venues.factory import build_venues
from tests.apptools import wait_until

FEED_ONLY = """
[venues.binance]
mode = "feed"
feed = "nats://127.0.0.1:4222"
symbols = ["BTC/USDT"]
"""


def test_a_feed_venue_needs_no_exchange_and_no_keys():
    config = parse_config(FEED_ONLY, "desk.toml")
    (venue,) = config.venues
    assert (venue.mode, venue.feed, venue.symbols, venue.source, venue.trade_on) == (
        Mode.FEED, "nats://127.0.0.1:4222", ("BTC/USDT",), None, None)  # fmt: skip
    built = build_venues(config, credentials={})
    assert len(built) == 1 and isinstance(built[0], FeedVenue)
    assert built[0].read_only and built[0].mode is Mode.FEED and built[0].source == "binance"


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[venues.a]\nmode = "feed"\n', "venues.a.feed", "is required"),
        ('[venues.a]\nmode = "feed"\nfeed = "http://x:1"\n', "venues.a.feed", "is not allowed"),
        ('[venues.a]\nmode = "feed"\nfeed = "nats://tok@x:1"\n', "venues.a.feed", "no user, password or token"),
        ('[venues.a]\nmode = "feed"\nfeed = "nats://x:1"\nexchange = "binance"\n', "venues.a.exchange", "unknown key"),
        ('[venues.a]\nmode = "feed"\nfeed = "nats://x:1"\ntrade_on = "b"\n', "venues.a.trade_on", "no venue named"),
        ('[venues.a]\nmode = "feed"\nfeed = "nats://x:1"\ntrade_on = "a"\n', "venues.a.trade_on", "itself"),
        (
            '[venues.a]\nmode = "feed"\nfeed = "nats://x:1"\ntrade_on = "b"\n[venues.b]\nmode = "feed"\nfeed = "nats://x:1"\n',
            "venues.a.trade_on",
            "is a feed venue",
        ),  # fmt: skip
        (
            '[venues.a]\nmode = "feed"\nfeed = "nats://x:1"\nsymbols = ["BTC USDT"]\n',
            "venues.a.symbols[0]",
            "not a symbol",
        ),
    ],
)
def test_bad_feed_venues_are_refused_naming_the_key(text, key, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "desk.toml")
    assert caught.value.key == key and message in str(caught.value) and "desk.toml" in str(caught.value)


def test_a_typo_in_mode_names_feed_as_allowed():
    with pytest.raises(ConfigError, match='"feed"'):
        parse_config('[venues.a]\nexchange = "binance"\nmode = "fed"\nsymbols = ["BTC/USDT"]\n')


async def test_trading_through_trade_on_goes_straight_to_the_venue(
    still_emulator, nats_server, emulator_venue, tmp_path
):
    emu = await still_emulator("binance")
    collector = Collector([emulator_venue(emu)], nats_server.url, depth=20, trades_interval_s=None,
                          tickers_interval_s=None, reconnect_wait_s=0.1)  # fmt: skip
    await collector.start()
    ws_root = "/".join(emu.ws_url.split("/", 3)[:3])
    text = f"""
[venues.binance]
mode = "feed"
feed = "{nats_server.url}"
trade_on = "binance-keys"

[venues.binance-keys]
exchange = "binance"
mode = "live"
symbols = ["BTC/USDT", "ETH/USDT"]
api_url = "{emu.url}"
ws_url = "{ws_root}"
"""
    config = parse_config(text, tmp_path / "desk.toml")
    venues = build_venues(config, credentials={"binance-keys": Credentials(api_key=emu.api_key, secret=emu.secret)})
    assert [v.name for v in venues] == ["binance"]  # the trading venue runs inside the feed venue
    (venue,) = venues
    assert isinstance(venue, FeedVenue) and isinstance(venue.trade_on, CcxtVenue)
    assert venue.mode is Mode.LIVE and not venue.read_only
    service = MarketService(venues, health_interval_s=3600, account_interval_s=3600)
    try:
        await service.start()
        await wait_until(lambda: service.book("binance", "BTC/USDT") is not None)
        await wait_until(lambda: bool(service.balances("binance")))
        assert service.balances("binance")["USDT"].free == Decimal("100000")  # the binance emulator funds 100,000 USDT
        best_bid = service.book("binance", "BTC/USDT").best_bid
        price = best_bid - 100
        order = await service.place_order(
            OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), price)
        )
        assert order.venue == "binance" and order.status is OrderStatus.OPEN
        (resting,) = emu.engine.open_orders("emulator")
        assert (resting.price, resting.amount) == (price, Decimal("0.001"))
        cancelled = await service.cancel_order(order)
        assert cancelled.status is OrderStatus.CANCELED and emu.engine.open_orders("emulator") == []
        # The trading venue opened no book stream of its own: books come from the bus only.
        assert venue.trade_on._ws is None
    finally:
        await service.stop()
        await collector.stop()
