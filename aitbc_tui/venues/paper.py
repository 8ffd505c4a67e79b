"""Paper trading: a real venue's public feed (a ``CcxtVenue``) with orders filled locally."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from aitbc_tui.domain import (
    ZERO,
    Balance,
    BookSnapshot,
    InsufficientFunds,
    Market,
    Mode,
    Order,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Transfer,
    VenueError,
)

if TYPE_CHECKING:
    from aitbc_tui.venues.ccxt_venue import CcxtVenue

PAPER_QUOTE_BALANCE = Decimal("100000")
PAPER_BASE_VALUE = Decimal("10000")  # each base asset starts worth about this much quote
# Same starting balances as the sandbox operator, where the asset is known there.
PAPER_KNOWN_BASE = {"BTC": Decimal("2"), "ETH": Decimal("30")}


class PaperVenue:
    """A real venue's public feed with orders filled locally against its live book.

    Market data (markets, books, ping) comes from the wrapped ``CcxtVenue``; orders,
    balances and history live in memory here and are lost on exit. Taker fills walk the
    opposite side of the newest book; a resting limit fills as maker (at its own price)
    when a later book crosses it, for at most the size shown at crossing levels. The starting
    balances are its deposits (``fetch_transfers``), so the starting coins have a cost basis.
    """

    def __init__(self, inner: CcxtVenue, *, balances: Mapping[str, Decimal] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.exchange_id = inner.exchange_id  # client order ids in the venue's format
        self.read_only = inner.config.read_only
        self.mode = Mode.PAPER
        self.probe = inner.probe
        self._free: dict[str, Decimal] = dict(balances or {})
        self._used: dict[str, Decimal] = {}
        self._funded = balances is not None
        self._transfers: list[Transfer] = []
        if self._funded:
            self._record_funding()
        self._open: dict[str, Order] = {}
        self._closed: list[Order] = []
        self._reserved: dict[str, tuple[str, Decimal]] = {}  # order id -> (asset, amount)
        self._next_id = 0
        self._markets: dict[str, Market] = {}

    def __repr__(self) -> str:
        return f"PaperVenue(name={self.name!r}, exchange={self.inner.exchange_id!r})"

    async def start(self) -> None:
        await self.inner.start()
        await self.load_markets()

    async def close(self) -> None:
        await self.inner.close()

    async def load_markets(self) -> Mapping[str, Market]:
        self._markets = dict(await self.inner.load_markets())
        return dict(self._markets)

    async def watch_order_book(self, symbol: str, depth: int) -> BookSnapshot:
        snapshot = await self.inner.watch_order_book(symbol, depth)
        self._fill_resting(snapshot)
        return snapshot

    async def ping(self) -> float:
        return await self.inner.ping()

    # ---- balances

    async def _fund(self) -> None:
        """Start like the sandbox: 100,000 of each quote asset and a few of each base asset."""
        if self._funded:
            return
        markets = self._markets or dict(await self.inner.load_markets())
        for market in markets.values():
            self._free.setdefault(market.quote, PAPER_QUOTE_BALANCE)
        for market in markets.values():
            if market.base in self._free:
                continue
            amount = PAPER_KNOWN_BASE.get(market.base)
            if amount is None:
                book = self.inner.last_book(market.symbol)
                if book is None:
                    try:
                        book = await self.inner._poll_rest(market.symbol, 5, respect_cadence=False)
                    except VenueError:
                        book = None
                mid = book.mid if book is not None else None
                amount = (PAPER_BASE_VALUE / mid).quantize(market.lot_size) if mid else ZERO
            self._free[market.base] = amount
        self._funded = True
        self._record_funding()

    def _record_funding(self) -> None:
        now = time.time()
        self._transfers = [Transfer(self.name, asset, amount, now, f"paper-start-{asset}")
                           for asset, amount in sorted(self._free.items()) if amount > 0]  # fmt: skip

    async def fetch_transfers(self, since: float | None = None) -> Sequence[Transfer]:
        """The starting balances, as deposits when the paper account was funded."""
        await self._fund()
        return [t for t in self._transfers if since is None or t.time >= since]

    async def fetch_balances(self) -> Mapping[str, Balance]:
        await self._fund()
        assets = set(self._free) | set(self._used)
        return {a: Balance(asset=a, free=self._free.get(a, ZERO), used=self._used.get(a, ZERO)) for a in sorted(assets)}

    def _move(self, asset: str, free_delta: Decimal, used_delta: Decimal = ZERO) -> None:
        self._free[asset] = self._free.get(asset, ZERO) + free_delta
        self._used[asset] = self._used.get(asset, ZERO) + used_delta

    # ---- orders

    async def fetch_open_orders(self) -> Sequence[Order]:
        return list(self._open.values())

    async def fetch_closed_orders(self, limit: int = 100) -> Sequence[Order]:
        return list(reversed(self._closed[-limit:]))

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None:
        for order in list(self._open.values()) + list(reversed(self._closed)):
            if order.client_order_id == client_order_id and order.symbol == symbol:
                return order
        return None

    async def place_order(self, request: OrderRequest) -> Order:
        await self._fund()
        market = self._markets.get(request.symbol)
        if market is None:
            raise OrderRejected(f"{self.name}: {request.symbol} is not a configured symbol")
        if request.amount <= 0 or not request.amount.is_finite():
            raise OrderRejected(f"{self.name}: amount must be greater than 0")
        if request.amount < market.min_amount:
            raise OrderRejected(f"{self.name}: amount {request.amount} is below the minimum {market.min_amount}")
        if request.type is OrderType.LIMIT and (request.price is None or request.price <= 0):
            raise OrderRejected(f"{self.name}: a limit order needs a price greater than 0")
        if request.client_order_id and any(o.client_order_id == request.client_order_id for o in self._open.values()):
            raise OrderRejected(f"{self.name}: client order id {request.client_order_id!r} is already in use")
        book = self.inner.last_book(request.symbol)
        if book is None or time.time() - book.timestamp > 30:
            book = await self.inner._poll_rest(request.symbol, 50, respect_cadence=False)
        reference = (
            request.price
            if request.type is OrderType.LIMIT
            else (book.best_ask if request.side is Side.BUY else book.best_bid)
        )
        if reference is None:
            raise OrderRejected(f"{self.name}: the {request.symbol} book is empty; cannot price a market order")
        if market.min_notional and reference * request.amount < market.min_notional:
            raise OrderRejected(
                f"{self.name}: order value {reference * request.amount} is below the minimum {market.min_notional} {market.quote}"
            )
        limit = request.price if request.type is OrderType.LIMIT else None
        levels = book.asks if request.side is Side.BUY else book.bids
        tif = request.time_in_force
        if request.post_only:
            if limit is None:
                raise OrderRejected(f"{self.name}: post-only needs a limit order (paper)")
            best = levels[0][0] if levels else None
            if best is not None and (limit >= best if request.side is Side.BUY else limit <= best):
                raise OrderRejected(
                    f"{self.name}: post-only {request.side.value} at {limit} would take liquidity (paper)"
                )
        fills = self._walk(levels, request.side, request.amount, limit)
        taker_qty = sum((q for _, q in fills), ZERO)
        if tif is TimeInForce.FOK and taker_qty < request.amount:
            fills, taker_qty = [], ZERO  # fill or kill: all now, or nothing
        taker_cost = sum((p * q for p, q in fills), ZERO)
        taker_fee = taker_cost * market.taker_fee
        # Only a GTC limit rests; an IOC or FOK remainder expires, as at the venue.
        rest_qty = request.amount - taker_qty if request.type is OrderType.LIMIT and tif is TimeInForce.GTC else ZERO
        # Funds check before anything moves.
        if request.side is Side.BUY:
            needed = taker_cost + taker_fee
            if rest_qty:
                assert limit is not None  # only a limit order rests
                needed += limit * rest_qty * (1 + max(market.maker_fee, market.taker_fee))
            if needed > self._free.get(market.quote, ZERO):
                raise InsufficientFunds(
                    f"{self.name}: needs {needed.normalize():f} {market.quote}, "
                    f"{self._free.get(market.quote, ZERO).normalize():f} free (paper)"
                )
        elif request.amount > self._free.get(market.base, ZERO):
            raise InsufficientFunds(
                f"{self.name}: needs {request.amount} {market.base}, {self._free.get(market.base, ZERO)} free (paper)"
            )
        self._next_id += 1
        order_id = f"paper-{self._next_id}"
        now = time.time()
        if request.side is Side.BUY:
            self._move(market.quote, -(taker_cost + taker_fee))
            self._move(market.base, taker_qty)
        else:
            self._move(market.base, -taker_qty)
            self._move(market.quote, taker_cost - taker_fee)
        if rest_qty > 0:
            status = OrderStatus.OPEN
        elif taker_qty >= request.amount:
            status = OrderStatus.FILLED
        else:
            status = OrderStatus.CANCELED  # a market order larger than the visible book
        order = Order(
            venue=self.name,
            id=order_id,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            price=request.price,
            amount=request.amount,
            filled=taker_qty,
            status=status,
            created_at=now,
            updated_at=now,
            average_price=(taker_cost / taker_qty) if taker_qty else None,
            fee=taker_fee,
            fee_currency=market.quote if taker_fee else "",
            message=(
                ""
                if status is not OrderStatus.CANCELED
                else f"unfilled remainder expired: {tif.value.upper()}"
                if tif is not TimeInForce.GTC
                else "not enough liquidity in the book: rest expired"
            ),
            time_in_force=tif,
            post_only=request.post_only,
            last_fill_at=now if taker_qty else None,
            liquidity="taker" if taker_qty else "",
        )
        if status is OrderStatus.OPEN:
            if request.side is Side.BUY:
                assert limit is not None  # only a limit order rests
                reserve = (limit * rest_qty * (1 + max(market.maker_fee, market.taker_fee)), market.quote)
            else:
                reserve = (rest_qty, market.base)
            self._reserved[order_id] = (reserve[1], reserve[0])
            self._move(reserve[1], -reserve[0], reserve[0])
            self._open[order_id] = order
        else:
            self._closed.append(order)
        return order

    @staticmethod
    def _walk(
        levels: Sequence[tuple[Decimal, Decimal]], side: Side, amount: Decimal, limit: Decimal | None
    ) -> list[tuple[Decimal, Decimal]]:
        fills = []
        left = amount
        for price, size in levels:
            if left <= 0:
                break
            if limit is not None and (price > limit if side is Side.BUY else price < limit):
                break
            qty = min(left, size)
            fills.append((price, qty))
            left -= qty
        return fills

    def _fill_resting(self, book: BookSnapshot) -> None:
        for order_id, order in list(self._open.items()):
            if order.symbol != book.symbol or order.price is None:
                continue
            market = self._markets.get(order.symbol)
            if market is None:
                continue
            levels = book.asks if order.side is Side.BUY else book.bids
            available = sum((q for p, q in self._walk(levels, order.side, order.remaining, order.price)), ZERO)
            if available <= 0:
                continue
            qty = min(available, order.remaining)
            cost = order.price * qty
            fee = cost * market.maker_fee
            asset, reserved = self._reserved[order_id]
            if order.side is Side.BUY:
                release = min(reserved, cost * (1 + max(market.maker_fee, market.taker_fee)))
                self._move(market.quote, release - cost - fee, -release)
                self._move(market.base, qty)
            else:
                release = qty
                self._move(market.base, ZERO, -qty)
                self._move(market.quote, cost - fee)
            self._reserved[order_id] = (asset, reserved - release)
            filled = order.filled + qty
            average = ((order.average_price or ZERO) * order.filled + cost) / filled
            order = replace(
                order,
                filled=filled,
                average_price=average,
                fee=order.fee + fee,
                fee_currency=market.quote,
                updated_at=time.time(),
                status=OrderStatus.FILLED if filled >= order.amount else OrderStatus.OPEN,
            )
            if order.status is OrderStatus.FILLED:
                self._close(order_id, order)
            else:
                self._open[order_id] = order

    def _close(self, order_id: str, order: Order) -> None:
        self._open.pop(order_id, None)
        asset, left = self._reserved.pop(order_id, ("", ZERO))
        if asset and left:
            self._move(asset, left, -left)
        self._closed.append(order)

    async def cancel_order(self, order_id: str, symbol: str) -> Order:
        order = self._open.get(order_id)
        if order is None:
            raise OrderNotFound(f"{self.name}: no open paper order {order_id}")
        order = replace(order, status=OrderStatus.CANCELED, updated_at=time.time())
        self._close(order_id, order)
        return order

    # ---- public market data: the real venue's (paper fills are local, so not on its tape)

    async def fetch_trades(self, symbol: str, limit: int = 100, since: float | None = None):
        return await self.inner.fetch_trades(symbol, limit=limit, since=since)

    async def watch_trades(self, symbol: str):
        return await self.inner.watch_trades(symbol)

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", limit: int = 100, since: float | None = None):
        return await self.inner.fetch_ohlcv(symbol, timeframe=timeframe, limit=limit, since=since)

    async def fetch_tickers(self, symbols=None):
        return await self.inner.fetch_tickers(symbols)
