"""A small Line-API table for hot panes (arbitrage, health, balances).

Rows arrive as tuples of (text, component class) cells; each row is turned into a
Strip once, when it changes, and render_line only indexes the cache. It costs a
fraction of a DataTable repaint, which matters at 20 repaints a second.

Columns that do not fit are dropped by priority (optional ones first, highest
``priority`` number first; priority 0 is never dropped), then columns with a
``min_width`` shrink; text that does not fit its cell ends in ``…``. Rows that do not
fit scroll with the keyboard when the table is focused, and the border says how many
are hidden above and below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

Cell = tuple[str, str]  # (text, component class; "" for the base style)

ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Column:
    title: str  # a Fit gives shorter titles for narrow columns
    width: int
    align: str = ">"  # ">" right, "<" left
    priority: int = 0  # 0: always shown; otherwise dropped when short of room, highest first
    min_width: int | None = None  # may shrink down to this (text cut with …) before anything required is cropped


class Fit(str):
    """Cell text with shorter ways to say the same (``Fit("100,000.00", "100.00k")``): a
    narrow column shows the longest that fits before cutting anything with …. Compares
    and reads as its full text."""

    shorter: tuple[str, ...]

    def __new__(cls, text: str, *shorter: str) -> Fit:
        value = super().__new__(cls, text)
        value.shorter = tuple(s for s in shorter if s != text)
        return value


def fit(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells: a shorter form (Fit) that fits, else cut with …."""
    if len(text) <= width:
        return text
    for alternative in getattr(text, "shorter", ()):
        if len(alternative) <= width:
            return alternative
        text = alternative
    if width <= 0:
        return ""
    return text[: width - 1] + ELLIPSIS


def layout_columns(columns: list[Column], width: int) -> list[tuple[int, int]]:
    """(index into ``columns``, width shown) for every column shown in ``width`` cells,
    each column followed by one space."""
    shown = {i: c.width for i, c in enumerate(columns)}

    def total() -> int:
        return sum(w + 1 for w in shown.values())

    def shrink(optional_only: bool) -> None:
        while total() > width:
            slack = [(w - minimum, i) for i, w in shown.items()
                     if (minimum := columns[i].min_width) is not None and w > minimum
                     and (columns[i].priority > 0 or not optional_only)]  # fmt: skip
            if not slack:
                return
            shown[max(slack)[1]] -= 1

    while total() > width:
        # Optional columns shrink (to their min_width) before one of them is dropped.
        room = sum(
            columns[i].width - (columns[i].min_width or columns[i].width) for i in shown if columns[i].priority > 0
        )
        if total() - room <= width:
            shrink(optional_only=True)
            break
        optional = [(columns[i].priority, i) for i in shown if columns[i].priority > 0]
        if not optional:
            break
        del shown[max(optional)[1]]
    shrink(optional_only=False)  # then required ones, text cut with …
    return sorted(shown.items())


class LineTable(Widget, can_focus=True):
    COMPONENT_CLASSES = {
        "linetable--header",
        "linetable--good",
        "linetable--bad",
        "linetable--warn",
        "linetable--dim",
        "linetable--bid",
        "linetable--ask",
        "linetable--live",
    }

    BINDINGS = [
        Binding("up", "scroll_rows(-1)", "Up", show=False),
        Binding("down", "scroll_rows(1)", "Down", show=False),
        Binding("pageup", "scroll_page(-1)", "Page up", show=False),
        Binding("pagedown", "scroll_page(1)", "Page down", show=False),
        Binding("home", "scroll_to(0)", "First", show=False),
        Binding("end", "scroll_to(-1)", "Last", show=False),
    ]

    DEFAULT_CSS = """
    LineTable { height: 1fr; }
    LineTable > .linetable--header { color: $dim; text-style: bold; }
    LineTable > .linetable--good { color: $bid; }
    LineTable > .linetable--bad { color: $ask; }
    LineTable > .linetable--warn { color: $warning; }
    LineTable > .linetable--dim { color: $dim; }
    LineTable > .linetable--bid { color: $bid; }
    LineTable > .linetable--ask { color: $ask; }
    LineTable > .linetable--live { color: $live; text-style: bold; }
    """

    def __init__(
        self, columns: list[Column], *, empty_text: str = "", id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._columns = columns
        self.empty_text = empty_text
        self._rows: list[Sequence[Cell]] = []
        self._footer: list[Sequence[Cell]] = []
        self._cache: dict[object, Strip] = {}  # keyed by what a line shows: "header", a row index, ...
        self._styles: dict[str, Style] = {}
        self._layout: list[tuple[int, int]] | None = None
        self._layout_width = -1
        self._offset = 0  # index of the first row shown
        self._more_text = ""

    # ---- data in ------------------------------------------------------------------------

    @property
    def columns(self) -> list[Column]:
        return self._columns

    @columns.setter
    def columns(self, columns: list[Column]) -> None:
        self._columns = columns
        self._layout = None
        self._cache.clear()
        self.refresh()

    def set_rows(self, new_rows: Sequence[Sequence[Cell]], new_footer: Sequence[Sequence[Cell]] | None = None) -> None:
        rows, footer = list(new_rows), list(new_footer or [])
        if rows == self._rows and footer == self._footer:
            return
        old_rows, old_footer = self._rows, self._footer
        offset_before = self._offset
        self._rows = rows
        self._footer = footer
        # Only rows whose content changed are rebuilt; footer/empty lines are cheap.
        changed = []
        for index in range(max(len(old_rows), len(rows))):
            before = old_rows[index] if index < len(old_rows) else None
            after = rows[index] if index < len(rows) else None
            if before != after:
                self._cache.pop(index, None)
                changed.append(index)
        if footer != old_footer:
            self._cache = {k: v for k, v in self._cache.items() if not (isinstance(k, tuple) and k[0] == "footer")}
        self._clamp_offset()
        self._update_more()
        if len(rows) != len(old_rows) or len(footer) != len(old_footer):
            self.refresh(layout=True)  # a new row count changes the height an auto-height pane asks for
        elif footer != old_footer or self._offset != offset_before:
            self.refresh()
        else:
            self._refresh_rows(changed)

    def _refresh_rows(self, indices: Sequence[int]) -> None:
        """Mark only the lines of the rows in ``indices`` dirty, so the compositor re-renders a
        changed row, not the whole pane (a 58-line watchlist whose 4 rows moved: 4 lines)."""
        width = self.size.width
        if not width or not self.is_mounted:
            self.refresh()
            return
        shown = self.shown_rows
        start = previous = None
        for index in indices:
            if index not in shown:
                continue
            y = 1 + index - self._offset  # line 0 is the header
            if start is not None and previous is not None and y == previous + 1:
                previous = y
                continue
            if start is not None and previous is not None:
                self.refresh(Region(0, start, width, previous - start + 1))
            start = previous = y
        if start is not None and previous is not None:
            self.refresh(Region(0, start, width, previous - start + 1))

    @property
    def rows(self) -> list[Sequence[Cell]]:
        return self._rows

    # ---- scrolling ----------------------------------------------------------------------

    @property
    def footer_shown(self) -> bool:
        """The footer is a note: shown only while it takes no row's place."""
        return bool(self._footer) and self.size.height - 1 - len(self._footer) >= max(1, len(self._rows))

    @property
    def visible_rows(self) -> int:
        """How many rows fit under the header (and above the footer, when it is shown)."""
        return max(1, self.size.height - 1 - (len(self._footer) if self.footer_shown else 0))

    @property
    def top_row(self) -> int:
        """Index of the first row shown (the scroll position, in rows). Not ``offset``:
        that is Textual's CSS offset of the widget."""
        return self._offset

    @property
    def shown_rows(self) -> range:
        """Indices of the rows on screen now."""
        return range(self._offset, min(len(self._rows), self._offset + self.visible_rows))

    def _max_offset(self) -> int:
        return max(0, len(self._rows) - self.visible_rows)

    def _clamp_offset(self) -> None:
        self._offset = max(0, min(self._offset, self._max_offset()))

    def _scroll_to_offset(self, offset: int) -> None:
        before = self._offset
        self._offset = offset
        self._clamp_offset()
        if self._offset != before:
            self._update_more()
            self.refresh()

    def action_scroll_rows(self, step: int) -> None:
        self._scroll_to_offset(self._offset + step)

    def action_scroll_page(self, pages: int) -> None:
        self._scroll_to_offset(self._offset + pages * max(1, self.visible_rows - 1))

    def action_scroll_to(self, where: int) -> None:
        self._scroll_to_offset(self._max_offset() if where < 0 else where)

    def _on_mouse_scroll_down(self, event) -> None:
        event.stop()
        self.action_scroll_rows(1)

    def _on_mouse_scroll_up(self, event) -> None:
        event.stop()
        self.action_scroll_rows(-1)

    def _update_more(self) -> None:
        """Say in the bottom border how many rows are out of sight, and which way."""
        if not self.size.height:
            return
        above = self._offset
        below = max(0, len(self._rows) - self._offset - self.visible_rows)
        parts = []
        if above:
            parts.append(f"↑{above} more")
        if below:
            parts.append(f"+{below} more ↓")
        text = " · ".join(parts)
        if text != self._more_text:
            self._more_text = text
            self.border_subtitle = text

    # ---- rendering ----------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._styles.clear()

    def on_resize(self) -> None:
        self._cache.clear()
        self._layout = None
        self._clamp_offset()
        self._update_more()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + max(1, len(self._rows)) + len(self._footer)

    def _style(self, component: str) -> Style:
        # Resolving a style walks the DOM: once per theme change, not once per cell.
        style = self._styles.get(component)
        if style is None:
            base = self._styles.get("") or self.rich_style
            self._styles[""] = base
            style = self._styles[component] = (
                base + self.get_component_rich_style(component, partial=True) if component else base
            )
        return style

    def _columns_for(self, width: int) -> list[tuple[int, int]]:
        if self._layout is None or self._layout_width != width:
            self._layout = layout_columns(self._columns, width)
            self._layout_width = width
        return self._layout

    def _note(self, text: str, component: str, width: int) -> Strip:
        segments = [Segment(fit(f" {text}", width), self._style(component))]
        return Strip(segments).adjust_cell_length(width, self._style("")).crop(0, width)

    def _line(self, cells: Sequence[Cell], width: int) -> Strip:
        if len(cells) == 1 and len(self.columns) > 1:  # a note spanning the whole row
            text, component = cells[0]
            return self._note(text, component, width)
        segments: list[Segment] = []
        for index, shown in self._columns_for(width):
            if index >= len(cells):
                break
            column = self._columns[index]
            text, component = cells[index]
            cell = fit(text, shown)
            cell = cell.rjust(shown) if column.align == ">" else cell.ljust(shown)
            segments.append(Segment(cell + " ", self._style(component)))
        return Strip(segments).adjust_cell_length(width, self._style("")).crop(0, width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        shown = self.visible_rows
        footer_start = 1 + (min(shown, len(self._rows) - self._offset) if self._rows else 1)
        if y == 0:
            key: str | int | tuple[str, int] = "header"
        elif not self._rows and y == 1:
            key = "empty"
        elif self._rows and 1 <= y < footer_start:
            key = self._offset + y - 1
        elif self.footer_shown and 0 <= y - footer_start < len(self._footer):
            key = ("footer", y - footer_start)
        else:
            return Strip.blank(width, self._style(""))
        cached = self._cache.get(key)
        if cached is not None and cached.cell_length == width:
            return cached
        if key == "header":
            strip = self._line([(c.title, "linetable--header") for c in self.columns], width)
        elif key == "empty":
            strip = self._note(self.empty_text, "linetable--dim", width)
        elif isinstance(key, int):
            strip = self._line(self._rows[key], width)
        elif isinstance(key, tuple):
            strip = self._line(self._footer[key[1]], width)
        else:
            return Strip.blank(width, self._style(""))
        self._cache[key] = strip
        return strip
