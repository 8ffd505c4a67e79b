"""Kraken WebSocket v2 of the emulator, through the real ccxt.pro kraken client (4.5.90: v2
``book`` on publicV2, ``executions`` on privateV2 with a GetWebSocketsToken token) and through
the product's CcxtVenue. Everything runs on 127.0.0.1.

ccxt.pro kraken ships its checksum check switched off (``options.watchOrderBook.checksum``
False) and, switched on, its Python port fails on its own float levels; so the checksum is
verified here with Kraken's documented algorithm over the frames as sent, independently of ccxt.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from decimal import Decimal

import aiohttp
import ccxt.pro as ccxtpro
import pytest

from aitbc_tui.domain import OrderType, Side
from tests.emulator_helpers import ccxt_client, emulator_factory, loopback_only  # noqa: F401
from tests.emulator_ws_helpers import SYMBOL, TIMEOUT_S, matches_engine, poke, product_venue, survives, until


@pytest.fixture
async def emu(emulator_factory, loopback_only):  # noqa: F811
    return await emulator_factory("kraken", seed=3, simulate=False)


def kraken_client(emu, **config):
    return ccxt_client(emu, pro=True, **config)


def kraken_digits(text: str) -> str:
    """Kraken's formatting of one price or qty: the point removed, then leading zeros."""
    return text.replace(".", "").lstrip("0")


def kraken_checksum(bids: dict, asks: dict) -> int:
    """Written from Kraken's guide (book checksum v2), not from the emulator's code."""
    text = "".join(kraken_digits(str(p)) + kraken_digits(str(q)) for p, q in sorted(asks.items())[:10])
    text += "".join(kraken_digits(str(p)) + kraken_digits(str(q)) for p, q in sorted(bids.items(), reverse=True)[:10])
    return zlib.crc32(text.encode()) & 0xFFFFFFFF


def test_digits_as_krakens_guide_formats_them():
    assert kraken_digits("45285.2") == "452852"
    assert kraken_digits("0.00100000") == "100000"
    assert kraken_digits("0.05000") + kraken_digits("0.00000304") == "5000304"


class RawBook:
    """A plain websocket client keeping the book as Kraken's guide says (Decimal parsing)."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.depth = 10

    def apply(self, entry: dict) -> bool:
        """Apply one book frame; True when its checksum matches the book."""
        for name, side in (("bids", self.bids), ("asks", self.asks)):
            for level in entry[name]:
                if level["qty"] == 0:
                    side.pop(level["price"], None)
                else:
                    side[level["price"]] = level["qty"]
        for side, reverse in ((self.bids, True), (self.asks, False)):
            for price in sorted(side, reverse=reverse)[self.depth :]:
                del side[price]
        return kraken_checksum(self.bids, self.asks) == entry["checksum"]


async def raw_frames(ws, channel: str, count: int):
    frames = []
    while len(frames) < count:
        msg = await ws.receive(timeout=TIMEOUT_S)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data, parse_float=Decimal)
        if frame.get("channel") == channel and "data" in frame:
            frames.append(frame)
    return frames


async def test_book_snapshot_and_updates_follow_the_engine(emu):
    async with kraken_client(emu) as ex:
        book = await until(lambda: ex.watch_order_book(SYMBOL), lambda b: len(b["bids"]) == 10)
        assert matches_engine(book, emu)
        for n in range(3):
            poke(emu, n)
            await until(lambda: ex.watch_order_book(SYMBOL), lambda b: matches_engine(b, emu))
        assert ex.urls["api"]["ws"]["publicV2"].endswith("/v2")


async def test_every_frame_carries_krakens_checksum(emu):
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.ws_url) as ws:
        await ws.send_json({"method": "subscribe", "params": {"channel": "book", "symbol": [SYMBOL]}, "req_id": 7})
        [snapshot] = await raw_frames(ws, "book", 1)
        assert snapshot["type"] == "snapshot"
        raw = RawBook()
        assert raw.apply(snapshot["data"][0])
        # the digits on the wire are the pair's decimals (pair_decimals 1, lot_decimals 8)
        level = snapshot["data"][0]["bids"][0]
        assert level["price"].as_tuple().exponent == -1 and level["qty"].as_tuple().exponent == -8
        for n in range(3):
            poke(emu, n)
            [update] = await raw_frames(ws, "book", 1)
            assert update["type"] == "update" and raw.apply(update["data"][0])
        engine = emu.engine.book(SYMBOL, 10)
        assert sorted(raw.bids.items(), reverse=True) == list(engine.bids)


async def test_book_checksum_fault_sends_a_wrong_checksum_and_ccxt_keeps_a_right_book(emu):
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.ws_url) as ws:
        await ws.send_json({"method": "subscribe", "params": {"channel": "book", "symbol": [SYMBOL]}})
        [snapshot] = await raw_frames(ws, "book", 1)
        raw = RawBook()
        assert raw.apply(snapshot["data"][0])
        emu.set_fault("book_checksum", "book")
        poke(emu, 1)
        [bad] = await raw_frames(ws, "book", 1)
        assert not raw.apply(bad["data"][0])  # a client that checks must resync here
        poke(emu, 2)
        [good] = await raw_frames(ws, "book", 1)
        assert raw.apply(good["data"][0])
    # ccxt 4.5.90 does not check (its option is off): the frame's data is true, so its book is too
    async with kraken_client(emu) as ex:
        await until(lambda: ex.watch_order_book(SYMBOL), lambda b: matches_engine(b, emu))
        rule = emu.set_fault("book_checksum", SYMBOL)
        poke(emu, 3)
        await until(lambda: ex.watch_order_book(SYMBOL), lambda b: rule.hits == 1 and matches_engine(b, emu))


async def test_order_placed_by_rest_arrives_on_executions(emu):
    async with kraken_client(emu) as ex:
        ex.has["fetchCurrencies"] = False
        await ex.load_markets()
        bid = emu.engine.book(SYMBOL, 1).best_bid
        watching = asyncio.ensure_future(
            ex.watch_orders()
        )  # subscribes (token from GetWebSocketsToken) before the order
        order = await ex.create_order(SYMBOL, "limit", "buy", 0.001, float(bid - 50), {"clientOrderId": "ws-k-1"})
        first = await asyncio.wait_for(watching, TIMEOUT_S)
        orders = (
            first
            if any(o["id"] == order["id"] for o in first)
            else await until(ex.watch_orders, lambda os: any(o["id"] == order["id"] for o in os))
        )
        mine = [o for o in orders if o["id"] == order["id"]][-1]
        assert (mine["status"], mine["symbol"], mine["side"], mine["amount"]) == ("open", SYMBOL, "buy", 0.001)
        await ex.cancel_order(order["id"], SYMBOL)
        await until(ex.watch_orders, lambda os: any(o["id"] == order["id"] and o["status"] == "canceled" for o in os))
        # a fill arrives as a trade execution (ccxt: watch_my_trades)
        ask = emu.engine.book(SYMBOL, 1).best_ask
        trades_watch = asyncio.ensure_future(ex.watch_my_trades())
        taker = await ex.create_order(SYMBOL, "limit", "buy", 0.001, float(ask))
        trades = await asyncio.wait_for(trades_watch, TIMEOUT_S)
        assert any(t["order"] == taker["id"] and t["takerOrMaker"] == "taker" for t in trades)


async def test_bad_credentials_and_a_forged_token_are_refused(emu):
    async with kraken_client(emu, secret="AAAA" + emu.secret[4:]) as ex:
        ex.has["fetchCurrencies"] = False
        with pytest.raises(ccxtpro.AuthenticationError):  # GetWebSocketsToken refuses the signature
            await until(ex.watch_orders, lambda _: True)
    private = emu.ws_url.removesuffix("/v2") + "/auth/v2"
    async with aiohttp.ClientSession() as session, session.ws_connect(private) as ws:
        await ws.send_json({"method": "subscribe", "params": {"channel": "executions", "token": "forged"}, "req_id": 1})
        while True:
            answer = json.loads((await ws.receive(timeout=TIMEOUT_S)).data)
            if answer.get("method") == "subscribe":
                break
        assert answer["success"] is False and answer["error"] == "ESession:Invalid session" and answer["req_id"] == 1
    assert not any(emu.engine.open_orders(emu.ctx.account))


async def test_ccxt_ws_close_and_reconnect_raise_and_the_next_watch_resubscribes(emu):
    async with kraken_client(emu) as ex:
        await until(lambda: ex.watch_order_book(SYMBOL), lambda b: matches_engine(b, emu))
        for n, kind in enumerate(("ws_close_1006", "ws_reconnect")):
            emu.set_fault(kind, "book")
            poke(emu, n)
            with pytest.raises(ccxtpro.NetworkError, match="1006" if kind == "ws_close_1006" else "1000"):
                await until(lambda: ex.watch_order_book(SYMBOL), lambda b: False)
            await until(lambda: ex.watch_order_book(SYMBOL), lambda b: matches_engine(b, emu))


# ---- through the product -----------------------------------------------------------------


async def test_product_venue_books_come_by_websocket(emu):
    async with product_venue(emu) as venue:
        assert venue.uses_websocket
        book = await until(lambda: venue.watch_order_book(SYMBOL, 10), lambda b: venue.last_feed_event == "websocket")
        assert matches_engine(book, emu)
        assert venue._ws.urls["api"]["ws"]["privateV2"] == emu.ws_url.removesuffix("/v2") + "/auth/v2"


async def test_product_venue_order_updates_by_websocket(emu):
    async with product_venue(emu) as venue:
        await venue.load_markets()
        bid = emu.engine.book(SYMBOL, 1).best_bid
        updates = asyncio.ensure_future(venue.watch_order_updates())
        emu.engine.place(emu.ctx.account, SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.002"), bid - 40, "ws-venue-1")
        [order_id] = [o.id for o in emu.engine.open_orders(emu.ctx.account) if o.client_order_id == "ws-venue-1"]
        got = await asyncio.wait_for(updates, TIMEOUT_S)
        if not any(o.id == order_id for o, _ in got):
            got = await until(venue.watch_order_updates, lambda u: any(o.id == order_id for o, _ in u))
        [order] = [o for o, _ in got if o.id == order_id]
        assert order.symbol == SYMBOL and order.amount == Decimal("0.002") and order.price == bid - 40


@pytest.mark.parametrize("kind", ["ws_malformed", "ws_stall", "ws_close_1006", "ws_reconnect"])
async def test_product_venue_survives_each_ws_fault(emu, kind):
    async with product_venue(emu, stale_after_s=1.5) as venue:
        await survives(emu, venue, kind, "book")
