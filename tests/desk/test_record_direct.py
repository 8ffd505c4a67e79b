"""``record`` without a bus (the venues connected directly) and ``--replay FILE --from TIME``.

A recording of the real ccxt client on the binance emulator, made by the product's direct
path (a collector writing to the file), replayed whole and from a time in the middle: the
books after the seek are those the whole replay shows at that point, and so is every book
after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from aitbc_tui.cli import main
from aitbc_tui.desk import wire
from aitbc_tui.desk.recording import (
    DirectRecorder,
    Recorder,
    RecordingError,
    RecordingWriter,
    Replayer,
    ReplayWorld,
    parse_start,
    read_recording,
    recording_span,
    subject_matches,
)
from aitbc_tui.domain import Market, OrderType, Side
from tests.apptools import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPTH = 20
MOVES = 6


def top(book):
    return (tuple(book.bids[:DEPTH]), tuple(book.asks[:DEPTH]))


def distinct(frames):
    out = []
    for frame in frames:
        if not out or out[-1] != frame:
            out.append(frame)
    return out


@pytest.fixture
async def direct_recording(still_emulator, emulator_venue, tmp_path):
    """A direct recording (no bus) of the binance emulator while the best bid moves up one tick
    MOVES times; returns (path, the recording collector's books in order)."""
    emu = await still_emulator("binance")
    path = tmp_path / "direct.jsonl.gz"
    recorder = DirectRecorder([emulator_venue(emu)], "md.>", path, depth=DEPTH, snapshot_interval_s=0.5,
                              trades_interval_s=None, tickers_interval_s=None, health_interval_s=0.5)  # fmt: skip
    await recorder.start()
    service = recorder.collector.service
    try:
        await wait_until(lambda: service.book("binance", "BTC/USDT") is not None, timeout=60)
        frames = [top(service.book("binance", "BTC/USDT"))]
        engine = emu.engine
        market = engine.markets["BTC/USDT"]
        for _ in range(MOVES):
            best_bid, _ask = engine.best_bid_ask("BTC/USDT")
            price = best_bid + market.tick_size
            engine.place("mm", "BTC/USDT", Side.BUY, OrderType.LIMIT, market.min_amount * 100, price)
            await wait_until(lambda p=price: service.book("binance", "BTC/USDT").best_bid == p, timeout=60)
            frames.append(top(service.book("binance", "BTC/USDT")))
            seq = recorder.collector._books[("binance", "BTC/USDT")].seq
            await wait_until(lambda s=seq: recorder.last_seq.get(("binance", "BTC/USDT"), 0) >= s, timeout=60)
    finally:
        await recorder.stop()
    return path, frames


def play_all(records):
    """The whole replay, step by record: the BTC/USDT book after each record (None: no book yet)."""
    world = ReplayWorld(records, clock=lambda: 0.0)
    replayer = Replayer(records, world)
    engine = world.engine("binance")
    after: list = []
    while replayer.position < len(records):
        replayer._apply_next()
        book = engine.book("BTC/USDT", DEPTH)
        after.append(top(book) if book.bids or book.asks else None)
    return after


async def test_a_direct_recording_replays_the_books_the_venue_showed(direct_recording):
    path, live = direct_recording
    header, records = read_recording(path)
    assert header["nats"] is None and header["venues"] == ["binance"] and header["subjects"] == "md.>"
    kinds = [r.message["type"] for r in records]
    # The markets come before any book, and the first book message is a snapshot.
    assert kinds.index("markets") < kinds.index("snapshot") < kinds.index("delta")
    assert "health" in kinds
    assert len(distinct(live)) == MOVES + 1
    frames = [f for f in play_all(records) if f is not None]
    assert distinct(frames) == distinct(live)


async def test_replay_from_a_time_starts_on_the_books_of_that_time(direct_recording):
    path, live = direct_recording
    header, records = read_recording(path)
    whole = play_all(records)
    # A time between two book records in the middle, after the third move.
    third = whole.index(live[3])
    later = next(i for i in range(third + 1, len(records)) if records[i].t > records[third].t)
    at = (records[third].t + records[later].t) / 2
    start, _end = recording_span(header, records)
    iso = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    for text in (f"+{at - start:.6f}s", f"{at - start:.6f}s", iso):
        assert abs(parse_start(text, header, records) - at) < 1e-5
        world = ReplayWorld(records, clock=lambda: 0.0)
        replayer = Replayer(records, world, speed=10)
        passed = replayer.seek(parse_start(text, header, records))
        assert passed == later and replayer.now == pytest.approx(at, abs=1e-5)
        engine = world.engine("binance")
        assert top(engine.book("BTC/USDT", DEPTH)) == whole[later - 1] == live[3]
        # From there on, record by record, the same books as the whole replay.
        tail = []
        while replayer.position < len(records):
            replayer._apply_next()
            tail.append(top(engine.book("BTC/USDT", DEPTH)))
        assert tail == whole[later:]
        assert tail[-1] == live[-1]
    # A practice order after the seek fills against the recorded book of that time.
    world = ReplayWorld(records, clock=lambda: 1795000000.0)
    Replayer(records, world).seek(at)
    from aitbc_tui.sim.specs import OPERATOR

    best_ask, _size = live[3][1][0]
    engine = world.engine("binance")
    engine.place(OPERATOR, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), best_ask)
    assert engine.book("BTC/USDT", 1).asks[0] == (best_ask, live[3][1][0][1] - Decimal("0.001"))


def _tiny_recording(path: Path, started: float = 1_790_000_000.0) -> None:
    one = Decimal("0.001")
    market = Market("BTC/USDT", "BTC", "USDT", Decimal("0.01"), one, one, Decimal("1"), one, one)
    writer = RecordingWriter(path, {"started": started, "nats": None, "subjects": "md.>", "venues": ["binance"]})
    writer.open()
    writer.write(started, wire.markets_subject("binance"), wire.markets_bytes("binance", {"BTC/USDT": market}, started))
    for i in range(3):
        book = wire.BookMessage("snapshot", "binance", "BTC/USDT", "e", i + 1, started + 60 * i, started + 60 * i,
                                ((Decimal(100 + i), Decimal(1)),), ((Decimal(101 + i), Decimal(1)),))  # fmt: skip
        writer.write(started + 60 * i, wire.subject("binance", "BTC/USDT", "book"), book.to_bytes())
    writer.close()


def test_bad_from_values_exit_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "tiny.jsonl.gz"
    _tiny_recording(path)
    header, records = read_recording(path)
    assert parse_start("+90s", header, records) == 1_790_000_090.0
    assert parse_start("1m30s", header, records) == 1_790_000_090.0
    assert parse_start("2m", header, records) == 1_790_000_120.0
    # ISO-8601: Z, no offset (UTC), or any offset; all the same instant, 60 s in.
    for iso in ("2026-09-21T14:14:20Z", "2026-09-21T14:14:20", "2026-09-21T16:14:20+02:00"):
        assert parse_start(iso, header, records) == 1_790_000_060.0
    for bad, why in (("yesterday", "is not a time: use ISO-8601 UTC"), ("+90", "is not a time"),
                     ("-5s", "is not a time"), ("", "is not a time"), ("1h", "is after the recording ends"),
                     ("2020-01-01T00:00:00Z", "is before the recording starts")):  # fmt: skip
        with pytest.raises(RecordingError, match=why):
            parse_start(bad, header, records)
        capsys.readouterr()
        assert main(["--replay", str(path), f"--from={bad}"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why.split(":")[0] in err, err
    assert main(["--from", "5m"]) == 2
    assert "--from needs --replay FILE" in capsys.readouterr().err


def test_subject_filters_match_as_on_the_bus():
    assert subject_matches("md.>", "md.binance.BTC-USDT.book")
    assert subject_matches("md.binance.>", "md.binance.health")
    assert not subject_matches("md.binance.>", "md.kraken.health")
    assert subject_matches("md.*.health", "md.kraken.health")
    assert not subject_matches("md.*.health", "md.kraken.BTC-USD.book")
    assert not subject_matches("md.>", "md")
    for bad in ("md.>.x", "md..x", "md x", "", "md.a*"):
        with pytest.raises(Exception, match="is not a subject"):
            Recorder("nats://127.0.0.1:4222", bad, Path("unused"))


def test_record_without_a_bus_from_the_sandbox_on_the_command_line(tmp_path):
    out = tmp_path / "sandbox.jsonl.gz"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AITBC_DATA_DIR": str(tmp_path / "d"),
           "AITBC_CONFIG_DIR": str(tmp_path / "c")}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "aitbc_tui", "--seed", "7", "record", "--subjects", "md.binance.>",
                           "--out", str(out), "--duration", "3", "--depth", "10"],
                          capture_output=True, text=True, env=env, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "directly (no bus)" in done.stdout
    header, records = read_recording(out)
    assert header["nats"] is None and "binance" in header["venues"]
    assert {r.subject.split(".")[1] for r in records} == {"binance"}
    books = [wire.parse_book(r.message) for r in records if r.message["type"] in ("snapshot", "delta")]
    assert books and books[0].kind == "snapshot" and len(books[0].bids) == 10
    assert ReplayWorld(records, clock=lambda: 0.0).engine("binance").markets
    # Bus-only options without --nats: one line, exit 2, nothing written.
    again = tmp_path / "never.jsonl.gz"
    done = subprocess.run([sys.executable, "-m", "aitbc_tui", "record", "--tls-ca", "x.pem", "--out", str(again)],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--tls-ca needs --nats" in done.stderr and not again.exists()
