"""The collector against the binance emulator (real ccxt client, websocket) and a real nats-server."""

from __future__ import annotations

import asyncio

import pytest

from aitbc_tui.desk import wire
from aitbc_tui.desk.collector import Collector
from aitbc_tui.domain import BookSnapshot, OrderType, Side
from tests.apptools import wait_until
from tests.desk.helpers import wait_async

DEPTH = 20


async def last_snapshot(js, venue: str, symbol: str) -> wire.BookMessage:
    msg = await js.get_last_msg(wire.STREAM, wire.subject(venue, symbol, "book"))
    return wire.parse_book(wire.decode(msg.data))


def levels_of(book: BookSnapshot, depth: int = DEPTH) -> tuple:
    return book.bids[:depth], book.asks[:depth]


@pytest.fixture
async def collector_on(emulator_venue):
    made: list[Collector] = []

    async def factory(emu, url: str, **kwargs) -> Collector:
        kwargs.setdefault("trades_interval_s", None)
        kwargs.setdefault("tickers_interval_s", None)
        collector = Collector([emulator_venue(emu)], url, depth=DEPTH, reconnect_wait_s=0.1, **kwargs)
        made.append(collector)
        await collector.start()
        return collector

    yield factory
    for collector in made:
        await collector.stop()


async def test_snapshot_in_the_stream_is_the_venues_book(still_emulator, nats_server, nats_client, collector_on,
                                                         loopback_only):  # fmt: skip
    emu = await still_emulator("binance")
    collector = await collector_on(emu, nats_server.url)
    service = collector.service
    await wait_until(lambda: service.book("binance", "BTC/USDT") is not None)
    nc = await nats_client(nats_server.url)
    js = nc.jetstream()
    snap = await last_snapshot(js, "binance", "BTC/USDT")
    direct = service.book("binance", "BTC/USDT")
    assert (snap.bids, snap.asks) == levels_of(direct)
    assert snap.epoch == collector.epoch and snap.seq >= 1 and snap.kind == "snapshot"
    # The markets, with their rules, are in the stream as well.
    markets_msg = await js.get_last_msg(wire.STREAM, wire.markets_subject("binance"))
    markets = wire.parse_markets(wire.decode(markets_msg.data))
    assert markets["BTC/USDT"] == service.market("binance", "BTC/USDT")


async def test_deltas_are_numbered_and_rebuild_the_book(still_emulator, nats_server, nats_client, collector_on):
    emu = await still_emulator("binance")
    nc = await nats_client(nats_server.url)
    got: list[wire.BookMessage] = []

    async def on_msg(msg):
        got.append(wire.parse_book(wire.decode(msg.data)))

    await nc.subscribe("md.binance.BTC-USDT.*", cb=on_msg)
    await nc.flush()
    collector = await collector_on(emu, nats_server.url)
    await wait_until(lambda: any(m.kind == "snapshot" for m in got))
    book = wire.L2Book(next(m for m in got if m.kind == "snapshot"))
    # Move the market: an order that rests inside the spread and one that takes a level.
    engine = emu.engine
    best_bid = collector.service.book("binance", "BTC/USDT").best_bid
    engine.place("mm", "BTC/USDT", Side.BUY, OrderType.LIMIT, engine.markets["BTC/USDT"].min_amount * 100, best_bid + 1)
    await wait_until(lambda: any(m.kind == "delta" for m in got))
    await wait_until(
        lambda: (b := collector.service.book("binance", "BTC/USDT")) is not None and b.best_bid == best_bid + 1
    )
    await nc.flush()
    await wait_until(lambda: max(m.seq for m in got) >= collector._books[("binance", "BTC/USDT")].seq)
    deltas = [m for m in got if m.kind == "delta" and m.seq > book.seq]
    assert [d.seq for d in deltas] == list(range(book.seq + 1, book.seq + 1 + len(deltas)))  # no gap, no repeat
    for delta in deltas:
        assert book.follows(delta)
        book.apply(delta)
    assert levels_of(book.snapshot()) == levels_of(collector.service.book("binance", "BTC/USDT"))
    assert book.snapshot().best_bid == best_bid + 1


async def test_nats_restart_remakes_the_stream_and_republishes(still_emulator, nats_server, nats_client, collector_on):
    emu = await still_emulator("binance")
    collector = await collector_on(emu, nats_server.url)
    await wait_until(lambda: collector.stats.snapshots >= 2)  # both books
    await nats_server.restart()  # the memory stream is gone with the old server
    await wait_until(lambda: collector.stats.reconnects >= 1 and collector.stats.republished >= 2)
    nc = await nats_client(nats_server.url)
    js = nc.jetstream()
    snap = await last_snapshot(js, "binance", "ETH/USDT")
    assert (snap.bids, snap.asks) == levels_of(collector.service.book("binance", "ETH/USDT"))
    health = wire.parse_health(wire.decode((await js.get_last_msg(wire.STREAM, wire.health_subject("binance"))).data))
    assert health.epoch == collector.epoch and health.health.venue == "binance"


async def test_collector_waits_for_a_bus_that_starts_later(still_emulator, nats_server, collector_on, caplog):
    emu = await still_emulator("binance")
    await nats_server.stop()
    caplog.set_level("WARNING", logger="aitbc_tui.desk.bus")
    task = asyncio.create_task(collector_on(emu, nats_server.url))
    await wait_until(lambda: caplog.text.count("ConnectionRefusedError") >= 2)  # it retries meanwhile
    assert not task.done()
    await nats_server.start()
    collector = await asyncio.wait_for(task, 15)
    await wait_until(lambda: collector.stats.snapshots >= 2)


def test_collector_refuses_a_url_with_a_secret_in_it():
    from aitbc_tui.desk.bus import BusError

    with pytest.raises(BusError, match="no user, password or token in the URL"):
        Collector([], "nats://me:s3cret@127.0.0.1:4222")
    with pytest.raises(BusError, match="is not allowed"):
        Collector([], "http://127.0.0.1:4222")


def run_cli(*args: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "aitbc_tui", *args], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--nats", "http://127.0.0.1:4222"), "is not allowed; use nats://HOST:PORT"),
        (("--nats", "nats://u:pw@127.0.0.1:4222"), "no user, password or token in the URL"),
        (("--depth", "0"), "from 1 to 1000"),
        (("--snapshot-every", "nan"), "greater than 0"),
    ],
)
def test_feed_command_refuses_bad_arguments(args, message):
    code, out, err = run_cli("feed", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not out
    assert "pw@" not in err  # a secret in the URL is not echoed


async def test_feed_command_publishes_the_sandbox_until_sigterm(nats_server, nats_client, isolated_dirs):
    import os
    import signal
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitbc_tui", "--seed", "3", "feed", "--nats", nats_server.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ},
    )  # fmt: skip
    try:
        nc = await nats_client(nats_server.url)
        js = nc.jetstream()

        async def snapshot() -> wire.BookMessage | None:
            try:
                msg = await js.get_last_msg(wire.STREAM, wire.subject("binance", "BTC/USDT", "book"))
            except Exception:  # noqa: BLE001 - not there yet (no stream, or no message)
                return None
            return wire.parse_book(wire.decode(msg.data))

        snap = await wait_async(snapshot, timeout=30, what="a sandbox snapshot on the bus")
        assert snap.bids and snap.asks and snap.venue == "binance"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert b"publishing" in out and b"stopped" in out
