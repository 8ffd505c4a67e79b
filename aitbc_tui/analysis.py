"""Book figures and cross-venue arbitrage: pure functions over domain snapshots.

All money is Decimal; nothing is rounded here (the UI formats). Figures are
computed from the snapshot's levels only (usually the top 20), so depth and
impact describe the visible book, not the venue's full book.

Conventions
-----------
* bps = 1/10,000. Spread bps is relative to the mid.
* Price impact is measured against the **mid**, not the best price: it is the
  full cost of crossing versus fair value (half the spread plus the walk), the
  figure that compares across venues with different spreads. Positive = worse
  for the trader, on both sides.
* Liquidity ratio is bid depth / ask depth within **±1 %** of the mid.
* Arbitrage net bps puts the fees in the denominator: buying 1 base on A costs
  ``ask_A*(1+fee_A)`` quote, selling it on B yields ``bid_B*(1-fee_B)``; net bps =
  (yield - cost) / cost * 10,000, the return on the quote actually spent (see ``net_bps``).
* Arbitrage size is in the symbol's base, profit in its quote; with balances the size is
  capped by what the operator can do on both legs (see ``evaluate_pair``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from bisect import bisect_left
from decimal import ROUND_DOWN, Decimal

from .domain import Balance, BookSnapshot, PriceLevel, Side

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10000)
HALF_PCT = Decimal("0.005")
ONE_PCT = Decimal("0.01")


# ---- single-book figures ----------------------------------------------------------


def mid(snapshot: BookSnapshot) -> Decimal | None:
    return snapshot.mid


def spread(snapshot: BookSnapshot) -> Decimal | None:
    """Best ask - best bid (negative if the book is crossed); None if a side is empty."""
    if not snapshot.bids or not snapshot.asks:
        return None
    return snapshot.asks[0][0] - snapshot.bids[0][0]


def spread_bps(snapshot: BookSnapshot) -> Decimal | None:
    """Spread relative to the mid, in bps."""
    s = spread(snapshot)
    m = snapshot.mid
    if s is None or m is None or m <= 0:
        return None
    return s / m * BPS


@dataclass(frozen=True, slots=True)
class DepthBand:
    """Quote-currency depth within ±band of the mid (band 0.01 = 1 %)."""

    band: Decimal
    bid_quote: Decimal  # sum price*size of bids with price >= mid*(1-band)
    ask_quote: Decimal  # sum price*size of asks with price <= mid*(1+band)
    # The snapshot ended inside the band on a side: the real depth may be larger.
    truncated: bool = False

    @property
    def total_quote(self) -> Decimal:
        return self.bid_quote + self.ask_quote


def depth_within(snapshot: BookSnapshot, band: Decimal) -> DepthBand | None:
    """Depth in quote currency within ±band of the mid; None if a side is empty."""
    m = snapshot.mid
    if m is None:
        return None
    floor = m * (ONE - band)
    ceiling = m * (ONE + band)
    bid_quote = ZERO
    bid_cut = False
    for price, size in snapshot.bids:
        if price < floor:
            bid_cut = True
            break
        bid_quote += price * size
    ask_quote = ZERO
    ask_cut = False
    for price, size in snapshot.asks:
        if price > ceiling:
            ask_cut = True
            break
        ask_quote += price * size
    return DepthBand(band, bid_quote, ask_quote, truncated=not (bid_cut and ask_cut))


def liquidity_ratio(depth_1pct: DepthBand | None) -> Decimal | None:
    """Bid depth / ask depth within ±1 % of mid; None if there is no ask depth."""
    if depth_1pct is None or depth_1pct.ask_quote == 0:
        return None
    return depth_1pct.bid_quote / depth_1pct.ask_quote


@dataclass(frozen=True, slots=True)
class BookWalk:
    """Result of walking one side of a book for a base size."""

    requested: Decimal
    filled: Decimal  # base that the visible levels can fill (<= requested)
    cost_quote: Decimal  # sum price*size of what filled
    worst_price: Decimal | None  # last level touched (the limit price that would fill it)

    @property
    def complete(self) -> bool:
        return self.filled == self.requested

    @property
    def average_price(self) -> Decimal | None:
        return self.cost_quote / self.filled if self.filled else None


def walk_levels(levels: Iterable[PriceLevel], size: Decimal) -> BookWalk:
    """Take ``size`` base from levels best-first (asks for a buy, bids for a sell)."""
    remaining = size
    cost = ZERO
    worst: Decimal | None = None
    for price, level_size in levels:
        if remaining <= 0:
            break
        take = level_size if level_size < remaining else remaining
        cost += price * take
        remaining -= take
        worst = price
    return BookWalk(size, size - remaining, cost, worst)


@dataclass(frozen=True, slots=True)
class PriceImpact:
    side: Side  # the trader's side: BUY walks the asks
    size: Decimal  # base requested
    fillable_size: Decimal  # base the visible book can fill
    average_price: Decimal | None  # of what can fill
    impact_bps: Decimal | None  # vs mid, positive = worse; None if the book cannot fill the size

    @property
    def complete(self) -> bool:
        return self.fillable_size == self.size


def price_impact(snapshot: BookSnapshot, side: Side, size: Decimal) -> PriceImpact:
    """Average fill price of a market order of ``size`` base, versus the mid, in bps."""
    fill = walk_levels(snapshot.asks if side is Side.BUY else snapshot.bids, size)
    avg = fill.average_price
    m = snapshot.mid
    impact = None
    if fill.complete and avg is not None and m is not None and m > 0:
        impact = (avg - m) / m * BPS if side is Side.BUY else (m - avg) / m * BPS
    return PriceImpact(side, size, fill.filled, avg, impact)


DEFAULT_IMPACT_VALUE = Decimal(10000)  # in the valuation currency (USDT)
IMPACT_SIZE_STEP = Decimal("0.00000001")


def impact_size_for_value(snapshot: BookSnapshot, value: Decimal, rates: Mapping[str, Decimal] | None = None,
                          value_currency: str = "USDT", lot_size: Decimal | None = None) -> Decimal | None:  # fmt: skip
    """The base size worth ``value`` (in ``value_currency``) at the mid: 10,000 USDT is 0.1538 BTC
    at 65,000 and 11,765 AITBC at 0.85. A pair quoted in another currency converts through
    ``rates`` (asset -> price in ``value_currency``, see ``valuation_rates``). Rounded down to
    ``lot_size`` (else 0.00000001); None without a mid or a rate for the quote."""
    m = snapshot.mid
    quote = snapshot.symbol.split("/")[-1]
    rate = ONE if quote == value_currency else (rates or {}).get(quote)
    if m is None or m <= 0 or rate is None or rate <= 0:
        return None
    base = value / rate / m
    step = lot_size if lot_size is not None and lot_size > 0 else IMPACT_SIZE_STEP
    return (base / step).to_integral_value(rounding=ROUND_DOWN) * step


@dataclass(frozen=True, slots=True)
class BookAnalysis:
    venue: str
    symbol: str
    best_bid: Decimal | None
    best_ask: Decimal | None
    mid: Decimal | None
    spread: Decimal | None
    spread_bps: Decimal | None
    depth_half_pct: DepthBand | None  # ±0.5 % of mid
    depth_one_pct: DepthBand | None  # ±1 % of mid
    liquidity_ratio: Decimal | None  # bid/ask depth within ±1 %
    buy_impact: PriceImpact
    sell_impact: PriceImpact


def analyse_book(snapshot: BookSnapshot, impact_size: Decimal) -> BookAnalysis:
    depth_1 = depth_within(snapshot, ONE_PCT)
    return BookAnalysis(
        venue=snapshot.venue,
        symbol=snapshot.symbol,
        best_bid=snapshot.best_bid,
        best_ask=snapshot.best_ask,
        mid=snapshot.mid,
        spread=spread(snapshot),
        spread_bps=spread_bps(snapshot),
        depth_half_pct=depth_within(snapshot, HALF_PCT),
        depth_one_pct=depth_1,
        liquidity_ratio=liquidity_ratio(depth_1),
        buy_impact=price_impact(snapshot, Side.BUY, impact_size),
        sell_impact=price_impact(snapshot, Side.SELL, impact_size),
    )


# ---- arbitrage --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArbOpportunity:
    """Buy ``symbol`` on ``buy_venue`` at its asks, sell on ``sell_venue`` at its bids.

    ``buy_price``/``sell_price`` are the best ask/bid that gross and net bps are
    computed from; ``buy_limit_price``/``sell_limit_price`` are the worst levels
    the executable size reaches (the limits to send), None when nothing is
    executable.
    """

    symbol: str
    buy_venue: str
    sell_venue: str
    buy_price: Decimal
    sell_price: Decimal
    gross_bps: Decimal  # (bid_B - ask_A) / ask_A * 10000
    net_bps: Decimal  # after both taker fees, at the top of book
    executable_size: Decimal  # base, over the visible levels while each slice nets > 0 (and the balances allow)
    est_profit_quote: Decimal  # quote: sum of size*(bid*(1-fee_B) - ask*(1+fee_A)) over those slices
    buy_limit_price: Decimal | None = None
    sell_limit_price: Decimal | None = None
    # What ended the size: "" (the books: depth or profitability), or the balance that ran
    # out, e.g. "USDT on kraken" (the buy leg's quote) or "ETH on binance" (the sell leg's base).
    capped_by: str = ""
    est_profit_valuation: Decimal | None = None  # profit in valuation_currency, None without a rate
    valuation_currency: str = ""

    @property
    def base(self) -> str:
        """The unit of ``executable_size``."""
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        """The unit of prices and of ``est_profit_quote``."""
        return self.symbol.split("/")[1]


def net_bps(ask: Decimal, buy_fee: Decimal, bid: Decimal, sell_fee: Decimal) -> Decimal:
    """(bid*(1-fee_B) - ask*(1+fee_A)) / (ask*(1+fee_A)) * 10000.

    The fees are in the denominator too: the return on the quote actually spent on the buy
    leg (price plus its taker fee), so a net of 10 bps means 10 quote earned per 10,000 quote
    paid out, fees included. Gross bps is (bid - ask) / ask * 10000, fees left out.
    """
    cost = ask * (ONE + buy_fee)
    return (bid * (ONE - sell_fee) - cost) / cost * BPS


# A size limited by a quote budget (budget / price) is rounded down to this step.
BUDGET_SIZE_STEP = Decimal("0.00000001")


def _walk_pair(
    asks: Sequence[PriceLevel],
    buy_fee: Decimal,
    bids: Sequence[PriceLevel],
    sell_fee: Decimal,
    quote_budget: Decimal | None = None,
    base_budget: Decimal | None = None,
) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None, str]:
    """Executable size, profit, limit prices and what capped it ("", "quote", "base"),
    walking A's asks against B's bids within the budgets (None: no limit)."""
    buy_mult = ONE + buy_fee
    sell_mult = ONE - sell_fee
    size = ZERO
    profit = ZERO
    buy_limit = sell_limit = None
    capped = ""
    i = j = 0
    ask_left = bid_left = ZERO
    if asks and bids:
        ask_left = asks[0][1]
        bid_left = bids[0][1]
    while i < len(asks) and j < len(bids):
        ask = asks[i][0]
        bid = bids[j][0]
        margin = bid * sell_mult - ask * buy_mult
        if margin <= 0:
            break
        take = ask_left if ask_left < bid_left else bid_left
        if base_budget is not None and base_budget - size <= take:
            take, capped = base_budget - size, "base"
        if quote_budget is not None:
            affordable = (quote_budget / (ask * buy_mult)).quantize(BUDGET_SIZE_STEP, rounding=ROUND_DOWN)
            if affordable <= take:
                take, capped = affordable, "quote"
        if take <= 0:
            break
        if quote_budget is not None:
            quote_budget -= take * ask * buy_mult
        if capped:
            size += take
            profit += take * margin
            buy_limit, sell_limit = ask, bid
            break
        size += take
        profit += take * margin
        buy_limit, sell_limit = ask, bid
        ask_left -= take
        bid_left -= take
        if ask_left <= 0:
            i += 1
            if i < len(asks):
                ask_left = asks[i][1]
        if bid_left <= 0:
            j += 1
            if j < len(bids):
                bid_left = bids[j][1]
    return size, profit, buy_limit, sell_limit, capped


# Free balances per venue: venue -> asset -> free amount (a Balance's .free, or a Decimal).
Balances = Mapping[str, Mapping[str, "Decimal | Balance"]]


def _free(balances: Balances | None, venue: str, asset: str) -> Decimal | None:
    """None: no cap (the venue's balances are not known); a known venue lacking the asset: 0."""
    if balances is None or venue not in balances:
        return None
    held = balances[venue].get(asset)
    if held is None:
        return ZERO
    free = held.free if isinstance(held, Balance) else held
    return free if free > 0 else ZERO


def valuation_rates(books: Iterable[BookSnapshot], currency: str = "USDT") -> dict[str, Decimal]:
    """Price of each asset in ``currency`` from the books' mids (the mean over venues):
    direct from X/currency books, then one hop through a valued quote (X/BTC via BTC)."""
    direct: dict[str, list[Decimal]] = {}
    hops: list[tuple[str, str, Decimal]] = []
    for book in books:
        m = book.mid
        if m is None or m <= 0 or "/" not in book.symbol:
            continue
        base, quote = book.symbol.split("/", 1)
        if quote == currency:
            direct.setdefault(base, []).append(m)
        else:
            hops.append((base, quote, m))
    rates = {asset: sum(mids, ZERO) / len(mids) for asset, mids in direct.items()}
    rates[currency] = ONE
    via: dict[str, list[Decimal]] = {}
    for base, quote, m in hops:
        if base not in rates and quote in rates:
            via.setdefault(base, []).append(m * rates[quote])
    rates.update({asset: sum(v, ZERO) / len(v) for asset, v in via.items()})
    return rates


def evaluate_pair(
    symbol: str,
    buy_book: BookSnapshot,
    buy_fee: Decimal,
    sell_book: BookSnapshot,
    sell_fee: Decimal,
    *,
    balances: Balances | None = None,
    rates: Mapping[str, Decimal] | None = None,
    valuation_currency: str = "USDT",
) -> ArbOpportunity | None:
    """One ordered venue pair; None if the buy side has no asks or the sell side no bids.

    With ``balances`` (venue -> asset -> free) the executable size is also capped by both legs:
    the quote free on the buy venue buys at most quote / (ask * (1 + taker fee)) base, walking
    the asks (rounded down to 0.00000001), and the base free on the sell venue is the most that
    can be sold. A venue missing from ``balances`` is not capped; a listed venue without the
    asset has none. With ``rates`` (asset -> price in ``valuation_currency``, see
    ``valuation_rates``) the profit is also given in the valuation currency.
    """
    if not buy_book.asks or not sell_book.bids:
        return None
    ask = buy_book.asks[0][0]
    bid = sell_book.bids[0][0]
    net = net_bps(ask, buy_fee, bid, sell_fee)
    base, _, quote = symbol.partition("/")
    capped_by = ""
    if net > 0:
        quote_budget = _free(balances, buy_book.venue, quote)
        base_budget = _free(balances, sell_book.venue, base)
        size, profit, buy_limit, sell_limit, capped = _walk_pair(
            buy_book.asks, buy_fee, sell_book.bids, sell_fee, quote_budget, base_budget
        )
        if capped == "quote":
            capped_by = f"{quote} on {buy_book.venue}"
        elif capped == "base":
            capped_by = f"{base} on {sell_book.venue}"
    else:
        size, profit, buy_limit, sell_limit = ZERO, ZERO, None, None
    rate = None if rates is None else rates.get(quote)
    return ArbOpportunity(
        symbol=symbol,
        buy_venue=buy_book.venue,
        sell_venue=sell_book.venue,
        buy_price=ask,
        sell_price=bid,
        gross_bps=(bid - ask) / ask * BPS,
        net_bps=net,
        executable_size=size,
        est_profit_quote=profit,
        buy_limit_price=buy_limit,
        sell_limit_price=sell_limit,
        capped_by=capped_by,
        est_profit_valuation=None if rate is None else profit * rate,
        valuation_currency=valuation_currency if rate is not None else "",
    )


def _rank(opp: ArbOpportunity) -> tuple[Decimal, str, str, str]:
    return (-opp.net_bps, opp.symbol, opp.buy_venue, opp.sell_venue)


def _fee(fees: Mapping[tuple[str, str], Decimal], venue: str, symbol: str) -> Decimal:
    try:
        return fees[(venue, symbol)]
    except KeyError:
        # Assuming zero would overstate every opportunity on that venue.
        raise KeyError(f"no taker fee for {symbol} on {venue}: cannot compute net arbitrage") from None


def find_arbitrage(
    books: Mapping[tuple[str, str], BookSnapshot],
    fees: Mapping[tuple[str, str], Decimal],
    min_net_bps: Decimal | None = None,
    *,
    balances: Balances | None = None,
    rates: Mapping[str, Decimal] | None = None,
    valuation_currency: str = "USDT",
) -> list[ArbOpportunity]:
    """Full rescan of every ordered venue pair of every symbol on >= 2 venues.

    ``balances``, ``rates`` and ``valuation_currency`` as in ``evaluate_pair``: they change
    sizes and profits, never the ranking (net bps at the top of the book).

    ``books`` and ``fees`` are keyed by (venue, symbol); fees are taker rates.
    With ``min_net_bps`` set: every pair whose net bps >= it. With None: exactly
    one row per symbol, its best pair even if negative, so the operator sees how
    far each symbol is from profitable. Sorted by net bps descending (ties by
    symbol, buy venue, sell venue). A missing fee raises KeyError.
    """
    by_symbol: dict[str, list[tuple[str, BookSnapshot]]] = {}
    for (venue, symbol), book in books.items():
        by_symbol.setdefault(symbol, []).append((venue, book))
    out: list[ArbOpportunity] = []
    for symbol, venue_books in by_symbol.items():
        if len(venue_books) < 2:
            continue
        pairs = []
        for buy_venue, buy_book in venue_books:
            for sell_venue, sell_book in venue_books:
                if buy_venue == sell_venue:
                    continue
                opp = evaluate_pair(
                    symbol,
                    _named(buy_book, buy_venue),
                    _fee(fees, buy_venue, symbol),
                    _named(sell_book, sell_venue),
                    _fee(fees, sell_venue, symbol),
                    balances=balances,
                    rates=rates,
                    valuation_currency=valuation_currency,
                )
                if opp is not None:
                    pairs.append(opp)
        if not pairs:
            continue
        if min_net_bps is None:
            out.append(min(pairs, key=_rank))
        else:
            out.extend(p for p in pairs if p.net_bps >= min_net_bps)
    out.sort(key=_rank)
    return out


def _named(book: BookSnapshot, venue: str) -> BookSnapshot:
    # The mapping key is authoritative for the venue name.
    if book.venue == venue:
        return book
    return BookSnapshot(venue, book.symbol, book.bids, book.asks, book.timestamp, book.sequence)


class ArbitrageIndex:
    """Arbitrage kept up to date one book at a time.

    ``update(snapshot)`` recomputes only the 2*(V-1) ordered pairs that involve
    that venue for that symbol, and only their top-of-book net bps (a couple of
    Decimal operations each, using per-venue fee-adjusted prices computed once
    per update). The expensive parts (gross bps, walking the books for the
    executable size and profit, building ArbOpportunity) happen lazily in
    ``opportunities()``, only for the pairs it returns, and are cached until
    one of the pair's books changes. Results equal ``find_arbitrage`` on the
    same books.
    """

    def __init__(self, fees: Mapping[tuple[str, str], Decimal] | None = None, *,
                 balances: Balances | None = None, rates: Mapping[str, Decimal] | None = None,
                 valuation_currency: str = "USDT") -> None:  # fmt: skip
        self._fees: dict[tuple[str, str], Decimal] = dict(fees or {})
        self._balances: dict[str, dict[str, Decimal | Balance]] = {v: dict(b) for v, b in (balances or {}).items()}
        self._rates: dict[str, Decimal] | None = None if rates is None else dict(rates)
        self._valuation_currency = valuation_currency
        self._books: dict[str, dict[str, BookSnapshot]] = {}
        # per symbol, per venue: (ask*(1+fee) or None, bid*(1-fee) or None)
        self._eff: dict[str, dict[str, tuple[Decimal | None, Decimal | None]]] = {}
        self._nets: dict[str, dict[tuple[str, str], Decimal]] = {}  # (buy, sell) -> net bps
        self._best: dict[str, tuple[Decimal, str, str] | None] = {}  # (-net, buy, sell)
        self._materialised: dict[str, dict[tuple[str, str], ArbOpportunity]] = {}
        self._results: dict[Decimal | None, list[ArbOpportunity]] = {}
        # The per-symbol best rows (min_net_bps=None), kept sorted and patched per update.
        self._best_keys: list[tuple[Decimal, str, str, str]] = []
        self._best_rows: list[ArbOpportunity] = []
        self._best_key_of: dict[str, tuple[Decimal, str, str, str]] = {}
        self._dirty: set[str] = set()

    def set_fee(self, venue: str, symbol: str, taker_fee: Decimal) -> None:
        self._fees[(venue, symbol)] = taker_fee
        book = self._books.get(symbol, {}).get(venue)
        if book is not None:
            self.update(book)

    def set_balances(self, venue: str, balances: Mapping[str, Decimal | Balance]) -> None:
        """The operator's free balances on ``venue`` (asset -> Balance or free amount): from now
        on its legs are capped by them. Sizes and profits are recomputed; the ranking is not."""
        self._balances[venue] = dict(balances)
        self._invalidate_sizes()

    def set_rates(self, rates: Mapping[str, Decimal], valuation_currency: str | None = None) -> None:
        """Prices in the valuation currency (``valuation_rates``) for the profit's equivalent."""
        self._rates = dict(rates)
        if valuation_currency is not None:
            self._valuation_currency = valuation_currency
        self._invalidate_sizes()

    def _invalidate_sizes(self) -> None:
        self._materialised.clear()
        self._results.clear()
        self._dirty.update(symbol for symbol, books in self._books.items() if books)

    def update(self, snapshot: BookSnapshot) -> None:
        symbol = snapshot.symbol
        venue = snapshot.venue
        fee = _fee(self._fees, venue, symbol)
        books = self._books.setdefault(symbol, {})
        books[venue] = snapshot
        eff = self._eff.setdefault(symbol, {})
        ask_eff = snapshot.asks[0][0] * (ONE + fee) if snapshot.asks else None
        bid_eff = snapshot.bids[0][0] * (ONE - fee) if snapshot.bids else None
        eff[venue] = (ask_eff, bid_eff)
        nets = self._nets.setdefault(symbol, {})
        self._materialised.pop(symbol, None)
        self._results.clear()
        self._dirty.add(symbol)
        challenger: tuple[Decimal, str, str] | None = None
        for other, (other_ask_eff, other_bid_eff) in eff.items():
            if other == venue:
                continue
            if ask_eff is not None and other_bid_eff is not None:
                net = (other_bid_eff - ask_eff) / ask_eff * BPS
                nets[(venue, other)] = net
                cand = (-net, venue, other)
                if challenger is None or cand < challenger:
                    challenger = cand
            else:
                nets.pop((venue, other), None)
            if other_ask_eff is not None and bid_eff is not None:
                net = (bid_eff - other_ask_eff) / other_ask_eff * BPS
                nets[(other, venue)] = net
                cand = (-net, other, venue)
                if challenger is None or cand < challenger:
                    challenger = cand
            else:
                nets.pop((other, venue), None)
        best = self._best.get(symbol)
        if best is not None and venue not in (best[1], best[2]):
            # The old best did not change; only the new pairs can beat it.
            self._best[symbol] = challenger if challenger is not None and challenger < best else best
        else:
            self._best[symbol] = self._rescan_best(nets)

    def book(self, venue: str, symbol: str) -> BookSnapshot | None:
        """The book the index holds for ``venue`` and ``symbol`` (the one its routes are from)."""
        return self._books.get(symbol, {}).get(venue)

    def remove(self, venue: str, symbol: str) -> None:
        """Forget a venue's book (stale or disconnected): its pairs disappear."""
        books = self._books.get(symbol)
        if not books or venue not in books:
            return
        del books[venue]
        del self._eff[symbol][venue]
        nets = self._nets[symbol]
        for pair in [p for p in nets if venue in p]:
            del nets[pair]
        self._materialised.pop(symbol, None)
        self._results.clear()
        self._dirty.add(symbol)
        self._best[symbol] = self._rescan_best(nets)

    @staticmethod
    def _rescan_best(nets: Mapping[tuple[str, str], Decimal]) -> tuple[Decimal, str, str] | None:
        if not nets:
            return None
        return min((-net, buy, sell) for (buy, sell), net in nets.items())

    def _opportunity(self, symbol: str, buy: str, sell: str) -> ArbOpportunity:
        cache = self._materialised.setdefault(symbol, {})
        opp = cache.get((buy, sell))
        if opp is None:
            books = self._books[symbol]
            opp = evaluate_pair(
                symbol,
                books[buy],
                self._fees[(buy, symbol)],
                books[sell],
                self._fees[(sell, symbol)],
                balances=self._balances or None,
                rates=self._rates,
                valuation_currency=self._valuation_currency,
            )
            assert opp is not None
            cache[(buy, sell)] = opp
        return opp

    def _best_per_symbol(self) -> list[ArbOpportunity]:
        keys = self._best_keys
        rows = self._best_rows
        key_of = self._best_key_of
        for symbol in self._dirty:
            old = key_of.pop(symbol, None)
            if old is not None:
                i = bisect_left(keys, old)
                del keys[i]
                del rows[i]
            best = self._best.get(symbol)
            if best is not None:
                opp = self._opportunity(symbol, best[1], best[2])
                key = _rank(opp)
                i = bisect_left(keys, key)
                keys.insert(i, key)
                rows.insert(i, opp)
                key_of[symbol] = key
        self._dirty.clear()
        return list(rows)

    def opportunities(self, min_net_bps: Decimal | None = None) -> list[ArbOpportunity]:
        """Same contract as ``find_arbitrage``; cached until the next update."""
        cached = self._results.get(min_net_bps)
        if cached is not None:
            return list(cached)
        if min_net_bps is None:
            return self._best_per_symbol()
        out: list[ArbOpportunity] = []
        for symbol, best in self._best.items():
            if best is None:
                continue
            if -best[0] >= min_net_bps:
                for (buy, sell), net in self._nets[symbol].items():
                    if net >= min_net_bps:
                        out.append(self._opportunity(symbol, buy, sell))
        out.sort(key=_rank)
        self._results[min_net_bps] = out
        return list(out)


__all__ = [
    "ArbOpportunity",
    "ArbitrageIndex",
    "BookAnalysis",
    "DepthBand",
    "BookWalk",
    "PriceImpact",
    "analyse_book",
    "depth_within",
    "evaluate_pair",
    "find_arbitrage",
    "impact_size_for_value",
    "liquidity_ratio",
    "mid",
    "net_bps",
    "price_impact",
    "spread",
    "spread_bps",
    "valuation_rates",
    "walk_levels",
]
