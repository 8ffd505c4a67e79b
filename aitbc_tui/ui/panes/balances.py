"""The balances pane: free balance of every asset on every venue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aitbc_tui.formatting import fmt_compact, fmt_fixed
from aitbc_tui.ui.widgets.linetable import Column, Fit, LineTable


@dataclass(frozen=True, slots=True)
class BalanceRow:
    asset: str
    free: tuple[Decimal | None, ...]  # one per venue, in the view's venue order; None: no balance


@dataclass(frozen=True, slots=True)
class BalancesView:
    venues: tuple[str, ...]
    rows: tuple[BalanceRow, ...]

    @classmethod
    def build(cls, service) -> BalancesView:
        venues = tuple(service.venue_names)
        per_venue = {v: service.balances(v) for v in venues}
        assets = sorted({a for v in venues for a in per_venue[v]})
        rows = []
        for asset in assets:
            free = []
            for v in venues:
                bal = per_venue[v].get(asset)
                free.append(None if bal is None else bal.free)
            rows.append(BalanceRow(asset, tuple(free)))
        return cls(venues, tuple(rows))


def fmt_balance(value: Decimal, *, compact: bool = False) -> str:
    if compact and value >= 10000:
        return fmt_compact(value)
    if value >= 1000:
        return fmt_fixed(value, 2)
    if value >= 1:
        return fmt_fixed(value, 4)
    return fmt_fixed(value, 8, grouping=False)


class BalancesPane(LineTable):
    """Every venue keeps its column at every width: names and amounts shorten (100.00k,
    binanc…) before anything is dropped."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__([], empty_text="no balances yet", id=id, classes=classes)

    def show(self, view: BalancesView) -> None:
        asset_width = max([5] + [len(row.asset) for row in view.rows])
        columns = [Column("Asset", asset_width, "<", min_width=5)]
        columns += [Column(v, max(10, len(v)), min_width=7) for v in view.venues]
        if self.columns != columns:
            self.columns = columns
        rows = []
        for row in view.rows:
            cells = [(row.asset, "")]
            for free in row.free:
                if free is None:
                    cells.append(("—", "linetable--dim"))
                else:
                    cells.append((Fit(fmt_balance(free), fmt_balance(free, compact=True)), ""))
            rows.append(tuple(cells))
        self.set_rows(rows)
