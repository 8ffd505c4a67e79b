"""Emulators in another process, seen through their loopback admin endpoints.

``scripts/soak`` runs the three emulators in a child process so that the dashboard's RSS
is measured alone. ``RemoteEmulator`` offers what the soak and ``check_invariants`` use of
an in-process ``RunningEmulator``: the connection details, ``set_fault`` /
``clear_faults`` (``POST`` / ``DELETE /__faults``) and ``held_orders()`` (``GET
/__orders``: every order of the API key's account, open first, exact decimals).

Calls are synchronous (urllib on 127.0.0.1): the invariant check is a snapshot taken
between awaits, and the child answers from its own event loop.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aitbc_tui.domain import Order, OrderStatus, OrderType, Side

__all__ = ["RemoteEmulator"]

TIMEOUT_S = 10.0


@dataclass
class RemoteEmulator:
    venue: str
    url: str
    ws_url: str
    api_key: str
    secret: str
    ccxt_id: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RemoteEmulator:
        return cls(**{k: data[k] for k in ("venue", "url", "ws_url", "api_key", "secret", "ccxt_id")})

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:  # noqa: S310 - loopback only
            return json.loads(reply.read())

    def set_fault(self, kind: str, endpoint: str = "*", count: int | None = 1, method: str = "", **params: Any) -> None:
        self._call("POST", "/__faults", {"kind": kind, "endpoint": endpoint, "count": count, "method": method,
                                         "params": params})  # fmt: skip

    def clear_faults(self, kind: str | None = None) -> None:
        self._call("DELETE", "/__faults" + (f"?kind={kind}" if kind else ""))

    def held_orders(self) -> list[Order]:
        """Every order of the API key's account: open first, then closed, oldest first."""
        return [_order(self.venue, o) for o in self._call("GET", "/__orders")["orders"]]


def _order(venue: str, o: dict[str, Any]) -> Order:
    return Order(
        venue=venue,
        id=o["id"],
        client_order_id=o["client_order_id"],
        symbol=o["symbol"],
        side=Side(o["side"]),
        type=OrderType(o["type"]),
        price=None if o["price"] is None else Decimal(o["price"]),
        amount=Decimal(o["amount"]),
        filled=Decimal(o["filled"]),
        status=OrderStatus(o["status"]),
        created_at=o["created_at"],
        updated_at=o["updated_at"],
    )
