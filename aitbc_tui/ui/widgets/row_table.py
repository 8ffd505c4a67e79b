"""A DataTable that repaints the row that changed, not the whole table.

textual's DataTable keys every cached cell, row and line on one table-wide update count, so one
``update_cell`` re-renders every cell of every row through Rich (Padding, Styled,
``console.render_lines``): ~3 ms a row, 40-60 ms for a 12-order pane whose ages tick once a
second, all inside one frame. That frame was the default layout's book -> frame p99
(bench/market_panes_bench.py).

``RowTable`` keeps all of DataTable (keys, cursor, mouse, scrolling, its API) and replaces how a
line becomes a Strip: each line is built from Segments and cached until its row, the columns,
the cursor or hover on it, the width, the scroll or the styles change; ``update_row`` repaints
only the changed row's line. A line it cannot build that way (text with spans, a cell wider than
its column, row labels, fixed rows or columns, rows taller than a line, another cursor type,
zebra stripes) is left to DataTable. Either way the line is what DataTable draws:
tests/test_frame_costs.py compares the two, segment for segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, ColumnKey, RowKey


class RowTable(DataTable):
    """A DataTable whose lines are Strips cached per row (see the module's doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._line_strips: dict[int, tuple[tuple, Strip]] = {}  # virtual line (0: header) -> (key, strip)
        self._row_versions: dict[RowKey, int] = {}  # bumped when a row's cells change
        self._version = 0
        self._pass: _Pass | None = None  # set for the duration of one render_lines

    # ---- data in ------------------------------------------------------------------------

    def update_row(self, row_key: str, values: Sequence[CellType]) -> None:
        """The row's cells that differ (``!=``) from ``values`` are replaced; only its line is
        repainted (``update_cell`` marks the whole table dirty: every line through the styles
        cache again)."""
        key = RowKey(row_key)
        cells = self._data[key]
        changed = False
        for column, value in zip(self.ordered_columns, values, strict=True):
            if cells.get(column.key) != value:
                cells[column.key] = value
                changed = True
        if changed:
            self._update_count += 1  # DataTable's own caches (for the lines it draws) go stale
            self._bump(key)
            self.refresh_row(self.get_row_index(key))

    def update_cell(
        self, row_key: RowKey | str, column_key: Any, value: CellType, *, update_width: bool = False
    ) -> None:
        super().update_cell(row_key, column_key, value, update_width=update_width)
        self._bump(RowKey(row_key) if isinstance(row_key, str) else row_key)

    def clear(self, columns: bool = False) -> Self:
        super().clear(columns)
        self._row_versions.clear()  # a row added again under the same key is a new row
        self._line_strips.clear()
        return self

    def remove_row(self, row_key: RowKey | str) -> None:
        super().remove_row(row_key)
        self._row_versions.pop(RowKey(row_key) if isinstance(row_key, str) else row_key, None)

    def _bump(self, key: RowKey) -> None:
        self._version += 1
        self._row_versions[key] = self._version

    # ---- rendering ----------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_strips.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of this pass shares, read once (reactives and sizes cost µs each).
        self._pseudo_class_state = self.get_pseudo_class_state()  # as DataTable.render_lines does
        self._pass = self._pass_state()
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    def render_line(self, y: int) -> Strip:
        state = self._pass or self._pass_state()
        strip = None if state is None else self._fast_line(y, state)
        return super().render_line(y) if strip is None else strip

    def _pass_state(self) -> _Pass | None:
        """None when DataTable draws every line (a feature the fast lines do not cover)."""
        if not (
            self.cursor_type == "row"
            and self.show_header
            and self.header_height == 1
            and not self.fixed_rows
            and not self.fixed_columns
            and not self.zebra_stripes
            and not (self._labelled_row_exists and self.show_row_labels)
        ):
            return None
        columns = self.ordered_columns
        scroll_x, scroll_y = self.scroll_offset
        return _Pass(
            columns=[column.key for column in columns],
            labels=[column.label for column in columns],
            widths=tuple(column.get_render_width(self) for column in columns),
            width=self.size.width,
            scroll_x=scroll_x,
            scroll_y=scroll_y,
            base=self.rich_style,
            cursor_row=self.cursor_coordinate.row,
            hover_row=self.hover_coordinate.row,
            flags=(self.show_cursor, self._show_hover_cursor, self._pseudo_class_state),
        )

    def _fast_line(self, y: int, state: _Pass) -> Strip | None:
        line = y if y < 1 else y + state.scroll_y  # the header stays; rows scroll
        row_index = line - 1
        if row_index >= self.row_count:
            return Strip.blank(state.width, state.base)
        if row_index >= 0:
            row = self.ordered_rows[row_index]
            if row.height != 1:
                return None
            row_key: RowKey | None = row.key
            version = self._row_versions.get(row.key)
            if version is None:  # added since the last pass: its cells are what DataTable was given
                self._bump(row.key)
                version = self._version
        else:
            row_key, version = None, 0
        key = (row_key, version, tuple(label.plain for label in state.labels) if row_key is None else None,
               state.widths, state.width, state.scroll_x, state.cursor_row == row_index,
               state.hover_row == row_index, state.flags, state.base)  # fmt: skip
        cached = self._line_strips.get(line)
        if cached is not None and cached[0] == key:
            return cached[1]
        if row_key is None:
            cells: list[object] = list(state.labels)
        else:
            data = self._data[row_key]
            cells = [data.get(column) for column in state.columns]
        strip = self._build_line(row_index, cells, state)
        if strip is not None:
            self._line_strips[line] = (key, strip)
        return strip

    def _build_line(self, row_index: int, cells: Sequence[object], state: _Pass) -> Strip | None:
        """The line as DataTable._render_line draws it (the simple cases only; else None)."""
        header = row_index == -1
        padding = self.cell_padding
        get_style = self.app.console.get_style
        base = state.base
        row_style = self.get_component_styles("datatable--header").rich_style if header else base
        cursor = row_index == state.cursor_row
        hover = row_index == state.hover_row
        show_cursor, show_hover, _ = state.flags
        # One cursor type (row): every cell of a line has the same cursor and hover styles.
        component, post = self._get_styles_to_render_cell(header, False, False, hover, cursor, show_cursor, show_hover,
                                                          self.cursor_foreground_priority == "css",
                                                          self.cursor_background_priority == "css")  # fmt: skip
        segments: list[Segment] = []
        for column_index, (cell, column_width) in enumerate(zip(cells, state.widths, strict=True)):
            if cell is None:
                text, text_style = "", None
            elif isinstance(cell, Text):
                text = cell.plain
                if cell.spans or cell.justify not in (None, "default", "left") or not text.isprintable():
                    return None
                text_style = get_style(cell.style) if cell.style else None
            else:
                return None  # str (markup), numbers, other renderables: DataTable's way
            content = column_width - 2 * padding
            length = cell_len(text)
            if length > content:
                return None  # cropped: DataTable's way
            pre = row_style + Style.from_meta({"row": row_index, "column": column_index}) + component
            plain = _styled(pre, None, post)
            if padding:
                segments.append(Segment(" " * padding, plain))
            if text:
                segments.append(Segment(text, _styled(pre, text_style, post)))
            if content - length + padding:
                segments.append(Segment(" " * (content - length + padding), plain))
        extend, _ = self._get_styles_to_render_cell(header, False, False, hover, cursor, show_cursor, show_hover,
                                                    False, False)  # fmt: skip
        extend_style = row_style + extend + Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        table_width = sum(state.widths)
        segments.append(Segment(" " * max(0, state.width - table_width), extend_style))
        strip = Strip(segments)
        if state.scroll_x or table_width > state.width:
            strip = strip.crop(state.scroll_x, state.scroll_x + state.width)
        return strip.adjust_cell_length(state.width, base).simplify()


@dataclass(frozen=True, slots=True)
class _Pass:
    columns: list[ColumnKey]
    labels: list[Text]
    widths: tuple[int, ...]
    width: int
    scroll_x: int
    scroll_y: int
    base: Style
    cursor_row: int
    hover_row: int
    flags: tuple


def _styled(pre: Style, style: Style | None, post: Style) -> Style | None:
    """``pre + style + post`` the way Segment.apply_style adds them (textual's Styled)."""
    if pre:
        style = pre + style
    if post:
        style = style + post if style else post
    return style
