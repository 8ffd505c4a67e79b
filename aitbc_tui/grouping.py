"""Ladder grouping: order-book levels aggregated into buckets of a price increment.

Exact in Decimal. A bid is grouped at its price rounded down to the increment, an ask at its
price rounded up, so a grouped level never shows a better price than the liquidity in it has
(the grouped best bid is at or below the real one, the grouped best ask at or above). Sizes
of the levels in one bucket are summed. Pure: no textual.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from aitbc_tui.domain import BookSnapshot, PriceLevel

GROUPING_TICKS: tuple[int, ...] = (1, 5, 10, 50)  # what `g` cycles through, in ticks


def group_levels(levels: tuple[PriceLevel, ...], increment: Decimal, side: str) -> tuple[PriceLevel, ...]:
    """``levels`` (best first) grouped by ``increment``; ``side`` "bid" rounds down, "ask" up."""
    if increment <= 0:
        raise ValueError(f"grouping increment must be positive, not {increment}")
    rounding = ROUND_FLOOR if side == "bid" else ROUND_CEILING
    out: list[list[Decimal]] = []
    for price, size in levels:
        bucket = (price / increment).to_integral_value(rounding) * increment
        if out and out[-1][0] == bucket:
            out[-1][1] += size
        else:
            out.append([bucket, size])
    return tuple((price, size) for price, size in out)


def group_book(book: BookSnapshot, increment: Decimal) -> BookSnapshot:
    """A copy of ``book`` with both sides grouped by ``increment``."""
    return replace(book, bids=group_levels(book.bids, increment, "bid"), asks=group_levels(book.asks, increment, "ask"))


def next_grouping(ticks: int) -> int:
    """The grouping after ``ticks`` in GROUPING_TICKS (back to 1 after the last)."""
    index = GROUPING_TICKS.index(ticks) if ticks in GROUPING_TICKS else -1
    return GROUPING_TICKS[(index + 1) % len(GROUPING_TICKS)]
