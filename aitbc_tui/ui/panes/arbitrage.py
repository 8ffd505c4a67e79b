"""The arbitrage pane: buy on one venue, sell on another, net of both taker fees.

Each profitable route shows what `x` would send: its fundable size (``arb_exec.fundable_size``:
the books net of fees, the quote free on the buying venue, the base free on the selling one,
``[risk] max_order_value``, both lot grids) and what limits it ("book", "bal kraken USDT",
"risk binance"). That is worked out only when one of its inputs changed (``FundingCache``),
not once per frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from aitbc_tui import analysis
from aitbc_tui.arb_exec import FundableSize, Limit, PlanError, fundable_size, plan_route
from aitbc_tui.formatting import currency_places, decimals_of, fmt_bps, fmt_compact, fmt_fixed
from aitbc_tui.ui.widgets.linetable import Column, Fit, LineTable


def arb_columns(venue_width: int) -> list[Column]:
    """Where to buy and sell, the net edge, the size and what limits it are never dropped
    (the limit shortens to "bal USDT", then "bal"); the gross edge goes first, then the two
    prices, then the estimated profit."""
    return [
        Column("Symbol", 10, "<", min_width=9),
        Column("Net bps", 7),
        Column("Buy at", venue_width, "<", min_width=7),
        Column("Ask", 12, priority=3),
        Column("Sell at", venue_width, "<", min_width=7),
        Column("Bid", 12, priority=3),
        Column("Gross", 7, priority=4),
        Column("Size", 15, min_width=6),
        Column(Fit("Limited by", "Limit", "Lim"), venue_width + 9, "<", min_width=4),
        Column(Fit("Est. profit", "Profit"), 15, priority=2, min_width=10),
    ]


def limit_text(fundable: FundableSize) -> Fit:
    """What limits a route's size, for its cell: "book", "bal kraken USDT" (the asset that
    ran short and where), "risk binance" (that venue's ``max_order_value``); shorter forms
    for a narrow column ("bal USDT", "bal")."""
    if fundable.limited_by is Limit.BALANCE:
        return Fit(f"bal {fundable.venue} {fundable.asset}", f"bal {fundable.asset}", "bal")
    if fundable.limited_by is Limit.RISK:
        return Fit(f"risk {fundable.venue}", "risk")
    return Fit("book")


@dataclass(frozen=True, slots=True)
class RouteFunding:
    """What `x` would send on a route now, and its expected net at that size."""

    fundable: FundableSize
    est_profit_quote: Decimal


class FundingCache:
    """Fundable sizes per route, worked out again only when an input changed: the two books
    (immutable snapshots, compared by identity), the two venues' balances (replaced, never
    changed in place, when they move), the markets or the risk limits."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], tuple[tuple[object, ...], RouteFunding]] = {}
        self.computed = 0  # how many times fundable_size ran (the tests and the bench read it)

    def funding(self, service, index: analysis.ArbitrageIndex, opp: analysis.ArbOpportunity,
                max_order_value: Mapping[str, Decimal]) -> RouteFunding | None:  # fmt: skip
        symbol, buy, sell = opp.symbol, opp.buy_venue, opp.sell_venue
        buy_book, sell_book = index.book(buy, symbol), index.book(sell, symbol)
        buy_market, sell_market = service.market(buy, symbol), service.market(sell, symbol)
        if buy_book is None or sell_book is None or buy_market is None or sell_market is None:
            return None
        buy_balances, sell_balances = service.balances(buy), service.balances(sell)
        inputs = (buy_book, sell_book, buy_market, sell_market, buy_balances, sell_balances, max_order_value)
        key = (symbol, buy, sell)
        cached = self._entries.get(key)
        if cached is not None and all(a is b for a, b in zip(cached[0], inputs, strict=True)):
            return cached[1]
        self.computed += 1
        fundable = fundable_size(symbol, buy_book, buy_market, sell_book, sell_market, buy_balances=buy_balances,
                                 sell_balances=sell_balances, max_order_value=max_order_value)  # fmt: skip
        profit = Decimal(0)
        if fundable.amount > 0:
            try:
                plan = plan_route(symbol, fundable.amount, buy_book, buy_market, sell_book, sell_market)
                profit = plan.expected_net_quote
            except PlanError:  # fundable_size walked the same books: not expected, but never a crash
                pass
        result = RouteFunding(fundable, profit)
        self._entries[key] = (inputs, result)
        return result

    def forget_except(self, keep: set[tuple[str, str, str]]) -> None:
        """Drop the routes no longer shown (a venue left the index, a route fell below the floor)."""
        for key in [k for k in self._entries if k not in keep]:
            del self._entries[key]


ARB_COLUMNS = arb_columns(9)


@dataclass(frozen=True, slots=True)
class ArbLine:
    opportunity: analysis.ArbOpportunity
    price_places: int
    size_places: int
    quote: str
    funding: RouteFunding | None = None  # profitable routes: the fundable size and its limit

    @property
    def executable(self) -> bool:
        """Profitable, and something is fundable: `x` can send it."""
        return self.opportunity.net_bps > 0 and self.funding is not None and self.funding.fundable.amount > 0


@dataclass(frozen=True, slots=True)
class ArbitrageView:
    lines: tuple[ArbLine, ...]
    venue_width: int = 9  # the longest venue name, so names are shown whole where there is room
    # Symbols with two books whose best route is under [ui] min_arb_net_bps: not rows, but
    # counted, so an empty pane never reads as "no books" when it means "nothing close".
    below: tuple[analysis.ArbOpportunity, ...] = ()
    min_net_bps: Decimal | None = None

    @classmethod
    def build(cls, service, index: analysis.ArbitrageIndex | None, min_net_bps: Decimal | None, *,
              funding: FundingCache | None = None,
              max_order_value: Mapping[str, Decimal] | None = None) -> ArbitrageView:  # fmt: skip
        """``funding``: the app's cache (one per session); None: a fresh one (tests)."""
        venue_width = max([8] + [len(v) for v in service.venue_names])
        if index is None:
            return cls((), venue_width)
        cache = funding if funding is not None else FundingCache()
        limits = max_order_value if max_order_value is not None else {}
        lines = []
        shown = set()
        for opp in index.opportunities(min_net_bps):
            market = service.market(opp.buy_venue, opp.symbol)
            route = None
            if opp.net_bps > 0:
                route = cache.funding(service, index, opp, limits)
                shown.add((opp.symbol, opp.buy_venue, opp.sell_venue))
            lines.append(
                ArbLine(
                    opp,
                    decimals_of(market.tick_size) if market else 8,
                    decimals_of(market.lot_size) if market else 8,
                    opp.symbol.split("/")[1],
                    route,
                )
            )
        cache.forget_except(shown)
        below: tuple[analysis.ArbOpportunity, ...] = ()
        if min_net_bps is not None:
            listed = {line.opportunity.symbol for line in lines}
            below = tuple(o for o in index.opportunities(None) if o.symbol not in listed)
        return cls(tuple(lines), venue_width, below, min_net_bps)


EMPTY_TEXT = "no symbol is listed on two venues with books yet"


class ArbitragePane(LineTable):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(ARB_COLUMNS, empty_text=EMPTY_TEXT, id=id, classes=classes)
        self._routes: list[analysis.ArbOpportunity] = []

    def top_route(self) -> analysis.ArbOpportunity | None:
        """The route in the pane's first visible row (`x` executes it; ↑/↓ scroll)."""
        if not self._routes:
            return None
        return self._routes[min(self.top_row, len(self._routes) - 1)]

    def show(self, view: ArbitrageView) -> None:
        self._routes = [line.opportunity for line in view.lines]
        if self.columns[2].width != view.venue_width:
            self.columns = arb_columns(view.venue_width)
        rows = []
        for line in view.lines:
            opp = line.opportunity
            good = opp.net_bps > 0
            size: Decimal | None = None
            limit: tuple[str, str] = ("—", "linetable--dim")
            profit = opp.est_profit_quote
            if good and line.funding is not None:
                size, profit = line.funding.fundable.amount, line.funding.est_profit_quote
                # Nothing fundable, or a balance or a limit cut it: the operator's part, in warning colour.
                limited = line.funding.fundable.limited_by is not Limit.BOOK or not size
                limit = (limit_text(line.funding.fundable), "linetable--warn" if limited else "")
            elif good:
                size = opp.executable_size
            base = opp.symbol.partition("/")[0]
            rows.append(
                (
                    (opp.symbol, ""),
                    (fmt_bps(opp.net_bps), "linetable--good" if good else "linetable--dim"),
                    (opp.buy_venue, ""),
                    (fmt_fixed(opp.buy_price, line.price_places), "linetable--ask"),
                    (opp.sell_venue, ""),
                    (fmt_fixed(opp.sell_price, line.price_places), "linetable--bid"),
                    (fmt_bps(opp.gross_bps), "linetable--dim"),
                    (Fit(f"{fmt_fixed(size, line.size_places)} {base}", fmt_fixed(size, line.size_places),
                         fmt_compact(size, min(line.size_places, 4)), fmt_compact(size))
                     if size is not None else "—",
                     "" if size else "linetable--dim"),
                    limit,
                    (Fit(f"{fmt_compact(profit, currency_places(line.quote))} {line.quote}",
                         fmt_compact(profit, currency_places(line.quote))) if size else "—",
                     "linetable--good" if size else "linetable--dim"),
                )
            )  # fmt: skip
        note = None
        if view.below:
            best = view.below[0]
            under = f"+{len(view.below)} under {fmt_bps(view.min_net_bps)} bps (ui.min_arb_net_bps)"
            best_text = f"best {best.symbol} {fmt_bps(best.net_bps)}"
            if rows:
                note = [((f"{under} · {best_text}", "linetable--dim"),)]
            else:
                self._set_empty_text(
                    f"no route at or above {fmt_bps(view.min_net_bps)} bps net (ui.min_arb_net_bps) · {best_text}"
                )
        elif not rows:
            self._set_empty_text(EMPTY_TEXT)
        self.set_rows(rows, note)

    def _set_empty_text(self, text: str) -> None:
        if text != self.empty_text:
            self.empty_text = text
            self._cache.pop("empty", None)
            self.refresh()
