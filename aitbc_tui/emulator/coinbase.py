"""Coinbase Advanced Trade REST protocol in front of the sim engine, as ccxt ``coinbase`` speaks it.

Public: ``/api/v3/brokerage/market/{products,products/{id},products/{id}/ticker,products/{id}/candles,
product_book}``; the ticker's ``trades`` are the engine's trades (newest first, ``limit`` default
100, ``side`` the aggressor's), candles are built from them (ONE_MINUTE, FIVE_MINUTE,
FIFTEEN_MINUTE, ONE_HOUR, ONE_DAY; ``start`` / ``end`` in seconds, at most 350, newest first),
and the products' ``price`` / 24 h change / volumes are the engine's rolling 24 h figures,
``/api/v3/brokerage/time`` and the v2 endpoints ccxt's load_markets reads
(``/v2/currencies``, ``/v2/currencies/crypto``, ``/v2/exchange-rates``, ``/v2/time``).
Private: ``transaction_summary`` (fee tier), ``products``/``product_book``/``best_bid_ask``,
``accounts`` (cursor pages) and ``/v2/accounts``, ``orders`` (create; a repeated
``client_order_id`` returns the SAME order), ``orders/historical/batch``,
``orders/historical/{id}``, ``orders/historical/fills`` (the account's fills, with trade ids)
and ``orders/batch_cancel``.

Order configurations, as ccxt 4.5.90 builds them: ``limit_limit_gtc`` (``post_only``: one that
would cross fails with ``INVALID_LIMIT_PRICE_POST_ONLY``, ccxt ExchangeError), ``sor_limit_ioc``
(timeInForce IOC), ``limit_limit_fok`` (FOK), ``market_market_ioc``. An IOC / FOK / market
remainder ends ``EXPIRED`` (ccxt: canceled).

Signing: what ccxt sends. A plain secret gets the legacy HMAC (``CB-ACCESS-SIGN`` = hex
HMAC-SHA256 of timestamp + method + path + body, the timestamp within 30 s); a PEM EC secret gets
an ES256 JWT and a base64 Ed25519 secret (88 chars) an EdDSA JWT in ``Authorization: Bearer``.

Websocket (``level2``, ``user``): coinbase_ws.py.

Errors are Coinbase's bodies chosen so ccxt raises the intended exception: ``unauthorized`` /
``authentication_error`` (AuthenticationError), ``rate_limit_exceeded`` with HTTP 429 and
Retry-After (RateLimitExceeded), ``INVALID_ARGUMENT`` (BadRequest), order failures with
``preview_failure_reason`` (``PREVIEW_INSUFFICIENT_FUND`` -> InsufficientFunds; the others only
reach ccxt as ExchangeError, ccxt 4.5.90 maps nothing else).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
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
from aitbc_tui.emulator.server import EmulatorContext, FaultRule, json_response, received_at

CCXT_ID = "coinbase"
WS_PATH = "/"  # Advanced Trade's websocket has no path (wss://advanced-trade-ws.coinbase.com)
# fetch_balance through the Advanced Trade accounts (free and hold), not the v2 wallets.
CCXT_OPTIONS: dict[str, Any] = {"fetchBalance": "v3PrivateGetBrokerageAccounts"}

V3 = "/api/v3/brokerage/"
TIMESTAMP_TOLERANCE_S = 30
ACCOUNTS_PAGE_MAX = 250
ORDERS_PAGE_MAX = 1000
IDEMPOTENCY_STATE = "coinbase.client_order_ids"
ORDER_CONFIG_STATE = "coinbase.order_configs"
FIAT = {"USD", "EUR", "GBP"}


def generate_secret() -> str:
    """A legacy-style plain secret (ccxt signs it with HMAC)."""
    return secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")


def generate_api_key() -> str:
    return secrets.token_hex(16)


def ccxt_urls(http_url: str, ws_url: str) -> dict:
    return {"rest": http_url, "ws": ws_url.rstrip("/")} if ws_url else {"rest": http_url}


def product_id(market: Market) -> str:
    return f"{market.base}-{market.quote}"


def _iso(ts: float) -> str:
    micros = int(round(ts * 1_000_000)) % 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{micros:06d}Z"


def _s(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _decimal(raw: Any) -> Decimal | None:
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _uuid_for(text: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "aitbc-emulator:" + text))


class CoinbaseError(Exception):
    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers


def _error(status: int, error: str, message: str, details: str = "") -> CoinbaseError:
    return CoinbaseError(status, {"error": error, "error_details": details or message, "message": message})


class CoinbaseProtocol:
    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        # client_order_id -> order id, per account: a repeated id returns the same order.
        self._client_ids: dict[tuple[str, str], str] = ctx.state.setdefault(IDEMPOTENCY_STATE, {})
        self._configs: dict[str, dict] = ctx.state.setdefault(ORDER_CONFIG_STATE, {})

    # -- plumbing ----------------------------------------------------------------------

    def routes(self) -> Iterable[web.RouteDef]:
        public = [
            ("/v2/currencies", self.currencies_fiat),
            ("/v2/currencies/crypto", self.currencies_crypto),
            ("/v2/exchange-rates", self.exchange_rates),
            ("/v2/time", self.time_v2),
            (V3 + "time", self.time_v3),
            (V3 + "market/products", self.products),
            (V3 + "market/products/{product_id}", self.product),
            (V3 + "market/products/{product_id}/ticker", self.ticker),
            (V3 + "market/products/{product_id}/candles", self.candles),
            (V3 + "market/product_book", self.product_book),
        ]
        private_get = [
            (V3 + "transaction_summary", self.transaction_summary),
            (V3 + "products", self.products),
            (V3 + "products/{product_id}", self.product),
            (V3 + "products/{product_id}/ticker", self.ticker),
            (V3 + "products/{product_id}/candles", self.candles),
            (V3 + "product_book", self.product_book),
            (V3 + "best_bid_ask", self.best_bid_ask),
            (V3 + "accounts", self.accounts),
            (V3 + "accounts/{account_uuid}", self.account),
            (V3 + "orders/historical/batch", self.list_orders),
            (V3 + "orders/historical/fills", self.list_fills),
            (V3 + "orders/historical/{order_id}", self.get_order),
            ("/v2/accounts", self.accounts_v2),
        ]
        private_post = [
            (V3 + "orders", self.create_order),
            (V3 + "orders/batch_cancel", self.batch_cancel),
        ]
        routes = [web.get(path, self._serve(h, signed=False)) for path, h in public]
        routes += [web.get(path, self._serve(h, signed=True)) for path, h in private_get]
        routes += [web.post(path, self._serve(h, signed=True)) for path, h in private_post]
        return routes

    def _serve(self, handler: Any, signed: bool) -> Any:
        async def serve(request: web.Request) -> web.Response:
            try:
                body = await request.text()
                api_key = ""
                account = None
                if signed:
                    api_key, account = self._authenticate(request, body)
                self._check_faults(api_key)
                key = f"key:{api_key}" if signed else f"ip:{request.remote}"
                retry = self.ctx.charge(key, 1)
                if retry is not None:
                    raise CoinbaseError(
                        429,
                        {"error": "rate_limit_exceeded", "error_details": "Too many requests",
                         "message": f"Too many requests: retry after {max(1, int(retry + 0.999))} s"},
                        headers={"Retry-After": str(max(1, int(retry + 0.999)))},
                    )  # fmt: skip
                payload: dict[str, Any] = {}
                if body:
                    try:
                        payload = json.loads(body)
                    except ValueError:
                        raise _error(400, "INVALID_ARGUMENT", "request body is not valid JSON") from None
                    if not isinstance(payload, dict):
                        raise _error(400, "INVALID_ARGUMENT", "request body must be a JSON object")
                result = handler(request, account, payload) if signed else handler(request, None, payload)
                return json_response(result)
            except CoinbaseError as exc:
                return json_response(exc.body, status=exc.status, headers=exc.headers)

        return serve

    def _check_faults(self, key: str) -> None:
        if self.ctx.take_fault("rate_limit", key):
            raise CoinbaseError(
                429, {"error": "rate_limit_exceeded", "error_details": "Too many requests", "message": "Too many requests"},
                headers={"Retry-After": "1"},
            )  # fmt: skip
        if self.ctx.take_fault("unavailable", key):
            raise _error(503, "UNAVAILABLE", "service unavailable")

    # -- authentication ----------------------------------------------------------------

    def _authenticate(self, request: web.Request, body: str) -> tuple[str, str]:
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            return self._authenticate_jwt(request, authorization[len("Bearer ") :])
        api_key = request.headers.get("CB-ACCESS-KEY", "")
        account = self.ctx.authenticate(api_key)
        secret = self.ctx.secret_for(api_key)
        if account is None or secret is None:
            raise _error(401, "unauthorized", "invalid API key", "unknown CB-ACCESS-KEY")
        stamp = request.headers.get("CB-ACCESS-TIMESTAMP", "")
        given = request.headers.get("CB-ACCESS-SIGN", "")
        try:
            stamp_s = int(stamp)
        except ValueError:
            raise _error(401, "unauthorized", "missing or malformed CB-ACCESS-TIMESTAMP") from None
        if abs(received_at(request) - stamp_s) > TIMESTAMP_TOLERANCE_S:
            raise CoinbaseError(
                401, {"errors": [{"id": "authentication_error", "message": "request timestamp expired"}]}
            )
        # ccxt signs v3 GETs without the query string and v2 GETs with it; accept either.
        candidates = [request.path]
        if request.query_string:
            candidates.append(f"{request.path}?{request.query_string}")
        for path in candidates:
            expected = hmac.new(secret.encode(), f"{stamp}{request.method}{path}{body}".encode(), hashlib.sha256)
            if hmac.compare_digest(expected.hexdigest(), given):
                return api_key, account
        raise _error(401, "unauthorized", "invalid signature", "CB-ACCESS-SIGN does not match the request")

    def verify_jwt(self, token: str, now: float) -> tuple[str, str, dict]:
        """(api key, account, claims) of a JWT signed with the emulator's key (REST and websocket)."""
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = json.loads(_b64url(header_b64))
            claims = json.loads(_b64url(payload_b64))
            signature = _b64url(signature_b64)
        except (ValueError, binascii.Error, AttributeError):
            raise _error(401, "unauthorized", "malformed JWT") from None
        api_key = str(claims.get("sub", ""))
        account = self.ctx.authenticate(api_key)
        secret = self.ctx.secret_for(api_key)
        if account is None or secret is None or header.get("kid") != api_key:
            raise _error(401, "unauthorized", "invalid API key", "unknown JWT sub/kid")
        signed = f"{header_b64}.{payload_b64}".encode()
        if not _verify_jwt_signature(header.get("alg"), secret, signed, signature):
            raise _error(401, "unauthorized", "invalid signature", "JWT signature does not verify")
        if not (float(claims.get("nbf", 0)) - TIMESTAMP_TOLERANCE_S <= now <= float(claims.get("exp", 0))):
            raise CoinbaseError(
                401, {"errors": [{"id": "authentication_error", "message": "request timestamp expired"}]}
            )
        return api_key, account, claims

    def _authenticate_jwt(self, request: web.Request, token: str) -> tuple[str, str]:
        api_key, account, claims = self.verify_jwt(token, received_at(request))
        uris = claims.get("uris") or [claims.get("uri", "")]
        # ccxt strips only "https://" from the URL it signs, so over http the uri keeps the
        # scheme: compare method and path only.
        if not any(
            isinstance(u, str) and u.startswith(request.method + " ") and u.split("?")[0].endswith(request.path)
            for u in uris
        ):
            raise _error(401, "unauthorized", "JWT uri does not match the request")
        return api_key, account

    # -- public ------------------------------------------------------------------------

    def _assets(self) -> list[str]:
        assets: set[str] = set()
        for market in self.engine.markets.values():
            assets.update((market.base, market.quote))
        return sorted(assets)

    def currencies_fiat(self, request: web.Request, account: Any, payload: dict) -> dict:
        return {"data": [{"id": "USD", "name": "US Dollar", "min_size": "0.01"}]}

    def currencies_crypto(self, request: web.Request, account: Any, payload: dict) -> dict:
        return {
            "data": [
                {
                    "code": asset,
                    "name": asset,
                    "color": "#0052FF",
                    "sort_index": index,
                    "exponent": 8,
                    "type": "crypto",
                    "address_regex": "",
                    "asset_id": _uuid_for("asset:" + asset),
                }
                for index, asset in enumerate(self._assets())
                if asset not in FIAT
            ]
        }

    def exchange_rates(self, request: web.Request, account: Any, payload: dict) -> dict:
        rates = {asset: "1" for asset in self._assets()}
        return {"data": {"currency": request.query.get("currency", "USD"), "rates": rates}}

    def time_v2(self, request: web.Request, account: Any, payload: dict) -> dict:
        now = self.ctx.now()
        return {"data": {"iso": _iso(now)[:19] + "Z", "epoch": int(now)}}

    def time_v3(self, request: web.Request, account: Any, payload: dict) -> dict:
        now = self.ctx.now()
        return {"iso": _iso(now), "epochSeconds": str(int(now)), "epochMillis": str(int(now * 1000))}

    def _market(self, pid: str | None) -> Market:
        for market in self.engine.markets.values():
            if product_id(market) == pid:
                return market
        raise _error(404, "NOT_FOUND", f"product {pid} not found" if pid else "product_id is required")

    def _product(self, market: Market) -> dict:
        book = self.engine.book(market.symbol, 1)
        mid = book.mid
        figures = self.engine.ticker(market.symbol)
        price = figures.last if figures.last is not None else mid
        change = figures.change_pct or Decimal(0)
        return {
            "product_id": product_id(market),
            "price": _s(price) if price is not None else "",
            "price_percentage_change_24h": _s(change.quantize(Decimal("0.00000001"))),
            "volume_24h": _s(figures.base_volume),
            "volume_percentage_change_24h": "0",
            "base_increment": _s(market.lot_size),
            "quote_increment": _s(market.tick_size),
            "quote_min_size": _s(market.min_notional),
            "quote_max_size": "100000000",
            "base_min_size": _s(market.min_amount),
            "base_max_size": "100000000",
            "base_name": market.base,
            "quote_name": market.quote,
            "watched": False,
            "is_disabled": False,
            "new": False,
            "status": "online",
            "cancel_only": False,
            "limit_only": False,
            "post_only": False,
            "trading_disabled": False,
            "auction_mode": False,
            "product_type": "SPOT",
            "quote_currency_id": market.quote,
            "base_currency_id": market.base,
            "fcm_trading_session_details": None,
            "mid_market_price": _s(mid) if mid is not None else "",
            "alias": "",
            "alias_to": [],
            "base_display_symbol": market.base,
            "quote_display_symbol": market.quote,
            "view_only": False,
            "price_increment": _s(market.tick_size),
            "display_name": f"{market.base}/{market.quote}",
            "product_venue": "CBE",
            "approximate_quote_24h_volume": _s(figures.quote_volume),
        }

    def products(self, request: web.Request, account: Any, payload: dict) -> dict:
        product_type = request.query.get("product_type", "SPOT").upper()
        markets = list(self.engine.markets.values()) if product_type in ("", "SPOT") else []
        wanted = set(request.query.getall("product_ids", []))
        if wanted:
            markets = [m for m in markets if product_id(m) in wanted]
        products = [self._product(m) for m in markets]
        return {"products": products, "num_products": len(products)}

    def product(self, request: web.Request, account: Any, payload: dict) -> dict:
        return self._product(self._market(request.match_info["product_id"]))

    def ticker(self, request: web.Request, account: Any, payload: dict) -> dict:
        market = self._market(request.match_info["product_id"])
        book = self.engine.book(market.symbol, 1)
        bid, ask = book.best_bid, book.best_ask
        limit = _int_param(request.query.get("limit"), 100, 1, 1000)
        trades = [
            {"trade_id": t.id, "product_id": product_id(market), "price": _s(t.price), "size": _s(t.amount),
             "time": _iso(t.time), "side": t.side.value.upper(), "bid": "", "ask": ""}
            for t in reversed(self.engine.recent_trades(market.symbol, limit))
        ]  # fmt: skip
        return {"trades": trades, "best_bid": _s(bid) if bid else "", "best_ask": _s(ask) if ask else ""}

    GRANULARITIES = {
        "ONE_MINUTE": "1m",
        "FIVE_MINUTE": "5m",
        "FIFTEEN_MINUTE": "15m",
        "ONE_HOUR": "1h",
        "ONE_DAY": "1d",
    }

    def candles(self, request: web.Request, account: Any, payload: dict) -> dict:
        market = self._market(request.match_info["product_id"])
        granularity = request.query.get("granularity", "")
        timeframe = self.GRANULARITIES.get(granularity)
        if timeframe is None:
            raise _error(400, "INVALID_ARGUMENT", f"granularity {granularity!r} is not supported",
                         f"use one of {', '.join(self.GRANULARITIES)}")  # fmt: skip
        start = _int_param(request.query.get("start"), 0, 0, 2**62)
        end = _int_param(request.query.get("end"), 2**62, 0, 2**62)
        chosen = [c for c in self.engine.candles(market.symbol, timeframe) if start <= c.open_time <= end][-350:]
        return {"candles": [
            {"start": str(c.open_time), "low": _s(c.low), "high": _s(c.high), "open": _s(c.open), "close": _s(c.close),
             "volume": _s(c.volume)}
            for c in reversed(chosen)
        ]}  # fmt: skip

    def product_book(self, request: web.Request, account: Any, payload: dict) -> dict:
        market = self._market(request.query.get("product_id"))
        try:
            limit = int(request.query.get("limit") or 50)
        except ValueError:
            raise _error(400, "INVALID_ARGUMENT", "limit must be an integer") from None
        book = self.engine.book(market.symbol, max(1, min(limit, 1000)))
        return {
            "pricebook": {
                "product_id": product_id(market),
                "bids": [{"price": _s(p), "size": _s(s)} for p, s in book.bids],
                "asks": [{"price": _s(p), "size": _s(s)} for p, s in book.asks],
                "time": _iso(book.timestamp or self.ctx.now()),
            }
        }

    # -- private: account data ---------------------------------------------------------

    def transaction_summary(self, request: web.Request, account: Any, payload: dict) -> dict:
        any_market = next(iter(self.engine.markets.values()))
        return {
            "total_volume": 0,
            "total_fees": 0,
            "fee_tier": {
                "pricing_tier": "Advanced 1",
                "usd_from": "0",
                "usd_to": "1000",
                "taker_fee_rate": _s(any_market.taker_fee),
                "maker_fee_rate": _s(any_market.maker_fee),
                "aop_from": "",
                "aop_to": "",
            },
            "margin_rate": None,
            "goods_and_services_tax": None,
            "advanced_trade_only_volume": 0,
            "advanced_trade_only_fees": 0,
            "coinbase_pro_volume": 0,
            "coinbase_pro_fees": 0,
        }

    def best_bid_ask(self, request: web.Request, account: Any, payload: dict) -> dict:
        wanted = request.query.getall("product_ids", [])
        markets = [self._market(p) for p in wanted] if wanted else list(self.engine.markets.values())
        pricebooks = []
        for market in markets:
            book = self.engine.book(market.symbol, 1)
            pricebooks.append({
                "product_id": product_id(market),
                "bids": [{"price": _s(p), "size": _s(s)} for p, s in book.bids],
                "asks": [{"price": _s(p), "size": _s(s)} for p, s in book.asks],
                "time": _iso(book.timestamp or self.ctx.now()),
            })  # fmt: skip
        return {"pricebooks": pricebooks}

    def _account_list(self, account: str) -> list[dict]:
        balances = self.engine.balances(account)
        created = _iso(0)
        result = []
        for asset in sorted(set(self._assets()) | set(balances)):
            balance = balances.get(asset)
            free = balance.free if balance else Decimal(0)
            used = balance.used if balance else Decimal(0)
            result.append({
                "uuid": _uuid_for(f"account:{account}:{asset}"),
                "name": f"{asset} Wallet",
                "currency": asset,
                "available_balance": {"value": _s(free), "currency": asset},
                "default": True,
                "active": True,
                "created_at": created,
                "updated_at": created,
                "deleted_at": None,
                "type": "ACCOUNT_TYPE_FIAT" if asset in FIAT else "ACCOUNT_TYPE_CRYPTO",
                "ready": True,
                "hold": {"value": _s(used), "currency": asset},
                "retail_portfolio_id": _uuid_for(f"portfolio:{account}"),
                "platform": "ACCOUNT_PLATFORM_CONSUMER",
            })  # fmt: skip
        return result

    def accounts(self, request: web.Request, account: str, payload: dict) -> dict:
        limit = _int_param(request.query.get("limit"), 49, 1, ACCOUNTS_PAGE_MAX)
        start = _cursor(request.query.get("cursor"))
        items = self._account_list(account)
        page = items[start : start + limit]
        has_next = start + limit < len(items)
        return {
            "accounts": page,
            "has_next": has_next,
            "cursor": str(start + limit) if has_next else "",
            "size": len(page),
        }

    def account(self, request: web.Request, account: str, payload: dict) -> dict:
        wanted = request.match_info["account_uuid"]
        for item in self._account_list(account):
            if item["uuid"] == wanted:
                return {"account": item}
        raise _error(404, "NOT_FOUND", "account not found")

    def accounts_v2(self, request: web.Request, account: str, payload: dict) -> dict:
        limit = _int_param(request.query.get("limit"), 25, 1, 300)
        items = self._account_list(account)
        after = request.query.get("starting_after")
        start = 0
        if after:
            start = next((i + 1 for i, a in enumerate(items) if a["uuid"] == after), len(items))
        page = items[start : start + limit]
        has_next = start + limit < len(items)
        next_after = page[-1]["uuid"] if has_next and page else None
        data = [
            {
                "id": a["uuid"],
                "name": a["name"],
                "primary": False,
                "type": "fiat" if a["currency"] in FIAT else "wallet",
                "currency": {"code": a["currency"], "name": a["currency"], "exponent": 8, "type": "crypto"},
                "balance": {
                    "amount": _s(Decimal(a["available_balance"]["value"]) + Decimal(a["hold"]["value"])),
                    "currency": a["currency"],
                },
                "created_at": a["created_at"],
                "updated_at": a["updated_at"],
                "resource": "account",
                "resource_path": f"/v2/accounts/{a['uuid']}",
            }
            for a in page
        ]
        return {
            "pagination": {
                "ending_before": None,
                "starting_after": after,
                "next_starting_after": next_after,
                "limit": limit,
                "order": "desc",
                "next_uri": f"/v2/accounts?limit={limit}&starting_after={next_after}" if next_after else None,
            },
            "data": data,
        }

    # -- private: orders ---------------------------------------------------------------

    def create_order(self, request: web.Request, account: str, payload: dict) -> dict:
        client_id = str(payload.get("client_order_id") or "")
        if not client_id:
            raise _error(400, "INVALID_ARGUMENT", "client_order_id is required")
        existing_id = self._client_ids.get((account, client_id))
        if existing_id is not None:
            existing = self.engine.get_order(account, order_id=existing_id)
            if existing is not None:
                return self._success(existing, self._configs.get(existing.id, {}))
        market = self._market(str(payload.get("product_id") or "")) if payload.get("product_id") else None
        if market is None:
            raise _error(400, "INVALID_ARGUMENT", "product_id is required")
        side_raw = str(payload.get("side") or "").upper()
        if side_raw not in ("BUY", "SELL"):
            raise _error(400, "INVALID_ARGUMENT", f"invalid side {payload.get('side')!r}: BUY or SELL")
        side = Side(side_raw.lower())
        config = payload.get("order_configuration")
        if not isinstance(config, dict) or len(config) != 1:
            raise _error(400, "INVALID_ARGUMENT", "order_configuration needs exactly one order type")
        ((kind, spec),) = config.items()
        if not isinstance(spec, dict):
            raise _error(400, "INVALID_ARGUMENT", f"{kind} must be an object")

        def fail(error: str, preview: str, message: str) -> dict:
            return {
                "success": False,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": "",
                "error_response": {
                    "error": error,
                    "message": message,
                    "error_details": message,
                    "preview_failure_reason": preview,
                    "new_order_failure_reason": error,
                },
                "order_configuration": config,
            }

        for field_name in ("base_size", "quote_size", "limit_price"):
            if field_name in spec:
                value = _decimal(spec[field_name])
                if value is None or value <= 0:
                    raise _error(
                        400,
                        "INVALID_ARGUMENT",
                        f"{kind}.{field_name} must be a positive number, got {spec[field_name]!r}",
                    )

        price: Decimal | None = None
        time_in_force = {"sor_limit_ioc": TimeInForce.IOC, "limit_limit_fok": TimeInForce.FOK}.get(
            kind, TimeInForce.GTC
        )
        post_only = kind == "limit_limit_gtc" and spec.get("post_only") in (True, "true")
        if kind in ("limit_limit_gtc", "sor_limit_ioc", "limit_limit_fok"):
            order_type = OrderType.LIMIT
            price = _decimal(spec.get("limit_price"))
            amount = _decimal(spec.get("base_size"))
            if price is None or amount is None:
                raise _error(400, "INVALID_ARGUMENT", f"{kind} needs base_size and limit_price")
        elif kind == "market_market_ioc":
            order_type = OrderType.MARKET
            amount = _decimal(spec.get("base_size"))
            quote_size = _decimal(spec.get("quote_size"))
            if amount is None:
                if quote_size is None:
                    raise _error(400, "INVALID_ARGUMENT", "market_market_ioc needs base_size or quote_size")
                if side is not Side.BUY:
                    raise _error(400, "INVALID_ARGUMENT", "quote_size is only supported for market buys")
                amount = self._base_for_quote(market, quote_size)
                if amount is None or amount <= 0:
                    return fail("INVALID_NO_LIQUIDITY", "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
                                f"quote_size {quote_size} {market.quote} buys less than one increment")  # fmt: skip
        else:
            return fail("UNSUPPORTED_ORDER_CONFIGURATION", "PREVIEW_UNSUPPORTED_ORDER_CONFIGURATION",
                        f"the emulator supports limit_limit_gtc, sor_limit_ioc, limit_limit_fok and market_market_ioc, not {kind}")  # fmt: skip

        if amount % market.lot_size:
            return fail("INVALID_SIZE_PRECISION", "PREVIEW_INVALID_SIZE_PRECISION",
                        f"base_size {amount} is not a multiple of base_increment {_s(market.lot_size)}")  # fmt: skip
        if price is not None and price % market.tick_size:
            return fail("INVALID_PRICE_PRECISION", "PREVIEW_INVALID_PRICE_PRECISION",
                        f"limit_price {price} is not a multiple of quote_increment {_s(market.tick_size)}")  # fmt: skip
        if amount < market.min_amount:
            return fail("UNKNOWN_FAILURE_REASON", "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
                        f"base_size {amount} is below base_min_size {_s(market.min_amount)}")  # fmt: skip
        reference = price if price is not None else self.engine.book(market.symbol, 1).mid
        if reference is not None and amount * reference < market.min_notional:
            return fail("UNKNOWN_FAILURE_REASON", "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
                        f"order value {amount * reference} {market.quote} is below quote_min_size {_s(market.min_notional)}")  # fmt: skip
        try:
            order, _fills = self.engine.place(
                account, market.symbol, side, order_type, amount, price, client_order_id=client_id,
                time_in_force=time_in_force, post_only=post_only,
            )  # fmt: skip
        except InsufficientFunds as exc:
            return fail(
                "INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND", f"Insufficient balance in source account: {exc}"
            )
        except OrderRejected as exc:
            if post_only and "post-only" in str(exc):
                return fail("INVALID_LIMIT_PRICE_POST_ONLY", "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
                            "Invalid limit price for post only order")  # fmt: skip
            return fail("UNKNOWN_FAILURE_REASON", "PREVIEW_INVALID_ORDER_CONFIG", str(exc))
        self._client_ids[(account, client_id)] = order.id
        self._configs[order.id] = {kind: dict(spec)}
        return self._success(order, self._configs[order.id])

    def _base_for_quote(self, market: Market, quote_size: Decimal) -> Decimal | None:
        book = self.engine.book(market.symbol, 1000)
        spent, bought = Decimal(0), Decimal(0)
        for price, size in book.asks:
            take = min(size, (quote_size - spent) / price)
            spent += take * price
            bought += take
            if spent >= quote_size:
                break
        return (bought / (1 + market.taker_fee)).quantize(market.lot_size, rounding=ROUND_DOWN) if bought else None

    def _success(self, order: Order, config: dict) -> dict:
        market = self.engine.markets[order.symbol]
        return {
            "success": True,
            "success_response": {
                "order_id": order.id,
                "product_id": product_id(market),
                "side": order.side.value.upper(),
                "client_order_id": order.client_order_id,
            },
            "order_configuration": config or self._config_of(order),
        }

    def _config_of(self, order: Order) -> dict:
        if order.type is OrderType.MARKET:
            return {"market_market_ioc": {"base_size": _s(order.amount)}}
        return {"limit_limit_gtc": {"base_size": _s(order.amount), "limit_price": _s(order.price), "post_only": False}}

    def _order_info(self, order: Order) -> dict:
        market = self.engine.markets[order.symbol]
        config = self._configs.get(order.id) or self._config_of(order)
        status = {
            OrderStatus.PENDING: "PENDING",
            OrderStatus.OPEN: "OPEN",
            OrderStatus.FILLED: "FILLED",
            OrderStatus.CANCELED: "CANCELLED",
            OrderStatus.REJECTED: "FAILED",
            OrderStatus.UNKNOWN: "UNKNOWN_ORDER_STATUS",
        }[order.status]
        expired = order.status is OrderStatus.CANCELED and (
            order.type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC
        )
        if expired:
            status = "EXPIRED"  # ended by its time in force, not by the user
        average = order.average_price or Decimal(0)
        filled_value = order.filled * average
        kind = next(iter(config))
        tif = {"sor_limit_ioc": "IMMEDIATE_OR_CANCEL", "market_market_ioc": "IMMEDIATE_OR_CANCEL",
               "limit_limit_fok": "FILL_OR_KILL"}.get(kind, "GOOD_UNTIL_CANCELLED")  # fmt: skip
        percent = (order.filled / order.amount * 100) if order.amount else Decimal(0)
        return {
            "order_id": order.id,
            "product_id": product_id(market),
            "user_id": _uuid_for("user:" + self.ctx.account),
            "order_configuration": config,
            "side": order.side.value.upper(),
            "client_order_id": order.client_order_id,
            "status": status,
            "time_in_force": tif,
            "created_time": _iso(order.created_at),
            "completion_percentage": _s(percent.quantize(Decimal("0.01"))),
            "filled_size": _s(order.filled),
            "average_filled_price": _s(average),
            "fee": "",
            "number_of_fills": "1" if order.filled else "0",
            "filled_value": _s(filled_value),
            "pending_cancel": False,
            "size_in_quote": False,
            "total_fees": _s(order.fee),
            "size_inclusive_of_fees": False,
            "total_value_after_fees": _s(
                filled_value + order.fee if order.side is Side.BUY else filled_value - order.fee
            ),
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": order.type.value.upper(),
            "reject_reason": "REJECT_REASON_UNSPECIFIED"
            if order.status is not OrderStatus.REJECTED
            else "HOLD_FAILURE",
            "settled": order.status.is_final,
            "product_type": "SPOT",
            "reject_message": order.message if order.status is OrderStatus.REJECTED else "",
            "cancel_message": ("" if expired else "User requested cancel")
            if order.status is OrderStatus.CANCELED
            else "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": "0",
            "is_liquidation": False,
            "last_fill_time": _iso(order.updated_at) if order.filled else None,
            "edit_history": [],
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
            "retail_portfolio_id": _uuid_for(f"portfolio:{self.ctx.account}"),
        }

    def get_order(self, request: web.Request, account: str, payload: dict) -> dict:
        order_id = request.match_info["order_id"]
        if order_id == "batch":
            return self.list_orders(request, account, payload)
        order = self.engine.get_order(account, order_id=order_id)
        client_id = request.query.get("client_order_id")
        if order is None and client_id:  # deprecated look-up by client order id
            order = self.engine.get_order(account, client_order_id=client_id)
        if order is None:
            raise _error(404, "NOT_FOUND", "order with this orderID was not found")
        return {"order": self._order_info(order)}

    def list_orders(self, request: web.Request, account: str, payload: dict) -> dict:
        query = request.query
        statuses = {s.upper() for s in query.getall("order_status", []) if s}
        products = set(query.getall("product_ids", [])) | set(query.getall("product_id", []))
        order_ids = set(query.getall("order_ids", []))
        limit = _int_param(query.get("limit"), 100, 1, ORDERS_PAGE_MAX)
        start = _cursor(query.get("cursor"))
        start_date, end_date = query.get("start_date"), query.get("end_date")
        orders = self.engine.open_orders(account)[::-1] + self.engine.closed_orders(account, limit=100_000)
        infos = []
        for order in orders:
            info = self._order_info(order)
            if statuses and info["status"] not in statuses:
                continue
            if products and info["product_id"] not in products:
                continue
            if order_ids and order.id not in order_ids:
                continue
            if start_date and info["created_time"] < start_date:
                continue
            if end_date and info["created_time"] > end_date:
                continue
            infos.append(info)
        page = infos[start : start + limit]
        has_next = start + limit < len(infos)
        return {"orders": page, "sequence": "0", "has_next": has_next, "cursor": str(start + limit) if has_next else ""}

    def list_fills(self, request: web.Request, account: str, payload: dict) -> dict:
        """The account's fills, newest first (product_id / product_ids, order_id / order_ids,
        start/end_sequence_timestamp, limit, cursor)."""
        from aitbc_tui.sim.engine import FILL_HISTORY

        query = request.query
        products = set(query.getall("product_ids", [])) | set(query.getall("product_id", []))
        order_ids = set(query.getall("order_ids", [])) | set(query.getall("order_id", []))
        start_ts, end_ts = query.get("start_sequence_timestamp"), query.get("end_sequence_timestamp")
        limit = _int_param(query.get("limit"), 100, 1, ORDERS_PAGE_MAX)
        start = _cursor(query.get("cursor"))
        rows = []
        for fill in self.engine.fills(account, limit=FILL_HISTORY):
            market = self.engine.markets[fill.symbol]
            stamp = _iso(fill.timestamp)
            if products and product_id(market) not in products:
                continue
            if order_ids and fill.order_id not in order_ids:
                continue
            if (start_ts and stamp < start_ts) or (end_ts and stamp > end_ts):
                continue
            rows.append(
                {
                    "entry_id": _uuid_for(f"entry:{fill.trade_id}"),
                    "trade_id": _uuid_for(f"trade:{fill.trade_id}"),
                    "order_id": fill.order_id,
                    "trade_time": stamp,
                    "trade_type": "FILL",
                    "price": _s(fill.price),
                    "size": _s(fill.amount),
                    "commission": _s(fill.fee),
                    "product_id": product_id(market),
                    "sequence_timestamp": stamp,
                    "liquidity_indicator": "MAKER" if fill.is_maker else "TAKER",
                    "size_in_quote": False,
                    "user_id": _uuid_for("user:" + self.ctx.account),
                    "side": fill.side.value.upper(),
                    "retail_portfolio_id": _uuid_for(f"portfolio:{self.ctx.account}"),
                }
            )
        page = rows[start : start + limit]
        has_next = start + limit < len(rows)
        return {"fills": page, "cursor": str(start + limit) if has_next else ""}

    def batch_cancel(self, request: web.Request, account: str, payload: dict) -> dict:
        ids = payload.get("order_ids")
        if not isinstance(ids, list) or not ids or len(ids) > 100:
            raise _error(400, "INVALID_ARGUMENT", "order_ids must be a list of 1 to 100 order ids")
        results = []
        for order_id in ids:
            order_id = str(order_id)
            order = self.engine.get_order(account, order_id=order_id)
            if order is None or order.status is not OrderStatus.OPEN:
                results.append({"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": order_id})
                continue
            try:
                self.engine.cancel(account, order_id)
            except OrderNotFound:
                results.append({"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": order_id})
                continue
            results.append({"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": order_id})
        return {"results": results}


# ---- helpers -----------------------------------------------------------------------------


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_param(raw: str | None, default: int, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _error(400, "INVALID_ARGUMENT", f"expected an integer, got {raw!r}") from None
    return max(low, min(value, high))


def _cursor(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        return max(0, int(raw))
    except ValueError:
        raise _error(400, "INVALID_ARGUMENT", f"invalid cursor {raw!r}") from None


def _verify_jwt_signature(alg: Any, secret: str, signed: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        if alg == "ES256":
            key = serialization.load_pem_private_key(secret.encode(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey) or len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.public_key().verify(der, signed, ec.ECDSA(hashes.SHA256()))
            return True
        if alg == "EdDSA":
            seed = base64.b64decode(secret)[:32]
            ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().verify(signature, signed)
            return True
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
    return False


def fault_response(ctx: EmulatorContext, kind: str, rule: FaultRule, request: web.Request) -> web.Response | None:
    """Coinbase's own answers for the server's HTTP faults."""
    if kind in ("http_429", "http_418"):
        return json_response(
            {"error": "rate_limit_exceeded", "error_details": "Too many requests", "message": "Too many requests"},
            status=429 if kind == "http_429" else 418,
        )
    return None  # reply_then_act: the gateway's HTML 504


def build_routes(ctx: EmulatorContext) -> Iterable[web.RouteDef]:
    from aitbc_tui.emulator import coinbase_ws

    protocol = CoinbaseProtocol(ctx)
    return [*protocol.routes(), *coinbase_ws.routes(ctx, protocol)]
