"""MatchingEngine: priority, fills, fees and balances, rejections. Numbers computed by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aitbc_tui.domain import (
    InsufficientFunds,
    Market,
    OrderNotFound,
    OrderRejected,
    OrderStatus,
    OrderType,
    Side,
)
from aitbc_tui.sim.engine import BookDelta, MatchingEngine, OrderUpdated

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET

# maker 0.1 %, taker 0.2 % so the two are distinguishable in the arithmetic
BTC_USDT = Market("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.001"), D("0.001"), D("5"),
                  D("0.001"), D("0.002"))  # fmt: skip


@pytest.fixture
def engine() -> MatchingEngine:
    e = MatchingEngine("binance", clock=lambda: 1000.0)
    e.add_market(BTC_USDT)
    e.deposit("alice", "BTC", D("1"))
    e.deposit("bob", "BTC", D("2"))
    e.deposit("carol", "USDT", D("1000"))
    return e


def bal(e: MatchingEngine, account: str, asset: str) -> tuple[D, D]:
    b = e.balances(account).get(asset)
    return (b.free, b.used) if b else (D(0), D(0))


def test_same_price_fills_in_arrival_order_and_partially(engine):
    a, _ = engine.place("alice", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    b, _ = engine.place("bob", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    order, fills = engine.place("carol", "BTC/USDT", BUY, LIMIT, D("1.5"), D("100"))

    assert [(f.price, f.amount, f.is_maker) for f in fills] == [
        (D("100"), D("1"), False),
        (D("100"), D("0.5"), False),
    ]
    assert order.status is OrderStatus.FILLED and order.filled == D("1.5")
    assert engine.get_order("alice", a.id).status is OrderStatus.FILLED
    bob = engine.get_order("bob", b.id)
    assert bob.status is OrderStatus.OPEN and bob.filled == D("0.5") and bob.remaining == D("0.5")
    assert engine.book("BTC/USDT", 5).asks == ((D("100"), D("0.5")),)

    # carol: 150 USDT + taker fee 150 * 0.002 = 0.3
    assert bal(engine, "carol", "USDT") == (D("849.7"), D("0"))
    assert bal(engine, "carol", "BTC") == (D("1.5"), D("0"))
    assert order.fee == D("0.3") and order.fee_currency == "USDT"
    # alice: 100 - maker fee 0.1
    assert bal(engine, "alice", "USDT") == (D("99.9"), D("0"))
    assert bal(engine, "alice", "BTC") == (D("0"), D("0"))
    # bob: 50 - 0.05, 0.5 BTC still reserved
    assert bal(engine, "bob", "USDT") == (D("49.95"), D("0"))
    assert bal(engine, "bob", "BTC") == (D("1"), D("0.5"))


def test_crossing_limit_rests_remainder_and_cancel_releases_funds(engine):
    engine.place("alice", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    order, fills = engine.place("carol", "BTC/USDT", BUY, LIMIT, D("2"), D("101"))
    assert [(f.price, f.amount) for f in fills] == [(D("100"), D("1"))]
    assert order.status is OrderStatus.OPEN and order.remaining == D("1")
    # spent 100 + 0.2 fee; remaining 1 @ 101 reserves 101 * 1.002 = 101.202
    assert bal(engine, "carol", "USDT") == (D("1000") - D("100.2") - D("101.202"), D("101.202"))
    assert engine.book("BTC/USDT", 5).bids == ((D("101"), D("1")),)

    canceled = engine.cancel("carol", order.id)
    assert canceled.status is OrderStatus.CANCELED and canceled.filled == D("1")
    assert bal(engine, "carol", "USDT") == (D("899.8"), D("0"))
    assert engine.book("BTC/USDT", 5).bids == ()
    with pytest.raises(OrderNotFound, match="already canceled"):
        engine.cancel("carol", order.id)
    with pytest.raises(OrderNotFound, match="no such open order"):
        engine.cancel("carol", "999")
    assert engine.closed_orders("carol")[0].id == order.id


def test_market_buy_walks_the_book(engine):
    engine.place("alice", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    engine.place("bob", "BTC/USDT", SELL, LIMIT, D("1"), D("101"))
    order, fills = engine.place("carol", "BTC/USDT", BUY, MARKET, D("1.5"))
    assert [(f.price, f.amount) for f in fills] == [(D("100"), D("1")), (D("101"), D("0.5"))]
    # cost 100 + 50.5 = 150.5, taker fee 0.301
    assert bal(engine, "carol", "USDT") == (D("1000") - D("150.801"), D("0"))
    assert order.average_price == D("150.5") / D("1.5")
    assert order.status is OrderStatus.FILLED


def test_market_order_beyond_liquidity_expires_remainder(engine):
    engine.place("alice", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    order, _ = engine.place("carol", "BTC/USDT", BUY, MARKET, D("3"))
    assert order.filled == D("1") and order.status is OrderStatus.CANCELED
    assert "expired" in order.message
    assert bal(engine, "carol", "USDT") == (D("1000") - D("100.2"), D("0"))


def test_market_order_without_liquidity_is_rejected(engine):
    with pytest.raises(OrderRejected, match="no liquidity"):
        engine.place("carol", "BTC/USDT", BUY, MARKET, D("1"))
    assert bal(engine, "carol", "USDT") == (D("1000"), D("0"))


def test_insufficient_funds_changes_nothing(engine):
    with pytest.raises(InsufficientFunds, match="insufficient USDT"):
        engine.place("carol", "BTC/USDT", BUY, LIMIT, D("10"), D("100"))  # needs 1001 incl. fee
    with pytest.raises(InsufficientFunds, match="insufficient BTC"):
        engine.place("alice", "BTC/USDT", SELL, LIMIT, D("1.001"), D("100"))
    assert bal(engine, "carol", "USDT") == (D("1000"), D("0"))
    assert engine.book("BTC/USDT", 5).bids == ()
    # exactly enough: 9.98 * 100 * 1.002 = 999.996
    engine.place("carol", "BTC/USDT", BUY, LIMIT, D("9.98"), D("100"))
    assert bal(engine, "carol", "USDT") == (D("0.004"), D("999.996"))


@pytest.mark.parametrize(
    ("amount", "price", "rule"),
    [
        (D("0.001"), D("100"), "minimum notional"),  # 0.1 USDT < 5
        (D("1"), D("100.005"), "tick size"),
        (D("0.0015"), D("10000"), "lot size"),
        (D("0"), D("100"), "positive"),
        (D("-1"), D("100"), "positive"),
        (D("NaN"), D("100"), "positive"),
        (D("1"), D("-100"), "positive"),
    ],
)
def test_market_rules_are_enforced(engine, amount, price, rule):
    with pytest.raises(OrderRejected, match=rule):
        engine.place("carol", "BTC/USDT", BUY, LIMIT, amount, price)


def test_min_amount_and_unknown_symbol(engine):
    engine.add_market(Market("ETH/USDT", "ETH", "USDT", D("0.01"), D("0.0001"), D("0.01"),
                             D("0"), D("0.001"), D("0.001")))  # fmt: skip
    with pytest.raises(OrderRejected, match="below the minimum amount"):
        engine.place("carol", "ETH/USDT", BUY, LIMIT, D("0.005"), D("100"))
    with pytest.raises(OrderRejected, match="does not list"):
        engine.place("carol", "XRP/USDT", BUY, LIMIT, D("1"), D("1"))


def test_client_order_ids_unique_among_open_orders(engine):
    first, _ = engine.place("carol", "BTC/USDT", BUY, LIMIT, D("1"), D("90"), "cid-1")
    with pytest.raises(OrderRejected, match="duplicate client order id"):
        engine.place("carol", "BTC/USDT", BUY, LIMIT, D("1"), D("91"), "cid-1")
    # another account may use the same id
    engine.deposit("dave", "USDT", D("1000"))
    engine.place("dave", "BTC/USDT", BUY, LIMIT, D("1"), D("90"), "cid-1")
    assert engine.get_order("carol", client_order_id="cid-1").id == first.id
    engine.cancel("carol", first.id)
    # once closed the id may be reused, and lookup finds the open one first
    again, _ = engine.place("carol", "BTC/USDT", BUY, LIMIT, D("1"), D("91"), "cid-1")
    assert engine.get_order("carol", client_order_id="cid-1").id == again.id
    assert engine.get_order("carol", client_order_id="nope") is None


def test_self_trade_expires_the_resting_order(engine):
    engine.deposit("alice", "USDT", D("1000"))
    resting, _ = engine.place("alice", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    order, fills = engine.place("alice", "BTC/USDT", BUY, LIMIT, D("1"), D("100"))
    assert fills == [] and order.status is OrderStatus.OPEN
    expired = engine.get_order("alice", resting.id)
    assert expired.status is OrderStatus.CANCELED and "self-trade" in expired.message
    assert bal(engine, "alice", "BTC") == (D("1"), D("0"))


def test_events_and_sequences(engine):
    events: list[object] = []
    engine.add_listener(events.append)
    assert engine.sequence("BTC/USDT") == 0
    engine.place("alice", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    engine.place("bob", "BTC/USDT", SELL, LIMIT, D("0.5"), D("100"))
    assert engine.sequence("BTC/USDT") == 2
    events.clear()
    engine.place("carol", "BTC/USDT", BUY, LIMIT, D("1.2"), D("100"))
    deltas = [e for e in events if isinstance(e, BookDelta)]
    updates = [e for e in events if isinstance(e, OrderUpdated)]
    assert deltas == [BookDelta("BTC/USDT", 3, 3, (), ((D("100"), D("0.3")),), "binance", 1000.0)]
    assert {u.account for u in updates} == {"alice", "bob", "carol"}
    carol = next(u for u in updates if u.account == "carol")
    assert carol.order.status is OrderStatus.FILLED and len(carol.fills) == 2

    events.clear()
    with engine.batch("BTC/USDT"):
        engine.place("carol", "BTC/USDT", BUY, LIMIT, D("1"), D("90"))
        engine.place("carol", "BTC/USDT", BUY, LIMIT, D("1"), D("91"))
    (delta,) = [e for e in events if isinstance(e, BookDelta)]
    assert (delta.first_sequence, delta.last_sequence) == (4, 5)
    assert delta.bids == ((D("91"), D("1")), (D("90"), D("1")))


def test_unlimited_quiet_account_and_amend(engine):
    engine.set_unlimited("mm", quiet=True)
    events: list[object] = []
    engine.add_listener(events.append)
    a = engine.place_quiet("mm", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    b = engine.place_quiet("mm", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    engine.place("alice", "BTC/USDT", SELL, LIMIT, D("1"), D("100"))
    engine.amend_remaining("mm", a, D("2"))  # increase: back of the queue
    engine.amend_remaining("mm", b, D("0.5"))  # decrease: keeps priority
    assert engine.book("BTC/USDT", 1).asks == ((D("100"), D("3.5")),)
    _, fills = engine.place("carol", "BTC/USDT", BUY, LIMIT, D("1.5"), D("100"))
    assert [(f.amount) for f in fills] == [D("0.5"), D("1")]
    assert engine.is_open(a) and not engine.is_open(b)
    assert not [e for e in events if isinstance(e, OrderUpdated) and e.account == "mm"]
    assert engine.balances("mm") == {}
    assert engine.closed_orders("mm") == []


def test_restoring_an_open_order_without_a_price_is_refused(engine):
    from aitbc_tui.domain import Order

    stored = Order("binance", "7", "", "BTC/USDT", BUY, MARKET, None, D("1"), D("0"),
                   OrderStatus.OPEN, 1000.0, 1000.0)  # fmt: skip
    with pytest.raises(OrderRejected, match="only a limit order with a price"):
        engine.restore_open_order(stored, D("0"), 1, "alice")
    assert engine.book("BTC/USDT", 10).bids == ()
