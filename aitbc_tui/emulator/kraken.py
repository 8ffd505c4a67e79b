"""Kraken spot REST protocol in front of the sim engine, as ccxt ``kraken`` speaks it.

Public: ``/0/public/{Time,SystemStatus,Assets,AssetPairs,Depth,Ticker,Trades,OHLC}``. Trades,
OHLC and Ticker's figures come from every trade the engine made (the simulated flow's too):
Ticker's "today" columns since 00:00 UTC, the second columns the rolling 24 h; a trade's
order-type column is always "l" (the engine's public trade does not carry it); Trades' ``since``
is seconds (what ccxt sends) or nanoseconds (Kraken's ``last``), exclusive; OHLC intervals 1, 5,
15, 60, 240, 1440 minutes, ``since`` exclusive, at most 720 candles.
Private (POST, form-encoded, ``API-Key`` + ``API-Sign``, strictly increasing ``nonce`` per key):
``/0/private/{Balance,BalanceEx,AddOrder,CancelOrder,OpenOrders,ClosedOrders,QueryOrders,
TradesHistory,GetWebSocketsToken}``. WebSocket v2 (``book``, ``executions``): kraken_ws.py.

Orders: ``timeinforce`` GTC (default) or IOC (Kraken spot has no FOK: anything else is
``EGeneral:Invalid arguments``), ``oflags=post``: a post-only order that would take liquidity
is accepted and at once canceled with reason "Post only order", as Kraken does (no error).

Rate limits, Kraken's own model (starter tier unless options say otherwise):
- the REST call counter per API key: at most ``rest_counter_max`` (15), decaying
  ``rest_decay_per_s`` (0.33/s); every private call +1, TradesHistory / QueryTrades / Ledgers /
  QueryLedgers +2; AddOrder and CancelOrder do not count. Over it: ``EAPI:Rate limit exceeded``.
- the trading-engine counter per key and pair: threshold ``order_counter_max`` (60), decaying
  ``order_decay_per_s`` (1/s); AddOrder +1, and a cancel adds a penalty by the order's age
  (< 5 s +8, < 10 s +6, < 15 s +5, < 45 s +4, < 90 s +2, < 300 s +1). An AddOrder that would
  pass the threshold is ``EOrder:Rate limit exceeded``; cancels are always processed.
Both are answered with HTTP 429 and Retry-After (the seconds until the call would pass).
Public calls keep the per-IP budget of ``weight_per_minute``.

Every answer is Kraken's envelope ``{"error": [...], "result": ...}``. Error strings are the ones
ccxt's kraken exception map knows, so each reaches a ccxt caller as the intended exception:
``EAPI:Invalid key`` (AuthenticationError), ``EAPI:Invalid nonce`` (InvalidNonce),
``EOrder:Insufficient funds`` (InsufficientFunds), ``EOrder:Order minimum not met`` /
``EGeneral:Invalid arguments:volume`` / ``EGeneral:Invalid arguments:price`` /
``EOrder:Invalid price:Invalid price argument`` (InvalidOrder), ``EOrder:Unknown order`` on cancel
(ccxt turns it into OrderNotFound), ``EAPI:Rate limit exceeded`` / ``EGeneral:Too many requests``
with HTTP 429 and Retry-After (DDoSProtection).

Asset codes follow Kraken: BTC is ``XXBT`` (altname ``XBT``), ETH ``XETH``, USD ``ZUSD``; newer
assets (USDT, AITBC) keep their own code. Pair ids follow Kraken too (``XETHXXBT`` when both
legs are legacy X/Z assets, otherwise the altname such as ``XBTUSDT``), and ccxt's
commonCurrencies turn them back into BTC/USDT, ETH/BTC, ...
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
import urllib.parse
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from email.utils import formatdate
from typing import Any

from aiohttp import web

from aitbc_tui.domain import (
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
from aitbc_tui.emulator.server import EmulatorContext, FaultRule, is_deferred, json_response

CCXT_ID = "kraken"
WS_PATH = "/v2"  # WebSocket v2, public; the private endpoint is /auth/v2 (kraken_ws.py)
# With fetchCurrencies off ccxt's load_markets calls only AssetPairs (Assets is served anyway).
CCXT_OPTIONS: dict[str, Any] = {}

PUBLIC_PREFIX = "/0/public/"
PRIVATE_PREFIX = "/0/private/"

# Kraken's own codes for assets that predate its naming scheme; others keep their code.
ASSET_CODES: dict[str, str] = {
    "BTC": "XXBT",
    "ETH": "XETH",
    "LTC": "XLTC",
    "XRP": "XXRP",
    "XLM": "XXLM",
    "DOGE": "XXDG",
    "USD": "ZUSD",
    "EUR": "ZEUR",
    "GBP": "ZGBP",
    "JPY": "ZJPY",
    "CAD": "ZCAD",
}
ASSET_ALTNAMES: dict[str, str] = {"XXBT": "XBT", "XXDG": "XDG"}

PUBLIC_WEIGHT = 1
# Kraken's REST call counter: what each private call adds (orders use the trading counter).
REST_COST = {"AddOrder": 0, "CancelOrder": 0, "CancelAllOrdersAfter": 0,
             "TradesHistory": 2, "QueryTrades": 2, "Ledgers": 2, "QueryLedgers": 2}  # fmt: skip
DEFAULT_REST_COST = 1
STARTER_LIMITS = {
    "rest_counter_max": 15.0,
    "rest_decay_per_s": 0.33,
    "order_counter_max": 60.0,
    "order_decay_per_s": 1.0,
}
# Trading-counter penalty of a cancel by the order's age in seconds (Kraken's table).
CANCEL_PENALTY = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))


def cancel_penalty(age_s: float) -> int:
    for limit, penalty in CANCEL_PENALTY:
        if age_s < limit:
            return penalty
    return 0


class DecayingCounter:
    """A counter that falls by ``decay_per_s`` every second, never below zero."""

    def __init__(self, maximum: float, decay_per_s: float, clock: Any = time.monotonic) -> None:
        self.maximum = maximum
        self.decay_per_s = decay_per_s
        self._clock = clock
        self._value = 0.0
        self._at = clock()

    @property
    def value(self) -> float:
        now = self._clock()
        self._value = max(0.0, self._value - (now - self._at) * self.decay_per_s)
        self._at = now
        return self._value

    def try_add(self, cost: float) -> float | None:
        """Add ``cost`` unless that passes the maximum; then return seconds until it would fit."""
        value = self.value
        if value + cost > self.maximum:
            return (value + cost - self.maximum) / self.decay_per_s if self.decay_per_s > 0 else 60.0
        self._value = value + cost
        return None

    def add(self, cost: float) -> None:
        self._value = self.value + cost


NONCE_STATE = "kraken.last_nonce"


def generate_secret() -> str:
    """Kraken secrets are base64 of 64 random bytes."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def generate_api_key() -> str:
    return base64.b64encode(secrets.token_bytes(42)).decode()


def ccxt_urls(http_url: str, ws_url: str) -> dict:
    urls: dict[str, Any] = {"public": http_url, "private": http_url}
    if ws_url:
        root = ws_url[: -len(WS_PATH)] if ws_url.endswith(WS_PATH) else ws_url
        # ccxt.pro kraken speaks v2 only; "private" is just where it caches the REST token,
        # and v1 is not served (a client that tried it would fail here, not reach Kraken).
        urls["ws"] = {"public": f"{root}/v1", "private": f"{root}/auth", "publicV2": f"{root}/v2",
                      "privateV2": f"{root}/auth/v2"}  # fmt: skip
    return urls


# ---- naming ------------------------------------------------------------------------------


def asset_code(asset: str) -> str:
    return ASSET_CODES.get(asset, asset)


def asset_altname(asset: str) -> str:
    code = asset_code(asset)
    if code in ASSET_ALTNAMES:
        return ASSET_ALTNAMES[code]
    if code != asset and len(code) == 4 and code[0] in "XZ":
        return code[1:]
    return code


def _is_legacy(code: str) -> bool:
    return len(code) == 4 and code[0] in "XZ" and code not in ("XTZ",)


def pair_altname(market: Market) -> str:
    return asset_altname(market.base) + asset_altname(market.quote)


def pair_id(market: Market) -> str:
    base, quote = asset_code(market.base), asset_code(market.quote)
    if _is_legacy(base) and _is_legacy(quote) and base != market.base:
        return base + quote
    return pair_altname(market)


def wsname(market: Market) -> str:
    return f"{asset_altname(market.base)}/{asset_altname(market.quote)}"


def decimals_of(step: Decimal) -> int:
    """Digits after the point of an increment: 0.01 -> 2, 1 -> 0."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def fmt(value: Decimal | None, places: int) -> str:
    if value is None:
        value = Decimal(0)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def percent(rate: Decimal) -> float:
    """Kraken publishes fee tiers as percent numbers: 0.0025 -> 0.25."""
    return float(rate * 100)


class _Markets:
    """Lookup of the engine's markets by every name Kraken accepts (id, altname, wsname)."""

    def __init__(self, markets: dict[str, Market]) -> None:
        self.by_symbol = dict(markets)
        self.by_name: dict[str, Market] = {}
        for market in markets.values():
            for name in (pair_id(market), pair_altname(market), wsname(market)):
                self.by_name[name.upper()] = market

    def find(self, name: str | None) -> Market | None:
        if not name:
            return None
        return self.by_name.get(name.upper())


# ---- errors ------------------------------------------------------------------------------


class KrakenError(Exception):
    def __init__(self, code: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.headers = headers


def envelope(result: Any) -> web.Response:
    return json_response({"error": [], "result": result})


def error_response(exc: KrakenError) -> web.Response:
    return json_response({"error": [exc.code]}, status=exc.status, headers=exc.headers)


def _rate_limited(code: str, retry_after: float) -> KrakenError:
    return KrakenError(code, status=429, headers={"Retry-After": str(max(1, int(retry_after + 0.999)))})


# ---- the protocol ------------------------------------------------------------------------


class KrakenProtocol:
    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self._markets: _Markets | None = None
        self._last_nonce: dict[str, int] = ctx.state.setdefault(NONCE_STATE, {})
        self.limits = {k: float(ctx.options.get(k, v)) for k, v in STARTER_LIMITS.items()}
        self.rest_counters: dict[str, DecayingCounter] = ctx.state.setdefault("kraken.rest_counters", {})
        self.order_counters: dict[tuple[str, str], DecayingCounter] = ctx.state.setdefault("kraken.order_counters", {})

    def rest_counter(self, api_key: str) -> DecayingCounter:
        counter = self.rest_counters.get(api_key)
        if counter is None:
            counter = self.rest_counters[api_key] = DecayingCounter(
                self.limits["rest_counter_max"], self.limits["rest_decay_per_s"]
            )
        return counter

    def order_counter(self, account: str, symbol: str) -> DecayingCounter:
        counter = self.order_counters.get((account, symbol))
        if counter is None:
            counter = self.order_counters[(account, symbol)] = DecayingCounter(
                self.limits["order_counter_max"], self.limits["order_decay_per_s"]
            )
        return counter

    @property
    def markets(self) -> _Markets:
        if self._markets is None:
            self._markets = _Markets(self.engine.markets)
        return self._markets

    # -- plumbing ----------------------------------------------------------------------

    def routes(self) -> Iterable[web.RouteDef]:
        public = {
            "Time": self.time,
            "SystemStatus": self.system_status,
            "Assets": self.assets,
            "AssetPairs": self.asset_pairs,
            "Depth": self.depth,
            "Ticker": self.ticker,
            "Trades": self.trades,
            "OHLC": self.ohlc,
        }
        private = {
            "Balance": self.balance,
            "BalanceEx": self.balance_ex,
            "AddOrder": self.add_order,
            "CancelOrder": self.cancel_order,
            "OpenOrders": self.open_orders,
            "ClosedOrders": self.closed_orders,
            "QueryOrders": self.query_orders,
            "TradesHistory": self.trades_history,
            "CancelAllOrdersAfter": self.cancel_all_orders_after,
            "GetWebSocketsToken": self.get_websockets_token,
        }
        routes: list[web.RouteDef] = []
        for name, handler in public.items():
            wrapped = self._public(handler)
            routes.append(web.get(PUBLIC_PREFIX + name, wrapped))
            routes.append(web.post(PUBLIC_PREFIX + name, wrapped))
        for name, private_handler in private.items():
            routes.append(web.post(PRIVATE_PREFIX + name, self._private(name, private_handler)))
        return routes

    def _public(self, handler: Any) -> Any:
        async def serve(request: web.Request) -> web.Response:
            try:
                self._check_faults("")
                retry = self.ctx.charge(f"ip:{request.remote}", PUBLIC_WEIGHT)
                if retry is not None:
                    raise _rate_limited("EGeneral:Too many requests", retry)
                params: dict[str, str] = dict(request.query)
                if request.method == "POST":
                    params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
                return envelope(handler(params))
            except KrakenError as exc:
                return error_response(exc)

        return serve

    def _private(self, name: str, handler: Any) -> Any:
        async def serve(request: web.Request) -> web.Response:
            try:
                body = await request.text()
                params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
                api_key = request.headers.get("API-Key", "")
                account = self._authenticate(
                    api_key, request.headers.get("API-Sign"), name, body, params, deferred=is_deferred(request)
                )
                self._check_faults(api_key)
                cost = REST_COST.get(name, DEFAULT_REST_COST)
                if cost:
                    retry = self.rest_counter(api_key).try_add(cost)
                    if retry is not None:
                        raise _rate_limited("EAPI:Rate limit exceeded", retry)
                return envelope(handler(account, params))
            except KrakenError as exc:
                return error_response(exc)

        return serve

    def _check_faults(self, key: str) -> None:
        if self.ctx.take_fault("rate_limit", key):
            raise _rate_limited("EAPI:Rate limit exceeded", 1)
        if self.ctx.take_fault("unavailable", key):
            raise KrakenError("EService:Unavailable", status=503)
        if self.ctx.take_fault("busy", key):
            raise KrakenError("EService:Busy")

    def _authenticate(self, api_key: str, api_sign: str | None, name: str, body: str, params: dict[str, str],
                      deferred: bool = False) -> str:  # fmt: skip
        account = self.ctx.authenticate(api_key)
        secret = self.ctx.secret_for(api_key)
        if account is None or secret is None:
            raise KrakenError("EAPI:Invalid key")
        if not api_sign:
            raise KrakenError("EAPI:Invalid signature")
        try:
            given = base64.b64decode(api_sign, validate=True)
            key = base64.b64decode(secret)
        except (binascii.Error, ValueError):
            raise KrakenError("EAPI:Invalid signature") from None
        nonce = params.get("nonce", "")
        message = (PRIVATE_PREFIX + name).encode() + hashlib.sha256((nonce + body).encode()).digest()
        expected = hmac.new(key, message, hashlib.sha512).digest()
        if not hmac.compare_digest(given, expected):
            # Kraken answers a signature that does not match the request with "Invalid key"
            # (support article "Common causes of invalid key error"), which ccxt maps to
            # AuthenticationError; "Invalid signature" is kept for a malformed header.
            raise KrakenError("EAPI:Invalid key")
        try:
            nonce_value = int(nonce)
        except ValueError:
            raise KrakenError("EAPI:Invalid nonce") from None
        if deferred:
            return account  # applied after its reply (fault reply_then_act): later nonces passed it
        if nonce_value <= self._last_nonce.get(api_key, 0):
            raise KrakenError("EAPI:Invalid nonce")
        self._last_nonce[api_key] = nonce_value
        return account

    def _market(self, params: dict[str, str]) -> Market:
        market = self.markets.find(params.get("pair"))
        if market is None:
            raise KrakenError("EQuery:Unknown asset pair")
        return market

    # -- public ------------------------------------------------------------------------

    def time(self, params: dict[str, str]) -> dict:
        now = self.ctx.now()
        return {"unixtime": int(now), "rfc1123": formatdate(now, usegmt=True)}

    def system_status(self, params: dict[str, str]) -> dict:
        now = time.gmtime(self.ctx.now())
        return {"status": "online", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", now)}

    def assets(self, params: dict[str, str]) -> dict:
        assets: set[str] = set()
        for market in self.engine.markets.values():
            assets.update((market.base, market.quote))
        wanted = {a.upper() for a in params.get("asset", "").split(",") if a}
        result = {}
        for asset in sorted(assets):
            code = asset_code(asset)
            if wanted and not wanted & {asset, code, asset_altname(asset)}:
                continue
            result[code] = {
                "aclass": "currency",
                "altname": asset_altname(asset),
                "decimals": 10 if code.startswith("X") else 8,
                "display_decimals": 5,
                "status": "enabled",
            }
        if wanted and not result:
            raise KrakenError("EQuery:Unknown asset")
        return result

    def asset_pairs(self, params: dict[str, str]) -> dict:
        wanted = [p for p in params.get("pair", "").split(",") if p]
        markets = list(self.engine.markets.values())
        if wanted:
            markets = [m for m in (self.markets.find(p) for p in wanted) if m is not None]
            if not markets:
                raise KrakenError("EQuery:Unknown asset pair")
        return {pair_id(m): self._pair_info(m) for m in markets}

    def _pair_info(self, market: Market) -> dict:
        pair_decimals = decimals_of(market.tick_size)
        return {
            "altname": pair_altname(market),
            "wsname": wsname(market),
            "aclass_base": "currency",
            "base": asset_code(market.base),
            "aclass_quote": "currency",
            "quote": asset_code(market.quote),
            "lot": "unit",
            "cost_decimals": pair_decimals + 2,
            "pair_decimals": pair_decimals,
            "lot_decimals": decimals_of(market.lot_size),
            "lot_multiplier": 1,
            "leverage_buy": [],
            "leverage_sell": [],
            "fees": [[0, percent(market.taker_fee)]],
            "fees_maker": [[0, percent(market.maker_fee)]],
            "fee_volume_currency": "ZUSD",
            "margin_call": 80,
            "margin_stop": 40,
            "ordermin": format(market.min_amount, "f"),
            "costmin": format(market.min_notional, "f"),
            "tick_size": format(market.tick_size, "f"),
            "status": "online",
        }

    def depth(self, params: dict[str, str]) -> dict:
        market = self._market(params)
        try:
            count = int(params.get("count") or 100)
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments:count") from None
        count = max(1, min(count, 500))
        book = self.engine.book(market.symbol, count)
        pd, ld = decimals_of(market.tick_size), decimals_of(market.lot_size)
        stamp = int(book.timestamp or self.ctx.clock())

        def levels(side: Iterable[tuple[Decimal, Decimal]]) -> list:
            return [[fmt(price, pd), fmt(size, ld), stamp] for price, size in side]

        return {pair_id(market): {"asks": levels(book.asks), "bids": levels(book.bids)}}

    def ticker(self, params: dict[str, str]) -> dict:
        names = [p for p in params.get("pair", "").split(",") if p]
        markets = [self.markets.find(n) for n in names] if names else list(self.engine.markets.values())
        if any(m is None for m in markets):
            raise KrakenError("EQuery:Unknown asset pair")
        return {pair_id(m): self._ticker(m) for m in markets if m is not None}

    def _ticker(self, market: Market) -> dict:
        book = self.engine.book(market.symbol, 1)
        pd, ld = decimals_of(market.tick_size), decimals_of(market.lot_size)
        bid = book.bids[0] if book.bids else (Decimal(0), Decimal(0))
        ask = book.asks[0] if book.asks else (Decimal(0), Decimal(0))
        day = self.engine.ticker(market.symbol)
        last = day.last if day.last is not None else (_last_price(self.engine, market.symbol) or book.mid or Decimal(0))
        now = self.ctx.clock()
        midnight = int(now // 86400) * 86400
        today = next((c for c in self.engine.candles(market.symbol, "1d", limit=1) if c.open_time == midnight), None)

        def figures(volume, quote, count, low, high):
            vwap = quote / volume if volume else last
            # Kraken's vwap has 5 more decimals than its prices
            return (
                fmt(volume, ld),
                fmt(vwap, pd + 5),
                count,
                fmt(low if low is not None else last, pd),
                fmt(high if high is not None else last, pd),
            )

        t_v, t_p, t_t, t_l, t_h = figures(today.volume if today else Decimal(0), today.quote_volume if today else Decimal(0),
                                          today.trades if today else 0, today.low if today else None,
                                          today.high if today else None)  # fmt: skip
        d_v, d_p, d_t, d_l, d_h = figures(day.base_volume, day.quote_volume, day.trades, day.low, day.high)
        return {
            "a": [fmt(ask[0], pd), str(int(ask[1])), fmt(ask[1], 3)],
            "b": [fmt(bid[0], pd), str(int(bid[1])), fmt(bid[1], 3)],
            "c": [fmt(last, pd), fmt(day.last_amount or Decimal(0), ld)],
            "v": [t_v, d_v],
            "p": [t_p, d_p],
            "t": [t_t, d_t],
            "l": [t_l, d_l],
            "h": [t_h, d_h],
            "o": fmt(today.open if today else last, pd),
        }

    def trades(self, params: dict[str, str]) -> dict:
        market = self._market(params)
        try:
            count = int(params.get("count") or 1000)
            since = Decimal(params["since"]) if params.get("since") else None
        except (ValueError, ArithmeticError):
            raise KrakenError("EGeneral:Invalid arguments") from None
        count = max(1, min(count, 1000))
        trades = self.engine.recent_trades(market.symbol)
        if since is not None:
            since_s = since / 1_000_000_000 if since > 10**12 else since
            trades = [t for t in trades if Decimal(repr(t.time)) > since_s][:count]
        else:
            trades = trades[-count:]
        pd, ld = decimals_of(market.tick_size), decimals_of(market.lot_size)
        rows = [[fmt(t.price, pd), fmt(t.amount, ld), round(t.time, 4), "b" if t.side is Side.BUY else "s", "l", "",
                 int(t.id)] for t in trades]  # fmt: skip
        if trades:
            last = int(trades[-1].time * 1_000_000_000)
        else:  # nothing newer: the cursor stays where the client is
            last = int(since if since is not None and since > 10**12 else (since or 0) * 1_000_000_000)
        return {pair_id(market): rows, "last": str(last)}

    OHLC_INTERVALS = {1: "1m", 5: "5m", 15: "15m", 60: "1h", 240: "4h", 1440: "1d"}

    def ohlc(self, params: dict[str, str]) -> dict:
        market = self._market(params)
        try:
            interval = int(params.get("interval") or 1)
            since = int(params["since"]) if params.get("since") else None
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments") from None
        timeframe = self.OHLC_INTERVALS.get(interval)
        if timeframe is None:
            raise KrakenError("EGeneral:Invalid arguments")
        candles = self.engine.candles(market.symbol, timeframe)
        if since is not None:
            candles = [c for c in candles if c.open_time > since]
        candles = candles[-720:]
        pd = decimals_of(market.tick_size)
        rows = [[c.open_time, fmt(c.open, pd), fmt(c.high, pd), fmt(c.low, pd), fmt(c.close, pd),
                 fmt(c.quote_volume / c.volume if c.volume else c.close, pd), fmt(c.volume, 8), c.trades]
                for c in candles]  # fmt: skip
        return {pair_id(market): rows, "last": candles[-1].open_time if candles else (since or 0)}

    # -- private: balances -------------------------------------------------------------

    def _balances(self, account: str) -> dict:
        return self.engine.balances(account)

    def balance(self, account: str, params: dict[str, str]) -> dict:
        return {asset_code(a): fmt(b.total, 10) for a, b in sorted(self._balances(account).items())}

    def balance_ex(self, account: str, params: dict[str, str]) -> dict:
        return {
            asset_code(a): {"balance": fmt(b.total, 10), "hold_trade": fmt(b.used, 10)}
            for a, b in sorted(self._balances(account).items())
        }

    # -- private: orders ---------------------------------------------------------------

    def add_order(self, account: str, params: dict[str, str]) -> dict:
        market = self._market(params)
        side_raw = params.get("type", "")
        if side_raw not in ("buy", "sell"):
            raise KrakenError("EGeneral:Invalid arguments:type")
        ordertype = params.get("ordertype", "")
        if ordertype not in ("limit", "market"):
            raise KrakenError("EGeneral:Invalid arguments:ordertype")
        oflags = {f.strip() for f in params.get("oflags", "").split(",") if f.strip()}
        if "viqc" in oflags:
            raise KrakenError("EGeneral:Invalid arguments:viqc")
        if oflags - {"post", "fcib", "fciq", "nompp"}:
            raise KrakenError("EGeneral:Invalid arguments:oflags")
        post_only = "post" in oflags
        tif_raw = (params.get("timeinforce") or "GTC").upper()
        if tif_raw not in ("GTC", "IOC"):
            # Kraken spot knows GTC, IOC and GTD (GTD needs expiretm, not served here); no FOK.
            raise KrakenError("EGeneral:Invalid arguments")
        time_in_force = TimeInForce(tif_raw.lower())
        if post_only and (ordertype != "limit" or time_in_force is not TimeInForce.GTC):
            raise KrakenError("EGeneral:Invalid arguments")
        amount = _decimal(params.get("volume"))
        if amount is None or amount <= 0 or amount % market.lot_size != 0:
            raise KrakenError("EGeneral:Invalid arguments:volume")
        price: Decimal | None = None
        if ordertype == "limit":
            price = _decimal(params.get("price"))
            if price is None or price <= 0:
                raise KrakenError("EGeneral:Invalid arguments:price")
            if price % market.tick_size != 0:
                raise KrakenError("EOrder:Invalid price:Invalid price argument")
        if amount < market.min_amount:
            raise KrakenError("EOrder:Order minimum not met")
        reference = price if price is not None else (self.engine.book(market.symbol, 1).mid or Decimal(0))
        if reference and amount * reference < market.min_notional:
            raise KrakenError("EOrder:Order minimum not met")
        client_id = params.get("cl_ord_id", "")
        if client_id:
            if len(client_id) > 36:
                raise KrakenError("EGeneral:Invalid arguments:cl_ord_id")
            if any(o.client_order_id == client_id for o in self.engine.open_orders(account)):
                raise KrakenError("EOrder:Duplicate cl_ord_id")
        if params.get("validate") in ("true", "True", "1"):
            return {"descr": {"order": _description(market, side_raw, ordertype, amount, price)}}
        retry = self.order_counter(account, market.symbol).try_add(1)
        if retry is not None:
            raise _rate_limited("EOrder:Rate limit exceeded", retry)
        try:
            order, _fills = self.engine.place(
                account, market.symbol, Side(side_raw), OrderType(ordertype), amount, price, client_order_id=client_id,
                time_in_force=time_in_force, post_only=post_only,
            )  # fmt: skip
        except InsufficientFunds:
            raise KrakenError("EOrder:Insufficient funds") from None
        except OrderRejected as exc:
            if post_only and "post-only" in str(exc):
                order = self._post_only_canceled(account, market, Side(side_raw), amount, price, client_id)
            else:
                raise KrakenError(_reject_code(str(exc))) from None
        result: dict[str, Any] = {
            "descr": {"order": _description(market, side_raw, ordertype, amount, price)},
            "txid": [order.id],
        }
        if client_id:
            result["cl_ord_id"] = client_id
        return result

    def cancel_order(self, account: str, params: dict[str, str]) -> dict:
        txid, client_id = params.get("txid", ""), params.get("cl_ord_id", "")
        if not txid and not client_id:
            raise KrakenError("EGeneral:Invalid arguments:txid")
        order = self._find(account, txid, client_id)
        if order is None or order.status is not OrderStatus.OPEN:
            raise KrakenError("EOrder:Unknown order")
        try:
            self.engine.cancel(account, order.id)
        except OrderNotFound:
            raise KrakenError("EOrder:Unknown order") from None
        # Cancelling a young order costs trading-counter points (always processed).
        self.order_counter(account, order.symbol).add(cancel_penalty(self.ctx.clock() - order.created_at))
        return {"count": 1}

    def _post_only_canceled(self, account: str, market: Market, side: Side, amount: Decimal,
                            price: Decimal | None, client_id: str) -> Order:  # fmt: skip
        """Kraken accepts a post-only order that would take and cancels it at once."""
        engine = self.engine
        order_id = str(engine.next_order_number)
        engine.next_order_number += 1
        now = self.ctx.clock()
        order = Order(
            id=order_id, venue=engine.venue, symbol=market.symbol, side=side, type=OrderType.LIMIT,
            amount=amount, price=price, client_order_id=client_id, status=OrderStatus.CANCELED,
            filled=Decimal(0), created_at=now, updated_at=now, fee_currency=market.quote, message="Post only order",
            post_only=True,
        )  # fmt: skip
        engine.restore_closed_order(order, account)
        return order

    def get_websockets_token(self, account: str, params: dict[str, str]) -> dict:
        from aitbc_tui.emulator import kraken_ws

        return kraken_ws.issue_token(self.ctx, account)

    def cancel_all_orders_after(self, account: str, params: dict[str, str]) -> dict:
        """Dead man's switch: cancel every open order of the account ``timeout`` seconds
        from now unless called again; ``timeout=0`` disarms it."""
        try:
            timeout = int(params.get("timeout", ""))
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments:timeout") from None
        if not 0 <= timeout <= 86400:
            raise KrakenError("EGeneral:Invalid arguments:timeout")
        timers = self.ctx.state.setdefault("kraken_dead_man", {})
        previous = timers.pop(account, None)
        if previous is not None:
            previous.cancel()
        now = self.ctx.clock()
        if timeout == 0:
            return {"currentTime": _iso(now), "triggerTime": "0"}

        async def fire() -> None:
            await asyncio.sleep(timeout)
            timers.pop(account, None)
            for order in list(self.engine.open_orders(account)):
                try:
                    self.engine.cancel(account, order.id)
                except OrderNotFound:
                    pass

        timers[account] = self.ctx.spawn(fire())
        return {"currentTime": _iso(now), "triggerTime": _iso(now + timeout)}

    def _find(self, account: str, txid: str, client_id: str) -> Order | None:
        if client_id:
            return self.engine.get_order(account, client_order_id=client_id)
        order = self.engine.get_order(account, order_id=txid)
        if order is None:
            # Kraken accepts a cl_ord_id or userref in place of the txid on cancel.
            order = self.engine.get_order(account, client_order_id=txid)
        return order

    def open_orders(self, account: str, params: dict[str, str]) -> dict:
        orders = self._filtered(self.engine.open_orders(account), params)
        return {"open": {o.id: self._order_info(o) for o in orders}}

    def closed_orders(self, account: str, params: dict[str, str]) -> dict:
        orders = self._filtered(self.engine.closed_orders(account, limit=1000), params)
        return {"closed": {o.id: self._order_info(o) for o in orders[:50]}, "count": len(orders)}

    def _filtered(self, orders: Iterable[Order], params: dict[str, str]) -> list[Order]:
        client_id = params.get("cl_ord_id") or ""
        userref = params.get("userref") or ""
        start = _decimal(params.get("start"))
        end = _decimal(params.get("end"))
        result = []
        for order in orders:
            if client_id and order.client_order_id != client_id:
                continue
            if userref and order.client_order_id != userref:
                continue
            if start is not None and Decimal(str(order.created_at)) < start:
                continue
            if end is not None and Decimal(str(order.created_at)) > end:
                continue
            result.append(order)
        return result

    def trades_history(self, account: str, params: dict[str, str]) -> dict:
        """The account's fills, newest first, 50 a page (``ofs``), ``start`` / ``end`` in epoch s."""
        from aitbc_tui.sim.engine import FILL_HISTORY

        start, end = _decimal(params.get("start")), _decimal(params.get("end"))
        try:
            offset = max(0, int(params.get("ofs") or 0))
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments:ofs") from None
        fills = []
        for fill in self.engine.fills(account, limit=FILL_HISTORY):  # newest first
            stamp = Decimal(str(fill.timestamp))
            if (start is not None and stamp <= start) or (end is not None and stamp > end):
                continue
            fills.append(fill)
        trades = {}
        for fill in fills[offset : offset + 50]:
            market = self.engine.markets[fill.symbol]
            order = self.engine.get_order(account, order_id=fill.order_id)
            pd = decimals_of(market.tick_size)
            trades[trade_txid(fill)] = {
                "ordertxid": fill.order_id,
                "postxid": _txid("P", fill.trade_id or fill.order_id),
                "pair": pair_id(market),
                "time": fill.timestamp,
                "type": fill.side.value,
                "ordertype": order.type.value if order is not None else "limit",
                "price": fmt(fill.price, pd),
                "cost": fmt(fill.price * fill.amount, pd + 2),
                "fee": fmt(fill.fee, pd + 2),
                "vol": fmt(fill.amount, 8),
                "margin": fmt(Decimal(0), pd + 2),
                "leverage": "0",
                "misc": "",
                "trade_id": _trade_number(fill),
                "maker": bool(fill.is_maker),
            }
        return {"trades": trades, "count": len(fills)}

    def query_orders(self, account: str, params: dict[str, str]) -> dict:
        txids = [t for t in params.get("txid", "").split(",") if t]
        userref = params.get("userref", "")
        if not txids and not userref:
            raise KrakenError("EGeneral:Invalid arguments:txid")
        if len(txids) > 50:
            raise KrakenError("EGeneral:Invalid arguments:txid")
        found: dict[str, dict] = {}
        for txid in txids:
            order = self.engine.get_order(account, order_id=txid)
            if order is not None:
                found[order.id] = self._order_info(order)
        if userref:
            order = self.engine.get_order(account, client_order_id=userref)
            if order is not None:
                found[order.id] = self._order_info(order)
        # Unknown ids are left out; ccxt's fetch_order then raises OrderNotFound.
        return found

    def _order_info(self, order: Order) -> dict:
        market = self.engine.markets[order.symbol]
        pd = decimals_of(market.tick_size)
        status = {
            OrderStatus.PENDING: "pending",
            OrderStatus.OPEN: "open",
            OrderStatus.FILLED: "closed",
            OrderStatus.CANCELED: "canceled",
            OrderStatus.REJECTED: "canceled",
            OrderStatus.UNKNOWN: "pending",
        }[order.status]
        average = order.average_price or Decimal(0)
        info: dict[str, Any] = {
            "refid": None,
            "userref": 0,
            "cl_ord_id": order.client_order_id or None,
            "status": status,
            "opentm": order.created_at,
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": pair_altname(market),
                "type": order.side.value,
                "ordertype": order.type.value,
                "price": fmt(order.price or Decimal(0), pd),
                "price2": "0",
                "leverage": "none",
                "order": _description(market, order.side.value, order.type.value, order.amount, order.price),
                "close": "",
            },
            "vol": fmt(order.amount, 8),
            "vol_exec": fmt(order.filled, 8),
            "cost": fmt(order.filled * average, pd + 2),
            "fee": fmt(order.fee, pd + 2),
            "price": fmt(average, pd),
            "stopprice": "0.00000",
            "limitprice": "0.00000",
            "misc": "",
            "oflags": ("fciq" if (order.fee_currency or market.quote) == market.quote else "fcib")
            + (",post" if order.post_only or order.message == "Post only order" else ""),
            "timeinforce": order.time_in_force.value.upper() if order.type is OrderType.LIMIT else "IOC",
        }
        if info["cl_ord_id"] is None:
            del info["cl_ord_id"]
        if order.status.is_final:
            info["closetm"] = order.updated_at
            if order.status is OrderStatus.CANCELED:
                if order.message == "Post only order":
                    info["reason"] = "Post only order"
                elif order.type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC:
                    info["reason"] = "Immediate or cancel"  # the remainder of an IOC / market order
                else:
                    info["reason"] = "User requested"
            elif order.status is OrderStatus.REJECTED:
                info["reason"] = order.message or "Rejected"
        return info


# ---- helpers -----------------------------------------------------------------------------


def _txid(prefix: str, seed: str) -> str:
    """A Kraken-shaped id (``TABCDE-FGHIJ-KLMNOP``), stable for the same seed."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()
    return f"{prefix}{digest[:5]}-{digest[5:10]}-{digest[10:16]}"


def trade_txid(fill: Any) -> str:
    return _txid("T", fill.trade_id or f"{fill.order_id}:{fill.timestamp}:{fill.amount}")


def _trade_number(fill: Any) -> int:
    return int.from_bytes(hashlib.sha256((fill.trade_id or fill.order_id).encode()).digest()[:6], "big")


def fault_response(ctx: EmulatorContext, kind: str, rule: FaultRule, request: web.Request) -> web.Response | None:
    """Kraken's own answers for the server's HTTP faults (its errors come in the JSON envelope)."""
    if kind in ("http_429", "http_418"):
        private = request.path.startswith(PRIVATE_PREFIX)
        code = "EAPI:Rate limit exceeded" if private else "EGeneral:Too many requests"
        return json_response({"error": [code]}, status=429 if kind == "http_429" else 418)
    if kind == "reply_then_act":
        # What a client may see while the order still goes through: the gateway gave up.
        return json_response({"error": ["EService:Unavailable"]}, status=int(rule.params.get("status", 503)))
    return None


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def _decimal(raw: str | None) -> Decimal | None:
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _description(market: Market, side: str, ordertype: str, amount: Decimal, price: Decimal | None) -> str:
    text = f"{side} {fmt(amount, 8)} {pair_altname(market)} @ {ordertype}"
    if ordertype == "limit" and price is not None:
        text += f" {fmt(price, decimals_of(market.tick_size))}"
    return text


def _reject_code(reason: str) -> str:
    """Kraken's error string for an engine rejection the protocol did not catch first."""
    lowered = reason.lower()
    if "minimum" in lowered or "notional" in lowered or "too small" in lowered:
        return "EOrder:Order minimum not met"
    if "price" in lowered or "tick" in lowered:
        return "EOrder:Invalid price:Invalid price argument"
    if "amount" in lowered or "lot" in lowered or "volume" in lowered:
        return "EGeneral:Invalid arguments:volume"
    if "liquidity" in lowered:
        return "EOrder:Insufficient liquidity"
    return "EOrder:Invalid order"


def _last_price(engine: Any, symbol: str) -> Decimal | None:
    last = getattr(engine, "last_price", None)
    if last is None:
        return None
    try:
        value = last(symbol) if callable(last) else last.get(symbol)
    except Exception:  # an optional engine feature; the mid price stands in
        return None
    return value if isinstance(value, Decimal) else None


def build_routes(ctx: EmulatorContext) -> Iterable[web.RouteDef]:
    from aitbc_tui.emulator import kraken_ws

    return [*KrakenProtocol(ctx).routes(), *kraken_ws.routes(ctx)]
