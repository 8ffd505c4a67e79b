"""The sandbox world: three matching engines, the market simulator, persistence, admin ops.

Deterministic: the same seed and the same sequence of ``step(dt)`` calls give identical books.
Run it on a clock with ``start()`` (an asyncio task) or by hand with ``step``/``run_steps``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from aitbc_tui.domain import (
    Market,
    Order,
    OrderRejected,
    OrderType,
    Side,
)
from aitbc_tui.sim.engine import BalancesChanged, MatchingEngine, OrderUpdated
from aitbc_tui.sim.market import MarketSimulator, PriceModel, stream
from aitbc_tui.sim.specs import (
    DEFAULT_VENUES,
    LIQUIDITY_PROVIDER,
    OPERATOR,
    OPERATOR_START_BALANCES,
    REFERENCE_PRICES_USDT,
    MarketSpec,
    VenueSpec,
)
from aitbc_tui.sim.store import SandboxStore, reset_sandbox

PERSISTED_ACCOUNTS = (OPERATOR, LIQUIDITY_PROVIDER)
PRICE_SAVE_INTERVAL_S = 10.0
DEFAULT_TICK_HZ = 15.0


class SandboxAdminError(ValueError):
    """An admin operation (create pair, add liquidity) cannot be done; str() says why."""


class SandboxWorld:
    def __init__(
        self,
        seed: int | None = None,
        *,
        clock: Callable[[], float] = time.time,
        store: SandboxStore | None = None,
        venues: Sequence[VenueSpec] = DEFAULT_VENUES,
    ) -> None:
        # An explicit seed reproduces the price path from the built-in starting prices, so a
        # persisted sandbox's saved prices are not used with it (balances, orders, pairs are).
        self.seeded = seed is not None
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.rng = random.Random(self.seed)
        self.clock = clock
        self.store = store
        self.sim_time = 0.0
        self.venue_specs: dict[str, VenueSpec] = {v.name: v for v in venues}
        self.engines: dict[str, MatchingEngine] = {}
        self.market_specs: dict[tuple[str, str], MarketSpec] = {}
        self._task: asyncio.Task[None] | None = None
        self._users = 0
        self._last_price_save = 0.0

        prices = dict(REFERENCE_PRICES_USDT)
        if store is not None and not self.seeded:
            prices.update({a: Decimal(repr(p)) for a, p in store.load_prices().items()})
        self.prices = PriceModel(stream(self.seed, "prices"), prices)
        self.sim = MarketSimulator(self.rng, self.prices, seed=self.seed)

        for spec in venues:
            engine = MatchingEngine(spec.name, clock)
            engine.set_unlimited(LIQUIDITY_PROVIDER)
            self.engines[spec.name] = engine
            for mspec in spec.markets:
                engine.add_market(mspec.market(spec))
                self.market_specs[(spec.name, mspec.symbol)] = mspec
        if store is not None:
            for venue, market in store.load_pairs():
                if venue in self.engines and market.symbol not in self.engines[venue].markets:
                    self.engines[venue].add_market(market)
                    self.market_specs[(venue, market.symbol)] = _default_spec(market)
        for venue, engine in self.engines.items():
            self._restore(venue, engine)
        for venue, engine in self.engines.items():
            for symbol, market in engine.markets.items():
                self.sim.add_market(engine, market, self.market_specs[(venue, symbol)],
                                    self.venue_specs[venue].spread_factor)  # fmt: skip
        if store is not None:
            for venue, engine in self.engines.items():
                engine.add_listener(self._persister(venue, engine))

    # ---- persistence --------------------------------------------------------------------

    def _fund(self, engine: MatchingEngine, at: float, prices: dict[str, Decimal]) -> None:
        """The start funding counts as the operator's deposits at ``at`` (ids ``start-ASSET``),
        so the starting coins have a cost basis and selling them is no short position. Each
        is priced at ``prices`` (USDT, the world's price when it was funded, kept in the store:
        a restart must not re-price the starting coins at that day's mid)."""
        for asset, amount in OPERATOR_START_BALANCES.items():
            price = prices.get(asset)
            engine.record_transfer(OPERATOR, asset, amount, at, id=f"start-{asset}", price=price,
                                   price_quote="USDT" if price is not None else "")  # fmt: skip

    def _funding_prices(self, engine: MatchingEngine) -> dict[str, Decimal]:
        """Each funded asset's USDT price now (the price model the books quote around), to the
        tick of the venue's ASSET/USDT market; assets without such a market have none."""
        out: dict[str, Decimal] = {}
        for asset in OPERATOR_START_BALANCES:
            market = engine.markets.get(f"{asset}/USDT")
            price = self.prices.prices.get(asset)
            if market is not None and price is not None and price > 0:
                out[asset] = Decimal(repr(price)).quantize(market.tick_size)
        return out

    def _stored_prices(self, venue: str) -> dict[str, Decimal]:
        raw = self.store.get_meta(f"funded_prices:{venue}") if self.store else None
        try:
            loaded = json.loads(raw) if raw else {}
            return {str(a): Decimal(str(p)) for a, p in loaded.items()} if isinstance(loaded, dict) else {}
        except (ValueError, InvalidOperation):  # a damaged entry: priced as an old sandbox's
            return {}

    def _restore(self, venue: str, engine: MatchingEngine) -> None:
        store = self.store
        balances = store.load_balances(venue, OPERATOR) if store else {}
        if store is None or not balances:
            funded_at = self.clock()
            for asset, amount in OPERATOR_START_BALANCES.items():
                engine.set_balance(OPERATOR, asset, amount)
            prices = self._funding_prices(engine)
            self._fund(engine, funded_at, prices)
            if store:
                store.save_balances(venue, OPERATOR, engine.balances(OPERATOR))
                store.set_meta(f"funded_at:{venue}", repr(funded_at))
                store.set_meta(f"funded_prices:{venue}", json.dumps({a: str(p) for a, p in prices.items()}))
            return
        # A sandbox saved before the funding was recorded: funded before any of its fills, and
        # (without stored prices) priced by the P&L's own rule (the venue's candle, else mid).
        self._fund(engine, float(store.get_meta(f"funded_at:{venue}") or 0.0), self._stored_prices(venue))
        for b in balances.values():
            engine.set_balance(OPERATOR, b.asset, b.free, b.used)
        number = store.get_meta(f"next_order_number:{venue}")
        if number:
            engine.next_order_number = int(number)
        for account, order, _reserved, _priority in store.load_orders(venue, open_only=False):
            engine.restore_closed_order(order, account)
        for account, order, reserved, priority in store.load_orders(venue, open_only=True):
            if order.symbol in engine.markets:
                engine.restore_open_order(order, reserved, priority, account)

    def _persister(self, venue: str, engine: MatchingEngine) -> Callable[[object], None]:
        store = self.store
        assert store is not None

        def persist(event: object) -> None:
            if isinstance(event, OrderUpdated) and event.account in PERSISTED_ACCOUNTS:
                state = engine.order_state(event.order.id) or (Decimal(0), 0)
                balances = engine.balances(OPERATOR) if event.account == OPERATOR else None
                store.save_event(venue, event.account, event.order, state[0], state[1],
                                 event.fills, balances, engine.next_order_number)  # fmt: skip
            elif isinstance(event, BalancesChanged) and event.account == OPERATOR:
                store.save_balances(venue, OPERATOR, engine.balances(OPERATOR))

        return persist

    def save(self) -> None:
        """Save what is not saved per event (reference prices)."""
        if self.store is not None:
            self.store.save_prices({a: p for a, p in self.prices.prices.items()})

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.store is not None:
            self.save()
            self.store.close()
            self.store = None

    # ---- stepping ---------------------------------------------------------------------

    def engine(self, venue: str) -> MatchingEngine:
        engine = self.engines.get(venue)
        if engine is None:
            raise SandboxAdminError(f"unknown sandbox venue {venue!r}; known: {', '.join(self.engines)}")
        return engine

    def step(self, dt_seconds: float) -> None:
        """Advance the simulation by ``dt_seconds`` (deterministic for a given seed)."""
        self.sim.step(dt_seconds)
        self.sim_time += dt_seconds
        if self.store is not None and self.sim_time - self._last_price_save >= PRICE_SAVE_INTERVAL_S:
            self._last_price_save = self.sim_time
            self.save()

    def run_steps(self, count: int, dt_seconds: float = 1 / DEFAULT_TICK_HZ) -> None:
        for _ in range(count):
            self.step(dt_seconds)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, tick_hz: float = DEFAULT_TICK_HZ) -> None:
        """Tick on the running event loop until ``stop()``; idempotent."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(tick_hz), name="sandbox-world-ticks")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def acquire(self, tick_hz: float = DEFAULT_TICK_HZ) -> None:
        """A venue starts using the clock-driven world (reference counted)."""
        self._users += 1
        self.start(tick_hz)

    async def release(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users == 0:
            await self.stop()
            self.save()

    async def _run(self, tick_hz: float) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / tick_hz
        last = loop.time()
        owed = 0.0
        while True:
            await asyncio.sleep(max(0.0, interval - owed - (loop.time() - last)))
            now = loop.time()
            # Fixed steps of `interval`, whatever the loop's timing, so a seed gives the same
            # path tick by tick; a stalled loop must not make the market leap: cap the debt.
            owed = min(owed + now - last, 0.25)
            last = now
            while owed >= interval:
                self.step(interval)
                owed -= interval

    # ---- reference prices ------------------------------------------------------------

    def reference_price(self, base: str, quote: str) -> Decimal | None:
        cross = self.prices.cross(base, quote)
        return None if cross is None else Decimal(repr(cross))

    # ---- admin ops ---------------------------------------------------------------------

    def create_pair(self, base: str, quote: str, venue: str, min_order_size: Decimal | str,
                    price_precision: int | str | Decimal, quantity_precision: int | str | Decimal,
                    min_notional: Decimal | str = "0") -> Market:  # fmt: skip
        """Add a market to a sandbox venue and persist it.

        Precisions are decimal places (``2`` -> tick 0.01) or a step (``"0.05"``). The pair
        gets a market maker if both assets have a reference price; otherwise it is empty
        until ``add_liquidity``."""
        engine = self.engine(venue)
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote or "/" in base or "/" in quote or base == quote:
            raise SandboxAdminError(f"invalid pair {base}/{quote}: need two different asset names")
        symbol = f"{base}/{quote}"
        if symbol in engine.markets:
            raise SandboxAdminError(f"{symbol} already exists on sandbox {venue}")
        tick = _step("price_precision", price_precision)
        lot = _step("quantity_precision", quantity_precision)
        min_amount = _positive("min_order_size", min_order_size, allow_zero=False)
        notional = _positive("min_notional", min_notional, allow_zero=True)
        if min_amount % lot:
            raise SandboxAdminError(f"min_order_size {min_amount} is not a multiple of the quantity step {lot}")
        spec = self.venue_specs[venue]
        market = Market(symbol, base, quote, tick, lot, min_amount, notional,
                        spec.maker_fee, spec.taker_fee)  # fmt: skip
        engine.add_market(market)
        mspec = _default_spec(market)
        self.market_specs[(venue, symbol)] = mspec
        if self.store is not None:
            self.store.save_pair(venue, market)
        self.sim.add_market(engine, market, mspec, spec.spread_factor)
        return market

    def add_liquidity(self, pair: str, amount: Decimal | str, side: Side | str,
                      venue: str | None = None, *, levels: int = 10, price: Decimal | str | None = None,
                      level_step_bps: int = 10) -> list[Order]:  # fmt: skip
        """Rest ``amount`` (base) of orders on ``side`` ("buy"/"bid", "sell"/"ask" or "both",
        split evenly) over ``levels`` price levels stepping ``level_step_bps`` away from the mid.

        The mid is the book's mid, else the reference price, else ``price``. ``venue=None`` means
        every sandbox venue listing the pair. Orders belong to the persisted liquidity-provider
        account: they survive restarts and show in the book."""
        symbol = pair.strip().upper().replace("-", "/")
        total = _positive("amount", amount, allow_zero=False)
        sides = _sides(side)
        if levels < 1:
            raise SandboxAdminError(f"levels must be at least 1, got {levels}")
        venues = [venue] if venue else [v for v, e in self.engines.items() if symbol in e.markets]
        if not venues:
            raise SandboxAdminError(f"no sandbox venue lists {symbol}")
        engines = [(v, self.engine(v)) for v in venues]
        for v, engine in engines:
            if symbol not in engine.markets:
                raise SandboxAdminError(f"sandbox {v} does not list {symbol}")
        placed: list[Order] = []
        plans = [(v, e, self._liquidity_plan(v, e, symbol, total, sides, levels, price, level_step_bps))
                 for v, e in engines]  # fmt: skip
        for _v, engine, plan in plans:  # validate everything before placing anything
            for s, p, a in plan:
                market = engine.markets[symbol]
                if a < market.min_amount or p * a < market.min_notional:
                    raise SandboxAdminError(
                        f"{a} {market.base} at {p} per level is below {engine.venue} {symbol}'s "
                        f"minimum ({market.min_amount} {market.base}, {market.min_notional} "
                        f"{market.quote}); use a larger amount or fewer levels"
                    )
        for _v, engine, plan in plans:
            with engine.batch(symbol):
                for s, p, a in plan:
                    try:
                        order, _ = engine.place(LIQUIDITY_PROVIDER, symbol, s, OrderType.LIMIT, a, p)
                    except OrderRejected as exc:
                        raise SandboxAdminError(str(exc)) from exc
                    placed.append(order)
        return placed

    def _liquidity_plan(self, venue: str, engine: MatchingEngine, symbol: str, total: Decimal,
                        sides: list[Side], levels: int, price: Decimal | str | None,
                        step_bps: int) -> list[tuple[Side, Decimal, Decimal]]:  # fmt: skip
        market = engine.markets[symbol]
        bid, ask = engine.best_bid_ask(symbol)
        mid: Decimal | None
        if bid is not None and ask is not None:
            mid = (bid + ask) / 2
        else:
            mid = self.reference_price(market.base, market.quote) or bid or ask
        if mid is None:
            if price is None:
                raise SandboxAdminError(f"{symbol} on {venue} has no book and no reference price; pass a price")
            mid = _positive("price", price, allow_zero=False)
        per_side = total / len(sides)
        per_level = (per_side / levels / market.lot_size).to_integral_value("ROUND_FLOOR") * market.lot_size
        if per_level <= 0:
            raise SandboxAdminError(
                f"amount {total} split over {levels} levels is below the lot size {market.lot_size}"
            )
        plan = []
        step = Decimal(step_bps) / 10_000
        for s in sides:
            for k in range(1, levels + 1):
                raw = mid * (1 - step * k) if s is Side.BUY else mid * (1 + step * k)
                rounding = "ROUND_FLOOR" if s is Side.BUY else "ROUND_CEILING"
                p = (raw / market.tick_size).to_integral_value(rounding) * market.tick_size
                if p <= 0:
                    raise SandboxAdminError(f"{symbol} on {venue}: price levels would reach zero")
                # The last level absorbs the rounding remainder.
                a = per_level if k < levels else per_side - per_level * (levels - 1)
                a = (a / market.lot_size).to_integral_value("ROUND_FLOOR") * market.lot_size
                plan.append((s, p, a))
        return plan


# ---- helpers --------------------------------------------------------------------------


def _default_spec(market: Market) -> MarketSpec:
    return MarketSpec(market.symbol, market.tick_size, market.lot_size, market.min_amount,
                      market.min_notional, level_step_bps=5.0, half_spread_bps=5.0,
                      level_notional_usdt=5_000.0)  # fmt: skip


def _number(name: str, value: object) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise SandboxAdminError(f"{name} must be a number, got {value!r}") from exc
    if not number.is_finite():
        raise SandboxAdminError(f"{name} must be a finite number, got {value!r}")
    return number


def _positive(name: str, value: object, allow_zero: bool) -> Decimal:
    number = _number(name, value)
    if number < 0 or (number == 0 and not allow_zero):
        raise SandboxAdminError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return number


def _step(name: str, value: int | str | Decimal) -> Decimal:
    """Decimal places (an integer) or a step size (a number with a point)."""
    text = str(value).strip()
    if isinstance(value, int) or text.isdigit():
        places = int(text)
        if not 0 <= places <= 18:
            raise SandboxAdminError(f"{name} must be 0..18 decimal places, got {places}")
        return Decimal(1).scaleb(-places)
    step = _positive(name, text, allow_zero=False)
    if step > 1 and step != step.to_integral_value():
        raise SandboxAdminError(f"{name} step {step} is not a sensible increment")
    return step


def _sides(side: Side | str) -> list[Side]:
    text = side.value if isinstance(side, Side) else str(side).strip().lower()
    if text in ("buy", "bid", "bids"):
        return [Side.BUY]
    if text in ("sell", "ask", "asks"):
        return [Side.SELL]
    if text == "both":
        return [Side.BUY, Side.SELL]
    raise SandboxAdminError(f"side must be buy/bid, sell/ask or both, got {side!r}")


# ---- entry points -------------------------------------------------------------------------


def open_world(seed: int | None = None, *, reset: bool = False, data_dir: Path | None = None,
               persist: bool = True, clock: Callable[[], float] = time.time) -> SandboxWorld:  # fmt: skip
    """Build the world, restoring state from ``data_dir`` (``paths.data_dir()`` by default)."""
    if reset:
        reset_sandbox(data_dir)
    store = SandboxStore.open(data_dir) if persist else None
    return SandboxWorld(seed, clock=clock, store=store)


def create_pair(base: str, quote: str, venue: str, min_order_size: Decimal | str,
                price_precision: int | str | Decimal, quantity_precision: int | str | Decimal,
                *, min_notional: Decimal | str = "0", data_dir: Path | None = None) -> Market:  # fmt: skip
    """Headless admin op: add a pair to the persisted sandbox (seen on the next start)."""
    world = open_world(data_dir=data_dir)
    try:
        return world.create_pair(base, quote, venue, min_order_size, price_precision,
                                 quantity_precision, min_notional)  # fmt: skip
    finally:
        world.close()


def add_liquidity(pair: str, amount: Decimal | str, side: Side | str, venue: str | None = None,
                  *, levels: int = 10, price: Decimal | str | None = None,
                  data_dir: Path | None = None) -> list[Order]:  # fmt: skip
    """Headless admin op: rest liquidity-provider orders in the persisted sandbox."""
    world = open_world(data_dir=data_dir)
    try:
        return world.add_liquidity(pair, amount, side, venue, levels=levels, price=price)
    finally:
        world.close()
