"""The order-book ladder: a Line-API widget (render_line -> Strip).

A new snapshot rebuilds only the rows whose content changed (each row is keyed by
what it shows: price, size, cumulative size, bar length) and marks only those lines
dirty, so Textual's compositor re-renders a handful of lines instead of the whole
ladder; render_line only indexes the cached Strips. Colours come from component classes styled with the theme's
trading variables ($bid, $ask, ...), so a theme switch restyles without code.
"""

from __future__ import annotations

from decimal import Decimal

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from aitbc_tui.domain import BookSnapshot, Market
from aitbc_tui.formatting import decimals_of, fmt_fixed

# (text, component class) pairs; component class "" means the widget's base style.
Cell = tuple[str, str]


class BookLadder(Widget, can_focus=True):
    """Bids and asks with sizes, cumulative depth bars, mid and spread."""

    COMPONENT_CLASSES = {
        "ladder--header",
        "ladder--bid",
        "ladder--ask",
        "ladder--bid-bar",
        "ladder--ask-bar",
        "ladder--mid",
        "ladder--dim",
        "ladder--label",
        "ladder--value",
        "ladder--stale",
    }

    DEFAULT_CSS = """
    BookLadder { height: 1fr; }
    BookLadder > .ladder--header { color: $dim; text-style: bold; }
    BookLadder > .ladder--bid { color: $bid; }
    BookLadder > .ladder--ask { color: $ask; }
    BookLadder > .ladder--bid-bar { background: $bid-bar; }
    BookLadder > .ladder--ask-bar { background: $ask-bar; }
    BookLadder > .ladder--mid { color: $foreground; text-style: bold; }
    BookLadder > .ladder--dim { color: $dim; }
    BookLadder > .ladder--label { color: $dim; }
    BookLadder > .ladder--value { color: $foreground; }
    BookLadder > .ladder--stale { color: $stale; text-style: italic; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._snapshot: BookSnapshot | None = None
        self._market: Market | None = None
        self._analysis: list[list[Cell]] = []
        self._strips: list[Strip] | None = None
        self._built_for: tuple[int, int] = (0, 0)
        # Strips of the last build keyed by row content, valid for one layout
        # (width, column width, decimals): a row that did not change keeps its Strip.
        self._row_cache: dict[tuple, Strip] = {}
        self._row_cache_layout: tuple = ()
        self.message = "waiting for the first book…"
        # Resolved styles, per component class ("" = base; "bid+bar" = bar on a bid row).
        # Resolving a style walks the DOM, so it is done once per theme, not per cell.
        self._styles: dict[str, Style] | None = None
        self._old_rows: dict[tuple, Strip] = {}

    # ---- data in ----------------------------------------------------------------------

    def set_book(self, snapshot: BookSnapshot | None, market: Market | None, analysis: list[list[Cell]]) -> None:
        self._snapshot = snapshot
        self._market = market
        self._analysis = analysis
        old = self._strips
        width, height = self.size
        if old is None or self._built_for != (width, height) or not self.is_mounted:
            self._strips = None  # built on the next render_line
            self.refresh()
            return
        new = self._strips = self._build(width)
        # Mark only the changed lines dirty (unchanged rows keep the very same Strip).
        start = None
        for y in range(max(len(old), len(new)) + 1):
            same = y < len(old) and y < len(new) and old[y] is new[y]
            if y == max(len(old), len(new)):
                same = True
            if not same and start is None:
                start = y
            elif same and start is not None:
                self.refresh(Region(0, start, width, y - start))
                start = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None
        self._styles = None
        self._row_cache = {}

    @property
    def snapshot(self) -> BookSnapshot | None:
        """The book snapshot the ladder shows now (None before the first)."""
        return self._snapshot

    @property
    def analysis_text(self) -> list[str]:
        """The lines under the book (depth, liquidity, impact) as plain text."""
        return ["".join(text for text, _ in cells) for cells in self._analysis]

    @property
    def levels_per_side(self) -> int:
        fixed = 1 + 1 + len(self._analysis)  # column header, mid line, analysis
        return max(1, (self.size.height - fixed) // 2)

    # ---- rendering --------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._strips is None or self._built_for != (width, self.size.height):
            self._strips = self._build(width)
            self._built_for = (width, self.size.height)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self._style(""))

    def _style(self, component: str) -> Style:
        styles = self._styles
        if styles is None:
            styles = self._styles = self._resolve_styles()
        return styles[component]

    def _resolve_styles(self) -> dict[str, Style]:
        base = self.rich_style
        styles = {"": base}
        for name in self.COMPONENT_CLASSES:
            styles[name] = base + self.get_component_rich_style(name, partial=True)
        for side in ("bid", "ask"):
            styles[f"{side}+bar"] = styles[f"ladder--{side}"] + self.get_component_rich_style(
                f"ladder--{side}-bar", partial=True
            )
        return styles

    def _row(self, cells: list[Cell], width: int) -> Strip:
        key = ("row", tuple(cells))
        strip = self._old_rows.get(key)
        if strip is None:
            segments = [Segment(text, self._style(comp)) for text, comp in cells]
            strip = Strip(segments).adjust_cell_length(width, self._style("")).crop(0, width)
        self._row_cache[key] = strip
        return strip

    def _blank(self, width: int) -> Strip:
        strip = self._old_rows.get(("blank",))
        if strip is None:
            strip = Strip.blank(width, self._style(""))
        self._row_cache[("blank",)] = strip
        return strip

    def _build(self, width: int) -> list[Strip]:
        market = self._market
        layout = (width, self.size.height, market.tick_size if market else None, market.lot_size if market else None)
        self._old_rows = self._row_cache if layout == self._row_cache_layout else {}
        self._row_cache = {}
        self._row_cache_layout = layout
        try:
            return self._build_rows(width)
        finally:
            self._old_rows = {}

    def _build_rows(self, width: int) -> list[Strip]:
        snap, market = self._snapshot, self._market
        strips: list[Strip] = []
        if snap is None or market is None:
            strips.append(self._row([(f" {self.message}", "ladder--stale")], width))
            return strips
        price_places = decimals_of(market.tick_size)
        size_places = decimals_of(market.lot_size)
        n = self.levels_per_side
        asks = snap.asks[:n]
        bids = snap.bids[:n]

        col = max(10, (width - 2) // 3)
        strips.append(
            self._row(
                [
                    (f" {'Price':>{col - 1}}", "ladder--dim"),
                    (f"{'Size':>{col}}", "ladder--dim"),
                    (f"{'Total':>{col}}", "ladder--dim"),
                ],
                width,
            )
        )
        cum_asks = _cumulative(asks)
        cum_bids = _cumulative(bids)
        max_cum = max([c for c in (cum_asks[-1:] + cum_bids[-1:])] or [Decimal(1)]) or Decimal(1)

        # Asks: worst at the top, best next to the mid line; pad so the mid line stays put.
        for _ in range(n - len(asks)):
            strips.append(self._blank(width))
        for (price, size), cum in reversed(list(zip(asks, cum_asks))):
            strips.append(self._level(price, size, cum, max_cum, price_places, size_places, col, width, "ask"))

        mid = snap.mid
        if mid is not None and snap.best_bid is not None and snap.best_ask is not None:
            spread = snap.best_ask - snap.best_bid
            bps = spread / mid * 10000 if mid else Decimal(0)
            mid_text = (
                f" mid {fmt_fixed(mid, price_places + 1)}   spread {fmt_fixed(spread, price_places)}"
                f" ({fmt_fixed(bps, 2, grouping=False)} bps)"
            )
            if len(mid_text) > width:  # a narrow ladder: the spread in bps only
                mid_text = f" mid {fmt_fixed(mid, price_places + 1)} · {fmt_fixed(bps, 2, grouping=False)} bps"
        else:
            mid_text = " one side of the book is empty"
        strips.append(self._row([(mid_text, "ladder--mid")], width))

        for (price, size), cum in zip(bids, cum_bids):
            strips.append(self._level(price, size, cum, max_cum, price_places, size_places, col, width, "bid"))
        for _ in range(n - len(bids)):
            strips.append(self._blank(width))

        for cells in self._analysis:
            strips.append(self._row(cells, width))
        return strips

    def _level(
        self,
        price: Decimal,
        size: Decimal,
        cum: Decimal,
        max_cum: Decimal,
        price_places: int,
        size_places: int,
        col: int,
        width: int,
        side: str,
    ) -> Strip:
        bar_cells = int((cum / max_cum) * width) if max_cum > 0 else 0
        bar_cells = max(0, min(width, bar_cells))
        key = (side, price, size, cum, bar_cells)
        strip = self._old_rows.get(key)
        if strip is None:
            strip = self._level_strip(price, size, cum, bar_cells, price_places, size_places, col, width, side)
        self._row_cache[key] = strip
        return strip

    def _level_strip(
        self,
        price: Decimal,
        size: Decimal,
        cum: Decimal,
        bar_cells: int,
        price_places: int,
        size_places: int,
        col: int,
        width: int,
        side: str,
    ) -> Strip:
        text = (
            f" {fmt_fixed(price, price_places):>{col - 1}}"
            f"{fmt_fixed(size, size_places):>{col}}"
            f"{fmt_fixed(cum, size_places):>{col}}"
        )
        text = text[:width].ljust(width)
        split = width - bar_cells  # the depth bar grows from the right edge
        fg = self._style(f"ladder--{side}")
        bar = self._style(f"{side}+bar")
        segments = []
        if split > 0:
            segments.append(Segment(text[:split], fg))
        if bar_cells > 0:
            segments.append(Segment(text[split:], bar))
        return Strip(segments, width)


def _cumulative(levels: tuple[tuple[Decimal, Decimal], ...]) -> list[Decimal]:
    total = Decimal(0)
    out: list[Decimal] = []
    for _, size in levels:
        total += size
        out.append(total)
    return out
