"""Textual's ``Strip.divide`` without the reference cycle it makes of every painted line.

The compositor divides every line it paints at the cuts of the widgets over it; for a line
cut only at its own end (a widget with nothing on top, which is every pane) textual 8.2
answers ``[self]`` and caches that list in the strip itself (``_divide_cache``), so every
painted strip refers to itself. Refcounting can never free such a strip: it waits, with its
seven caches and its segments, for a full (generation 2) collection. With the market panes
on screen that was ~27,000 objects a second, and a generation 2 collection every ~2 s that
stopped the event loop for ~90 ms (measured: bench/market_panes_bench.py's p99). Without the
cached self-reference the strips go when their last owner drops them, one at a time.

``install()`` is idempotent; the replacement answers exactly what the original does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.strip import Strip

_original_divide = Strip.divide


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = list(cuts)
    cell_length = self.cell_length
    if [cut for cut in cuts if cut <= cell_length] == [cell_length]:
        return [self]  # a new list each time: nothing cached refers back to the strip
    return _original_divide(self, cuts)


def install() -> None:
    if Strip.divide is not _divide:
        Strip.divide = _divide  # type: ignore[method-assign]
