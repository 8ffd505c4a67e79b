"""The order book pane: the focused venue's ladder with depth, liquidity and impact."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aitbc_tui import analysis
from aitbc_tui.domain import BookSnapshot, Market
from aitbc_tui.formatting import decimals_of, fmt_compact, fmt_fixed
from aitbc_tui.grouping import group_book, next_grouping
from aitbc_tui.ui.titles import set_title
from aitbc_tui.ui.widgets.ladder import BookLadder, Cell


@dataclass(frozen=True, slots=True)
class BookView:
    venue: str | None
    symbol: str | None
    book: BookSnapshot | None
    market: Market | None
    impact_size: Decimal | None = Decimal("1")  # None: no size can be worked out (no mid, no rate)
    brief: bool = False  # a narrow ladder: short labels under the book
    impact_label: str = ""  # what the size is worth, e.g. "10,000 USDT"; "": the size in base

    @classmethod
    def build(cls, service, venue: str | None, symbol: str | None, impact_size: Decimal | None, *,
              brief: bool = False, impact_label: str = "") -> BookView:  # fmt: skip
        if venue is None or symbol is None:
            return cls(venue, symbol, None, None, impact_size, brief, impact_label)
        return cls(venue, symbol, service.book(venue, symbol), service.market(venue, symbol), impact_size, brief,
                   impact_label)  # fmt: skip


def impact_text(impact: analysis.PriceImpact) -> str:
    if impact.impact_bps is None:
        return f"only {impact.fillable_size} fillable"
    return f"{fmt_fixed(impact.impact_bps, 1, grouping=False)} bps"


def analysis_lines(book: BookSnapshot, market: Market, size: Decimal | None, *, brief: bool = False,
                   impact_label: str = "") -> list[list[Cell]]:  # fmt: skip
    result = analysis.analyse_book(book, size if size is not None and size > 0 else Decimal(0))
    label, value = "ladder--label", "ladder--value"
    q = market.quote
    what = impact_label or (f"{size} {market.base}" if size is not None else "")  # a configured size, as written
    if size is None or size <= 0:
        buy = "no mid price: one side of the book is empty" if book.mid is None else f"no {q} rate for the size"
        sell = ""
    else:
        buy, sell = impact_text(result.buy_impact), impact_text(result.sell_impact)

    def depth(band) -> str:
        if band is None:
            return "—"
        more = "+" if band.truncated else ""
        return f"{fmt_compact(band.bid_quote)}{more}/{fmt_compact(band.ask_quote)}{more}"

    ratio = "—" if result.liquidity_ratio is None else fmt_fixed(result.liquidity_ratio, 2, grouping=False)
    if brief:  # about 30 cells: the quote currency is in the title, bid/ask order as below
        return [
            [(" ±0.5% b/a ", label), (depth(result.depth_half_pct), value)],
            [(" ±1%   b/a ", label), (depth(result.depth_one_pct), value)],
            [(" liq. ratio ", label), (ratio, value)],
            [(f" {what} b ", label), (buy, "ladder--ask"), (" s " if sell else "", label), (sell, "ladder--bid")],
        ]  # fmt: skip
    return [
        [(" depth ±0.5% bid/ask ", label), (depth(result.depth_half_pct), value), (f" {q}", label)],
        [(" depth ±1%   bid/ask ", label), (depth(result.depth_one_pct), value), (f" {q}", label)],
        [(" liquidity ratio (bid/ask ±1%) ", label), (ratio, value)],
        [(f" impact {what}: buy ", label), (buy, "ladder--ask"), ("  sell " if sell else "", label),
         (sell, "ladder--bid")],
    ]  # fmt: skip


class BookPane(BookLadder):
    """The ladder (a Line-API widget) fed from a BookView, its levels grouped by
    ``group_ticks`` ticks (`g`); depth, liquidity and impact always use the real levels."""

    group_ticks = 1

    def cycle_grouping(self) -> int:
        """The next grouping (1, 5, 10, 50 ticks); the new number of ticks."""
        self.group_ticks = next_grouping(self.group_ticks)
        return self.group_ticks

    def show(self, view: BookView) -> None:
        if view.venue is None or view.symbol is None:
            self.message = "no venue is running: see the health pane"
            self.set_book(None, None, [])
            return
        # A narrow ladder keeps venue and symbol whole in its title.
        title = f"{view.venue} · {view.symbol}" if view.brief else f"Order book · {view.venue} · {view.symbol}"
        book = view.book
        if self.group_ticks > 1 and view.market is not None:
            increment = view.market.tick_size * self.group_ticks
            shown = fmt_fixed(increment, decimals_of(view.market.tick_size), grouping=False)
            title += f" · by {shown}" if view.brief else f" · grouped by {shown}"
            if book is not None:
                book = group_book(book, increment)
        set_title(self, title)  # only when it changed: setting it repaints the whole ladder
        if view.book is None or view.market is None:
            self.message = f"waiting for {view.venue} {view.symbol}…"
            self.set_book(None, None, [])
            return
        self.set_book(
            book,
            view.market,
            analysis_lines(view.book, view.market, view.impact_size, brief=view.brief, impact_label=view.impact_label),
        )
