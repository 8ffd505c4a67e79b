"""Recording the bus to a file, and replaying a file into the sandbox's matching engine.

A recording is gzip-compressed JSON lines. The first line is a header
``{"aitbc_recording": 1, "started": T, "nats": URL, "subjects": S}``; every other line is
``{"t": RECEIVED_AT, "s": SUBJECT, "m": MESSAGE}`` where MESSAGE is the wire message exactly
as it came (``aitbc_tui.desk.wire``). The recording starts with the last values the
stream holds for those subjects (markets, health, every book's snapshot), then everything
live, in the order received.

Without a bus (``DirectRecorder``) the venues are connected here, inside a collector whose
messages go to the file instead of NATS: the same subjects and messages, the same format
(the header's ``nats`` is null and ``venues`` names them). A venue's markets come first and
each book starts with a snapshot, as a collector publishes them.

Replay builds one matching engine per recorded venue with the recorded markets. A replay
market maker holds one order per recorded level, moved to the recorded book after each
book message; the operator's practice orders meet those orders in the ordinary engine (a
marketable order fills at the recorded prices, up to the recorded sizes; a resting one fills
when a later recorded book crosses it). Deterministic: the same file gives the same books,
message by message, whatever the speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from aitbc_tui.desk import bus, wire
from aitbc_tui.domain import Market, OrderType, PriceLevel, Side
from aitbc_tui.errors import UserError

log = logging.getLogger(__name__)

RECORDING_VERSION = 1
REPLAY_MAKER = "replay-book"  # the engine account that holds the recorded levels
MIN_SPEED, MAX_SPEED = 1.0, 50.0


class RecordingError(UserError):
    """A recording that cannot be read (one line: which file, which line, why)."""


# ---- recording -----------------------------------------------------------------------------


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` (last) one or more."""
    want, got = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return i == len(want) - 1 and len(got) > i
        if i >= len(got) or (token != "*" and token != got[i]):
            return False
    return len(want) == len(got)


def check_subjects(subjects: str) -> str:
    tokens = subjects.split(".") if subjects else []
    if (
        not tokens
        or any(c.isspace() for c in subjects)
        or any(not t for t in tokens)
        or any(">" in t and (t != ">" or i != len(tokens) - 1) for i, t in enumerate(tokens))
        or any("*" in t and t != "*" for t in tokens)
    ):
        raise bus.BusError(f"--subjects: {subjects!r} is not a subject (e.g. 'md.>' or 'md.binance.>')")
    return subjects


class RecordingWriter:
    """The file: the header at ``open``, then ``write`` one received message per line."""

    def __init__(self, out: Path, header: dict[str, Any]) -> None:
        self.out = Path(out)
        self.header = header
        self._file: gzip.GzipFile | None = None
        self.messages = 0
        self.refused = 0
        self.last_seq: dict[tuple[str, str], int] = {}  # the newest book sequence number written, per book

    def open(self) -> None:
        try:
            file = gzip.GzipFile(self.out, "wb")
        except OSError as exc:
            raise RecordingError(f"{self.out}: cannot write: {exc.strerror or exc}") from None
        file.write(json.dumps({"aitbc_recording": RECORDING_VERSION, **self.header}).encode() + b"\n")
        self._file = file

    def write(self, t: float, subject: str, data: bytes) -> None:
        if self._file is None:
            return
        try:
            obj = wire.decode(data)
        except wire.WireError:
            self.refused += 1
            return
        seq = obj.get("seq")
        if isinstance(seq, int):
            key = (str(obj.get("venue")), str(obj.get("symbol")))
            self.last_seq[key] = max(seq, self.last_seq.get(key, 0))
        self._file.write(b'{"t":%r,"s":%s,"m":%s}\n' % (t, json.dumps(subject).encode(), data))
        self.messages += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        """Nothing worth keeping was recorded (the source never came up): no file left behind."""
        self.close()
        self.out.unlink(missing_ok=True)


class Recorder:
    """The bus to a file: the stream's last values for ``subjects``, then everything live."""

    def __init__(self, nats_url: str, subjects: str, out: Path, *, token: str | None = None,
                 clock: Callable[[], float] = time.time, login: bus.BusLogin | None = None,
                 tls: bus.BusTls | None = None) -> None:  # fmt: skip
        self._login = login
        self._tls = tls
        self.nats_url = bus.check_nats_url(nats_url)
        self.subjects = check_subjects(subjects)
        self.out = Path(out)
        self._token = token
        self._clock = clock
        self._writer = RecordingWriter(self.out, {"started": 0.0, "nats": self.nats_url, "subjects": self.subjects})
        self._nc: Any = None
        self._live: list[tuple[float, str, bytes]] | None = []  # buffered until the last values are written

    @property
    def messages(self) -> int:
        return self._writer.messages

    @property
    def refused(self) -> int:
        return self._writer.refused

    @property
    def last_seq(self) -> dict[tuple[str, str], int]:
        return self._writer.last_seq

    async def start(self) -> None:
        self._writer.header["started"] = self._clock()
        self._writer.open()
        try:
            self._nc = await bus.connect(self.nats_url, name="aitbc-recorder", login=self._login, token=self._token,
                                         tls=self._tls, retry_first=False)  # fmt: skip
        except BaseException:
            self._writer.discard()
            raise
        await self._nc.subscribe(self.subjects, cb=self._on_msg)
        await self._nc.flush()
        await self._write_last_values()
        live, self._live = self._live or [], None
        for t, subject, data in live:
            self._writer.write(t, subject, data)

    async def _write_last_values(self) -> None:
        js = self._nc.jetstream()
        try:
            info = await js.stream_info(wire.STREAM, subjects_filter=self.subjects)
        except Exception as exc:  # noqa: BLE001 - no stream (no collector yet): live messages only
            log.info("recorder: no last values (%s)", type(exc).__name__)
            return
        subjects = sorted((info.state.subjects or {}).keys())
        # Markets first: a replay needs them before any book.
        for subject in sorted(subjects, key=lambda s: (not s.endswith(".markets"), s)):
            try:
                msg = await js.get_last_msg(wire.STREAM, subject)
            except Exception:  # noqa: BLE001 - gone meanwhile
                continue
            self._writer.write(self._clock(), subject, msg.data)

    async def _on_msg(self, msg: Any) -> None:
        if self._live is not None:
            self._live.append((self._clock(), msg.subject, msg.data))
            return
        self._writer.write(self._clock(), msg.subject, msg.data)

    async def stop(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
            self._nc = None
        self._writer.close()


class DirectRecorder:
    """Venues straight to a file, no bus: a collector (the same normalised messages, the same
    subjects) whose output is written here. ``subjects`` filters as on the bus."""

    def __init__(self, venues: list[Any], subjects: str, out: Path, *, depth: int = 50,
                 clock: Callable[[], float] = time.time, snapshot_interval_s: float = 1.0,
                 health_interval_s: float = 1.0, trades_interval_s: float | None = 2.0,
                 tickers_interval_s: float | None = 10.0) -> None:  # fmt: skip
        from aitbc_tui.desk.collector import Collector

        self.subjects = check_subjects(subjects)
        self.out = Path(out)
        self._clock = clock
        names = [str(v.name) for v in venues]
        self._writer = RecordingWriter(self.out, {"started": 0.0, "nats": None, "subjects": self.subjects,
                                                  "venues": names})  # fmt: skip
        self.collector = Collector(venues, None, sink=self._sink, depth=depth, clock=clock,
                                   snapshot_interval_s=snapshot_interval_s, health_interval_s=health_interval_s,
                                   trades_interval_s=trades_interval_s, tickers_interval_s=tickers_interval_s)  # fmt: skip

    @property
    def messages(self) -> int:
        return self._writer.messages

    @property
    def last_seq(self) -> dict[tuple[str, str], int]:
        return self._writer.last_seq

    async def _sink(self, subject: str, payload: bytes) -> None:
        if subject_matches(self.subjects, subject):
            self._writer.write(self._clock(), subject, payload)

    async def start(self) -> None:
        self._writer.header["started"] = self._clock()
        self._writer.open()
        try:
            await self.collector.start()
        except BaseException:
            await self.collector.stop()
            self._writer.discard()
            raise

    async def stop(self) -> None:
        await self.collector.stop()
        self._writer.close()


# ---- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    t: float  # when it was received (epoch seconds)
    subject: str
    message: dict[str, Any]


def read_recording(path: Path | str) -> tuple[dict[str, Any], list[Recorded]]:
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            lines = f.read().splitlines()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise RecordingError(f"{path}: not a readable recording (gzip JSON lines): {exc}") from None
    if not lines:
        raise RecordingError(f"{path}: empty recording")
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("aitbc_recording") != RECORDING_VERSION:
        raise RecordingError(f"{path}: line 1 is not an aitbc-tui recording header")
    out: list[Recorded] = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            row = json.loads(line)
            t, subject, message = float(row["t"]), str(row["s"]), row["m"]
            if not isinstance(message, dict) or message.get("v") != wire.WIRE_VERSION:
                raise ValueError("not a wire message")
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordingError(f"{path}: line {number}: {exc}") from None
        out.append(Recorded(t, subject, message))
    return header, out


# ---- replay --------------------------------------------------------------------------------


class ReplayWorld:
    """Matching engines with the recorded markets; ``apply`` moves the replay maker's orders
    to each recorded book. Quacks like the sandbox world for ``SimVenue`` (``engine(name)``)."""

    def __init__(self, records: list[Recorded], *, clock: Callable[[], float]) -> None:
        from aitbc_tui.sim.engine import MatchingEngine
        from aitbc_tui.sim.specs import OPERATOR, OPERATOR_START_BALANCES

        self.engines: dict[str, MatchingEngine] = {}
        for record in records:
            if record.message.get("type") == "markets":
                try:
                    markets = wire.parse_markets(record.message)
                except wire.WireError as exc:
                    raise RecordingError(f"recorded markets of {record.subject}: {exc}") from None
                venue = str(record.message.get("venue"))
                if venue not in self.engines:
                    engine = MatchingEngine(venue, clock)
                    engine.set_unlimited(REPLAY_MAKER, quiet=True)
                    for market in markets.values():
                        engine.add_market(market)
                    for asset, amount in OPERATOR_START_BALANCES.items():
                        engine.set_balance(OPERATOR, asset, amount)
                    self.engines[venue] = engine
        if not self.engines:
            raise RecordingError(
                "the recording has no markets: record while a collector runs (they come from the stream)"
            )
        self._books: dict[tuple[str, str], wire.L2Book] = {}
        self._orders: dict[tuple[str, str], dict[tuple[Side, Decimal], str]] = {}
        self._unplaced: set[tuple[str, str]] = set()  # books moved by apply(place=False), not in the engine yet
        self.applied = 0  # book messages that moved a book
        self.skipped_levels = 0  # recorded levels the engine could not hold (off the tick size)

    def engine(self, venue: str) -> Any:
        return self.engines[venue]

    # SimVenue with autostart_ticks=False never calls these; present for the world interface.
    def acquire(self, tick_hz: float = 0.0) -> None:
        return None

    async def release(self) -> None:
        return None

    def apply(self, record: Recorded, *, place: bool = True) -> bool:
        """Apply one recorded message; True when a book moved. ``place=False`` (a seek) moves
        only the recorded book; ``settle`` then puts each moved book in its engine once."""
        kind = record.message.get("type")
        if kind not in ("snapshot", "delta"):
            return False
        try:
            message = wire.parse_book(record.message)
        except wire.WireError:
            return False
        engine = self.engines.get(message.venue)
        if engine is None or message.symbol not in engine.markets:
            return False
        key = (message.venue, message.symbol)
        book = self._books.get(key)
        if message.kind == "snapshot":
            if book is not None and book.epoch == message.epoch and message.seq <= book.seq:
                return False
            book = self._books[key] = wire.L2Book(message)
        elif book is not None and book.follows(message):
            book.apply(message)
        else:
            if book is not None and message.seq > book.seq:
                if key in self._unplaced:
                    self._settle_one(key)  # the engine keeps the book from before the gap, as in play
                del self._books[key]  # a gap in the recording: wait for the next snapshot
            return False
        self.applied += 1
        if not place:
            self._unplaced.add(key)
            return True
        self._unplaced.discard(key)
        snapshot = book.snapshot()
        self._place_levels(engine, key, snapshot.bids, snapshot.asks)
        return True

    def settle(self) -> None:
        """Every book moved by ``apply(place=False)`` into its engine, as it stands now."""
        for key in sorted(self._unplaced):
            self._settle_one(key)

    def _settle_one(self, key: tuple[str, str]) -> None:
        self._unplaced.discard(key)
        book = self._books.get(key)
        if book is not None:
            snapshot = book.snapshot()
            self._place_levels(self.engines[key[0]], key, snapshot.bids, snapshot.asks)

    def _place_levels(self, engine: Any, key: tuple[str, str], bids: tuple[PriceLevel, ...],
                      asks: tuple[PriceLevel, ...]) -> None:  # fmt: skip
        held = self._orders.setdefault(key, {})
        target = {(Side.BUY, p): s for p, s in bids} | {(Side.SELL, p): s for p, s in asks}
        symbol = key[1]
        with engine.batch(symbol):
            # Levels gone first, so a new level never meets the maker's own stale order.
            for level, order_id in list(held.items()):
                if level not in target or not engine.is_open(order_id):
                    if engine.is_open(order_id):
                        engine.cancel_quiet(REPLAY_MAKER, order_id)
                    del held[level]
            for (side, price), size in target.items():
                resting = held.get((side, price))
                if resting is not None:
                    if engine.open_remaining(resting) != size:
                        engine.amend_remaining(REPLAY_MAKER, resting, size)
                    continue
                placed = self._place_one(engine, symbol, side, price, size)
                if placed is not None and engine.is_open(placed):
                    held[(side, price)] = placed

    def _place_one(self, engine: Any, symbol: str, side: Side, price: Decimal, size: Decimal) -> str | None:
        """A maker order of exactly ``size``: a dust level below the market's minimums is
        placed at the smallest valid amount, then amended down (the maker's amends are not
        order-checked), so every recorded level shows."""
        from aitbc_tui.domain import OrderRejected

        market = engine.markets[symbol]
        try:
            return str(engine.place_quiet(REPLAY_MAKER, symbol, side, OrderType.LIMIT, size, price))
        except OrderRejected:
            pass
        lot = market.lot_size
        smallest = max(market.min_amount, market.min_notional / price, lot)
        valid = (smallest / lot).to_integral_value(rounding="ROUND_CEILING") * lot
        try:
            order_id = str(engine.place_quiet(REPLAY_MAKER, symbol, side, OrderType.LIMIT, valid, price))
        except OrderRejected:
            self.skipped_levels += 1
            return None
        if engine.is_open(order_id) and valid != size:
            engine.amend_remaining(REPLAY_MAKER, order_id, size)
        return order_id


class Replayer:
    """Plays records into a ReplayWorld at ``speed`` x the recorded pace; ``pause``,
    ``resume``, ``step`` (one book update, while paused), ``set_speed``."""

    def __init__(self, records: list[Recorded], world: ReplayWorld, *, speed: float = 1.0) -> None:
        self.records = records
        self.world = world
        self.speed = clamp_speed(speed)
        self.position = 0  # index of the next record
        self.now = records[0].t if records else 0.0  # the replay's clock: the current record's time
        self._running = asyncio.Event()
        self._running.set()
        self._wake = asyncio.Event()
        self.finished = asyncio.Event()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()
        self._wake.set()

    def resume(self) -> None:
        self._running.set()
        self._wake.set()

    def set_speed(self, speed: float) -> float:
        self.speed = clamp_speed(speed)
        self._wake.set()
        return self.speed

    def step(self) -> bool:
        """Apply records up to and including the next one that moves a book; False at the end."""
        while self.position < len(self.records):
            if self._apply_next():
                return True
        self.finished.set()
        return False

    def _apply_next(self) -> bool:
        record = self.records[self.position]
        self.position += 1
        self.now = record.t
        return self.world.apply(record)

    def seek(self, t: float) -> int:
        """Start at ``t`` (epoch seconds): every record before it applied at once, each book
        placed in its engine once as it stood at ``t``; the clock at ``t``. Returns the number
        of records passed. The books are those a replay played up to ``t`` shows."""
        passed = 0
        while self.position < len(self.records) and self.records[self.position].t < t:
            self.world.apply(self.records[self.position], place=False)
            self.position += 1
            passed += 1
        self.world.settle()
        self.now = max(self.now, t)
        return passed

    def run_to_end(self) -> None:
        """Everything at once (tests, headless checks)."""
        while self.step():
            pass

    async def run(self) -> None:
        """Play at ``speed``: each record is due at a wall time measured from one anchor (the
        start, or the last resume or speed change), so waking late for one record does not
        delay the ones after it (a per-record wait drifted 30% behind at 10x)."""
        loop = asyncio.get_running_loop()
        anchor: tuple[float, float] | None = None  # (wall time, recording time) the pace counts from
        while self.position < len(self.records):
            if not self._running.is_set():
                anchor = None
                await self._running.wait()
            if anchor is None:
                anchor = (loop.time(), self.now)
            record = self.records[self.position]
            speed = self.speed
            wait = anchor[0] + (record.t - anchor[1]) / speed - loop.time()
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):  # not wait_for: it can drop a cancel (3.11)
                        await self._wake.wait()
                if self._wake.is_set():
                    # Paused or re-timed meanwhile: the time already waited counts at the old speed.
                    self.now = min(record.t, max(self.now, anchor[1] + (loop.time() - anchor[0]) * speed))
                    anchor = None
                    continue
            else:
                await asyncio.sleep(0)  # behind the pace: catch up, but let the dashboard paint
            self._apply_next()
        self.finished.set()

    def iter_books(self) -> Iterator[int]:  # pragma: no cover - convenience
        while self.step():
            yield self.position


_OFFSET_RE = re.compile(r"^\+?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def recording_span(header: dict[str, Any], records: list[Recorded]) -> tuple[float, float]:
    """(start, end) in epoch seconds: the header's start (else the first record), the last record."""
    started = header.get("started")
    first = records[0].t if records else 0.0
    start = float(started) if isinstance(started, int | float) and not isinstance(started, bool) else first
    start = min(start, first) if records else start
    return start, (records[-1].t if records else start)


def _utc(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_start(text: str, header: dict[str, Any], records: list[Recorded]) -> float:
    """``--from``: an ISO-8601 time (UTC when it names no offset), or an offset from the
    recording's start (``+90s``, ``5m``, ``1h30m``, ``2.5s``); RecordingError (one line)
    for anything else or a time outside the recording."""
    from datetime import UTC, datetime

    start, end = recording_span(header, records)
    span = f"the recording runs from {_utc(start)} to {_utc(end)} ({end - start:.0f} s)"
    raw = text.strip()
    match = _OFFSET_RE.match(raw)
    if raw and raw != "+" and match is not None and any(match.groups()):
        hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        at = start + hours * 3600 + minutes * 60 + seconds
    else:
        try:
            when = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
        except ValueError:
            raise RecordingError(
                f"--from {text!r} is not a time: use ISO-8601 UTC (e.g. {_utc(start)}) or an offset from the "
                "recording's start (+90s, 5m, 1h30m)"
            ) from None
        at = (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()
    if at < start:
        raise RecordingError(f"--from {text!r} is before the recording starts; {span}")
    if at > end:
        raise RecordingError(f"--from {text!r} is after the recording ends; {span}")
    return at


def clamp_speed(speed: float) -> float:
    if not speed == speed:  # NaN
        return MIN_SPEED
    return max(MIN_SPEED, min(MAX_SPEED, float(speed)))


def replay_venues(world: ReplayWorld) -> list[Any]:
    """One SimVenue per recorded venue, on the replay's engines (no ticking world)."""
    from typing import cast

    from aitbc_tui.venues.sim import SimVenue

    return [SimVenue(cast(Any, world), name, autostart_ticks=False) for name in world.engines]


def recording_markets(records: list[Recorded]) -> dict[str, dict[str, Market]]:
    out: dict[str, dict[str, Market]] = {}
    for record in records:
        if record.message.get("type") == "markets":
            out.setdefault(str(record.message.get("venue")), wire.parse_markets(record.message))
    return out


__all__ = [
    "DirectRecorder",
    "RecordingWriter",
    "parse_start",
    "recording_span",
    "subject_matches",
    "Recorder",
    "Recorded",
    "RecordingError",
    "ReplayWorld",
    "Replayer",
    "read_recording",
    "replay_venues",
]
