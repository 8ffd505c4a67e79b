"""The desk bus's wire format and subjects.

Every message is one JSON object (orjson when installed, else the standard library) with a
``type``. Money and sizes travel as decimal strings and are parsed back to the exact Decimal;
a float, NaN, infinity, a negative size or a malformed level is refused (``WireError``).

Books: the collector numbers every update of one book (``seq``, from 1) within one run of the
collector (``epoch``, random per start). ``snapshot`` carries the whole top of the book;
``delta`` carries the levels that changed since the previous sequence number (size "0":
the level is gone). A consumer applies a delta only on top of ``seq - 1`` of the same epoch;
anything else is a gap, and the book is not live again until the next snapshot.

Subjects (a symbol becomes one subject token: ``BTC/USDT`` -> ``BTC-USDT``)::

    md.<venue>.<symbol>.book     snapshots (JetStream, last value per subject)
    md.<venue>.<symbol>.delta    deltas (core NATS)
    md.<venue>.<symbol>.trades   public trades (core NATS)
    md.<venue>.<symbol>.ticker   24 h figures (JetStream, last value)
    md.<venue>.health            the venue's health as the collector sees it (JetStream, last value)
    md.<venue>.markets           the venue's markets and their rules (JetStream, last value)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from aitbc_tui.domain import BookSnapshot, HealthStatus, Market, PriceLevel, Side, VenueError, VenueHealth
from aitbc_tui.market_data import Ticker24h, Trade

_orjson: Any
try:  # orjson is optional: several times faster than json for these small objects
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    _orjson = None

WIRE_VERSION = 1
STREAM = "AITBC_MD"  # the JetStream stream of last values
STREAM_SUBJECTS = ("md.*.*.book", "md.*.*.ticker", "md.*.health", "md.*.markets")
ALL_SUBJECTS = "md.>"

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SYMBOL_TOKEN_MAP = str.maketrans({"/": "-", ":": "_", ".": "_"})
KINDS = ("book", "delta", "trades", "ticker")


class WireError(VenueError):
    """A message from the bus that is refused; ``str()`` says why in one line."""


# ---- subjects ------------------------------------------------------------------------------


def venue_token(venue: str) -> str:
    if not _TOKEN_RE.match(venue):
        raise WireError(f"venue name {venue!r} cannot be a subject token (letters, digits, '-' and '_')")
    return venue


def symbol_token(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTC-USDT``; ``BTC/USDT:USDT`` -> ``BTC-USDT_USDT``. The message carries
    the real symbol, and a consumer checks it, so two symbols sharing a token cannot mix."""
    token = symbol.translate(_SYMBOL_TOKEN_MAP)
    if not _TOKEN_RE.match(token):
        raise WireError(f"symbol {symbol!r} cannot be a subject token")
    return token


def subject(venue: str, symbol: str, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    return f"md.{venue_token(venue)}.{symbol_token(symbol)}.{kind}"


def health_subject(venue: str) -> str:
    return f"md.{venue_token(venue)}.health"


def markets_subject(venue: str) -> str:
    return f"md.{venue_token(venue)}.markets"


# ---- encoding ------------------------------------------------------------------------------


def encode(message: Mapping[str, Any]) -> bytes:
    if _orjson is not None:
        return _orjson.dumps(message)
    return json.dumps(message, separators=(",", ":")).encode()


def decode(data: bytes | str) -> dict[str, Any]:
    try:
        obj = _orjson.loads(data) if _orjson is not None else json.loads(data)
    except ValueError as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WireError("a message must be a JSON object")
    if obj.get("v") != WIRE_VERSION:
        raise WireError(f"wire version {obj.get('v')!r} is not {WIRE_VERSION}")
    return obj


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _levels_out(levels: Iterable[PriceLevel]) -> list[list[str]]:
    return [[str(p), str(s)] for p, s in levels]


def parse_decimal(value: Any, what: str, *, allow_zero: bool = True) -> Decimal:
    if not isinstance(value, str):
        raise WireError(f"{what} must be a decimal string, got {type(value).__name__}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise WireError(f"{what} {value[:40]!r} is not a number") from None
    if not number.is_finite() or number < 0 or (number == 0 and not allow_zero):
        raise WireError(f"{what} {value[:40]!r} is not allowed")
    return number


def _opt_decimal(value: Any, what: str) -> Decimal | None:
    return None if value is None else parse_decimal(value, what)


def _levels_in(raw: Any, what: str, *, allow_zero: bool) -> list[PriceLevel]:
    if not isinstance(raw, list):
        raise WireError(f"{what} must be an array")
    levels: list[PriceLevel] = []
    for level in raw:
        if not isinstance(level, list) or len(level) != 2:
            raise WireError(f"{what}: a level is [price, size]")
        levels.append(
            (
                parse_decimal(level[0], f"{what} price", allow_zero=False),
                parse_decimal(level[1], f"{what} size", allow_zero=allow_zero),
            )
        )
    return levels


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise WireError(f"{key} must be a string")
    return value


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WireError(f"{key} must be a whole number >= 0")
    return value


def _float(obj: Mapping[str, Any], key: str, *, optional: bool = False) -> float | None:
    value = obj.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise WireError(f"{key} must be a number")
    return float(value)


# ---- books ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookMessage:
    """A snapshot (``bids``/``asks`` the whole top) or a delta (the changed levels, size 0 =
    removed) of one book, numbered ``seq`` within the collector run ``epoch``."""

    kind: str  # "snapshot" | "delta"
    venue: str
    symbol: str
    epoch: str
    seq: int
    timestamp: float  # the venue's update time (epoch seconds)
    sent: float  # when the collector published it (epoch seconds)
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]

    def to_bytes(self) -> bytes:
        return encode(
            {
                "v": WIRE_VERSION,
                "type": self.kind,
                "venue": self.venue,
                "symbol": self.symbol,
                "epoch": self.epoch,
                "seq": self.seq,
                "ts": self.timestamp,
                "sent": self.sent,
                "bids": _levels_out(self.bids),
                "asks": _levels_out(self.asks),
            }
        )


def parse_book(obj: Mapping[str, Any]) -> BookMessage:
    kind = obj.get("type")
    if kind not in ("snapshot", "delta"):
        raise WireError(f"not a book message: type {kind!r}")
    delta = kind == "delta"
    return BookMessage(
        kind=str(kind),
        venue=_str(obj, "venue"),
        symbol=_str(obj, "symbol"),
        epoch=_str(obj, "epoch"),
        seq=_int(obj, "seq"),
        timestamp=_float(obj, "ts") or 0.0,
        sent=_float(obj, "sent") or 0.0,
        bids=tuple(_levels_in(obj.get("bids"), "bids", allow_zero=delta)),
        asks=tuple(_levels_in(obj.get("asks"), "asks", allow_zero=delta)),
    )


def diff_levels(old: Sequence[PriceLevel], new: Sequence[PriceLevel]) -> tuple[PriceLevel, ...]:
    """The changes that turn side ``old`` into side ``new``: new or resized levels, and the
    prices no longer there with size 0."""
    before = dict(old)
    after = dict(new)
    changes = [(p, s) for p, s in new if before.get(p) != s]
    changes.extend((p, Decimal(0)) for p in before if p not in after)
    return tuple(changes)


class L2Book:
    """A consumer's copy of one book, rebuilt from a snapshot and kept by deltas."""

    __slots__ = ("venue", "symbol", "epoch", "seq", "timestamp", "sent", "_bids", "_asks")

    def __init__(self, snapshot: BookMessage) -> None:
        self.venue = snapshot.venue
        self.symbol = snapshot.symbol
        self.epoch = snapshot.epoch
        self.seq = snapshot.seq
        self.timestamp = snapshot.timestamp
        self.sent = snapshot.sent
        self._bids: dict[Decimal, Decimal] = dict(snapshot.bids)
        self._asks: dict[Decimal, Decimal] = dict(snapshot.asks)

    def follows(self, delta: BookMessage) -> bool:
        """True when ``delta`` is the very next update of this book (no gap, same run)."""
        return delta.epoch == self.epoch and delta.seq == self.seq + 1

    def apply(self, delta: BookMessage) -> None:
        for side, changes in ((self._bids, delta.bids), (self._asks, delta.asks)):
            for price, size in changes:
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
        self.seq = delta.seq
        self.timestamp = delta.timestamp
        self.sent = delta.sent

    def snapshot(self, depth: int | None = None) -> BookSnapshot:
        bids = sorted(self._bids.items(), reverse=True)
        asks = sorted(self._asks.items())
        if depth is not None:
            bids, asks = bids[:depth], asks[:depth]
        return BookSnapshot(self.venue, self.symbol, tuple(bids), tuple(asks), self.timestamp, self.seq)


# ---- trades, tickers, health, markets ------------------------------------------------------


def trades_bytes(venue: str, symbol: str, trades: Sequence[Trade], sent: float) -> bytes:
    return encode(
        {
            "v": WIRE_VERSION,
            "type": "trades",
            "venue": venue,
            "symbol": symbol,
            "sent": sent,
            "trades": [
                {"id": t.id, "time": t.time, "price": str(t.price), "amount": str(t.amount), "side": t.side.value}
                for t in trades
            ],
        }
    )


def parse_trades(obj: Mapping[str, Any]) -> list[Trade]:
    if obj.get("type") != "trades":
        raise WireError("not a trades message")
    venue, symbol = _str(obj, "venue"), _str(obj, "symbol")
    raw = obj.get("trades")
    if not isinstance(raw, list):
        raise WireError("trades must be an array")
    out: list[Trade] = []
    for t in raw:
        if not isinstance(t, dict):
            raise WireError("a trade must be an object")
        side = t.get("side")
        if side not in ("buy", "sell"):
            raise WireError(f"trade side {side!r} is not buy or sell")
        out.append(
            Trade(
                symbol=symbol,
                time=_float(t, "time") or 0.0,
                price=parse_decimal(t.get("price"), "trade price", allow_zero=False),
                amount=parse_decimal(t.get("amount"), "trade amount", allow_zero=False),
                side=Side(side),
                id=_str(t, "id"),
                venue=venue,
            )
        )
    return out


_TICKER_DECIMALS = ("last", "open", "high", "low", "bid", "ask", "last_amount")


def ticker_bytes(venue: str, ticker: Ticker24h, sent: float) -> bytes:
    body: dict[str, Any] = {"v": WIRE_VERSION, "type": "ticker", "venue": venue, "symbol": ticker.symbol, "sent": sent}
    for name in _TICKER_DECIMALS:
        body[name] = _dec(getattr(ticker, name))
    body.update(
        base_volume=str(ticker.base_volume),
        quote_volume=str(ticker.quote_volume),
        trades=ticker.trades,
        timestamp=ticker.timestamp,
        first_trade_id=ticker.first_trade_id,
        last_trade_id=ticker.last_trade_id,
    )
    return encode(body)


def parse_ticker(obj: Mapping[str, Any]) -> Ticker24h:
    if obj.get("type") != "ticker":
        raise WireError("not a ticker message")
    values = {name: _opt_decimal(obj.get(name), name) for name in _TICKER_DECIMALS}
    return Ticker24h(
        symbol=_str(obj, "symbol"),
        base_volume=parse_decimal(obj.get("base_volume"), "base_volume"),
        quote_volume=parse_decimal(obj.get("quote_volume"), "quote_volume"),
        trades=_int(obj, "trades"),
        timestamp=_float(obj, "timestamp") or 0.0,
        venue=_str(obj, "venue"),
        first_trade_id=str(obj.get("first_trade_id") or ""),
        last_trade_id=str(obj.get("last_trade_id") or ""),
        **values,
    )


def health_bytes(health: VenueHealth, sent: float, *, epoch: str) -> bytes:
    return encode(
        {
            "v": WIRE_VERSION,
            "type": "health",
            "venue": health.venue,
            "epoch": epoch,
            "sent": sent,
            "status": health.status.value,
            "latency_ms": health.latency_ms,
            "book_age_s": health.book_age_s,
            "last_error": health.last_error,
            "probe": health.probe,
            "stale_after_s": health.stale_after_s,
        }
    )


@dataclass(frozen=True, slots=True)
class CollectorHealth:
    """A venue's health as the collector sees it, and when the collector said so."""

    health: VenueHealth
    epoch: str
    sent: float


def parse_health(obj: Mapping[str, Any]) -> CollectorHealth:
    if obj.get("type") != "health":
        raise WireError("not a health message")
    status = obj.get("status")
    if status not in {s.value for s in HealthStatus}:
        raise WireError(f"health status {status!r} is not one of connected, degraded, down")
    health = VenueHealth(
        venue=_str(obj, "venue"),
        status=HealthStatus(status),
        latency_ms=_float(obj, "latency_ms", optional=True),
        book_age_s=_float(obj, "book_age_s", optional=True),
        last_error=str(obj.get("last_error") or ""),
        probe=str(obj.get("probe") or ""),
        stale_after_s=_float(obj, "stale_after_s") or 5.0,
    )
    return CollectorHealth(health, _str(obj, "epoch"), _float(obj, "sent") or 0.0)


_MARKET_DECIMALS = ("tick_size", "lot_size", "min_amount", "min_notional", "maker_fee", "taker_fee")


def markets_bytes(venue: str, markets: Mapping[str, Market], sent: float) -> bytes:
    return encode(
        {
            "v": WIRE_VERSION,
            "type": "markets",
            "venue": venue,
            "sent": sent,
            "markets": [
                {
                    "symbol": m.symbol,
                    "base": m.base,
                    "quote": m.quote,
                    **{k: str(getattr(m, k)) for k in _MARKET_DECIMALS},
                }
                for m in markets.values()
            ],
        }
    )


def parse_markets(obj: Mapping[str, Any]) -> dict[str, Market]:
    if obj.get("type") != "markets":
        raise WireError("not a markets message")
    raw = obj.get("markets")
    if not isinstance(raw, list):
        raise WireError("markets must be an array")
    out: dict[str, Market] = {}
    for m in raw:
        if not isinstance(m, dict):
            raise WireError("a market must be an object")
        market = Market(
            symbol=_str(m, "symbol"),
            base=_str(m, "base"),
            quote=_str(m, "quote"),
            **{k: parse_decimal(m.get(k), k, allow_zero=k not in ("tick_size", "lot_size")) for k in _MARKET_DECIMALS},
        )
        out[market.symbol] = market
    return out


__all__ = [
    "ALL_SUBJECTS",
    "BookMessage",
    "CollectorHealth",
    "L2Book",
    "STREAM",
    "STREAM_SUBJECTS",
    "WireError",
    "decode",
    "diff_levels",
    "encode",
    "health_subject",
    "markets_subject",
    "parse_book",
    "parse_health",
    "parse_markets",
    "parse_ticker",
    "parse_trades",
    "subject",
    "symbol_token",
]
