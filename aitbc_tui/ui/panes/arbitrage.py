"""The arbitrage pane: buy on one venue, sell on another, net of both taker fees."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aitbc_tui import analysis
from aitbc_tui.formatting import currency_places, decimals_of, fmt_bps, fmt_compact, fmt_fixed
from aitbc_tui.ui.widgets.linetable import Column, Fit, LineTable


def arb_columns(venue_width: int) -> list[Column]:
    """Where to buy and sell, the net edge and the size are never dropped; the gross
    edge goes first, then the two prices, then the estimated profit."""
    return [
        Column("Symbol", 10, "<", min_width=9),
        Column("Net bps", 7),
        Column("Buy at", venue_width, "<", min_width=7),
        Column("Ask", 12, priority=3),
        Column("Sell at", venue_width, "<", min_width=7),
        Column("Bid", 12, priority=3),
        Column("Gross", 7, priority=4),
        Column("Size", 15, min_width=7),
        Column(Fit("Est. profit", "Profit"), 15, priority=2, min_width=10),
    ]


ARB_COLUMNS = arb_columns(9)


@dataclass(frozen=True, slots=True)
class ArbLine:
    opportunity: analysis.ArbOpportunity
    price_places: int
    size_places: int
    quote: str


@dataclass(frozen=True, slots=True)
class ArbitrageView:
    lines: tuple[ArbLine, ...]
    venue_width: int = 9  # the longest venue name, so names are shown whole where there is room

    @classmethod
    def build(cls, service, index: analysis.ArbitrageIndex | None, min_net_bps: Decimal | None) -> ArbitrageView:
        venue_width = max([8] + [len(v) for v in service.venue_names])
        if index is None:
            return cls((), venue_width)
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
        return cls(tuple(lines), venue_width)


class ArbitragePane(LineTable):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            ARB_COLUMNS, empty_text="no symbol is listed on two venues with books yet", id=id, classes=classes
        )
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
            rows.append(
                (
                    (opp.symbol, ""),
                    (fmt_bps(opp.net_bps), "linetable--good" if good else "linetable--dim"),
                    (opp.buy_venue, ""),
                    (fmt_fixed(opp.buy_price, line.price_places), "linetable--ask"),
                    (opp.sell_venue, ""),
                    (fmt_fixed(opp.sell_price, line.price_places), "linetable--bid"),
                    (fmt_bps(opp.gross_bps), "linetable--dim"),
                    (Fit(f"{fmt_fixed(opp.executable_size, line.size_places)} {opp.symbol.partition('/')[0]}",
                         fmt_fixed(opp.executable_size, line.size_places), fmt_compact(opp.executable_size))
                     if good else "—",
                     "" if good else "linetable--dim"),
                    (Fit(f"{fmt_compact(opp.est_profit_quote, currency_places(line.quote))} {line.quote}",
                         fmt_compact(opp.est_profit_quote, currency_places(line.quote))) if good else "—",
                     "linetable--good" if good else "linetable--dim"),
                )
            )  # fmt: skip
        self.set_rows(rows)
