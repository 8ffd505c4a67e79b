"""Risk limits, checked before any order request leaves the process.

Three limits from ``[risk]`` in the config: the largest order value per venue (quote
currency), the most open orders across all venues, and a cap on the value traded per
UTC day. A breach raises ``RiskLimitBreached`` (an ``OrderRejected``) whose message
names the limit, its configured value and the value that breached it.

The daily traded value is read from the journal, so it survives restarts: every order
created since 00:00 UTC that was sent (or may have been) counts with its committed
value: resting or unresolved orders with their full amount, finished ones with what
filled. Only orders of the same mode count (a sandbox or paper order never counts toward a
live limit), and the daily cap applies per quote currency: USDT and BTC values are never
added together.

Nothing here imports textual or ccxt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Protocol, TypeVar

from aitbc_tui.config import RiskConfig
from aitbc_tui.domain import ZERO, OrderRejected, OrderRequest

# Journal states whose whole amount is committed (may still trade) vs. those that count
# only their filled part; rejected / not placed orders count nothing.
_COMMITTED = frozenset({"intent", "sent", "unknown", "open"})
_FILLED_ONLY = frozenset({"filled", "canceled"})


class RiskLimitBreached(OrderRejected):
    """An order was refused by a configured risk limit; str() names the limit."""

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        super().__init__(message)


def utc_day_start(now: float) -> float:
    """Epoch seconds of 00:00 UTC of the day containing ``now``."""
    day = datetime.fromtimestamp(now, tz=timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def order_value(amount: Decimal, price: Decimal | None) -> Decimal | None:
    return None if price is None else amount * price


class TradedOrder(Protocol):
    """What ``traded_value`` reads of an order (a ``JournalOrder``)."""

    @property
    def state(self) -> object: ...  # a JournalState or its string value
    @property
    def amount(self) -> Decimal: ...
    @property
    def filled(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...


_O = TypeVar("_O", bound=TradedOrder)


def traded_value(orders: Iterable[_O], price_of: Callable[[_O], Decimal | None]) -> Decimal:
    """Committed value of journal orders (``JournalOrder``-like: state, amount, filled, price).

    ``price_of(order)`` gives a price for orders without one (market orders): the fill
    price from the journal, else a current mark. An order with no price at all counts 0.
    """
    total = ZERO
    for order in orders:
        state = getattr(order.state, "value", order.state)
        if state in _COMMITTED:
            quantity = order.amount
        elif state in _FILLED_ONLY:
            quantity = order.filled
        else:
            continue
        if not quantity:
            continue
        price = order.price if order.price is not None else price_of(order)
        if price is not None:
            total += quantity * price
    return total


class RiskGate:
    """Checks one request against the configured limits."""

    def __init__(self, config: RiskConfig | None) -> None:
        self.config = config or RiskConfig()

    @property
    def enabled(self) -> bool:
        c = self.config
        return bool(c.max_order_value) or c.max_open_orders is not None or c.daily_traded_value is not None

    def check(
        self,
        request: OrderRequest,
        *,
        quote: str,
        reference_price: Decimal | None,
        open_orders: int,
        traded_today: Decimal,
        mode: str = "",
    ) -> Decimal | None:
        """Raise ``RiskLimitBreached`` if ``request`` breaks a limit; return its value.

        ``reference_price``: the limit price, or for a market order the price it would
        trade at (best opposite price); None when unknown (then a value limit refuses,
        since the value cannot be checked).
        """
        c = self.config
        price = request.price if request.price is not None else reference_price
        value = order_value(request.amount, price)
        max_value = c.max_order_value_for(request.venue)
        if max_value is not None or c.daily_traded_value is not None:
            if value is None:
                raise RiskLimitBreached(
                    "risk.max_order_value",
                    f"{request.venue}: order value cannot be computed (no price and no book), "
                    "so the configured risk limits cannot be checked",
                )
        # value is not None whenever a value limit is set (refused above otherwise).
        if max_value is not None and value is not None and value > max_value:
            raise RiskLimitBreached(
                "risk.max_order_value",
                f"{request.venue}: order value {_fmt(value)} {quote} exceeds risk.max_order_value."
                f"{request.venue} = {_fmt(max_value)} {quote}",
            )
        if c.max_open_orders is not None and open_orders + 1 > c.max_open_orders:
            raise RiskLimitBreached(
                "risk.max_open_orders",
                f"{open_orders} {mode + ' ' if mode else ''}orders are open; one more exceeds "
                f"risk.max_open_orders = {c.max_open_orders}",
            )
        if c.daily_traded_value is not None and value is not None and traded_today + value > c.daily_traded_value:
            raise RiskLimitBreached(
                "risk.daily_traded_value",
                f"{mode + ' ' if mode else ''}{quote} traded today (UTC) {_fmt(traded_today)} + this order "
                f"{_fmt(value)} {quote} = {_fmt(traded_today + value)} {quote} exceeds "
                f"risk.daily_traded_value = {_fmt(c.daily_traded_value)} (per quote currency)",
            )
        return value


def _fmt(value: Decimal) -> str:
    """Readable money: at most 8 places, no exponent, trailing zeros dropped."""
    exponent = value.as_tuple().exponent  # a str for NaN and infinity
    text = f"{value.quantize(Decimal('0.00000001')) if isinstance(exponent, int) and exponent < -8 else value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


__all__ = ["RiskGate", "RiskLimitBreached", "traded_value", "utc_day_start"]
