"""The inventory (``I``): where each asset is, venue by venue, and which profitable routes the
balances cut (arbitrage drains quote on the buying venue and base on the selling one, so the
operator sees when to move funds; moving them stays outside the app).

Holdings: per asset, every venue's free and used amount, exact (nothing rounded: each asset's
column has as many decimals as its most precise amount), its total and its share of the asset.
Routes: every route that nets > 0 after both taker fees whose fundable size the balances cut
(``arb_exec.fundable_size`` limited by a balance): the venue that lacks what, how much it holds
free, and how much more would let the books' size through (rounded up to the asset's precision:
moving that much is enough). Venue text is never markup: the
tables paint plain strings and the title is a ``rich.text.Text``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from aitbc_tui import analysis
from aitbc_tui.arb_exec import Limit
from aitbc_tui.domain import ZERO
from aitbc_tui.formatting import CURRENCY_PLACES, DEFAULT_CURRENCY_PLACES, decimals_of, fmt_bps, fmt_exact, fmt_fixed
from aitbc_tui.sanitize import plain_text
from aitbc_tui.ui.panes.arbitrage import FundingCache
from aitbc_tui.ui.widgets.linetable import Column, Fit, LineTable

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Holding:
    venue: str
    free: Decimal | None  # None: the venue reports no balance of the asset
    used: Decimal | None

    @property
    def total(self) -> Decimal:
        return (self.free or ZERO) + (self.used or ZERO)


@dataclass(frozen=True, slots=True)
class AssetSpread:
    asset: str
    holdings: tuple[Holding, ...]  # one per venue, in the service's venue order
    places: int  # decimals shown: the asset's precision, or more where an amount has more

    @property
    def total(self) -> Decimal:
        return sum((h.total for h in self.holdings), ZERO)

    def share(self, holding: Holding) -> Decimal | None:
        """The venue's part of the asset's total, in percent (None when nothing is held)."""
        total = self.total
        return holding.total / total * HUNDRED if total else None


@dataclass(frozen=True, slots=True)
class CutRoute:
    symbol: str
    buy_venue: str
    sell_venue: str
    net_bps: Decimal
    book_amount: Decimal  # base the books allow, net of fees
    fundable_amount: Decimal  # base the balances (and lot grids) allow of it
    short_venue: str  # the venue that lacks ...
    short_asset: str  # ... this asset
    held_free: Decimal  # what it has free
    missing: Decimal | None  # how much more of it would let the books' size through, rounded up (None: unknown)
    base_places: int
    asset_places: int


@dataclass(frozen=True, slots=True)
class InventoryView:
    venues: tuple[str, ...]
    assets: tuple[AssetSpread, ...]
    blocked: tuple[CutRoute, ...]

    @classmethod
    def build(cls, service, index: analysis.ArbitrageIndex | None, funding: FundingCache,
              max_order_value: Mapping[str, Decimal]) -> InventoryView:  # fmt: skip
        venues = tuple(service.venue_names)
        per_venue = {v: service.balances(v) for v in venues}
        lots: dict[str, int] = {}
        for v in venues:
            for market in service.markets(v).values():
                lots[market.base] = max(lots.get(market.base, 0), decimals_of(market.lot_size))

        def places_of(asset: str) -> int:
            return CURRENCY_PLACES.get(asset.upper(), lots.get(asset, DEFAULT_CURRENCY_PLACES))

        assets = []
        for asset in sorted({a for held in per_venue.values() for a in held}):
            holdings = []
            places = places_of(asset)
            for v in venues:
                balance = per_venue[v].get(asset)
                if balance is None:
                    holdings.append(Holding(v, None, None))
                    continue
                holdings.append(Holding(v, balance.free, balance.used))
                places = max(places, decimals_of(balance.free), decimals_of(balance.used))
            assets.append(AssetSpread(asset, tuple(holdings), places))
        blocked = []
        if index is not None:
            for opp in index.opportunities(ZERO):
                if opp.net_bps <= 0:
                    continue
                route = funding.funding(service, index, opp, max_order_value)
                if route is None or route.fundable.limited_by is not Limit.BALANCE:
                    continue
                fundable = route.fundable
                short_venue, short_asset = fundable.venue, fundable.asset
                held = per_venue.get(short_venue, {}).get(short_asset)
                free = held.free if held is not None and held.free > 0 else ZERO
                missing = _missing(service, index, opp, fundable.book_amount, short_venue, short_asset, free)
                if missing is not None:
                    missing = _round_up(missing, max(places_of(short_asset), decimals_of(free)))
                base = opp.symbol.partition("/")[0]
                blocked.append(CutRoute(opp.symbol, opp.buy_venue, opp.sell_venue, opp.net_bps,
                                            fundable.book_amount, fundable.amount, short_venue, short_asset, free,
                                            missing, places_of(base), places_of(short_asset)))  # fmt: skip
        return cls(venues, tuple(assets), tuple(blocked))


def _missing(service, index, opp, book_amount: Decimal, venue: str, asset: str, free: Decimal) -> Decimal | None:
    """More ``asset`` on ``venue`` that would fund the books' whole size: the base itself on
    the selling venue; on the buying venue the quote its asks cost for it, taker fee included."""
    base = opp.symbol.partition("/")[0]
    if asset == base:
        return max(book_amount - free, ZERO)
    book = index.book(venue, opp.symbol)
    market = service.market(venue, opp.symbol)
    if book is None or market is None:
        return None
    walk = analysis.walk_levels(book.asks, book_amount)
    if not walk.complete:
        return None
    return max(walk.cost_quote * (1 + market.taker_fee) - free, ZERO)


def _round_up(value: Decimal, places: int) -> Decimal:
    """An amount to move, up to the asset's precision: moving it is always enough."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING)


def _amount(value: Decimal | None, places: int) -> tuple[str, str]:
    if value is None:
        return ("—", "linetable--dim")
    return (fmt_fixed(value, places), "" if value else "linetable--dim")


HOLDING_COLUMNS = [
    Column("Asset", 6, "<", min_width=5),
    Column("Venue", 10, "<", min_width=7),
    Column("Free", 18, min_width=12),
    Column("Used", 18, min_width=10, priority=2),
    Column("Total", 18, min_width=12, priority=1),
    Column("Share", 7, priority=3),
]

BLOCKED_COLUMNS = [
    Column("Route", 26, "<", min_width=16),
    Column("Net bps", 7, priority=2),
    Column(Fit("Books allow", "Books"), 15, min_width=10, priority=1),
    Column("Fundable", 15, min_width=10),
    Column(Fit("Short of (free now · more needed)", "Short of"), 44, "<", min_width=16),
]


def holding_rows(view: InventoryView) -> list[tuple[tuple[str, str], ...]]:
    rows: list[tuple[tuple[str, str], ...]] = []
    for spread in view.assets:
        for i, holding in enumerate(spread.holdings):
            share = spread.share(holding)
            rows.append(
                (
                    (plain_text(spread.asset, 20) if i == 0 else "", ""),
                    (plain_text(holding.venue, 40), ""),
                    _amount(holding.free, spread.places),
                    _amount(holding.used, spread.places),
                    _amount(None if holding.free is None else holding.total, spread.places),
                    ("—" if share is None else f"{fmt_fixed(share, 1)} %", "linetable--dim" if not share else ""),
                )
            )
        if len(spread.holdings) > 1:
            rows.append(
                (
                    ("", ""),
                    ("all", "linetable--header"),
                    _amount(sum((h.free or ZERO for h in spread.holdings), ZERO), spread.places),
                    _amount(sum((h.used or ZERO for h in spread.holdings), ZERO), spread.places),
                    _amount(spread.total, spread.places),
                    ("", ""),
                )
            )
    return rows


def blocked_rows(view: InventoryView) -> list[tuple[tuple[str, str], ...]]:
    """Amounts exact (``fmt_exact``: the asset's decimals, more where the amount has more)."""
    rows: list[tuple[tuple[str, str], ...]] = []
    for route in view.blocked:
        base = route.symbol.partition("/")[0]
        venue, asset = plain_text(route.short_venue, 40), plain_text(route.short_asset, 20)
        held = fmt_exact(route.held_free, route.asset_places)
        more = "" if route.missing is None else f" · +{fmt_exact(route.missing, route.asset_places)}"
        books = fmt_exact(route.book_amount, route.base_places)
        fundable = fmt_exact(route.fundable_amount, route.base_places)
        rows.append(
            (
                (Fit(f"{plain_text(route.symbol, 24)} {plain_text(route.buy_venue, 40)} → "
                     f"{plain_text(route.sell_venue, 40)}", plain_text(route.symbol, 24)), ""),
                (fmt_bps(route.net_bps), "linetable--good"),
                (Fit(f"{books} {base}", books), ""),
                (Fit(f"{fundable} {base}", fundable), "linetable--warn" if not route.fundable_amount else ""),
                (Fit(f"{venue} lacks {asset}: {held}{more}", f"{venue} {asset} {held}{more}",
                     f"{venue} {asset}{more.replace(' ·', '')}", f"{venue} {asset}"), "linetable--warn"),
            )
        )  # fmt: skip
    return rows


class InventoryScreen(ModalScreen[None]):
    """Repainted twice a second from the live balances; the routes are the arbitrage pane's
    (which holds still while a screen is open, like every dashboard pane)."""

    BINDINGS = [
        Binding("escape,I", "close", "Back", id="inventory.close"),  # Tab: the app's next-pane key
    ]

    def __init__(self, build: Callable[[], InventoryView]) -> None:
        super().__init__(id="inventory")
        self._build = build
        self.view: InventoryView | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="inventory-box", classes="modal-box"):
            yield Static(Text("Inventory · free and used per venue"), classes="modal-title")
            yield LineTable(HOLDING_COLUMNS, empty_text="no balances yet", id="inventory-holdings")
            yield Static(Text("Routes the balances cut (net > 0 after both taker fees)"), classes="modal-title",
                         id="inventory-routes-title")  # fmt: skip
            yield LineTable(BLOCKED_COLUMNS, empty_text="no profitable route is cut by the balances",
                            id="inventory-blocked")  # fmt: skip
            yield Static(Text("↑↓ PgUp PgDn scroll · Tab next table · I / Esc back"), classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one("#inventory-holdings", LineTable).focus()
        self.refresh_view()
        self.set_interval(0.5, self.refresh_view, name="inventory-repaint")

    def refresh_view(self) -> None:
        """Rebuild from the service (cheap: the fundable sizes come from the pane's cache);
        the tables repaint only rows that changed."""
        view = self._build()
        if view == self.view:
            return
        self.view = view
        self.query_one("#inventory-holdings", LineTable).set_rows(holding_rows(view))
        self.query_one("#inventory-blocked", LineTable).set_rows(blocked_rows(view))

    def action_close(self) -> None:
        self.dismiss(None)
