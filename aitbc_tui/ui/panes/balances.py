"""The balances pane: free balance of every asset on every venue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from aitbc_tui.formatting import CURRENCY_PLACES, DEFAULT_CURRENCY_PLACES, decimals_of, fmt_compact, fmt_fixed
from aitbc_tui.ui.widgets.linetable import Column, Fit, LineTable


@dataclass(frozen=True, slots=True)
class BalanceRow:
    asset: str
    free: tuple[Decimal | None, ...]  # one per venue, in the view's venue order; None: no balance
    places: int = 8  # the asset's precision, the same in every venue's column


@dataclass(frozen=True, slots=True)
class BalancesView:
    venues: tuple[str, ...]
    rows: tuple[BalanceRow, ...]

    @classmethod
    def build(cls, service) -> BalancesView:
        venues = tuple(service.venue_names)
        per_venue = {v: service.balances(v) for v in venues}
        assets = sorted({a for v in venues for a in per_venue[v]})
        lots: dict[str, int] = {}  # an asset that is some market's base: the finest lot's decimals
        for v in venues:
            for market in service.markets(v).values():
                lots[market.base] = max(lots.get(market.base, 0), decimals_of(market.lot_size))
        rows = []
        for asset in assets:
            free = []
            for v in venues:
                bal = per_venue[v].get(asset)
                free.append(None if bal is None else bal.free)
            places = CURRENCY_PLACES.get(asset.upper(), lots.get(asset, DEFAULT_CURRENCY_PLACES))
            rows.append(BalanceRow(asset, tuple(free), places))
        return cls(venues, tuple(rows))


def balance_text(value: Decimal, places: int, *, compact: bool = False) -> str:
    """A free balance at its asset's precision (USDT 2, BTC 8, ETH 6, else its lot: the same
    in every venue's column), rounded down, never more than there is; ``compact`` for a
    narrow column (100.00k)."""
    if compact and value >= 10000:
        return fmt_compact(value, places)
    return fmt_fixed(value, places, rounding=ROUND_FLOOR)


class BalancesPane(LineTable):
    """Every venue keeps its column at every width: names and amounts shorten (100.00k,
    binanc…) before anything is dropped."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__([], empty_text="no balances yet", id=id, classes=classes)

    def show(self, view: BalancesView) -> None:
        asset_width = max([5] + [len(row.asset) for row in view.rows])
        columns = [Column("Asset", asset_width, "<", min_width=5)]
        columns += [Column(v, max(12, len(v)), min_width=7) for v in view.venues]
        if self.columns != columns:
            self.columns = columns
        rows = []
        for row in view.rows:
            cells = [(row.asset, "")]
            for free in row.free:
                if free is None:
                    cells.append(("—", "linetable--dim"))
                else:
                    cells.append(
                        (Fit(balance_text(free, row.places), balance_text(free, row.places, compact=True)), "")
                    )
            rows.append(tuple(cells))
        self.set_rows(rows)
