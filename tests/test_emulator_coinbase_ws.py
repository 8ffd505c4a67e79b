"""Coinbase Advanced Trade websocket of the emulator, through the real ccxt.pro coinbase client
(4.5.90: ``level2`` snapshot + updates, ``user`` signed with HMAC over timestamp + channel +
product ids) and through the product's CcxtVenue. Everything runs on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import aiohttp
import ccxt.pro as ccxtpro
import pytest

from aitbc_tui.domain import OrderType, Side
from aitbc_tui.emulator.coinbase_ws import AUTH_FAILURES
from tests.emulator_helpers import ccxt_client, emulator_factory, loopback_only, wait_for  # noqa: F401
from tests.emulator_ws_helpers import SYMBOL, TIMEOUT_S, matches_engine, poke, product_venue, survives, until


@pytest.fixture
async def emu(emulator_factory, loopback_only):  # noqa: F811
    return await emulator_factory("coinbase", seed=3, simulate=False)


def has_order(order_id: str, status: str | None = None):
    return lambda orders: any(o["id"] == order_id and (status is None or o["status"] == status) for o in orders)


async def test_level2_snapshot_and_updates_follow_the_engine(emu):
    async with ccxt_client(emu, pro=True) as ex:
        book = await until(lambda: ex.watch_order_book(SYMBOL), lambda b: len(b["bids"]) > 10)
        assert matches_engine(book, emu, depth=1000)  # the snapshot is the whole book
        for n in range(3):
            poke(emu, n)
            await until(lambda: ex.watch_order_book(SYMBOL), lambda b: matches_engine(b, emu, depth=1000))


async def test_level2_frames_are_numbered_per_connection(emu):
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.ws_url) as ws:
        await ws.send_json({"type": "subscribe", "product_ids": ["BTC-USDT"], "channel": "level2"})
        frames: list[dict] = []
        for wanted in (1, 2):
            while len([f for f in frames if f["channel"] == "l2_data"]) < wanted:
                frames.append(json.loads((await ws.receive(timeout=TIMEOUT_S)).data))
            poke(emu, wanted)  # after the snapshot: the next frame is an update
        assert [f["sequence_num"] for f in frames] == list(range(len(frames)))
        l2 = [f["events"][0] for f in frames if f["channel"] == "l2_data"]
        assert [e["type"] for e in l2] == ["snapshot", "update"]
        assert {u["side"] for u in l2[0]["updates"]} == {"bid", "offer"}


async def test_user_channel_delivers_an_order_placed_by_rest(emu):
    async with ccxt_client(emu, pro=True) as ex:
        await ex.load_markets()
        bid = emu.engine.book(SYMBOL, 1).best_bid
        first = await until(ex.watch_orders, lambda orders: True)  # the (empty) snapshot: subscribed
        assert list(first) == []
        order = await ex.create_order(SYMBOL, "limit", "buy", 0.001, float(bid - 50), {"client_order_id": "ws-c-1"})
        orders = await until(ex.watch_orders, has_order(order["id"], "open"))
        mine = [o for o in orders if o["id"] == order["id"]][-1]
        assert (mine["symbol"], mine["side"], mine["clientOrderId"], mine["remaining"]) == (
            SYMBOL,
            "buy",
            "ws-c-1",
            0.001,
        )
        await ex.cancel_order(order["id"], SYMBOL)
        await until(ex.watch_orders, has_order(order["id"], "canceled"))


async def test_bad_signature_is_refused_like_coinbase(emu):
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.ws_url) as ws:
        stamp = str(int(time.time()))
        await ws.send_json({"type": "subscribe", "product_ids": [], "channel": "user", "api_key": emu.api_key,
                            "timestamp": stamp, "signature": "00" * 32})  # fmt: skip
        answer = json.loads((await ws.receive(timeout=TIMEOUT_S)).data)
        assert answer == {"type": "error", "message": "authentication failure"}
    # the real client with a wrong secret: refused, and no order update ever reaches it
    async with ccxt_client(emu, pro=True) as ex:
        await ex.load_markets()  # signed REST: with the right secret
        ex.secret = "wrong-" + emu.secret
        watch = asyncio.ensure_future(ex.watch_orders())
        await wait_for(lambda: emu.ctx.state.get(AUTH_FAILURES, 0) == 2, TIMEOUT_S)
        emu.engine.place(emu.ctx.account, SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.001"),
                         emu.engine.book(SYMBOL, 1).best_bid - 30, "unseen")  # fmt: skip
        assert not ex.orders and not watch.done()  # ccxt raises the error inside its receive loop: no data
        watch.cancel()


async def test_ccxt_ws_close_and_reconnect_raise_and_the_next_watch_resubscribes(emu):
    async with ccxt_client(emu, pro=True) as ex:
        await until(lambda: ex.watch_order_book(SYMBOL), lambda b: matches_engine(b, emu, depth=1000))
        for n, kind in enumerate(("ws_close_1006", "ws_reconnect")):
            emu.set_fault(kind, "level2")
            poke(emu, n)
            with pytest.raises(ccxtpro.NetworkError, match="1006" if kind == "ws_close_1006" else "1000"):
                await until(lambda: ex.watch_order_book(SYMBOL), lambda b: False)
            await until(lambda: ex.watch_order_book(SYMBOL), lambda b: matches_engine(b, emu, depth=1000))


# ---- through the product -----------------------------------------------------------------


async def test_product_venue_books_come_by_websocket(emu):
    async with product_venue(emu) as venue:
        assert venue.uses_websocket
        book = await until(lambda: venue.watch_order_book(SYMBOL, 10), lambda b: venue.last_feed_event == "websocket")
        assert matches_engine(book, emu)


async def test_product_venue_order_updates_by_websocket(emu):
    async with product_venue(emu) as venue:
        await venue.load_markets()
        bid = emu.engine.book(SYMBOL, 1).best_bid
        await until(venue.watch_order_updates, lambda u: True)  # the snapshot: subscribed
        emu.engine.place(emu.ctx.account, SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.002"), bid - 40, "ws-venue-1")
        [order_id] = [o.id for o in emu.engine.open_orders(emu.ctx.account) if o.client_order_id == "ws-venue-1"]
        got = await until(venue.watch_order_updates, lambda u: any(o.id == order_id for o, _ in u))
        [order] = [o for o, _ in got if o.id == order_id][-1:]
        assert order.symbol == SYMBOL and order.client_order_id == "ws-venue-1" and order.price == bid - 40


@pytest.mark.parametrize("kind", ["ws_malformed", "ws_stall", "ws_close_1006", "ws_reconnect"])
async def test_product_venue_survives_each_ws_fault(emu, kind):
    async with product_venue(emu, stale_after_s=1.5) as venue:
        await survives(emu, venue, kind, "level2")
