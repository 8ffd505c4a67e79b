"""The one venue protocol: the simulated venue and the ccxt venue implement it.

The service drives venues only through this interface, so every pane and test
works on either. All methods are coroutines; errors are ``domain.VenueError``
subclasses with operator-readable messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aitbc_tui.domain import Balance, BookSnapshot, FeatureUnavailable, Market, Mode, Order, OrderRequest, Transfer

if TYPE_CHECKING:
    from aitbc_tui.market_data import Candle, Ticker24h, Trade


@runtime_checkable
class Venue(Protocol):
    name: str  # as shown and typed: "binance"
    mode: Mode
    probe: str  # what ping() measures, shown in the health pane

    async def start(self) -> None:
        """Connect / start background work. Called once before anything else."""

    async def close(self) -> None:
        """Stop background work and release connections."""

    async def load_markets(self) -> Mapping[str, Market]:
        """Symbols this venue trades, with their rules."""

    async def watch_order_book(self, symbol: str, depth: int) -> BookSnapshot:
        """Wait for the next update of ``symbol``'s book and return its top ``depth`` levels.

        The first call returns as soon as a book is available.
        """

    async def fetch_balances(self) -> Mapping[str, Balance]: ...

    async def fetch_open_orders(self) -> Sequence[Order]: ...

    async def fetch_closed_orders(self, limit: int = 100) -> Sequence[Order]:
        """Filled, cancelled and rejected orders, newest first."""

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None: ...

    async def place_order(self, request: OrderRequest) -> Order: ...

    async def cancel_order(self, order_id: str, symbol: str) -> Order: ...

    async def ping(self) -> float:
        """Round-trip latency in milliseconds of the venue's lightweight request."""


# ---- market data (trades, candles, 24 h figures) ------------------------------------------
#
# Additive to the protocol above: a venue that serves them has these methods (the sandbox
# venue does; CcxtVenue through ``venues.ccxt_market_data``). Callers go through the functions
# below, which raise FeatureUnavailable (a VenueError) for a venue without them, so the
# Venue protocol's isinstance check keeps passing for venues written before.


@runtime_checkable
class MarketDataVenue(Protocol):
    name: str

    async def fetch_trades(self, symbol: str, limit: int = 100, since: float | None = None) -> Sequence[Trade]:
        """The newest ``limit`` public trades (at or after ``since``, epoch seconds), oldest
        first, the operator's own marked where the venue can tell."""

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", limit: int = 100,
                          since: float | None = None) -> Sequence[Candle]:  # fmt: skip
        """Candles (``market_data.TIMEFRAMES``), oldest first."""

    async def fetch_tickers(self, symbols: Sequence[str] | None = None) -> Mapping[str, Ticker24h]:
        """24 h figures per symbol (every listed symbol when ``symbols`` is None)."""


# Deposits and withdrawals, additive in the same way (``fetch_transfers`` below):
#
#     async def fetch_transfers(self, since: float | None = None) -> Sequence[Transfer]:
#         """The account's deposits and withdrawals at or after ``since`` (epoch s), oldest
#         first, every status (only ``completed`` ones change a position)."""
#
# The sandbox venue serves its engine's ledger (the start funding included); CcxtVenue serves
# ccxt's fetch_deposits / fetch_withdrawals where ``exchange.has`` says so (binance, through
# the emulator too); the paper venue and the others raise FeatureUnavailable.


def _method(venue: Any, name: str, what: str) -> Any:
    method = getattr(venue, name, None)
    if method is None:
        raise FeatureUnavailable(f"{getattr(venue, 'name', 'this venue')} does not serve {what}")
    return method


async def fetch_trades(venue: Any, symbol: str, limit: int = 100, since: float | None = None) -> Sequence[Trade]:
    return await _method(venue, "fetch_trades", "public trades")(symbol, limit=limit, since=since)


async def fetch_ohlcv(venue: Any, symbol: str, timeframe: str = "1m", limit: int = 100,
                      since: float | None = None) -> Sequence[Candle]:  # fmt: skip
    return await _method(venue, "fetch_ohlcv", "candles")(symbol, timeframe=timeframe, limit=limit, since=since)


async def fetch_tickers(venue: Any, symbols: Sequence[str] | None = None) -> Mapping[str, Ticker24h]:
    return await _method(venue, "fetch_tickers", "24 h tickers")(symbols)


async def fetch_transfers(venue: Any, since: float | None = None) -> Sequence[Transfer]:
    return await _method(venue, "fetch_transfers", "deposits and withdrawals")(since)
