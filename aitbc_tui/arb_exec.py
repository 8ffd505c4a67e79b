"""Executing an arbitrage route: how much can be done, the two-leg plan, and the group's state.

Pure functions and frozen dataclasses over domain snapshots (Decimal throughout, nothing
rounded but amounts to the lot grid). The service side (sending, hedging) is in
``arb_desk``; this module imports neither textual nor ccxt.

Fundable size
-------------
The largest base amount that is, at once:

* executable on the books: walking the buy venue's asks against the sell venue's bids while
  every slice still nets > 0 after both taker fees (``analysis.evaluate_pair``);
* fundable: the quote free on the buy venue pays ``amount * price * (1 + taker fee)`` walked
  level by level, the base free on the sell venue covers ``amount``;
* within the risk limit ``[risk] max_order_value.<venue>`` of each leg, valued at that leg's
  limit price (the worst price walked on its book for that amount, as the risk gate values it);
* on both venues' lot grids.

``limited_by`` names the smallest of these: ``"book"``, ``"balance"`` (``detail`` says which
asset on which venue) or ``"risk limit"`` (``detail`` names the key).

Two-leg plan
------------
Per leg: the venue, side, amount, limit price (the worst level walked on that book for the
amount), taker fee rate, the expected average and notional and the expected fee in quote.
Expected net quote = sell notional·(1 − sell fee) − buy notional·(1 + buy fee); expected net
bps = expected net quote / (buy notional·(1 + buy fee)) × 10,000, the return on the quote
spent (the convention of ``analysis.net_bps``).

Group state
-----------
``group_outcome(legs)`` reads every order of a group (the two legs, and any hedge or unwind
order sent later) and gives the group's state and its unhedged amount, the base bought minus
the base sold:

* ``sending``: a leg has not been answered yet;
* ``unknown``: a leg's outcome is UNKNOWN (the venue has not shown it yet): the exposure is
  not known, only bounded;
* ``open``: a leg still rests (an IOC that did not expire yet): the kill switch cancels it;
* ``balanced``: every order is final and the base bought equals the base sold (both legs
  filled, or neither);
* ``unhedged``: every order is final and they differ: ``unhedged`` > 0 is base held long on
  the buy venue, < 0 base sold short on the sell venue.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from aitbc_tui.analysis import BPS, ZERO, evaluate_pair, walk_levels
from aitbc_tui.domain import Balance, BookSnapshot, Market, OrderStatus, PriceLevel, Side


class PlanError(ValueError):
    """A route cannot be planned at that amount; str() is one line for the operator."""


# ---- fundable size -------------------------------------------------------------------


class Limit(str, enum.Enum):
    BOOK = "book"
    BALANCE = "balance"
    RISK = "risk limit"


@dataclass(frozen=True, slots=True)
class FundableSize:
    amount: Decimal  # base, on both lot grids
    limited_by: Limit
    detail: str  # "the books", "USDT on kraken", "risk.max_order_value.kraken = 1000 USDT"
    book_amount: Decimal  # what the books alone allow (before balances and limits)
    venue: str = ""  # the venue whose balance or risk limit cut the size ("" for the books)
    asset: str = ""  # the asset that ran short on ``venue`` (balance only)

    @property
    def text(self) -> str:
        """For the operator: ``"book"``, ``"balance: USDT on kraken"``, ``"risk limit: …"``."""
        return self.limited_by.value if self.limited_by is Limit.BOOK else f"{self.limited_by.value}: {self.detail}"


def _free(balances: Mapping[str, Decimal | Balance] | None, asset: str) -> Decimal | None:
    if balances is None:
        return None
    held = balances.get(asset)
    if held is None:
        return ZERO
    free = held.free if isinstance(held, Balance) else held
    return free if free > 0 else ZERO


def floor_to_lots(amount: Decimal, *lots: Decimal) -> Decimal:
    """``amount`` rounded down onto every lot grid given (the coarsest wins)."""
    out = amount
    for _ in range(3):  # grids that are multiples of each other settle in one pass
        for lot in lots:
            if lot > 0:
                out = (out / lot).to_integral_value(rounding=ROUND_DOWN) * lot
    return out if out > 0 else ZERO


def value_capped_amount(levels: Sequence[PriceLevel], cap: Decimal, upper: Decimal) -> Decimal:
    """The largest amount ≤ ``upper`` whose value at its limit price (the worst level walked
    for it) is ≤ ``cap``: the size the risk gate accepts for one leg."""
    best = ZERO
    cumulative = ZERO
    for price, size in levels:
        low = cumulative
        cumulative += size
        high = min(cumulative, upper)
        if high <= low or price <= 0:
            break
        candidate = min(high, cap / price)
        if candidate > low:
            best = max(best, candidate)
    return best


def fundable_size(
    symbol: str,
    buy_book: BookSnapshot,
    buy_market: Market,
    sell_book: BookSnapshot,
    sell_market: Market,
    *,
    buy_balances: Mapping[str, Decimal | Balance] | None = None,
    sell_balances: Mapping[str, Decimal | Balance] | None = None,
    max_order_value: Mapping[str, Decimal] | None = None,
) -> FundableSize:
    """The largest amount executable net of fees on both books and fundable on both legs
    (see the module doc); balances None: not capped by them."""
    base, _, quote = symbol.partition("/")
    opp = evaluate_pair(symbol, buy_book, buy_market.taker_fee, sell_book, sell_market.taker_fee)
    book_amount = opp.executable_size if opp is not None else ZERO
    amount, limited_by, detail = book_amount, Limit.BOOK, "the books"
    limit_venue = limit_asset = ""
    balances: dict[str, Mapping[str, Decimal | Balance]] = {}
    if buy_balances is not None:
        balances[buy_book.venue] = {quote: _free(buy_balances, quote) or ZERO}
    if sell_balances is not None:
        balances.setdefault(sell_book.venue, {})
        balances[sell_book.venue] = {**balances[sell_book.venue], base: _free(sell_balances, base) or ZERO}
    if balances and book_amount > 0:
        funded = evaluate_pair(symbol, buy_book, buy_market.taker_fee, sell_book, sell_market.taker_fee,
                               balances=balances)  # fmt: skip
        if funded is not None and funded.executable_size < amount:
            amount, limited_by, detail = funded.executable_size, Limit.BALANCE, funded.capped_by
            # evaluate_pair names the leg that ran out: the buy venue's quote or the sell venue's base.
            if funded.capped_by == f"{base} on {sell_book.venue}":
                limit_venue, limit_asset = sell_book.venue, base
            else:
                limit_venue, limit_asset = buy_book.venue, quote
    for book, levels in ((buy_book, buy_book.asks), (sell_book, sell_book.bids)):
        cap = (max_order_value or {}).get(book.venue)
        if cap is None or amount <= 0:
            continue
        capped = value_capped_amount(levels, cap, amount)
        if capped < amount:
            amount, limited_by = capped, Limit.RISK
            detail = f"risk.max_order_value.{book.venue} = {cap:f} {quote}"
            limit_venue, limit_asset = book.venue, ""
    floored = floor_to_lots(amount, buy_market.lot_size, sell_market.lot_size)
    return FundableSize(floored, limited_by, detail, book_amount, limit_venue, limit_asset)


# ---- the two-leg plan ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegPlan:
    venue: str
    side: Side
    amount: Decimal
    limit_price: Decimal  # worst level walked on this leg's book for the amount
    fee_rate: Decimal  # taker: an IOC limit at the walked price takes
    expected_average: Decimal
    expected_notional: Decimal  # quote, before fees
    expected_fee: Decimal  # quote


@dataclass(frozen=True, slots=True)
class ArbPlan:
    symbol: str
    buy: LegPlan
    sell: LegPlan
    expected_net_quote: Decimal
    expected_net_bps: Decimal
    fundable: FundableSize | None = None

    @property
    def amount(self) -> Decimal:
        return self.buy.amount

    @property
    def base(self) -> str:
        return self.symbol.partition("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.partition("/")[2]

    @property
    def legs(self) -> tuple[LegPlan, LegPlan]:
        return (self.buy, self.sell)


def _leg(book: BookSnapshot, market: Market, side: Side, amount: Decimal) -> LegPlan:
    levels = book.asks if side is Side.BUY else book.bids
    walk = walk_levels(levels, amount)
    if not walk.complete or walk.worst_price is None or walk.average_price is None:
        held = walk.filled
        raise PlanError(
            f"{book.venue}'s visible {'asks' if side is Side.BUY else 'bids'} hold only {held:f} {market.base}: "
            f"cannot {side.value} {amount:f}"
        )
    fee = walk.cost_quote * market.taker_fee
    return LegPlan(book.venue, side, amount, walk.worst_price, market.taker_fee, walk.average_price,
                   walk.cost_quote, fee)  # fmt: skip


def plan_route(
    symbol: str,
    amount: Decimal,
    buy_book: BookSnapshot,
    buy_market: Market,
    sell_book: BookSnapshot,
    sell_market: Market,
    fundable: FundableSize | None = None,
) -> ArbPlan:
    """Both legs at ``amount`` base, each at the worst price walked on its own book; raises
    PlanError (one line) when a book cannot fill the amount or the amount is not positive."""
    if not amount.is_finite() or amount <= 0:
        raise PlanError(f"amount must be positive, not {amount}")
    if buy_book.venue == sell_book.venue:
        raise PlanError("buy and sell venues must differ")
    buy = _leg(buy_book, buy_market, Side.BUY, amount)
    sell = _leg(sell_book, sell_market, Side.SELL, amount)
    spent = buy.expected_notional + buy.expected_fee
    net = sell.expected_notional - sell.expected_fee - spent
    return ArbPlan(symbol, buy, sell, net, net / spent * BPS if spent else ZERO, fundable)


# ---- the group's state -------------------------------------------------------------------


class GroupState(str, enum.Enum):
    SENDING = "sending"
    UNKNOWN = "unknown"
    OPEN = "open"
    BALANCED = "balanced"
    UNHEDGED = "unhedged"


@dataclass(frozen=True, slots=True)
class LegFill:
    """One order of a group as the tracker or the journal sees it now."""

    side: Side
    amount: Decimal
    filled: Decimal
    status: OrderStatus
    cost: Decimal = ZERO  # quote: sum of price × amount of its fills
    fee_quote: Decimal = ZERO  # its fees, in quote
    venue: str = ""
    fee_estimated: bool = False  # the venue did not report the fee in base or quote: taker rate used


@dataclass(frozen=True, slots=True)
class GroupOutcome:
    state: GroupState
    bought: Decimal  # base, filled by buy orders
    sold: Decimal  # base, filled by sell orders
    # Base bought minus base sold: > 0 long on the buy side, < 0 short. Under ``unknown``, the
    # figure from what is known; ``at_risk`` adds what the unknown orders could still fill.
    unhedged: Decimal
    at_risk: Decimal
    realised_net_quote: Decimal  # sell proceeds − buy cost − every fee
    realised_net_bps: Decimal | None  # over buy cost + buy fees; None before anything was bought
    fees_estimated: bool = False  # some fee was not reported in base or quote (see LegFill)

    @property
    def resolved(self) -> bool:
        return self.state is GroupState.BALANCED


def group_outcome(orders: Iterable[LegFill]) -> GroupOutcome:
    orders = list(orders)
    bought = sum((o.filled for o in orders if o.side is Side.BUY), ZERO)
    sold = sum((o.filled for o in orders if o.side is Side.SELL), ZERO)
    statuses = {o.status for o in orders}
    if OrderStatus.PENDING in statuses:
        state = GroupState.SENDING
    elif OrderStatus.UNKNOWN in statuses:
        state = GroupState.UNKNOWN
    elif OrderStatus.OPEN in statuses:
        state = GroupState.OPEN
    elif bought == sold:
        state = GroupState.BALANCED
    else:
        state = GroupState.UNHEDGED
    at_risk = sum((o.amount - o.filled for o in orders if not o.status.is_final), ZERO)
    buy_cost = sum((o.cost + o.fee_quote for o in orders if o.side is Side.BUY), ZERO)
    sell_net = sum((o.cost - o.fee_quote for o in orders if o.side is Side.SELL), ZERO)
    realised = sell_net - buy_cost
    return GroupOutcome(state, bought, sold, bought - sold, at_risk, realised,
                        realised / buy_cost * BPS if buy_cost else None,
                        any(o.fee_estimated for o in orders))  # fmt: skip


def fee_in_quote(fee: Decimal, fee_currency: str, price: Decimal, base: str, quote: str) -> Decimal | None:
    """A fill's fee valued in quote (a fee charged in base is worth fee × fill price); None
    when it cannot be valued here (no fee reported, or a third currency such as BNB)."""
    if fee and fee_currency == quote:
        return fee
    if fee and fee_currency == base:
        return fee * price
    return None


def realised_fee(fee: Decimal, fee_currency: str, filled: Decimal, cost: Decimal, taker_fee: Decimal,
                 base: str, quote: str) -> tuple[Decimal, bool]:  # fmt: skip
    """The fee of an order in quote and whether it is estimated: as the venue reported it
    where that is in base or quote, else the taker rate on its cost (an IOC takes)."""
    if not filled:
        return ZERO, False
    valued = fee_in_quote(fee, fee_currency, cost / filled, base, quote)
    if valued is not None:
        return valued, False
    return cost * taker_fee, True


# ---- inventory: where each asset is, and which routes the balances block --------------------


@dataclass(frozen=True, slots=True)
class InventoryRow:
    asset: str
    free: tuple[tuple[str, Decimal], ...]  # (venue, free amount), in venue order

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount in self.free), ZERO)

    def share(self, venue: str) -> Decimal | None:
        """The venue's part of the asset's total, 0..1 (None when nothing is held)."""
        total = self.total
        held = dict(self.free).get(venue, ZERO)
        return held / total if total else None


@dataclass(frozen=True, slots=True)
class BlockedRoute:
    symbol: str
    buy_venue: str
    sell_venue: str
    net_bps: Decimal
    book_amount: Decimal  # what the books allow
    fundable_amount: Decimal  # what the balances allow of it
    capped_by: str  # "USDT on kraken": the balance to move there


def inventory(venues: Sequence[str], balances: Mapping[str, Mapping[str, Decimal | Balance]]) -> list[InventoryRow]:
    """Per asset, its free amount on every venue (0 where a venue holds none), assets sorted."""
    assets = sorted({asset for held in balances.values() for asset in held})
    return [InventoryRow(asset, tuple((venue, _free(balances.get(venue), asset) or ZERO) for venue in venues))
            for asset in assets]  # fmt: skip


def blocked_routes(by_books: Iterable, by_balances: Iterable) -> list[BlockedRoute]:
    """Profitable routes (``analysis.ArbOpportunity``, net > 0) whose size the balances cut:
    ``by_books`` found without balances, ``by_balances`` with them (same books and fees)."""
    funded = {(o.symbol, o.buy_venue, o.sell_venue): o for o in by_balances}
    out = []
    for opp in by_books:
        key = (opp.symbol, opp.buy_venue, opp.sell_venue)
        capped = funded.get(key)
        if opp.net_bps <= 0 or capped is None or not capped.capped_by:
            continue
        if capped.executable_size < opp.executable_size:
            out.append(BlockedRoute(opp.symbol, opp.buy_venue, opp.sell_venue, opp.net_bps, opp.executable_size,
                                    capped.executable_size, capped.capped_by))  # fmt: skip
    return out


__all__ = [
    "ArbPlan",
    "BlockedRoute",
    "InventoryRow",
    "blocked_routes",
    "inventory",
    "FundableSize",
    "GroupOutcome",
    "GroupState",
    "LegFill",
    "LegPlan",
    "Limit",
    "PlanError",
    "fee_in_quote",
    "floor_to_lots",
    "fundable_size",
    "group_outcome",
    "plan_route",
    "realised_fee",
    "value_capped_amount",
]
