"""The order tracker's state machine, fill deduplication and the journal's record of it
(a real SQLite journal file; expectations computed by hand)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D

import pytest

from aitbc_tui.domain import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from aitbc_tui.journal import SCHEMA_VERSION, EventKind, Journal, JournalState
from aitbc_tui.orders import TRANSITIONS, OrderTracker, TrackState, validity_window_s

NOW = 1_800_000_000.0


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite3", clock=lambda: NOW)
    yield j
    j.close()


def request(coid="c-1", amount="1", price="100") -> OrderRequest:
    return OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, D(amount), D(price), client_order_id=coid)


def view(status=OrderStatus.OPEN, filled="0", avg=None, fee="0", coid="c-1", oid="42", liquidity="") -> Order:
    return Order(venue="binance", id=oid, client_order_id=coid, symbol="BTC/USDT", side=Side.BUY,
                 type=OrderType.LIMIT, price=D("100"), amount=D("1"), filled=D(filled), status=status,
                 created_at=NOW, updated_at=NOW, average_price=None if avg is None else D(avg), fee=D(fee),
                 fee_currency="USDT", liquidity=liquidity)  # fmt: skip


def sent(tracker: OrderTracker, coid="c-1"):
    tracked = tracker.begin(request(coid), "live", "binance")
    tracker.sending(tracked)
    return tracked


def kinds(journal, coid="c-1"):
    return [e.kind for e in journal.events() if e.client_order_id == coid]


def test_final_states_have_no_way_out_and_unknown_needs_evidence():
    for final in (TrackState.FILLED, TrackState.CANCELED, TrackState.REJECTED, TrackState.NOT_PLACED):
        assert final.is_final and final not in TRANSITIONS
    # An order can only reach "not placed" from intent (never sent) or unknown (looked up).
    reach = {s for s, targets in TRANSITIONS.items() if TrackState.NOT_PLACED in targets}
    assert reach == {TrackState.INTENT, TrackState.UNKNOWN}
    assert TrackState.OPEN not in TRANSITIONS[TrackState.PARTIALLY_FILLED]


def test_resting_order_fills_in_two_parts_each_journalled_once(journal):
    events = []
    tracker = OrderTracker(journal, clock=lambda: NOW, emit=events.append)
    tracked = sent(tracker)
    tracker.acked(tracked, view())
    assert tracked.state is TrackState.OPEN
    # 0.4 filled at 100 (fee 0.04), then the whole at an average of 101 (fee 0.10 in all).
    tracker.observe(view(filled="0.4", avg="100", fee="0.04", liquidity="maker"))
    tracker.observe(view(filled="0.4", avg="100", fee="0.04", liquidity="maker"))  # a replayed poll
    assert tracked.state is TrackState.PARTIALLY_FILLED
    tracker.observe(view(OrderStatus.FILLED, filled="1", avg="101", fee="0.10", liquidity="maker"))
    assert tracker.get("c-1") is None  # final: no longer tracked
    fills = [e for e in journal.events() if e.kind is EventKind.FILL]
    assert [(f.amount, f.price, f.fee, f.trade_id) for f in fills] == [
        (D("0.4"), D("100"), D("0.04"), "42:0.4"),
        # second part: (101 * 1 - 100 * 0.4) / 0.6 = 61 / 0.6
        (D("0.6"), D("61") / D("0.6"), D("0.06"), "42:1"),
    ]
    assert journal.order("c-1").state is JournalState.FILLED and journal.order("c-1").filled == D("1")
    assert [e.kind for e in events] == ["ack", "fill", "fill"]
    assert events[-1].order.average_price == D("101")


def test_fill_with_a_known_trade_id_is_never_counted_twice(journal):
    tracker = OrderTracker(journal, clock=lambda: NOW)
    tracked = sent(tracker)
    tracker.acked(tracked, view())
    fill = Fill(
        "binance", "42", "BTC/USDT", Side.BUY, D("100"), D("0.25"), D("0.025"), "USDT", NOW, True, trade_id="T-9"
    )
    assert tracker.apply_fill(tracked, fill, D("0.25")) is True
    assert tracker.apply_fill(tracked, fill, D("0.25")) is False
    # The journal refuses the replay on its own too (a second process, a restart).
    assert journal.record_fill("c-1", fill) is False
    assert journal.order("c-1").filled == D("0.25")
    # The poll that reports the same cumulative amount adds nothing.
    tracker.observe(view(filled="0.25", avg="100", fee="0.025"))
    assert [e.amount for e in journal.events() if e.kind is EventKind.FILL] == [D("0.25")]


def test_cancel_is_journalled_as_canceled_with_who(journal):
    events = []
    tracker = OrderTracker(journal, clock=lambda: NOW, emit=events.append)
    tracked = sent(tracker)
    tracker.acked(tracked, view())
    tracker.cancel_requested(view(), "kill switch")
    tracker.observe(view(OrderStatus.CANCELED))
    order = journal.order("c-1")
    assert order.state is JournalState.CANCELED and order.message == "canceled by kill switch"
    assert kinds(journal) == [EventKind.INTENT, EventKind.SENT, EventKind.ACK, EventKind.CANCELED]
    assert events[-1].kind == "canceled" and events[-1].by == "kill switch"
    # A fill the venue reports after the cancel (it filled in between) is still journalled.
    tracker.observe(view(OrderStatus.CANCELED, filled="0.3", avg="100", fee="0.03"))
    assert journal.order("c-1").filled == D("0.3")
    assert journal.order("c-1").state is JournalState.CANCELED


def test_a_cancel_nobody_asked_for_is_the_venues(journal):
    tracker = OrderTracker(journal, clock=lambda: NOW)
    tracked = sent(tracker)
    tracker.acked(tracked, view())
    tracker.observe(view(OrderStatus.CANCELED))
    assert journal.order("c-1").message == "canceled by venue"


def test_unknown_stays_unknown_until_the_validity_window_passed(journal):
    clock = [NOW]
    tracker = OrderTracker(journal, clock=lambda: clock[0])
    tracked = sent(tracker)
    tracker.went_unknown(tracked, "timed out")
    assert tracker.blocked_reason("binance") and "UNKNOWN" in tracker.blocked_reason("binance")
    assert validity_window_s("binance") == 10.0 and validity_window_s("kraken") == 60.0
    clock[0] = NOW + 14.9  # recvWindow 10 s + 5 s margin not yet passed
    assert not tracker.may_settle_absent(tracked)
    clock[0] = NOW + 15.0
    assert tracker.may_settle_absent(tracked)
    # Positive evidence settles it at any time: the venue has it.
    tracker.observe(view(OrderStatus.OPEN))
    assert tracked.state is TrackState.OPEN and tracker.blocked_reason("binance") is None
    assert journal.order("c-1").state is JournalState.OPEN


def test_journal_failure_after_the_venue_accepted_makes_the_order_unknown(journal, monkeypatch):
    events = []
    tracker = OrderTracker(journal, clock=lambda: NOW, emit=events.append)
    tracked = sent(tracker)

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(journal, "mark_ack", disk_full)
    tracker.acked(tracked, view())
    assert tracked.state is TrackState.UNKNOWN and tracked.journal_failed
    reason = tracker.blocked_reason("binance")
    assert "the order may be live; the journal could not be written" in reason
    assert events[-1].kind == "journal"
    assert "the order may be live; the journal could not be written: disk full" in events[-1].message


def test_a_v1_journal_is_upgraded_in_place_keeping_its_orders(tmp_path):
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE orders (client_order_id TEXT PRIMARY KEY, venue TEXT NOT NULL, mode TEXT NOT NULL,
            symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, amount TEXT NOT NULL, price TEXT,
            state TEXT NOT NULL, venue_order_id TEXT, filled TEXT NOT NULL DEFAULT '0',
            message TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL);
        CREATE INDEX orders_state ON orders(state);
        CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,
            client_order_id TEXT NOT NULL REFERENCES orders(client_order_id), venue TEXT NOT NULL,
            venue_order_id TEXT, price TEXT, amount TEXT, fee TEXT, fee_currency TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '');
        CREATE INDEX events_at ON events(at);
        CREATE INDEX events_order ON events(client_order_id);
        INSERT INTO orders VALUES ('old', 'binance', 'live', 'BTC/USDT', 'buy', 'limit', '1', '100', 'open',
            '7', '0', '', 1.0, 1.0);
        INSERT INTO events (at, kind, client_order_id, venue) VALUES (1.0, 'intent', 'old', 'binance');
        PRAGMA user_version = 1;
        """
    )
    db.close()
    with Journal(path) as journal:
        assert journal.order("old").state is JournalState.OPEN
        fill = Fill("binance", "7", "BTC/USDT", Side.BUY, D("100"), D("1"), D("0.1"), "USDT", 2.0, False, "7:1")
        assert journal.record_fill("old", fill) is True and journal.record_fill("old", fill) is False
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_order_seen_at_the_venue_before_its_reply_is_placed_even_if_the_reply_is_lost(journal):
    """Found in an account poll while the create was in flight (its reply later lost): the
    poll is the ack, and the lost reply does not make the order UNKNOWN again."""
    tracker = OrderTracker(journal, clock=lambda: NOW)
    tracked = sent(tracker)
    tracker.observe(view(OrderStatus.OPEN))
    assert tracked.state is TrackState.OPEN and journal.order("c-1").state is JournalState.OPEN
    tracker.went_unknown(tracked, "connection lost")
    assert tracked.state is TrackState.OPEN and tracker.blocked_reason("binance") is None
    assert journal.order("c-1").state is JournalState.OPEN


@pytest.mark.parametrize("status, filled", [(OrderStatus.FILLED, "1"), (OrderStatus.OPEN, "0.4")])
def test_an_unknown_order_found_filled_counts_its_fill_once(journal, status, filled):
    """Found by the soak (binance -1007, then the poll saw it filled): settling the unknown
    order wrote the venue's filled amount, then the fill derived from the same view was
    added on top: the journal said 0.002 filled of 0.001."""
    tracker = OrderTracker(journal, clock=lambda: NOW)
    tracked = sent(tracker)
    tracker.went_unknown(tracked, "binance: execution status unknown (code -1007)")
    tracker.observe(view(status=status, filled=filled, avg="100"), source="account update")
    entry = journal.order("c-1")
    assert entry.filled == D(filled)
    assert [e.amount for e in journal.events() if e.kind is EventKind.FILL] == [D(filled)]
    assert entry.state is (JournalState.FILLED if status is OrderStatus.FILLED else JournalState.OPEN)
    assert tracked.filled == D(filled)
