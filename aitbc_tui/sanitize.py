"""Data at the boundary: a venue's book and text are checked where they enter.

``check_book`` refuses a book no market can have (crossed, NaN, infinite, zero or
negative, absurd magnitudes, not Decimal, unsorted), so nothing downstream ever shows
it as a market or an arbitrage. ``plain_text`` turns any venue-supplied text into one
line that cannot drive a terminal (no control characters, escape sequences or bidi
overrides).

Nothing here imports textual or ccxt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from operator import gt, lt

from aitbc_tui.domain import BookSnapshot, PriceLevel, VenueError

# Bounds for any price or size: beyond them the number is a bug or an attack, not a market.
MAX_MAGNITUDE = Decimal("1e15")
MIN_MAGNITUDE = Decimal("1e-18")
# Digits in the coefficient of the best levels (a float's repr has at most 17).
MAX_DIGITS = 40

_FINITE = Decimal.is_finite


class BadData(VenueError):
    """A venue's answer that is refused; str() is ``bad data: <reason>``."""

    def __init__(self, reason: str, *, venue: str = "", symbol: str = "") -> None:
        super().__init__(f"bad data: {reason}")
        self.reason = reason
        self.venue = venue
        self.symbol = symbol


def check_book(snapshot: BookSnapshot) -> BookSnapshot:
    """Return ``snapshot`` unchanged if it is a possible market, else raise BadData.

    Every level: a (price, size) pair of finite Decimals within [1e-18, 1e15]; bids strictly
    descending, asks strictly ascending; best bid < best ask. The best levels also have at
    most 40 significant digits. One-sided and empty books are allowed.
    """
    bids, asks = snapshot.bids, snapshot.asks
    if not (_side_ok(bids, gt) and _side_ok(asks, lt)):
        # The fast checks failed: walk the levels to say exactly what is wrong.
        reason = _side_problem("bid", bids, descending=True) or _side_problem("ask", asks, descending=False)
        raise BadData(reason or "malformed book", venue=snapshot.venue, symbol=snapshot.symbol)
    for name, side in (("bid", bids), ("ask", asks)):
        if side:
            for what, value in zip(("price", "size"), side[0]):
                if len(value.as_tuple().digits) > MAX_DIGITS:
                    raise BadData(
                        f"best {name} {what} has more than {MAX_DIGITS} digits",
                        venue=snapshot.venue,
                        symbol=snapshot.symbol,
                    )
    if bids and asks and bids[0][0] >= asks[0][0]:
        raise BadData(
            f"crossed book: best bid {bids[0][0]} >= best ask {asks[0][0]}",
            venue=snapshot.venue,
            symbol=snapshot.symbol,
        )
    return snapshot


def _side_ok(levels: Sequence[PriceLevel], ordered: Callable[[Decimal, Decimal], bool]) -> bool:
    """All checks in C-level loops (map/min/max); any surprise means "not ok". Prices are
    checked for order first, so their bounds need only the two ends."""
    if not levels:
        return True
    try:
        prices = [p for p, _ in levels]
        sizes = [s for _, s in levels]
        if set(map(type, prices)) != {Decimal} or set(map(type, sizes)) != {Decimal}:
            return False
        # With NaN, the comparisons raise (default context) or are false: never "ordered".
        if not all(map(ordered, prices, prices[1:])):
            return False
        if not (MIN_MAGNITUDE <= prices[0] <= MAX_MAGNITUDE and MIN_MAGNITUDE <= prices[-1] <= MAX_MAGNITUDE):
            return False
        if not all(map(_FINITE, sizes)):
            return False
        return MIN_MAGNITUDE <= min(sizes) and max(sizes) <= MAX_MAGNITUDE
    except (TypeError, ValueError, InvalidOperation):
        return False


def _side_problem(name: str, levels: Sequence[PriceLevel], *, descending: bool) -> str | None:
    previous: Decimal | None = None
    for index, level in enumerate(levels, 1):
        try:
            price, size = level
        except (TypeError, ValueError):
            return f"{name} {index} is not a (price, size) pair: {_short(level)}"
        for what, value in (("price", price), ("size", size)):
            problem = _number_problem(value)
            if problem:
                return f"{name} {index} {what} {problem}"
        if previous is not None and (price >= previous if descending else price <= previous):
            order = "descending" if descending else "ascending"
            return f"{name}s not in strictly {order} price order: {price} after {previous} at level {index}"
        previous = price
    return None


def _number_problem(value: object) -> str | None:
    if type(value) is not Decimal:
        return f"is a {type(value).__name__} ({_short(value)}), not a Decimal"
    if value.is_nan():
        return "is NaN"
    if value.is_infinite():
        return "is infinite"
    shown = plain_text(str(value), 40)
    if value <= 0:
        return f"{shown} is not positive"
    if value > MAX_MAGNITUDE:
        return f"{shown} is absurdly large (over {MAX_MAGNITUDE:.0E})"
    if value < MIN_MAGNITUDE:
        return f"{shown} is absurdly small (under {MIN_MAGNITUDE:.0E})"
    return None


def _short(value: object) -> str:
    return plain_text(repr(value), 40)


# ---- text ---------------------------------------------------------------------------

# ESC sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings up to BEL or ST (or the
# end), two-byte escapes (ESC + intermediates + final); and their 8-bit C1 forms.
_ESCAPES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]?                    # CSI
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) .*? (?:\x07|\x1b\\|\x9c|$)   # OSC DCS SOS PM APC
    | \x1b [ -/]* [0-~]?                                      # other ESC sequences
    """,
    re.VERBOSE | re.DOTALL,
)
_LINE_BREAKS = re.compile(r"[\t\n\v\f\r\x85\u2028\u2029]+")
# C0, DEL, C1, and the bidi embeddings, overrides, isolates and marks.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain_text(text: object, limit: int = 500) -> str:
    """``text`` as one line of at most ``limit`` characters that cannot drive a terminal:
    escape sequences and control characters removed, line breaks and tabs as one space,
    an overlong text cut with ``…``."""
    if not isinstance(text, str):
        text = str(text)
    if not text.isprintable():
        text = _ESCAPES.sub("", text)
        text = _LINE_BREAKS.sub(" ", text)
        text = _CONTROLS.sub("", text)
        text = text.strip()
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…" if limit > 0 else ""
    return text
