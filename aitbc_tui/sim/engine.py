"""A price-time-priority matching engine for one simulated venue.

Accounting choices (documented because tests and the UI rely on them):

- Fees are charged in the quote currency on both sides. A buyer pays
  ``price*amount*(1+rate)`` quote; a seller receives ``price*amount*(1-rate)`` quote.
  Fees are exact Decimal products (no rounding).
- A resting buy reserves ``limit*remaining*(1+max(maker, taker))`` quote (it may fill
  as taker or maker); a sell reserves its base amount. Reserved funds are ``used``.
- A market buy's amount is in base; its funds are reserved by walking the book.
  Whatever liquidity cannot fill is expired (status CANCELED with a message).
- Self-trade prevention is "expire maker": an incoming order that would trade with a
  resting order of the same account cancels that resting order and continues.
- ``unlimited`` accounts (the market maker, the taker flow, the liquidity provider)
  skip balance checks; ``quiet`` accounts emit no OrderUpdated events and keep no
  closed-order history (the market maker places thousands of orders a minute).
- Every operation that changes a book increments that book's sequence by one and
  emits one BookDelta with absolute sizes of the touched levels (0 = removed).
  ``batch(symbol)`` folds several operations into one BookDelta spanning
  ``first_sequence..last_sequence``.
- Deposits and withdrawals (``deposit``, a negative amount withdraws) are kept per account
  in a ledger of ``domain.Transfer`` (time from the engine clock, ids ``D1``, ``W2``, … per
  engine), served by ``transfers``; ``record_transfer`` adds an entry without moving a balance
  (the sandbox's start funding, set as balances on restore).
- Every match is a public trade (``market_data.Trade``, side = the taker's, ids counting up
  from 1 per symbol), emitted as a ``TradeExecuted`` event (with both accounts, for marking
  the operator's own trades) and kept in a bounded per-symbol buffer (``RECENT_TRADES``),
  together with candles of every timeframe and the 24 h figures (``recent_trades``,
  ``candles``, ``ticker``). Self-trade prevention cancels instead of trading, so an account
  never trades with itself.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import islice

from aitbc_tui.domain import (
    TimeInForce,
    ZERO,
    Balance,
    BookSnapshot,
    Fill,
    InsufficientFunds,
    Market,
    Order,
    OrderNotFound,
    OrderRejected,
    OrderStatus,
    OrderType,
    PriceLevel,
    Side,
    Transfer,
)
from aitbc_tui.market_data import Candle, SymbolMarketData, Ticker24h, Trade

CLOSED_HISTORY = 2000  # closed orders kept in memory per account
FILL_HISTORY = 2000
RECENT_TRADES = 1000  # public trades kept per symbol (Binance serves at most 1000 too)


# ---- events ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookDelta:
    symbol: str
    first_sequence: int
    last_sequence: int
    bids: tuple[PriceLevel, ...]  # (price, new total size at level); 0 = level removed
    asks: tuple[PriceLevel, ...]
    venue: str = ""
    timestamp: float = 0.0


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    account: str
    order: Order
    fills: tuple[Fill, ...]


@dataclass(frozen=True, slots=True)
class BalancesChanged:
    """Emitted for balance changes not caused by an order (deposits)."""

    account: str
    assets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TradeExecuted:
    """One public trade; the accounts and order ids never leave the process."""

    trade: Trade
    maker_account: str
    taker_account: str
    maker_order_id: str
    taker_order_id: str


Listener = Callable[[object], None]


# ---- internal mutable records ----------------------------------------------------


class _Order:
    __slots__ = (
        "id", "account", "client_order_id", "symbol", "side", "type", "price",
        "amount", "filled", "status", "created_at", "updated_at", "cost", "fee",
        "fee_currency", "reserved", "priority", "message", "time_in_force", "post_only",
        "last_fill_at", "maker_qty", "taker_qty",
    )  # fmt: skip

    def __init__(self, id: str, account: str, client_order_id: str, symbol: str, side: Side,
                 type: OrderType, price: Decimal | None, amount: Decimal, now: float,
                 fee_currency: str) -> None:  # fmt: skip
        self.id = id
        self.account = account
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.type = type
        self.price = price
        self.amount = amount
        self.filled = ZERO
        self.status = OrderStatus.OPEN
        self.created_at = now
        self.updated_at = now
        self.cost = ZERO  # sum of price*amount of fills
        self.fee = ZERO
        self.fee_currency = fee_currency
        self.reserved = ZERO  # funds still held for this order (quote for buys, base for sells)
        self.priority = 0  # arrival number in the book: lower trades first at a price
        self.message = ""
        self.time_in_force = TimeInForce.GTC
        self.post_only = False
        self.last_fill_at: float | None = None
        self.maker_qty = ZERO
        self.taker_qty = ZERO

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    def to_order(self, venue: str) -> Order:
        return Order(
            venue=venue,
            id=self.id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            price=self.price,
            amount=self.amount,
            filled=self.filled,
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at,
            average_price=(self.cost / self.filled) if self.filled else None,
            fee=self.fee,
            fee_currency=self.fee_currency,
            message=self.message,
            time_in_force=self.time_in_force,
            post_only=self.post_only,
            last_fill_at=self.last_fill_at,
            liquidity=(
                "mixed"
                if self.maker_qty and self.taker_qty
                else "maker"
                if self.maker_qty
                else "taker"
                if self.taker_qty
                else ""
            ),
        )


def _book_price(order: _Order) -> Decimal:
    """The price of an order resting in a book: only limit orders rest, and every one has a price."""
    assert order.price is not None, f"order {order.id} rests without a price"
    return order.price


class _Side:
    """One side of a book: FIFO queues per price, a sorted price list, level sizes."""

    __slots__ = ("queues", "prices", "sizes", "descending")

    def __init__(self, descending: bool) -> None:
        self.queues: dict[Decimal, deque[_Order]] = {}
        self.prices: list[Decimal] = []  # ascending
        self.sizes: dict[Decimal, Decimal] = {}
        self.descending = descending

    def best(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.descending else self.prices[0]

    def iter_prices(self) -> Iterator[Decimal]:
        return reversed(self.prices) if self.descending else iter(self.prices)

    def append(self, order: _Order) -> None:
        price = _book_price(order)
        queue = self.queues.get(price)
        if queue is None:
            queue = self.queues[price] = deque()
            bisect.insort(self.prices, price)
            self.sizes[price] = ZERO
        queue.append(order)
        self.sizes[price] += order.remaining

    def remove(self, order: _Order) -> None:
        price = _book_price(order)
        queue = self.queues[price]
        queue.remove(order)
        self.reduce_level(price, order.remaining)

    def reduce_level(self, price: Decimal, amount: Decimal) -> None:
        size = self.sizes[price] - amount
        if self.queues[price]:
            self.sizes[price] = size
        else:
            del self.queues[price]
            del self.sizes[price]
            del self.prices[bisect.bisect_left(self.prices, price)]

    def top(self, depth: int) -> tuple[PriceLevel, ...]:
        sizes = self.sizes
        return tuple((p, sizes[p]) for p in islice(self.iter_prices(), depth))


class _Book:
    __slots__ = ("bids", "asks", "sequence", "touched_bids", "touched_asks", "first_sequence")

    def __init__(self) -> None:
        self.bids = _Side(descending=True)
        self.asks = _Side(descending=False)
        self.sequence = 0
        self.touched_bids: set[Decimal] = set()
        self.touched_asks: set[Decimal] = set()
        self.first_sequence = 0

    def side(self, side: Side) -> _Side:
        return self.bids if side is Side.BUY else self.asks

    def touched(self, side: Side) -> set[Decimal]:
        return self.touched_bids if side is Side.BUY else self.touched_asks


def _coerce(value: object) -> object:
    """Accept int and str amounts (protocol layers parse text); floats stay rejected."""
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


# ---- the engine ------------------------------------------------------------------


class MatchingEngine:
    def __init__(self, venue: str, clock: Callable[[], float] = time.time) -> None:
        self.venue = venue
        self.clock = clock
        self.markets: dict[str, Market] = {}
        self._books: dict[str, _Book] = {}
        self._balances: dict[str, dict[str, list[Decimal]]] = {}  # account -> asset -> [free, used]
        self._open: dict[str, _Order] = {}  # order id -> open order (all accounts)
        self._open_by_account: dict[str, dict[str, _Order]] = {}
        self._closed: dict[str, deque[_Order]] = {}
        self._fills: dict[str, deque[Fill]] = {}
        self._listeners: list[Listener] = []
        self._pending_events: list[object] = []
        self._batch_depth = 0
        self._batched: set[str] = set()
        self.unlimited_accounts: set[str] = set()
        self.quiet_accounts: set[str] = set()
        self.next_order_number = 1
        self.next_priority = 1
        self._market_data: dict[str, SymbolMarketData] = {}
        self._trade_accounts: dict[str, deque[tuple[str, str]]] = {}  # symbol -> (maker, taker) per trade
        self._next_trade_id: dict[str, int] = {}
        self._transfers: dict[str, list[Transfer]] = {}  # account -> deposits / withdrawals, oldest first
        self.next_transfer_number = 1

    # ---- setup --------------------------------------------------------------------

    def add_market(self, market: Market) -> None:
        self.markets[market.symbol] = market
        self._books.setdefault(market.symbol, _Book())
        if market.symbol not in self._market_data:
            self._market_data[market.symbol] = SymbolMarketData(market.symbol, RECENT_TRADES)
            self._trade_accounts[market.symbol] = deque(maxlen=RECENT_TRADES)
            self._next_trade_id[market.symbol] = 1

    def add_listener(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def set_unlimited(self, account: str, quiet: bool = False) -> None:
        self.unlimited_accounts.add(account)
        if quiet:
            self.quiet_accounts.add(account)

    # ---- balances -----------------------------------------------------------------

    def _wallet(self, account: str, asset: str) -> list[Decimal]:
        assets = self._balances.get(account)
        if assets is None:
            assets = self._balances[account] = {}
        wallet = assets.get(asset)
        if wallet is None:
            wallet = assets[asset] = [ZERO, ZERO]
        return wallet

    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        amount = Decimal(amount)
        if not amount.is_finite():
            raise ValueError(f"deposit amount must be a finite number, got {amount}")
        wallet = self._wallet(account, asset)
        if wallet[0] + amount < 0:
            raise InsufficientFunds(f"cannot withdraw {-amount} {asset}: only {wallet[0]} free")
        wallet[0] += amount
        if amount:
            self.record_transfer(account, asset, amount)
        self._emit(BalancesChanged(account, (asset,)))
        self._dispatch()

    def record_transfer(self, account: str, asset: str, amount: Decimal, at: float | None = None,
                        id: str = "", price: Decimal | None = None, price_quote: str = "") -> Transfer:  # fmt: skip
        """Add a completed deposit (positive) or withdrawal to ``account``'s ledger only
        (``price``: the asset's price in ``price_quote`` then, where the caller knows it)."""
        if not id:
            id = f"{'D' if amount > 0 else 'W'}{self.next_transfer_number}"
            self.next_transfer_number += 1
        transfer = Transfer(self.venue, asset, Decimal(amount), self.clock() if at is None else at, id,
                            price=price, price_quote=price_quote if price is not None else "")  # fmt: skip
        self._transfers.setdefault(account, []).append(transfer)
        return transfer

    def transfers(self, account: str, since: float | None = None) -> list[Transfer]:
        """``account``'s deposits and withdrawals at or after ``since``, oldest first."""
        return [t for t in self._transfers.get(account, ()) if since is None or t.time >= since]

    def set_balance(self, account: str, asset: str, free: Decimal, used: Decimal = ZERO) -> None:
        """Restore a persisted balance as-is (no event)."""
        self._wallet(account, asset)[:] = [free, used]

    def balances(self, account: str) -> dict[str, Balance]:
        return {asset: Balance(asset, free, used) for asset, (free, used) in self._balances.get(account, {}).items()}

    # ---- queries ------------------------------------------------------------------

    def get_order(self, account: str, order_id: str | None = None,
                  client_order_id: str | None = None) -> Order | None:  # fmt: skip
        found = self._find(account, order_id, client_order_id)
        return found.to_order(self.venue) if found else None

    def _find(self, account: str, order_id: str | None, client_order_id: str | None) -> _Order | None:
        open_orders = self._open_by_account.get(account, {})
        if order_id is not None:
            found = open_orders.get(order_id)
            if found is None:
                found = next((o for o in self._closed.get(account, ()) if o.id == order_id), None)
            if found is not None and client_order_id and found.client_order_id != client_order_id:
                return None
            return found
        if client_order_id:
            for o in open_orders.values():
                if o.client_order_id == client_order_id:
                    return o
            for o in reversed(self._closed.get(account, ())):
                if o.client_order_id == client_order_id:
                    return o
        return None

    def open_orders(self, account: str, symbol: str | None = None) -> list[Order]:
        orders = sorted(self._open_by_account.get(account, {}).values(), key=lambda o: o.priority)
        return [o.to_order(self.venue) for o in orders if symbol is None or o.symbol == symbol]

    def closed_orders(self, account: str, limit: int = 100) -> list[Order]:
        """Newest first."""
        closed = self._closed.get(account, ())
        return [o.to_order(self.venue) for o in islice(reversed(closed), limit)]

    def fills(self, account: str, limit: int = 100) -> list[Fill]:
        """Newest first."""
        return list(islice(reversed(self._fills.get(account, ())), limit))

    def is_open(self, order_id: str) -> bool:
        return order_id in self._open

    def open_remaining(self, order_id: str) -> Decimal:
        order = self._open.get(order_id)
        return order.remaining if order else ZERO

    def book(self, symbol: str, depth: int) -> BookSnapshot:
        book = self._require_book(symbol)
        return BookSnapshot(
            venue=self.venue,
            symbol=symbol,
            bids=book.bids.top(depth),
            asks=book.asks.top(depth),
            timestamp=self.clock(),
            sequence=book.sequence,
        )

    def best_bid_ask(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        book = self._require_book(symbol)
        return book.bids.best(), book.asks.best()

    def sequence(self, symbol: str) -> int:
        return self._require_book(symbol).sequence

    # ---- public market data ---------------------------------------------------------

    def recent_trades(self, symbol: str, limit: int | None = None, account: str | None = None) -> list[Trade]:
        """The newest ``limit`` public trades of ``symbol``, oldest first; ``account``'s own
        (as maker or taker) have ``own=True``."""
        self._require_book(symbol)
        trades = self._market_data[symbol].trades
        accounts = self._trade_accounts[symbol]
        start = max(0, len(trades) - limit) if limit else 0
        out = []
        for index in range(start, len(trades)):
            trade = trades[index]
            if account is not None and account in accounts[index]:
                trade = Trade(trade.symbol, trade.time, trade.price, trade.amount, trade.side, trade.id,
                              True, trade.venue)  # fmt: skip
            out.append(trade)
        return out

    def trade_count(self, symbol: str) -> int:
        """Trades of ``symbol`` since the engine started (the buffer keeps the newest)."""
        self._require_book(symbol)
        return self._market_data[symbol].trade_count

    def candles(self, symbol: str, timeframe: str = "1m", limit: int | None = None,
                since: float | None = None) -> list[Candle]:  # fmt: skip
        """OHLCV of ``symbol`` from its trades, oldest first (ValueError: unknown timeframe)."""
        self._require_book(symbol)
        return self._market_data[symbol].candles(timeframe, limit, since)

    def ticker(self, symbol: str) -> Ticker24h:
        """24 h figures from the trades, with the current best bid and ask."""
        book = self._require_book(symbol)
        return self._market_data[symbol].ticker(self.clock(), book.bids.best(), book.asks.best(), self.venue)

    def _require_book(self, symbol: str) -> _Book:
        book = self._books.get(symbol)
        if book is None:
            raise OrderRejected(f"{self.venue} does not list {symbol}")
        return book

    # ---- validation ---------------------------------------------------------------

    def _validate(self, market: Market, side: Side, type: OrderType, amount: object,
                  price: object) -> tuple[Decimal, Decimal | None]:  # fmt: skip
        """The amount and price, checked against the market; a market order's price is None."""
        where = f"({self.venue} {market.symbol})"
        limit_price: Decimal | None = None
        try:
            if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
                raise OrderRejected(f"rejected: amount must be a positive number, got {amount} {where}")
            if type is OrderType.LIMIT:
                if price is None:
                    raise OrderRejected(f"rejected: a limit order needs a price {where}")
                if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
                    raise OrderRejected(f"rejected: price must be a positive number, got {price} {where}")
                if price % market.tick_size:
                    raise OrderRejected(
                        f"rejected: price {price} is not a multiple of the tick size {market.tick_size} {where}"
                    )
                limit_price = price
            if amount % market.lot_size:
                raise OrderRejected(
                    f"rejected: amount {amount} is not a multiple of the lot size {market.lot_size} {where}"
                )
            if amount < market.min_amount:
                raise OrderRejected(
                    f"rejected: amount {amount} {market.base} is below the minimum amount "
                    f"{market.min_amount} {market.base} {where}"
                )
            if limit_price is not None and limit_price * amount < market.min_notional:
                raise OrderRejected(
                    f"rejected: order value {limit_price * amount} {market.quote} is below the minimum "
                    f"notional {market.min_notional} {market.quote} {where}"
                )
        except InvalidOperation as exc:
            raise OrderRejected(f"rejected: invalid number in order {where}") from exc
        return amount, limit_price

    # ---- order entry ----------------------------------------------------------------

    def place(self, account: str, symbol: str, side: Side, type: OrderType, amount: Decimal,
              price: Decimal | None = None, client_order_id: str = "", *,
              time_in_force: TimeInForce | str = TimeInForce.GTC,
              post_only: bool = False) -> tuple[Order, list[Fill]]:  # fmt: skip
        """Place an order with the venue's semantics: IOC fills what crosses now and cancels
        the rest; FOK fills all of it now or expires with nothing filled; post-only is
        rejected when it would take liquidity (a market order is always IOC)."""
        order, fills = self._place(account, symbol, side, type, amount, price, client_order_id,
                                   TimeInForce(time_in_force), post_only)  # fmt: skip
        return order.to_order(self.venue), fills

    def place_quiet(self, account: str, symbol: str, side: Side, type: OrderType, amount: Decimal,
                    price: Decimal | None = None) -> str:  # fmt: skip
        """Place for an internal account; returns only the order id (no Order copy)."""
        return self._place(account, symbol, side, type, amount, price, "")[0].id

    def _place(self, account: str, symbol: str, side: Side, type: OrderType, amount: Decimal,
               price: Decimal | None, client_order_id: str,
               time_in_force: TimeInForce = TimeInForce.GTC,
               post_only: bool = False) -> tuple[_Order, list[Fill]]:  # fmt: skip
        side, type = Side(side), OrderType(type)
        market = self.markets.get(symbol)
        if market is None:
            raise OrderRejected(f"rejected: {self.venue} does not list {symbol}")
        amount, price = self._validate(
            market, side, type, _coerce(amount), None if type is OrderType.MARKET else _coerce(price)
        )
        if client_order_id:
            for o in self._open_by_account.get(account, {}).values():
                if o.client_order_id == client_order_id:
                    raise OrderRejected(
                        f"rejected: duplicate client order id {client_order_id!r}: order {o.id} "
                        f"with that id is still open ({self.venue})"
                    )
        book = self._books[symbol]
        if post_only:
            if type is OrderType.MARKET or time_in_force is not TimeInForce.GTC:
                raise OrderRejected(f"rejected: post-only needs a GTC limit order ({self.venue} {symbol})")
            assert price is not None  # a limit order: _validate returned its price
            best = book.side(side.opposite).best()
            if best is not None and (price >= best if side is Side.BUY else price <= best):
                raise OrderRejected(
                    f"rejected: post-only {side.value} at {price} would take liquidity "
                    f"(best {'ask' if side is Side.BUY else 'bid'} {best}) ({self.venue} {symbol})"
                )
        fok_short = False
        if time_in_force is TimeInForce.FOK:
            fillable, _cost = self._walk(book.side(side.opposite), account, amount, price)
            fok_short = fillable < amount
        unlimited = account in self.unlimited_accounts
        max_fee = max(market.maker_fee, market.taker_fee)

        # Work out what to reserve before touching anything, so a rejection changes nothing.
        if type is OrderType.MARKET:
            available, cost = self._walk(book.side(side.opposite), account, amount)
            if available <= 0:
                raise OrderRejected(f"rejected: no liquidity for a market {side.value} on {self.venue} {symbol}")
            notional = cost * amount / available
            if notional < market.min_notional:
                raise OrderRejected(
                    f"rejected: order value ~{notional:f} {market.quote} is below the minimum "
                    f"notional {market.min_notional} {market.quote} ({self.venue} {symbol})"
                )
            reserve = cost * (1 + market.taker_fee) if side is Side.BUY else amount
        else:
            assert price is not None  # a limit order: _validate returned its price
            reserve = price * amount * (1 + max_fee) if side is Side.BUY else amount
        reserve_asset = market.quote if side is Side.BUY else market.base
        if not unlimited:
            wallet = self._wallet(account, reserve_asset)
            if wallet[0] < reserve:
                what = "incl. fees" if side is Side.BUY else "to sell"
                raise InsufficientFunds(
                    f"insufficient {reserve_asset}: order needs {reserve:f} {reserve_asset} ({what}), "
                    f"free {wallet[0]:f} {reserve_asset} ({self.venue} {symbol})"
                )
            wallet[0] -= reserve
            wallet[1] += reserve

        now = self.clock()
        order = _Order(self._next_id(), account, client_order_id, symbol, side, type, price,
                       amount, now, market.quote)  # fmt: skip
        order.reserved = reserve
        order.time_in_force = TimeInForce.IOC if type is OrderType.MARKET else time_in_force
        order.post_only = post_only
        fills = [] if fok_short else self._match(book, market, order, now)

        if type is OrderType.LIMIT and order.remaining > 0 and order.time_in_force is TimeInForce.GTC:
            assert price is not None  # a limit order: _validate returned its price
            if side is Side.BUY and not unlimited:
                keep = price * order.remaining * (1 + max_fee)
                self._release(order, market, order.reserved - keep)
            order.priority = self.next_priority
            self.next_priority += 1
            book.side(side).append(order)
            book.touched(side).add(price)
            self._open[order.id] = order
            self._open_by_account.setdefault(account, {})[order.id] = order
        else:
            if order.remaining > 0:
                order.status = OrderStatus.CANCELED
                if fok_short:
                    order.message = f"expired: fill or kill, {amount} {market.base} not fillable now"
                elif order.time_in_force is TimeInForce.IOC and type is OrderType.LIMIT:
                    order.message = f"unfilled {order.remaining} {market.base} expired: immediate or cancel"
                else:
                    order.message = f"unfilled {order.remaining} {market.base} expired: no more liquidity"
            else:
                order.status = OrderStatus.FILLED
            self._release(order, market, order.reserved)
            self._close(order)
        if account not in self.quiet_accounts:
            self._emit(OrderUpdated(account, order.to_order(self.venue), tuple(fills)))
        self._finish(symbol, book)
        return order, fills

    def _walk(self, opposite: _Side, account: str, amount: Decimal,
              limit: Decimal | None = None) -> tuple[Decimal, Decimal]:  # fmt: skip
        """Amount available (up to ``amount``, at prices no worse than ``limit``) excluding
        own orders, and its cost in quote."""
        need, cost = amount, ZERO
        for price in opposite.iter_prices():
            if limit is not None and (price > limit if not opposite.descending else price < limit):
                break
            for maker in opposite.queues[price]:
                if maker.account == account:
                    continue
                qty = min(need, maker.remaining)
                cost += qty * price
                need -= qty
                if need <= 0:
                    return amount, cost
        return amount - need, cost

    def _match(self, book: _Book, market: Market, taker: _Order, now: float) -> list[Fill]:
        opposite = book.side(taker.side.opposite)
        touched = book.touched(taker.side.opposite)
        limit = taker.price
        is_buy = taker.side is Side.BUY
        fills: list[Fill] = []
        maker_fills: dict[str, tuple[_Order, list[Fill]]] = {}
        while taker.remaining > 0 and opposite.prices:
            price = opposite.prices[0] if is_buy else opposite.prices[-1]
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            queue = opposite.queues[price]
            maker = queue[0]
            touched.add(price)
            if maker.account == taker.account:
                queue.popleft()
                opposite.reduce_level(price, maker.remaining)
                self._cancel_resting(maker, market, now, "expired: self-trade prevention")
                continue
            qty = min(taker.remaining, maker.remaining)
            taker_fill = self._trade(market, taker, price, qty, now, is_maker=False)
            maker_fill = self._trade(market, maker, price, qty, now, is_maker=True)
            fills.append(taker_fill)
            self._public_trade(market.symbol, price, qty, taker, maker, now)
            if maker.account not in self.quiet_accounts:
                maker_fills.setdefault(maker.id, (maker, []))[1].append(maker_fill)
            if maker.remaining <= 0:
                queue.popleft()
                maker.status = OrderStatus.FILLED
                self._release(maker, market, maker.reserved)
                self._unlist(maker)
                self._close(maker)
            opposite.reduce_level(price, qty)
        for maker, mfills in maker_fills.values():
            self._emit(OrderUpdated(maker.account, maker.to_order(self.venue), tuple(mfills)))
        return fills

    def _trade(self, market: Market, order: _Order, price: Decimal, qty: Decimal, now: float,
               is_maker: bool) -> Fill:  # fmt: skip
        notional = price * qty
        fee = notional * (market.maker_fee if is_maker else market.taker_fee)
        order.filled += qty
        order.cost += notional
        order.fee += fee
        order.updated_at = now
        account = order.account
        if account not in self.unlimited_accounts:
            if order.side is Side.BUY:
                spent = notional + fee
                order.reserved -= spent
                self._wallet(account, market.quote)[1] -= spent
                self._wallet(account, market.base)[0] += qty
            else:
                order.reserved -= qty
                self._wallet(account, market.base)[1] -= qty
                self._wallet(account, market.quote)[0] += notional - fee
        order.last_fill_at = now
        if is_maker:
            order.maker_qty += qty
        else:
            order.taker_qty += qty
        # Unique per order and stable across restarts: the order id and its cumulative fill.
        fill = Fill(self.venue, order.id, market.symbol, order.side, price, qty, fee,
                    market.quote, now, is_maker, trade_id=f"{order.id}:{order.filled}")  # fmt: skip
        if account not in self.quiet_accounts:
            history = self._fills.get(account)
            if history is None:
                history = self._fills[account] = deque(maxlen=FILL_HISTORY)
            history.append(fill)
        return fill

    def _public_trade(self, symbol: str, price: Decimal, qty: Decimal, taker: _Order, maker: _Order,
                      now: float) -> None:  # fmt: skip
        number = self._next_trade_id[symbol]
        self._next_trade_id[symbol] = number + 1
        trade = Trade(symbol, now, price, qty, taker.side, str(number), venue=self.venue)
        self._market_data[symbol].add(trade)
        self._trade_accounts[symbol].append((maker.account, taker.account))
        if self._listeners:
            self._pending_events.append(TradeExecuted(trade, maker.account, taker.account, maker.id, taker.id))

    def _release(self, order: _Order, market: Market, amount: Decimal) -> None:
        if amount <= 0:
            return
        order.reserved -= amount
        if order.account in self.unlimited_accounts:
            return
        wallet = self._wallet(order.account, market.quote if order.side is Side.BUY else market.base)
        wallet[1] -= amount
        wallet[0] += amount

    def _unlist(self, order: _Order) -> None:
        self._open.pop(order.id, None)
        by_account = self._open_by_account.get(order.account)
        if by_account is not None:
            by_account.pop(order.id, None)

    def _close(self, order: _Order) -> None:
        if order.account in self.quiet_accounts:
            return
        closed = self._closed.get(order.account)
        if closed is None:
            closed = self._closed[order.account] = deque(maxlen=CLOSED_HISTORY)
        closed.append(order)

    def _cancel_resting(self, order: _Order, market: Market, now: float, message: str) -> None:
        """Bookkeeping for a resting order already taken out of its queue."""
        order.status = OrderStatus.CANCELED
        order.updated_at = now
        order.message = message
        self._release(order, market, order.reserved)
        self._unlist(order)
        self._close(order)
        if order.account not in self.quiet_accounts:
            self._emit(OrderUpdated(order.account, order.to_order(self.venue), ()))

    def _next_id(self) -> str:
        number = self.next_order_number
        self.next_order_number += 1
        return str(number)

    # ---- cancel / amend -------------------------------------------------------------

    def cancel(self, account: str, order_id: str) -> Order:
        self._cancel(account, order_id)
        return self._closed_or_last(account, order_id)

    def cancel_quiet(self, account: str, order_id: str) -> None:
        self._cancel(account, order_id)

    def _closed_or_last(self, account: str, order_id: str) -> Order:
        found = self._find(account, order_id, None)
        assert found is not None
        return found.to_order(self.venue)

    def _cancel(self, account: str, order_id: str) -> _Order:
        order = self._open_by_account.get(account, {}).get(order_id)
        if order is None:
            known = self._find(account, order_id, None)
            if known is not None:
                raise OrderNotFound(
                    f"cannot cancel order {order_id}: it is already {known.status.value} ({self.venue})"
                )
            raise OrderNotFound(f"cannot cancel order {order_id}: no such open order on {self.venue}")
        book = self._books[order.symbol]
        book.side(order.side).remove(order)
        book.touched(order.side).add(_book_price(order))
        self._cancel_resting(order, self.markets[order.symbol], self.clock(), "canceled")
        self._finish(order.symbol, book)
        return order

    def amend_remaining(self, account: str, order_id: str, new_remaining: Decimal) -> None:
        """Change a resting order's unfilled amount (internal accounts only: no balance moves).

        Decreasing keeps time priority; increasing sends the order to the back of its level,
        as real exchanges do. Zero or less cancels."""
        order = self._open.get(order_id)
        if order is None or order.account != account:
            raise OrderNotFound(f"no open order {order_id} for {account} on {self.venue}")
        if account not in self.unlimited_accounts:
            raise OrderRejected("amend is only supported for internal accounts")
        if new_remaining <= 0:
            self._cancel(account, order_id)
            return
        book = self._books[order.symbol]
        side = book.side(order.side)
        delta = new_remaining - order.remaining
        if delta > 0:
            side.remove(order)
            order.amount += delta
            order.priority = self.next_priority
            self.next_priority += 1
            side.append(order)
        elif delta < 0:
            side.sizes[_book_price(order)] += delta
            order.amount += delta
        else:
            return
        order.updated_at = self.clock()
        book.touched(order.side).add(_book_price(order))
        self._finish(order.symbol, book)

    # ---- restore (persistence) --------------------------------------------------------

    def restore_open_order(self, order: Order, reserved: Decimal, priority: int, account: str) -> None:
        """Put a persisted open order back into its book without matching it."""
        book = self._require_book(order.symbol)
        if order.type is not OrderType.LIMIT or order.price is None:
            raise OrderRejected(
                f"cannot restore open order {order.id} on {self.venue}: only a limit order with a price "
                f"rests in a book (this one is {order.type.value}, price {order.price})"
            )
        o = _Order(order.id, account, order.client_order_id, order.symbol, order.side, order.type,
                   order.price, order.amount, order.created_at, order.fee_currency)  # fmt: skip
        o.filled = order.filled
        o.updated_at = order.updated_at
        o.cost = (order.average_price or ZERO) * order.filled
        o.fee = order.fee
        o.message = order.message
        o.reserved = reserved
        o.priority = priority
        book.side(o.side).append(o)
        book.touched(o.side).add(order.price)
        self._open[o.id] = o
        self._open_by_account.setdefault(account, {})[o.id] = o
        self.next_priority = max(self.next_priority, priority + 1)
        self._finish(o.symbol, book)

    def restore_closed_order(self, order: Order, account: str) -> None:
        o = _Order(order.id, account, order.client_order_id, order.symbol, order.side, order.type,
                   order.price, order.amount, order.created_at, order.fee_currency)  # fmt: skip
        o.filled, o.status, o.updated_at = order.filled, order.status, order.updated_at
        o.cost = (order.average_price or ZERO) * order.filled
        o.fee, o.message = order.fee, order.message
        self._close(o)

    def order_state(self, order_id: str) -> tuple[Decimal, int] | None:
        """(reserved, priority) of an open order, for persistence."""
        o = self._open.get(order_id)
        return (o.reserved, o.priority) if o else None

    # ---- events -----------------------------------------------------------------------

    @contextmanager
    def batch(self, symbol: str) -> Iterator[None]:
        """Fold every book change made inside into one BookDelta per symbol."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                batched, self._batched = self._batched, set()
                for sym in sorted(batched):
                    self._flush_book(sym, self._books[sym])
                self._dispatch()

    def _finish(self, symbol: str, book: _Book) -> None:
        if book.touched_bids or book.touched_asks:
            if book.first_sequence == 0:
                book.first_sequence = book.sequence + 1
            book.sequence += 1
            if self._batch_depth:
                self._batched.add(symbol)
                return
            self._flush_book(symbol, book)
        if not self._batch_depth:
            self._dispatch()

    def _flush_book(self, symbol: str, book: _Book) -> None:
        if not (book.touched_bids or book.touched_asks):
            return
        first = book.first_sequence or book.sequence
        book.first_sequence = 0
        if self._listeners:
            bid_sizes, ask_sizes = book.bids.sizes, book.asks.sizes
            bids = tuple((p, bid_sizes.get(p, ZERO)) for p in sorted(book.touched_bids, reverse=True))
            asks = tuple((p, ask_sizes.get(p, ZERO)) for p in sorted(book.touched_asks))
            self._pending_events.append(BookDelta(symbol, first, book.sequence, bids, asks, self.venue, self.clock()))
        book.touched_bids.clear()
        book.touched_asks.clear()

    def _emit(self, event: object) -> None:
        if self._listeners:
            self._pending_events.append(event)

    def _dispatch(self) -> None:
        if not self._pending_events:
            return
        events, self._pending_events = self._pending_events, []
        for event in events:
            for listener in list(self._listeners):
                listener(event)
