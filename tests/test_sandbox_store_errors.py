"""A damaged sandbox database is one line naming the file and --reset-sandbox (never a
traceback or a silent reset); --reset-sandbox keeps the old file as a .bak copy. Real
SQLite files, open_world as the venues call it, and the real CLI."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from aitbc_tui.errors import UserError
from aitbc_tui.sim import open_world, reset_sandbox, sandbox_path
from aitbc_tui.sim.store import SandboxStore, SandboxStoreError
from aitbc_tui.sim.world import OPERATOR

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096


@pytest.fixture
def data_dir(isolated_dirs) -> Path:
    return isolated_dirs[0]


def make_sandbox(data_dir: Path) -> Path:
    world = open_world(3, data_dir=data_dir)
    world.create_pair("FOO", "USDT", "coinbase", "1", 3, 0)
    world.close()
    return sandbox_path(data_dir)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(data_dir: Path) -> str:
    path = sandbox_path(data_dir)
    before = digest(path)
    with pytest.raises(SandboxStoreError) as info:
        open_world(3, data_dir=data_dir)
    assert digest(path) == before  # not reset, not repaired
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "--reset-sandbox" in message
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


def test_the_error_is_a_user_error():
    assert issubclass(SandboxStoreError, UserError)


def test_random_bytes_are_refused(data_dir):
    data_dir.mkdir(parents=True)
    sandbox_path(data_dir).write_bytes(os.urandom(3000))
    assert "is not an SQLite database" in refused(data_dir)


def test_damaged_pages_are_refused(data_dir):
    path = make_sandbox(data_dir)
    data = bytearray(path.read_bytes())
    assert len(data) >= 2 * PAGE
    data[PAGE : PAGE + 12] = b"\xff" * 12  # page 2's b-tree header
    path.write_bytes(bytes(data))
    assert "is damaged" in refused(data_dir)


def test_a_dropped_balances_table_is_refused_not_reset(data_dir):
    path = make_sandbox(data_dir)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE balances")
    db.commit()
    db.close()
    assert "is not a complete sandbox (no balances table)" in refused(data_dir)


def test_another_programs_database_is_refused(data_dir):
    data_dir.mkdir(parents=True)
    db = sqlite3.connect(sandbox_path(data_dir))
    db.execute("CREATE TABLE photos (id INTEGER)")
    db.commit()
    db.close()
    assert "no balances, fills, meta, orders, pairs table" in refused(data_dir)


def test_a_malformed_row_is_one_line_not_a_traceback(data_dir):
    path = make_sandbox(data_dir)
    db = sqlite3.connect(path)
    db.execute("UPDATE balances SET free = 'lots'")
    db.commit()
    db.close()
    assert "has a malformed row (InvalidOperation" in refused(data_dir)


def test_a_directory_at_the_path_is_refused(data_dir):
    sandbox_path(data_dir).mkdir(parents=True)
    with pytest.raises(SandboxStoreError, match="is not a regular file"):
        SandboxStore.open(data_dir)


def test_an_empty_file_holds_nothing_and_starts_a_new_sandbox(data_dir):
    data_dir.mkdir(parents=True)
    sandbox_path(data_dir).write_bytes(b"")
    world = open_world(3, data_dir=data_dir)
    assert world.engines["kraken"].balances(OPERATOR)["USDT"].free == D("100000")
    world.close()


def test_reset_keeps_a_copy_of_the_old_file(data_dir):
    path = make_sandbox(data_dir)
    before = digest(path)
    backup = reset_sandbox(data_dir, now=datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    assert backup == path.with_name("sandbox.sqlite3.bak-20240501T120000Z")
    assert digest(backup) == before and not path.exists()
    again = make_sandbox(data_dir)
    second = reset_sandbox(data_dir, now=datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    assert second == path.with_name("sandbox.sqlite3.bak-20240501T120000Z-1") and backup.exists()
    assert not again.exists()
    assert reset_sandbox(data_dir) is None  # nothing left to reset


def test_reset_then_open_after_damage_starts_fresh(data_dir):
    data_dir.mkdir(parents=True)
    sandbox_path(data_dir).write_bytes(b"garbage" * 500)
    world = open_world(3, reset=True, data_dir=data_dir)
    assert "FOO/USDT" not in world.engines["coinbase"].markets
    world.close()
    backups = [p for p in data_dir.iterdir() if p.name.startswith("sandbox.sqlite3.bak-")]
    assert len(backups) == 1 and backups[0].read_bytes() == b"garbage" * 500


def test_cli_corrupt_sandbox_is_one_line_exit_2_and_reset_sandbox_recovers(data_dir):
    data_dir.mkdir(parents=True)
    path = sandbox_path(data_dir)
    path.write_bytes(b"\x00not a database" * 300)
    result = run_cli("health")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"aitbc-tui: error: sandbox database {path} is not an SQLite database")
    assert "--reset-sandbox" in result.stderr
    result = run_cli("--reset-sandbox", "health")
    assert result.returncode == 0, result.stderr
    backups = [p for p in data_dir.iterdir() if p.name.startswith("sandbox.sqlite3.bak-")]
    assert len(backups) == 1 and backups[0].read_bytes() == b"\x00not a database" * 300
