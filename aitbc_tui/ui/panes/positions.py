"""Positions and P&L, and the account's equity: two Line-API tables in one pane.

``PositionsPane``: per venue and symbol the quantity, average cost, realised and unrealised
P&L, fees, session and today's P&L (in the pair's quote), with the totals in the valuation
currency and the cost-basis method in its footer. ``EquityPane``: every asset's total, free
and used on every venue, exact (not rounded to a few places), its value in the valuation
currency and the route of that rate (which books it came from).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from textual.binding import Binding
from textual.message import Message

from aitbc_tui.domain import Market
from aitbc_tui.formatting import decimals_of, fmt_fixed, fmt_money
from aitbc_tui.market_feed import PnlReport
from aitbc_tui.sanitize import plain_text
from aitbc_tui.ui.titles import set_title
from aitbc_tui.ui.widgets.linetable import Cell, Column, Fit, LineTable

METHOD_TEXT = {"average": "average cost", "fifo": "FIFO"}


@dataclass(frozen=True, slots=True)
class PositionsView:
    report: PnlReport
    markets: tuple[tuple[tuple[str, str], Market | None], ...]

    @classmethod
    def build(cls, service, valuation: str = "USDT") -> PositionsView:
        report = service.market_feed().pnl_report(valuation)
        keys = {(line.position.venue, line.position.symbol) for line in report.positions}
        markets = tuple(sorted(((k, service.market(*k) if k[0] in service.venue_names else None) for k in keys),
                               key=lambda item: item[0]))  # fmt: skip
        return cls(report, markets)


def _signed(value: Decimal | None, currency: str, market: Market | None) -> Cell:
    if value is None:
        return ("—", "linetable--dim")
    text = fmt_money(value, currency, market)
    if value > 0:
        return ("+" + text, "linetable--bid")
    if value < 0:
        return (text, "linetable--ask")
    return (text, "")


def position_columns() -> list[Column]:
    return [
        Column("Venue", 9, "<", min_width=6),
        Column("Symbol", 10, "<", min_width=8),
        Column(Fit("Quantity", "Qty"), 14, min_width=8),
        Column(Fit("Avg cost", "Avg"), 12, min_width=8),
        Column(Fit("Realised", "Real."), 11, min_width=7),
        Column(Fit("Unrealised", "Unreal."), 11, min_width=7),
        Column("Fees", 9, priority=2, min_width=6),
        Column("Session", 10, priority=3, min_width=7),
        Column("Today", 10, priority=1, min_width=7),
    ]


def position_rows(view: PositionsView) -> list[tuple[Cell, ...]]:
    markets = dict(view.markets)
    rows: list[tuple[Cell, ...]] = []
    for line in view.report.positions:
        p = line.position
        market = markets.get((p.venue, p.symbol))
        places = decimals_of(market.tick_size) if market else 8
        avg = "—" if p.average_cost is None else fmt_fixed(p.average_cost, places)
        rows.append(
            (
                (p.venue, ""),
                (p.symbol, ""),
                (str(p.quantity), ""),  # exact
                (avg, ""),
                _signed(p.realised, p.quote, market),
                _signed(p.unrealised, p.quote, market),
                (fmt_money(p.fees, p.quote, market), "linetable--dim"),
                _signed(line.session.net, p.quote, market),
                _signed(line.today.net, p.quote, market),
            )
        )
    return rows


def totals_line(report: PnlReport) -> str:
    s, val = report.summary, report.valuation
    text = (f"{METHOD_TEXT.get(report.method.value, report.method.value)} · {val}: realised "
            f"{fmt_money(s.realised, val)} · unrealised {fmt_money(s.unrealised, val)} · fees {fmt_money(s.fees, val)}"
            f" · net {fmt_money(s.net, val)} · session {fmt_money(s.session_net, val)} · today "
            f"{fmt_money(s.today_net, val)}")  # fmt: skip
    if s.unvalued:
        text += f" · not valued: {', '.join(s.unvalued)}"
    return text


class PositionsPane(LineTable):
    BINDINGS = [Binding("m", "toggle_method", "Cost method", show=False)]

    class MethodToggled(Message):
        """m: average cost <-> FIFO (every position recomputed from the same fills)."""

    def action_toggle_method(self) -> None:
        self.post_message(self.MethodToggled())

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(position_columns(), empty_text="no fills or transfers: no positions", id=id, classes=classes)

    def show(self, view: PositionsView) -> None:
        title = f"Positions & P&L · {METHOD_TEXT.get(view.report.method.value, view.report.method.value)} (m switches)"
        set_title(self, title)
        self.set_rows(position_rows(view), [((totals_line(view.report), "linetable--dim"),)])


# ---- equity ------------------------------------------------------------------------------


def equity_columns() -> list[Column]:
    return [
        Column("Venue", 9, "<", min_width=6),
        Column("Asset", 6, "<", min_width=5),
        Column("Total", 18, min_width=10),
        Column("Free", 18, priority=2, min_width=10),
        Column("Used", 14, priority=3, min_width=8),
        Column("Value", 14, min_width=10),
        Column("Rate from", 34, "<", priority=1, min_width=12),
    ]


def equity_rows(report: PnlReport) -> list[tuple[Cell, ...]]:
    val = report.valuation
    rows: list[tuple[Cell, ...]] = []
    for r in report.equity.rows:
        value = ("—", "linetable--dim") if r.value is None else (fmt_money(r.value, val), "")
        rows.append(
            (
                (r.venue, ""),
                (plain_text(r.asset, 16), ""),
                (str(r.total), ""),  # exact amounts, as the venue reported them
                (str(r.free), ""),
                (str(r.used), "linetable--dim" if not r.used else ""),
                value,
                (r.route or "no rate", "linetable--dim"),
            )
        )
    return rows


def equity_line(report: PnlReport) -> str:
    e, val = report.equity, report.valuation
    parts = [f"equity {fmt_money(e.total, val, unit=True)}"]
    parts += [f"{v} {fmt_money(t, val)}" for v, t in e.by_venue]
    if e.unvalued:
        parts.append(f"no {val} rate: {', '.join(e.unvalued)}")
    return " · ".join(parts)


class EquityPane(LineTable):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(equity_columns(), empty_text="no balances yet", id=id, classes=classes)

    def show(self, report: PnlReport) -> None:
        e = report.equity
        title = f"Balances · equity {fmt_money(e.total, report.valuation, unit=True)} (at the books' mids)"
        if e.unvalued:
            title += f" · no rate: {', '.join(e.unvalued)}"
        set_title(self, title)
        self.set_rows(equity_rows(report), [((equity_line(report), ""),)])


__all__ = ["EquityPane", "PositionsPane", "PositionsView"]
