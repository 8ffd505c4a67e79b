"""The arbitrage pane: buy on one venue, sell on another, net of both taker fees."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aitbc_tui import analysis
from aitbc_tui.formatting import decimals_of, fmt_bps, fmt_compact, fmt_fixed
from aitbc_tui.ui.widgets.linetable import Column, LineTable

ARB_COLUMNS = [
    Column("Symbol", 10, "<"),
    Column("Net bps", 8),
    Column("Buy at", 9, "<"),
    Column("Ask", 12),
    Column("Sell at", 9, "<"),
    Column("Bid", 12),
    Column("Gross", 7),
    Column("Size", 11),
    Column("Est. profit", 15),
]


@dataclass(frozen=True, slots=True)
class ArbLine:
    opportunity: analysis.ArbOpportunity
    price_places: int
    size_places: int
    quote: str


@dataclass(frozen=True, slots=True)
class ArbitrageView:
    lines: tuple[ArbLine, ...]

    @classmethod
    def build(cls, service, index: analysis.ArbitrageIndex | None, min_net_bps: Decimal | None) -> ArbitrageView:
        if index is None:
            return cls(())
        lines = []
        for opp in index.opportunities(min_net_bps):
            market = service.market(opp.buy_venue, opp.symbol)
            lines.append(
                ArbLine(
                    opp,
                    decimals_of(market.tick_size) if market else 8,
                    decimals_of(market.lot_size) if market else 8,
                    opp.symbol.split("/")[1],
                )
            )
        return cls(tuple(lines))


class ArbitragePane(LineTable):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(ARB_COLUMNS, empty_text="no symbol is listed on two venues with books yet", id=id, classes=classes)

    def show(self, view: ArbitrageView) -> None:
        rows = []
        for line in view.lines:
            opp = line.opportunity
            good = opp.net_bps > 0
            rows.append(
                (
                    (opp.symbol, ""),
                    (fmt_bps(opp.net_bps), "linetable--good" if good else "linetable--dim"),
                    (opp.buy_venue, ""),
                    (fmt_fixed(opp.buy_price, line.price_places), "linetable--ask"),
                    (opp.sell_venue, ""),
                    (fmt_fixed(opp.sell_price, line.price_places), "linetable--bid"),
                    (fmt_bps(opp.gross_bps), "linetable--dim"),
                    (fmt_fixed(opp.executable_size, line.size_places) if good else "—", "" if good else "linetable--dim"),
                    (f"{fmt_compact(opp.est_profit_quote)} {line.quote}" if good else "—",
                     "linetable--good" if good else "linetable--dim"),
                )
            )  # fmt: skip
        self.set_rows(rows)
