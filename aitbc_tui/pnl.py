"""Positions and P&L from the journal's fills; equity in a valuation currency.

Pure logic (no textual, no ccxt, no I/O). Money is Decimal. One position per (venue, symbol),
in the symbol's base, with its cost basis and P&L in the symbol's quote.

How the figures are made (stated because the panes and the headless ``pnl`` show them):

- Cost basis: **average cost** by default, **FIFO** selectable (``CostMethod``). A sale realises
  ``(price - cost) x amount``; the remaining position keeps its cost (average) or its oldest lots
  go first (FIFO).
- Fees are not in the cost basis: realised P&L is before fees and ``fees`` is reported beside
  it; ``net = realised + unrealised - fees``.
  A fee in the quote is a fee of that amount. A fee in the base is a disposal of that base at
  the fill price (the position shrinks by it, the disposal realises against the cost basis like
  any sale) and its value at the fill price is the fee. A fee in any other currency (BNB) is
  kept per currency and valued through the rates in the totals.
- Fills are the journal's. Deposits and withdrawals the venue reports (``domain.Transfer``,
  completed ones only) change the position, never the P&L (realised, fees, periods):
  - Which position: a transfer of ASSET on a venue moves that venue's ASSET/VALUATION position
    when the venue lists that symbol, else its alphabetically first listed symbol with base
    ASSET (``transfer_symbol``). A transfer of an asset that is no listed symbol's base (the
    quote USDT, say) changes no position, only the balance (and so equity).
  - A deposit adds its quantity at a stated cost, the price at its time
    (``PnlTransfer.price_source``: the price the venue states for it, ``Transfer.price``, as the
    sandbox does for its start funding; else the venue's 1m candle around that time where the
    venue serves candles; else the book's mid when the feed first saw the transfer). A withdrawal removes its
    quantity (its fee in that asset too: the balance drops by both) at the cost basis: average
    cost unchanged; FIFO: oldest lots first. Neither realises anything. A transfer beyond a
    position (a withdrawal of coins no record bought) takes it across zero at its price.
  - Transfers are replayed in time order with the fills when positions are recomputed
    (``replay``); a transfer older than a fill already applied rebuilds that position
    (``rebuild``).
  Coins held before the first record (fill or transfer) have no cost basis here: selling
  them opens a short position in these figures.
- Periods: ``period(since)`` is the realised P&L and fees of fills at or after ``since``;
  today is since 00:00 UTC, the session since the tracker's ``session_start``. An open
  position's mark-to-market is in ``unrealised`` (now), not split by period.
- Unrealised: ``(mark - average cost) x quantity`` at the mark (the book's mid by default).
- Equity: every balance x its rate in the valuation currency from the books' mids: direct from
  an ASSET/VALUATION book (the mean over venues), else one hop through a valued quote
  (ETH/BTC x BTC/USDT); ``Rate.route`` says which books.
"""

from __future__ import annotations

import bisect
import enum
import heapq
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from aitbc_tui.domain import ZERO, Balance, BookSnapshot, Fill, Side, Transfer

ONE = Decimal(1)


class CostMethod(str, enum.Enum):
    AVERAGE = "average"
    FIFO = "fifo"


@dataclass(frozen=True, slots=True)
class PnlFill:
    """What P&L needs of a fill (from a domain Fill or a journal fill event)."""

    venue: str
    symbol: str  # BASE/QUOTE
    side: Side
    price: Decimal
    amount: Decimal  # base
    fee: Decimal = ZERO
    fee_currency: str = ""
    time: float = 0.0  # epoch seconds
    trade_id: str = ""

    @classmethod
    def from_fill(cls, fill: Fill) -> PnlFill:
        return cls(fill.venue, fill.symbol, Side(fill.side), fill.price, fill.amount, fill.fee,
                   fill.fee_currency, fill.timestamp, fill.trade_id)  # fmt: skip

    @classmethod
    def from_journal_event(cls, event) -> PnlFill:
        """A ``journal.JournalEvent`` of kind fill (its time is when it was journalled)."""
        return cls(event.venue, event.symbol, Side(event.side), event.price, event.amount,
                   event.fee or ZERO, event.fee_currency or "", event.at, event.trade_id or "")  # fmt: skip


def journal_fills(journal, venue: str | None = None) -> list[PnlFill]:
    """Every fill in ``journal`` (a ``journal.Journal``), in journal order."""
    return [PnlFill.from_journal_event(e) for e in journal.events(venue=venue)
            if e.kind.value == "fill" and e.price is not None and e.amount]  # fmt: skip


def transfer_symbol(asset: str, symbols: Iterable[str], valuation: str = "USDT") -> str | None:
    """The symbol whose position a transfer of ``asset`` moves on a venue listing ``symbols``:
    ASSET/``valuation`` if listed, else the alphabetically first ASSET/x; None when ``asset``
    is no listed symbol's base."""
    candidates = sorted(s for s in symbols if s.partition("/")[0] == asset)
    preferred = f"{asset}/{valuation}"
    return preferred if preferred in candidates else (candidates[0] if candidates else None)


@dataclass(frozen=True, slots=True)
class PnlTransfer:
    """What P&L needs of a completed transfer: the position it moves and the price it moves at."""

    venue: str
    symbol: str  # BASE/QUOTE, BASE the transferred asset (``transfer_symbol``)
    amount: Decimal  # base, signed: the balance change (a withdrawal's fee included)
    price: Decimal  # quote per base at the transfer's time
    price_source: str  # how ``price`` was found, e.g. "1m candle close" or "book mid when first seen"
    time: float = 0.0
    transfer_id: str = ""

    @classmethod
    def from_transfer(cls, transfer: Transfer, symbol: str, price: Decimal, price_source: str) -> PnlTransfer:
        return cls(transfer.venue, symbol, transfer.change, price, price_source, transfer.time, transfer.id)


def replay(fills: Iterable[PnlFill], transfers: Iterable[PnlTransfer]) -> Iterator[PnlFill | PnlTransfer]:
    """Fills (in their own order, the journal's) and transfers (sorted by time) merged by time:
    each transfer goes before the first fill later than it."""
    return heapq.merge(fills, sorted(transfers, key=lambda t: t.time), key=lambda e: e.time)


@dataclass(frozen=True, slots=True)
class Position:
    """One (venue, symbol) position as of its last fill and mark."""

    venue: str
    symbol: str
    base: str
    quote: str
    method: CostMethod
    quantity: Decimal  # base; negative: short (see module notes)
    average_cost: Decimal | None  # quote per base of the open quantity; None when flat
    cost_basis: Decimal  # quote: average_cost x quantity
    realised: Decimal  # quote, before fees
    fees: Decimal  # quote: fees in quote + fees in base at their fill price
    other_fees: tuple[tuple[str, Decimal], ...]  # fees in other currencies (currency, amount)
    mark: Decimal | None
    fills: int
    bought: Decimal  # base
    sold: Decimal  # base
    traded_value: Decimal  # quote: sum of price x amount
    transfers: int = 0  # completed deposits and withdrawals applied (see module notes)
    deposited: Decimal = ZERO  # base
    withdrawn: Decimal = ZERO  # base, fees included
    transfer_prices: tuple[str, ...] = ()  # how the transfers' prices were found (sources)

    @property
    def unrealised(self) -> Decimal | None:
        if self.mark is None:
            return None if self.quantity else ZERO
        return self.mark * self.quantity - self.cost_basis

    @property
    def net(self) -> Decimal | None:
        """realised + unrealised - fees (quote); None without a mark for an open position."""
        unrealised = self.unrealised
        return None if unrealised is None else self.realised + unrealised - self.fees


@dataclass(frozen=True, slots=True)
class PeriodPnl:
    since: float
    realised: Decimal
    fees: Decimal
    fills: int

    @property
    def net(self) -> Decimal:
        return self.realised - self.fees


class _Book:
    """Mutable state of one position; ``apply`` is O(1) amortised."""

    __slots__ = ("venue", "symbol", "base", "quote", "method", "quantity", "cost", "lots", "realised",
                 "fees", "other_fees", "mark", "fills", "bought", "sold", "traded", "times",
                 "cum_realised", "cum_fees", "last_time", "session_start", "session_realised",
                 "session_fees", "day", "day_realised", "day_fees", "transfers", "deposited", "withdrawn",
                 "transfer_prices", "last_transfer_time")  # fmt: skip

    def __init__(self, venue: str, symbol: str, method: CostMethod, session_start: float = 0.0) -> None:
        self.venue, self.symbol, self.method = venue, symbol, method
        self.base, _, self.quote = symbol.partition("/")
        self.quantity = ZERO
        self.cost = ZERO  # signed cost basis of the open quantity (quote)
        self.lots: deque[list[Decimal]] = deque()  # FIFO: [signed qty, price]
        self.realised = ZERO
        self.fees = ZERO
        self.other_fees: dict[str, Decimal] = {}
        self.mark: Decimal | None = None
        self.fills = 0
        self.bought = self.sold = self.traded = ZERO
        # Per fill, for periods: time (non-decreasing) and cumulative realised / fees after it.
        self.times: list[float] = []
        self.cum_realised: list[Decimal] = []
        self.cum_fees: list[Decimal] = []
        self.last_time = float("-inf")
        # Running period totals, so the totals after a fill cost O(positions), not O(fills).
        self.session_start = session_start
        self.session_realised = self.session_fees = ZERO
        self.day = -1  # UTC day number (epoch // 86400) of day_realised / day_fees
        self.day_realised = self.day_fees = ZERO
        self.transfers = 0
        self.deposited = self.withdrawn = ZERO
        self.transfer_prices: set[str] = set()
        self.last_transfer_time = float("-inf")

    def _trade(self, delta: Decimal, price: Decimal) -> Decimal:
        """Move the position by ``delta`` base at ``price``; returns the P&L realised."""
        q = self.quantity
        if not q or (q > 0) == (delta > 0):
            self.quantity = q + delta
            self.cost += price * delta
            if self.method is CostMethod.FIFO:
                self.lots.append([delta, price])
            return ZERO
        closing = min(abs(delta), abs(q))
        sign = ONE if q > 0 else -ONE
        realised = ZERO
        if self.method is CostMethod.AVERAGE:
            released = self.cost * closing / abs(q)
            realised = (price * closing * sign) - released
            self.cost -= released
        else:
            need = closing
            lots = self.lots
            while need:
                lot = lots[0]
                take = min(need, abs(lot[0]))
                realised += (price - lot[1]) * take * sign
                self.cost -= lot[1] * take * sign
                lot[0] -= take * sign
                need -= take
                if not lot[0]:
                    lots.popleft()
        self.quantity = q + closing * (ONE if delta > 0 else -ONE)
        if not self.quantity:
            self.cost = ZERO
            self.lots.clear()
        rest = abs(delta) - closing
        if rest:
            opened = rest if delta > 0 else -rest
            self.quantity = opened
            self.cost = price * opened
            if self.method is CostMethod.FIFO:
                self.lots.append([opened, price])
        return realised

    def apply(self, fill: PnlFill) -> None:
        delta = fill.amount if fill.side is Side.BUY else -fill.amount
        realised = self._trade(delta, fill.price)
        fee_value = ZERO
        if fill.fee:
            if fill.fee_currency == self.quote or not fill.fee_currency:
                fee_value = fill.fee
            elif fill.fee_currency == self.base:
                realised += self._trade(-fill.fee, fill.price)
                fee_value = fill.fee * fill.price
            else:
                self.other_fees[fill.fee_currency] = self.other_fees.get(fill.fee_currency, ZERO) + fill.fee
        self.realised += realised
        self.fees += fee_value
        self.fills += 1
        if delta > 0:
            self.bought += fill.amount
        else:
            self.sold += fill.amount
        self.traded += fill.price * fill.amount
        at = max(fill.time, self.last_time)  # a late fill counts from the newest time seen
        self.last_time = at
        self.times.append(at)
        self.cum_realised.append(self.realised)
        self.cum_fees.append(self.fees)
        if at >= self.session_start:
            self.session_realised += realised
            self.session_fees += fee_value
        day = int(at // 86400)
        if day > self.day:
            self.day, self.day_realised, self.day_fees = day, ZERO, ZERO
        if day == self.day:
            self.day_realised += realised
            self.day_fees += fee_value

    def apply_transfer(self, transfer: PnlTransfer) -> None:
        """Move the position at the cost basis (across zero at the transfer's price); the P&L
        the same move would realise as a trade is dropped: a transfer realises nothing."""
        self._trade(transfer.amount, transfer.price)
        self.transfers += 1
        if transfer.amount > 0:
            self.deposited += transfer.amount
        else:
            self.withdrawn -= transfer.amount
        self.transfer_prices.add(transfer.price_source)
        self.last_transfer_time = max(self.last_transfer_time, transfer.time)

    def period(self, since: float) -> PeriodPnl:
        index = bisect.bisect_left(self.times, since)
        if index >= len(self.times):
            return PeriodPnl(since, ZERO, ZERO, 0)
        before_r = self.cum_realised[index - 1] if index else ZERO
        before_f = self.cum_fees[index - 1] if index else ZERO
        return PeriodPnl(since, self.realised - before_r, self.fees - before_f, len(self.times) - index)

    def snapshot(self) -> Position:
        q = self.quantity
        return Position(self.venue, self.symbol, self.base, self.quote, self.method, q,
                        (self.cost / q) if q else None, self.cost, self.realised, self.fees,
                        tuple(sorted(self.other_fees.items())), self.mark, self.fills, self.bought,
                        self.sold, self.traded, self.transfers, self.deposited, self.withdrawn,
                        tuple(sorted(self.transfer_prices)))  # fmt: skip


def utc_midnight(now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class PnlTracker:
    """Positions from fills, updated incrementally: ``apply`` one fill, read one position or
    the totals. Feed it the journal's fills at start (``apply_many(journal_fills(j))``), then
    each new fill as the journal records it (deduplicate by trade id before, as the journal does)."""

    def __init__(self, method: CostMethod | str = CostMethod.AVERAGE, *, session_start: float | None = None,
                 clock=time.time) -> None:  # fmt: skip
        self.method = CostMethod(method)
        self.clock = clock
        self.session_start = clock() if session_start is None else session_start
        self._books: dict[tuple[str, str], _Book] = {}

    def _book(self, venue: str, symbol: str) -> _Book:
        key = (venue, symbol)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = _Book(venue, symbol, self.method, self.session_start)
        return book

    def apply(self, fill: PnlFill | Fill) -> Position:
        if isinstance(fill, Fill):
            fill = PnlFill.from_fill(fill)
        book = self._book(fill.venue, fill.symbol)
        book.apply(fill)
        return book.snapshot()

    def apply_many(self, fills: Iterable[PnlFill | Fill | PnlTransfer]) -> None:
        for fill in fills:
            if isinstance(fill, PnlTransfer):
                self._book(fill.venue, fill.symbol).apply_transfer(fill)
                continue
            if isinstance(fill, Fill):
                fill = PnlFill.from_fill(fill)
            self._book(fill.venue, fill.symbol).apply(fill)

    def apply_transfer(self, transfer: PnlTransfer) -> Position:
        """One transfer, in time order with the fills: ``in_order`` says first whether it is."""
        book = self._book(transfer.venue, transfer.symbol)
        book.apply_transfer(transfer)
        return book.snapshot()

    def rebuild(self, venue: str, symbol: str, fills: Iterable[PnlFill], transfers: Iterable[PnlTransfer]) -> None:
        """That one position again from its ``fills`` and ``transfers`` (others' are skipped), in
        time order: what a transfer older than the position's newest record needs."""
        self._books.pop((venue, symbol), None)
        mine = [f for f in fills if f.venue == venue and f.symbol == symbol]
        self.apply_many(replay(mine, [t for t in transfers if t.venue == venue and t.symbol == symbol]))

    def in_order(self, transfer: PnlTransfer) -> bool:
        """Whether ``transfer`` is no older than anything its position has applied (else the
        positions are to be rebuilt with ``replay`` for the cost basis to follow time order)."""
        book = self._books.get((transfer.venue, transfer.symbol))
        return book is None or transfer.time >= max(book.last_time, book.last_transfer_time)

    def set_mark(self, venue: str, symbol: str, price: Decimal | None) -> None:
        book = self._books.get((venue, symbol))
        if book is not None:
            book.mark = price

    def set_marks(self, books: Iterable[BookSnapshot]) -> None:
        """Marks from the books' mids (a book without a mid leaves the mark as it was)."""
        for snapshot in books:
            mid = snapshot.mid
            if mid is not None:
                self.set_mark(snapshot.venue, snapshot.symbol, mid)

    def position(self, venue: str, symbol: str) -> Position | None:
        book = self._books.get((venue, symbol))
        return book.snapshot() if book else None

    def positions(self, venue: str | None = None) -> list[Position]:
        return [b.snapshot() for (v, _s), b in sorted(self._books.items()) if venue is None or v == venue]

    def period(self, venue: str, symbol: str, since: float) -> PeriodPnl:
        book = self._books.get((venue, symbol))
        return book.period(since) if book else PeriodPnl(since, ZERO, ZERO, 0)

    def today(self, venue: str, symbol: str) -> PeriodPnl:
        return self.period(venue, symbol, utc_midnight(self.clock()))

    def session(self, venue: str, symbol: str) -> PeriodPnl:
        return self.period(venue, symbol, self.session_start)

    def summary(self, valuation: str = "USDT", rates: Mapping[str, Rate] | None = None,
                venue: str | None = None, since: float | None = None) -> PnlSummary:  # fmt: skip
        """Totals in ``valuation`` through ``rates`` (see ``valuation_rates``): a position whose
        quote has no rate is left out of the totals and named in ``unvalued``."""
        rates = rates or {}
        today = int(self.clock() // 86400)
        realised = unrealised = fees = today_net = session_net = since_net = ZERO
        unvalued: set[str] = set()
        for (v, _s), book in self._books.items():
            if venue is not None and v != venue:
                continue
            rate = rates.get(book.quote)
            if rate is None:
                unvalued.add(book.quote)
                continue
            price = rate.price
            book_fees = book.fees
            for currency, amount in book.other_fees.items():
                other = rates.get(currency)
                if other is None:
                    unvalued.add(currency)
                else:
                    book_fees += amount * other.price / price
            realised += book.realised * price
            if book.mark is not None:
                unrealised += (book.mark * book.quantity - book.cost) * price
            elif book.quantity:
                unvalued.add(f"{book.symbol} mark")
            fees += book_fees * price
            if book.day == today:
                today_net += (book.day_realised - book.day_fees) * price
            session_net += (book.session_realised - book.session_fees) * price
            if since is not None:
                since_net += book.period(since).net * price
        return PnlSummary(valuation, self.method, realised, unrealised, fees, today_net, session_net,
                          since_net if since is not None else None, since, tuple(sorted(unvalued)))  # fmt: skip


@dataclass(frozen=True, slots=True)
class PnlSummary:
    """Totals in ``valuation``; period figures are realised minus fees."""

    valuation: str
    method: CostMethod
    realised: Decimal
    unrealised: Decimal
    fees: Decimal
    today_net: Decimal
    session_net: Decimal
    since_net: Decimal | None
    since: float | None
    unvalued: tuple[str, ...]  # currencies (or marks) without a rate: not in the totals

    @property
    def net(self) -> Decimal:
        return self.realised + self.unrealised - self.fees


# ---- valuation -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    asset: str
    price: Decimal  # of one unit of ``asset`` in the valuation currency
    route: str  # e.g. "BTC/USDT mid (binance, kraken)" or "ETH/BTC mid (kraken) x BTC/USDT"


def valuation_rates(books: Iterable[BookSnapshot], currency: str = "USDT") -> dict[str, Rate]:
    """Rate of each asset in ``currency`` from the books' mids: direct from ASSET/currency books
    (the mean over venues), else one hop through a directly valued quote (mean over venues)."""
    direct: dict[str, list[tuple[Decimal, str]]] = {}
    inverse: dict[str, list[tuple[Decimal, str]]] = {}
    hops: list[tuple[str, str, Decimal, str]] = []
    for book in books:
        mid = book.mid
        if mid is None or mid <= 0 or "/" not in book.symbol:
            continue
        base, quote = book.symbol.split("/", 1)
        if quote == currency:
            direct.setdefault(base, []).append((mid, book.venue))
        elif base == currency:
            inverse.setdefault(quote, []).append((ONE / mid, book.venue))
        else:
            hops.append((base, quote, mid, book.venue))
    rates = {currency: Rate(currency, ONE, f"{currency} (valuation currency)")}
    for asset, mids in direct.items():
        rates[asset] = Rate(asset, sum((m for m, _ in mids), ZERO) / len(mids),
                            f"{asset}/{currency} mid ({', '.join(sorted(v for _, v in mids))})")  # fmt: skip
    for asset, mids in inverse.items():
        if asset not in rates:
            rates[asset] = Rate(asset, sum((m for m, _ in mids), ZERO) / len(mids),
                                f"1 / {currency}/{asset} mid ({', '.join(sorted(v for _, v in mids))})")  # fmt: skip
    via: dict[str, list[tuple[Decimal, str]]] = {}
    for base, quote, mid, venue in hops:
        if base not in rates and quote in rates:
            via.setdefault(base, []).append((mid * rates[quote].price, f"{base}/{quote} mid ({venue}) x {quote}"))
        elif quote not in rates and base in rates:
            via.setdefault(quote, []).append((rates[base].price / mid, f"1 / {base}/{quote} mid ({venue}) x {base}"))
    for asset, values in via.items():
        rates[asset] = Rate(asset, sum((p for p, _ in values), ZERO) / len(values),
                            "; ".join(sorted({r for _, r in values})))  # fmt: skip
    return rates


@dataclass(frozen=True, slots=True)
class EquityRow:
    venue: str
    asset: str
    total: Decimal
    free: Decimal
    used: Decimal
    value: Decimal | None  # in the valuation currency; None without a rate
    route: str


@dataclass(frozen=True, slots=True)
class Equity:
    valuation: str
    total: Decimal  # of the rows with a rate
    by_venue: tuple[tuple[str, Decimal], ...]
    rows: tuple[EquityRow, ...] = field(default_factory=tuple)
    unvalued: tuple[str, ...] = ()  # assets held without a rate


def equity(balances: Mapping[str, Mapping[str, Balance]], rates: Mapping[str, Rate],
           valuation: str = "USDT") -> Equity:  # fmt: skip
    """Balances (venue -> asset -> Balance) valued in ``valuation``; exact totals, not rounded."""
    rows: list[EquityRow] = []
    by_venue: dict[str, Decimal] = {}
    unvalued: set[str] = set()
    for venue in sorted(balances):
        for asset in sorted(balances[venue]):
            b = balances[venue][asset]
            rate = rates.get(asset)
            value = None if rate is None else b.total * rate.price
            if value is None and b.total:
                unvalued.add(asset)
            rows.append(EquityRow(venue, asset, b.total, b.free, b.used, value, rate.route if rate else ""))
            by_venue[venue] = by_venue.get(venue, ZERO) + (value or ZERO)
    return Equity(valuation, sum(by_venue.values(), ZERO), tuple(sorted(by_venue.items())), tuple(rows),
                  tuple(sorted(unvalued)))  # fmt: skip
