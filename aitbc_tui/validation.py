"""Order input: parse operator text exactly and check it against a market.

ccxt validates nothing (it sent negative amounts and orders below the minimum,
and its precision helpers round or truncate), so this module is the only guard
before an order reaches a venue. Rules:

* Numbers are parsed exactly (``Decimal`` of the typed ASCII text) and never
  rounded or truncated: a value off the tick/lot grid is an error whose message
  offers the nearest valid values below and above.
* Every field error is collected, so the form can show them all inline; checks
  that need a value (notional, balance) run only when their inputs parsed.
* Fees: a limit order is charged at ``max(maker, taker)`` because a limit that
  crosses the book pays taker; a market order at the taker rate. Fees are
  estimated in quote currency.
* Balance: a buy needs ``notional * (1 + fee rate)`` of free quote; a sell
  needs ``amount`` of free base (the venue takes the fee from the quote
  proceeds). A missing balance counts as zero.
* Market orders: the notional is estimated by walking the given snapshot (its
  visible levels only, so a thin snapshot is treated as a thin book and the
  order is refused rather than guessed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation, localcontext

from .analysis import walk_levels
from .domain import Balance, BookSnapshot, Market, OrderRequest, OrderType, Side

ZERO = Decimal(0)
ONE = Decimal(1)
MAX_DIGITS = 30  # more digits than any venue accepts; keeps exact arithmetic within precision

_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_EXPONENT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+")
_NAN = re.compile(r"[+-]?s?nan[0-9]*", re.IGNORECASE)
_INFINITY = re.compile(r"[+-]?inf(?:inity)?", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:[,_' \u00a0\u202f][0-9]{3})+(?:\.[0-9]*)?")


class ValidationError(Exception):
    """One rejected field. ``rule`` is a stable code, ``message`` is for the operator."""

    def __init__(self, field: str, message: str, rule: str = "") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.rule = rule

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidationError) and (self.field, self.message, self.rule) == (
            other.field,
            other.message,
            other.rule,
        )

    def __hash__(self) -> int:
        return hash((self.field, self.message, self.rule))

    def __repr__(self) -> str:
        return f"ValidationError({self.field!r}, {self.message!r}, rule={self.rule!r})"


def _plain(value: Decimal) -> str:
    """Decimal as positional text (no exponent), as an operator would type it."""
    return format(value, "f")


def _amount(value: Decimal) -> str:
    """A computed amount for a message: positional, without trailing zeros."""
    return format(value.normalize(), "f")


def parse_decimal(
    text: str | None,
    field: str,
    *,
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> Decimal:
    """Parse a typed number exactly; raise ValidationError naming the broken rule.

    Accepted: ASCII digits with at most one '.', surrounding whitespace, and a
    leading '-' only when ``allow_negative``. Rejected, each with its own rule:
    empty (``required``), non-ASCII digits (``ascii_digits``; Python's Decimal
    would accept '１' or '٣'), NaN (``nan``), infinity (``finite``), exponent
    notation (``exponent``), thousands separators (``separator``), a decimal
    comma (``decimal_point``), a '+' (``sign``), too many digits
    (``too_long``), anything else (``number``), and a disallowed '-' or zero
    unless ``allow_zero`` (``positive``).
    """
    raw = "" if text is None else text.strip()
    if not raw:
        raise ValidationError(field, f"{field} is required", "required")
    if any(not ch.isascii() and (ch.isdigit() or unicodedata.category(ch) == "Nd") for ch in raw):
        raise ValidationError(field, f"use ASCII digits 0-9 only (got {raw!r})", "ascii_digits")
    if _NAN.fullmatch(raw):
        raise ValidationError(field, "NaN is not a number: enter a value like 0.25", "nan")
    if _INFINITY.fullmatch(raw):
        raise ValidationError(field, "must be a finite number, not infinity", "finite")
    if _EXPONENT.fullmatch(raw):
        try:
            value = Decimal(raw)
            # "1e999999" would print a million digits; only suggest short values
            written = _plain(value) if abs(value.adjusted()) <= MAX_DIGITS else "the number in plain digits"
        except InvalidOperation:  # pragma: no cover - the regex only admits valid exponents
            written = "the number in plain digits"
        raise ValidationError(field, f"exponent notation is not accepted: write {written}", "exponent")
    if _GROUPED.fullmatch(raw):
        ungrouped = re.sub(r"[,_' \u00a0\u202f]", "", raw)
        raise ValidationError(field, f"no thousands separators: write {ungrouped}", "separator")
    if _DECIMAL_COMMA.fullmatch(raw):
        raise ValidationError(field, f"use '.' as the decimal point: {raw.replace(',', '.')}", "decimal_point")
    if not _PLAIN.fullmatch(raw):
        raise ValidationError(
            field, f"{raw!r} is not a number: use digits and one '.' for decimals, e.g. 0.25", "number"
        )
    if raw[0] == "+":
        raise ValidationError(field, f"write the number without a '+' sign: {raw[1:]}", "sign")
    if raw[0] == "-" and not allow_negative:
        raise ValidationError(field, f"{field} must be greater than 0", "positive")
    if sum(ch.isdigit() for ch in raw) > MAX_DIGITS:
        raise ValidationError(field, f"too many digits (at most {MAX_DIGITS})", "too_long")
    value = Decimal(raw)  # exact: the Decimal constructor never rounds
    if value == 0 and not allow_zero:
        raise ValidationError(field, f"{field} must be greater than 0", "positive")
    return value


def _grid_error(field: str, value: Decimal, step: Decimal, step_name: str, rule: str) -> ValidationError | None:
    """None if value is a multiple of step; else an error offering the neighbours."""
    step = step.normalize()  # 0.00010 -> 0.0001, so suggestions carry no stray zeros
    with localcontext() as ctx:
        ctx.prec = 2 * MAX_DIGITS + 10  # exact for any value parse_decimal admits
        steps = value / step
        below_n = steps.to_integral_value(rounding=ROUND_FLOOR)
        if steps == below_n:
            return None
        below = below_n * step
        above = below + step
    step_text = _plain(step)
    options = [_plain(x) for x in (below, above) if x > 0]
    use = " or ".join(options)
    is_power_of_ten = step.as_tuple().digits == (1,)
    if is_power_of_ten:
        message = f"{_plain(value)} has more decimals than the {step_name} {step_text} allows: use {use}"
    else:
        message = f"{_plain(value)} is not a multiple of the {step_name} {step_text}: use {use}"
    return ValidationError(field, message, rule)


@dataclass(frozen=True, slots=True)
class ValidatedOrder:
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal  # base, exactly as typed
    price: Decimal | None  # None for market orders
    notional: Decimal  # quote; for market orders estimated from the book
    fee: Decimal  # estimated, quote currency
    fee_rate: Decimal
    average_price: Decimal | None = None  # market orders: estimated average fill
    worst_price: Decimal | None = None  # market orders: the last level the walk touches
    limit_price: Decimal | None = None  # market orders: sent as an IOC limit here (the slippage cap)
    crosses: bool | None = None  # limit orders: takes liquidity now (True) or rests (False)

    def to_request(self, venue: str, client_order_id: str = "") -> OrderRequest:
        return OrderRequest(venue, self.symbol, self.side, self.type, self.amount, self.price, client_order_id)


def crosses(side: Side | str, price: Decimal | None, book: BookSnapshot | None) -> bool | None:
    """Whether a limit at ``price`` takes liquidity now (True), rests (False), or None (no book)."""
    if price is None or book is None:
        return None
    best = book.best_ask if Side(side) is Side.BUY else book.best_bid
    if best is None:
        return False
    return price >= best if Side(side) is Side.BUY else price <= best


def fee_rate(market: Market, order_type: OrderType | str, side: Side | str | None = None,
             price: Decimal | None = None, book: BookSnapshot | None = None) -> Decimal:  # fmt: skip
    """Taker for market orders; for a limit, maker when it rests and taker when it crosses
    the book given; the larger of the two when there is no book to tell."""
    if OrderType(order_type) is OrderType.MARKET:
        return market.taker_fee
    if side is not None:
        cross = crosses(side, price, book)
        if cross is not None:
            return market.taker_fee if cross else market.maker_fee
    return max(market.maker_fee, market.taker_fee)


def slippage_cap_price(market: Market, side: Side | str, book: BookSnapshot | None, cap_bps: Decimal) -> Decimal | None:
    """The worst price a market order may fill at: the touch moved by ``cap_bps``, on the tick grid."""
    if book is None:
        return None
    touch = book.best_ask if Side(side) is Side.BUY else book.best_bid
    if touch is None:
        return None
    factor = cap_bps / Decimal(10000)
    raw = touch * (1 + factor) if Side(side) is Side.BUY else touch * (1 - factor)
    steps = raw / market.tick_size
    steps = steps.to_integral_value(rounding="ROUND_FLOOR" if Side(side) is Side.BUY else "ROUND_CEILING")
    return steps * market.tick_size


def market_quote(market: Market, side: Side | str, amount: Decimal, book: BookSnapshot | None,
                 cap_price: Decimal | None):  # fmt: skip
    """Walk the book for a market order: (walk, problem). ``problem`` says why it cannot be
    sent within the cap (None: it can)."""
    walk = _walk_market(Side(side), amount, book)
    book_side = "asks" if Side(side) is Side.BUY else "bids"
    if walk is None:
        return None, f"no {book_side} in the book: a market {Side(side).value} cannot fill; use a limit order"
    if not walk.complete:
        return walk, (f"the visible book holds only {_amount(walk.filled)} {market.base} of {book_side}: "
                      "reduce the amount or use a limit order")  # fmt: skip
    if (
        cap_price is not None
        and walk.worst_price is not None
        and (walk.worst_price > cap_price if Side(side) is Side.BUY else walk.worst_price < cap_price)
    ):
        return walk, (f"filling {_plain(amount)} {market.base} needs prices up to {_plain(walk.worst_price)}, beyond "
                      f"the slippage cap {_plain(cap_price)} {market.quote} (risk.max_slippage_bps): reduce the amount "
                      "or use a limit order")  # fmt: skip
    return walk, None


def estimate(
    market: Market,
    side: Side | str,
    order_type: OrderType | str,
    amount: Decimal | None,
    price: Decimal | None,
    book: BookSnapshot | None,
) -> tuple[Decimal | None, Decimal | None]:
    """(notional, fee) in quote for the form as the operator types; None when unknown.

    Limit: price * amount. Market: walk the book's opposite side; None if the
    visible book cannot fill the whole amount.
    """
    if amount is None or amount <= 0:
        return None, None
    rate = fee_rate(market, order_type, side, price, book)
    if OrderType(order_type) is OrderType.LIMIT:
        if price is None:
            return None, None
        notional = price * amount
        return notional, notional * rate
    walk = _walk_market(Side(side), amount, book)
    if walk is None or not walk.complete:
        return None, None
    return walk.cost_quote, walk.cost_quote * rate


def _walk_market(side: Side, amount: Decimal, book: BookSnapshot | None):  # -> BookWalk | None
    if book is None:
        return None
    levels = book.asks if side is Side.BUY else book.bids
    if not levels:
        return None
    return walk_levels(levels, amount)


def _free(balances: Mapping[str, Balance], asset: str) -> Decimal:
    balance = balances.get(asset)
    return balance.free if balance is not None else ZERO


def validate_order(
    market: Market,
    side: Side | str,
    order_type: OrderType | str,
    amount_text: str | None,
    price_text: str | None,
    balances: Mapping[str, Balance],
    book: BookSnapshot | None = None,
    *,
    max_slippage_bps: Decimal | None = None,
) -> ValidatedOrder | list[ValidationError]:
    """Validate a form/CLI order. Returns the order, or every error found (never empty).

    ``price_text`` is ignored for market orders. With ``max_slippage_bps`` a market order
    must fill within that many bps of the touch (it is sent as an IOC limit there).
    """
    side = Side(side)
    order_type = OrderType(order_type)
    errors: list[ValidationError] = []

    amount: Decimal | None = None
    try:
        amount = parse_decimal(amount_text, "amount")
    except ValidationError as e:
        errors.append(e)

    price: Decimal | None = None
    if order_type is OrderType.LIMIT:
        try:
            price = parse_decimal(price_text, "price")
        except ValidationError as e:
            errors.append(e)

    if amount is not None:
        lot_error = _grid_error("amount", amount, market.lot_size, "lot size", "lot")
        if lot_error:
            errors.append(lot_error)
        if amount < market.min_amount:
            errors.append(
                ValidationError(
                    "amount",
                    f"{_plain(amount)} {market.base} is below the minimum amount "
                    f"{_plain(market.min_amount)} {market.base}",
                    "min_amount",
                )
            )
    if price is not None:
        tick_error = _grid_error("price", price, market.tick_size, "tick size", "tick")
        if tick_error:
            errors.append(tick_error)

    rate = fee_rate(market, order_type, side, price, book)
    notional: Decimal | None = None
    average: Decimal | None = None
    worst: Decimal | None = None
    cap: Decimal | None = None
    if amount is not None:
        if order_type is OrderType.LIMIT:
            if price is not None:
                notional = price * amount
        else:
            if max_slippage_bps is not None:
                cap = slippage_cap_price(market, side, book, max_slippage_bps)
            walk, problem = market_quote(market, side, amount, book, cap)
            if problem:
                errors.append(ValidationError("amount", problem, "liquidity"))
            else:
                notional = walk.cost_quote
                average = walk.average_price
                worst = walk.worst_price
    fee: Decimal | None = None
    if notional is not None:
        fee = notional * rate
        if notional < market.min_notional:
            errors.append(
                ValidationError(
                    "amount" if order_type is OrderType.MARKET else "notional",
                    f"order value {_amount(notional)} {market.quote} is below the minimum "
                    f"{_plain(market.min_notional)} {market.quote}",
                    "min_notional",
                )
            )
        if side is Side.BUY:
            # A capped market buy is held at its limit price by the venue until it fills.
            assert amount is not None  # notional is computed only for an amount
            needed = notional + fee if cap is None else cap * amount * (1 + rate)
            free = _free(balances, market.quote)
            if free < needed:
                errors.append(
                    ValidationError(
                        "amount",
                        f"needs {_amount(needed)} {market.quote} including the fee, "
                        f"only {_amount(free)} {market.quote} free",
                        "balance",
                    )
                )
    if side is Side.SELL and amount is not None:
        free = _free(balances, market.base)
        if free < amount:
            errors.append(
                ValidationError(
                    "amount",
                    f"needs {_plain(amount)} {market.base}, only {_amount(free)} {market.base} free",
                    "balance",
                )
            )

    if errors:
        return errors
    assert amount is not None and notional is not None and fee is not None
    return ValidatedOrder(
        symbol=market.symbol,
        side=side,
        type=order_type,
        amount=amount,
        price=price,
        notional=notional,
        fee=fee,
        fee_rate=rate,
        average_price=average,
        worst_price=worst,
        limit_price=cap,
        crosses=crosses(side, price, book) if order_type is OrderType.LIMIT else True,
    )


__all__ = [
    "ValidatedOrder",
    "crosses",
    "market_quote",
    "slippage_cap_price",
    "ValidationError",
    "estimate",
    "fee_rate",
    "parse_decimal",
    "validate_order",
]
