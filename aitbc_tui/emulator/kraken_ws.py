"""Kraken spot WebSocket v2, as ccxt.pro ``kraken`` 4.5.90 speaks it.

ccxt.pro kraken uses v2 only: ``watch_order_book`` subscribes the ``book`` channel on
``urls['api']['ws']['publicV2']`` (wss://ws.kraken.com/v2), ``watch_orders`` /
``watch_my_trades`` the ``executions`` channel on ``privateV2`` (wss://ws-auth.kraken.com/v2)
with the token of REST ``GetWebSocketsToken``. Here the public endpoint is ``/v2`` and the
private one ``/auth/v2``; both serve both channels (the token is what makes a subscription
private).

``book``: ``{"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USDT"],
"depth": 10}}`` (depth 10, 25, 100, 500 or 1000), answered per symbol, then a ``snapshot`` of
the top ``depth`` levels and ``update`` frames with the levels that changed (size 0: gone).
Prices and quantities are JSON numbers with the pair's decimals (``pair_decimals``,
``lot_decimals``), and every frame carries Kraken's CRC32 over the top 10 levels: asks low to
high then bids high to low, each price and quantity with the point and leading zeros removed.

``executions``: a ``snapshot`` of open orders (``snap_orders``, default true), then per engine
event ``new`` (the order rests), ``trade`` (one per fill; ccxt routes these to myTrades), and
``filled`` / ``canceled`` / ``expired`` when it ends. A bad or expired token is answered
``ESession:Invalid session`` (success false).

``{"method": "ping"}`` is answered ``pong`` even while a ``ws_stall`` holds the data back.
Fault keys: the channel (``book``, ``executions``), the symbol (``BTC/USDT``), the pair id
(``XBTUSDT``) and the path (``/v2``, ``/auth/v2``).
"""

from __future__ import annotations

import json
import secrets
import zlib
from decimal import Decimal
from typing import Any

from aiohttp import web

from aitbc_tui.domain import Market, Order, OrderStatus, OrderType, TimeInForce
from aitbc_tui.emulator.kraken import _trade_number, decimals_of, fmt, pair_id, trade_txid, wsname
from aitbc_tui.emulator.server import EmulatorContext
from aitbc_tui.emulator.wsutil import (
    FaultySocket,
    Levels,
    dumps_numbers,
    iso_z,
    order_events,
    pump_book,
    serve_websocket,
)

PUBLIC_PATH = "/v2"
PRIVATE_PATH = "/auth/v2"
BOOK_DEPTHS = (10, 25, 100, 500, 1000)
BOOK_INTERVAL_S = 0.1
CHECKSUM_LEVELS = 10
TOKEN_STATE = "kraken.ws_tokens"
TOKEN_TTL_S = 900  # what GetWebSocketsToken promises: use it within 15 minutes
API_VERSION = "v2"


def issue_token(ctx: EmulatorContext, account: str) -> dict:
    """REST GetWebSocketsToken: a token the private websocket accepts for 15 minutes."""
    token = secrets.token_urlsafe(32)
    ctx.state.setdefault(TOKEN_STATE, {})[token] = (account, ctx.now() + TOKEN_TTL_S)
    return {"token": token, "expires": TOKEN_TTL_S}


def token_account(ctx: EmulatorContext, token: Any) -> str | None:
    entry = ctx.state.get(TOKEN_STATE, {}).get(token) if isinstance(token, str) else None
    if entry is None or entry[1] < ctx.now():
        return None
    return entry[0]


def _digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def book_checksum(bids: Levels, asks: Levels, price_places: int, qty_places: int) -> int:
    """Kraken's CRC32 of the top 10 levels (asks low to high, then bids high to low)."""
    text = "".join(
        _digits(fmt(price, price_places)) + _digits(fmt(qty, qty_places))
        for side in (sorted(asks)[:CHECKSUM_LEVELS], sorted(bids, reverse=True)[:CHECKSUM_LEVELS])
        for price, qty in side
    )
    return zlib.crc32(text.encode()) & 0xFFFFFFFF


class KrakenSocket(FaultySocket):
    def __init__(self, ctx: EmulatorContext, ws: web.WebSocketResponse, transport: Any, path: str) -> None:
        super().__init__(ctx, ws, transport)
        self.path = path
        self.sequence = 0  # executions frames
        self.known_orders: set[str] = set()

    # -- framing --------------------------------------------------------------------------
    def _answer(self, method: str, req_id: Any, started: str, result: dict | None = None, error: str = "") -> str:
        body: dict[str, Any] = {"method": method}
        if error:
            body.update(error=error, success=False)
        else:
            if result is not None:
                body["result"] = result
            body["success"] = True
        body.update(time_in=started, time_out=iso_z(self.ctx.now()))
        if req_id is not None:
            body["req_id"] = req_id
        return json.dumps(body)

    async def opened(self) -> bool:
        status = {"channel": "status", "type": "update", "data": [{
            "version": "2.0.10", "system": "online", "api_version": API_VERSION,
            "connection_id": secrets.randbits(63)}]}  # fmt: skip
        await self.send_reply(json.dumps(status))
        return True

    async def on_text(self, text: str) -> None:
        started = iso_z(self.ctx.now())
        try:
            message = json.loads(text)
            method = message["method"]
            req_id = message.get("req_id")
            params = message.get("params") or {}
            if not isinstance(params, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            await self.send_reply(json.dumps({"error": "Malformed request", "success": False, "time_in": started,
                                              "time_out": iso_z(self.ctx.now())}))  # fmt: skip
            return
        if method == "ping":
            await self.send_reply(self._answer("pong", req_id, started))
        elif method == "subscribe" and params.get("channel") == "book":
            await self._subscribe_book(params, req_id, started)
        elif method == "subscribe" and params.get("channel") == "executions":
            await self._subscribe_executions(params, req_id, started)
        elif method == "unsubscribe":
            channel = str(params.get("channel", ""))
            for name in [n for n in self.tasks if n == channel or n.startswith(channel + ":")]:
                self.cancel(name)
            await self.send_reply(self._answer("unsubscribe", req_id, started, {"channel": channel}))
        elif method == "subscribe":
            await self.send_reply(self._answer(method, req_id, started, error="Subscription name invalid"))
        else:
            await self.send_reply(self._answer(str(method), req_id, started, error="Event(s) not found"))

    # -- book -----------------------------------------------------------------------------
    def _market(self, name: Any) -> Market | None:
        markets = self.ctx.engine.markets
        if name in markets:
            return markets[name]
        return next((m for m in markets.values() if wsname(m) == name), None)

    async def _subscribe_book(self, params: dict, req_id: Any, started: str) -> None:
        depth = params.get("depth", 10)
        if depth not in BOOK_DEPTHS:
            await self.send_reply(self._answer("subscribe", req_id, started, error="Subscription depth not supported"))
            return
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            await self.send_reply(self._answer("subscribe", req_id, started, error="Pair field must be an array"))
            return
        for name in symbols:
            market = self._market(name)
            if market is None:
                await self.send_reply(
                    self._answer("subscribe", req_id, started, error=f"Currency pair not supported {name}")
                )
                continue
            result = {"channel": "book", "depth": depth, "snapshot": True, "symbol": name}
            await self.send_reply(self._answer("subscribe", req_id, started, result))
            self.spawn(f"book:{name}", self._book(market, str(name), int(depth)))

    async def _book(self, market: Market, name: str, depth: int) -> None:
        price_places, qty_places = decimals_of(market.tick_size), decimals_of(market.lot_size)
        keys = ("book", name, market.symbol, pair_id(market), self.path)

        def levels(side: Levels) -> list[dict]:
            return [{"price": Decimal(fmt(p, price_places)), "qty": Decimal(fmt(q, qty_places))} for p, q in side]

        async def send(kind: str, bids: Levels, asks: Levels, mirror: Any) -> None:
            top_bids, top_asks = mirror.top(depth)
            checksum = book_checksum(top_bids, top_asks, price_places, qty_places)
            if self.ctx.faults.take("book_checksum", *keys) is not None:
                checksum ^= 0x5A5A5A5A  # the frame's data is the book's, its checksum is not
            entry: dict[str, Any] = {"symbol": name, "bids": levels(bids), "asks": levels(asks), "checksum": checksum}
            if kind == "update":
                entry["timestamp"] = iso_z(self.ctx.now())
            await self.send_text(dumps_numbers({"channel": "book", "type": kind, "data": [entry]}), keys)

        async def snapshot(bids: Levels, asks: Levels, mirror: Any) -> None:
            await send("snapshot", bids, asks, mirror)

        async def update(bids: Levels, asks: Levels, mirror: Any) -> None:
            await send("update", bids, asks, mirror)

        await pump_book(self.ctx, market.symbol, depth, BOOK_INTERVAL_S, snapshot, update, gap_keys=keys)

    # -- executions -----------------------------------------------------------------------
    async def _subscribe_executions(self, params: dict, req_id: Any, started: str) -> None:
        account = token_account(self.ctx, params.get("token"))
        if account is None:
            await self.send_reply(self._answer("subscribe", req_id, started, error="ESession:Invalid session"))
            return
        snap_orders = params.get("snap_orders", True) is not False
        result = {"channel": "executions", "maxratecount": 180, "snapshot": snap_orders}
        await self.send_reply(self._answer("subscribe", req_id, started, result))
        queue, unsubscribe = order_events(self.ctx, account)  # before the snapshot: nothing falls between
        if snap_orders:
            opened = self.ctx.engine.open_orders(account)
            self.known_orders.update(o.id for o in opened)
            await self._send_executions("snapshot", [self._order_entry(o, "new") for o in opened])

        async def pump() -> None:
            try:
                while True:
                    event = await queue.get()
                    for kind, entries in self._entries_for(event.order, event.fills):
                        await self._send_executions(kind, entries)
            finally:
                unsubscribe()

        self.spawn("executions", pump())

    async def _send_executions(self, kind: str, entries: list[dict]) -> None:
        self.sequence += 1
        frame = {"channel": "executions", "type": kind, "data": entries, "sequence": self.sequence}
        await self.send_text(dumps_numbers(frame), ("executions", self.path))

    def _entries_for(self, order: Order, fills: tuple) -> list[tuple[str, list[dict]]]:
        frames: list[tuple[str, list[dict]]] = []
        if order.id not in self.known_orders:
            self.known_orders.add(order.id)
            frames.append(("update", [self._order_entry(order, "new", status="new")]))
        if fills:
            frames.append(("update", [self._trade_entry(order, fill) for fill in fills]))
        if order.status is OrderStatus.FILLED:
            frames.append(("update", [self._final_entry(order, "filled")]))
        elif order.status in (OrderStatus.CANCELED, OrderStatus.REJECTED):
            ended_by_tif = order.type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC
            frames.append(("update", [self._final_entry(order, "expired" if ended_by_tif else "canceled")]))
        return frames

    def _places(self, order: Order) -> tuple[int, int]:
        market = self.ctx.engine.markets[order.symbol]
        return decimals_of(market.tick_size), decimals_of(market.lot_size)

    def _order_entry(self, order: Order, exec_type: str, status: str | None = None) -> dict:
        price_places, qty_places = self._places(order)
        average = order.average_price or Decimal(0)
        entry: dict[str, Any] = {
            "order_id": order.id,
            "symbol": order.symbol,
            "order_qty": _num(order.amount, qty_places),
            "cum_qty": _num(order.filled, qty_places),
            "cum_cost": _num(order.filled * average, price_places + 2),
            "time_in_force": order.time_in_force.value.upper() if order.type is OrderType.LIMIT else "IOC",
            "exec_type": exec_type,
            "side": order.side.value,
            "order_type": order.type.value,
            "order_userref": 0,
            "limit_price_type": "static",
            "limit_price": _num(order.price or Decimal(0), price_places),
            "stop_price": Decimal("0.0"),
            "order_status": status or ("partially_filled" if order.filled else "new"),
            "fee_usd_equiv": order.fee,
            "fee_ccy_pref": "fciq",
            "timestamp": iso_z(order.created_at),
        }
        if order.post_only:
            entry["post_only"] = True
        if order.client_order_id:
            entry["cl_ord_id"] = order.client_order_id
        return entry

    def _trade_entry(self, order: Order, fill: Any) -> dict:
        price_places, qty_places = self._places(order)
        entry: dict[str, Any] = {
            "order_id": order.id,
            "exec_id": trade_txid(fill),
            "exec_type": "trade",
            "trade_id": _trade_number(fill),
            "symbol": order.symbol,
            "side": order.side.value,
            "last_qty": _num(fill.amount, qty_places),
            "last_price": _num(fill.price, price_places),
            "liquidity_ind": "m" if fill.is_maker else "t",
            "cost": _num(fill.amount * fill.price, price_places + 2),
            "order_userref": 0,
            "order_status": "filled" if order.status is OrderStatus.FILLED else "partially_filled",
            "order_type": order.type.value,
            "fee_usd_equiv": fill.fee,
            "fees": [{"asset": fill.fee_currency, "qty": fill.fee}],
            "timestamp": iso_z(fill.timestamp),
        }
        if order.client_order_id:
            entry["cl_ord_id"] = order.client_order_id
        return entry

    def _final_entry(self, order: Order, status: str) -> dict:
        price_places, qty_places = self._places(order)
        average = order.average_price or Decimal(0)
        entry: dict[str, Any] = {
            "timestamp": iso_z(order.updated_at),
            "order_status": status,
            "exec_type": status,
            "order_userref": 0,
            "order_id": order.id,
            "cum_qty": _num(order.filled, qty_places),
            "cum_cost": _num(order.filled * average, price_places + 2),
            "fee_usd_equiv": order.fee,
            "avg_price": _num(average, price_places),
        }
        if status == "canceled":
            entry["cancel_reason"] = entry["reason"] = (
                "Post only order" if order.message == "Post only order" else "User requested"
            )
        if order.client_order_id:
            entry["cl_ord_id"] = order.client_order_id
        return entry


def _num(value: Decimal, places: int) -> Decimal:
    return Decimal(fmt(value, places))


def routes(ctx: EmulatorContext) -> list[web.RouteDef]:
    async def public(request: web.Request) -> web.WebSocketResponse:
        return await serve_websocket(request, lambda c, ws, t: KrakenSocket(c, ws, t, PUBLIC_PATH))

    async def private(request: web.Request) -> web.WebSocketResponse:
        return await serve_websocket(request, lambda c, ws, t: KrakenSocket(c, ws, t, PRIVATE_PATH))

    return [web.get(PUBLIC_PATH, public), web.get(PRIVATE_PATH, private)]
