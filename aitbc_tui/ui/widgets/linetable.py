"""A small Line-API table for hot panes (arbitrage, health).

Rows arrive as tuples of (text, component class) cells; each row is turned into a
Strip once, when it changes, and render_line only indexes the cache. It costs a
fraction of a DataTable repaint, which matters at 20 repaints a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

Cell = tuple[str, str]  # (text, component class; "" for the base style)


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    align: str = ">"  # ">" right, "<" left


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

    def __init__(self, columns: list[Column], *, empty_text: str = "", id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._columns = columns
        self.empty_text = empty_text
        self._rows: list[tuple[Cell, ...]] = []
        self._footer: list[tuple[Cell, ...]] = []
        self._cache: dict[int, Strip] = {}
        self._styles: dict[str, Style] = {}

    @property
    def columns(self) -> list[Column]:
        return self._columns

    @columns.setter
    def columns(self, columns: list[Column]) -> None:
        self._columns = columns
        self._cache.clear()
        self.refresh()

    def set_rows(self, rows: list[tuple[Cell, ...]], footer: list[tuple[Cell, ...]] | None = None) -> None:
        footer = footer or []
        if rows == self._rows and footer == self._footer:
            return
        old_rows = self._rows
        self._rows = rows
        self._footer = footer
        # Only lines whose content changed are rebuilt; footer/empty lines are cheap.
        for index in range(max(len(old_rows), len(rows))):
            before = old_rows[index] if index < len(old_rows) else None
            after = rows[index] if index < len(rows) else None
            if before != after:
                self._cache.pop(index + 1, None)
        self._cache = {k: v for k, v in self._cache.items() if k <= len(rows)}
        self.refresh()

    @property
    def rows(self) -> list[tuple[Cell, ...]]:
        return self._rows

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._styles.clear()

    def on_resize(self) -> None:
        self._cache.clear()

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

    def _line(self, cells: tuple[Cell, ...] | list[Cell], width: int) -> Strip:
        segments: list[Segment] = []
        if len(cells) == 1 and len(self.columns) > 1:  # a note spanning the whole row
            text, component = cells[0]
            segments.append(Segment(f" {text}", self._style(component)))
            return Strip(segments).adjust_cell_length(width, self._style("")).crop(0, width)
        for column, (text, component) in zip(self.columns, cells):
            cell = text[: column.width]
            cell = cell.rjust(column.width) if column.align == ">" else cell.ljust(column.width)
            segments.append(Segment(cell + " ", self._style(component)))
        return Strip(segments).adjust_cell_length(width, self._style("")).crop(0, width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        cached = self._cache.get(y)
        if cached is not None and cached.cell_length == width:
            return cached
        if y == 0:
            strip = self._line([(c.title, "linetable--header") for c in self.columns], width)
        elif y - 1 < len(self._rows):
            strip = self._line(self._rows[y - 1], width)
        elif not self._rows and y == 1:
            strip = Strip([Segment(f" {self.empty_text}", self._style("linetable--dim"))]).adjust_cell_length(width, self._style("")).crop(0, width)
        elif 0 <= y - 1 - max(1, len(self._rows)) < len(self._footer):
            strip = self._line(self._footer[y - 1 - max(1, len(self._rows))], width)
            return strip
        else:
            return Strip.blank(width, self._style(""))
        self._cache[y] = strip
        return strip
