"""Domain types: frozen dataclasses, money as Decimal.

Nothing here imports textual or ccxt. Every layer above speaks these types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)

PriceLevel = tuple[Decimal, Decimal]  # (price, size)


class Mode(str, enum.Enum):
    SANDBOX = "sandbox"
    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"
    FEED = "feed"  # market data from the desk bus; watch-only unless it names a venue to trade on


class Side(str, enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(str, enum.Enum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(str, enum.Enum):
    GTC = "gtc"  # good till cancelled: the remainder rests
    IOC = "ioc"  # immediate or cancel: fill what crosses now, cancel the rest
    FOK = "fok"  # fill or kill: all of it now, or nothing


class OrderStatus(str, enum.Enum):
    PENDING = "pending"  # intent recorded, not yet acknowledged by the venue
    OPEN = "open"  # resting, possibly partially filled
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # sent, outcome not known (timeout): look it up before resending

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED)


class HealthStatus(str, enum.Enum):
    CONNECTED = "connected"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Market:
    """A venue's trading rules for one symbol."""

    symbol: str  # "BTC/USDT"
    base: str
    quote: str
    tick_size: Decimal  # price increment
    lot_size: Decimal  # amount increment
    min_amount: Decimal  # smallest amount (base)
    min_notional: Decimal  # smallest price*amount (quote)
    maker_fee: Decimal  # rate, 0.001 = 0.1 %
    taker_fee: Decimal


@dataclass(frozen=True, slots=True)
class OrderRequest:
    venue: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None = None  # None for market orders
    client_order_id: str = ""
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False  # refused by the venue if it would take liquidity
    group_id: str = ""  # orders sent together (an arbitrage's legs)


@dataclass(frozen=True, slots=True)
class Order:
    venue: str
    id: str  # venue order id
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    amount: Decimal
    filled: Decimal
    status: OrderStatus
    created_at: float  # epoch seconds
    updated_at: float
    average_price: Decimal | None = None
    fee: Decimal = ZERO
    fee_currency: str = ""
    message: str = ""  # reject reason or last venue message
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    last_fill_at: float | None = None  # epoch seconds of the newest fill
    liquidity: str = ""  # "maker", "taker", "mixed" or "" (not known)

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled


@dataclass(frozen=True, slots=True)
class Fill:
    venue: str
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: float
    is_maker: bool
    trade_id: str = ""  # the venue's trade id: fills are deduplicated by it


@dataclass(frozen=True, slots=True)
class Transfer:
    """A deposit or withdrawal the venue reports (not a trade): it changes a balance and the
    position of that asset, never the P&L (see ``pnl``)."""

    venue: str
    asset: str
    amount: Decimal  # signed: positive a deposit, negative a withdrawal (before ``fee``)
    time: float  # epoch seconds: when the venue created it (ccxt's timestamp; what its since filters on)
    id: str  # the venue's id: transfers are deduplicated by (venue, id)
    status: str = "ok"  # "ok" (completed), "pending", "failed", "canceled": only "ok" counts
    fee: Decimal = ZERO  # in ``asset``, charged on top of a withdrawal's amount
    # The venue's own price of ``asset`` in ``price_quote`` at the transfer, where it states one
    # (the sandbox records its price at the start funding): the transfer's cost before any other.
    price: Decimal | None = None
    price_quote: str = ""

    @property
    def kind(self) -> str:
        return "deposit" if self.amount > 0 else "withdrawal"

    @property
    def completed(self) -> bool:
        return self.status == "ok"

    @property
    def change(self) -> Decimal:
        """What the account's ``asset`` balance moved by: a withdrawal's fee leaves it too."""
        return self.amount - self.fee if self.amount < 0 else self.amount


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    used: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Top levels of one venue's order book, best first on each side."""

    venue: str
    symbol: str
    bids: tuple[PriceLevel, ...]  # descending price
    asks: tuple[PriceLevel, ...]  # ascending price
    timestamp: float  # epoch seconds of the venue update
    sequence: int = 0

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2


@dataclass(frozen=True, slots=True)
class VenueHealth:
    venue: str
    status: HealthStatus
    latency_ms: float | None  # round trip of the venue's lightweight request
    book_age_s: float | None  # seconds since the newest book update from this venue
    last_error: str = ""
    latency_history_ms: tuple[float, ...] = field(default_factory=tuple)
    probe: str = ""  # what latency measures, e.g. "GET /api/v3/time"
    stale_after_s: float = 5.0  # a book older than this is stale: from the venue's own cadence


# ---- errors a venue raises; messages are for the operator -----------------------


class VenueError(Exception):
    """Base of every error a venue reports; str() is readable by an operator."""


class OrderRejected(VenueError):
    pass


class InsufficientFunds(OrderRejected):
    pass


class OrderNotFound(VenueError):
    pass


class VenueUnavailable(VenueError):
    """Network or service failure: the outcome of a request is unknown."""


class FeatureUnavailable(VenueError):
    pass
