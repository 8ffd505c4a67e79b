"""The order tracker: every order this process sends, with an explicit state machine.

    intent ─▶ sending ─┬─▶ open ─▶ partially filled ─▶ filled
                       │     └──────────┬──────────▶ canceled
                       ├─▶ rejected     │
                       └─▶ unknown ─────┴─▶ (open / filled / canceled / not placed)

The journal is its record: each transition is written there first, and an order whose
outcome is not known stays ``unknown`` until the venue gives positive evidence: the
order found by its client order id, or absent from open *and* closed orders after the
venue's own validity window has passed (``validity_window_s``). While any order of a
venue is unknown, new orders on that venue are refused.

Fills are derived from the venue's cumulative view of the order (``observe``) or given
one by one (``apply_fill``, the sandbox's engine and push feeds). Either way a fill is
identified by the venue's trade id or, where the venue reports only the cumulative
amount, by ``<order id>:<cumulative filled>``: a replayed view or fill has the same id
and is never counted twice (the journal refuses a second event with the same id too).

Nothing here imports textual or ccxt. Modelled on Hummingbot's ClientOrderTracker and
InFlightOrder, with the journal as the source of truth instead of memory.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from aitbc_tui.domain import ZERO, Fill, Mode, Order, OrderRequest, OrderStatus, OrderType
from aitbc_tui.journal import Journal, JournalError, JournalOrder
from aitbc_tui.venues.quirks import validity_window_s

log = logging.getLogger(__name__)


class TrackState(str, enum.Enum):
    INTENT = "intent"
    SENDING = "sending"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    NOT_PLACED = "not_placed"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({TrackState.FILLED, TrackState.CANCELED, TrackState.REJECTED, TrackState.NOT_PLACED})
_LIVE_AFTER_ACK = {TrackState.OPEN, TrackState.PARTIALLY_FILLED, TrackState.FILLED, TrackState.CANCELED}
TRANSITIONS: dict[TrackState, frozenset[TrackState]] = {
    TrackState.INTENT: frozenset({TrackState.SENDING, TrackState.REJECTED, TrackState.NOT_PLACED}),
    TrackState.SENDING: frozenset(_LIVE_AFTER_ACK | {TrackState.REJECTED, TrackState.UNKNOWN}),
    TrackState.UNKNOWN: frozenset(_LIVE_AFTER_ACK | {TrackState.NOT_PLACED, TrackState.REJECTED}),
    TrackState.OPEN: frozenset({TrackState.PARTIALLY_FILLED, TrackState.FILLED, TrackState.CANCELED}),
    TrackState.PARTIALLY_FILLED: frozenset({TrackState.PARTIALLY_FILLED, TrackState.FILLED, TrackState.CANCELED}),
}

# How long after sending an order can still appear at the venue, per exchange: only after
# this much time may "absent from open and closed orders" settle an order as not placed.
# One fact per exchange, kept in the quirks table (binance: its recvWindow, 10 s; kraken,
# coinbase: no request validity window, so a generous minute; sim: nothing is in flight).
WINDOW_MARGIN_S = 5.0  # clock differences and queueing at the venue
ABSENT_MARKER = "absent from open and closed orders"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Something the operator should hear about an order."""

    kind: str  # "ack" | "fill" | "canceled" | "rejected" | "unknown" | "settled" | "journal"
    order: Order
    fill: Fill | None = None
    message: str = ""
    by: str = ""  # canceled: who


@dataclass(slots=True)
class TrackedOrder:
    request: OrderRequest
    mode: str
    exchange_id: str
    state: TrackState = TrackState.INTENT
    created_at: float = 0.0
    sent_at: float | None = None
    order: Order | None = None  # the venue's latest view
    filled: Decimal = ZERO
    cost: Decimal = ZERO  # sum of price * amount of fills
    fee: Decimal = ZERO
    fee_currency: str = ""
    maker: Decimal = ZERO
    taker: Decimal = ZERO
    last_fill_at: float | None = None
    message: str = ""
    cancel_by: str = ""
    trade_ids: set[str] = field(default_factory=set)
    journal_failed: bool = False  # a write after sending failed: the order may be live

    @property
    def coid(self) -> str:
        return self.request.client_order_id

    @property
    def venue(self) -> str:
        return self.request.venue

    def view(self, now: float) -> Order:
        """This order as a row for the panes."""
        base = self.order
        status = {
            TrackState.INTENT: OrderStatus.PENDING,
            TrackState.SENDING: OrderStatus.PENDING,
            TrackState.OPEN: OrderStatus.OPEN,
            TrackState.PARTIALLY_FILLED: OrderStatus.OPEN,
            TrackState.FILLED: OrderStatus.FILLED,
            TrackState.CANCELED: OrderStatus.CANCELED,
            TrackState.REJECTED: OrderStatus.REJECTED,
            TrackState.UNKNOWN: OrderStatus.UNKNOWN,
            TrackState.NOT_PLACED: OrderStatus.REJECTED,
        }[self.state]
        r = self.request
        liquidity = ("mixed" if self.maker and self.taker else "maker" if self.maker
                     else "taker" if self.taker else "")  # fmt: skip
        return Order(
            venue=r.venue, id=base.id if base else "", client_order_id=r.client_order_id,
            symbol=r.symbol, side=r.side, type=r.type, price=r.price, amount=r.amount,
            filled=self.filled, status=status, created_at=self.created_at,
            updated_at=base.updated_at if base else now,
            average_price=(self.cost / self.filled) if self.filled and self.cost else (base.average_price if base else None),
            fee=self.fee, fee_currency=self.fee_currency, message=self.message,
            time_in_force=r.time_in_force, post_only=r.post_only, last_fill_at=self.last_fill_at,
            liquidity=liquidity or (base.liquidity if base else ""),
        )  # fmt: skip


def _status_state(order: Order) -> TrackState:
    if order.status is OrderStatus.FILLED:
        return TrackState.FILLED
    if order.status is OrderStatus.CANCELED:
        return TrackState.CANCELED
    if order.status is OrderStatus.REJECTED:
        return TrackState.REJECTED
    if order.status is OrderStatus.UNKNOWN:
        return TrackState.UNKNOWN
    return TrackState.PARTIALLY_FILLED if order.filled > 0 else TrackState.OPEN


def journal_failure_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.OperationalError) and "full" in text.lower():
        return "disk full"
    return text


class OrderTracker:
    """The state of every order this process sent or learned about from the journal."""

    def __init__(
        self,
        journal: Journal | None,
        *,
        clock: Callable[[], float] = time.time,
        emit: Callable[[OrderEvent], None] | None = None,
        history: int = 200,
    ) -> None:
        self.journal = journal
        self._clock = clock
        self._emit = emit or (lambda event: None)
        self._orders: dict[str, TrackedOrder] = {}  # client order id -> order, until final
        self._by_venue_id: dict[tuple[str, str], str] = {}  # (venue, venue order id) -> client order id
        self.finished: deque[TrackedOrder] = deque(maxlen=history)  # rejected / not placed, for the history pane
        # Orders that ended here, kept a while: a fill the venue reports after our cancel
        # was confirmed (it filled in between) is still journalled.
        self._ended: dict[str, TrackedOrder] = {}
        self._final_ids: dict[tuple[str, str], None] = {}  # (venue, client id) of orders that ended
        self.version = 0  # bumps on every change the panes show

    def ended(self, venue: str, coid: str) -> bool:
        """True when this order reached a final state here (a poll may still list it open)."""
        return (venue, coid) in self._final_ids

    # ---- reading ------------------------------------------------------------------------

    def get(self, coid: str) -> TrackedOrder | None:
        return self._orders.get(coid)

    def ended_order(self, coid: str) -> TrackedOrder | None:
        """A recently filled or cancelled order (the last 500), else None."""
        return self._ended.get(coid)

    def by_venue_id(self, venue: str, order_id: str) -> TrackedOrder | None:
        coid = self._by_venue_id.get((venue, order_id))
        return self._orders.get(coid) if coid else None

    def tracked(self) -> list[TrackedOrder]:
        return list(self._orders.values())

    def pending(self) -> list[TrackedOrder]:
        """Orders the venue has not answered yet (intent / sending) or whose outcome is unknown."""
        return [
            t for t in self._orders.values() if t.state in (TrackState.INTENT, TrackState.SENDING, TrackState.UNKNOWN)
        ]

    def unknown(self, venue: str | None = None) -> list[TrackedOrder]:
        return [t for t in self._orders.values()
                if t.state is TrackState.UNKNOWN and (venue is None or t.venue == venue)]  # fmt: skip

    def blocked_reason(self, venue: str) -> str | None:
        """Why new orders on ``venue`` are refused now (an order of unknown outcome), or None."""
        unknown = self.unknown(venue)
        if not unknown:
            return None
        ids = ", ".join(t.coid for t in unknown[:3])
        if any(t.journal_failed for t in unknown):
            return (f"{venue}: {len(unknown)} order(s) UNKNOWN ({ids}): the order may be live; the journal "
                    "could not be written. Free the disk, then restart to reconcile; no new order until then")  # fmt: skip
        return (f"{venue}: {len(unknown)} order(s) UNKNOWN ({ids}): the outcome is not known yet; it is being "
                "looked up by client order id; no new order on this venue until it is resolved")  # fmt: skip

    # ---- transitions --------------------------------------------------------------------

    def _move(self, tracked: TrackedOrder, target: TrackState) -> bool:
        if tracked.state is target and target is not TrackState.PARTIALLY_FILLED:
            return False
        allowed = TRANSITIONS.get(tracked.state, frozenset())
        if target not in allowed:
            log.info("order %s: ignoring %s -> %s", tracked.coid, tracked.state.value, target.value)
            return False
        tracked.state = target
        self.version += 1
        if target.is_final:
            self._orders.pop(tracked.coid, None)
            # by_venue_id answers for live orders only: drop the ended one's key so a long
            # session does not keep one entry per order it ever placed.
            if tracked.order is not None and self._by_venue_id.get((tracked.venue, tracked.order.id)) == tracked.coid:
                del self._by_venue_id[(tracked.venue, tracked.order.id)]
            self._final_ids[(tracked.venue, tracked.coid)] = None
            while len(self._final_ids) > 2000:
                self._final_ids.pop(next(iter(self._final_ids)))
            if target in (TrackState.CANCELED, TrackState.FILLED):
                self._ended[tracked.coid] = tracked
                while len(self._ended) > 500:
                    self._ended.pop(next(iter(self._ended)))
            if target in (TrackState.REJECTED, TrackState.NOT_PLACED):
                self.finished.appendleft(tracked)
        return True

    def begin(self, request: OrderRequest, mode: Mode | str, exchange_id: str) -> TrackedOrder:
        """Journal the intent (raises JournalError: then nothing may be sent)."""
        mode_value = mode.value if isinstance(mode, Mode) else str(mode)
        if self.journal is not None:
            self.journal.record_intent(request, mode_value, exchange_id)
        tracked = TrackedOrder(request, mode_value, exchange_id, created_at=self._clock())
        self._orders[request.client_order_id] = tracked
        self.version += 1
        return tracked

    def sending(self, tracked: TrackedOrder) -> None:
        """Journal 'sent' (raises JournalError: then nothing may be sent)."""
        if self.journal is not None:
            self.journal.mark_sent(tracked.coid)
        tracked.sent_at = self._clock()
        self._move(tracked, TrackState.SENDING)

    def discard(self, tracked: TrackedOrder, message: str) -> None:
        """Refused before anything was sent (the journal could not be written)."""
        tracked.message = message
        self._move(tracked, TrackState.REJECTED)

    def _write(self, tracked: TrackedOrder, write: Callable[[Journal], object]) -> bool:
        """A journal write after the send. A failure makes the order UNKNOWN in memory (it
        may be live) and blocks its venue; the operator is told exactly that."""
        if self.journal is None:
            return True
        try:
            write(self.journal)
            return True
        except (JournalError, sqlite3.Error, OSError) as exc:
            reason = journal_failure_text(exc)
            tracked.journal_failed = True
            tracked.message = f"the order may be live; the journal could not be written: {reason}"
            tracked.state = TrackState.UNKNOWN  # forced: the record is what failed
            self.version += 1
            log.error("%s order %s: journal write failed: %s", tracked.venue, tracked.coid, reason)
            self._emit(
                OrderEvent("journal", tracked.view(self._clock()), message=f"{tracked.venue}: {tracked.message}")
            )
            return False

    def acked(self, tracked: TrackedOrder, order: Order, fills: Iterable[Fill] = ()) -> None:
        """The venue answered the create with ``order``."""
        order = replace(order, client_order_id=tracked.coid)
        tracked.order = order
        if order.id:
            self._by_venue_id[(tracked.venue, order.id)] = tracked.coid
        if not self._write(tracked, lambda journal: journal.mark_ack(tracked.coid, order)):
            return
        was_unknown = tracked.state is TrackState.UNKNOWN
        self._move(tracked, TrackState.OPEN if order.status is not OrderStatus.REJECTED else TrackState.REJECTED)
        self._emit(OrderEvent("settled" if was_unknown else "ack", tracked.view(self._clock())))
        self._apply_view(tracked, order, list(fills))

    def rejected(self, tracked: TrackedOrder, message: str) -> None:
        """An explicit refusal from the venue (or our own check before sending)."""
        tracked.message = message
        self._write(tracked, lambda journal: journal.mark_rejected(tracked.coid, message))
        if tracked.journal_failed:
            return
        self._move(tracked, TrackState.REJECTED)
        self._emit(OrderEvent("rejected", tracked.view(self._clock()), message=message))

    def went_unknown(self, tracked: TrackedOrder, reason: str) -> None:
        if tracked.state not in (TrackState.INTENT, TrackState.SENDING, TrackState.UNKNOWN):
            return  # the venue already showed the order: a lost reply changes nothing
        tracked.message = reason
        self._write(tracked, lambda journal: journal.mark_unknown(tracked.coid, reason))
        if tracked.state is not TrackState.UNKNOWN:
            self._move(tracked, TrackState.UNKNOWN)
        self._emit(OrderEvent("unknown", tracked.view(self._clock()), message=reason))

    def restore(self, request: OrderRequest, mode: str, exchange_id: str, state: TrackState, *,
                filled: Decimal = ZERO, created_at: float = 0.0, venue_order_id: str | None = None,
                message: str = "") -> TrackedOrder:  # fmt: skip
        """An order the journal left unresolved (a restart): tracked again, nothing written."""
        tracked = TrackedOrder(request, mode, exchange_id, state=state, created_at=created_at,
                               sent_at=created_at, filled=filled, message=message)  # fmt: skip
        self._orders[request.client_order_id] = tracked
        if venue_order_id:
            self._by_venue_id[(request.venue, venue_order_id)] = request.client_order_id
            tracked.trade_ids.add(f"{venue_order_id}:{filled}")
        self.version += 1
        return tracked

    def forget(self, tracked: TrackedOrder) -> None:
        """Stop tracking (a restored order that needs nothing more)."""
        self._orders.pop(tracked.coid, None)
        self.version += 1

    def cancel_requested(self, order: Order, by: str) -> None:
        tracked = self._orders.get(order.client_order_id) or self.by_venue_id(order.venue, order.id)
        if tracked is not None:
            tracked.cancel_by = by

    def apply_fill(self, tracked: TrackedOrder, fill: Fill, cumulative: Decimal | None = None) -> bool:
        """One fill with its trade id; a replay (same id, or a cumulative amount already
        counted) changes nothing. Returns True when it was new."""
        trade_id = (
            fill.trade_id or f"{fill.order_id}:{cumulative if cumulative is not None else tracked.filled + fill.amount}"
        )
        if trade_id in tracked.trade_ids:
            return False
        if cumulative is not None and cumulative <= tracked.filled:
            tracked.trade_ids.add(trade_id)
            return False
        fill = replace(fill, trade_id=trade_id)
        new = True
        if self.journal is not None:
            result: list[bool] = []
            if not self._write(tracked, lambda journal: result.append(journal.record_fill(tracked.coid, fill))):
                return False
            new = bool(result and result[0])
        tracked.trade_ids.add(trade_id)
        if not new:
            return False
        tracked.filled += fill.amount
        tracked.cost += fill.price * fill.amount
        tracked.fee += fill.fee
        tracked.fee_currency = fill.fee_currency or tracked.fee_currency
        if fill.is_maker:
            tracked.maker += fill.amount
        else:
            tracked.taker += fill.amount
        tracked.last_fill_at = fill.timestamp or self._clock()
        target = TrackState.FILLED if tracked.filled >= tracked.request.amount else TrackState.PARTIALLY_FILLED
        if tracked.state in (TrackState.SENDING, TrackState.UNKNOWN):
            self._move(tracked, TrackState.OPEN)
        self.version += 1
        view = tracked.view(self._clock())
        self._emit(OrderEvent("fill", view, fill=fill))
        if target is TrackState.FILLED:
            self._move(tracked, TrackState.FILLED)
        elif tracked.state is TrackState.OPEN:
            self._move(tracked, TrackState.PARTIALLY_FILLED)
        return True

    def observe(
        self, order: Order, *, fills: Iterable[Fill] = (), source: str = "account update"
    ) -> TrackedOrder | None:
        """The venue's view of one of our orders (account poll, cancel reply, lookup, push)."""
        tracked = self._orders.get(order.client_order_id) if order.client_order_id else None
        if tracked is None and order.id:
            tracked = self.by_venue_id(order.venue, order.id)
        if tracked is None:
            ended = self._ended.get(order.client_order_id) if order.client_order_id else None
            if ended is None and order.id:
                coid = self._by_venue_id.get((order.venue, order.id))
                ended = self._ended.get(coid) if coid else None
            if ended is not None and order.filled > ended.filled:
                self._apply_view(ended, replace(order, client_order_id=ended.coid), list(fills))
            return ended
        order = replace(order, client_order_id=tracked.coid)
        if order.id:
            self._by_venue_id[(tracked.venue, order.id)] = tracked.coid
        if tracked.state is TrackState.SENDING and order.status is not OrderStatus.UNKNOWN:
            # The venue lists the order before the create's reply arrived: that is its ack.
            if not self._write(tracked, lambda journal: journal.mark_ack(tracked.coid, order)):
                return tracked
            self._move(tracked, TrackState.OPEN)
        elif tracked.state is TrackState.UNKNOWN and order.status is not OrderStatus.UNKNOWN:
            # Positive evidence for an order whose outcome was unknown: the venue holds it.
            # The journal settles the state; what has filled is journalled below, once, as
            # fills (recording the venue's filled amount here as well counted it twice).
            settled = replace(order, filled=tracked.filled)
            if not self._write(tracked, lambda journal: journal.reconcile(tracked.coid, settled, f"found: {source}")):
                return tracked
            tracked.message = ""
            tracked.order = order
            self._move(tracked, TrackState.OPEN)
            self._emit(OrderEvent("settled", tracked.view(self._clock()),
                                  message=f"{tracked.venue}: order {tracked.coid} was UNKNOWN; the venue has it: "
                                          f"{order.status.value}"))  # fmt: skip
        tracked.order = order
        self._apply_view(tracked, order, list(fills))
        return tracked

    def _apply_view(self, tracked: TrackedOrder, order: Order, fills: list[Fill]) -> None:
        # The view's filled amount is cumulative after these fills: count from before them.
        cumulative = order.filled - sum((f.amount for f in fills), ZERO)
        for fill in fills:
            cumulative += fill.amount
            self.apply_fill(tracked, fill, cumulative)
        if order.filled > tracked.filled:
            delta = order.filled - tracked.filled
            price = order.average_price if order.average_price is not None else order.price
            if order.average_price is not None and tracked.cost:
                price = (order.average_price * order.filled - tracked.cost) / delta
            fee = max(ZERO, order.fee - tracked.fee) if order.fee else ZERO
            self.apply_fill(
                tracked,
                Fill(venue=order.venue, order_id=order.id, symbol=order.symbol, side=order.side,
                     price=price or ZERO, amount=delta, fee=fee, fee_currency=order.fee_currency,
                     timestamp=order.last_fill_at or order.updated_at, is_maker=order.liquidity == "maker"),
                order.filled,
            )  # fmt: skip
        if tracked.coid not in self._orders:
            return  # filled (final) above
        if order.status is OrderStatus.CANCELED:
            by = tracked.cancel_by or "venue"
            if self._write(
                tracked, lambda journal: journal.mark_canceled(tracked.coid, order.message, by=by, order=order)
            ):
                if self._move(tracked, TrackState.CANCELED):
                    self._emit(OrderEvent("canceled", tracked.view(self._clock()), message=order.message, by=by))
        elif order.status is OrderStatus.FILLED:
            if self._write(tracked, lambda journal: journal.reconcile(tracked.coid, order, "filled")):
                self._move(tracked, TrackState.FILLED)
        elif order.status is OrderStatus.REJECTED:
            self.rejected(tracked, order.message or "rejected by the venue")

    def not_placed(self, tracked: TrackedOrder, why: str) -> None:
        """Settled as never placed: only after the venue's validity window (see module doc)."""
        message = f"{ABSENT_MARKER}: {why}"
        if not self._write(tracked, lambda journal: journal.reconcile(tracked.coid, None, message)):
            return
        tracked.message = message
        self._move(tracked, TrackState.NOT_PLACED)
        self._emit(OrderEvent("settled", tracked.view(self._clock()),
                              message=f"{tracked.venue}: order {tracked.coid} was UNKNOWN; {message}: not placed"))  # fmt: skip

    def may_settle_absent(self, tracked: TrackedOrder, now: float | None = None) -> bool:
        """True once the venue's validity window has passed since the order was sent."""
        now = self._clock() if now is None else now
        sent = tracked.sent_at if tracked.sent_at is not None else tracked.created_at
        return now - sent >= validity_window_s(tracked.exchange_id) + WINDOW_MARGIN_S * (
            validity_window_s(tracked.exchange_id) > 0
        )


def request_of(entry: JournalOrder) -> OrderRequest:
    """The request of a journal order (``JournalOrder``)."""
    from aitbc_tui.domain import Side

    return OrderRequest(
        venue=entry.venue, symbol=entry.symbol, side=Side(entry.side), type=OrderType(entry.type),
        amount=entry.amount, price=entry.price, client_order_id=entry.client_order_id,
        group_id=entry.group_id,
    )  # fmt: skip


__all__ = [
    "ABSENT_MARKER",
    "OrderEvent",
    "OrderTracker",
    "TRANSITIONS",
    "TrackState",
    "TrackedOrder",
    "request_of",
    "validity_window_s",
]
