"""Binance spot protocol for the exchange emulator (REST /api/v3, /sapi/v1, websockets).

What ccxt 4.5.90 needs and gets:
- REST: ping, time, exchangeInfo (PRICE_FILTER, LOT_SIZE, NOTIONAL and MIN_NOTIONAL filters),
  depth (lastUpdateId = engine sequence), ticker/24hr, ticker/bookTicker, ticker/price,
  trades, aggTrades (one aggregate per engine trade), klines (1m..1d; taker-buy volumes "0"),
  sapi system/status, account, order POST/GET/DELETE (orderId or origClientOrderId),
  openOrders, allOrders, myTrades, userDataStream POST/PUT/DELETE (listenKey), and the wallet's
  capital/deposit/hisrec and capital/withdraw/history (signed; coin, startTime/endTime,
  offset, limit): the engine's ledger of the key's account (``engine.deposit``: a positive
  amount deposits, a negative one withdraws; the starting funds are deposits too), completed
  (deposit status 1, withdrawal status 6, no withdrawal fee).
- Signed requests: X-MBX-APIKEY, HMAC-SHA256 of the query string + body before ``signature``,
  timestamp within recvWindow (default 5000 ms, at most 1000 ms ahead).
- Errors use Binance's codes and messages, which ccxt maps to its exceptions:
  -1013 filter failure, -2010 insufficient balance / rejected, -2011 unknown order,
  -1022 bad signature, -1021 timestamp, -2014/-2015 bad API key, -1003 + HTTP 429 with
  Retry-After over the per-key weight budget.
- Websockets: the combined stream endpoint ``/stream`` (ccxt connects to ``/stream/<n>``)
  with SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS for ``<sym>@depth@100ms`` and
  ``<sym>@depth`` (diff events, U/u continuous with REST depth's lastUpdateId) and
  ``<sym>@bookTicker``, ``<sym>@trade`` / ``<sym>@aggTrade`` (each engine trade after the
  subscription) and ``<sym>@kline_<1m..1d>`` (the current candle on each change, the finished
  one with ``x`` true); the user data stream on ``/ws/<listenKey>`` or as a stream of ``/stream``,
  and the WebSocket API ``/ws-api/v3`` (``userDataStream.subscribe.signature``, which ccxt.pro
  uses for spot watch_orders / watch_balance) with executionReport and outboundAccountPosition.
- Orders: LIMIT with timeInForce GTC / IOC / FOK (an IOC or FOK remainder ends EXPIRED, as on
  Binance), LIMIT_MAKER (ccxt's postOnly; one that would cross is -2010 "Order would immediately
  match and take."), MARKET. myTrades serves the account's fills (integer trade ids, the same
  ``tradeId`` as in the order's FULL response and ``t`` of executionReport).
- Faults (server.py's table): ``reply_then_act`` answers -1007 (HTTP 503) at once and applies
  the order later; ``http_429`` / ``http_418`` answer -1003 with Retry-After; the websocket
  kinds ``ws_malformed``, ``ws_stall``, ``ws_close_1006`` and ``depth_gap`` (keyed by stream name
  or symbol id: ``inject_fault("depth_gap", "BTCUSDT")`` drops the next diff event of that symbol
  on every depth stream, so clients see a U/u gap).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from aitbc_tui.domain import (
    Balance,
    InsufficientFunds,
    Market,
    Order,
    OrderNotFound,
    OrderRejected,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from aitbc_tui.emulator.server import EmulatorContext, FaultRule, ctx_of, dumps, json_response, received_at
from aitbc_tui.emulator.wsutil import FaultySocket, serve_websocket

CCXT_ID = "binance"
WS_PATH = "/stream"
CCXT_OPTIONS = {
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
}

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
CLIENT_ORDER_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
QTY_PLACES = Decimal("0.00000001")
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)

# Request weights as Binance documents them (spot, 2024).
WEIGHTS = {
    "exchangeInfo": 20,
    "depth": 5,  # 1..100 levels; more below
    "ticker24hr": 2,
    "tickerAll": 80,
    "account": 20,
    "order": 1,
    "getOrder": 4,
    "openOrders": 6,
    "openOrdersAll": 80,
    "allOrders": 20,
    "myTrades": 20,
    "depositHistory": 1,
    "withdrawHistory": 1,  # Binance counts it in a UID budget (18,000), not the IP weight
}


def ccxt_urls(http_url: str, ws_url: str) -> dict:
    ws_root = ws_url[: -len(WS_PATH)] if ws_url.endswith(WS_PATH) else ws_url
    return {
        "public": f"{http_url}/api/v3",
        "private": f"{http_url}/api/v3",
        "v1": f"{http_url}/api/v1",
        "sapi": f"{http_url}/sapi/v1",
        "ws": {
            "spot": ws_url,  # must contain /stream for ccxt to resolve spot symbols
            "margin": ws_url,
            "ws-api": {"spot": f"{ws_root}/ws-api/v3"},
        },
    }


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}

    def response(self) -> web.Response:
        return json_response({"code": self.code, "msg": self.msg}, status=self.status, headers=self.headers)


def _mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


# ---- formatting ------------------------------------------------------------------------


def market_id(symbol: str) -> str:
    return symbol.replace("/", "")


def fmt_qty(value: Decimal | None) -> str:
    return format((value or Decimal(0)).quantize(QTY_PLACES), "f")


def fmt_price(value: Decimal | None) -> str:
    return fmt_qty(value)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


_STATUS = {
    OrderStatus.PENDING: "NEW",
    OrderStatus.OPEN: "NEW",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.UNKNOWN: "NEW",
}


def expired(order: Order) -> bool:
    """Canceled by the order type's rules, not by the user: Binance's EXPIRED (a market, IOC or
    FOK remainder; self-trade prevention is EXPIRED_IN_MATCH there, EXPIRED here)."""
    return order.status is OrderStatus.CANCELED and (
        order.type is OrderType.MARKET
        or order.time_in_force is not TimeInForce.GTC
        or order.message.startswith("expired")
    )


def order_status(order: Order) -> str:
    if order.status is OrderStatus.OPEN and order.filled > 0:
        return "PARTIALLY_FILLED"
    if expired(order):
        return "EXPIRED"
    return _STATUS[order.status]


def order_type_name(order: Order) -> str:
    if order.type is OrderType.LIMIT and order.post_only:
        return "LIMIT_MAKER"
    return order.type.value.upper()


def tif_name(order: Order) -> str:
    return order.time_in_force.value.upper() if order.type is OrderType.LIMIT else "GTC"


# ---- per-server state ------------------------------------------------------------------


class BinanceState:
    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self._order_ids: dict[str, int] = {}  # engine order id -> binance orderId
        self._engine_ids: dict[int, str] = {}
        self._next_order_id = 1
        self._trade_id = 0
        self._trade_ids: dict[str, int] = {}  # engine fill trade_id -> binance trade id
        self.listen_keys: dict[str, str] = {}  # listenKey -> account
        self.user_queues: dict[str, set[asyncio.Queue]] = {}  # account -> queues of user events
        self.held_reports: dict[str, list[dict]] = {}  # fault fills_out_of_order: sent after the next
        self.depth_subscribers: set[DepthStream] = set()
        self.started_ms = ctx.now_ms()
        self.unsubscribe = ctx.subscribe(self.on_engine_event)

    @property
    def by_id(self) -> dict[str, Market]:
        """Markets by Binance id ("BTCUSDT"), read live: pairs may be added while serving."""
        return {market_id(s): m for s, m in self.ctx.engine.markets.items()}

    # order ids: Binance's are integers; the engine's are opaque strings
    def binance_order_id(self, engine_id: str) -> int:
        oid = self._order_ids.get(engine_id)
        if oid is None:
            oid = self._next_order_id
            self._next_order_id += 1
            self._order_ids[engine_id] = oid
            self._engine_ids[oid] = engine_id
        return oid

    def engine_order_id(self, order_id: int) -> str | None:
        return self._engine_ids.get(order_id)

    def next_trade_id(self) -> int:
        self._trade_id += 1
        return self._trade_id

    def trade_id(self, fill: Any) -> int:
        """Binance's integer id of an engine fill (stable: the same fill, the same id)."""
        key = getattr(fill, "trade_id", "") or f"{fill.order_id}:{fill.timestamp}:{fill.amount}"
        tid = self._trade_ids.get(key)
        if tid is None:
            tid = self._trade_ids[key] = self.next_trade_id()
        return tid

    # engine events -> streams
    def on_engine_event(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "BookDelta":
            for stream in list(self.depth_subscribers):
                stream.add(event)
        elif kind == "OrderUpdated":
            queues = self.user_queues.get(event.account)
            if queues:
                messages = self.user_events(event)
                trade = any(m.get("e") == "executionReport" and m.get("x") == "TRADE" for m in messages)
                held = self.held_reports.pop(event.account, [])
                if trade and not held:
                    rule = self.ctx.faults.take("fills_out_of_order", market_id(event.order.symbol))
                    if rule is not None:  # this fill's reports go out after the next one's
                        self.held_reports[event.account] = messages
                        self.ctx.spawn(self._release_held(event.account, float(rule.params.get("delay_s", 2))))
                        return
                self._push(event.account, messages + held)

    def _push(self, account: str, messages: list[dict]) -> None:
        for queue in list(self.user_queues.get(account, ())):
            for message in messages:
                queue.put_nowait(message)

    async def _release_held(self, account: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        held = self.held_reports.pop(account, [])
        if held:
            self._push(account, held)

    def user_events(self, event: Any) -> list[dict]:
        order: Order = event.order
        now = self.ctx.now_ms()
        messages = []
        fills = list(event.fills or ())
        if fills:
            filled_before = order.filled - sum((f.amount for f in fills), Decimal(0))
            for fill in fills:
                filled_before += fill.amount
                messages.append(self.execution_report(order, "TRADE", fill=fill, cumulative=filled_before, now=now))
        else:
            execution = {
                OrderStatus.CANCELED: "CANCELED",
                OrderStatus.REJECTED: "REJECTED",
            }.get(order.status, "NEW")
            if expired(order):
                execution = "EXPIRED"
            messages.append(self.execution_report(order, execution, now=now))
        market = self.ctx.engine.markets.get(order.symbol)
        if market is not None:
            balances = self.ctx.engine.balances(event.account)
            assets = [market.base, market.quote]
            messages.append(
                {
                    "e": "outboundAccountPosition",
                    "E": now,
                    "u": now,
                    "B": [
                        {
                            "a": a,
                            "f": fmt_qty(balances.get(a, Balance(a, Decimal(0))).free),
                            "l": fmt_qty(balances.get(a, Balance(a, Decimal(0))).used),
                        }
                        for a in assets
                    ],
                }
            )
        return messages

    def execution_report(
        self, order: Order, execution: str, fill: Any = None, cumulative: Decimal | None = None, now: int = 0
    ) -> dict:
        status = order_status(order)
        if fill is not None and cumulative is not None:
            status = "FILLED" if cumulative >= order.amount else "PARTIALLY_FILLED"
            if status == "PARTIALLY_FILLED" and expired(order) and cumulative >= order.filled:
                status = "EXPIRED"  # the last trade of an IOC / market order with a remainder
        filled = cumulative if cumulative is not None else order.filled
        avg = order.average_price or Decimal(0)
        client_id = order.client_order_id
        return {
            "e": "executionReport",
            "E": now,
            "s": market_id(order.symbol),
            "c": client_id,
            "S": order.side.value.upper(),
            "o": order_type_name(order),
            "f": tif_name(order),
            "q": fmt_qty(order.amount),
            "p": fmt_price(order.price),
            "P": "0.00000000",
            "F": "0.00000000",
            "g": -1,
            "C": client_id if execution == "CANCELED" else "",
            "x": execution,
            "X": status,
            "r": "NONE",
            "i": self.binance_order_id(order.id),
            "l": fmt_qty(fill.amount if fill else Decimal(0)),
            "z": fmt_qty(filled),
            "L": fmt_price(fill.price if fill else Decimal(0)),
            "n": fmt_qty(fill.fee if fill else Decimal(0)),
            "N": (fill.fee_currency or None) if fill else None,
            "T": _ms(fill.timestamp) if fill else _ms(order.updated_at),
            "t": self.trade_id(fill) if fill else -1,
            "I": 0,
            "w": order.status is OrderStatus.OPEN,
            "m": bool(fill.is_maker) if fill else False,
            "M": False,
            "O": _ms(order.created_at),
            "Z": fmt_qty(filled * avg),
            "Y": fmt_qty(fill.amount * fill.price if fill else Decimal(0)),
            "Q": "0.00000000",
            "W": _ms(order.created_at),
            "V": "EXPIRE_MAKER",
        }

    def order_json(self, order: Order, full: bool = True) -> dict:
        avg = order.average_price or Decimal(0)
        out = {
            "symbol": market_id(order.symbol),
            "orderId": self.binance_order_id(order.id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "price": fmt_price(order.price),
            "origQty": fmt_qty(order.amount),
            "executedQty": fmt_qty(order.filled),
            "cummulativeQuoteQty": fmt_qty(order.filled * avg),
            "status": order_status(order),
            "timeInForce": tif_name(order),
            "type": order_type_name(order),
            "side": order.side.value.upper(),
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": _ms(order.created_at),
            "updateTime": _ms(order.updated_at),
            "isWorking": order.status is OrderStatus.OPEN,
            "workingTime": _ms(order.created_at),
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        return out


def _state(ctx: EmulatorContext) -> BinanceState:
    state = ctx.state.get("binance")
    if state is None:
        state = ctx.state["binance"] = BinanceState(ctx)
    return state


# ---- request plumbing ------------------------------------------------------------------


@dataclass
class Req:
    params: dict[str, str]
    account: str | None
    api_key: str | None

    @property
    def authenticated_account(self) -> str:
        """The account of a signed or API-key endpoint (``endpoint`` refuses the request without one)."""
        if self.account is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        return self.account


def _client_key(request: web.Request) -> str:
    api_key = request.headers.get("X-MBX-APIKEY")
    if api_key:
        return "key:" + api_key
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return "ip:" + (peer[0] if peer else "?")


def _check_rate(ctx: EmulatorContext, request: web.Request, weight: float) -> dict[str, str]:
    key = _client_key(request)
    retry_after = ctx.charge(key, weight)
    limit = int(ctx.limiter.weight_per_minute)
    if retry_after is not None:
        raise BinanceError(
            -1003,
            f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
            "Please use WebSocket Streams for live updates to avoid polling the API.",
            status=429,
            headers={"Retry-After": str(int(retry_after + 0.999))},
        )
    return {"X-MBX-USED-WEIGHT-1M": str(int(ctx.limiter.used(key)))}


async def _read_params(request: web.Request) -> tuple[dict[str, str], str, str]:
    raw_query = request.rel_url.raw_query_string
    raw_body = ""
    if request.body_exists:  # (can_read_body is False once read: a deferred request was)
        raw_body = (await request.read()).decode("utf-8", "replace")
    params: dict[str, str] = {}
    for raw in (raw_query, raw_body):
        for name, value in parse_qsl(raw, keep_blank_values=True):
            params[name] = value
    return params, raw_query, raw_body


def _signed_payload(raw_query: str, raw_body: str) -> tuple[str, str | None]:
    """(payload that was signed, signature) from the raw query string and body."""
    total = raw_query + raw_body  # Binance signs the query string and the body concatenated
    match = re.search(r"(^|&)signature=([^&]*)", total)
    if not match:
        return total, None
    payload = total[: match.start()] + total[match.end() :]
    return payload, match.group(2)


def _verify_signed(ctx: EmulatorContext, request: web.Request, params: dict, raw_query: str, raw_body: str) -> str:
    api_key = request.headers.get("X-MBX-APIKEY")
    if not api_key:
        raise BinanceError(-2014, "API-key format invalid.", status=401)
    account = ctx.authenticate(api_key)
    if account is None:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
    # A request applied late (fault reply_then_act) was checked as of its arrival.
    check_timestamp(params, int(received_at(request) * 1000))
    payload, signature = _signed_payload(raw_query, raw_body)
    if signature is None:
        raise _mandatory("signature")
    expected = hmac.new(ctx.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    return account


def check_timestamp(params: dict, server_ms: int | None = None) -> None:
    """-1021 unless the request's timestamp is within recvWindow of the server clock
    (``ctx.now_ms()``: tests move it to play a client with a skewed clock)."""
    if "timestamp" not in params:
        raise _mandatory("timestamp")
    try:
        timestamp = int(params["timestamp"])
        recv_window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    except ValueError:
        raise BinanceError(
            -1100, "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'."
        ) from None
    if recv_window <= 0 or recv_window > MAX_RECV_WINDOW_MS:
        raise BinanceError(-1131, "recvWindow must be less than 60000")
    if server_ms is None:
        server_ms = int(time.time() * 1000)
    if timestamp >= server_ms + 1000:
        raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server_ms - timestamp > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def endpoint(weight: int | str | Callable[[dict], int], signed: bool = False, api_key_only: bool = False):
    """Wrap handler(ctx, req) with rate limiting, authentication and Binance error replies.

    ``weight``: request weight, a key of WEIGHTS, or a function of the parameters.
    """

    def wrap(fn):
        async def handler(request: web.Request) -> web.Response:
            ctx = ctx_of(request)
            try:
                params, raw_query, raw_body = await _read_params(request)
                if callable(weight):
                    w = weight(params)
                else:
                    w = WEIGHTS[weight] if isinstance(weight, str) else weight
                headers = _check_rate(ctx, request, w)
                account = None
                api_key = request.headers.get("X-MBX-APIKEY")
                if signed:
                    account = _verify_signed(ctx, request, params, raw_query, raw_body)
                elif api_key_only:
                    if not api_key:
                        raise BinanceError(-2014, "API-key format invalid.", status=401)
                    account = ctx.authenticate(api_key)
                    if account is None:
                        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
                result = fn(ctx, Req(params, account, api_key))
                if ctx.take_fault("delay_reply", fn.__name__):
                    # Test hook: the request took effect, the reply comes late (a client timeout).
                    await asyncio.sleep(float(ctx.options.get("delay_reply_s", 30)))
                return json_response(result, headers=headers)
            except BinanceError as error:
                return error.response()

        handler.__name__ = fn.__name__
        handler.__doc__ = fn.__doc__
        return handler

    return wrap


@overload
def _market(ctx: EmulatorContext, params: dict, required: Literal[True] = True) -> Market: ...
@overload
def _market(ctx: EmulatorContext, params: dict, required: bool) -> Market | None: ...
def _market(ctx: EmulatorContext, params: dict, required: bool = True) -> Market | None:
    symbol_id = params.get("symbol")
    if not symbol_id:
        if required:
            raise _mandatory("symbol")
        return None
    market = _state(ctx).by_id.get(symbol_id.upper())
    if market is None:
        raise BinanceError(-1121, "Invalid symbol.")
    return market


@overload
def _decimal(params: dict, name: str, required: Literal[True] = True) -> Decimal: ...
@overload
def _decimal(params: dict, name: str, required: bool) -> Decimal | None: ...
def _decimal(params: dict, name: str, required: bool = True) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise _mandatory(name)
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
        ) from None
    if not value.is_finite():
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
        )
    return value


@overload
def _int(params: dict, name: str, default: int) -> int: ...
@overload
def _int(params: dict, name: str, default: None = None) -> int | None: ...
def _int(params: dict, name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        ) from None


# ---- public endpoints ------------------------------------------------------------------


def exchange_filters(market: Market) -> list[dict]:
    max_price = Decimal("1000000")
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": fmt_price(market.tick_size),
            "maxPrice": fmt_price(max_price),
            "tickSize": fmt_price(market.tick_size),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": fmt_qty(market.min_amount),
            "maxQty": "9000000.00000000",
            "stepSize": fmt_qty(market.lot_size),
        },
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": "0.00000000",
            "maxQty": "9000000.00000000",
            "stepSize": "0.00000000",
        },
        {
            "filterType": "TRAILING_DELTA",
            "minTrailingAboveDelta": 10,
            "maxTrailingAboveDelta": 2000,
            "minTrailingBelowDelta": 10,
            "maxTrailingBelowDelta": 2000,
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5",
            "bidMultiplierDown": "0.2",
            "askMultiplierUp": "5",
            "askMultiplierDown": "0.2",
            "avgPriceMins": 5,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": fmt_price(market.min_notional),
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        # Binance retired MIN_NOTIONAL for NOTIONAL; older clients still read it.
        {
            "filterType": "MIN_NOTIONAL",
            "minNotional": fmt_price(market.min_notional),
            "applyToMarket": True,
            "avgPriceMins": 5,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ]


def symbol_info(market: Market) -> dict:
    return {
        "symbol": market_id(market.symbol),
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": False,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": exchange_filters(market),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


@endpoint(1)
def ping(ctx: EmulatorContext, req: Req) -> dict:
    return {}


@endpoint(1)
def server_time(ctx: EmulatorContext, req: Req) -> dict:
    return {"serverTime": ctx.now_ms()}


@endpoint(1)
def system_status(ctx: EmulatorContext, req: Req) -> dict:
    return {"status": 0, "msg": "normal"}


@endpoint("exchangeInfo")
def exchange_info(ctx: EmulatorContext, req: Req) -> dict:
    state = _state(ctx)
    wanted: list[str] | None = None
    if req.params.get("symbol"):
        wanted = [req.params["symbol"].upper()]
    elif req.params.get("symbols"):
        try:
            wanted = [s.upper() for s in json.loads(req.params["symbols"])]
        except (ValueError, AttributeError):
            raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.") from None
    if wanted is not None and any(s not in state.by_id for s in wanted):
        raise BinanceError(-1121, "Invalid symbol.")
    ids = wanted if wanted is not None else list(state.by_id)
    limit = int(ctx.limiter.weight_per_minute)
    return {
        "timezone": "UTC",
        "serverTime": ctx.now_ms(),
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "exchangeFilters": [],
        "symbols": [symbol_info(state.by_id[i]) for i in ids],
    }


def _depth_weight(limit: int) -> int:
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


async def depth(request: web.Request) -> web.Response:
    ctx: EmulatorContext = ctx_of(request)
    try:
        params, _, _ = await _read_params(request)
        limit = _int(params, "limit", 100)
        headers = _check_rate(ctx, request, _depth_weight(limit))
        market = _market(ctx, params)
        limit = max(1, min(limit, 5000))
        engine = ctx.engine
        book = engine.book(market.symbol, limit)
        body = {
            "lastUpdateId": engine.sequence(market.symbol),
            "bids": [[fmt_price(p), fmt_qty(q)] for p, q in book.bids],
            "asks": [[fmt_price(p), fmt_qty(q)] for p, q in book.asks],
        }
        return json_response(body, headers=headers)
    except BinanceError as error:
        return error.response()


def _ticker(ctx: EmulatorContext, market: Market) -> dict:
    """Rolling 24 h figures from every trade the engine made (the flow's too); with no trade
    yet, the mid stands in for the prices."""
    state = _state(ctx)
    book = ctx.engine.book(market.symbol, 1)
    figures = ctx.engine.ticker(market.symbol)
    now_ms = int(time.time() * 1000)
    bid_p, bid_q = book.bids[0] if book.bids else (Decimal(0), Decimal(0))
    ask_p, ask_q = book.asks[0] if book.asks else (Decimal(0), Decimal(0))
    mid = book.mid or Decimal(0)
    if figures.last is not None:
        open_p, last_p, high, low = figures.open, figures.last, figures.high, figures.low
        last_q, volume, quote_volume = figures.last_amount or Decimal(0), figures.base_volume, figures.quote_volume
        vwap = figures.vwap
    else:
        open_p = last_p = high = low = vwap = mid
        last_q = volume = quote_volume = Decimal(0)
    change = last_p - open_p
    change_pct = (change / open_p * 100) if open_p else Decimal(0)
    count = figures.trades
    last_id = int(figures.last_trade_id) if figures.last_trade_id else -1
    return {
        "symbol": market_id(market.symbol),
        "priceChange": fmt_price(change),
        "priceChangePercent": format(change_pct.quantize(Decimal("0.001")), "f"),
        "weightedAvgPrice": fmt_price(vwap),
        "prevClosePrice": fmt_price(open_p),
        "lastPrice": fmt_price(last_p),
        "lastQty": fmt_qty(last_q),
        "bidPrice": fmt_price(bid_p),
        "bidQty": fmt_qty(bid_q),
        "askPrice": fmt_price(ask_p),
        "askQty": fmt_qty(ask_q),
        "openPrice": fmt_price(open_p),
        "highPrice": fmt_price(high),
        "lowPrice": fmt_price(low),
        "volume": fmt_qty(volume),
        "quoteVolume": fmt_qty(quote_volume),
        "openTime": max(now_ms - 86_400_000, state.started_ms),
        "closeTime": now_ms,
        "firstId": last_id - count + 1 if count else -1,
        "lastId": last_id if count else -1,
        "count": count,
    }


KLINE_INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")


def _limit(params: dict, default: int = 500, maximum: int = 1000) -> int:
    limit = _int(params, "limit", default)
    if limit < 1 or limit > maximum:
        raise BinanceError(-1130, "Invalid data sent for a parameter.")
    return limit


@endpoint(25)
def trades(ctx: EmulatorContext, req: Req) -> list:
    """The newest trades of the symbol, oldest first (``limit`` default 500, at most 1000)."""
    market = _market(ctx, req.params)
    limit = _limit(req.params)
    return [
        {"id": int(t.id), "price": fmt_price(t.price), "qty": fmt_qty(t.amount),
         "quoteQty": fmt_qty(t.price * t.amount), "time": _ms(t.time),
         "isBuyerMaker": t.side is Side.SELL, "isBestMatch": True}
        for t in ctx.engine.recent_trades(market.symbol, limit)
    ]  # fmt: skip


@endpoint(2)
def agg_trades(ctx: EmulatorContext, req: Req) -> list:
    """Aggregate trades: one per engine trade (a = f = l = the trade id); fromId, startTime /
    endTime (ms, inclusive, at most one hour apart), limit."""
    market = _market(ctx, req.params)
    limit = _limit(req.params)
    from_id = _int(req.params, "fromId")
    start, end = _int(req.params, "startTime"), _int(req.params, "endTime")
    if start is not None and end is not None and end - start > 3_600_000:
        raise BinanceError(-1127, "More than 1 hours between startTime and endTime.")
    rows = []
    for t in ctx.engine.recent_trades(market.symbol):
        tid, at = int(t.id), _ms(t.time)
        if (
            (from_id is not None and tid < from_id)
            or (start is not None and at < start)
            or (end is not None and at > end)
        ):
            continue
        rows.append({"a": tid, "p": fmt_price(t.price), "q": fmt_qty(t.amount), "f": tid, "l": tid, "T": at,
                     "m": t.side is Side.SELL, "M": True})  # fmt: skip
    return rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]


@endpoint(2)
def klines(ctx: EmulatorContext, req: Req) -> list:
    """Candles from the engine's trades (buckets without a trade are omitted): interval,
    startTime / endTime (ms, by open time), limit (default 500, at most 1000)."""
    market = _market(ctx, req.params)
    interval = req.params.get("interval")
    if not interval:
        raise _mandatory("interval")
    if interval not in KLINE_INTERVALS:
        raise BinanceError(-1120, "Invalid interval.")
    limit = _limit(req.params)
    start, end = _int(req.params, "startTime"), _int(req.params, "endTime")
    candles = ctx.engine.candles(market.symbol, interval)
    if start is not None:
        candles = [c for c in candles if c.open_time * 1000 >= start]
    if end is not None:
        candles = [c for c in candles if c.open_time * 1000 <= end]
    candles = candles[:limit] if start is not None else candles[-limit:]
    return [
        [c.open_time * 1000, fmt_price(c.open), fmt_price(c.high), fmt_price(c.low), fmt_price(c.close),
         fmt_qty(c.volume), c.close_time * 1000 - 1, fmt_qty(c.quote_volume), c.trades, "0", "0", "0"]
        for c in candles
    ]  # fmt: skip


def _markets_for(ctx: EmulatorContext, params: dict) -> list[Market] | None:
    """Markets named by ``symbol`` or ``symbols``; None when neither was sent."""
    state = _state(ctx)
    if params.get("symbol"):
        return [_market(ctx, params)]
    if params.get("symbols"):
        try:
            ids = [s.upper() for s in json.loads(params["symbols"])]
        except (ValueError, AttributeError):
            raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.") from None
        if any(i not in state.by_id for i in ids):
            raise BinanceError(-1121, "Invalid symbol.")
        return [state.by_id[i] for i in ids]
    return None


@endpoint(2)
def ticker_24hr(ctx: EmulatorContext, req: Req) -> Any:
    markets = _markets_for(ctx, req.params)
    if markets is None:
        return [_ticker(ctx, m) for m in _state(ctx).by_id.values()]
    if req.params.get("symbol"):
        return _ticker(ctx, markets[0])
    return [_ticker(ctx, m) for m in markets]


@endpoint(2)
def ticker_book(ctx: EmulatorContext, req: Req) -> Any:
    def one(market: Market) -> dict:
        t = _ticker(ctx, market)
        return {k: t[k] for k in ("symbol", "bidPrice", "bidQty", "askPrice", "askQty")}

    markets = _markets_for(ctx, req.params)
    if markets is None:
        return [one(m) for m in _state(ctx).by_id.values()]
    return one(markets[0]) if req.params.get("symbol") else [one(m) for m in markets]


@endpoint(2)
def ticker_price(ctx: EmulatorContext, req: Req) -> Any:
    def one(market: Market) -> dict:
        t = _ticker(ctx, market)
        return {"symbol": t["symbol"], "price": t["lastPrice"]}

    markets = _markets_for(ctx, req.params)
    if markets is None:
        return [one(m) for m in _state(ctx).by_id.values()]
    return one(markets[0]) if req.params.get("symbol") else [one(m) for m in markets]


# ---- private endpoints -----------------------------------------------------------------


@endpoint("account", signed=True)
def account(ctx: EmulatorContext, req: Req) -> dict:
    balances = ctx.engine.balances(req.account)
    omit_zero = req.params.get("omitZeroBalances", "false").lower() == "true"
    rows = [
        {"asset": asset, "free": fmt_qty(b.free), "locked": fmt_qty(b.used)}
        for asset, b in sorted(balances.items())
        if not (omit_zero and b.total == 0)
    ]
    now = int(time.time() * 1000)
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": "0.00100000",
            "taker": "0.00100000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now,
        "accountType": "SPOT",
        "balances": rows,
        "permissions": ["SPOT"],
        "uid": 1,
    }


def _on_step(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or (value % step) == 0


def check_filters(
    market: Market, order_type: OrderType, amount: Decimal, price: Decimal | None, ref_price: Decimal | None
) -> None:
    """Binance's filter checks, in Binance's order, with its messages."""
    if price is not None:
        if price <= 0:
            raise BinanceError(-1013, "Invalid price.")
        if price < market.tick_size or not _on_step(price, market.tick_size):
            raise BinanceError(-1013, "Filter failure: PRICE_FILTER")
    if amount <= 0:
        raise BinanceError(-1013, "Invalid quantity.")
    if amount < market.min_amount or not _on_step(amount, market.lot_size):
        raise BinanceError(-1013, "Filter failure: LOT_SIZE")
    notional_price = price if price is not None else ref_price
    if notional_price is not None and amount * notional_price < market.min_notional:
        raise BinanceError(-1013, "Filter failure: NOTIONAL")


def _find_order(ctx: EmulatorContext, req: Req, market: Market, unknown: BinanceError) -> Order:
    state = _state(ctx)
    order_id = _int(req.params, "orderId")
    client_id = req.params.get("origClientOrderId")
    if order_id is None and not client_id:
        raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    order = None
    if order_id is not None:
        engine_id = state.engine_order_id(order_id)
        order = ctx.engine.get_order(req.account, order_id=engine_id) if engine_id else None
        if order is not None and client_id and order.client_order_id != client_id:
            order = None
    else:
        order = ctx.engine.get_order(req.account, client_order_id=client_id)
    if order is None or order.symbol != market.symbol:
        raise unknown
    return order


@endpoint("order", signed=True)
def new_order(ctx: EmulatorContext, req: Req) -> dict:
    state = _state(ctx)
    p = req.params
    market = _market(ctx, p)
    side_raw = p.get("side", "")
    if not side_raw:
        raise _mandatory("side")
    if side_raw.upper() not in ("BUY", "SELL"):
        raise BinanceError(-1100, "Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'.")
    side = Side(side_raw.lower())
    type_raw = p.get("type", "")
    if not type_raw:
        raise _mandatory("type")
    type_raw = type_raw.upper()
    if type_raw not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
        raise BinanceError(-1116, "Invalid orderType.")
    order_type = OrderType.MARKET if type_raw == "MARKET" else OrderType.LIMIT
    time_in_force = TimeInForce.GTC
    if type_raw == "LIMIT":
        tif = p.get("timeInForce", "")
        if not tif:
            raise _mandatory("timeInForce")
        if tif.upper() not in ("GTC", "IOC", "FOK"):
            raise BinanceError(-1115, "Invalid timeInForce.")
        time_in_force = TimeInForce(tif.lower())
    elif p.get("timeInForce"):
        raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
    if p.get("quoteOrderQty"):
        raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    amount = _decimal(p, "quantity")
    price = _decimal(p, "price", required=order_type is OrderType.LIMIT)
    if order_type is OrderType.MARKET and price is not None:
        raise BinanceError(-1106, "Parameter 'price' sent when not required.")
    client_id = p.get("newClientOrderId") or "emu" + secrets.token_hex(10)
    if not CLIENT_ORDER_ID_RE.match(client_id):
        raise BinanceError(
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
        )
    ref_price = None
    if order_type is OrderType.MARKET:
        book = ctx.engine.book(market.symbol, 1)
        ref_price = book.best_ask if side is Side.BUY else book.best_bid
    check_filters(market, order_type, amount, price, ref_price)
    if any(o.client_order_id == client_id for o in ctx.engine.open_orders(req.account)):
        raise BinanceError(-2010, "Duplicate order sent.")
    post_only = type_raw == "LIMIT_MAKER"
    try:
        order, fills = ctx.engine.place(
            req.account, market.symbol, side, order_type, amount, price, client_order_id=client_id,
            time_in_force=time_in_force, post_only=post_only,
        )  # fmt: skip
    except InsufficientFunds:
        raise BinanceError(-2010, "Account has insufficient balance for requested action.") from None
    except OrderRejected as error:
        if post_only and "post-only" in str(error):
            raise BinanceError(-2010, "Order would immediately match and take.") from None
        raise BinanceError(-2010, str(error) or "Order rejected.") from None
    resp_type = (p.get("newOrderRespType") or ("FULL" if order_type is OrderType.MARKET else "FULL")).upper()
    now = int(time.time() * 1000)
    if resp_type == "ACK":
        return {
            "symbol": market_id(market.symbol),
            "orderId": state.binance_order_id(order.id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "transactTime": now,
        }
    body = state.order_json(order)
    body["transactTime"] = now
    for key in ("time", "updateTime", "isWorking"):
        body.pop(key, None)
    if resp_type == "FULL":
        body["fills"] = [
            {
                "price": fmt_price(f.price),
                "qty": fmt_qty(f.amount),
                "commission": fmt_qty(f.fee),
                "commissionAsset": f.fee_currency,
                "tradeId": state.trade_id(f),
            }
            for f in fills
        ]
    return body


@endpoint("getOrder", signed=True)
def query_order(ctx: EmulatorContext, req: Req) -> dict:
    market = _market(ctx, req.params)
    order = _find_order(ctx, req, market, BinanceError(-2013, "Order does not exist."))
    return _state(ctx).order_json(order)


@endpoint("order", signed=True)
def cancel_order(ctx: EmulatorContext, req: Req) -> dict:
    state = _state(ctx)
    market = _market(ctx, req.params)
    unknown = BinanceError(-2011, "Unknown order sent.")
    order = _find_order(ctx, req, market, unknown)
    if order.status.is_final:
        raise unknown
    try:
        canceled = ctx.engine.cancel(req.account, order.id)
    except OrderNotFound:
        raise unknown from None
    body = state.order_json(canceled)
    body["origClientOrderId"] = canceled.client_order_id
    body["clientOrderId"] = req.params.get("newClientOrderId") or "emuc" + secrets.token_hex(8)
    body["transactTime"] = int(time.time() * 1000)
    for key in ("time", "updateTime", "isWorking", "workingTime"):
        body.pop(key, None)
    return body


def _open_orders_weight(params: dict) -> int:
    return WEIGHTS["openOrders"] if params.get("symbol") else WEIGHTS["openOrdersAll"]


@endpoint(_open_orders_weight, signed=True)
def open_orders(ctx: EmulatorContext, req: Req) -> list:
    market = _market(ctx, req.params, required=False)
    orders = ctx.engine.open_orders(req.account, market.symbol if market else None)
    state = _state(ctx)
    return [state.order_json(o) for o in sorted(orders, key=lambda o: (o.created_at, state.binance_order_id(o.id)))]


@endpoint("allOrders", signed=True)
def all_orders(ctx: EmulatorContext, req: Req) -> list:
    market = _market(ctx, req.params)
    limit = max(1, min(_int(req.params, "limit", 500), 1000))
    state = _state(ctx)
    orders = [o for o in ctx.engine.open_orders(req.account, market.symbol)]
    orders += [o for o in ctx.engine.closed_orders(req.account, limit=10_000) if o.symbol == market.symbol]
    orders.sort(key=lambda o: (o.created_at, state.binance_order_id(o.id)))
    start = _int(req.params, "startTime")
    if start is not None:
        orders = [o for o in orders if _ms(o.created_at) >= start]
    from_id = _int(req.params, "orderId")
    if from_id is not None:
        orders = [o for o in orders if state.binance_order_id(o.id) >= from_id]
    return [state.order_json(o) for o in orders[-limit:]]


def _ledger(ctx: EmulatorContext, req: Req, deposits: bool) -> list:
    """The account's deposits (or withdrawals) filtered as Binance does, oldest first."""
    coin = req.params.get("coin")
    start, end = _int(req.params, "startTime"), _int(req.params, "endTime")
    offset, limit = max(0, _int(req.params, "offset", 0)), max(1, min(_int(req.params, "limit", 1000), 1000))
    rows = [t for t in ctx.engine.transfers(req.authenticated_account) if (t.amount > 0) == deposits
            and (coin is None or t.asset == coin) and (start is None or _ms(t.time) >= start)
            and (end is None or _ms(t.time) <= end)]  # fmt: skip
    return rows[offset : offset + limit]


@endpoint("depositHistory", signed=True)
def deposit_history(ctx: EmulatorContext, req: Req) -> list:
    return [{"id": t.id, "amount": fmt_qty(t.amount), "coin": t.asset, "network": t.asset, "status": 1,
             "address": "", "addressTag": "", "txId": f"emulator-{t.id}", "insertTime": _ms(t.time),
             "transferType": 0, "confirmTimes": "1/1", "unlockConfirm": 0, "walletType": 0}
            for t in _ledger(ctx, req, deposits=True)]  # fmt: skip


@endpoint("withdrawHistory", signed=True)
def withdraw_history(ctx: EmulatorContext, req: Req) -> list:
    def stamp(t: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))  # Binance's own format, UTC, to the second

    return [{"id": t.id, "amount": fmt_qty(-t.amount), "transactionFee": "0", "coin": t.asset, "status": 6,
             "address": "", "txId": f"emulator-{t.id}", "applyTime": stamp(t.time), "network": t.asset,
             "transferType": 0, "completeTime": stamp(t.time)}
            for t in _ledger(ctx, req, deposits=False)]  # fmt: skip


@endpoint("myTrades", signed=True)
def my_trades(ctx: EmulatorContext, req: Req) -> list:
    """The account's fills in the symbol, oldest first (orderId, startTime/endTime, fromId, limit)."""
    from aitbc_tui.sim.engine import FILL_HISTORY

    market = _market(ctx, req.params)
    state = _state(ctx)
    limit = max(1, min(_int(req.params, "limit", 500), 1000))
    order_filter = _int(req.params, "orderId")
    start, end = _int(req.params, "startTime"), _int(req.params, "endTime")
    from_id = _int(req.params, "fromId")
    if order_filter is not None and from_id is not None:
        raise BinanceError(-1106, "Parameter 'fromId' sent when not required.")
    engine_order = state.engine_order_id(order_filter) if order_filter is not None else None
    fills = [f for f in reversed(ctx.engine.fills(req.account, limit=FILL_HISTORY)) if f.symbol == market.symbol]
    rows = []
    for fill in fills:
        tid = state.trade_id(fill)
        if order_filter is not None and fill.order_id != engine_order:
            continue
        if start is not None and _ms(fill.timestamp) < start:
            continue
        if end is not None and _ms(fill.timestamp) > end:
            continue
        if from_id is not None and tid < from_id:
            continue
        rows.append(
            {
                "symbol": market_id(fill.symbol),
                "id": tid,
                "orderId": state.binance_order_id(fill.order_id),
                "orderListId": -1,
                "price": fmt_price(fill.price),
                "qty": fmt_qty(fill.amount),
                "quoteQty": fmt_qty(fill.price * fill.amount),
                "commission": fmt_qty(fill.fee),
                "commissionAsset": fill.fee_currency,
                "time": _ms(fill.timestamp),
                "isBuyer": fill.side is Side.BUY,
                "isMaker": bool(fill.is_maker),
                "isBestMatch": True,
            }
        )
    return rows[:limit] if from_id is not None else rows[-limit:]


# ---- listenKey user data stream --------------------------------------------------------


@endpoint(2, api_key_only=True)
def listen_key_new(ctx: EmulatorContext, req: Req) -> dict:
    state = _state(ctx)
    for key, account_name in state.listen_keys.items():
        if account_name == req.account:
            return {"listenKey": key}  # Binance returns the active key again
    key = secrets.token_urlsafe(45)[:60]
    state.listen_keys[key] = req.authenticated_account
    return {"listenKey": key}


@endpoint(2, api_key_only=True)
def listen_key_keepalive(ctx: EmulatorContext, req: Req) -> dict:
    key = req.params.get("listenKey")
    if not key:
        raise _mandatory("listenKey")
    if _state(ctx).listen_keys.get(key) != req.account:
        raise BinanceError(-1125, "This listenKey does not exist.")
    return {}


@endpoint(2, api_key_only=True)
def listen_key_close(ctx: EmulatorContext, req: Req) -> dict:
    key = req.params.get("listenKey")
    if not key:
        raise _mandatory("listenKey")
    if _state(ctx).listen_keys.pop(key, None) is None:
        raise BinanceError(-1125, "This listenKey does not exist.")
    return {}


# ---- websocket streams -----------------------------------------------------------------


class DepthStream:
    """One connection's diff-depth subscription of one symbol, flushed every interval."""

    def __init__(self, conn: StreamConnection, name: str, symbol: str, interval_s: float) -> None:
        self.conn = conn
        self.name = name
        self.symbol = symbol  # unified, "BTC/USDT"
        self.interval_s = interval_s
        self.first: int | None = None
        self.last: int | None = None
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.task: asyncio.Task | None = None

    def add(self, delta: Any) -> None:
        if delta.symbol != self.symbol:
            return
        if self.first is None:
            self.first = delta.first_sequence
        self.last = delta.last_sequence
        for price, size in delta.bids:
            self.bids[price] = size
        for price, size in delta.asks:
            self.asks[price] = size

    async def run(self) -> None:
        ctx = self.conn.ctx
        sym_id = market_id(self.symbol)
        while True:
            await asyncio.sleep(self.interval_s)
            if self.first is None:
                continue
            event = {
                "e": "depthUpdate",
                "E": int(time.time() * 1000),
                "s": sym_id,
                "U": self.first,
                "u": self.last,
                "b": [[fmt_price(p), fmt_qty(q)] for p, q in sorted(self.bids.items(), reverse=True)],
                "a": [[fmt_price(p), fmt_qty(q)] for p, q in sorted(self.asks.items())],
            }
            self.first = self.last = None
            self.bids, self.asks = {}, {}
            if ctx.take_fault("depth_gap", sym_id):
                continue  # the test hook: this event is lost, the next one shows a gap
            await self.conn.send(self.name, event)


class StreamConnection(FaultySocket):
    """One websocket on /stream (combined, wrapped events) or /ws (raw events)."""

    def __init__(self, ctx: EmulatorContext, ws: web.WebSocketResponse, combined: bool, transport: Any = None,
                 initial: Iterable[str] = ()) -> None:  # fmt: skip
        super().__init__(ctx, ws, transport)
        self.combined = combined
        self.initial = list(initial)
        self.depth: dict[str, DepthStream] = {}
        self.others: dict[str, asyncio.Task] = {}
        self.user_queue: asyncio.Queue | None = None
        self.user_account: str | None = None

    async def send(self, stream: str, data: Any) -> None:
        payload = {"stream": stream, "data": data} if self.combined else data
        keys = (stream, stream.split("@")[0].upper(), "/stream" if self.combined else "/ws")
        await self.send_text(dumps(payload), keys)

    def subscribe(self, name: str) -> bool:
        state = _state(self.ctx)
        if name in self.depth or name in self.others:
            return True
        if name in state.listen_keys:
            self._subscribe_user(name, state.listen_keys[name])
            return True
        parts = name.split("@")
        market = state.by_id.get(parts[0].upper())
        if market is None:
            return False
        kind = parts[1:] if len(parts) > 1 else []
        if kind and kind[0] == "depth" and (len(kind) == 1 or kind[1] in ("100ms", "1000ms")):
            interval = 0.1 if len(kind) == 2 and kind[1] == "100ms" else 1.0
            stream = DepthStream(self, name, market.symbol, interval)
            state.depth_subscribers.add(stream)
            stream.task = self.ctx.spawn(stream.run())
            self.depth[name] = stream
            return True
        if kind == ["bookTicker"]:
            self.others[name] = self.ctx.spawn(self._book_ticker(name, market))
            return True
        if kind in (["trade"], ["aggTrade"]):
            self.others[name] = self.ctx.spawn(self._trades(name, market, aggregate=kind[0] == "aggTrade"))
            return True
        if len(kind) == 1 and kind[0].startswith("kline_") and kind[0][len("kline_") :] in KLINE_INTERVALS:
            self.others[name] = self.ctx.spawn(self._klines(name, market, kind[0][len("kline_") :]))
            return True
        return False

    async def _trades(self, name: str, market: Market, aggregate: bool) -> None:
        """``<sym>@trade`` / ``<sym>@aggTrade``: each engine trade after the subscription,
        in order (one aggregate per trade, as the REST aggTrades)."""
        sym = market_id(market.symbol)
        newest = self.ctx.engine.recent_trades(market.symbol, 1)
        last = int(newest[-1].id) if newest else 0
        while True:
            await asyncio.sleep(0.1)
            for t in self.ctx.engine.recent_trades(market.symbol, 1000):
                tid = int(t.id)
                if tid <= last:
                    continue
                last = tid
                common = {"E": int(time.time() * 1000), "s": sym, "p": fmt_price(t.price), "q": fmt_qty(t.amount),
                          "T": _ms(t.time), "m": t.side is Side.SELL, "M": True}  # fmt: skip
                if aggregate:
                    await self.send(name, {"e": "aggTrade", "a": tid, "f": tid, "l": tid, **common})
                else:
                    await self.send(name, {"e": "trade", "t": tid, **common})

    async def _klines(self, name: str, market: Market, interval: str) -> None:
        """``<sym>@kline_<interval>``: the current candle whenever it changes (``x`` false),
        and the finished one (``x`` true) when the next begins, as binance pushes them."""
        sym = market_id(market.symbol)
        sent: tuple | None = None
        current: Any = None
        while True:
            candles = self.ctx.engine.candles(market.symbol, interval)
            if candles:
                latest = candles[-1]
                if current is not None and latest.open_time != current.open_time:
                    done = next((c for c in reversed(candles) if c.open_time == current.open_time), current)
                    await self.send(name, self._kline(sym, interval, done, closed=True))
                key = (latest.open_time, latest.close, latest.volume, latest.trades)
                if key != sent:
                    sent = key
                    await self.send(name, self._kline(sym, interval, latest, closed=False))
                current = latest
            await asyncio.sleep(0.25)

    @staticmethod
    def _kline(sym: str, interval: str, c: Any, closed: bool) -> dict:
        return {"e": "kline", "E": int(time.time() * 1000), "s": sym,
                "k": {"t": c.open_time * 1000, "T": c.close_time * 1000 - 1, "s": sym, "i": interval,
                      "f": -1, "L": -1, "o": fmt_price(c.open), "c": fmt_price(c.close), "h": fmt_price(c.high),
                      "l": fmt_price(c.low), "v": fmt_qty(c.volume), "n": c.trades, "x": closed,
                      "q": fmt_qty(c.quote_volume), "V": "0", "Q": "0", "B": "0"}}  # fmt: skip

    def _subscribe_user(self, name: str, account_name: str) -> None:
        state = _state(self.ctx)
        queue: asyncio.Queue = asyncio.Queue()
        state.user_queues.setdefault(account_name, set()).add(queue)

        async def pump() -> None:
            try:
                while True:
                    message = await queue.get()
                    await self.send(name, message)
            finally:
                state.user_queues.get(account_name, set()).discard(queue)

        self.others[name] = self.ctx.spawn(pump())

    async def _book_ticker(self, name: str, market: Market) -> None:
        last = None
        while True:
            book = self.ctx.engine.book(market.symbol, 1)
            if book.bids and book.asks:
                top = (book.bids[0], book.asks[0])
                if top != last:
                    last = top
                    await self.send(
                        name,
                        {
                            "u": self.ctx.engine.sequence(market.symbol),
                            "s": market_id(market.symbol),
                            "b": fmt_price(top[0][0]),
                            "B": fmt_qty(top[0][1]),
                            "a": fmt_price(top[1][0]),
                            "A": fmt_qty(top[1][1]),
                        },
                    )
            await asyncio.sleep(0.1)

    def unsubscribe(self, name: str) -> None:
        stream = self.depth.pop(name, None)
        if stream is not None:
            _state(self.ctx).depth_subscribers.discard(stream)
            if stream.task:
                stream.task.cancel()
        task = self.others.pop(name, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        for name in list(self.depth) + list(self.others):
            self.unsubscribe(name)
        super().close()

    async def opened(self) -> bool:
        for name in self.initial:
            if not self.subscribe(name):
                await self.ws.close(code=1008, message=b"Invalid stream")
                return False
        return True

    async def on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
            method = message["method"]
            req_id = message.get("id")
            params = message.get("params", [])
        except (ValueError, KeyError, TypeError):
            await self.ws.send_str(
                dumps({"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}})
            )
            return
        if method == "SUBSCRIBE":
            bad = [p for p in params if not isinstance(p, str) or not self.subscribe(p)]
            if bad:
                await self.ws.send_str(
                    dumps({"error": {"code": 2, "msg": f"Invalid request: unknown stream {bad[0]}"}, "id": req_id})
                )
                return
            await self.ws.send_str(dumps({"result": None, "id": req_id}))
        elif method == "UNSUBSCRIBE":
            for name in params:
                self.unsubscribe(name)
            await self.ws.send_str(dumps({"result": None, "id": req_id}))
        elif method == "LIST_SUBSCRIPTIONS":
            await self.ws.send_str(dumps({"result": sorted([*self.depth, *self.others]), "id": req_id}))
        else:
            await self.ws.send_str(
                dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"}, "id": req_id})
            )


async def _serve_stream(request: web.Request, combined: bool, initial: Iterable[str]) -> web.StreamResponse:
    return await serve_websocket(
        request, lambda ctx, ws, transport: StreamConnection(ctx, ws, combined, transport, initial)
    )


async def combined_stream(request: web.Request) -> web.StreamResponse:
    """/stream, /stream/<n> (ccxt's stream index), /stream?streams=a/b, /stream/<listenKey>."""
    names = [s for s in request.query.get("streams", "").split("/") if s]
    tail = request.match_info.get("tail", "")
    if tail and tail in _state(ctx_of(request)).listen_keys:
        names.append(tail)
    return await _serve_stream(request, combined=True, initial=names)


async def raw_stream(request: web.Request) -> web.StreamResponse:
    """/ws/<stream or listenKey>: raw (unwrapped) events."""
    tail = request.match_info.get("tail", "")
    # ccxt appends a stream index (/ws/0); it names no stream
    names = [s for s in tail.split("/") if s and not s.isdigit()]
    return await _serve_stream(request, combined=False, initial=names)


# ---- WebSocket API (user data stream by signature) -------------------------------------


def _ws_api_signature_ok(ctx: EmulatorContext, params: dict) -> tuple[str | None, dict | None]:
    """(account, None) when the request is authentic, else (None, error)."""
    api_key = params.get("apiKey")
    account_name = ctx.authenticate(api_key)
    if account_name is None:
        return None, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
    signature = params.get("signature")
    if not signature:
        return None, {
            "code": -1102,
            "msg": "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        }
    try:
        check_timestamp({k: str(v) for k, v in params.items()}, ctx.now_ms())
    except BinanceError as error:
        return None, {"code": error.code, "msg": error.msg}
    payload = "&".join(f"{k}={_ws_value(v)}" for k, v in sorted(params.items()) if k != "signature")
    expected = hmac.new(ctx.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signature).lower()):
        return None, {"code": -1022, "msg": "Signature for this request is not valid."}
    return account_name, None


def _ws_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def ws_api(request: web.Request) -> web.StreamResponse:
    ctx: EmulatorContext = ctx_of(request)
    state = _state(ctx)
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    untrack = ctx.track_websocket(ws)
    lock = asyncio.Lock()
    pumps: dict[int, asyncio.Task] = {}
    next_subscription = 0

    async def send(obj: Any) -> None:
        if ws.closed:
            return
        async with lock:
            try:
                await ws.send_str(dumps(obj))
            except ConnectionError:
                pass

    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(msg.data)
                req_id = message.get("id")
                method = message["method"]
                params = message.get("params") or {}
            except (ValueError, KeyError, TypeError, AttributeError):
                await send({"id": None, "status": 400, "error": {"code": -1000, "msg": "Malformed request."}})
                continue
            if method == "ping":
                await send({"id": req_id, "status": 200, "result": {}})
            elif method == "time":
                await send({"id": req_id, "status": 200, "result": {"serverTime": ctx.now_ms()}})
            elif method == "userDataStream.subscribe.signature":
                account_name, error = _ws_api_signature_ok(ctx, params)
                if error is not None:
                    status = 401 if error["code"] in (-2015, -1022) else 400
                    await send({"id": req_id, "status": status, "error": error})
                    continue
                assert account_name is not None  # _ws_api_signature_ok returns an account or an error
                subscription_id = next_subscription
                next_subscription += 1
                queue: asyncio.Queue = asyncio.Queue()
                state.user_queues.setdefault(account_name, set()).add(queue)

                async def pump(sid: int = subscription_id, q: asyncio.Queue = queue, acct: str = account_name) -> None:
                    try:
                        while True:
                            event = await q.get()
                            await send({"subscriptionId": sid, "event": event})
                    finally:
                        state.user_queues.get(acct, set()).discard(q)

                pumps[subscription_id] = ctx.spawn(pump())
                await send({"id": req_id, "status": 200, "result": {"subscriptionId": subscription_id}})
            elif method == "userDataStream.unsubscribe":
                sid = params.get("subscriptionId")
                for key in [sid] if sid is not None else list(pumps):
                    task = pumps.pop(int(key), None)
                    if task:
                        task.cancel()
                await send({"id": req_id, "status": 200, "result": {}})
            else:
                await send(
                    {"id": req_id, "status": 400, "error": {"code": -1100, "msg": f"Unknown method '{method}'."}}
                )
    finally:
        for task in pumps.values():
            task.cancel()
        untrack()
    return ws


# ---- plug-in entry points --------------------------------------------------------------


def fault_response(ctx: EmulatorContext, kind: str, rule: FaultRule, request: web.Request) -> web.Response | None:
    """Binance's own answers for the server's HTTP faults."""
    if kind == "reply_then_act":
        # Binance: HTTP 5XX means the execution status is UNKNOWN (it may have succeeded).
        return BinanceError(
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
            status=int(rule.params.get("status", 503)),
        ).response()
    if kind == "http_429":
        limit = int(ctx.limiter.weight_per_minute)
        return BinanceError(
            -1003,
            f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
            "Please use WebSocket Streams for live updates to avoid polling the API.",
            status=429,
        ).response()
    if kind == "http_418":
        until = ctx.now_ms() + int(rule.params.get("retry_after", 120)) * 1000
        return BinanceError(
            -1003,
            f"Way too much request weight used; IP banned until {until}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
            status=418,
        ).response()
    return None


def generate_secret() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(64))


def build_routes(ctx: EmulatorContext) -> list[web.RouteDef]:
    _state(ctx)  # subscribe to engine events before any request

    async def not_found(request: web.Request) -> web.Response:
        return json_response({"code": -1000, "msg": f"Unknown endpoint {request.method} {request.path}"}, status=404)

    api = "/api/v3"
    return [
        web.get(f"{api}/ping", ping),
        web.get(f"{api}/time", server_time),
        web.get(f"{api}/exchangeInfo", exchange_info),
        web.get(f"{api}/depth", depth),
        web.get(f"{api}/ticker/24hr", ticker_24hr),
        web.get(f"{api}/trades", trades),
        web.get(f"{api}/aggTrades", agg_trades),
        web.get(f"{api}/klines", klines),
        web.get(f"{api}/ticker/bookTicker", ticker_book),
        web.get(f"{api}/ticker/price", ticker_price),
        web.get(f"{api}/account", account),
        web.post(f"{api}/order", new_order),
        web.get(f"{api}/order", query_order),
        web.delete(f"{api}/order", cancel_order),
        web.get(f"{api}/openOrders", open_orders),
        web.get(f"{api}/allOrders", all_orders),
        web.get(f"{api}/myTrades", my_trades),
        web.post(f"{api}/userDataStream", listen_key_new),
        web.put(f"{api}/userDataStream", listen_key_keepalive),
        web.delete(f"{api}/userDataStream", listen_key_close),
        web.get("/sapi/v1/system/status", system_status),
        web.get("/sapi/v1/capital/deposit/hisrec", deposit_history),
        web.get("/sapi/v1/capital/withdraw/history", withdraw_history),
        web.get("/stream", combined_stream),
        web.get("/stream/{tail:.*}", combined_stream),
        web.get("/ws", raw_stream),
        web.get("/ws/{tail:.*}", raw_stream),
        web.get("/ws-api/v3", ws_api),
        web.route("*", "/{tail:.*}", not_found),
    ]
