"""L2 order book for one venue and symbol, fed by exchange depth updates.

The book behind the native Binance depth feed (``venues/binance_depth.py``: REST snapshot,
U/u sequencing, gap resync), which the collector and the dashboard use for binance spot
books instead of ccxt.pro's (issue 14; BENCHMARKS.md, desk ingest). ``book_bench`` measures
it against ccxt's own book and ``replay`` feeds the dashboard benchmark through it.

Why this representation
-----------------------
This is the hot path between an exchange feed and the UI: every depth diff
touches it (hundreds of level updates per second per symbol), while the UI
reads only the top ~20 levels at most ~20 times a second. So writes must be
cheap and reads must not depend on book size.

* Each side keeps ``keys``: a plain list of float prices sorted ascending with
  ``bisect`` (bids negated, so index 0 is always the best level on both sides),
  and dicts from that float key to the exchange's *original* price and size
  values (usually the JSON strings). Floats are only keys for ordering and
  lookup: they are never shown and never used in arithmetic. A float key has 53
  bits of mantissa, so two different exchange prices collide only beyond ~15
  significant digits, which no venue quotes.
* Updating an existing level is one dict store; adding or removing a level is
  a dict store plus a ``bisect`` + list insert/delete (a memmove, fast even at
  10,000 levels). No Decimal is built on write: measured, ``Decimal(str)`` costs
  ~3x ``float(str)``, and most deep levels are never read.
* ``Decimal`` appears only at the edge: ``top(n)`` converts the original
  strings (``Decimal("0.1")``, never ``Decimal(0.1)``), so values are exact.
* Each side tracks its head (the N levels last read) as a list of converted
  levels. A write below the N-th level (most diffs) does not touch it; a write
  inside it patches one slot (insert/delete/mark), so the next read converts
  only the changed levels and copies the rest with ``tuple()``: reads cost the
  same at 1,000 or 100,000 levels. Reading a larger N than before converts
  the new head once.

The book reports what the venue sent. It does not uncross itself: a crossed
book (best bid >= best ask) after a diff means a missed message or a venue
glitch; ``crossed`` tells the feed to resync from a snapshot.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, cast

from aitbc_tui.domain import BookSnapshot, PriceLevel, Side

_INF = float("inf")

# Raw exchange value: the original string (preferred), a Decimal or an int.
Raw = str | Decimal | int

_BID_NAMES = frozenset({"buy", "bid", "bids", "b"})
_ASK_NAMES = frozenset({"sell", "ask", "asks", "a"})


class _BookSide:
    """One side of the book. ``keys`` ascending; bids store negated prices.

    ``head`` mirrors ``keys[:top_n]`` with converted Decimal levels (None where
    a level changed and has not been converted yet); writes above ``bound``
    (the top_n-th key) patch it in place, writes below it touch nothing.
    """

    __slots__ = ("negate", "keys", "sizes", "prices", "head", "missing", "top", "top_n", "bound")

    def __init__(self, negate: bool) -> None:
        self.negate = negate
        self.clear()

    def clear(self) -> None:
        self.keys: list[float] = []
        self.sizes: dict[float, Any] = {}  # key -> raw size
        self.prices: dict[float, Any] = {}  # key -> raw price
        self.head: list[PriceLevel | None] = []
        self.missing = 0  # count of None in head (list.count(None) costs ~20 ns a slot)
        self.top: tuple[PriceLevel, ...] | None = None
        self.top_n = -1  # -1: nothing tracked
        self.bound = -_INF  # a change at key <= bound touches the tracked head

    def apply_raw(self, levels: Iterable[Any]) -> bool:
        """Apply (price, size) pairs of raw values; True if anything changed."""
        keys = self.keys
        sizes = self.sizes
        prices = self.prices
        bound = self.bound
        negate = self.negate
        changed = False
        for p, q in levels:
            k = -float(p) if negate else float(p)
            s = float(q)
            if s > 0.0:
                if k in sizes:
                    sizes[k] = q
                    if k <= bound:
                        head = self.head
                        i = bisect_left(keys, k)
                        if head[i] is not None:
                            head[i] = None
                            self.missing += 1
                        self.top = None
                else:
                    # positive and finite (NaN fails every comparison)
                    if not ((-_INF < k < 0.0) if negate else (0.0 < k < _INF)):
                        raise ValueError(f"invalid price {p!r}")
                    sizes[k] = q
                    prices[k] = p
                    if k <= bound:
                        i = bisect_left(keys, k)
                        keys.insert(i, k)
                        bound = self._inserted(i)
                    else:
                        insort(keys, k)
            elif s == 0.0:
                if k not in sizes:
                    continue  # removing an absent level: venues send these, nothing changes
                del sizes[k]
                del prices[k]
                i = bisect_left(keys, k)
                del keys[i]
                if k <= bound:
                    bound = self._deleted(i)
            else:
                raise ValueError(f"invalid size {q!r} at price {p!r}")
            changed = True
        return changed

    def _inserted(self, i: int) -> float:
        head = self.head
        head.insert(i, None)
        self.missing += 1
        n = self.top_n
        if len(head) > n and head.pop() is None:
            self.missing -= 1
        self.top = None
        keys = self.keys
        self.bound = keys[n - 1] if len(keys) >= n else _INF
        return self.bound

    def _deleted(self, i: int) -> float:
        head = self.head
        if head[i] is None:
            self.missing -= 1
        del head[i]
        n = self.top_n
        keys = self.keys
        if len(keys) >= n:
            head.append(None)  # the level that moved up into the head
            self.missing += 1
            self.bound = keys[n - 1]
        else:
            self.bound = _INF
        self.top = None
        return self.bound

    def read_top(self, n: int) -> tuple[PriceLevel, ...]:
        top = self.top
        top_n = self.top_n
        if top is not None and top_n >= n:
            return top if top_n == n else top[:n]
        if top_n >= n:
            top = self._fill()
            return top if top_n == n else top[:n]
        # Start tracking a bigger head: convert it once.
        self.top_n = n
        self.head = [None] * min(n, len(self.keys))
        self.missing = len(self.head)
        if n == 0:
            self.bound = -_INF
        else:
            self.bound = self.keys[n - 1] if len(self.keys) >= n else _INF
        return self._fill()

    def _fill(self) -> tuple[PriceLevel, ...]:
        head = self.head
        keys = self.keys
        sizes = self.sizes
        prices = self.prices
        i = -1
        for _ in range(self.missing):  # list.index scans in C; no Python loop over the head
            i = head.index(None, i + 1)
            k = keys[i]
            head[i] = (Decimal(prices[k]), Decimal(sizes[k]))
        self.missing = 0
        top = cast("tuple[PriceLevel, ...]", tuple(head))  # no None left after the fill
        self.top = top
        return top

    def best_raw(self) -> Any | None:
        keys = self.keys
        return self.prices[keys[0]] if keys else None


def _raw(value: Any, what: str) -> Raw:
    """Accept exchange strings, Decimals and ints; floats via their shortest repr."""
    if isinstance(value, (str, Decimal)):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a number, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # ccxt hands out floats; repr() is the shortest string that round-trips,
        # i.e. what the venue sent in practice. Decimal(float) would not be.
        return repr(value)
    raise TypeError(f"{what} must be str, Decimal or int, not {type(value).__name__}")


def _side_is_bid(side: Side | str) -> bool:
    name = side.value if isinstance(side, Side) else str(side).lower()
    if name in _BID_NAMES:
        return True
    if name in _ASK_NAMES:
        return False
    raise ValueError(f"unknown book side {side!r}: use buy/bid or sell/ask")


class OrderBook:
    """Full-depth L2 book of one venue and symbol.

    Prices and sizes go in as the exchange's strings (or Decimal/int) and come
    out of ``top``/``snapshot`` as exact Decimals, best level first.
    """

    __slots__ = ("venue", "symbol", "_bids", "_asks", "sequence", "version")

    def __init__(self, venue: str = "", symbol: str = "") -> None:
        self.venue = venue
        self.symbol = symbol
        self._bids = _BookSide(negate=True)
        self._asks = _BookSide(negate=False)
        self.sequence = 0  # venue sequence of the last applied update (e.g. Binance "u")
        self.version = 0  # bumped on every change; the service compares it to skip repaints

    # ---- writes -----------------------------------------------------------------

    def apply(self, side: Side | str, price: Any, size: Any) -> None:
        """Set one level; size 0 removes it. ``side`` is buy/bid or sell/ask."""
        book_side = self._bids if _side_is_bid(side) else self._asks
        if book_side.apply_raw(((_raw(price, "price"), _raw(size, "size")),)):
            self.version += 1

    def apply_many(self, side: Side | str, levels: Iterable[tuple[Any, Any]]) -> None:
        """Apply many (price, size) levels to one side, in order."""
        book_side = self._bids if _side_is_bid(side) else self._asks
        raw_levels = [(_raw(p, "price"), _raw(q, "size")) for p, q in levels]
        if book_side.apply_raw(raw_levels):
            self.version += 1

    def replace(self, bids: Iterable[tuple[Any, Any]], asks: Iterable[tuple[Any, Any]]) -> None:
        """Replace the whole book with a snapshot (levels with size 0 are ignored)."""
        self._bids.clear()
        self._asks.clear()
        self._bids.apply_raw([(_raw(p, "price"), _raw(q, "size")) for p, q in bids])
        self._asks.apply_raw([(_raw(p, "price"), _raw(q, "size")) for p, q in asks])
        self.version += 1

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self.version += 1

    def apply_binance_depth(self, message: Mapping[str, Any]) -> None:
        """Apply a parsed Binance depth diff straight from its strings.

        Accepts ``{"e": "depthUpdate", "U": .., "u": .., "b": [[p, q], ..], "a": ..}``
        or the combined-stream wrapper ``{"stream": .., "data": {...}}``. Sequence
        checking (U/u against the snapshot's lastUpdateId) is the feed's job; this
        records ``u`` in ``sequence``.
        """
        data = message.get("data", message)
        changed = False
        bids = data.get("b")
        if bids:
            changed = self._bids.apply_raw(bids)
        asks = data.get("a")
        if asks:
            changed = self._asks.apply_raw(asks) or changed
        u = data.get("u")
        if u is not None:
            self.sequence = u
        if changed:
            self.version += 1

    def load_binance_snapshot(self, message: Mapping[str, Any]) -> None:
        """Replace the book from a Binance REST ``/api/v3/depth`` response."""
        self._bids.clear()
        self._asks.clear()
        self._bids.apply_raw(message.get("bids") or ())
        self._asks.apply_raw(message.get("asks") or ())
        self.sequence = message.get("lastUpdateId", self.sequence)
        self.version += 1

    # ---- reads ------------------------------------------------------------------

    def top(self, n: int = 20) -> tuple[tuple[PriceLevel, ...], tuple[PriceLevel, ...]]:
        """Best ``n`` levels per side as (bids descending, asks ascending) Decimals."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return self._bids.read_top(n), self._asks.read_top(n)

    @property
    def best_bid(self) -> Decimal | None:
        raw = self._bids.best_raw()
        return None if raw is None else Decimal(raw)

    @property
    def best_ask(self) -> Decimal | None:
        raw = self._asks.best_raw()
        return None if raw is None else Decimal(raw)

    @property
    def crossed(self) -> bool:
        """Best bid >= best ask: the book missed an update; resync from a snapshot."""
        bids = self._bids.keys
        asks = self._asks.keys
        return bool(bids and asks and -bids[0] >= asks[0])

    @property
    def bid_count(self) -> int:
        return len(self._bids.keys)

    @property
    def ask_count(self) -> int:
        return len(self._asks.keys)

    def __len__(self) -> int:
        return len(self._bids.keys) + len(self._asks.keys)

    def snapshot(
        self,
        venue: str | None = None,
        symbol: str | None = None,
        depth: int = 20,
        timestamp: float = 0.0,
        sequence: int | None = None,
    ) -> BookSnapshot:
        """Immutable top-``depth`` copy for the UI and analysis."""
        bids, asks = self.top(depth)
        return BookSnapshot(
            venue=self.venue if venue is None else venue,
            symbol=self.symbol if symbol is None else symbol,
            bids=bids,
            asks=asks,
            timestamp=timestamp,
            sequence=self.sequence if sequence is None else sequence,
        )

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.venue!r}, {self.symbol!r}, bids={self.bid_count}, "
            f"asks={self.ask_count}, best_bid={self.best_bid}, best_ask={self.best_ask})"
        )
