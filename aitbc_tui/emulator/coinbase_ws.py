"""Coinbase Advanced Trade websocket, as ccxt.pro ``coinbase`` 4.5.90 speaks it.

One endpoint (``urls['api']['ws']``, wss://advanced-trade-ws.coinbase.com; here ``/``).
``{"type": "subscribe", "channel": "level2", "product_ids": ["BTC-USDT"]}`` is answered with a
``subscriptions`` frame, then ``l2_data`` events: a ``snapshot`` of the whole book, then
``update`` events with the levels that changed (``new_quantity`` "0": gone). Every frame of a
connection carries the next ``sequence_num``.

``user`` (order updates) is private. ccxt signs a legacy key with HMAC: ``api_key``,
``timestamp`` (seconds, within 30 s) and ``signature`` = hex HMAC-SHA256(secret, timestamp +
channel + comma-joined product ids); a cloud key (``organizations/...`` or a PEM secret) sends a
``jwt`` instead, checked like the REST one. Bad auth is answered
``{"type": "error", "message": "authentication failure"}`` and nothing is subscribed. The
channel sends a ``snapshot`` of open orders, then one ``update`` per engine order event.

Fault keys: the channel (``level2``, ``user``), the product id (``BTC-USDT``) and ``/``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from aitbc_tui.domain import Market, Order, OrderStatus, OrderType, Side, TimeInForce
from aitbc_tui.emulator.coinbase import TIMESTAMP_TOLERANCE_S, CoinbaseError, CoinbaseProtocol, _iso, _s, product_id
from aitbc_tui.emulator.server import EmulatorContext
from aitbc_tui.emulator.wsutil import FaultySocket, Levels, iso_z, order_events, pump_book, serve_websocket

PATH = "/"
BOOK_DEPTH = 1000  # level2 sends the whole book; the sim's books are far smaller
BOOK_INTERVAL_S = 0.1
PRIVATE_CHANNELS = ("user", "futures_balance_summary")
PUBLIC_CHANNELS = ("level2", "heartbeats")
AUTH_FAILURES = "coinbase.ws_auth_failures"  # ctx.state counter, for tests and diagnostics


class CoinbaseSocket(FaultySocket):
    def __init__(self, ctx: EmulatorContext, ws: web.WebSocketResponse, transport: Any, rest: CoinbaseProtocol) -> None:
        super().__init__(ctx, ws, transport)
        self.rest = rest
        self.sequence_num = 0

    def _frame(self, channel: str, events: list[dict]) -> str:
        frame = {"channel": channel, "client_id": "", "timestamp": iso_z(self.ctx.now()),
                 "sequence_num": self.sequence_num, "events": events}  # fmt: skip
        self.sequence_num += 1
        return json.dumps(frame)

    async def _error(self, message: str) -> None:
        await self.send_reply(json.dumps({"type": "error", "message": message}))

    async def on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
            kind = message["type"]
            channel = message["channel"]
            products = message.get("product_ids") or []
            if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            await self._error("failure to parse subscription")
            return
        if channel not in PUBLIC_CHANNELS + PRIVATE_CHANNELS:
            await self._error(f"channel {channel!r} is not a valid channel")
            return
        markets: list[Market] = []
        for pid in products:
            market = next((m for m in self.ctx.engine.markets.values() if product_id(m) == pid), None)
            if market is None:
                await self._error(f"product {pid!r} is not a valid product")
                return
            markets.append(market)
        account = None
        if channel in PRIVATE_CHANNELS:
            account = self._authenticate(message, channel, products)
            if account is None:
                state = self.ctx.state
                state[AUTH_FAILURES] = state.get(AUTH_FAILURES, 0) + 1
                await self._error("authentication failure")
                return
        if kind == "unsubscribe":
            for name in [n for n in self.tasks if n.split(":")[0] == channel]:
                if not products or name.split(":", 1)[1] in products:
                    self.cancel(name)
        elif kind == "subscribe":
            if channel == "level2":
                for market in markets:
                    self.spawn(f"level2:{product_id(market)}", self._level2(market))
            elif channel == "user":
                self._subscribe_user(account or "", products)
        else:
            await self._error(f"unknown message type {kind!r}")
            return
        subscribed: dict[str, list[str]] = {}
        for name in self.tasks:
            ch, _, pid = name.partition(":")
            subscribed.setdefault(ch, []).extend([pid] if pid else [])
        await self.send_reply(self._frame("subscriptions", [{"subscriptions": subscribed}]))

    def _authenticate(self, message: dict, channel: str, products: list[str]) -> str | None:
        token = message.get("jwt")
        if isinstance(token, str) and token:
            try:
                return self.rest.verify_jwt(token, self.ctx.now())[1]
            except CoinbaseError:
                return None
        api_key, stamp, signature = message.get("api_key"), message.get("timestamp"), message.get("signature")
        secret = self.ctx.secret_for(api_key if isinstance(api_key, str) else None)
        if secret is None or not isinstance(stamp, str) or not isinstance(signature, str):
            return None
        try:
            if abs(self.ctx.now() - int(stamp)) > TIMESTAMP_TOLERANCE_S:
                return None
        except ValueError:
            return None
        expected = hmac.new(
            secret.encode(), (stamp + channel + ",".join(products)).encode(), hashlib.sha256
        ).hexdigest()
        return self.ctx.authenticate(api_key) if hmac.compare_digest(expected, signature) else None

    # -- level2 ---------------------------------------------------------------------------
    async def _level2(self, market: Market) -> None:
        pid = product_id(market)
        keys = ("level2", "l2_data", pid, PATH)

        def updates(bids: Levels, asks: Levels) -> list[dict]:
            stamp = iso_z(self.ctx.now())
            return [{"side": side, "event_time": stamp, "price_level": _s(price), "new_quantity": _s(qty)}
                    for side, levels in (("bid", bids), ("offer", asks)) for price, qty in levels]  # fmt: skip

        async def snapshot(bids: Levels, asks: Levels, mirror: Any) -> None:
            event = {"type": "snapshot", "product_id": pid, "updates": updates(bids, asks)}
            await self.send_text(self._frame("l2_data", [event]), keys)

        async def update(bids: Levels, asks: Levels, mirror: Any) -> None:
            event = {"type": "update", "product_id": pid, "updates": updates(bids, asks)}
            await self.send_text(self._frame("l2_data", [event]), keys)

        await pump_book(self.ctx, market.symbol, BOOK_DEPTH, BOOK_INTERVAL_S, snapshot, update, gap_keys=keys)

    # -- user -----------------------------------------------------------------------------
    def _subscribe_user(self, account: str, products: list[str]) -> None:
        queue, unsubscribe = order_events(self.ctx, account)

        def wanted(order: Order) -> bool:
            return not products or product_id(self.ctx.engine.markets[order.symbol]) in products

        async def pump() -> None:
            try:
                opened = [self._order(o) for o in self.ctx.engine.open_orders(account) if wanted(o)]
                await self.send_text(self._frame("user", [{"type": "snapshot", "orders": opened}]), ("user", PATH))
                while True:
                    event = await queue.get()
                    if wanted(event.order):
                        frame = self._frame("user", [{"type": "update", "orders": [self._order(event.order)]}])
                        await self.send_text(
                            frame, ("user", product_id(self.ctx.engine.markets[event.order.symbol]), PATH)
                        )
            finally:
                unsubscribe()

        self.spawn("user:" + ",".join(products), pump())

    def _order(self, order: Order) -> dict:
        market = self.ctx.engine.markets[order.symbol]
        status = {OrderStatus.PENDING: "PENDING", OrderStatus.OPEN: "OPEN", OrderStatus.FILLED: "FILLED",
                  OrderStatus.CANCELED: "CANCELLED", OrderStatus.REJECTED: "FAILED",
                  OrderStatus.UNKNOWN: "PENDING"}[order.status]  # fmt: skip
        if order.status is OrderStatus.CANCELED and (
            order.type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC
        ):
            status = "EXPIRED"
        average = order.average_price or Decimal(0)
        return {
            "order_id": order.id,
            "client_order_id": order.client_order_id,
            "cumulative_quantity": _s(order.filled),
            "leaves_quantity": _s(Decimal(0) if order.status.is_final else order.remaining),
            "avg_price": _s(average),
            "total_fees": _s(order.fee),
            "status": status,
            "product_id": product_id(market),
            "creation_time": _iso(order.created_at),
            "order_side": "BUY" if order.side is Side.BUY else "SELL",
            "order_type": order.type.value.upper(),
            "limit_price": _s(order.price) if order.price is not None else "",
            "filled_value": _s(order.filled * average),
            "number_of_fills": "1" if order.filled else "0",
            "product_type": "SPOT",
        }


def routes(ctx: EmulatorContext, rest: CoinbaseProtocol) -> list[web.RouteDef]:
    async def serve(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response({"error": "NOT_FOUND", "message": "Not Found"}, status=404)
        return await serve_websocket(request, lambda c, ws, t: CoinbaseSocket(c, ws, t, rest))

    return [web.get(PATH, serve)]
