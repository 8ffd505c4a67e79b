"""The journal's arbitrage groups (schema 3): the group id on both legs' intents, the group's
plan and resolution, the upgrade from schema 2, and `aitbc-tui journal --group ID`."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D

from aitbc_tui.arb_desk import journal_outcome
from aitbc_tui.arb_exec import GroupState
from aitbc_tui.cli import main
from aitbc_tui.domain import Fill, Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from aitbc_tui.journal import SCHEMA_VERSION, Journal, JournalGroup, JournalState, default_journal_path

GID = "arb-0123456789ab"


def leg(venue: str, side: Side, price: str, coid: str) -> OrderRequest:
    return OrderRequest(venue, "ETH/USDT", side, OrderType.LIMIT, D("0.5"), D(price), coid, TimeInForce.IOC,
                        group_id=GID)  # fmt: skip


def filled(journal: Journal, request: OrderRequest, fee: str) -> None:
    journal.mark_sent(request.client_order_id)
    order = Order(request.venue, "7", request.client_order_id, request.symbol, request.side, request.type,
                  request.price, request.amount, D("0"), OrderStatus.OPEN, 1.0, 1.0)  # fmt: skip
    journal.mark_ack(request.client_order_id, order)
    journal.record_fill(request.client_order_id, Fill(request.venue, "7", request.symbol, request.side,
                        request.price or D(0), request.amount, D(fee), "USDT", 2.0, False, "t1"))  # fmt: skip


def journal_a_group(journal: Journal) -> None:
    journal.record_group(JournalGroup(GID, 1.0, "sandbox", "ETH/USDT", "kraken", "coinbase", D("0.5"), D("3400.10"),
                                      D("3499.90"), D("32.6001"), D("191.00"), "", None, ""))  # fmt: skip
    buy, sell = leg("kraken", Side.BUY, "3400.10", "c-buy"), leg("coinbase", Side.SELL, "3499.90", "c-sell")
    journal.record_intent(buy, "sandbox")
    journal.record_intent(sell, "sandbox")
    filled(journal, buy, "6.8002")
    filled(journal, sell, "10.4997")


def test_both_legs_carry_the_group_id_and_the_group_its_plan_and_resolution(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal_a_group(journal)
        journal.record_intent(OrderRequest("kraken", "ETH/USDT", Side.BUY, OrderType.LIMIT, D("1"), D("1"), "other"),
                              "sandbox")  # fmt: skip
        assert [(o.client_order_id, o.group_id) for o in journal.orders(group_id=GID)] == [
            ("c-buy", GID), ("c-sell", GID)]  # fmt: skip
        assert journal.order("other").group_id == ""
        assert [g.group_id for g in journal.groups(unresolved=True)] == [GID]
        # 0.5 @ 3,400.10 + 6.8002 fee against 0.5 @ 3,499.90 − 10.4997: 32.6001 on 1,706.8502 = 191.00 bps.
        outcome = journal_outcome(journal, GID)
        assert outcome is not None and (outcome.state, outcome.realised_net_quote) == (GroupState.BALANCED,
                                                                                       D("32.6001"))  # fmt: skip
        assert outcome.realised_net_bps is not None and outcome.realised_net_bps.quantize(D("0.01")) == D("191.00")
        journal.resolve_group(GID, "balanced", "both legs filled")
        record = journal.group(GID)
        assert record is not None and (record.resolution, record.message, record.expected_net_quote) == (
            "balanced", "both legs filled", D("32.6001"))  # fmt: skip
        assert journal.groups(unresolved=True) == []
        assert [e.client_order_id for e in journal.group_events(GID)][:2] == ["c-buy", "c-sell"]  # intents first


def test_a_schema_2_journal_is_upgraded_keeping_its_orders(tmp_path):
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE orders (client_order_id TEXT PRIMARY KEY, venue TEXT NOT NULL, mode TEXT NOT NULL,"
        " symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, amount TEXT NOT NULL, price TEXT,"
        " state TEXT NOT NULL, venue_order_id TEXT, filled TEXT NOT NULL DEFAULT '0',"
        " message TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL);"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,"
        " client_order_id TEXT NOT NULL REFERENCES orders(client_order_id), venue TEXT NOT NULL,"
        " venue_order_id TEXT, price TEXT, amount TEXT, fee TEXT, fee_currency TEXT NOT NULL DEFAULT '',"
        " message TEXT NOT NULL DEFAULT '', trade_id TEXT);"
        "INSERT INTO orders VALUES ('old', 'kraken', 'live', 'ETH/USDT', 'buy', 'limit', '1', '100', 'open',"
        " '7', '0', '', 1.0, 1.0);"
        "PRAGMA user_version = 2;"
    )
    db.close()
    with Journal(path) as journal:
        old = journal.order("old")
        assert old is not None and (old.state, old.group_id) == (JournalState.OPEN, "")
        journal_a_group(journal)
        assert len(journal.orders(group_id=GID)) == 2
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3


def test_journal_group_prints_the_plan_the_realised_net_and_only_its_events(capsys):
    with Journal(default_journal_path()) as journal:
        journal_a_group(journal)
        journal.record_intent(OrderRequest("kraken", "ETH/USDT", Side.BUY, OrderType.LIMIT, D("1"), D("1"), "other"),
                              "sandbox")  # fmt: skip
    assert main(["journal", "--group", GID]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == (f"group {GID}: ETH/USDT 0.5 ETH: buy on kraken at ≤ 3400.10, sell on coinbase at ≥ 3499.90 "
                        "(sandbox)")  # fmt: skip
    assert lines[1] == ("expected net 32.60010000 USDT (191.00 bps); realised net 32.60010000 USDT (191.00 bps)")
    assert lines[2] == "state balanced: bought 0.5, sold 0.5, unhedged 0.0 ETH; resolution: none yet"
    assert "c-buy" in out and "c-sell" in out and "other" not in out
    assert main(["journal", "--group", "arb-nope"]) == 2
    assert "no arbitrage group 'arb-nope'" in capsys.readouterr().err
