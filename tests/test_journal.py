"""The order journal: states, ordering, Decimal exactness, client ids, crash safety."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC
from decimal import Decimal

import pytest

from aitbc_tui.domain import Fill, Mode, Order, OrderRequest, OrderStatus, OrderType, Side
from aitbc_tui.journal import (
    EventKind,
    Journal,
    JournalError,
    JournalState,
    check_journal,
    default_journal_path,
    new_client_order_id,
)


class Clock:
    def __init__(self, t=1_700_000_000.0):
        self.t = t

    def __call__(self):
        self.t += 1
        return self.t


def _req(venue="binance", amount="0.1", price="50000.01", coid=""):
    return OrderRequest(
        venue, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal(amount), None if price is None else Decimal(price), coid
    )


def _order(coid, status=OrderStatus.OPEN, filled="0", oid="V1"):
    return Order(
        "binance",
        oid,
        coid,
        "BTC/USDT",
        Side.BUY,
        OrderType.LIMIT,
        Decimal("50000.01"),
        Decimal("0.1"),
        Decimal(filled),
        status,
        0.0,
        0.0,
    )


def _fill(amount, price="50000.01", fee="0.0000001"):
    return Fill("binance", "V1", "BTC/USDT", Side.BUY, Decimal(price), Decimal(amount), Decimal(fee), "BTC", 0.0, True)


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "journal.sqlite3", clock=Clock()) as j:
        yield j


# ---- client order ids -----------------------------------------------------------------


def test_client_order_id_formats():
    for _ in range(50):
        b = new_client_order_id("binance")
        assert b.startswith("aitbc-") and len(b) <= 36 and re.fullmatch(r"[.A-Za-z0-9:/_-]+", b)
        uuid.UUID(new_client_order_id("kraken"))
        uuid.UUID(new_client_order_id("coinbase"))
        uuid.UUID(new_client_order_id("coinbaseexchange"))
        other = new_client_order_id("okx")
        assert other.isalnum() and len(other) <= 32
    assert len({new_client_order_id("binance") for _ in range(1000)}) == 1000


# ---- lifecycle ------------------------------------------------------------------------


def test_pragmas_and_file_mode(journal):
    db = sqlite3.connect(journal.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal.synchronous == 2  # FULL
    journal.record_intent(_req(), Mode.LIVE)
    for suffix in ("", "-wal", "-shm"):  # SQLite gives its side files the database's mode
        assert oct(os.stat(f"{journal.path}{suffix}").st_mode & 0o777) == "0o600"


def test_intent_generates_id_and_is_unresolved(journal):
    coid = journal.record_intent(_req(), Mode.LIVE)
    assert coid.startswith("aitbc-")
    [order] = journal.unresolved()
    assert order.client_order_id == coid and order.state is JournalState.INTENT and order.mode == "live"
    custom = journal.record_intent(_req(coid="my-id-1"), "testnet", exchange_id="kraken")
    assert custom == "my-id-1"
    with pytest.raises(JournalError, match="already journaled"):
        journal.record_intent(_req(coid="my-id-1"), Mode.LIVE)
    assert uuid.UUID(journal.record_intent(_req(venue="kraken-main"), Mode.LIVE, exchange_id="kraken"))


def test_full_lifecycle_and_event_order(journal):
    coid = journal.record_intent(_req(), Mode.LIVE)
    journal.mark_sent(coid)
    assert journal.order(coid).state is JournalState.SENT
    journal.mark_ack(coid, _order(coid))
    assert journal.order(coid).state is JournalState.OPEN and journal.order(coid).venue_order_id == "V1"
    journal.record_fill(coid, _fill("0.04"))
    assert journal.order(coid).state is JournalState.OPEN
    journal.record_fill(coid, _fill("0.06"))
    final = journal.order(coid)
    assert final.state is JournalState.FILLED and final.filled == Decimal("0.10")
    assert journal.unresolved() == []
    kinds = [e.kind for e in journal.events()]
    assert kinds == [EventKind.INTENT, EventKind.SENT, EventKind.ACK, EventKind.FILL, EventKind.FILL]
    seqs = [e.seq for e in journal.events()]
    assert seqs == sorted(seqs)
    # a late ack or cancel does not reopen a filled order
    journal.mark_ack(coid, _order(coid, OrderStatus.OPEN))
    journal.mark_canceled(coid)
    assert journal.order(coid).state is JournalState.FILLED


def test_reject_unknown_cancel_and_reconcile(journal):
    rejected = journal.record_intent(_req(), Mode.LIVE)
    journal.mark_sent(rejected)
    journal.mark_rejected(rejected, "insufficient balance")
    o = journal.order(rejected)
    assert o.state is JournalState.REJECTED and o.message == "insufficient balance"

    lost = journal.record_intent(_req(), Mode.LIVE)
    journal.mark_sent(lost)
    journal.mark_unknown(lost, TimeoutError("request timed out"))
    assert journal.order(lost).state is JournalState.UNKNOWN

    canceled = journal.record_intent(_req(), Mode.LIVE)
    journal.mark_ack(canceled, _order(canceled))
    journal.mark_canceled(canceled)
    assert journal.order(canceled).state is JournalState.CANCELED

    never = journal.record_intent(_req(), Mode.LIVE)
    assert {o.client_order_id for o in journal.unresolved()} == {lost, never}

    journal.reconcile(lost, _order(lost, OrderStatus.FILLED, filled="0.1", oid="V9"))
    journal.reconcile(never, None)
    assert journal.unresolved() == []
    assert journal.order(lost).state is JournalState.FILLED and journal.order(lost).venue_order_id == "V9"
    assert journal.order(never).state is JournalState.NOT_PLACED
    assert journal.events()[-1].kind is EventKind.RECONCILED
    with pytest.raises(JournalError, match="no journaled order"):
        journal.mark_sent("nope")


def test_decimal_exactness(journal):
    amount = "0.123456789012345678901234567890"
    price = "12345678901234567890.000000000000000001"
    coid = journal.record_intent(_req(amount=amount, price=price), Mode.LIVE)
    journal.record_fill(coid, _fill("0.1", price="0.1", fee="0.2"))
    journal.record_fill(coid, _fill("0.000000000000000000000000000001", price="0.3", fee="0.1"))
    o = journal.order(coid)
    assert o.amount == Decimal(amount) and str(o.amount) == amount
    assert o.price == Decimal(price) and str(o.price) == price
    assert o.filled == Decimal("0.100000000000000000000000000001")
    fees = [e.fee for e in journal.events() if e.kind is EventKind.FILL]
    assert sum(fees, Decimal(0)) == Decimal("0.3")  # 0.1 + 0.2 == 0.3 exactly
    market = journal.record_intent(_req(price=None), Mode.PAPER)
    assert journal.order(market).price is None
    with pytest.raises(JournalError, match="non-finite"):
        journal.record_intent(_req(amount="NaN"), Mode.LIVE)


def test_filters_and_reopen(tmp_path):
    path = tmp_path / "j.sqlite3"
    clock = Clock()
    with Journal(path, clock=clock) as j:
        a = j.record_intent(_req(venue="binance"), Mode.LIVE)
        cutoff = clock.t + 0.5
        b = j.record_intent(_req(venue="kraken"), Mode.LIVE, exchange_id="kraken")
        j.mark_sent(b)
    with Journal(path, clock=clock) as j:  # reopened: everything is still there
        assert [e.client_order_id for e in j.events(venue="kraken")] == [b, b]
        assert {e.client_order_id for e in j.events(since=cutoff)} == {b}
        assert [o.client_order_id for o in j.orders(venue="binance")] == [a]
        assert [o.client_order_id for o in j.unresolved(venue="kraken")] == [b]


def test_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("AITBC_DATA_DIR", str(tmp_path / "data"))
    assert default_journal_path() == tmp_path / "data" / "journal.sqlite3"
    with Journal() as j:
        assert j.path == default_journal_path()


# ---- crash safety ---------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys, time
    from decimal import Decimal
    from aitbc_tui.domain import Mode, OrderRequest, OrderType, Side
    from aitbc_tui.journal import Journal

    j = Journal(sys.argv[1])
    n = int(sys.argv[2])
    i = 0
    while n == 0 or i < n:
        coid = j.record_intent(OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT,
                                            Decimal("0.001"), Decimal("1")), Mode.LIVE)
        print(coid, flush=True)  # only after the commit: the caller sends after this point
        i += 1
    time.sleep(60)  # "sending": killed here
    """
)


def _child(path, n):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([repo, *sys.path]))
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(n)], stdout=subprocess.PIPE, text=True, env=env
    )


def test_sigkill_after_intent_leaves_it_unresolved(tmp_path):
    path = tmp_path / "journal.sqlite3"
    proc = _child(path, 1)
    coid = proc.stdout.readline().strip()
    assert coid, "child printed no client order id"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with Journal(path) as j:
        [order] = j.unresolved()
        assert order.client_order_id == coid and order.state is JournalState.INTENT


def test_sigkill_mid_write_loses_nothing_acknowledged(tmp_path):
    path = tmp_path / "journal.sqlite3"
    proc = _child(path, 0)  # writes intents as fast as it can
    printed = [proc.stdout.readline().strip() for _ in range(200)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    printed += [line.strip() for line in proc.stdout.read().splitlines()]
    check_journal(path)  # the full check (integrity, schema, no orphan events) passes
    with Journal(path) as j:
        stored = {o.client_order_id for o in j.unresolved()}
    assert set(printed) <= stored
    assert len(stored) - len(printed) <= 1  # at most the one committed but not yet printed


# ---- `journal` command ------------------------------------------------------------------


def _run_journal(argv, capsys):
    import argparse

    from aitbc_tui.commands import journal as cmd

    parser = argparse.ArgumentParser(prog="aitbc-tui")
    cmd.register(parser.add_subparsers(dest="command"))
    try:
        args = parser.parse_args(["journal", *argv])
        code = args.func(args)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AITBC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_journal_command_empty_does_not_create_file(data_dir, capsys):
    code, out, _ = _run_journal([], capsys)
    assert code == 0 and "no journaled order events" in out
    assert not (data_dir / "journal.sqlite3").exists()
    code, out, _ = _run_journal(["--csv"], capsys)
    assert code == 0 and out.splitlines() == [
        "time,venue,client_order_id,event,state,symbol,side,price,amount,filled,fee,fee_currency,venue_order_id,"
        "trade_id,message"
    ]


def test_journal_command_table_csv_and_filters(data_dir, capsys):
    import csv
    import io
    import time as _time

    with Journal(clock=lambda: _time.time() - 3 * 86400) as j:  # three days ago
        j.record_intent(_req(venue="kraken"), Mode.LIVE, exchange_id="kraken")
    with Journal() as j:
        coid = j.record_intent(_req(), Mode.LIVE)
        j.mark_sent(coid)
        j.mark_rejected(coid, "price, too far")
    code, out, _ = _run_journal([], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("TIME") and "MESSAGE" in lines[0] and len(lines) == 5
    assert "50000.01" in out and "price, too far" in out
    code, out, _ = _run_journal(["--csv", "--venue", "binance"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["event"] for r in rows] == ["intent", "sent", "rejected"]
    assert rows[-1]["message"] == "price, too far" and rows[0]["amount"] == "0.1"
    assert rows[0]["time"].endswith("Z")
    code, out, _ = _run_journal(["--csv", "--since", "1d"], capsys)
    assert len(list(csv.DictReader(io.StringIO(out)))) == 3
    code, out, _ = _run_journal(["--csv", "--since", "2000-01-01"], capsys)
    assert len(list(csv.DictReader(io.StringIO(out)))) == 4


@pytest.mark.parametrize("bad", ["yesterday", "1y", "-1h", "2024-13-01"])
def test_journal_command_bad_since(data_dir, capsys, bad):
    code, _, err = _run_journal([f"--since={bad}"], capsys)
    assert code == 2 and "--since must be an ISO date/time" in err


def test_parse_since():
    from datetime import datetime

    from aitbc_tui.commands.journal import parse_since

    now = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
    assert parse_since("1h", now) == datetime(2024, 5, 2, 11, 0, tzinfo=UTC)
    assert parse_since("2d", now) == datetime(2024, 4, 30, 12, 0, tzinfo=UTC)
    assert parse_since("2024-05-01", now) == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T10:00:00+02:00", now).timestamp() == datetime(2024, 5, 1, 8, tzinfo=UTC).timestamp()
