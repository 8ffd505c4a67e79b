"""The one venue protocol: the simulated venue and the ccxt venue implement it.

The service drives venues only through this interface, so every pane and test
works on either. All methods are coroutines; errors are ``domain.VenueError``
subclasses with operator-readable messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from aitbc_tui.domain import Balance, BookSnapshot, Market, Mode, Order, OrderRequest


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
