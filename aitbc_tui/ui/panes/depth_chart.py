"""The depth chart: cumulative bid and ask size around the mid of one book, bids to the left
in the bid colour, asks to the right in the ask colour. A Line-API widget.

The price range shown is symmetric, mid ± R, where R is the shorter side's reach in the
snapshot (so neither curve is cut off by the end of the data on one side and not the
other). The plot's columns split it into equal price steps: a bid column at threshold T
shows every bid priced at or above T, an ask column every ask at or below it. Sizes are
summed in Decimal; heights are floats (eighth blocks), at the drawing edge only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from aitbc_tui.domain import BookSnapshot
from aitbc_tui.formatting import fmt_fixed
from aitbc_tui.sanitize import plain_text

Cell = tuple[str, str]
EIGHTHS = " ▁▂▃▄▅▆▇█"
MID_LINE = "│"


@dataclass(frozen=True, slots=True)
class DepthView:
    venue: str
    symbol: str
    book: BookSnapshot | None
    price_places: int = 2
    amount_places: int = 4
    message: str = ""


@dataclass(frozen=True, slots=True)
class DepthColumns:
    """Cumulative size per plot column (None: the mid column), the range and the step."""

    mid: Decimal
    reach: Decimal  # R: the chart shows mid - R .. mid + R
    step: Decimal
    sizes: tuple[Decimal | None, ...]
    sides: tuple[str, ...]  # "bid", "ask" or "mid" per column


def depth_columns(book: BookSnapshot, width: int) -> DepthColumns | None:
    """The cumulative sizes of ``width`` columns; None without a mid (a side is empty)."""
    mid = book.mid
    if mid is None or width < 2:
        return None
    bid_reach = mid - book.bids[-1][0]
    ask_reach = book.asks[-1][0] - mid
    reach = min(bid_reach, ask_reach) if bid_reach > 0 and ask_reach > 0 else max(bid_reach, ask_reach)
    half = width // 2
    step = reach / half if reach > 0 else Decimal(0)
    sizes: list[Decimal | None] = []
    sides: list[str] = []
    for c in range(half):
        threshold = mid - (half - c) * step
        sizes.append(sum((size for price, size in book.bids if price >= threshold), Decimal(0)))
        sides.append("bid")
    if width % 2:
        sizes.append(None)
        sides.append("mid")
    for k in range(half):
        threshold = mid + (k + 1) * step
        sizes.append(sum((size for price, size in book.asks if price <= threshold), Decimal(0)))
        sides.append("ask")
    return DepthColumns(mid, reach, step, tuple(sizes), tuple(sides))


def _bar(size: Decimal, top: Decimal, rows: int) -> list[int]:
    """Levels 0..8 per row, top to bottom, of a bar ``size / top`` of ``rows`` lines high."""
    if top <= 0 or size <= 0:
        return [0] * rows
    eighths = max(1, int(float(size) / float(top) * rows * 8 + 0.5))
    return [min(8, max(0, eighths - (rows - 1 - j) * 8)) for j in range(rows)]


def depth_grid(view: DepthView, width: int, height: int) -> list[list[Cell]]:
    """Every cell: a header, the plot (with a cumulative-size axis on the right), prices."""
    book = view.book
    if book is None or book.mid is None or width < 8 or height < 4:
        text = plain_text(view.message, 300) or (
            "waiting for the book…" if book is None else "one side of the book is empty: no mid, no depth"
        )
        return [_text(f" {text}", width, "depth--stale")]
    peak = max(sum((s for _, s in book.bids), Decimal(0)), sum((s for _, s in book.asks), Decimal(0)))
    axis_width = len(fmt_fixed(peak, view.amount_places)) + 2
    plot_width = max(2, width - axis_width)
    cols = depth_columns(book, plot_width)
    assert cols is not None
    top = max((s for s in cols.sizes if s is not None), default=Decimal(0))
    rows = height - 2
    bars = [_bar(s, top, rows) if s is not None else None for s in cols.sizes]
    grid = [_header(view, cols, width)]
    for r in range(rows):
        line: list[Cell] = []
        for bar, side in zip(bars, cols.sides, strict=True):
            if bar is None:
                line.append((MID_LINE, "depth--mid"))
            else:
                level = bar[r]
                line.append((EIGHTHS[level], f"depth--{side}" if level else ""))
        label = ""
        if r == 0:
            label = fmt_fixed(top, view.amount_places)
        elif r == rows - 1:
            label = "0"
        elif rows >= 5 and r == rows // 2:
            label = fmt_fixed(top / 2, view.amount_places)
        text = f" {label:>{axis_width - 2}} "[:axis_width] if label else " " * axis_width
        line += [(ch, "depth--axis") for ch in text]
        grid.append(line[:width] + [(" ", "")] * (width - len(line)))
    grid.append(_prices(view, cols, plot_width, width))
    return grid


def _header(view: DepthView, cols: DepthColumns, width: int) -> list[Cell]:
    book = view.book
    assert book is not None and book.best_bid is not None and book.best_ask is not None
    p = view.price_places
    runs = [
        (f" {plain_text(view.venue, 40)} · {plain_text(view.symbol, 40)} · depth ", "depth--value"),
        (" mid ", "depth--label"),
        (fmt_fixed(cols.mid, p + 1), "depth--value"),
        ("  spread ", "depth--label"),
        (fmt_fixed(book.best_ask - book.best_bid, p), "depth--value"),
        ("  range ± ", "depth--label"),
        (fmt_fixed(cols.reach, p + 1), "depth--value"),
    ]
    cells: list[Cell] = []
    for text, cls in runs:
        cells += [(ch, cls) for ch in text]
    return (cells + [(" ", "")] * width)[:width]


def _prices(view: DepthView, cols: DepthColumns, plot_width: int, width: int) -> list[Cell]:
    p = view.price_places
    chars = [" "] * plot_width
    left = fmt_fixed(cols.mid - cols.reach, p)
    right = fmt_fixed(cols.mid + cols.reach, p)
    centre = fmt_fixed(cols.mid, p + 1)
    start = plot_width // 2 - len(centre) // 2
    for text, at in ((left, 0), (centre, start), (right, plot_width - len(right))):
        for i, ch in enumerate(text):
            if 0 <= at + i < plot_width:
                chars[at + i] = ch
    return _text("".join(chars), width, "depth--axis")


def _text(text: str, width: int, cls: str) -> list[Cell]:
    return [(ch, cls) for ch in text[:width].ljust(width)]


def grid_text(grid: list[list[Cell]]) -> list[str]:
    return ["".join(ch for ch, _ in row) for row in grid]


class DepthChart(Widget, can_focus=True):
    """Cumulative bid and ask curves of one DepthView; only changed lines are repainted."""

    COMPONENT_CLASSES = {"depth--bid", "depth--ask", "depth--mid", "depth--axis", "depth--label", "depth--value",
                         "depth--stale"}  # fmt: skip

    DEFAULT_CSS = """
    DepthChart { height: 1fr; }
    DepthChart > .depth--bid { color: $bid; }
    DepthChart > .depth--ask { color: $ask; }
    DepthChart > .depth--mid { color: $dim; }
    DepthChart > .depth--axis { color: $dim; }
    DepthChart > .depth--label { color: $dim; }
    DepthChart > .depth--value { color: $foreground; }
    DepthChart > .depth--stale { color: $stale; text-style: italic; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._view: DepthView | None = None
        self._rows: list[list[Cell]] = []
        self._strips: list[Strip] | None = None
        self._built_for: tuple[int, int] = (0, 0)
        self._styles: dict[str, Style] | None = None

    @property
    def view(self) -> DepthView | None:
        return self._view

    def show(self, view: DepthView) -> None:
        self._view = view
        width, height = self.size
        if self._strips is None or self._built_for != (width, height) or not self.is_mounted:
            self._strips = None
            self.refresh()
            return
        rows = depth_grid(view, width, height)
        strips = list(self._strips)
        for y, row in enumerate(rows):
            if y < len(self._rows) and self._rows[y] == row and y < len(strips):
                continue
            strip = self._strip(row, width)
            if y < len(strips):
                strips[y] = strip
            else:
                strips.append(strip)
            self.refresh(Region(0, y, width, 1))
        if len(strips) > len(rows):
            del strips[len(rows) :]
            self.refresh()
        self._rows, self._strips = rows, strips

    def lines(self) -> list[str]:
        """What the chart shows now, as plain text."""
        if self._view is None:
            return []
        return grid_text(depth_grid(self._view, self.size.width, self.size.height))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None
        self._styles = None

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self._strips is None or self._built_for != (width, height):
            self._rows = depth_grid(self._view, width, height) if self._view is not None else []
            self._strips = [self._strip(row, width) for row in self._rows]
            self._built_for = (width, height)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self._style(""))

    def _style(self, component: str) -> Style:
        styles = self._styles
        if styles is None:
            base = self.rich_style
            styles = {"": base}
            for name in self.COMPONENT_CLASSES:
                styles[name] = base + self.get_component_rich_style(name, partial=True)
            self._styles = styles
        return styles[component]

    def _strip(self, cells: list[Cell], width: int) -> Strip:
        segments: list[Segment] = []
        run: list[str] = []
        cls: str | None = None
        for ch, c in cells:
            if c != cls and run:
                segments.append(Segment("".join(run), self._style(cls or "")))
                run = []
            cls = c
            run.append(ch)
        if run:
            segments.append(Segment("".join(run), self._style(cls or "")))
        return Strip(segments, width)
