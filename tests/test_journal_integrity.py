"""The journal file is the record of real money: an existing file is verified before
anything writes to it, never recreated or given our schema; the read-only open and the
`journal` command never write or create; `journal check` backs up first. Real SQLite
files in a temporary data dir, and the real CLI in a child process."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from aitbc_tui.domain import Mode, OrderRequest, OrderType, Side
from aitbc_tui.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    backup_journal,
    check_journal,
)

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096


@pytest.fixture
def data_dir(isolated_dirs) -> Path:
    return isolated_dirs[0]


@pytest.fixture
def path(data_dir) -> Path:
    return data_dir / "journal.sqlite3"


def request(venue: str = "binance") -> OrderRequest:
    return OrderRequest(venue, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal("50000.01"))


def write_orders(path: Path, count: int = 1, message: str = "price too far") -> None:
    with Journal(path) as journal:
        for _ in range(count):
            coid = journal.record_intent(request(), Mode.LIVE)
            journal.mark_rejected(coid, message)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def refused(path: Path, *, read_only: bool = False) -> str:
    before = digest(path)
    with pytest.raises(JournalError) as info:
        Journal(path, read_only=read_only)
    assert digest(path) == before  # nothing was written
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "aitbc_tui", *argv],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


# ---- creating ---------------------------------------------------------------------------


def test_a_new_journal_is_created_complete_and_private(path):
    write_orders(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == 1
    db.close()
    assert not [n for n in files_in(path.parent) if ".new-" in n]  # the staging file is gone


def test_reopening_our_journal_keeps_its_orders(path):
    write_orders(path, 2)
    with Journal(path) as journal:
        assert len(journal.orders()) == 2


def test_a_dangling_symlink_is_not_followed_to_create_a_journal(path, tmp_path):
    path.parent.mkdir(parents=True)
    target = tmp_path / "elsewhere.sqlite3"
    path.symlink_to(target)
    with pytest.raises(JournalError, match="cannot open journal"):
        Journal(path)
    assert not target.exists() and path.is_symlink()


# ---- refusing ---------------------------------------------------------------------------


def test_a_zero_byte_journal_is_refused_not_recreated(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    message = refused(path)
    assert "is empty (0 bytes)" in message and "aitbc-tui journal check" in message and "move the file aside" in message
    assert path.stat().st_size == 0 and files_in(path.parent) == ["journal.sqlite3"]


def test_a_file_that_is_not_sqlite_is_refused(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"orders, fills and my notes\n" * 100)
    assert "is not an SQLite database" in refused(path)


def test_another_programs_sqlite_file_gets_no_schema_added(path):
    path.parent.mkdir(parents=True)
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    other.commit()
    other.close()
    message = refused(path)
    assert "is not an aitbc-tui journal (schema version 0, tables: photos)" in message
    assert "move it aside" in message
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["photos"]
    db.close()


def test_a_foreign_file_with_tables_named_like_ours_is_refused(path):
    path.parent.mkdir(parents=True)
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
    other.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
    other.commit()
    other.close()
    assert "has an unexpected orders table (missing " in refused(path)


def test_a_dropped_table_is_refused_not_recreated(path):
    write_orders(path)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE events")
    db.commit()
    db.close()
    assert "has no events table" in refused(path)
    assert "has no events table" in refused(path, read_only=True)
    db = sqlite3.connect(path)
    assert "events" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    db.close()


def test_an_extra_column_is_refused(path):
    write_orders(path)
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE orders ADD COLUMN note TEXT")
    db.commit()
    db.close()
    assert "has an unexpected orders table (unexpected note)" in refused(path)


def test_a_newer_schema_version_is_refused(path):
    write_orders(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    message = refused(path)
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this build's {SCHEMA_VERSION}" in message


def test_our_tables_with_schema_version_zero_are_refused(path):
    write_orders(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 0")
    db.close()
    assert "has an unknown schema (schema version 0" in refused(path)


@pytest.mark.parametrize("page", [2, 5])
def test_corrupted_pages_are_refused(path, page):
    write_orders(path, 300, message="x" * 200)  # ~75 pages
    data = bytearray(path.read_bytes())
    data[PAGE * (page - 1) : PAGE * (page - 1) + 12] = b"\xff" * 12  # a b-tree page header
    path.write_bytes(bytes(data))
    assert "is damaged" in refused(path)
    assert "is damaged" in refused(path, read_only=True)


def test_a_truncated_journal_is_refused(path):
    write_orders(path, 300, message="x" * 200)
    path.write_bytes(path.read_bytes()[: PAGE * 3])
    assert "is damaged" in refused(path)


def test_a_fifo_at_the_journal_path_is_refused_without_hanging(path):
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    with pytest.raises(JournalError, match="is not a regular file"):
        Journal(path)
    with pytest.raises(JournalError, match="is not a regular file"):
        Journal(path, read_only=True)


def test_a_version_1_journal_is_verified_as_version_1_and_upgraded(path):
    if SCHEMA_VERSION == 1:
        pytest.skip("no older schema to upgrade from")
    # Version 1: today's tables without the columns the migrations added (events.trade_id).
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE orders (client_order_id TEXT PRIMARY KEY, venue TEXT NOT NULL, mode TEXT NOT NULL,"
        " symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, amount TEXT NOT NULL, price TEXT,"
        " state TEXT NOT NULL, venue_order_id TEXT, filled TEXT NOT NULL DEFAULT '0',"
        " message TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL);"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,"
        " client_order_id TEXT NOT NULL REFERENCES orders(client_order_id), venue TEXT NOT NULL,"
        " venue_order_id TEXT, price TEXT, amount TEXT, fee TEXT, fee_currency TEXT NOT NULL DEFAULT '',"
        " message TEXT NOT NULL DEFAULT '');"
        "INSERT INTO orders VALUES ('c1', 'binance', 'live', 'BTC/USDT', 'buy', 'limit', '0.1', '50000',"
        " 'rejected', NULL, '0', 'no', 1.0, 2.0);"
        "INSERT INTO events (at, kind, client_order_id, venue) VALUES (1.0, 'intent', 'c1', 'binance');"
        "PRAGMA user_version = 1;"
    )
    db.close()
    with pytest.raises(JournalError, match="start the dashboard once to upgrade it"):
        Journal(path, read_only=True)
    with Journal(path) as journal:
        assert [o.client_order_id for o in journal.orders()] == ["c1"]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


# ---- read only --------------------------------------------------------------------------


def test_read_only_never_creates_a_journal(path):
    with pytest.raises(JournalError, match="no journal at"):
        Journal(path, read_only=True)
    assert not path.parent.exists()


def test_read_only_writes_nothing_and_creates_no_side_files(path):
    write_orders(path, 3)
    before, mtime = digest(path), path.stat().st_mtime_ns
    with Journal(path, read_only=True) as journal:
        assert len(journal.events()) == 6
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            journal.record_intent(request(), Mode.LIVE)
    assert digest(path) == before and path.stat().st_mtime_ns == mtime
    assert files_in(path.parent) == ["journal.sqlite3"]


def test_read_only_sees_what_a_live_writer_committed(path):
    with Journal(path) as writer:
        coid = writer.record_intent(request(), Mode.LIVE)  # the writer keeps its -wal open
        with Journal(path, read_only=True) as reader:
            assert [o.client_order_id for o in reader.orders()] == [coid]
        writer.mark_rejected(coid, "later")
        with Journal(path, read_only=True) as reader:
            assert reader.order(coid).message == "later"


# ---- check and backup -------------------------------------------------------------------


def test_check_journal_counts_and_backup_is_an_identical_private_copy(path):
    write_orders(path, 2)
    assert check_journal(path) == (SCHEMA_VERSION, 2, 4)
    backup = backup_journal(path)
    assert backup.name.startswith("journal.sqlite3.bak-") and backup.name.endswith("Z")
    assert digest(backup) == digest(path) and oct(backup.stat().st_mode & 0o777) == "0o600"
    second = backup_journal(path)  # same second: never over the first
    assert second != backup and second.exists()


def test_backup_includes_the_wal_of_a_running_writer(path):
    with Journal(path) as writer:
        writer.record_intent(request(), Mode.LIVE)
        backup = backup_journal(path)
        assert backup.with_name(backup.name + "-wal").exists()
    with Journal(backup, read_only=True) as copy:
        assert len(copy.orders()) == 1


def test_check_journal_finds_events_without_their_order(path):
    write_orders(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM orders")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="has 2 events of orders it does not contain"):
        check_journal(path)


# ---- the real CLI -----------------------------------------------------------------------


def test_cli_journal_check_ok_makes_a_backup_exit_0(path):
    write_orders(path, 2)
    result = run_cli("journal", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok: journal {path}: schema version {SCHEMA_VERSION}, 2 orders, 4 events")
    backups = [n for n in files_in(path.parent) if n.startswith("journal.sqlite3.bak-")]
    assert len(backups) == 1 and digest(path.parent / backups[0]) == digest(path)
    assert f"backup: {path.parent / backups[0]}" in result.stdout


def test_cli_journal_check_on_a_damaged_journal_exit_2_backup_first(path):
    write_orders(path, 300, message="x" * 200)
    data = bytearray(path.read_bytes())
    data[PAGE * 4 : PAGE * 4 + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))
    before = digest(path)
    result = run_cli("journal", "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"problem: journal {path} is damaged") and lines[1].startswith("backup: ")
    backup = Path(lines[1].removeprefix("backup: "))
    assert digest(backup) == before == digest(path)


def test_cli_journal_check_without_a_journal_creates_nothing(data_dir):
    result = run_cli("journal", "check")
    assert result.returncode == 0 and "nothing to check" in result.stdout
    assert not data_dir.exists() or "journal.sqlite3" not in files_in(data_dir)


def test_cli_journal_on_a_zero_byte_journal_is_one_line_exit_2_and_writes_nothing(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    result = run_cli("journal")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("aitbc-tui: error: journal ")
    assert "is empty (0 bytes)" in result.stderr and "aitbc-tui journal check" in result.stderr
    assert path.stat().st_size == 0 and files_in(path.parent) == ["journal.sqlite3"]


def test_cli_journal_reads_without_writing(path):
    write_orders(path, 1)
    before, mtime = digest(path), path.stat().st_mtime_ns
    result = run_cli("journal", "--csv")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3
    assert digest(path) == before and path.stat().st_mtime_ns == mtime
    assert files_in(path.parent) == ["journal.sqlite3"]


@pytest.mark.parametrize("since", ["99999999999999999999d", "3000000d", "99999999w"])
def test_cli_journal_since_out_of_range_is_one_line_exit_2(path, since):
    write_orders(path)
    result = run_cli("journal", "--since", since)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("aitbc-tui: error: journal: argument --since")


def test_cli_journal_prints_venue_text_without_escape_sequences(path):
    hostile = "\x1b[2J\x1b[Hforged\nline\x1b]0;owned\x07 \u202eevil\x9b31m"
    with Journal(path) as journal:
        coid = journal.record_intent(
            OrderRequest(
                "bin\x1b[31mance",
                "BTC/\x1b[5mUSDT",
                Side.BUY,
                OrderType.LIMIT,
                Decimal("1"),
                Decimal("2"),
                client_order_id="id\x1b[8m1",
            ),
            Mode.LIVE,
        )
        journal.mark_rejected(coid, hostile)
    for argv in (("journal",), ("journal", "--csv")):
        result = run_cli(*argv)
        assert result.returncode == 0, result.stderr
        assert not any(ord(ch) < 0x20 and ch != "\n" or 0x7F <= ord(ch) <= 0x9F for ch in result.stdout)
        assert "\u202e" not in result.stdout
        assert "forged line evil" in result.stdout and "binance" in result.stdout and "id1" in result.stdout
        assert len(result.stdout.splitlines()) == 3  # header + two events: no forged line
