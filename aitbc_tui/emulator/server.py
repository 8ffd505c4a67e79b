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
``ctx.now_ms()``, ``ctx.state`` (a dict the protocol may use for its own per-server state),
``json_response(obj, status=200, headers=None)`` which encodes Decimal as a plain string.

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

CTX_KEY: web.AppKey[EmulatorContext] = web.AppKey("emulator_ctx")  # type: ignore[name-defined]
DEFAULT_WEIGHT_PER_MINUTE = 6000  # Binance spot REQUEST_WEIGHT per minute
EMULATOR_ACCOUNT = "emulator"  # engine account of the emulator's API key


def ctx_of(request: web.Request) -> EmulatorContext:
    """The emulator context of the server handling ``request``."""
    return request.app[CTX_KEY]


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
    faults: dict[str, int] = field(default_factory=dict)
    http_url: str = ""
    ws_url: str = ""
    _subscribers: list[Callable[[Any], None]] = field(default_factory=list)
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _websockets: set[web.WebSocketResponse] = field(default_factory=set)

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
    def now_ms(self) -> int:
        return int(self.clock() * 1000)

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
        fault = f"{name}:{key}" if key else name
        self.faults[fault] = self.faults.get(fault, 0) + count

    def take_fault(self, name: str, key: str = "") -> bool:
        """True (once per injection) when fault ``name`` is armed for ``key`` or for any key."""
        for fault in (f"{name}:{key}" if key else None, name):
            if fault and self.faults.get(fault, 0) > 0:
                self.faults[fault] -= 1
                return True
        return False

    # -- background work --------------------------------------------------------------
    def spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def track_websocket(self, ws: web.WebSocketResponse) -> Callable[[], None]:
        self._websockets.add(ws)
        return lambda: self._websockets.discard(ws)


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
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"emulator shutting down")
        tasks = list(self.ctx._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._runner.cleanup()
        close_world = getattr(self.ctx.world, "close", None)
        if close_world is not None:
            result = close_world()
            if asyncio.iscoroutine(result):
                await result


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
    plus protocol-specific options.
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

    app = web.Application()
    app[CTX_KEY] = ctx
    app.add_routes(list(protocol.build_routes(ctx)))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
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
