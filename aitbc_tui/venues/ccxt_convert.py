"""The ccxt edge: ccxt's structures (markets, orders, books, error text) as domain values.

Every float ccxt hands back becomes ``Decimal(str(x))`` here. Nothing here imports ccxt
(or textual): these are plain functions over ccxt's unified dicts and strings.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, overload

from aitbc_tui.domain import (
    ZERO,
    BookSnapshot,
    Market,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Transfer,
)


def transfer_from_ccxt(venue: str, t: Mapping[str, Any]) -> Transfer | None:
    """ccxt's transaction structure as a Transfer (None for one that is neither a deposit nor
    a withdrawal, or has no amount). Its time is ccxt's ``timestamp`` (when the venue created
    it: what its ``since`` filters on); ``status`` is ccxt's ('ok', 'pending', 'failed',
    'canceled'); the fee counts only in the same currency."""
    kind = t.get("type")
    amount = to_decimal(t.get("amount"))
    if kind not in ("deposit", "withdrawal") or amount is None:
        return None
    fee_info = t.get("fee") or {}
    fee = to_decimal(fee_info.get("cost"), ZERO) if fee_info.get("currency") in (None, t.get("currency")) else ZERO
    signed = abs(amount) if kind == "deposit" else -abs(amount)
    return Transfer(venue, str(t.get("currency") or ""), signed, (t.get("timestamp") or 0) / 1000,
                    str(t.get("id") or t.get("txid") or ""), str(t.get("status") or ""), fee)  # fmt: skip


# ccxt's precisionMode constants (ccxt.base.decimal_to_precision), copied to avoid the import.
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4


@overload
def to_decimal(value: Any, default: Decimal) -> Decimal: ...
@overload
def to_decimal(value: Any, default: None = None) -> Decimal | None: ...
def to_decimal(value: Any, default: Decimal | None = None) -> Decimal | None:
    """A ccxt number (float, int or string) as Decimal, via its shortest repr."""
    if value is None or value == "":
        return default
    if isinstance(value, Decimal):
        return value
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    return number if number.is_finite() else default


def _precision_step(value: Any, precision_mode: int) -> Decimal | None:
    if value is None:
        return None
    if precision_mode == TICK_SIZE:
        return to_decimal(value)
    # DECIMAL_PLACES (and, approximately, SIGNIFICANT_DIGITS): a count of digits.
    try:
        return Decimal(1).scaleb(-int(value))
    except (TypeError, ValueError):
        return None


def market_from_ccxt(m: Mapping[str, Any], precision_mode: int, fees: Mapping[str, Any] | None = None) -> Market:
    """A ccxt market structure as a domain Market."""
    precision = m.get("precision") or {}
    limits = m.get("limits") or {}
    tick = _precision_step(precision.get("price"), precision_mode) or Decimal("0.00000001")
    lot = _precision_step(precision.get("amount"), precision_mode) or Decimal("0.00000001")
    trading = (fees or {}).get("trading") or {}
    maker = to_decimal(m.get("maker"), None)
    taker = to_decimal(m.get("taker"), None)
    return Market(
        symbol=m["symbol"],
        base=m["base"],
        quote=m["quote"],
        tick_size=tick,
        lot_size=lot,
        min_amount=to_decimal((limits.get("amount") or {}).get("min"), None) or lot,
        min_notional=to_decimal((limits.get("cost") or {}).get("min"), ZERO) or ZERO,
        maker_fee=maker if maker is not None else to_decimal(trading.get("maker"), ZERO),
        taker_fee=taker if taker is not None else to_decimal(trading.get("taker"), ZERO),
    )


_STATUS = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}


def order_from_ccxt(venue: str, o: Mapping[str, Any], request: OrderRequest | None = None) -> Order:
    """A ccxt order structure as a domain Order; ``request`` fills what a terse ack omits."""
    now = time.time()
    amount = to_decimal(o.get("amount")) or (request.amount if request else ZERO)
    filled = to_decimal(o.get("filled"), ZERO) or ZERO
    status = _STATUS.get(str(o.get("status") or "").lower())
    if status is None:
        status = OrderStatus.OPEN if request is not None else OrderStatus.UNKNOWN
    if status is OrderStatus.CANCELED and amount and filled >= amount:
        status = OrderStatus.FILLED
    fee = ZERO
    fee_currency = ""
    fees = [f for f in (o.get("fees") or []) if f] or ([o["fee"]] if o.get("fee") else [])
    for f in fees:
        cost = to_decimal(f.get("cost"), ZERO) or ZERO
        if cost:
            fee += cost
            fee_currency = fee_currency or (f.get("currency") or "")
    side_value = o.get("side") or (request.side.value if request else "buy")
    type_value = str(o.get("type") or (request.type.value if request else "limit")).lower()
    order_type = OrderType.MARKET if type_value == "market" else OrderType.LIMIT
    price = to_decimal(o.get("price"))
    if price is None and request is not None:
        price = request.price
    if order_type is OrderType.MARKET and status is not OrderStatus.FILLED and price == ZERO:
        price = None
    created = o.get("timestamp")
    updated = o.get("lastUpdateTimestamp") or o.get("lastTradeTimestamp") or created
    average = to_decimal(o.get("average"))
    if average is None and filled > 0:
        # Some venues' order views carry the executed cost but no average (kraken's ack and
        # its executions): the fill price is cost / filled, not the limit price.
        executed = to_decimal(o.get("cost"))
        if executed is not None and executed > 0:
            average = executed / filled
    return Order(
        venue=venue,
        id=str(o.get("id") or ""),
        client_order_id=str(o.get("clientOrderId") or (request.client_order_id if request else "") or ""),
        symbol=str(o.get("symbol") or (request.symbol if request else "")),
        side=Side(str(side_value).lower()),
        type=order_type,
        price=price,
        amount=amount,
        filled=filled,
        status=status,
        created_at=created / 1000 if created else now,
        updated_at=updated / 1000 if updated else now,
        average_price=average,
        fee=fee,
        fee_currency=fee_currency,
        message=str(o.get("status") or "") if status is OrderStatus.REJECTED else "",
        time_in_force=_TIF.get(
            str(o.get("timeInForce") or "").upper(), request.time_in_force if request else TimeInForce.GTC
        ),
        post_only=bool(o.get("postOnly")) or bool(request and request.post_only),
        last_fill_at=(o["lastTradeTimestamp"] / 1000) if o.get("lastTradeTimestamp") else None,
    )


_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "PO": TimeInForce.GTC}


def book_from_ccxt(venue: str, symbol: str, ob: Mapping[str, Any], depth: int, sequence: int) -> BookSnapshot:
    """ccxt's unified book as a checked BookSnapshot; a level that is not two finite numbers
    (a string, None, 1e400, NaN) or a book no market can have raises ``BadData``."""
    from aitbc_tui.sanitize import BadData, check_book, plain_text

    def _short_repr(value: Any) -> str:
        return plain_text(repr(value), 40)

    def number(value: Any, where: str) -> Decimal:
        # ccxt's unified levels are floats or ints (NaN and inf are left to check_book);
        # a string, None or a bool is not a market.
        if type(value) is float:
            return Decimal(repr(value))
        if type(value) is int:
            return Decimal(value)
        raise BadData(f"{where} is {_short_repr(value)}, not a number", venue=venue, symbol=symbol)

    def levels(side: Any, name: str) -> tuple[tuple[Decimal, Decimal], ...]:
        if not isinstance(side, Sequence) or isinstance(side, (str, bytes)):
            raise BadData(f"{name}s are {_short_repr(side)}, not a list of levels", venue=venue, symbol=symbol)
        out = []
        for index, level in enumerate(side[:depth], 1):
            if not isinstance(level, Sequence) or isinstance(level, (str, bytes)) or len(level) < 2:
                raise BadData(f"{name} {index} is {_short_repr(level)}, not [price, size]", venue=venue, symbol=symbol)
            out.append((number(level[0], f"{name} {index} price"), number(level[1], f"{name} {index} size")))
        return tuple(out)

    raw_timestamp = ob.get("timestamp")
    nonce = ob.get("nonce")
    # type() rather than isinstance: a bool is not a timestamp.
    is_number = type(raw_timestamp) is int or type(raw_timestamp) is float
    timestamp = raw_timestamp if is_number and raw_timestamp is not None and 0 < raw_timestamp < 1e14 else None
    return check_book(
        BookSnapshot(
            venue=venue,
            symbol=symbol,
            bids=levels(ob.get("bids") or (), "bid"),
            asks=levels(ob.get("asks") or (), "ask"),
            timestamp=timestamp / 1000 if timestamp else time.time(),
            sequence=int(nonce) if isinstance(nonce, int) else sequence,
        )
    )


def _is_clock_skew(text: str) -> bool:
    """Binance -1021 (timestamp outside recvWindow or ahead of the server), which ccxt
    raises as InvalidNonce, like Kraken's unrelated 'EAPI:Invalid nonce'."""
    lowered = text.lower()
    return "-1021" in lowered or "recvwindow" in lowered or "ahead of the server" in lowered


# A URL's query string (ccxt puts timestamp and signature there), and a credential-like
# field anywhere (a form body, a header dump, JSON): only method, host and path are kept.
_URL_QUERY = re.compile(r"((?:https?|wss?)://[^\s?#\"']*)[?#][^\s\"']*", re.IGNORECASE)
_SECRET_FIELD = re.compile(
    r"""(["']?\b(?:signature|api[-_]?key|x-mbx-apikey|api-sign|cb-access-(?:key|sign|passphrase)|"""
    r"""passphrase|secret|(?:access[-_]|listen[-_])?token|authorization)\b["']?\s*[=:]\s*)"""
    r"""(?:bearer\s+)?["']?[^\s&"',;}]+["']?""",
    re.IGNORECASE,
)


def redact_error_text(text: str) -> str:
    """Error text fit for the operator and the logs: no query strings (ccxt's signed URL
    ``DELETE http://host/api/v3/order?...&signature=...`` keeps ``DELETE http://host/api/v3/order``)
    and no value of a signature, API key, token or passphrase field."""
    return _SECRET_FIELD.sub(r"\1****", _URL_QUERY.sub(r"\1", text))


def readable_error(venue: str, exchange_id: str, text: str) -> str:
    """ccxt's ``binance {"code":-2010,"msg":"..."}`` as ``binance: ... (code -2010)``, with
    query strings and credentials removed (``redact_error_text``)."""
    body = redact_error_text(text).strip()
    for prefix in (exchange_id + " ", venue + " "):
        if body.startswith(prefix):
            body = body[len(prefix) :].strip()
            break
    code: Any = None
    message = body
    start = body.find("{")
    if start >= 0:
        try:
            data = json.loads(body[start:])
        except ValueError:
            data = None
        if isinstance(data, dict):
            inner: dict[str, Any] = data["error_response"] if isinstance(data.get("error_response"), dict) else data
            code = inner.get("code", inner.get("error_code"))
            parts: list[str] = []
            for field in ("msg", "message", "error_description", "preview_failure_reason", "failure_reason"):
                value = inner.get(field)
                if isinstance(value, str) and value and value not in parts:
                    parts.append(value)
            error = inner.get("error")
            if isinstance(error, list):
                parts.extend(str(e) for e in error if e)
            elif isinstance(error, str) and error and not parts:
                parts.append(error)
            if parts:
                prefix = body[:start].strip()
                message = "; ".join(parts)
                if prefix and not prefix.startswith(("GET", "POST", "DELETE", "PUT")):
                    message = f"{prefix} {message}"
    text = f"{venue}: {message}"
    if code not in (None, "", 0):
        text += f" (code {code})"
    return text
