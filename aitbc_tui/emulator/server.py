"""Exchange emulator framework: the sandbox matching engine behind a real exchange protocol.

An unmodified ccxt client whose ``exchange.urls['api']`` entries point here trades against a
fresh in-memory sim world. One aiohttp server per venue serves HTTP and websockets on one port.

Protocol plug-in contract
-------------------------
``PROTOCOLS`` maps a venue name to a module path. The module exposes:

``CCXT_ID: str``
    ccxt exchange id a client uses ("binance", "kraken", "coinbase").
``WS_PATH: str``
    Path of the websocket endpoint, "" when the venue has none; ``RunningEmulator.ws_url``
    is ``ws://host:port`` + WS_PATH.
``build_routes(ctx: EmulatorContext) -> Iterable[aiohttp.web.RouteDef]``
    Called once per server before it starts; the routes are mounted at the root. Handlers
    reach the engine, credentials, rate limiter and fault hooks through ``ctx``. Background
    work goes through ``ctx.spawn`` (cancelled on stop); websockets register with
    ``ctx.track_websocket`` so stop() can close them.
``ccxt_urls(http_url: str, ws_url: str) -> dict``
    The complete replacement for the ccxt exchange's ``urls['api']`` (replace it wholesale: a
    missing entry then raises instead of reaching the internet).
Optional:
``CCXT_OPTIONS: dict``            options a ccxt client needs (e.g. binance fetchMarkets types).
``generate_secret() -> str``      secret format of the venue (default 64 hex chars; kraken base64).
``generate_api_key() -> str``     default 64 alphanumerics.
``async on_startup(ctx)`` / ``async on_shutdown(ctx)``  run after the socket binds / before it closes.

Handlers find the context with ``ctx_of(request)`` (or close over ``ctx`` in build_routes).
Helpers for protocols: ``ctx.authenticate(api_key) -> account | None``, ``ctx.secret_for(api_key)``,
``ctx.charge(key, weight) -> retry_after_s | None`` (per-key weight per minute, option
``weight_per_minute``), ``ctx.subscribe(callback) -> unsubscribe`` (engine events fan-out: the
engine's ``BookDelta`` / ``OrderUpdated``, called synchronously in the event loop),
``ctx.take_fault(name, key="") -> bool`` (test hooks armed with ``RunningEmulator.inject_fault``),
``ctx.faults`` (the server's ``FaultTable``: see "Fault injection" below), ``ctx.now()`` /
``ctx.now_ms()`` (the server's clock, including an injected skew), ``ctx.state`` (a dict the protocol may use for its own per-server state),
``json_response(obj, status=200, headers=None)`` which encodes Decimal as a plain string.

Optional, for fault injection: ``fault_response(ctx, kind, rule, request) -> web.Response | None``
(the venue's own body for ``http_429`` / ``http_418`` / ``reply_then_act``).

Fault injection
---------------
Every server holds a small data-driven fault table (``FaultTable``): rules of
``kind``, ``endpoint`` (``"*"``, a path such as ``/api/v3/order``, its last segment such as
``AddOrder``, a binance handler name such as ``new_order``, a stream name or a symbol id),
optional ``method``, ``count`` (``None``: until cleared) and kind-specific ``params``. Set them
from a test with ``emu.set_fault(kind, endpoint, count=1, **params)`` / ``emu.clear_faults()``,
or from another process over loopback: ``POST /__faults`` with a JSON rule (or a list of them),
``GET /__faults`` lists the table, ``DELETE /__faults`` clears it (refused unless the peer is
127.0.0.1 / ::1). ``GET /__orders`` (loopback only, too) lists every order of the API key's
account, so a checker in another process can compare a journal with the venue.

HTTP kinds (applied by the server in front of every venue's handlers):
  ``reply_then_act``  reply at once with the venue's "status unknown" error (binance -1007) and
                      apply the request ``delay_s`` (default 2) seconds later
  ``hold``            apply the request now, reply after ``delay_s`` (default: never, until stop)
  ``http_5xx``        ``status`` (default 503) with an HTML body, as a CDN or load balancer sends
  ``http_429`` / ``http_418``  the venue's rate-limit body with ``Retry-After: retry_after``
  ``clock_skew``      not a rule: moves the server clock by ``offset_s`` until cleared
Websocket kinds (binance streams, kraken v2 ``book`` / ``executions``, coinbase ``level2`` /
``user``; keyed by channel or stream name, symbol id or endpoint path; shared plumbing in
wsutil.py): ``ws_malformed`` (the next frame is not JSON), ``ws_stall`` (nothing more is sent
for ``duration_s``, or while the rule is armed without one; pings are still answered),
``ws_close_1006`` (the TCP connection is dropped without a close frame), ``ws_reconnect`` (the
server ends the session with a normal close, ``code`` default 1000, as venues do every 24 h),
``depth_gap`` (the next diff event is lost), ``book_checksum`` (kraken: the next book frame
carries a CRC32 that does not match the book), ``fills_out_of_order`` (binance user stream,
keyed by symbol id: the next partial fill's reports are held back and sent after the
following one, or after ``delay_s``, default 2). Venue hooks the protocols read themselves: ``rate_limit``, ``unavailable``,
``busy``, ``delay_reply`` (older spellings kept for existing tests).

Usage::

    emu = await start_emulator("binance", api_key="k", secret="s", seed=1)
    exchange.urls["api"] = emu.ccxt_urls
    ...
    await emu.stop()
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import string
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Any

from aiohttp import WSCloseCode, web

PROTOCOLS: dict[str, str] = {
    "binance": "aitbc_tui.emulator.binance",
    "kraken": "aitbc_tui.emulator.kraken",
    "coinbase": "aitbc_tui.emulator.coinbase",
}

CTX_KEY: web.AppKey[EmulatorContext] = web.AppKey("emulator_ctx")
PROTOCOL_KEY: web.AppKey[ModuleType] = web.AppKey("emulator_protocol")
RECEIVED_AT = web.RequestKey("emulator_received_at", float)  # server clock when the request arrived
DEFERRED = web.RequestKey("emulator_deferred", bool)  # the handler runs after its reply was sent
HTTP_FAULTS = ("reply_then_act", "hold", "http_5xx", "http_429", "http_418")
WS_FAULTS = (
    "ws_malformed",
    "ws_stall",
    "ws_close_1006",
    "ws_reconnect",
    "depth_gap",
    "book_checksum",
    "fills_out_of_order",
)
FAULT_KINDS = HTTP_FAULTS + WS_FAULTS + ("clock_skew", "rate_limit", "unavailable", "busy", "delay_reply")
LOOPBACK = ("127.0.0.1", "::1")
# Query parameters whose values never reach a request log.
SECRET_PARAMS = {"signature", "apikey", "api_key", "key", "secret", "listenkey", "passphrase", "token", "nonce"}
DEFAULT_WEIGHT_PER_MINUTE = 6000  # Binance spot REQUEST_WEIGHT per minute
EMULATOR_ACCOUNT = "emulator"  # engine account of the emulator's API key


def ctx_of(request: web.Request) -> EmulatorContext:
    """The emulator context of the server handling ``request``."""
    return request.app[CTX_KEY]


def received_at(request: web.Request) -> float:
    """Server time (epoch s) when ``request`` arrived: freshness checks of a deferred request
    (``reply_then_act``) use it, not the time it is applied."""
    value = request.get(RECEIVED_AT)
    return value if value is not None else ctx_of(request).now()


def is_deferred(request: web.Request) -> bool:
    return bool(request.get(DEFERRED, False))


def load_protocol(venue: str) -> ModuleType:
    try:
        path = PROTOCOLS[venue]
    except KeyError:
        raise ValueError(f"no emulator for venue {venue!r}; choose one of {', '.join(PROTOCOLS)}") from None
    return importlib.import_module(path)


def _default_secret() -> str:
    return secrets.token_hex(32)


def _default_api_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(64))


class _DecimalEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return format(o, "f")
        return super().default(o)


def dumps(obj: Any) -> str:
    return json.dumps(obj, cls=_DecimalEncoder, separators=(",", ":"))


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=dumps(obj), status=status, headers=headers, content_type="application/json")


class RateLimiter:
    """Sliding one-minute window of request weight per key."""

    def __init__(self, weight_per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.weight_per_minute = weight_per_minute
        self._clock = clock
        self._spent: dict[str, deque[tuple[float, float]]] = {}

    def charge(self, key: str, weight: float = 1) -> float | None:
        """Spend ``weight`` for ``key``; over budget, spend nothing and return seconds to wait."""
        now = self._clock()
        window = self._spent.setdefault(key, deque())
        while window and window[0][0] <= now - 60:
            window.popleft()
        used = sum(w for _, w in window)
        if used + weight > self.weight_per_minute:
            oldest = window[0][0] if window else now
            return max(1.0, 60 - (now - oldest))
        window.append((now, weight))
        return None

    def used(self, key: str) -> float:
        now = self._clock()
        return sum(w for t, w in self._spent.get(key, ()) if t > now - 60)


@dataclass
class FaultRule:
    """One row of the fault table: what goes wrong, where, how often."""

    kind: str
    endpoint: str = "*"
    method: str = ""
    count: int | None = 1  # None: every time until cleared
    params: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def matches(self, kind: str, keys: tuple[str, ...], method: str = "") -> bool:
        if self.kind != kind or (self.count is not None and self.count <= 0):
            return False
        if self.method and method and self.method.upper() != method.upper():
            return False
        ep = self.endpoint or "*"
        if ep == "*":
            return True
        for key in keys:
            if not key:
                continue
            if key == ep or (key.startswith("/") and key.endswith("/" + ep.lstrip("/"))):
                return True
        return False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "endpoint": self.endpoint, "method": self.method, "count": self.count,
                "params": self.params, "hits": self.hits}  # fmt: skip


class FaultTable:
    """The server's injectable faults (data, so another process can set them over HTTP)."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, kind: str, endpoint: str = "*", count: int | None = 1, method: str = "", **params: Any) -> FaultRule:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if count is not None and int(count) < 1:
            raise ValueError("count must be at least 1, or None for every time")
        rule = FaultRule(kind, endpoint or "*", method or "", None if count is None else int(count), dict(params))
        self.rules.append(rule)
        return rule

    def take(self, kind: str, *keys: str, method: str = "") -> FaultRule | None:
        """The first armed rule of ``kind`` for any of ``keys``, spending one of its count."""
        for rule in self.rules:
            if rule.matches(kind, keys, method):
                rule.hits += 1
                if rule.count is not None:
                    rule.count -= 1
                return rule
        return None

    def take_any(self, kinds: tuple[str, ...], *keys: str, method: str = "") -> FaultRule | None:
        for rule in self.rules:
            if any(rule.matches(kind, keys, method) for kind in kinds):
                rule.hits += 1
                if rule.count is not None:
                    rule.count -= 1
                return rule
        return None

    def find(self, kind: str, *keys: str, method: str = "") -> FaultRule | None:
        """The first armed rule of ``kind`` for any of ``keys``, without spending it."""
        return next((r for r in self.rules if r.matches(kind, keys, method)), None)

    def armed(self, kind: str) -> bool:
        return any(r.kind == kind and (r.count is None or r.count > 0) for r in self.rules)

    def clear(self, kind: str | None = None) -> None:
        self.rules = [r for r in self.rules if kind is not None and r.kind != kind]

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.rules if r.count is None or r.count > 0]


@dataclass
class EmulatorContext:
    """What a protocol's handlers see: the engine, the credentials and the server's hooks."""

    venue: str
    engine: Any  # aitbc_tui.sim.engine.MatchingEngine
    world: Any  # the sim world stepping the engine, or None
    api_key: str
    secret: str
    limiter: RateLimiter
    options: dict[str, Any] = field(default_factory=dict)
    account: str = EMULATOR_ACCOUNT
    clock: Callable[[], float] = time.time
    state: dict[str, Any] = field(default_factory=dict)
    faults: FaultTable = field(default_factory=FaultTable)
    clock_offset_s: float = 0.0  # injected skew of the server clock
    http_url: str = ""
    ws_url: str = ""
    _subscribers: list[Callable[[Any], None]] = field(default_factory=list)
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _websockets: set[web.WebSocketResponse] = field(default_factory=set)
    _handlers: set[asyncio.Task] = field(default_factory=set)  # in-flight request handlers

    # -- credentials ------------------------------------------------------------------
    def authenticate(self, api_key: str | None) -> str | None:
        """The engine account of ``api_key``, or None when the key is unknown."""
        if api_key and secrets.compare_digest(api_key.encode(), self.api_key.encode()):
            return self.account
        return None

    def secret_for(self, api_key: str | None) -> str | None:
        return self.secret if self.authenticate(api_key) else None

    # -- rate limiting ----------------------------------------------------------------
    def charge(self, key: str, weight: float = 1) -> float | None:
        return self.limiter.charge(key, weight)

    # -- time -------------------------------------------------------------------------
    def now(self) -> float:
        """The server's clock in epoch seconds (the wall clock plus any injected skew)."""
        return self.clock() + self.clock_offset_s

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # -- engine events ----------------------------------------------------------------
    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _dispatch(self, event: Any) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # one broken subscriber must not stop the engine
                import logging

                logging.getLogger(__name__).exception("emulator subscriber failed")

    # -- fault injection (tests) ------------------------------------------------------
    def inject_fault(self, name: str, key: str = "", count: int = 1) -> None:
        self.set_fault(name, key or "*", count=count)

    def set_fault(
        self, kind: str, endpoint: str = "*", count: int | None = 1, method: str = "", **params: Any
    ) -> FaultRule | None:
        """Arm a fault (see the module docstring); ``clock_skew`` moves the clock instead."""
        if kind == "clock_skew":
            self.clock_offset_s = float(params.get("offset_s", 0))
            return None
        return self.faults.add(kind, endpoint, count, method, **params)

    def clear_faults(self, kind: str | None = None) -> None:
        self.faults.clear(kind)
        if kind in (None, "clock_skew"):
            self.clock_offset_s = 0.0

    def take_fault(self, name: str, key: str = "") -> bool:
        """True (once per injection) when fault ``name`` is armed for ``key`` or for any key."""
        return self.faults.take(name, key) is not None

    def fault(self, name: str, *keys: str) -> FaultRule | None:
        """Like take_fault, returning the rule (and its params)."""
        return self.faults.take(name, *keys)

    # -- background work --------------------------------------------------------------
    def spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def track_websocket(self, ws: web.WebSocketResponse) -> Callable[[], None]:
        self._websockets.add(ws)
        return lambda: self._websockets.discard(ws)

    @property
    def in_flight_requests(self) -> int:
        """How many HTTP request handlers are running now (a held reply counts until stop)."""
        return len(self._handlers)

    @property
    def open_websockets(self) -> int:
        """How many websocket sessions are open now."""
        return sum(1 for ws in self._websockets if not ws.closed)


@dataclass
class RunningEmulator:
    venue: str
    url: str  # http://host:port
    ws_url: str  # ws://host:port/<WS_PATH>, "" if the venue has no websocket
    api_key: str
    secret: str
    ctx: EmulatorContext
    protocol: ModuleType
    _runner: web.AppRunner
    _world_task: asyncio.Task | None = None
    _stopped: bool = False

    @property
    def engine(self) -> Any:
        return self.ctx.engine

    @property
    def world(self) -> Any:
        return self.ctx.world

    @property
    def ccxt_id(self) -> str:
        return self.protocol.CCXT_ID

    @property
    def ccxt_urls(self) -> dict:
        """Replacement for ``exchange.urls['api']``."""
        return self.protocol.ccxt_urls(self.url, self.ws_url)

    @property
    def ccxt_options(self) -> dict:
        return dict(getattr(self.protocol, "CCXT_OPTIONS", {}))

    def ccxt_config(self, **extra: Any) -> dict:
        """Constructor config for a ccxt client (urls are applied with ``configure_ccxt``)."""
        config = {"apiKey": self.api_key, "secret": self.secret, "options": self.ccxt_options, "enableRateLimit": False}
        config.update(extra)
        return config

    def configure_ccxt(self, exchange: Any) -> Any:
        """Point an existing ccxt client at this emulator (urls, credentials, options)."""
        exchange.urls["api"] = self.ccxt_urls
        exchange.apiKey = self.api_key
        exchange.secret = self.secret
        exchange.options.update(self.ccxt_options)
        return exchange

    def inject_fault(self, name: str, key: str = "", count: int = 1) -> None:
        self.ctx.inject_fault(name, key, count)

    def set_fault(
        self, kind: str, endpoint: str = "*", count: int | None = 1, method: str = "", **params: Any
    ) -> FaultRule | None:
        return self.ctx.set_fault(kind, endpoint, count, method, **params)

    def clear_faults(self, kind: str | None = None) -> None:
        self.ctx.clear_faults(kind)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._world_task is not None:
            self._world_task.cancel()
            await asyncio.gather(self._world_task, return_exceptions=True)
        on_shutdown = getattr(self.protocol, "on_shutdown", None)
        if on_shutdown is not None:
            await on_shutdown(self.ctx)
        for ws in list(self.ctx._websockets):
            try:
                await asyncio.wait_for(ws.close(code=WSCloseCode.GOING_AWAY, message=b"emulator shutting down"), 1)
            except (TimeoutError, ConnectionError):
                pass
        # In-flight handlers (a held reply, a long poll) are cancelled, not waited for.
        tasks = list(self.ctx._tasks) + [t for t in self.ctx._handlers if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._runner.cleanup()
        close_world = getattr(self.ctx.world, "close", None)
        if close_world is not None:
            result = close_world()
            if asyncio.iscoroutine(result):
                await result


# ---- server middleware: faults, request log, admin --------------------------------------

_HTML_5XX = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _redacted_target(request: web.Request) -> str:
    """Path and query of a request with the values of secret parameters masked."""
    if not request.query_string:
        return request.path
    from urllib.parse import parse_qsl

    parts = []
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        parts.append(f"{name}=***" if name.lower() in SECRET_PARAMS else f"{name}={value}")
    return request.path + "?" + "&".join(parts)


def _log_request(ctx: EmulatorContext, request: web.Request, status: int, started: float, note: str = "") -> None:
    out = ctx.options.get("log_requests")
    if not out:
        return
    if out is True:
        import sys

        out = sys.stdout
    latency_ms = (time.monotonic() - started) * 1000
    line = f"{request.method} {_redacted_target(request)} {status} {latency_ms:.1f} ms"
    if note:
        line += f" ({note})"
    try:
        out.write(line + "\n")
        out.flush()
    except (OSError, ValueError):  # a closed pipe must not break serving
        pass


async def _apply_later(ctx: EmulatorContext, handler: Any, request: web.Request, delay_s: float) -> None:
    import logging

    await asyncio.sleep(delay_s)
    try:
        response = await handler(request)
    except Exception:  # noqa: BLE001 - the client got its answer long ago; log and move on
        logging.getLogger(__name__).exception("deferred %s %s failed", request.method, request.path)
        return
    if response.status >= 400:
        body = getattr(response, "text", "") or ""
        logging.getLogger(__name__).warning(
            "deferred %s %s answered %s: %s", request.method, request.path, response.status, body[:200]
        )


def _default_fault_response(kind: str, rule: FaultRule) -> web.Response:
    if kind == "reply_then_act":
        status = int(rule.params.get("status", 504))
        return web.Response(status=status, text=_HTML_5XX.format(status=status, reason="Gateway Time-out"),
                            content_type="text/html")  # fmt: skip
    status = 418 if kind == "http_418" else 429
    return json_response({"error": "rate limited"}, status=status)


async def _http_fault(ctx: EmulatorContext, request: web.Request, handler: Any, rule: FaultRule) -> web.StreamResponse:
    kind, params = rule.kind, rule.params
    protocol = request.app[PROTOCOL_KEY]
    if kind == "http_5xx":
        status = int(params.get("status", 503))
        reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable",
                  504: "Gateway Time-out"}.get(status, "Error")  # fmt: skip
        return web.Response(
            status=status, text=_HTML_5XX.format(status=status, reason=reason), content_type="text/html"
        )
    if kind == "hold":
        response = await handler(request)  # the request takes effect now
        delay = params.get("delay_s")
        if delay is None:
            await asyncio.Event().wait()  # never answers; stop() cancels this handler
        else:
            await asyncio.sleep(float(delay))
        return response
    custom = getattr(protocol, "fault_response", None)
    response = custom(ctx, kind, rule, request) if custom is not None else None
    if response is None:
        response = _default_fault_response(kind, rule)
    if kind in ("http_429", "http_418"):
        response.headers["Retry-After"] = str(int(params.get("retry_after", 1 if kind == "http_429" else 120)))
    elif kind == "reply_then_act":
        await request.read()  # the body is kept for the deferred handler
        request[DEFERRED] = True
        ctx.spawn(_apply_later(ctx, handler, request, float(params.get("delay_s", 2))))
    return response


@web.middleware
async def emulator_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Tracks in-flight handlers (stop cancels them), applies HTTP faults, logs requests."""
    ctx = ctx_of(request)
    started = time.monotonic()
    request[RECEIVED_AT] = ctx.now()
    task = asyncio.current_task()
    if task is not None:
        ctx._handlers.add(task)
    status, note = 500, ""
    try:
        rule = None
        if not request.path.startswith("/__") and request.headers.get("Upgrade", "").lower() != "websocket":
            keys = (request.path, getattr(request.match_info.handler, "__name__", ""))
            rule = ctx.faults.take_any(HTTP_FAULTS, *keys, method=request.method)
        if rule is not None:
            note = f"fault {rule.kind}"
            response = await _http_fault(ctx, request, handler, rule)
        else:
            response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status, note = 499, "cancelled"
        raise
    finally:
        if task is not None:
            ctx._handlers.discard(task)
        _log_request(ctx, request, status, started, note)


async def _admin_faults(request: web.Request) -> web.Response:
    """Loopback-only: GET lists the fault table, POST adds rules, DELETE clears (?kind=)."""
    ctx = ctx_of(request)
    if request.remote not in LOOPBACK:
        return json_response({"error": "the fault table is served to 127.0.0.1 only"}, status=403)
    if request.method == "DELETE":
        ctx.clear_faults(request.query.get("kind") or None)
    elif request.method == "POST":
        try:
            body = await request.json()
        except ValueError:
            return json_response({"error": "body must be JSON: a rule or a list of rules"}, status=400)
        rules = body if isinstance(body, list) else [body]
        try:
            for rule in rules:
                if not isinstance(rule, dict) or "kind" not in rule:
                    raise ValueError("each rule needs a kind")
                rule = dict(rule)
                params = dict(rule.pop("params", None) or {})
                kind = rule.pop("kind")
                endpoint = rule.pop("endpoint", "*")
                count = rule.pop("count", 1)
                method = rule.pop("method", "")
                params.update(rule)  # flat params are accepted too
                ctx.set_fault(kind, endpoint, count, method, **params)
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, status=400)
    return json_response({"venue": ctx.venue, "clock_offset_s": ctx.clock_offset_s, "faults": ctx.faults.to_json()})


async def _admin_orders(request: web.Request) -> web.Response:
    """Loopback-only: every order the engine holds for the API key's account, open first,
    then closed oldest first, with exact decimals as strings. Lets a checker in another
    process (``scripts/soak``) compare a journal with what this venue really holds."""
    ctx = ctx_of(request)
    if request.remote not in LOOPBACK:
        return json_response({"error": "the order table is served to 127.0.0.1 only"}, status=403)
    engine, account = ctx.engine, ctx.account
    held = list(engine.open_orders(account)) + list(reversed(engine.closed_orders(account, 10**9)))
    orders = [
        {
            "id": o.id,
            "client_order_id": o.client_order_id,
            "symbol": o.symbol,
            "side": o.side.value,
            "type": o.type.value,
            "price": None if o.price is None else str(o.price),
            "amount": str(o.amount),
            "filled": str(o.filled),
            "status": o.status.value,
            "created_at": o.created_at,
            "updated_at": o.updated_at,
        }
        for o in held
    ]
    return json_response({"venue": ctx.venue, "orders": orders})


def admin_routes() -> list[web.RouteDef]:
    return [web.route(method, "/__faults", _admin_faults) for method in ("GET", "POST", "DELETE")] + [
        web.get("/__orders", _admin_orders)
    ]


# ---- sim world wiring ------------------------------------------------------------------


class EmulatorWorld:
    """One venue's engine plus the seeded market simulation (market maker, taker flow)."""

    def __init__(self, engine: Any, simulator: Any, step_s: float = 0.1) -> None:
        self.engine = engine
        self.simulator = simulator
        self.step_s = step_s

    def step(self, dt: float | None = None) -> None:
        self.simulator.step(self.step_s if dt is None else dt)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.step_s)
            now = loop.time()
            self.simulator.step(min(now - last, 1.0))
            last = now


def build_world(venue: str, seed: int, opts: dict[str, Any]) -> tuple[EmulatorWorld, Any]:
    """A fresh in-memory sim world for ``venue`` seeded by ``seed``: (world, engine).

    Never the operator's persisted sandbox file: the emulator starts from scratch each run,
    and the same seed gives the same books.
    """
    import random

    from aitbc_tui.sim import specs
    from aitbc_tui.sim.engine import MatchingEngine
    from aitbc_tui.sim.market import MarketSimulator, PriceModel

    spec = specs.venue_spec(venue)
    if spec is None:
        raise ValueError(f"no simulated venue {venue!r}")
    engine = MatchingEngine(venue)
    rng = random.Random(seed)
    simulator = MarketSimulator(rng, PriceModel(rng, specs.REFERENCE_PRICES_USDT))
    for market_spec in spec.markets:
        market = market_spec.market(spec)
        engine.add_market(market)
        simulator.add_market(engine, market, market_spec, spec.spread_factor)
    return EmulatorWorld(engine, simulator, float(opts.get("step_s", 0.1))), engine


def fund_account(engine: Any, account: str) -> None:
    """Give the API key's account the standard sandbox starting balances."""
    from aitbc_tui.sim import specs

    for asset, amount in specs.OPERATOR_START_BALANCES.items():
        engine.deposit(account, asset, Decimal(amount))


def run_world(world: Any) -> asyncio.Task:
    """Step the world's market simulation on the asyncio clock until cancelled."""
    return asyncio.get_running_loop().create_task(world.run())


async def start_emulator(
    venue: str,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    secret: str | None = None,
    seed: int = 0,
    **opts: Any,
) -> RunningEmulator:
    """Serve ``venue``'s protocol in front of a fresh sim world; ``port=0`` picks a free port.

    Options: ``weight_per_minute`` (rate budget per key, default 6000), ``engine`` / ``world``
    (bring your own instead of a fresh seeded world), ``simulate`` (False: the market maker
    quotes once and the books then change only through orders and ``world.step()``; default
    True), ``step_s`` (simulation step, default 0.1 s), ``fund`` (False: no starting balances),
    ``log_requests`` (True or a text stream: one line per request served, method, path with
    secret parameters masked, status, latency), plus protocol-specific options.
    """
    protocol = load_protocol(venue)
    api_key = api_key or getattr(protocol, "generate_api_key", _default_api_key)()
    secret = secret or getattr(protocol, "generate_secret", _default_secret)()
    if "engine" in opts:
        world, engine = opts.pop("world", None), opts.pop("engine")
    else:
        world, engine = build_world(venue, seed, opts)
    limiter = RateLimiter(float(opts.get("weight_per_minute", DEFAULT_WEIGHT_PER_MINUTE)))
    ctx = EmulatorContext(
        venue=venue,
        engine=engine,
        world=world,
        api_key=api_key,
        secret=secret,
        limiter=limiter,
        options=opts,
        clock=time.time,  # wall clock: clients sign requests with their own wall clock
    )
    ctx.options["seed"] = seed
    engine.add_listener(ctx._dispatch)
    if opts.get("fund", True):
        fund_account(engine, ctx.account)

    app = web.Application(middlewares=[emulator_middleware])
    app[CTX_KEY] = ctx
    app[PROTOCOL_KEY] = protocol
    app.add_routes(admin_routes())
    app.add_routes(list(protocol.build_routes(ctx)))
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:  # e.g. the port is taken: leave nothing behind
        await runner.cleanup()
        engine.remove_listener(ctx._dispatch)
        raise
    bound_port = runner.addresses[0][1]
    url_host = f"[{host}]" if ":" in host else host
    ctx.http_url = f"http://{url_host}:{bound_port}"
    ws_path = getattr(protocol, "WS_PATH", "")
    ctx.ws_url = f"ws://{url_host}:{bound_port}{ws_path}" if ws_path else ""
    emulator = RunningEmulator(
        venue=venue,
        url=ctx.http_url,
        ws_url=ctx.ws_url,
        api_key=api_key,
        secret=secret,
        ctx=ctx,
        protocol=protocol,
        _runner=runner,
    )
    on_startup = getattr(protocol, "on_startup", None)
    if on_startup is not None:
        await on_startup(ctx)
    if world is not None and opts.get("simulate", True):
        emulator._world_task = run_world(world)
    return emulator
