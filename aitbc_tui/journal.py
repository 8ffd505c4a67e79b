"""The order journal: every order event, in SQLite, durable before anything is sent.

The intent row (with a client order id in the venue's format) is committed before
``record_intent`` returns, and the caller sends only after that; WAL with
``synchronous=FULL`` makes each commit survive a SIGKILL or power loss. After a
crash, ``unresolved()`` lists every order whose outcome the journal does not know
(intent, sent, unknown, open): look each up at the venue by its client order id and
``reconcile`` it; never resend blindly.

Money is stored as TEXT (``str(Decimal)``), so it reads back exactly.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
import secrets
import shutil
import sqlite3
import stat
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aitbc_tui import paths
from aitbc_tui.domain import Fill, Mode, Order, OrderRequest, OrderStatus
from aitbc_tui.errors import UserError

JOURNAL_FILENAME = "journal.sqlite3"
SCHEMA_VERSION = 3  # 2: events.trade_id (fills deduplicated by the venue's trade id); 3: orders.group_id, arb_groups

_ALNUM = string.ascii_letters + string.digits
# Sums of amounts must be exact; the default 28-digit context would round them silently.
_EXACT = Context(prec=200, traps=[Inexact, InvalidOperation])


def default_journal_path() -> Path:
    return paths.data_dir() / JOURNAL_FILENAME


def new_client_order_id(exchange_id: str) -> str:
    """A fresh client order id in the format the venue accepts.

    binance*: ``aitbc-`` + 24 alphanumerics (30 chars; limit 36 of ``[.A-Za-z0-9:/_-]``).
    kraken, coinbase*: a UUID (kraken ``cl_ord_id``, coinbase ``client_order_id``).
    others: ``aitbc`` + 15 alphanumerics (20 chars; fits okx, kucoin, bybit and the sims).
    """
    exchange = exchange_id.lower()
    if exchange.startswith("binance"):
        return "aitbc-" + "".join(secrets.choice(_ALNUM) for _ in range(24))
    if exchange.startswith(("kraken", "coinbase")):
        return str(uuid.uuid4())
    return "aitbc" + "".join(secrets.choice(_ALNUM) for _ in range(15))


class JournalState(str, enum.Enum):
    INTENT = "intent"  # committed, maybe not sent
    SENT = "sent"  # handed to the venue, no answer yet
    OPEN = "open"  # acknowledged, resting (maybe partly filled)
    UNKNOWN = "unknown"  # the send failed ambiguously (timeout): look it up
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    NOT_PLACED = "not_placed"  # reconciled: the venue has no such order

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({JournalState.FILLED, JournalState.CANCELED, JournalState.REJECTED, JournalState.NOT_PLACED})
UNRESOLVED_STATES = (JournalState.INTENT, JournalState.SENT, JournalState.UNKNOWN, JournalState.OPEN)

_FROM_ORDER_STATUS = {
    OrderStatus.PENDING: JournalState.OPEN,
    OrderStatus.OPEN: JournalState.OPEN,
    OrderStatus.FILLED: JournalState.FILLED,
    OrderStatus.CANCELED: JournalState.CANCELED,
    OrderStatus.REJECTED: JournalState.REJECTED,
    OrderStatus.UNKNOWN: JournalState.UNKNOWN,
}


class EventKind(str, enum.Enum):
    INTENT = "intent"
    SENT = "sent"
    ACK = "ack"
    REJECTED = "rejected"
    FILL = "fill"
    CANCELED = "canceled"
    UNKNOWN = "unknown"
    RECONCILED = "reconciled"


class JournalError(UserError):
    """Journal misuse or storage failure; str() is readable by an operator."""


@dataclass(frozen=True, slots=True)
class JournalOrder:
    client_order_id: str
    venue: str
    mode: str
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    state: JournalState
    venue_order_id: str | None
    filled: Decimal
    message: str
    created_at: float
    updated_at: float
    group_id: str = ""  # orders sent together (an arbitrage's legs, its hedge or unwind)


@dataclass(frozen=True, slots=True)
class JournalGroup:
    """An arbitrage group: what was planned, and how its leg risk was resolved."""

    group_id: str
    created_at: float
    mode: str
    symbol: str
    buy_venue: str
    sell_venue: str
    amount: Decimal
    buy_price: Decimal  # the legs' limit prices
    sell_price: Decimal
    expected_net_quote: Decimal
    expected_net_bps: Decimal
    resolution: str  # "" open; "balanced", "hedged", "unwound", "left"
    resolved_at: float | None
    message: str


@dataclass(frozen=True, slots=True)
class JournalEvent:
    seq: int
    at: float
    kind: EventKind
    client_order_id: str
    venue: str
    symbol: str
    side: str
    venue_order_id: str | None
    price: Decimal | None
    amount: Decimal | None
    fee: Decimal | None
    fee_currency: str
    message: str
    trade_id: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    venue TEXT NOT NULL,
    mode TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    amount TEXT NOT NULL,
    price TEXT,
    state TEXT NOT NULL,
    venue_order_id TEXT,
    filled TEXT NOT NULL DEFAULT '0',
    message TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    group_id TEXT
);
CREATE INDEX IF NOT EXISTS orders_state ON orders(state);
CREATE INDEX IF NOT EXISTS orders_group ON orders(group_id) WHERE group_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS arb_groups (
    group_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    mode TEXT NOT NULL,
    symbol TEXT NOT NULL,
    buy_venue TEXT NOT NULL,
    sell_venue TEXT NOT NULL,
    amount TEXT NOT NULL,
    buy_price TEXT NOT NULL,
    sell_price TEXT NOT NULL,
    expected_net_quote TEXT NOT NULL,
    expected_net_bps TEXT NOT NULL,
    resolution TEXT NOT NULL DEFAULT '',
    resolved_at REAL,
    message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
    venue TEXT NOT NULL,
    venue_order_id TEXT,
    price TEXT,
    amount TEXT,
    fee TEXT,
    fee_currency TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    trade_id TEXT
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE INDEX IF NOT EXISTS events_order ON events(client_order_id);
CREATE UNIQUE INDEX IF NOT EXISTS events_trade ON events(client_order_id, trade_id) WHERE trade_id IS NOT NULL;
"""

# Upgrades, applied in one transaction to a journal of the version before each.
_MIGRATIONS = {
    1: (
        "ALTER TABLE events ADD COLUMN trade_id TEXT",
        "CREATE UNIQUE INDEX IF NOT EXISTS events_trade ON events(client_order_id, trade_id)"
        " WHERE trade_id IS NOT NULL",
    ),
    2: (
        "ALTER TABLE orders ADD COLUMN group_id TEXT",
        "CREATE INDEX IF NOT EXISTS orders_group ON orders(group_id) WHERE group_id IS NOT NULL",
        "CREATE TABLE IF NOT EXISTS arb_groups (group_id TEXT PRIMARY KEY, created_at REAL NOT NULL,"
        " mode TEXT NOT NULL, symbol TEXT NOT NULL, buy_venue TEXT NOT NULL, sell_venue TEXT NOT NULL,"
        " amount TEXT NOT NULL, buy_price TEXT NOT NULL, sell_price TEXT NOT NULL,"
        " expected_net_quote TEXT NOT NULL, expected_net_bps TEXT NOT NULL,"
        " resolution TEXT NOT NULL DEFAULT '', resolved_at REAL, message TEXT NOT NULL DEFAULT '')",
    ),
}

# The orders table's columns as JournalOrder reads them (never SELECT *: a migration appends).
_ORDER_COLUMNS = (
    "client_order_id, venue, mode, symbol, side, type, amount, price, state, venue_order_id, filled,"
    " message, created_at, updated_at, group_id"
)


def migrate(db: sqlite3.Connection, version: int) -> int:
    """Bring a journal of schema ``version`` up to SCHEMA_VERSION (inside the caller's
    transaction); returns the new version."""
    while version < SCHEMA_VERSION:
        for statement in _MIGRATIONS[version]:
            db.execute(statement)
        version += 1
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return version


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not value.is_finite():
        raise JournalError(f"refusing to journal a non-finite amount {value}")
    return str(value)


def _epoch(since: float | datetime) -> float:
    if isinstance(since, (int, float)):
        return since
    return since.timestamp()


# ---- opening: a journal is created only where nothing is, and verified before any write ----

_SQLITE_HEADER = b"SQLite format 3\x00"
_CHECK_HINT = "run `aitbc-tui journal check` (it keeps a backup copy), or move the file aside to start a new journal"
_expected_cache: dict[int, dict[str, frozenset[str]]] = {}


def _expected_tables(version: int) -> dict[str, frozenset[str]]:
    """Our tables and their columns at schema ``version``: read from ``_SCHEMA`` built in
    memory, minus what the migrations from ``version`` on add, so they cannot drift."""
    if version not in _expected_cache:
        memory = sqlite3.connect(":memory:")
        try:
            memory.executescript(_SCHEMA)
            names = [
                r[0]
                for r in memory.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            tables = {n: {r[1] for r in memory.execute(f"PRAGMA table_info({n})")} for n in names}
        finally:
            memory.close()
        for later in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS.get(later, ()):
                added = re.match(r"\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+(?:COLUMN\s+)?(\w+)", statement, re.I)
                if added:
                    tables.get(added.group(1), set()).discard(added.group(2))
                created = re.match(r"\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", statement, re.I)
                if created:
                    tables.pop(created.group(1), None)
        _expected_cache[version] = {n: frozenset(c) for n, c in tables.items()}
    return _expected_cache[version]


def _refusal(path: Path, problem: str, advice: str = _CHECK_HINT) -> JournalError:
    problem = " ".join(problem.split())  # SQLite's reports span lines; the error is one line
    return JournalError(f"journal {path} {problem}; refusing to use it (nothing was changed): {advice}")


def _check_file(path: Path) -> None:
    """A regular, non-empty file that starts like an SQLite database (read without SQLite,
    so a FIFO, a device or another format is refused before anything opens it)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise JournalError(f"cannot open journal {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _refusal(path, "is not a regular file")
    if st.st_size == 0:
        raise _refusal(path, "is empty (0 bytes), so it is not a journal")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            header = os.read(fd, len(_SQLITE_HEADER))
        finally:
            os.close(fd)
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror}") from None
    if header != _SQLITE_HEADER:
        raise _refusal(path, "is not an SQLite database")


def verify_journal(db: sqlite3.Connection, path: Path, *, full: bool = False) -> int:
    """Prove an open database is an intact aitbc-tui journal; its schema version, which is
    SCHEMA_VERSION or an older one the migrations upgrade. Only reads. ``full``: SQLite's
    integrity_check (every index against its table) instead of quick_check."""
    try:
        problems = [r[0] for r in db.execute(f"PRAGMA {'integrity_check' if full else 'quick_check'}(5)")]
        if problems != ["ok"]:
            raise _refusal(path, f"is damaged (SQLite: {' '.join(map(str, problems))[:300]})")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise _refusal(
                path,
                f"has schema version {version}, newer than this build's {SCHEMA_VERSION}",
                "use the aitbc-tui that wrote it (or a newer one)",
            )
        if version < SCHEMA_VERSION and not (
            0 < version and all(v in _MIGRATIONS for v in range(version, SCHEMA_VERSION))
        ):
            ours = set(_expected_tables(SCHEMA_VERSION)) & present
            what = "is not an aitbc-tui journal" if not ours else "has an unknown schema"
            raise _refusal(
                path,
                f"{what} (schema version {version}, tables: {', '.join(sorted(present)) or 'none'})",
                "move it aside (aitbc-tui never adds its tables to another file)" if not ours else _CHECK_HINT,
            )
        for table, columns in _expected_tables(version).items():
            if table not in present:
                raise _refusal(path, f"has no {table} table (schema version {version})")
            found = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            if found != columns:
                missing, extra = sorted(columns - found), sorted(found - columns)
                detail = ", ".join(
                    filter(
                        None,
                        [
                            f"missing {', '.join(missing)}" if missing else "",
                            f"unexpected {', '.join(extra)}" if extra else "",
                        ],
                    )
                )
                raise _refusal(path, f"has an unexpected {table} table ({detail})")
    except sqlite3.DatabaseError as exc:
        raise _refusal(path, f"is damaged or not a journal (SQLite: {exc})") from None
    return version


def _create_journal(path: Path) -> bool:
    """Create a new journal at ``path`` only if nothing is there (never over a file, even
    an empty one); True if this call created it. The schema is built in a private 0600
    file made with O_EXCL and linked into place, so the journal either does not exist or
    is complete: a crash never leaves an empty journal behind."""
    if os.path.lexists(path):
        return False
    paths.ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        finally:
            db.close()
        try:
            os.link(tmp, path)  # fails if anything appeared at path meanwhile
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: claim the name, then replace it
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                return False
            os.replace(tmp, path)
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_only_uri(path: Path) -> str:
    # Without a -wal file nothing is mid-write: open immutable, so not even the -wal and
    # -shm files SQLite uses to coordinate with a live writer are created.
    absolute = quote(os.path.abspath(path))
    wal = path.with_name(path.name + "-wal")
    return f"file:{absolute}?mode=ro" + ("" if os.path.lexists(wal) else "&immutable=1")


def backup_journal(path: Path, now: datetime | None = None) -> Path:
    """Copy the journal (and its -wal, if any) byte for byte to ``<name>.bak-<UTC time>``
    (0600, never over an existing file); the backup's path."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        target = path.with_name(f"{path.name}.bak-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            out = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        break
    else:
        raise JournalError(f"cannot back up journal {path}: too many backups named {path.name}.bak-{stamp}*")
    try:
        with os.fdopen(out, "wb") as dst, open(path, "rb") as src:
            shutil.copyfileobj(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            with open(target.with_name(target.name + "-wal"), "xb") as dst, open(wal, "rb") as src:
                os.chmod(dst.fileno(), 0o600)
                shutil.copyfileobj(src, dst)
                dst.flush()
                os.fsync(dst.fileno())
    except OSError as exc:
        raise JournalError(f"cannot back up journal {path} to {target}: {exc.strerror or exc}") from None
    return target


def check_journal(path: Path) -> tuple[int, int, int]:
    """A full check of the journal at ``path`` (read only): (schema version, orders,
    events); JournalError naming the problem otherwise."""
    _check_file(path)
    try:
        db = sqlite3.connect(_read_only_uri(path), uri=True)
    except sqlite3.DatabaseError as exc:
        raise _refusal(path, f"cannot be opened (SQLite: {exc})") from None
    try:
        version = verify_journal(db, path, full=True)
        try:
            orders = db.execute("SELECT count(*) FROM orders").fetchone()[0]
            events = db.execute("SELECT count(*) FROM events").fetchone()[0]
            orphans = db.execute(
                "SELECT count(*) FROM events e LEFT JOIN orders o"
                " ON o.client_order_id = e.client_order_id"
                " WHERE o.client_order_id IS NULL"
            ).fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise _refusal(path, f"is damaged (SQLite: {exc})") from None
        if orphans:
            raise _refusal(path, f"has {orphans} events of orders it does not contain")
        return version, orders, events
    finally:
        db.close()


class Journal:
    """One SQLite journal. Thread-safe; each method is one transaction."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
    ) -> None:
        """Open the journal at ``path`` (default: the data dir's), creating it only where
        no file is. An existing file is verified before anything writes to it: our tables
        with the expected columns, a known schema version, SQLite's quick_check; on any
        doubt JournalError (one line naming the file and what to do). ``read_only``: never
        writes or creates anything (SQLite ``mode=ro``)."""
        self.path = Path(path) if path is not None else default_journal_path()
        self.read_only = read_only
        self._clock = clock
        self._lock = threading.Lock()
        if read_only:
            self._db = self._open_read_only()
            return
        _create_journal(self.path)
        _check_file(self.path)
        try:
            # mode=rw: SQLite must never create a file here (e.g. through a dangling symlink).
            self._db = sqlite3.connect(
                f"file:{quote(os.path.abspath(self.path))}?mode=rw",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.DatabaseError as exc:
            raise _refusal(self.path, f"cannot be opened (SQLite: {exc})") from None
        try:
            self._db.execute("PRAGMA busy_timeout = 10000")
            version = verify_journal(self._db, self.path)  # reads only: nothing written before this
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"journal {self.path}: SQLite refused WAL mode ({mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            with self._tx():
                if version < SCHEMA_VERSION:
                    migrate(self._db, version)
                # Indexes only (the tables were verified): one dropped by hand is rebuilt.
                for statement in _SCHEMA.split(";"):
                    if re.match(r"\s*CREATE\s+(UNIQUE\s+)?INDEX", statement, re.I):
                        self._db.execute(statement)
        except JournalError:
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(f"cannot open journal {self.path}: {exc}") from None

    def _open_read_only(self) -> sqlite3.Connection:
        if not os.path.lexists(self.path):
            raise JournalError(f"no journal at {self.path}")
        _check_file(self.path)
        try:
            db = sqlite3.connect(_read_only_uri(self.path), uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise _refusal(self.path, f"cannot be opened (SQLite: {exc})") from None
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            version = verify_journal(db, self.path)
        except BaseException:
            db.close()
            raise
        if version != SCHEMA_VERSION:
            db.close()
            raise JournalError(
                f"journal {self.path} has schema version {version}; this build reads"
                f" {SCHEMA_VERSION}: start the dashboard once to upgrade it"
            )
        return db

    # -- plumbing --

    @property
    def synchronous(self) -> int:
        """SQLite's ``PRAGMA synchronous`` on this connection: 2 (FULL) means a commit is on
        disk before it returns."""
        with self._lock:
            return int(self._db.execute("PRAGMA synchronous").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    class _Tx:
        def __init__(self, journal: Journal) -> None:
            self.journal = journal

        def __enter__(self) -> sqlite3.Connection:
            self.journal._lock.acquire()
            try:
                self.journal._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.journal._lock.release()
                raise
            return self.journal._db

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            try:
                self.journal._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.journal._lock.release()

    def _tx(self) -> Journal._Tx:
        return Journal._Tx(self)

    def _order_row(self, db: sqlite3.Connection, coid: str) -> sqlite3.Row | tuple[Any, ...]:
        row = db.execute(
            "SELECT venue, state, amount, filled FROM orders WHERE client_order_id = ?", (coid,)
        ).fetchone()
        if row is None:
            raise JournalError(f"no journaled order with client order id {coid!r}")
        return row

    def _event(
        self,
        db: sqlite3.Connection,
        coid: str,
        venue: str,
        kind: EventKind,
        now: float,
        *,
        venue_order_id: str | None = None,
        price: Decimal | None = None,
        amount: Decimal | None = None,
        fee: Decimal | None = None,
        fee_currency: str = "",
        message: str = "",
        trade_id: str | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO events (at, kind, client_order_id, venue, venue_order_id, price, amount,"
            " fee, fee_currency, message, trade_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now,
                kind.value,
                coid,
                venue,
                venue_order_id,
                _text(price),
                _text(amount),
                _text(fee),
                fee_currency,
                message,
                trade_id or None,
            ),
        )

    def _transition(
        self,
        coid: str,
        kind: EventKind,
        new_state: JournalState | None,
        *,
        venue_order_id: str | None = None,
        message: str | None = None,
        **event: Any,
    ) -> None:
        now = self._clock()
        with self._tx() as db:
            venue, state, _amount, _filled = self._order_row(db, coid)
            self._event(db, coid, venue, kind, now, venue_order_id=venue_order_id, message=message or "", **event)
            # A final state is never left: a late ack or 'sent' must not reopen a filled order.
            target = state if new_state is None or JournalState(state).is_final else new_state.value
            db.execute(
                "UPDATE orders SET state = ?, venue_order_id = COALESCE(?, venue_order_id),"
                " message = COALESCE(?, message), updated_at = ? WHERE client_order_id = ?",
                (target, venue_order_id, message, now, coid),
            )

    # -- recording --

    def record_intent(self, request: OrderRequest, mode: Mode | str, exchange_id: str | None = None) -> str:
        """Commit the intent and return its client order id (the request's, or a new one in
        ``exchange_id``'s format, default the venue name). Send only after this returns."""
        coid = request.client_order_id or new_client_order_id(exchange_id or request.venue)
        mode_value = mode.value if isinstance(mode, Mode) else str(mode)
        now = self._clock()
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO orders (client_order_id, venue, mode, symbol, side, type, amount,"
                    " price, state, created_at, updated_at, group_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        coid,
                        request.venue,
                        mode_value,
                        request.symbol,
                        request.side.value,
                        request.type.value,
                        _text(request.amount),
                        _text(request.price),
                        JournalState.INTENT.value,
                        now,
                        now,
                        request.group_id or None,
                    ),
                )
                self._event(db, coid, request.venue, EventKind.INTENT, now, price=request.price, amount=request.amount)
        except sqlite3.IntegrityError:
            raise JournalError(f"client order id {coid!r} is already journaled") from None
        return coid

    def mark_sent(self, coid: str) -> None:
        self._transition(coid, EventKind.SENT, JournalState.SENT)

    def mark_ack(self, coid: str, order: Order) -> None:
        """The venue acknowledged the order; its status sets the journal state."""
        self._transition(
            coid,
            EventKind.ACK,
            _FROM_ORDER_STATUS[order.status],
            venue_order_id=order.id or None,
            price=order.price,
            amount=order.filled,
        )

    def mark_rejected(self, coid: str, message: str) -> None:
        self._transition(coid, EventKind.REJECTED, JournalState.REJECTED, message=message)

    def mark_unknown(self, coid: str, error: str | BaseException) -> None:
        """The send failed ambiguously (timeout, connection lost): the order may exist."""
        self._transition(coid, EventKind.UNKNOWN, JournalState.UNKNOWN, message=str(error))

    def mark_canceled(self, coid: str, message: str = "", *, by: str = "", order: Order | None = None) -> None:
        """The order was cancelled (``by``: operator, kill switch, venue, dead man's switch);
        ``order``: the venue's view at the cancel, for the amount that had filled."""
        text = f"canceled by {by}" if by else "canceled"
        if message:
            text = f"{text}: {message}"
        self._transition(
            coid,
            EventKind.CANCELED,
            JournalState.CANCELED,
            message=text,
            venue_order_id=(order.id or None) if order else None,
            amount=order.filled if order else None,
        )

    def has_trade(self, coid: str, trade_id: str) -> bool:
        rows = self._read("SELECT 1 FROM events WHERE client_order_id = ? AND trade_id = ?", (coid, trade_id))
        return bool(rows)

    def record_fill(self, coid: str, fill: Fill) -> bool:
        """Add a fill; the order becomes filled when the fills reach its amount. A fill
        whose trade id is already journalled for this order is a replay: it changes
        nothing and returns False."""
        now = self._clock()
        with self._tx() as db:
            venue, state, amount, filled = self._order_row(db, coid)
            if (
                fill.trade_id
                and db.execute(
                    "SELECT 1 FROM events WHERE client_order_id = ? AND trade_id = ?", (coid, fill.trade_id)
                ).fetchone()
            ):
                return False
            total = _EXACT.add(Decimal(filled), fill.amount)
            self._event(
                db,
                coid,
                venue,
                EventKind.FILL,
                now,
                venue_order_id=fill.order_id or None,
                price=fill.price,
                amount=fill.amount,
                fee=fill.fee,
                fee_currency=fill.fee_currency,
                trade_id=fill.trade_id,
                message="maker" if fill.is_maker else "taker",
            )
            if JournalState(state).is_final:
                target = state
            else:
                target = (JournalState.FILLED if total >= Decimal(amount) else JournalState.OPEN).value
            db.execute(
                "UPDATE orders SET filled = ?, state = ?, venue_order_id = COALESCE(venue_order_id, ?),"
                " updated_at = ? WHERE client_order_id = ?",
                (_text(total), target, fill.order_id or None, now, coid),
            )
        return True

    def reconcile(self, coid: str, order: Order | None, message: str = "") -> None:
        """Settle an unresolved order from what the venue reports (looked up by client
        order id). ``None``: the venue has no such order, so it was never placed."""
        if order is None:
            self._transition(
                coid,
                EventKind.RECONCILED,
                JournalState.NOT_PLACED,
                message=message or "venue has no order with this client order id",
            )
            return
        now = self._clock()
        state = _FROM_ORDER_STATUS[order.status]
        with self._tx() as db:
            venue, _state, _amount, _filled = self._order_row(db, coid)
            self._event(
                db,
                coid,
                venue,
                EventKind.RECONCILED,
                now,
                venue_order_id=order.id or None,
                price=order.average_price or order.price,
                amount=order.filled,
                fee=order.fee,
                fee_currency=order.fee_currency,
                message=message,
            )
            # The venue's word is the truth here, final states included.
            db.execute(
                "UPDATE orders SET state = ?, venue_order_id = COALESCE(?, venue_order_id),"
                " filled = ?, message = ?, updated_at = ? WHERE client_order_id = ?",
                (state.value, order.id or None, _text(order.filled), message or order.message, now, coid),
            )

    # -- reading --

    def _read(self, sql: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    @staticmethod
    def _to_order(row: tuple[Any, ...]) -> JournalOrder:
        (coid, venue, mode, symbol, side, type_, amount, price, state, void, filled, message, created, updated,
         group) = row  # fmt: skip
        return JournalOrder(
            coid,
            venue,
            mode,
            symbol,
            side,
            type_,
            Decimal(amount),
            _dec(price),
            JournalState(state),
            void,
            Decimal(filled),
            message,
            created,
            updated,
            group or "",
        )

    def order(self, coid: str) -> JournalOrder | None:
        rows = self._read(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE client_order_id = ?", (coid,))
        return self._to_order(rows[0]) if rows else None

    def orders(
        self,
        venue: str | None = None,
        since: float | datetime | None = None,
        states: Iterable[JournalState] | None = None,
        group_id: str | None = None,
    ) -> list[JournalOrder]:
        """Orders oldest first, filtered by venue, creation time, state and group."""
        where: list[str] = []
        params: list[str | float] = []
        if group_id is not None:
            where.append("group_id = ?")
            params.append(group_id)
        if venue is not None:
            where.append("venue = ?")
            params.append(venue)
        if since is not None:
            where.append("created_at >= ?")
            params.append(_epoch(since))
        if states is not None:
            wanted = [JournalState(s).value for s in states]
            where.append(f"state IN ({','.join('?' * len(wanted))})")
            params.extend(wanted)
        sql = f"SELECT {_ORDER_COLUMNS} FROM orders"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, rowid"
        return [self._to_order(r) for r in self._read(sql, params)]

    def unresolved(self, venue: str | None = None) -> list[JournalOrder]:
        """Every order not in a final state (intent, sent, unknown, open)."""
        return self.orders(venue=venue, states=UNRESOLVED_STATES)

    def events(
        self, venue: str | None = None, since: float | datetime | None = None, *, group_id: str | None = None
    ) -> list[JournalEvent]:
        """Events in the order they were recorded (``group_id``: of that group's orders only)."""
        where: list[str] = []
        params: list[str | float] = []
        if group_id is not None:
            where.append("o.group_id = ?")
            params.append(group_id)
        if venue is not None:
            where.append("e.venue = ?")
            params.append(venue)
        if since is not None:
            where.append("e.at >= ?")
            params.append(_epoch(since))
        sql = (
            "SELECT e.seq, e.at, e.kind, e.client_order_id, e.venue, o.symbol, o.side,"
            " e.venue_order_id, e.price, e.amount, e.fee, e.fee_currency, e.message, e.trade_id"
            " FROM events e JOIN orders o ON o.client_order_id = e.client_order_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY e.seq"
        return [
            JournalEvent(
                seq,
                at,
                EventKind(kind),
                coid,
                venue_,
                symbol,
                side,
                void,
                _dec(price),
                _dec(amount),
                _dec(fee),
                fee_currency,
                message,
                trade_id,
            )
            for (
                seq,
                at,
                kind,
                coid,
                venue_,
                symbol,
                side,
                void,
                price,
                amount,
                fee,
                fee_currency,
                message,
                trade_id,
            ) in self._read(sql, params)
        ]

    # -- arbitrage groups (schema 3) --

    def record_group(self, group: JournalGroup) -> None:
        """Commit a group's plan; its legs' intents follow, each with the group id."""
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO arb_groups (group_id, created_at, mode, symbol, buy_venue, sell_venue, amount,"
                    " buy_price, sell_price, expected_net_quote, expected_net_bps, resolution, resolved_at,"
                    " message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (group.group_id, group.created_at, group.mode, group.symbol, group.buy_venue,
                     group.sell_venue, _text(group.amount), _text(group.buy_price), _text(group.sell_price),
                     _text(group.expected_net_quote), _text(group.expected_net_bps), group.resolution,
                     group.resolved_at, group.message),
                )  # fmt: skip
        except sqlite3.IntegrityError:
            raise JournalError(f"group id {group.group_id!r} is already journaled") from None

    def resolve_group(self, group_id: str, resolution: str, message: str = "") -> None:
        """Record how the group's leg risk ended ("balanced", "hedged", "unwound", "left")."""
        with self._tx() as db:
            found = db.execute(
                "UPDATE arb_groups SET resolution = ?, resolved_at = ?, message = ? WHERE group_id = ?",
                (resolution, self._clock(), message, group_id),
            ).rowcount
        if not found:
            raise JournalError(f"no journaled group with id {group_id!r}")

    @staticmethod
    def _to_group(row: tuple[Any, ...]) -> JournalGroup:
        (gid, created, mode, symbol, buy_venue, sell_venue, amount, buy_price, sell_price, net_quote, net_bps,
         resolution, resolved_at, message) = row  # fmt: skip
        return JournalGroup(gid, created, mode, symbol, buy_venue, sell_venue, Decimal(amount), Decimal(buy_price),
                            Decimal(sell_price), Decimal(net_quote), Decimal(net_bps), resolution, resolved_at,
                            message)  # fmt: skip

    def group(self, group_id: str) -> JournalGroup | None:
        rows = self._read("SELECT * FROM arb_groups WHERE group_id = ?", (group_id,))
        return self._to_group(rows[0]) if rows else None

    def groups(self, *, unresolved: bool = False) -> list[JournalGroup]:
        """Groups oldest first; ``unresolved``: only those whose leg risk is not settled."""
        sql = "SELECT * FROM arb_groups" + (" WHERE resolution = ''" if unresolved else "")
        return [self._to_group(r) for r in self._read(sql + " ORDER BY created_at, rowid", ())]

    def group_events(self, group_id: str) -> list[JournalEvent]:
        """The events of every order of the group, in the order they were recorded."""
        return self.events(group_id=group_id)
