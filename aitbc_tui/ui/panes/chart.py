"""The price chart: candles of one venue and symbol, volume bars beneath, the last price
line, the operator's fills marked. A Line-API widget (render_line -> Strip).

Drawing: one terminal column per time bucket (a bucket without trades stays empty: the gap
is drawn), half-block cells for the bodies (two price steps per line), box-drawing wicks,
eighth blocks for the volume. The layout is computed by ``chart_grid`` (pure: a grid of
(character, component class) cells, tested by hand) and painted by ``PriceChart``.

Repaint after a trade: when the price and volume scales, the visible buckets and every
candle but the newest are unchanged (the usual case: a trade moves the current candle
inside the range), only the newest column is recomputed; each line is its cached prefix
(the older columns) joined with the new cell and the axis label, and only lines whose
content changed are marked dirty. Anything else rebuilds the whole grid. Decimals are
turned into floats here, at the drawing edge; every label is formatted from a Decimal.
"""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from aitbc_tui.chart_feed import CandleFeed, FillMark, JournalFills
from aitbc_tui.domain import Side
from aitbc_tui.formatting import decimals_of, fmt_fixed
from aitbc_tui.market_data import TIMEFRAMES, Candle
from aitbc_tui.sanitize import plain_text
from aitbc_tui.ui.titles import set_title

Cell = tuple[str, str]  # (one character, component class)

# (upper half, lower half) of one cell -> character; 0 nothing, 1 wick, 2 body.
GLYPHS: dict[tuple[int, int], str] = {
    (0, 0): " ",
    (1, 1): "│",
    (1, 0): "╵",
    (0, 1): "╷",
    (2, 2): "█",
    (2, 0): "▀",
    (0, 2): "▄",
    (2, 1): "▀",
    (1, 2): "▄",
}
VOLUME_GLYPHS = " ▁▂▃▄▅▆▇█"
LAST_LINE = "─"
VOLUME_ALPHA = 0.55  # volume bars: the candle colour at 55 % over the background
BLANK: Cell = (" ", "")


@dataclass(frozen=True, slots=True)
class ChartView:
    venue: str
    symbol: str
    timeframe: str
    candles: tuple[Candle, ...]  # oldest first
    last: Decimal | None = None  # last traded price (the last price line)
    fills: tuple[FillMark, ...] = ()
    price_places: int = 2
    amount_places: int = 4
    message: str = ""  # shown instead of the chart when there are no candles
    name_in_header: bool = True  # venue · symbol · timeframe before the OHLC (a pane's title says them)

    @classmethod
    def build(cls, service: Any, feed: CandleFeed | None, venue: str, symbol: str, timeframe: str, width: int,
              journal: JournalFills) -> ChartView:  # fmt: skip
        """What the chart shows of ``feed`` at ``width`` columns: as many candles as fit
        (building Candle objects is most of a repaint), the feed's and the journal's fills."""
        market = service.market(venue, symbol)
        price_places = decimals_of(market.tick_size) if market else 2
        amount_places = min(4, decimals_of(market.lot_size)) if market else 4
        if feed is None:
            return cls(venue, symbol, timeframe, ())
        if feed.error:
            message = f"{venue} {symbol} {timeframe}: {feed.error}"
        elif not feed.ready:
            message = f"loading {venue} {symbol} {timeframe} candles…"
        else:
            message = f"{venue} {symbol}: no trades yet"
        candles = tuple(feed.candles(max(60, width)))
        marks = journal.get(service, venue, symbol, candles[0].open_time if candles else None)
        fills = tuple(sorted({*feed.fills, *marks}, key=lambda f: (f.time, f.price)))
        return cls(venue, symbol, timeframe, candles, feed.last, fills, price_places, amount_places, message)


@dataclass(frozen=True, slots=True)
class Layout:
    width: int
    height: int
    plot_width: int  # columns with candles (one bucket each)
    axis_width: int
    price_rows: int
    volume_rows: int

    @property
    def price_top(self) -> int:
        return 1  # line 0 is the header

    @property
    def volume_top(self) -> int:
        return 1 + self.price_rows

    @property
    def time_row(self) -> int:
        return 1 + self.price_rows + self.volume_rows


def layout_for(width: int, height: int, axis_width: int) -> Layout:
    volume_rows = max(1, (height - 2) // 5)
    price_rows = max(1, height - 2 - volume_rows)
    return Layout(width, height, max(1, width - axis_width), axis_width, price_rows, volume_rows)


@dataclass(frozen=True, slots=True)
class Scale:
    """Prices ``hi`` (top sub-row) to ``lo`` (bottom sub-row) over ``steps`` half-cells."""

    hi: float
    lo: float
    steps: int

    def sub(self, price: float) -> int:
        """The half-cell (0 = top) a price falls in."""
        if self.hi == self.lo:
            return self.steps // 2
        s = int((self.hi - price) / (self.hi - self.lo) * (self.steps - 1) + 0.5)
        return min(self.steps - 1, max(0, s))

    def price_at(self, row: int) -> float:
        """The price at the middle of cell row ``row`` (the axis label)."""
        if self.steps <= 1 or self.hi == self.lo:
            return self.hi
        return self.hi - (2 * row + 0.5) / (self.steps - 1) * (self.hi - self.lo)


def visible(candles: Sequence[Candle], plot_width: int) -> list[tuple[int, Candle]]:
    """(column, candle) of the candles inside the last ``plot_width`` buckets ending with the
    newest candle's bucket (column ``plot_width - 1``)."""
    if not candles:
        return []
    seconds = TIMEFRAMES[candles[-1].timeframe]
    newest = candles[-1].open_time
    out = []
    for candle in reversed(candles):
        column = plot_width - 1 - (newest - candle.open_time) // seconds
        if column < 0:
            break
        out.append((column, candle))
    out.reverse()
    return out


def scale_for(shown: Sequence[tuple[int, Candle]], extra: Sequence[Decimal], steps: int) -> Scale:
    lows = [c.low for _, c in shown] + list(extra)
    highs = [c.high for _, c in shown] + list(extra)
    return Scale(float(max(highs)), float(min(lows)), steps)


def _draw_candle(candle: Candle, column: int, scale: Scale, chars: list[list[str]], classes: list[list[str]]) -> None:
    """Draw one candle into the price rows (only the rows it spans are touched)."""
    top, bottom = scale.sub(float(candle.high)), scale.sub(float(candle.low))
    body_top = scale.sub(float(max(candle.open, candle.close)))
    body_bottom = scale.sub(float(min(candle.open, candle.close)))
    cls = "chart--up" if candle.close >= candle.open else "chart--down"
    for r in range(top // 2, bottom // 2 + 1):
        upper, lower = 2 * r, 2 * r + 1
        glyph = GLYPHS[(2 if body_top <= upper <= body_bottom else 1 if top <= upper <= bottom else 0,
                        2 if body_top <= lower <= body_bottom else 1 if top <= lower <= bottom else 0)]  # fmt: skip
        if glyph != " ":
            chars[r][column] = glyph
            classes[r][column] = cls


# The volume bars' full height, rounded up to one of these (x 10^k): a current candle whose
# volume grows moves the scale once per step (at most a third apart), not with every trade
# (each move redraws every bar), and the tallest bar still fills at least 75 % of the rows.
VOLUME_STEPS = tuple(Decimal(v) for v in ("1", "1.25", "1.5", "2", "2.5", "3", "4", "5", "6", "8", "10"))


def volume_ceiling(volume: Decimal) -> Decimal:
    """The smallest VOLUME_STEPS value x 10^k at or above ``volume`` (0 stays 0)."""
    if volume <= 0:
        return Decimal(0)
    exponent = volume.adjusted()
    mantissa = volume.scaleb(-exponent)
    step = next(s for s in VOLUME_STEPS if s >= mantissa)
    return step.scaleb(exponent)


def _draw_volume(candle: Candle, column: int, max_volume: Decimal, first_row: int, rows: int,
                 chars: list[list[str]], classes: list[list[str]]) -> None:  # fmt: skip
    """The volume bar of one candle in eighths of a line, over ``rows`` lines from ``first_row``."""
    if max_volume <= 0 or candle.volume <= 0:
        return
    eighths = min(rows * 8, max(1, int(float(candle.volume) / float(max_volume) * rows * 8 + 0.5)))
    cls = "chart--vol-up" if candle.close >= candle.open else "chart--vol-down"
    full, part = divmod(eighths, 8)
    bottom = first_row + rows - 1
    for j in range(full):  # whole lines from the bottom up, then the partial one
        chars[bottom - j][column] = "█"
        classes[bottom - j][column] = cls
    if part:
        chars[bottom - full][column] = VOLUME_GLYPHS[part]
        classes[bottom - full][column] = cls


def _draw_fills(view: ChartView, candle: Candle, column: int, scale: Scale, chars: list[list[str]],
                classes: list[list[str]]) -> None:  # fmt: skip
    end = candle.close_time
    for fill in view.fills:
        if candle.open_time <= fill.time < end:
            row = scale.sub(float(fill.price)) // 2
            buy = fill.side is Side.BUY
            chars[row][column] = "▲" if buy else "▼"
            classes[row][column] = "chart--buy" if buy else "chart--sell"


def _price_label(value: float, places: int) -> str:
    return fmt_fixed(Decimal(f"{value:.{places}f}"), places)


def axis_width_for(view: ChartView) -> int:
    if not view.candles:
        return 2
    widest = max(max(c.high for c in view.candles[-400:]), view.last or Decimal(0))
    return len(fmt_fixed(widest, view.price_places)) + 2


def fits(view: ChartView, width: int, height: int) -> bool:
    """Candles to draw and room for them: at least 4 columns beside the axis, 5 lines."""
    return bool(view.candles) and height >= 5 and width >= axis_width_for(view) + 4


def _time_label(open_time: int, timeframe: str) -> str:
    fmt = "%Y-%m-%d" if timeframe == "1d" else "%m-%d %H:%M" if timeframe in ("1h", "4h") else "%H:%M"
    return _time.strftime(fmt, _time.gmtime(open_time))


@dataclass
class Frame:
    """Everything one full build computed: what an incremental update may reuse."""

    layout: Layout
    scale: Scale
    max_volume: Decimal
    newest: int  # open time of the newest bucket (the last column)
    last_row: int | None  # the price line's row (None: no last price)
    older: tuple[Candle, ...]  # the visible candles but the newest
    chars: list[list[str]]  # plot lines (price, then volume) x plot columns
    classes: list[list[str]]  # the component class of each of those cells
    axis: list[str]  # per plot line, the axis label text
    axis_cls: list[str]
    fills: tuple[FillMark, ...] = ()


def chart_grid(view: ChartView, width: int, height: int) -> tuple[list[list[Cell]], Frame | None]:
    """Every cell of the chart, line by line (header, price area, volume, time axis)."""
    if not fits(view, width, height):
        text = plain_text(view.message, 300) or "no candles yet"
        if view.candles:
            text = f"too small for a chart: {width}x{height}"
        return [_text_cells(f" {text}", width, "chart--stale")], None
    lay = layout_for(width, height, axis_width_for(view))
    frame = _frame(view, lay)
    grid = [_header_cells(view, width)]
    for r in range(len(frame.chars)):
        grid.append(list(zip(frame.chars[r], frame.classes[r], strict=True)) + _axis_cells(frame, r))
    grid.append(_time_cells(view, lay, frame))
    return grid, frame


def _frame(view: ChartView, lay: Layout) -> Frame:
    shown = visible(view.candles, lay.plot_width)
    extra = [view.last] if view.last is not None else []
    extra += [f.price for f in view.fills if f.time >= shown[0][1].open_time]
    scale = scale_for(shown, extra, 2 * lay.price_rows)
    max_volume = volume_ceiling(max(c.volume for _, c in shown))
    last_row = scale.sub(float(view.last)) // 2 if view.last is not None else None
    width, rows = lay.plot_width, lay.price_rows + lay.volume_rows
    chars = [[" "] * width for _ in range(rows)]
    classes = [[""] * width for _ in range(rows)]
    if last_row is not None:
        chars[last_row] = [LAST_LINE] * width
        classes[last_row] = ["chart--last"] * width
    for column, candle in shown:
        _draw(view, candle, column, scale, max_volume, lay, chars, classes)
    axis, axis_cls = _axis(view, lay, scale, last_row)
    return Frame(lay, scale, max_volume, shown[-1][1].open_time, last_row, tuple(c for _, c in shown[:-1]),
                 chars, classes, axis, axis_cls, view.fills)  # fmt: skip


def _draw(view: ChartView, candle: Candle, column: int, scale: Scale, max_volume: Decimal, lay: Layout,
          chars: list[list[str]], classes: list[list[str]]) -> None:  # fmt: skip
    _draw_candle(candle, column, scale, chars, classes)
    _draw_fills(view, candle, column, scale, chars, classes)
    _draw_volume(candle, column, max_volume, lay.price_rows, lay.volume_rows, chars, classes)


def _axis(view: ChartView, lay: Layout, scale: Scale, last_row: int | None) -> tuple[list[str], list[str]]:
    width = lay.axis_width
    texts = [""] * (lay.price_rows + lay.volume_rows)
    classes = ["chart--axis"] * len(texts)
    rows = lay.price_rows
    labelled = {0, rows - 1} | set(range(0, rows, 4))
    for r in sorted(labelled):
        value = scale.hi if r == 0 else scale.lo if r == rows - 1 else scale.price_at(r)
        texts[r] = _price_label(value, view.price_places)
    if last_row is not None and view.last is not None:
        texts[last_row] = fmt_fixed(view.last, view.price_places)
        classes[last_row] = "chart--last-label"
    texts[rows] = "vol" if width >= 4 else ""  # " vol" where it fits whole
    return [f" {t:>{width - 2}} "[:width] if t else " " * width for t in texts], classes


def _axis_cells(frame: Frame, r: int) -> list[Cell]:
    return [(ch, frame.axis_cls[r]) for ch in frame.axis[r]]


def _text_cells(text: str, width: int, cls: str) -> list[Cell]:
    text = text[:width].ljust(width)
    return [(ch, cls) for ch in text]


# Groups of the header left out first when the line is too narrow for all (never a cut number).
HEADER_DROP_ORDER = ("name", "V", "O", "H", "L", "C", "last")


def header_groups(view: ChartView) -> list[tuple[str, list[tuple[str, str]]]]:
    """(name, runs) per header group, in display order."""
    c = view.candles[-1]
    p, a = view.price_places, view.amount_places
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    if view.name_in_header:
        # Venue and symbol names come from a config or a venue: never a terminal control.
        name = f" {plain_text(view.venue, 40)} · {plain_text(view.symbol, 40)} · {view.timeframe} "
        groups.append(("name", [(name, "chart--value")]))
    for label, value in (("O", c.open), ("H", c.high), ("L", c.low), ("C", c.close)):
        groups.append((label, [(f" {label} ", "chart--label"), (fmt_fixed(value, p), "chart--value")]))
    groups.append(("V", [(" V ", "chart--label"), (fmt_fixed(c.volume, a), "chart--value")]))
    if view.last is not None:
        groups.append(("last", [("  last ", "chart--label"), (fmt_fixed(view.last, p), "chart--last-label")]))
    return groups


def header_text(view: ChartView, width: int | None = None) -> list[tuple[str, str]]:
    """The header's runs; with ``width``, groups are left out whole (HEADER_DROP_ORDER) until
    the rest fits, so no figure is ever shown cut."""
    groups = header_groups(view)

    def length(gs: list[tuple[str, list[tuple[str, str]]]]) -> int:
        return sum(len(text) for _, runs in gs for text, _ in runs)

    if width is not None:
        for name in HEADER_DROP_ORDER:
            if length(groups) <= width:
                break
            groups = [g for g in groups if g[0] != name]
    return [run for _, runs in groups for run in runs]


def _header_cells(view: ChartView, width: int) -> list[Cell]:
    cells: list[Cell] = []
    for text, cls in header_text(view, width):
        cells += [(ch, cls) for ch in text]
    return (cells + [BLANK] * width)[:width]


def _time_cells(view: ChartView, lay: Layout, frame: Frame) -> list[Cell]:
    seconds = TIMEFRAMES[view.timeframe]
    first = frame.newest - (lay.plot_width - 1) * seconds
    left = " " + _time_label(first, view.timeframe)
    right = _time_label(frame.newest, view.timeframe) + " "
    if len(left) + 1 + len(right) > lay.width:  # a label is shown whole or not at all
        text = left if len(left) <= lay.width else ""
    else:
        text = left + " " * max(1, lay.plot_width - len(left) - len(right)) + right
    return _text_cells(text, lay.width, "chart--axis")


def grid_text(grid: list[list[Cell]]) -> list[str]:
    """The characters of a grid, line by line (what the tests compare)."""
    return ["".join(ch for ch, _ in row) for row in grid]


class PriceChart(Widget, can_focus=True):
    """Candles, volume, last price line and fills of one ChartView."""

    COMPONENT_CLASSES = {
        "chart--up",
        "chart--down",
        "chart--vol-up",
        "chart--vol-down",
        "chart--last",
        "chart--last-label",
        "chart--axis",
        "chart--label",
        "chart--value",
        "chart--buy",
        "chart--sell",
        "chart--stale",
    }

    DEFAULT_CSS = """
    PriceChart { height: 1fr; }
    PriceChart > .chart--up { color: $bid; }
    PriceChart > .chart--down { color: $ask; }
    PriceChart > .chart--vol-up { color: $bid; }
    PriceChart > .chart--vol-down { color: $ask; }
    PriceChart > .chart--last { color: $dim; }
    PriceChart > .chart--last-label { color: $background; background: $foreground; text-style: bold; }
    PriceChart > .chart--axis { color: $dim; }
    PriceChart > .chart--label { color: $dim; }
    PriceChart > .chart--value { color: $foreground; }
    PriceChart > .chart--buy { color: $bid; text-style: bold; }
    PriceChart > .chart--sell { color: $ask; text-style: bold; }
    PriceChart > .chart--stale { color: $stale; text-style: italic; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._view: ChartView | None = None
        self._frame: Frame | None = None
        self._strips: list[Strip] | None = None
        # Per plot line, the Segments of the older columns (reused by incremental updates).
        self._prefix: list[list[Segment]] = []
        self._built_for: tuple[int, int] = (0, 0)
        self._styles: dict[str, Style] | None = None
        self.full_builds = 0  # how many times the whole grid was rebuilt (the tests read it)
        self.partial_builds = 0

    # ---- data in ----------------------------------------------------------------------

    @property
    def view(self) -> ChartView | None:
        return self._view

    def show(self, view: ChartView) -> None:
        self._view = view
        width, height = self.size
        if self._strips is None or self._built_for != (width, height) or not self.is_mounted:
            self._strips = None
            self.refresh()
            return
        new = self._update(width, height)
        if new is None:
            self._strips = None
            self.refresh()
            return
        old, self._strips = self._strips, new
        for y, strip in enumerate(new):
            if y >= len(old) or old[y] is not strip:
                self.refresh(Region(0, y, width, 1))

    def lines(self) -> list[str]:
        """The chart as plain text, line by line (built now from the current view)."""
        if self._view is None:
            return []
        grid, _ = chart_grid(self._view, self.size.width, self.size.height)
        return grid_text(grid)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None
        self._styles = None

    # ---- rendering --------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self._strips is None or self._built_for != (width, height):
            self._strips = self._build(width, height)
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
            # Volume bars: the candle colours blended into the background (a component
            # class's colour alpha is not applied in a Line-API widget, so it is done here).
            for name in ("chart--vol-up", "chart--vol-down"):
                fg, bg = styles[name].color, base.bgcolor
                if fg is not None and bg is not None and fg.triplet is not None and bg.triplet is not None:
                    blended = Color.from_rich_color(bg).blend(Color.from_rich_color(fg), VOLUME_ALPHA)
                    styles[name] = styles[name] + Style(color=blended.rich_color)
            self._styles = styles
        return styles[component]

    def _strip(self, cells: list[Cell], width: int | None = None) -> Strip:
        segments: list[Segment] = []
        run: list[str] = []
        cls = None
        for ch, c in cells:
            if c != cls and run:
                segments.append(Segment("".join(run), self._style(cls or "")))
                run = []
            cls = c
            run.append(ch)
        if run:
            segments.append(Segment("".join(run), self._style(cls or "")))
        return Strip(segments, len(cells) if width is None else width)

    def _runs(self, chars: list[str], classes: list[str], start: int, end: int) -> list[Segment]:
        """The Segments of cells ``start:end`` of a plot line, one per run of one class."""
        if end <= start:
            return []
        style = self._style
        segments = []
        first, current = start, classes[start]
        for i in range(start + 1, end):
            cls = classes[i]
            if cls != current:
                segments.append(Segment("".join(chars[first:i]), style(current)))
                first, current = i, cls
        segments.append(Segment("".join(chars[first:end]), style(current)))
        return segments

    def _plot_line(self, frame: Frame, r: int) -> Strip:
        """Prefix + the newest column + the axis label; the cell length is known, so the
        Strip is made from the Segments directly (Strip.join would measure every one)."""
        lay = frame.layout
        last = lay.plot_width - 1
        cell = Segment(frame.chars[r][last], self._style(frame.classes[r][last]))
        axis = Segment(frame.axis[r], self._style(frame.axis_cls[r]))
        return Strip([*self._prefix[r], cell, axis], lay.width)

    def _build(self, width: int, height: int) -> list[Strip]:
        """The whole chart from scratch (also what a naive redraw costs)."""
        self.full_builds += 1
        view = self._view
        self._frame = None
        self._prefix = []
        if view is None:
            return []
        if not fits(view, width, height):
            return [self._strip(row, width) for row in chart_grid(view, width, height)[0]]
        lay = layout_for(width, height, axis_width_for(view))
        frame = self._frame = _frame(view, lay)
        last = lay.plot_width - 1
        self._prefix = [self._runs(frame.chars[r], frame.classes[r], 0, last) for r in range(len(frame.chars))]
        strips = [self._strip(_header_cells(view, width), width)]
        strips += [self._plot_line(frame, r) for r in range(len(frame.chars))]
        strips.append(self._strip(_time_cells(view, lay, frame), width))
        return strips

    def _update(self, width: int, height: int) -> list[Strip] | None:
        """Only the newest column, the header and the axis, when nothing else can have
        moved; None: rebuild everything."""
        view, frame, old = self._view, self._frame, self._strips
        if view is None or frame is None or old is None or not view.candles:
            return None
        lay = frame.layout
        if axis_width_for(view) != lay.axis_width or view.fills != frame.fills:
            return None  # a new fill may sit on an older candle
        shown = visible(view.candles, lay.plot_width)
        newest = shown[-1][1]
        if newest.open_time != frame.newest or tuple(c for _, c in shown[:-1]) != frame.older:
            return None
        extra = [view.last] if view.last is not None else []
        extra += [f.price for f in view.fills if f.time >= shown[0][1].open_time]
        scale = scale_for(shown, extra, 2 * lay.price_rows)
        max_volume = volume_ceiling(max(c.volume for _, c in shown))
        last_row = scale.sub(float(view.last)) // 2 if view.last is not None else None
        if scale != frame.scale or max_volume != frame.max_volume or last_row != frame.last_row:
            return None
        self.partial_builds += 1
        column = lay.plot_width - 1
        chars, classes = frame.chars, frame.classes
        before = [(chars[r][column], classes[r][column]) for r in range(len(chars))]
        for r in range(len(chars)):
            line = r == last_row
            chars[r][column] = LAST_LINE if line else " "
            classes[r][column] = "chart--last" if line else ""
        _draw(view, newest, column, scale, max_volume, lay, chars, classes)
        axis, axis_cls = _axis(view, lay, scale, last_row)
        changed = [r for r in range(len(chars))
                   if before[r] != (chars[r][column], classes[r][column]) or axis[r] != frame.axis[r]]  # fmt: skip
        frame.axis, frame.axis_cls = axis, axis_cls
        new = list(old)
        new[0] = self._strip(_header_cells(view, width), width)
        for r in changed:
            new[1 + r] = self._plot_line(frame, r)
        return new


class ChartPane(PriceChart):
    """The trade layout's price chart: a bordered pane beside the ladder, over the tape.
    ``,`` / ``.`` change its timeframe (the app keeps which, so a venue or symbol change
    keeps it); ``C`` still opens the chart over the whole terminal."""

    BINDINGS = [
        Binding("full_stop", "timeframe(1)", "Next timeframe", show=False),
        Binding("comma", "timeframe(-1)", "Prev timeframe", show=False),
    ]

    DEFAULT_CSS = """
    ChartPane {
        border: round $foreground 25%;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        background: $background;
    }
    ChartPane:focus {
        border: heavy $primary;
        border-title-color: $primary;
        border-title-style: bold;
    }
    """

    class TimeframeChanged(Message):
        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def on_mount(self) -> None:
        set_title(self, "Chart")
        set_title(self, ", . timeframe · C full screen", subtitle=True)

    def action_timeframe(self, step: int) -> None:
        self.post_message(self.TimeframeChanged(step))

    def show(self, view: ChartView) -> None:
        set_title(self, f"Chart · {view.venue} {view.symbol} · {view.timeframe}")
        super().show(replace(view, name_in_header=False))
