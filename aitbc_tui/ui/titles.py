"""Border titles as plain text.

Textual parses a ``str`` border title as markup: a venue, symbol or asset called
``BTC/[/x]`` raised ``MarkupError`` in the middle of a repaint, and ``[b]x`` changed the
title's style. A title here is set as a ``rich.text.Text`` of the sanitised string (never
markup, never a terminal control), and only when it changed: setting one, even unchanged,
repaints the whole pane (and Textual's getter returns markup, which never equals the
plain string a pane compares with).
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from aitbc_tui.sanitize import plain_text

TITLE_LIMIT = 200


def set_title(widget: Widget, title: str, *, subtitle: bool = False) -> None:
    """``widget``'s border title (or subtitle) as the plain text ``title``."""
    attr = "_aitbc_subtitle" if subtitle else "_aitbc_title"
    if getattr(widget, attr, None) == title:
        return
    setattr(widget, attr, title)
    text = Text(plain_text(title, TITLE_LIMIT))
    if subtitle:
        widget.border_subtitle = text
    else:
        widget.border_title = text


def title_of(widget: Widget, *, subtitle: bool = False) -> str:
    """The plain text of ``widget``'s border title (what an operator reads)."""
    content = widget._border_subtitle if subtitle else widget._border_title
    return "" if content is None else content.plain
