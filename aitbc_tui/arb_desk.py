"""The arbitrage desk: plans a route, sends both legs at once, and handles the leg risk.

``ArbDesk`` sits on the market service and uses only its public order path
(``check_orders``, ``prepare_order``, ``send_order``), so every leg goes through the same
checks, journal and tracker as any order:

1. ``plan(symbol, buy, sell, amount)``: the two-leg plan (``arb_exec.plan_route``) from the
   service's books, capped by the fundable size; ``check(plan)`` says why it may not go
   (a venue down or degraded, a stale book, a leg the market rules or the balance refuse).
2. ``execute(plan)``: both legs pass the risk limits together (``check_orders``), the group
   row and then both intents (each with the group id) are journalled, and only then are both
   legs sent concurrently as IOC limits at the plan's prices.
3. When the legs fill unequally the group is ``unhedged`` (``arb_exec.group_outcome``): with
   ``[arbitrage] on_leg_failure = "ask"`` it waits for the operator (``hedge``, ``unwind`` or
   ``leave``); "hedge" / "unwind" act at once. A hedge sends the difference at market (an IOC
   limit at the slippage cap) on the better of the two venues; an unwind reverses the excess
   on the venue of the leg that filled more. Both join the group; ``leave`` records that the
   operator keeps the exposure. A leg whose outcome is UNKNOWN is never acted on: the service
   looks it up, and the group is settled once the venue has shown what became of it.

Nothing here imports textual or ccxt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from aitbc_tui import validation
from aitbc_tui.arb_exec import (
    ArbPlan,
    GroupOutcome,
    GroupState,
    LegFill,
    PlanError,
    floor_to_lots,
    fundable_size,
    group_outcome,
    plan_route,
    realised_fee,
)
from aitbc_tui.config import ON_LEG_FAILURE, RiskConfig
from aitbc_tui.domain import (
    ZERO,
    BookSnapshot,
    HealthStatus,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    VenueError,
)
from aitbc_tui.journal import EventKind, JournalGroup, JournalOrder, JournalState
from aitbc_tui.orders import OrderEvent, TrackedOrder

log = logging.getLogger(__name__)

RESOLUTIONS = ("balanced", "hedged", "unwound", "left", "not sent")

_JOURNAL_STATUS = {
    JournalState.INTENT: OrderStatus.UNKNOWN,
    JournalState.SENT: OrderStatus.UNKNOWN,
    JournalState.UNKNOWN: OrderStatus.UNKNOWN,
    JournalState.OPEN: OrderStatus.OPEN,
    JournalState.FILLED: OrderStatus.FILLED,
    JournalState.CANCELED: OrderStatus.CANCELED,
    JournalState.REJECTED: OrderStatus.REJECTED,
    JournalState.NOT_PLACED: OrderStatus.REJECTED,
}


def _amt(value: Decimal) -> str:
    """An amount without trailing zeros or an exponent: 0.30000000 is 0.3, 100 stays 100."""
    return format(value.normalize(), "f") if value else "0"


def new_group_id() -> str:
    return "arb-" + secrets.token_hex(6)


@dataclass
class ArbGroup:
    group_id: str
    symbol: str
    buy_venue: str
    sell_venue: str
    amount: Decimal
    expected_net_quote: Decimal
    expected_net_bps: Decimal
    plan: ArbPlan | None = None  # None for a group restored from the journal
    orders: list[TrackedOrder] = field(default_factory=list)  # legs first, then hedge / unwind
    journal_coids: list[str] = field(default_factory=list)  # a restored group's orders
    errors: list[str] = field(default_factory=list)  # what each leg's send said, if it failed
    resolution: str = ""
    message: str = ""
    acting: str = ""  # "hedge" / "unwind" while that order is out
    restored: bool = False
    auto_started: bool = False  # the automatic policy acted (once per group)
    actions: list[str] = field(default_factory=list)  # "hedge" / "unwind" orders sent, in order
    announced: bool = False  # the operator was told it is unhedged

    @property
    def base(self) -> str:
        return self.symbol.partition("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.partition("/")[2]


class ArbDesk:
    def __init__(
        self,
        service,
        *,
        risk: RiskConfig | None = None,
        on_leg_failure: str = "ask",
        armed: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if on_leg_failure not in ON_LEG_FAILURE:
            raise ValueError(f"on_leg_failure must be one of {', '.join(ON_LEG_FAILURE)}")
        self.service = service
        self.risk = risk or RiskConfig()
        self.on_leg_failure = on_leg_failure
        self.armed = armed  # the live gate: False while live trading is locked
        self._clock = clock
        self.groups: dict[str, ArbGroup] = {}
        self._by_coid: dict[str, str] = {}
        self.version = 0  # bumps whenever a group changes (the banner repaints on it)
        self._tasks: set[asyncio.Task] = set()
        self.notices: list[str] = []
        self._listeners: list[Callable[[str], None]] = []
        service.add_event_listener(self._on_order_event)

    # ---- planning ---------------------------------------------------------------------

    def plan(self, symbol: str, buy_venue: str, sell_venue: str, amount: Decimal | None = None) -> ArbPlan:
        """The two-leg plan from the service's books; ``amount`` None: the fundable size.
        Raises PlanError (one line) when the route cannot be planned."""
        books = []
        markets = []
        for venue in (buy_venue, sell_venue):
            if venue not in self.service.venue_names:
                raise PlanError(f"unknown venue {venue!r}; venues: {', '.join(self.service.venue_names)}")
            market = self.service.market(venue, symbol)
            if market is None:
                raise PlanError(f"{symbol} is not listed on {venue}")
            book = self.service.book(venue, symbol)
            if book is None:
                raise PlanError(f"no {symbol} book from {venue} yet")
            books.append(book)
            markets.append(market)
        return self.plan_from(symbol, books[0], markets[0], books[1], markets[1], amount)

    def plan_from(self, symbol, buy_book, buy_market, sell_book, sell_market, amount: Decimal | None) -> ArbPlan:
        fundable = fundable_size(
            symbol,
            buy_book,
            buy_market,
            sell_book,
            sell_market,
            buy_balances=self.service.balances(buy_book.venue),
            sell_balances=self.service.balances(sell_book.venue),
            max_order_value=dict(self.risk.max_order_value),
        )
        if amount is None:
            if fundable.amount <= 0:
                raise PlanError(f"nothing is executable on {symbol} buying on {buy_book.venue} and selling on "
                                f"{sell_book.venue} now (limited by {fundable.text})")  # fmt: skip
            amount = fundable.amount
        elif amount > fundable.amount:
            raise PlanError(f"amount {amount:f} {buy_market.base} is more than the route allows now: "
                            f"{fundable.amount:f} (limited by {fundable.text})")  # fmt: skip
        return plan_route(symbol, amount, buy_book, buy_market, sell_book, sell_market, fundable)

    def venue_refusal(self, venue: str, book_age_s: float | None = None) -> str | None:
        """Why no leg may go to ``venue`` now: down, degraded, or its book older than the
        health rule's stale-after time. ``book_age_s``: the age of a book fetched for this
        (headless); None: the streaming health (the dashboard)."""
        from aitbc_tui.service import DEGRADED_LATENCY_MS

        health = next((h for h in self.service.health() if h.venue == venue), None)
        if health is None:
            return f"{venue} is not running"
        why = f": {health.last_error}" if health.last_error else ""
        if health.status is HealthStatus.DOWN:
            return f"{venue} is down{why}"
        age = health.book_age_s if book_age_s is None else book_age_s
        if age is None or age > health.stale_after_s:
            shown = "no book" if age is None else f"book {age:.1f} s old"
            return f"{venue}: {shown}, older than its stale-after time {health.stale_after_s:.0f} s (health rule)"
        if book_age_s is None and health.status is HealthStatus.DEGRADED:
            return f"{venue} is degraded{why}"
        if health.latency_ms is None or health.latency_ms > DEGRADED_LATENCY_MS:
            return f"{venue} is degraded: its probe is slow or failing{why}"
        blocked = self.service.blocked_reason(venue)
        return blocked

    def check(self, plan: ArbPlan, *, book_ages: Mapping[str, float] | None = None,
              books: Mapping[str, BookSnapshot] | None = None) -> list[str]:  # fmt: skip
        """Every reason the plan may not be sent now (empty: it may). ``books``: the books
        the plan was made from, when the service does not stream them (headless)."""
        problems: list[str] = []
        if not self.armed():
            problems.append("live trading is locked: type the word shown at start")
        for leg in plan.legs:
            refusal = self.venue_refusal(leg.venue, None if book_ages is None else book_ages.get(leg.venue))
            if refusal:
                problems.append(refusal)
                continue
            market = self.service.market(leg.venue, plan.symbol)
            result = validation.validate_order(market, leg.side, OrderType.LIMIT, format(leg.amount, "f"),
                                               format(leg.limit_price, "f"), self.service.balances(leg.venue),
                                               (books or {}).get(leg.venue) or self.service.book(leg.venue, plan.symbol))  # fmt: skip
            if isinstance(result, list):
                problems.extend(f"{leg.venue} {leg.side.value} leg: {e.field}: {e.message}" for e in result)
        return problems

    # ---- sending ----------------------------------------------------------------------

    def requests_of(self, plan: ArbPlan, group_id: str) -> list[OrderRequest]:
        return [
            OrderRequest(venue=leg.venue, symbol=plan.symbol, side=leg.side, type=OrderType.LIMIT, amount=leg.amount,
                         price=leg.limit_price, time_in_force=TimeInForce.IOC, group_id=group_id)
            for leg in plan.legs
        ]  # fmt: skip

    def prepare(self, plan: ArbPlan, *, book_ages: Mapping[str, float] | None = None,
                books: Mapping[str, BookSnapshot] | None = None) -> ArbGroup:  # fmt: skip
        """Checks, then the group and both legs' intents journalled (synchronously): nothing
        is sent yet. Raises OrderRejected naming every refusal."""
        problems = self.check(plan, book_ages=book_ages, books=books)
        if problems:
            raise OrderRejected("; ".join(problems))
        group_id = new_group_id()
        requests = self.requests_of(plan, group_id)
        self.service.check_orders(requests)  # both legs within the risk limits, together
        journal = self.service.journal
        if journal is not None:
            mode = getattr(self.service.venue(plan.buy.venue).mode, "value", "")
            journal.record_group(
                JournalGroup(
                    group_id,
                    self._clock(),
                    mode,
                    plan.symbol,
                    plan.buy.venue,
                    plan.sell.venue,
                    plan.amount,
                    plan.buy.limit_price,
                    plan.sell.limit_price,
                    plan.expected_net_quote,
                    plan.expected_net_bps,
                    "",
                    None,
                    "",
                )  # fmt: skip
            )
        group = ArbGroup(group_id, plan.symbol, plan.buy.venue, plan.sell.venue, plan.amount,
                         plan.expected_net_quote, plan.expected_net_bps, plan=plan)  # fmt: skip
        first = self.service.prepare_order(requests[0])
        try:
            second = self.service.prepare_order(requests[1])
        except Exception as exc:
            self.service.tracker.discard(first, f"not sent: the other leg was refused: {exc}")
            if journal is not None:
                with contextlib.suppress(Exception):
                    journal.mark_rejected(first.coid, f"not sent: the other leg was refused: {exc}")
                    journal.resolve_group(group_id, "not sent", str(exc))
            raise
        group.orders = [first, second]
        self._add(group)
        return group

    async def send(self, group: ArbGroup) -> ArbGroup:
        """Send both prepared legs at once; each failure is kept in ``group.errors``."""
        from aitbc_tui.service import crash_point

        async def one(tracked: TrackedOrder):
            try:
                return await self.service.send_order(tracked)
            finally:
                crash_point("arb_after_first_leg")  # tests only: SIGKILL once a leg has been sent

        results = await asyncio.gather(*(one(t) for t in group.orders[:2]), return_exceptions=True)
        for tracked, result in zip(group.orders, results, strict=False):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                from aitbc_tui.service import describe_error

                group.errors.append(f"{tracked.venue} {tracked.request.side.value}: {describe_error(result)}")
        self._settle(group)
        return group

    async def execute(self, plan: ArbPlan, *, book_ages: Mapping[str, float] | None = None) -> ArbGroup:
        return await self.send(self.prepare(plan, book_ages=book_ages))

    # ---- the group's state ------------------------------------------------------------

    def _add(self, group: ArbGroup) -> None:
        self.groups[group.group_id] = group
        for tracked in group.orders:
            self._by_coid[tracked.coid] = group.group_id
        for coid in group.journal_coids:
            self._by_coid[coid] = group.group_id
        self.version += 1

    def legs(self, group: ArbGroup) -> list[LegFill]:
        now = self._clock()
        out = []
        seen = set()
        for tracked in group.orders:
            seen.add(tracked.coid)
            view = tracked.view(now)
            fee, estimated = realised_fee(tracked.fee, tracked.fee_currency, tracked.filled, tracked.cost,
                                          self._taker_fee(tracked.venue, group.symbol), group.base, group.quote)  # fmt: skip
            out.append(LegFill(tracked.request.side, tracked.request.amount, tracked.filled, view.status,
                               tracked.cost, fee, tracked.venue, estimated))  # fmt: skip
        journal = self.service.journal
        for coid in group.journal_coids:
            if coid in seen or journal is None:
                continue
            live = self.service.tracker.get(coid)
            entry = journal.order(coid)
            if entry is None:
                continue
            out.append(self._journal_leg(entry, live, group))
        return out

    def _journal_leg(self, entry: JournalOrder, live: TrackedOrder | None, group: ArbGroup) -> LegFill:
        assert self.service.journal is not None
        return journal_leg(self.service.journal, entry, group.symbol, self._taker_fee(entry.venue, group.symbol),
                           live=live, now=self._clock())  # fmt: skip

    def _taker_fee(self, venue: str, symbol: str) -> Decimal:
        market = self.service.market(venue, symbol) if venue in self.service.venue_names else None
        return market.taker_fee if market is not None else ZERO

    def outcome(self, group: ArbGroup | str) -> GroupOutcome:
        if isinstance(group, str):
            group = self.groups[group]
        return group_outcome(self.legs(group))

    def needs_attention(self) -> list[tuple[ArbGroup, GroupOutcome]]:
        """Groups whose leg risk is not settled (the banner): unknown, resting or unhedged."""
        out = []
        for group in self.groups.values():
            if group.resolution:
                continue
            outcome = self.outcome(group)
            if outcome.state in (GroupState.UNKNOWN, GroupState.OPEN, GroupState.UNHEDGED):
                out.append((group, outcome))
        return out

    def _on_order_event(self, event: OrderEvent) -> None:
        gid = self._by_coid.get(event.order.client_order_id)
        if gid is None:
            return
        group = self.groups.get(gid)
        if group is None:
            return
        self.version += 1
        if not group.acting:
            # The tracker moves the order on after telling (a fill, then filled): settle after it.
            asyncio.get_running_loop().call_soon(self._settle, group)

    def _settle(self, group: ArbGroup) -> None:
        """After the legs answered: record a balanced group; act on an unhedged one by policy."""
        if group.resolution or group.acting:
            return
        outcome = self.outcome(group)
        self.version += 1
        if outcome.state is GroupState.BALANCED:
            done = (
                {"hedge": "hedged", "unwind": "unwound"}.get(group.actions[-1], "balanced")
                if group.actions
                else "balanced"
            )
            self._resolve(group, done, self._result_text(group, outcome))
        elif outcome.state is GroupState.UNHEDGED and self.on_leg_failure in ("hedge", "unwind"):
            if not group.auto_started:
                group.auto_started = True
                action = self.hedge if self.on_leg_failure == "hedge" else self.unwind
                self._spawn(self._auto(group, action), f"arb-{self.on_leg_failure}:{group.group_id}")
        elif outcome.state is GroupState.UNHEDGED and not group.announced:
            group.announced = True
            self._notify(f"arbitrage {group.group_id}: {self.exposure_text(group, outcome)}: "
                         "hedge, unwind or leave it")  # fmt: skip

    async def _auto(self, group: ArbGroup, action) -> None:
        try:
            await action(group.group_id)
        except Exception as exc:  # noqa: BLE001 - shown; the group stays on the banner
            from aitbc_tui.service import describe_error

            self._notify(f"arbitrage {group.group_id}: automatic {self.on_leg_failure} failed: "
                         f"{describe_error(exc)}; the group waits for the operator")  # fmt: skip

    def _resolve(self, group: ArbGroup, resolution: str, message: str) -> None:
        group.resolution = resolution
        group.message = message
        self.version += 1
        journal = self.service.journal
        if journal is not None:
            try:
                journal.resolve_group(group.group_id, resolution, message)
            except Exception as exc:  # noqa: BLE001 - the group's orders are journalled regardless
                log.warning("arbitrage %s: could not record its resolution: %s", group.group_id, exc)
        self._notify(f"arbitrage {group.group_id} {resolution}: {message}")

    def exposure_text(self, group: ArbGroup, outcome: GroupOutcome | None = None) -> str:
        outcome = outcome or self.outcome(group)
        if outcome.state is GroupState.UNKNOWN:
            return (f"a leg's outcome is UNKNOWN (being looked up): {_amt(outcome.unhedged)} {group.base} unhedged "
                    f"so far, up to {_amt(outcome.at_risk)} more")  # fmt: skip
        if outcome.state in (GroupState.OPEN, GroupState.SENDING):
            return (f"{_amt(outcome.unhedged)} {group.base} unhedged so far; {_amt(outcome.at_risk)} {group.base} still open "
                    "(its fills or expiry are awaited; the kill switch cancels a resting remainder)")  # fmt: skip
        if outcome.unhedged > 0:
            return f"{_amt(outcome.unhedged)} {group.base} unhedged: bought on {group.buy_venue}, not sold"
        if outcome.unhedged < 0:
            return f"{_amt(-outcome.unhedged)} {group.base} unhedged: sold on {group.sell_venue}, not bought"
        return "balanced"

    def _result_text(self, group: ArbGroup, outcome: GroupOutcome) -> str:
        bps = "—" if outcome.realised_net_bps is None else f"{outcome.realised_net_bps:.2f}"
        estimated = " (some fees estimated at the taker rate)" if outcome.fees_estimated else ""
        return (f"realised net {outcome.realised_net_quote:.8f} {group.quote} ({bps} bps){estimated} vs expected "
                f"{group.expected_net_quote:.8f} {group.quote} ({group.expected_net_bps:.2f} bps)")  # fmt: skip

    # ---- leg risk ---------------------------------------------------------------------

    def _unhedged(self, group_id: str) -> tuple[ArbGroup, GroupOutcome]:
        group = self.groups.get(group_id)
        if group is None:
            raise OrderRejected(f"no arbitrage group {group_id!r}")
        if group.acting:
            raise OrderRejected(f"arbitrage {group_id}: a {group.acting} order is already out")
        outcome = self.outcome(group)
        if outcome.state is not GroupState.UNHEDGED:
            raise OrderRejected(f"arbitrage {group_id} is {outcome.state.value}: nothing to hedge or unwind"
                                + (" until its UNKNOWN leg is resolved" if outcome.state is GroupState.UNKNOWN
                                   else ""))  # fmt: skip
        return group, outcome

    def better_venue(self, group: ArbGroup, side: Side) -> str:
        """The venue of the two with the better price net of its taker fee for ``side``."""
        best: tuple[Decimal, str] | None = None
        for venue in (group.buy_venue, group.sell_venue):
            book = self.service.book(venue, group.symbol)
            market = self.service.market(venue, group.symbol)
            if book is None or market is None or self.venue_refusal(venue):
                continue
            if side is Side.SELL and book.best_bid is not None:
                score = -(book.best_bid * (1 - market.taker_fee))
            elif side is Side.BUY and book.best_ask is not None:
                score = book.best_ask * (1 + market.taker_fee)
            else:
                continue
            if best is None or score < best[0]:
                best = (score, venue)
        if best is None:
            raise OrderRejected(f"arbitrage {group.group_id}: neither {group.buy_venue} nor {group.sell_venue} "
                                f"can take a {side.value} of {group.symbol} now")  # fmt: skip
        return best[1]

    async def hedge(self, group_id: str) -> ArbGroup:
        """Close the difference at market (IOC at the slippage cap) on the better venue."""
        group, outcome = self._unhedged(group_id)
        side = Side.SELL if outcome.unhedged > 0 else Side.BUY
        return await self._market(group, self.better_venue(group, side), side, abs(outcome.unhedged), "hedge")

    async def unwind(self, group_id: str) -> ArbGroup:
        """Reverse the excess on the venue of the leg that filled more."""
        group, outcome = self._unhedged(group_id)
        if outcome.unhedged > 0:
            return await self._market(group, group.buy_venue, Side.SELL, outcome.unhedged, "unwind")
        return await self._market(group, group.sell_venue, Side.BUY, -outcome.unhedged, "unwind")

    def leave(self, group_id: str) -> ArbGroup:
        """The operator keeps the exposure: recorded, and the banner goes."""
        group, outcome = self._unhedged(group_id)
        self._resolve(group, "left", f"left by the operator: {self.exposure_text(group, outcome)}; "
                      + self._result_text(group, outcome))  # fmt: skip
        return group

    async def _market(self, group: ArbGroup, venue: str, side: Side, amount: Decimal, action: str) -> ArbGroup:
        market = self.service.market(venue, group.symbol)
        book = self.service.book(venue, group.symbol)
        refusal = self.venue_refusal(venue)
        if refusal:
            raise OrderRejected(f"arbitrage {group.group_id}: cannot {action} on {venue}: {refusal}")
        if market is None or book is None:
            raise OrderRejected(f"arbitrage {group.group_id}: no {group.symbol} book on {venue}")
        lot_amount = floor_to_lots(amount, market.lot_size)
        if lot_amount <= 0 or lot_amount < market.min_amount:
            raise OrderRejected(f"arbitrage {group.group_id}: {amount:f} {group.base} is below {venue}'s smallest "
                                f"order ({market.min_amount:f}): leave it, or trade it by hand")  # fmt: skip
        cap = validation.slippage_cap_price(market, side, book, self.risk.max_slippage_bps)
        _walk, problem = validation.market_quote(market, side, lot_amount, book, cap)
        if problem or cap is None:
            raise OrderRejected(f"arbitrage {group.group_id}: cannot {action} on {venue}: {problem or 'no book'}")
        request = OrderRequest(venue=venue, symbol=group.symbol, side=side, type=OrderType.LIMIT, amount=lot_amount,
                               price=cap, time_in_force=TimeInForce.IOC, group_id=group.group_id)  # fmt: skip
        tracked = self.service.prepare_order(request)
        group.orders.append(tracked)
        group.actions.append(action)
        self._by_coid[tracked.coid] = group.group_id
        group.acting = action
        self.version += 1
        try:
            await self.service.send_order(tracked)
        except VenueError as exc:
            from aitbc_tui.service import describe_error

            group.errors.append(f"{action} on {venue}: {describe_error(exc)}")
        finally:
            group.acting = ""
        outcome = self.outcome(group)
        if outcome.state is GroupState.UNHEDGED:
            self._notify(f"arbitrage {group.group_id}: after the {action}: {self.exposure_text(group, outcome)}")
        group.announced = True
        self._settle(group)  # balanced now, or once the order's fills arrive
        return group

    # ---- a restart ----------------------------------------------------------------------

    def restore(self) -> list[ArbGroup]:
        """Groups the journal has not settled (an earlier session's): back on the banner
        with their exposure, from the journal's record of their orders (reconciled at start)."""
        journal = self.service.journal
        if journal is None:
            return []
        restored = []
        for record in journal.groups(unresolved=True):
            if record.group_id in self.groups:
                continue
            group = ArbGroup(record.group_id, record.symbol, record.buy_venue, record.sell_venue, record.amount,
                             record.expected_net_quote, record.expected_net_bps, restored=True,
                             journal_coids=[o.client_order_id for o in journal.orders(group_id=record.group_id)])  # fmt: skip
            self._add(group)
            restored.append(group)
            outcome = self.outcome(group)
            if outcome.state is GroupState.BALANCED:
                self._resolve(group, "balanced", "settled at start: " + self._result_text(group, outcome))
            else:
                self._notify(f"arbitrage {group.group_id} from the last session: {self.exposure_text(group, outcome)}")
        return restored

    # ---- plumbing -----------------------------------------------------------------------

    def add_listener(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def _notify(self, message: str) -> None:
        log.info("%s", message)
        self.notices.append(message)
        for callback in list(self._listeners):
            with contextlib.suppress(Exception):
                callback(message)

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Wait for automatic hedges / unwinds in flight (tests, headless)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def journal_leg(journal, entry: JournalOrder, symbol: str, taker_fee: Decimal = ZERO, *,
                live: TrackedOrder | None = None, now: float = 0.0) -> LegFill:  # fmt: skip
    """One order of a group from the journal: its fills (price × amount, fees in quote),
    the amount a reconciliation found filled beyond them at the reconciled price, and its
    state (the live tracker's, when it still tracks the order). A fee the venue did not
    report in base or quote is estimated at ``taker_fee`` (0: left out)."""
    base, _, quote = symbol.partition("/")
    cost = fee = filled_by_fills = ZERO
    fee_currency = ""
    reconciled_price = None
    for event in journal.events(group_id=entry.group_id or None):
        if event.client_order_id != entry.client_order_id:
            continue
        if event.kind is EventKind.FILL and event.price is not None and event.amount is not None:
            cost += event.price * event.amount
            filled_by_fills += event.amount
            fee += event.fee or ZERO
            fee_currency = event.fee_currency or fee_currency
        elif event.kind is EventKind.RECONCILED and event.price is not None:
            reconciled_price = event.price
    if entry.filled > filled_by_fills and reconciled_price is not None:
        cost += (entry.filled - filled_by_fills) * reconciled_price
    status = live.view(now).status if live is not None else _JOURNAL_STATUS[entry.state]
    filled = live.filled if live is not None and live.filled > entry.filled else entry.filled
    fee_quote, estimated = realised_fee(fee, fee_currency, filled, cost, taker_fee, base, quote)
    return LegFill(Side(entry.side), entry.amount, filled, status, cost, fee_quote, entry.venue, estimated)


def journal_outcome(journal, group_id: str, taker_fees: Mapping[str, Decimal] | None = None) -> GroupOutcome | None:
    """The group's outcome from the journal alone (``aitbc-tui journal --group``); None when
    the journal has no such group."""
    record = journal.group(group_id)
    if record is None:
        return None
    legs = [journal_leg(journal, o, record.symbol, (taker_fees or {}).get(o.venue, ZERO))
            for o in journal.orders(group_id=group_id)]  # fmt: skip
    return group_outcome(legs)


__all__ = ["ArbDesk", "ArbGroup", "RESOLUTIONS", "journal_leg", "journal_outcome", "new_group_id"]
