"""The watchlist: every symbol on every venue with last, 24 h change, 24 h volume (base and
quote), spread and book age. Sortable (``o`` cycles the sort column, ``O`` reverses);
up / down move the cursor; Enter focuses that venue and symbol (the app handles
``WatchlistPane.Selected``).

24 h figures come from the venues' tickers (the sandbox and the emulators compute them from
their own trades); spread and book age from the service's books.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.style import Style
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip

from aitbc_tui.formatting import amount_places, currency_places, fmt_age, fmt_compact, fmt_fixed, price_places
from aitbc_tui.ui.titles import set_title
from aitbc_tui.ui.widgets.linetable import Cell, Column, Fit, LineTable

SORTS = ("symbol", "change", "volume", "spread")
SORT_TITLES = {"symbol": "symbol", "change": "24h % (largest first)", "volume": "24h quote volume (largest first)",
               "spread": "spread bps (tightest first)"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class WatchRow:
    venue: str
    symbol: str
    last: Decimal | None
    change_pct: Decimal | None
    base_volume: Decimal | None
    quote_volume: Decimal | None
    spread_bps: Decimal | None
    book_age_s: float | None
    price_places: int
    amount_places: int
    quote_places: int


@dataclass(frozen=True, slots=True)
class WatchlistView:
    rows: tuple[WatchRow, ...]
    sort: str
    descending: bool

    @classmethod
    def build(cls, service, now: float, sort: str = "symbol", descending: bool = False) -> WatchlistView:
        tickers = service.market_feed().tickers()
        books = service.books()
        rows = []
        for venue in service.venue_names:
            for symbol, market in service.markets(venue).items():
                ticker = tickers.get(venue, {}).get(symbol)
                book = books.get((venue, symbol))
                spread = None
                if book is not None and book.best_bid is not None and book.best_ask is not None and book.mid:
                    spread = (book.best_ask - book.best_bid) / book.mid * 10000
                age = None if book is None or not book.timestamp else max(0.0, now - book.timestamp)
                last = ticker.last if ticker is not None else None
                rows.append(WatchRow(venue, symbol, last, ticker.change_pct if ticker else None,
                                     ticker.base_volume if ticker else None, ticker.quote_volume if ticker else None,
                                     spread, age, price_places(market), amount_places(market),
                                     currency_places(market.quote, market)))  # fmt: skip
        return cls(tuple(sort_rows(rows, sort, descending)), sort, descending)


def sort_rows(rows: list[WatchRow], sort: str, descending: bool = False) -> list[WatchRow]:
    """Symbol A-Z (then venue); change and volume largest first; spread tightest first.
    Rows without the figure go last either way. ``descending`` reverses the order."""
    if sort == "symbol":
        ordered = sorted(rows, key=lambda r: (r.symbol, r.venue))
        return ordered[::-1] if descending else ordered

    def figure(r: WatchRow) -> Decimal | None:
        return {"change": r.change_pct, "volume": r.quote_volume, "spread": r.spread_bps}[sort]

    known = [r for r in rows if figure(r) is not None]
    unknown = sorted((r for r in rows if figure(r) is None), key=lambda r: (r.symbol, r.venue))
    largest_first = sort != "spread"
    known.sort(key=lambda r: (figure(r), r.symbol, r.venue), reverse=largest_first != descending)
    return known + unknown


def watch_columns() -> list[Column]:
    return [
        Column("Venue", 9, "<", min_width=6),
        Column("Symbol", 10, "<", min_width=8),
        Column("Last", 12, min_width=8),
        Column(Fit("24h %", "%"), 7),
        Column(Fit("Vol base", "Vol"), 10, priority=3, min_width=7),
        Column(Fit("Vol quote", "Vol q"), 10, priority=1, min_width=7),
        Column(Fit("Spread bps", "bps"), 10, priority=2, min_width=5),
        Column(Fit("Book age", "Age"), 8, priority=4, min_width=5),
    ]


def _volume(value: Decimal, places: int) -> str:
    """A 24 h volume in a narrow column: two decimals from 1 up (11.60, 1.29k, 3.4M), the
    asset's own precision below 1 (0.04963875), so the column never cuts a number."""
    return fmt_compact(value, 2 if value >= 1 else places)


def watch_cells(row: WatchRow) -> tuple[Cell, ...]:
    change_class = ""
    change = "—"
    if row.change_pct is not None:
        change = fmt_fixed(row.change_pct, 2, grouping=False)
        change_class = "linetable--bid" if row.change_pct > 0 else "linetable--ask" if row.change_pct < 0 else ""
        if row.change_pct > 0:
            change = "+" + change
    last = "—" if row.last is None else fmt_fixed(row.last, row.price_places)
    base = "—" if row.base_volume is None else _volume(row.base_volume, row.amount_places)
    quote = "—" if row.quote_volume is None else _volume(row.quote_volume, row.quote_places)
    spread = "—" if row.spread_bps is None else fmt_fixed(row.spread_bps, 1, grouping=False)
    return (
        (row.venue, ""),
        (row.symbol, ""),
        (last, ""),
        (change, change_class),
        (base, ""),
        (quote, ""),
        (spread, ""),
        (fmt_age(row.book_age_s), "linetable--dim"),
    )


class WatchlistPane(LineTable):
    BINDINGS = [
        Binding("up", "move_cursor(-1)", "Up", show=False),
        Binding("down", "move_cursor(1)", "Down", show=False),
        Binding("enter", "select", "Focus this", show=False),
        Binding("o", "cycle_sort", "Sort", show=False),
        Binding("O", "reverse_sort", "Reverse sort", show=False),
    ]

    class Selected(Message):
        def __init__(self, venue: str, symbol: str) -> None:
            super().__init__()
            self.venue = venue
            self.symbol = symbol

    class SortChanged(Message):
        def __init__(self, sort: str, descending: bool) -> None:
            super().__init__()
            self.sort = sort
            self.descending = descending

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(watch_columns(), empty_text="waiting for tickers…", id=id, classes=classes)
        self.cursor = 0
        self.sort = "symbol"
        self.descending = False
        self._keys: list[tuple[str, str]] = []

    def show(self, view: WatchlistView) -> None:
        selected = self._keys[self.cursor] if 0 <= self.cursor < len(self._keys) else None
        self._keys = [(r.venue, r.symbol) for r in view.rows]
        if selected in self._keys:
            self.cursor = self._keys.index(selected)  # the cursor stays on its row across a re-sort
        self.cursor = max(0, min(self.cursor, len(self._keys) - 1))
        title = f"Watchlist · sorted by {SORT_TITLES[view.sort]}{' (reversed)' if view.descending else ''}"
        set_title(self, title)
        footer = [(("o sort · O reverse · Enter focus · 24 h from the venues' trades", "linetable--dim"),)]
        self.set_rows([watch_cells(r) for r in view.rows], footer)

    @property
    def selected(self) -> tuple[str, str] | None:
        return self._keys[self.cursor] if 0 <= self.cursor < len(self._keys) else None

    def action_move_cursor(self, step: int) -> None:
        if not self._keys:
            return
        self.cursor = max(0, min(len(self._keys) - 1, self.cursor + step))
        if self.cursor < self.top_row:
            self._scroll_to_offset(self.cursor)
        elif self.cursor >= self.top_row + self.visible_rows:
            self._scroll_to_offset(self.cursor - self.visible_rows + 1)
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()  # the cursor row: reverse when focused, underlined when not

    def on_blur(self) -> None:
        self.refresh()

    def action_select(self) -> None:
        if self.selected is not None:
            self.post_message(self.Selected(*self.selected))

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.descending = False
        self.post_message(self.SortChanged(self.sort, self.descending))

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self.post_message(self.SortChanged(self.sort, self.descending))

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        row = self.top_row + y - 1
        if y >= 1 and row == self.cursor and self._keys and row < len(self._keys):
            return strip.apply_style(Style(reverse=True) if self.has_focus else Style(underline=True))
        return strip
