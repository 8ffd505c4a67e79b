"""Record the bus against the emulator, replay the file, compare the books frame by frame."""

from __future__ import annotations

import gzip
from decimal import Decimal

import pytest

from aitbc_tui.desk.collector import Collector
from aitbc_tui.desk.recording import Recorder, RecordingError, Replayer, ReplayWorld, read_recording, replay_venues
from aitbc_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from aitbc_tui.service import MarketService
from aitbc_tui.sim.specs import OPERATOR
from tests.apptools import wait_until

DEPTH = 20
MOVES = 5


def top(book):
    return (tuple(book.bids[:DEPTH]), tuple(book.asks[:DEPTH]))


def distinct(frames):
    out = []
    for frame in frames:
        if not out or out[-1] != frame:
            out.append(frame)
    return out


@pytest.fixture
async def recorded(still_emulator, nats_server, emulator_venue, tmp_path):
    """A recording of the collector on a still binance emulator, during which the best bid
    moves up one tick MOVES times; returns (path, the collector's books in order)."""
    emu = await still_emulator("binance")
    collector = Collector([emulator_venue(emu)], nats_server.url, depth=DEPTH, snapshot_interval_s=0.5,
                          trades_interval_s=None, tickers_interval_s=None)  # fmt: skip
    await collector.start()
    service = collector.service
    path = tmp_path / "session.jsonl.gz"
    recorder = None
    try:
        await wait_until(lambda: service.book("binance", "BTC/USDT") is not None and collector.stats.snapshots >= 2)
        recorder = Recorder(nats_server.url, "md.>", path)
        await recorder.start()
        frames = [top(service.book("binance", "BTC/USDT"))]
        engine = emu.engine
        market = engine.markets["BTC/USDT"]
        for _ in range(MOVES):
            best_bid, _ask = engine.best_bid_ask("BTC/USDT")
            price = best_bid + market.tick_size
            engine.place("mm", "BTC/USDT", Side.BUY, OrderType.LIMIT, market.min_amount * 100, price)
            await wait_until(lambda p=price: service.book("binance", "BTC/USDT").best_bid == p)
            frames.append(top(service.book("binance", "BTC/USDT")))
            seq = collector._books[("binance", "BTC/USDT")].seq
            # The recorder has the update (the delta, or a keyframe at that sequence number).
            await wait_until(lambda s=seq: recorder.last_seq.get(("binance", "BTC/USDT"), 0) >= s)
    finally:
        if recorder is not None:
            await recorder.stop()
        await collector.stop()
    return path, frames


def replay_frames(path) -> tuple[list, ReplayWorld]:
    header, records = read_recording(path)
    assert header["subjects"] == "md.>"
    world = ReplayWorld(records, clock=lambda: 0.0)
    replayer = Replayer(records, world)
    engine = world.engine("binance")
    frames = []
    while replayer.step():
        frames.append(top(engine.book("BTC/USDT", DEPTH)))
    return frames, world


async def test_replay_shows_the_recorded_books_frame_by_frame(recorded):
    path, live = recorded
    assert len(distinct(live)) == MOVES + 1
    frames, world = replay_frames(path)
    assert distinct(frames) == distinct(live)
    assert world.skipped_levels == 0
    # Deterministic: a second replay of the same file gives the same frames.
    again, _ = replay_frames(path)
    assert again == frames


async def test_replay_fills_practice_orders_at_the_recorded_prices(recorded):
    path, live = recorded
    header, records = read_recording(path)
    world = ReplayWorld(records, clock=lambda: 1795000000.0)
    Replayer(records, world).run_to_end()
    (venue,) = replay_venues(world)
    service = MarketService([venue], health_interval_s=3600, account_interval_s=3600)
    await service.start(stream=False)
    try:
        best_ask, best_ask_size = live[-1][1][0]
        usdt_before = world.engine("binance").balances(OPERATOR)["USDT"].free
        amount = Decimal("0.001")
        order = await service.place_order(
            OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, amount, best_ask)
        )
        assert order.status is OrderStatus.FILLED and order.average_price == best_ask
        usdt_after = world.engine("binance").balances(OPERATOR)["USDT"].free
        taker_fee = world.engine("binance").markets["BTC/USDT"].taker_fee  # the recorded rule
        assert taker_fee == Decimal("0.001")
        cost = best_ask * amount
        assert usdt_before - usdt_after == cost + cost * taker_fee  # price x amount, plus the taker fee in USDT
        # The recorded level shrank by what the practice order took.
        assert world.engine("binance").book("BTC/USDT", 1).asks[0] == (best_ask, best_ask_size - amount)
    finally:
        await service.stop()


async def test_replay_at_speed_runs_the_clock_and_ends_on_the_last_book(recorded):
    path, live = recorded
    header, records = read_recording(path)
    world = ReplayWorld(records, clock=lambda: 0.0)
    replayer = Replayer(records, world, speed=50)
    await replayer.run()
    assert replayer.finished.is_set() and replayer.position == len(records)
    assert top(world.engine("binance").book("BTC/USDT", DEPTH)) == live[-1]
    assert replayer.now == records[-1].t


def test_bad_recordings_are_refused_in_one_line(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("hello\n")
    with pytest.raises(RecordingError, match="not a readable recording"):
        read_recording(plain)
    wrong = tmp_path / "wrong.gz"
    with gzip.open(wrong, "wb") as f:
        f.write(b'{"something": 1}\n')
    with pytest.raises(RecordingError, match="line 1 is not an aitbc-tui recording header"):
        read_recording(wrong)
    broken = tmp_path / "broken.gz"
    with gzip.open(broken, "wb") as f:
        f.write(b'{"aitbc_recording": 1}\n{"t": 1, "s": "md.x.health", "m": {"v": 7}}\n')
    with pytest.raises(RecordingError, match="line 2: not a wire message"):
        read_recording(broken)
    no_markets = tmp_path / "empty.gz"
    with gzip.open(no_markets, "wb") as f:
        f.write(b'{"aitbc_recording": 1}\n')
    _h, records = read_recording(no_markets)
    with pytest.raises(RecordingError, match="no markets"):
        ReplayWorld(records, clock=lambda: 0.0)
