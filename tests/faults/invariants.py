"""Invariants between the product's order journal and what the venues actually hold.

Stable API (``scripts/soak`` imports it; keep the signature)::

    from tests.faults.invariants import check_invariants

    violations: list[str] = check_invariants(journal, emulators, *, settled=True)

``journal``
    an open ``aitbc_tui.journal.Journal``, or the path of a journal file (opened read-only
    for the check and closed again).
``emulators``
    ``{journal venue name: RunningEmulator}`` (or a ``tests.faults.remote.RemoteEmulator``,
    whose orders come from its loopback ``GET /__orders``) (the name the service's venue has, e.g. "emu"
    or "binance"), or an iterable of ``RunningEmulator`` (then each is keyed by
    ``emu.venue``). Only the orders of the emulator's API-key account are compared
    (``emu.ctx.account``); the market maker's are not ours. Journal orders of venues not
    in ``emulators`` are ignored.
``settled``
    True (default): the service has settled (``await service.wait_idle()``, start-up
    reconciliation done, no order being sent): journal and venue must agree on every
    order. False: mid-activity, only what must hold at every instant is checked ((b), (c),
    and "a final 'never there' state in the journal while the venue holds the order").

Returns human-readable violations, one line each, ``[]`` when all is well. Synchronous:
it reads SQLite and the emulators' in-process engines (no awaits), so call it from the
event-loop thread the emulators run on, between awaits.

What is checked, per venue:

(a) journal and venue agree on each order of the journal:
    - journal ``open``            ⇔ the venue holds it open (the journal's ``open`` covers
                                     partially filled);
    - journal ``filled``          ⇒ the venue holds it filled;
    - journal ``canceled``        ⇒ the venue holds it canceled;
    - journal ``rejected`` / ``not_placed`` ⇒ the venue holds no such order;
    - journal ``intent`` / ``sent`` / ``unknown`` (unresolved): allowed only while the
      venue cannot prove the outcome, i.e. when settled, a violation if the venue holds
      the order (the service should have found it);
    - orders are matched by client order id (the engine's order ids are not the ids a
      venue's protocol shows: binance numbers its own);
    - the filled amount of the journal equals the venue's where the venue holds the order
      (Decimal, exact).
(b) no client order id is open twice on a venue, nor placed twice (the product never
    reuses a client order id: a second venue order with the same id is a resend).
(c) nothing the venue holds is unknown to the journal: every order of the account carries
    a client order id that the journal has, journaled for that venue.

The check is a snapshot: an engine that fills orders on its own (``simulate=True``) can
fill an order between the service's last poll and this check. A caller with a live market
should poll until the list is empty (with a timeout) and report the last list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from aitbc_tui.domain import Order, OrderStatus
from aitbc_tui.journal import Journal, JournalOrder, JournalState

__all__ = ["check_invariants", "venue_orders"]

_UNRESOLVED = (JournalState.INTENT, JournalState.SENT, JournalState.UNKNOWN)
_ALL_HISTORY = 10**9


def venue_orders(emulator: Any) -> list[Order]:
    """Every order the emulator's engine holds for its API-key account: open first, then
    closed (oldest first)."""
    held_orders = getattr(emulator, "held_orders", None)
    if held_orders is not None:  # an emulator in another process (tests/faults/remote.py)
        return list(held_orders())
    account = emulator.ctx.account
    engine = emulator.engine
    return list(engine.open_orders(account)) + list(reversed(engine.closed_orders(account, _ALL_HISTORY)))


def _by_name(emulators: Mapping[str, Any] | Iterable[Any]) -> dict[str, Any]:
    if isinstance(emulators, Mapping):
        return dict(emulators)
    return {emu.venue: emu for emu in emulators}


def check_invariants(
    journal: Journal | str | Path,
    emulators: Mapping[str, Any] | Iterable[Any],
    *,
    settled: bool = True,
) -> list[str]:
    """Violations of (a), (b), (c) above, one readable line each; [] when all hold."""
    if isinstance(journal, (str, Path)):
        with Journal(journal, read_only=True) as opened:
            return check_invariants(opened, emulators, settled=settled)
    violations: list[str] = []
    for name, emu in _by_name(emulators).items():
        violations.extend(_check_venue(journal, name, emu, settled))
    return violations


def _check_venue(journal: Journal, name: str, emu: Any, settled: bool) -> list[str]:
    out: list[str] = []
    held = venue_orders(emu)
    by_coid: dict[str, list[Order]] = {}
    for order in held:
        by_coid.setdefault(order.client_order_id, []).append(order)
    entries = {e.client_order_id: e for e in journal.orders(venue=name)}

    # (b) one venue order per client order id
    for coid, orders in by_coid.items():
        if not coid:
            continue
        open_ = [o for o in orders if o.status is OrderStatus.OPEN]
        if len(open_) > 1:
            out.append(f"{name} {coid}: open {len(open_)} times on the venue "
                       f"(engine ids {', '.join(o.id for o in open_)})")  # fmt: skip
        elif len(orders) > 1:
            out.append(f"{name} {coid}: placed {len(orders)} times on the venue "
                       f"({', '.join(f'{o.id} {o.status.value}' for o in orders)})")  # fmt: skip

    # (c) the venue holds nothing the journal does not know
    for order in held:
        coid = order.client_order_id
        if not coid:
            out.append(f"{name} venue order {order.id} ({order.status.value} {order.side.value} {order.amount} "
                       f"{order.symbol}) has no client order id: the journal cannot know it")  # fmt: skip
        elif coid not in entries:
            other = journal.order(coid)
            where = f" (journaled for venue {other.venue!r})" if other is not None else ""
            out.append(f"{name} {coid}: the venue holds it ({order.status.value}, venue id {order.id}) "
                       f"but the journal has no such order{where}")  # fmt: skip

    # (a) journal and venue agree
    for coid, entry in entries.items():
        orders = by_coid.get(coid, [])
        problem = _disagreement(entry, orders, settled)
        if problem:
            out.append(f"{name} {coid}: {problem}")
    return out


def _describe(orders: list[Order]) -> str:
    if not orders:
        return "the venue has no such order"
    return "the venue holds it " + ", ".join(
        f"{o.status.value} (filled {o.filled} of {o.amount}, engine id {o.id})" for o in orders
    )


def _disagreement(entry: JournalOrder, orders: list[Order], settled: bool) -> str | None:
    state = entry.state
    seen = _describe(orders)
    journaled = f"journal {state.value} (filled {entry.filled})"
    if state in (JournalState.REJECTED, JournalState.NOT_PLACED):
        return f"{journaled} but {seen}" if orders else None
    if state in _UNRESOLVED:
        if settled and orders:
            return f"{journaled}, unresolved after settling, but {seen}: the venue proves the outcome"
        return None
    if not settled:
        return None
    # Settled: open / filled / canceled must match exactly one venue order.
    if not orders:
        return f"{journaled} but {seen}"
    order = orders[-1] if len(orders) == 1 else next((o for o in orders if o.status is OrderStatus.OPEN), orders[-1])
    expected = {
        JournalState.OPEN: OrderStatus.OPEN,
        JournalState.FILLED: OrderStatus.FILLED,
        JournalState.CANCELED: OrderStatus.CANCELED,
    }[state]
    if order.status is not expected:
        return f"{journaled} but {seen}"
    if Decimal(entry.filled) != order.filled:
        return f"{journaled} but the venue filled {order.filled} of {order.amount} (engine id {order.id})"
    return None
