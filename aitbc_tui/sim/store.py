"""Sandbox state in SQLite (WAL): operator balances, orders, fills, added pairs, a few meta values.

Only persisted accounts (the operator and the liquidity provider) are stored; the market
maker and taker flow are rebuilt from the seed on every start.

An existing file is checked on open (an SQLite database with our tables, SQLite's
quick_check) and never silently reset: a damaged one is a ``SandboxStoreError`` (one
line naming the file and ``--reset-sandbox``), and ``--reset-sandbox`` keeps the old
file as ``sandbox.sqlite3.bak-<UTC time>``.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from aitbc_tui import paths
from aitbc_tui.domain import Balance, Fill, Market, Order, OrderStatus, OrderType, Side
from aitbc_tui.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])

FILE_NAME = "sandbox.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (
    venue TEXT NOT NULL, account TEXT NOT NULL, asset TEXT NOT NULL,
    free TEXT NOT NULL, used TEXT NOT NULL,
    PRIMARY KEY (venue, account, asset));
CREATE TABLE IF NOT EXISTS orders (
    venue TEXT NOT NULL, id TEXT NOT NULL, account TEXT NOT NULL, client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, price TEXT, amount TEXT NOT NULL,
    filled TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    average_price TEXT, fee TEXT NOT NULL, fee_currency TEXT NOT NULL, message TEXT NOT NULL,
    reserved TEXT NOT NULL, priority INTEGER NOT NULL,
    PRIMARY KEY (venue, id));
CREATE INDEX IF NOT EXISTS orders_open ON orders (venue, account, status);
CREATE TABLE IF NOT EXISTS fills (
    venue TEXT NOT NULL, account TEXT NOT NULL, order_id TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, price TEXT NOT NULL, amount TEXT NOT NULL, fee TEXT NOT NULL,
    fee_currency TEXT NOT NULL, timestamp REAL NOT NULL, is_maker INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (
    venue TEXT NOT NULL, symbol TEXT NOT NULL, base TEXT NOT NULL, quote TEXT NOT NULL,
    tick_size TEXT NOT NULL, lot_size TEXT NOT NULL, min_amount TEXT NOT NULL,
    min_notional TEXT NOT NULL, maker_fee TEXT NOT NULL, taker_fee TEXT NOT NULL,
    PRIMARY KEY (venue, symbol));
"""
_TABLES = frozenset({"meta", "balances", "orders", "fills", "pairs"})


class SandboxStoreError(UserError):
    """The sandbox database cannot be used (damaged, not ours, unwritable); str() is one
    line naming the file and the way out (``--reset-sandbox``)."""


_SQLITE_HEADER = b"SQLite format 3\x00"
_WAY_OUT = "start with --reset-sandbox to begin a new sandbox (the old file is kept as a .bak copy)"


def _store_error(path: Path, problem: str) -> SandboxStoreError:
    return SandboxStoreError(f"sandbox database {path} {' '.join(problem.split())}; {_WAY_OUT}")


def sandbox_path(data_dir: Path | None = None) -> Path:
    return (data_dir if data_dir is not None else paths.data_dir()) / FILE_NAME


def reset_sandbox(data_dir: Path | None = None, now: datetime | None = None) -> Path | None:
    """``--reset-sandbox``: move the sandbox database (and its -wal) aside to
    ``sandbox.sqlite3.bak-<UTC time>`` so the next open starts fresh; the backup's path,
    or None when there was nothing to reset."""
    path = sandbox_path(data_dir)
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    if not os.path.lexists(path):
        for leftover in (wal, shm):  # without their database they are meaningless
            if os.path.lexists(leftover):
                leftover.unlink()
        return None
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    attempt = 0
    while True:
        backup = path.with_name(f"{path.name}.bak-{stamp}" + (f"-{attempt}" if attempt else ""))
        if not os.path.lexists(backup) and not os.path.lexists(backup.with_name(backup.name + "-wal")):
            break
        attempt += 1
    try:
        os.rename(path, backup)
        if os.path.lexists(wal):
            os.rename(wal, backup.with_name(backup.name + "-wal"))
        if os.path.lexists(shm):
            shm.unlink()
    except OSError as exc:
        raise SandboxStoreError(f"cannot move the sandbox database {path} aside to {backup}: {exc.strerror}") from None
    return backup


def _guard_reads(method: F) -> F:
    """A read that meets damaged pages or rows is a SandboxStoreError, not a traceback."""

    @functools.wraps(method)
    def guarded(self: SandboxStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise _store_error(self.path, f"cannot be read (SQLite: {exc})") from None
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise _store_error(self.path, f"has a malformed row ({type(exc).__name__}: {exc})") from None

    return guarded  # type: ignore[return-value]


def _guard_writes(method: F) -> F:
    @functools.wraps(method)
    def guarded(self: SandboxStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise SandboxStoreError(f"sandbox database {self.path} could not be written (SQLite: {exc})") from None

    return guarded  # type: ignore[return-value]


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class SandboxStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        if path.parent != Path(""):
            paths.ensure_private_dir(path.parent)
        existing = self._check_file()
        try:
            self.conn = sqlite3.connect(str(path), isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise _store_error(path, f"cannot be opened (SQLite: {exc})") from None
        try:
            if existing:
                self._verify()
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if not existing:
                self.conn.executescript(_SCHEMA)
                self.set_meta("schema_version", str(SCHEMA_VERSION))
        except SandboxStoreError:
            self.conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise _store_error(path, f"is damaged or unreadable (SQLite: {exc})") from None

    def _check_file(self) -> bool:
        """True if there is a sandbox to check; an empty file holds nothing and is
        initialised like a missing one."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if os.path.lexists(self.path):
                raise _store_error(self.path, "is a dangling symlink") from None
            return False
        except OSError as exc:
            raise _store_error(self.path, f"cannot be opened ({exc.strerror})") from None
        if not stat.S_ISREG(st.st_mode):
            raise _store_error(self.path, "is not a regular file")
        if st.st_size == 0:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                header = os.read(fd, len(_SQLITE_HEADER))
            finally:
                os.close(fd)
        except OSError as exc:
            raise _store_error(self.path, f"cannot be read ({exc.strerror})") from None
        if header != _SQLITE_HEADER:
            raise _store_error(self.path, "is not an SQLite database")
        return True

    def _verify(self) -> None:
        """Reads only: damage and missing tables are refused, never recreated (a dropped
        balances table would silently reset the operator's balances)."""
        problems = [str(r[0]) for r in self.conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise _store_error(self.path, f"is damaged (SQLite: {' '.join(problems)[:300]})")
        present = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = sorted(_TABLES - present)
        if missing:
            raise _store_error(self.path, f"is not a complete sandbox (no {', '.join(missing)} table)")
        version = self.get_meta("schema_version")
        if version != str(SCHEMA_VERSION):
            raise _store_error(self.path, f"has schema version {version!r}; this build knows {SCHEMA_VERSION}")

    @classmethod
    def open(cls, data_dir: Path | None = None) -> SandboxStore:
        return cls(sandbox_path(data_dir))

    def close(self) -> None:
        self.conn.close()

    # ---- meta ---------------------------------------------------------------------------

    @_guard_reads
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    @_guard_writes
    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @_guard_writes
    def save_prices(self, prices: dict[str, float]) -> None:
        self.set_meta("prices_usdt", json.dumps(prices, sort_keys=True))

    @_guard_reads
    def load_prices(self) -> dict[str, float]:
        raw = self.get_meta("prices_usdt")
        return json.loads(raw) if raw else {}

    # ---- writes (one transaction per engine event) -----------------------------------------

    @_guard_writes
    def save_event(self, venue: str, account: str, order: Order, reserved: Decimal, priority: int,
                   fills: Iterable[Fill], balances: dict[str, Balance] | None,
                   next_order_number: int) -> None:  # fmt: skip
        c = self.conn
        c.execute("BEGIN")
        try:
            c.execute(
                "INSERT OR REPLACE INTO orders VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (venue, order.id, account, order.client_order_id, order.symbol, order.side.value,
                 order.type.value, _s(order.price), str(order.amount), str(order.filled),
                 order.status.value, order.created_at, order.updated_at, _s(order.average_price),
                 str(order.fee), order.fee_currency, order.message, str(reserved), priority),
            )  # fmt: skip
            c.executemany(
                "INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(venue, account, f.order_id, f.symbol, f.side.value, str(f.price), str(f.amount),
                  str(f.fee), f.fee_currency, f.timestamp, int(f.is_maker)) for f in fills],
            )  # fmt: skip
            if balances is not None:
                self._write_balances(venue, account, balances)
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (f"next_order_number:{venue}", str(next_order_number)),
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    @_guard_writes
    def save_balances(self, venue: str, account: str, balances: dict[str, Balance]) -> None:
        c = self.conn
        c.execute("BEGIN")
        self._write_balances(venue, account, balances)
        c.execute("COMMIT")

    def _write_balances(self, venue: str, account: str, balances: dict[str, Balance]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO balances VALUES (?,?,?,?,?)",
            [(venue, account, b.asset, str(b.free), str(b.used)) for b in balances.values()],
        )

    @_guard_writes
    def save_pair(self, venue: str, m: Market) -> None:
        self.conn.execute(
            "INSERT INTO pairs VALUES (?,?,?,?,?,?,?,?,?,?)",
            (venue, m.symbol, m.base, m.quote, str(m.tick_size), str(m.lot_size),
             str(m.min_amount), str(m.min_notional), str(m.maker_fee), str(m.taker_fee)),
        )  # fmt: skip

    # ---- reads ----------------------------------------------------------------------------

    @_guard_reads
    def load_balances(self, venue: str, account: str) -> dict[str, Balance]:
        rows = self.conn.execute(
            "SELECT asset, free, used FROM balances WHERE venue=? AND account=? ORDER BY asset",
            (venue, account),
        )
        return {a: Balance(a, Decimal(f), Decimal(u)) for a, f, u in rows}

    @_guard_reads
    def load_pairs(self) -> list[tuple[str, Market]]:
        rows = self.conn.execute(
            "SELECT venue, symbol, base, quote, tick_size, lot_size, min_amount, min_notional, "
            "maker_fee, taker_fee FROM pairs ORDER BY rowid"
        )
        return [
            (v, Market(s, b, q, Decimal(t), Decimal(lo), Decimal(ma), Decimal(mn), Decimal(mf), Decimal(tf)))
            for v, s, b, q, t, lo, ma, mn, mf, tf in rows
        ]

    @_guard_reads
    def load_orders(self, venue: str, open_only: bool, limit: int = 2000
                    ) -> list[tuple[str, Order, Decimal, int]]:  # fmt: skip
        """(account, order, reserved, priority). Open orders by priority; closed oldest first."""
        if open_only:
            sql = "SELECT * FROM orders WHERE venue=? AND status='open' ORDER BY priority"
            rows = self.conn.execute(sql, (venue,)).fetchall()
        else:
            sql = ("SELECT * FROM (SELECT * FROM orders WHERE venue=? AND status!='open' "
                   "ORDER BY updated_at DESC, rowid DESC LIMIT ?) ORDER BY updated_at, rowid")  # fmt: skip
            rows = self.conn.execute(sql, (venue, limit)).fetchall()
        result = []
        for (v, oid, account, cid, symbol, side, type_, price, amount, filled, status, created,
             updated, avg, fee, fee_ccy, message, reserved, priority) in rows:  # fmt: skip
            order = Order(
                venue=v, id=oid, client_order_id=cid, symbol=symbol, side=Side(side),
                type=OrderType(type_), price=_d(price), amount=Decimal(amount),
                filled=Decimal(filled), status=OrderStatus(status), created_at=created,
                updated_at=updated, average_price=_d(avg), fee=Decimal(fee),
                fee_currency=fee_ccy, message=message,
            )  # fmt: skip
            result.append((account, order, Decimal(reserved), priority))
        return result

    @_guard_reads
    def load_fills(self, venue: str, account: str, limit: int = 100) -> list[Fill]:
        rows = self.conn.execute(
            "SELECT order_id, symbol, side, price, amount, fee, fee_currency, timestamp, is_maker "
            "FROM fills WHERE venue=? AND account=? ORDER BY rowid DESC LIMIT ?",
            (venue, account, limit),
        )
        return [
            Fill(venue, oid, sym, Side(side), Decimal(p), Decimal(a), Decimal(f), ccy, ts, bool(mk))
            for oid, sym, side, p, a, f, ccy, ts, mk in rows
        ]
