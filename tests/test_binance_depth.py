"""The native Binance depth feed (aitbc_tui/venues/binance_depth.py): the sequencing rules with
hand-computed cases, and end to end against the binance emulator on 127.0.0.1 (its books equal
ccxt.pro's and the engine's own, a dropped diff resyncs without a holed book, a restarted
emulator is reconnected to)."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal as D
from typing import Any

import pytest

from aitbc_tui.book import OrderBook
from aitbc_tui.config import ConfigError, VenueConfig, parse_config
from aitbc_tui.domain import BookSnapshot, Mode, OrderType, Side, VenueError
from aitbc_tui.venues.binance_depth import (
    APPLIED,
    BAD,
    BUFFERED,
    CROSSED,
    DROPPED,
    GAP,
    LIVE,
    DepthSync,
    stream_base,
)
from aitbc_tui.venues.ccxt_venue import CcxtVenue
from tests.apptools import wait_until

# ---- the sequencing, by hand --------------------------------------------------------------


def snapshot(last_id: int, bids=(("100.00", "1.0"), ("99.00", "2.0")), asks=(("101.00", "1.5"), ("102.00", "3.0"))):
    return {"lastUpdateId": last_id, "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}


def event(first: int, last: int, b=(), a=()) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": 1_790_000_000_000, "s": "BTCUSDT", "U": first, "u": last,
            "b": [list(x) for x in b], "a": [list(x) for x in a]}  # fmt: skip


def levels(sync: DepthSync, n: int = 5) -> tuple[tuple, tuple]:
    return sync.book.top(n)


def test_buffered_events_at_or_below_the_snapshot_are_dropped_and_the_straddling_one_applies_first():
    sync = DepthSync(OrderBook("b", "BTC/USDT"))
    # Buffered before the snapshot arrives (lastUpdateId will be 100):
    assert sync.on_event(event(95, 99, b=[("100.00", "9.0")])) == BUFFERED  # u 99 <= 100: dropped
    assert sync.on_event(event(100, 100, b=[("100.00", "8.0")])) == BUFFERED  # u 100 <= 100: dropped
    assert sync.on_event(event(99, 103, b=[("100.00", "5.0")], a=[("101.00", "0")])) == BUFFERED  # 99 <= 101 <= 103
    assert sync.on_event(event(104, 105, a=[("101.50", "0.5")])) == BUFFERED  # U = 103 + 1
    assert sync.on_snapshot(snapshot(100)) == LIVE
    bids, asks = levels(sync)
    # 100.00 is 5.0 (the straddling event), not 9.0 or 8.0 (dropped); 101.00 removed; 101.50 added.
    assert bids == ((D("100.00"), D("5.0")), (D("99.00"), D("2.0")))
    assert asks == ((D("101.50"), D("0.5")), (D("102.00"), D("3.0")))
    assert sync.last_u == 105 and sync.book.sequence == 105


def test_the_first_event_may_start_exactly_at_last_update_id_plus_one():
    sync = DepthSync(OrderBook())
    assert sync.on_snapshot(snapshot(100)) == LIVE  # nothing buffered: live at the snapshot
    assert sync.on_event(event(101, 101, b=[("99.50", "1.0")])) == APPLIED
    assert levels(sync)[0][1] == (D("99.50"), D("1.0"))
    assert sync.on_event(event(102, 104, b=[("99.50", "0")])) == APPLIED
    assert levels(sync)[0][1] == (D("99.00"), D("2.0"))


def test_a_snapshot_older_than_the_buffered_stream_does_not_join_it():
    sync = DepthSync(OrderBook())
    sync.on_event(event(103, 105, b=[("100.00", "7.0")]))  # 101 and 102 are in no event we have
    assert sync.on_snapshot(snapshot(100)) == GAP  # U 103 > 101: get a new snapshot
    assert not sync.live and len(sync.book) == 0  # no book shown meanwhile
    assert sync.on_event(event(106, 106)) == BUFFERED  # buffering again for the next snapshot


def test_a_first_live_event_past_the_snapshot_is_a_gap():
    sync = DepthSync(OrderBook())
    assert sync.on_snapshot(snapshot(100)) == LIVE
    assert sync.on_event(event(102, 103, b=[("100.00", "4.0")])) == GAP  # 101 missing
    assert not sync.live and len(sync.book) == 0


def test_each_later_event_must_follow_on_or_it_is_a_gap():
    sync = DepthSync(OrderBook())
    sync.on_snapshot(snapshot(100))
    assert sync.on_event(event(99, 102, b=[("100.00", "4.0")])) == APPLIED
    assert sync.on_event(event(103, 110, b=[("100.00", "3.0")])) == APPLIED
    # A late duplicate (u <= 110) changes nothing:
    assert sync.on_event(event(105, 108, b=[("100.00", "99.0")])) == DROPPED
    assert levels(sync)[0][0] == (D("100.00"), D("3.0"))
    # U 112 != 110 + 1: one event (111) was lost; the book is discarded, never shown holed.
    assert sync.on_event(event(112, 113, b=[("98.00", "1.0")])) == GAP
    assert not sync.live and len(sync.book) == 0
    assert sync.on_event(event(114, 115)) == BUFFERED


def test_a_diff_that_crosses_the_book_discards_it():
    sync = DepthSync(OrderBook())
    sync.on_snapshot(snapshot(100))
    assert sync.on_event(event(101, 101, b=[("101.00", "1.0")])) == CROSSED  # bid 101.00 >= ask 101.00
    assert not sync.live and len(sync.book) == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"U": 101, "b": []},  # no u
        {"U": "101", "u": 101},  # not an int
        {"U": 102, "u": 101},  # U > u
        {"U": 101, "u": 101, "b": [["abc", "1"]]},  # not a number
    ],
)
def test_a_malformed_event_discards_the_book(bad):
    sync = DepthSync(OrderBook())
    sync.on_snapshot(snapshot(100))
    assert sync.on_event(bad) == BAD
    assert not sync.live and len(sync.book) == 0


def test_a_crossed_or_malformed_snapshot_is_not_live():
    sync = DepthSync(OrderBook())
    assert sync.on_snapshot(snapshot(100, bids=(("101.00", "1"),))) == CROSSED
    assert sync.on_snapshot({"bids": [], "asks": []}) == BAD
    assert not sync.live


def test_the_stream_url_follows_ccxts_spot_url():
    assert stream_base("wss://stream.binance.com:9443/ws") == "wss://stream.binance.com:9443/stream"
    assert stream_base("ws://127.0.0.1:8901/stream/ws") == "ws://127.0.0.1:8901/stream"
    assert stream_base("ws://127.0.0.1:8901/prefix/stream/ws") == "ws://127.0.0.1:8901/prefix/stream"


# ---- config ---------------------------------------------------------------------------------


def test_book_feed_config_is_validated():
    base = '[venues.v]\nexchange = "{ex}"\nmode = "paper"\nsymbols = ["BTC/USDT"]\n'
    assert parse_config(base.format(ex="binance")).venues[0].book_feed == ""
    assert parse_config(base.format(ex="binance") + 'book_feed = "ccxt"\n').venues[0].book_feed == "ccxt"
    assert parse_config(base.format(ex="binance") + 'book_feed = "native"\n').venues[0].book_feed == "native"
    assert parse_config(base.format(ex="kraken") + 'book_feed = "ccxt"\n').venues[0].book_feed == "ccxt"
    with pytest.raises(ConfigError, match=r"venues\.v\.book_feed.*'fast' is not allowed"):
        parse_config(base.format(ex="binance") + 'book_feed = "fast"\n')
    with pytest.raises(ConfigError, match=r"venues\.v\.book_feed.*kraken has no native book feed"):
        parse_config(base.format(ex="kraken") + 'book_feed = "native"\n')
    with pytest.raises(ConfigError, match=r"venues\.v\.book_feed"):
        parse_config(base.format(ex="binance") + "book_feed = true\n")


def test_native_books_only_on_binance_websockets_unless_switched_off():
    def venue(exchange: str, **kw: Any) -> CcxtVenue:
        return CcxtVenue(VenueConfig("v", exchange, Mode.PAPER, ("BTC/USDT",), **kw))

    api, ws = "http://127.0.0.1:8901", "ws://127.0.0.1:8901"
    assert venue("binance", api_url=api, ws_url=ws).native_books
    assert not venue("binance", api_url=api, ws_url=ws, book_feed="ccxt").native_books
    assert not venue("binance", api_url=api).native_books  # REST polling: no websocket at all
    assert not venue("kraken", api_url=api, ws_url=ws).native_books


# ---- against the emulator -------------------------------------------------------------------


class Watcher:
    """Watches books in a loop, as the service does (errors kept, retried); every book kept."""

    def __init__(self, venue: CcxtVenue, symbol: str, depth: int = 20) -> None:
        self.venue = venue
        self.symbol = symbol
        self.depth = depth
        self.books: list[BookSnapshot] = []
        self.errors: list[str] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                self.books.append(await self.venue.watch_order_book(self.symbol, self.depth))
            except VenueError as exc:
                self.errors.append(str(exc))
                await asyncio.sleep(0.05)

    @property
    def last(self) -> BookSnapshot | None:
        return self.books[-1] if self.books else None

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def emu_venue(emu: Any, book_feed: str = "", symbols=("BTC/USDT", "ETH/USDT"), **kw: Any) -> CcxtVenue:
    config = VenueConfig(f"emu-{book_feed or 'native'}", "binance", Mode.PAPER, symbols, api_url=emu.url,
                         ws_url=emu.ws_url, book_feed=book_feed)  # fmt: skip
    return CcxtVenue(config, **kw)


def engine_top(emu: Any, symbol: str, depth: int = 20) -> tuple[tuple, tuple]:
    book = emu.engine.book(symbol, depth)
    return book.bids, book.asks


async def test_native_books_equal_ccxt_pros_for_the_same_emulator_state(still_emulator, loopback_only):
    emu = await still_emulator("binance")
    native, ccxt_pro = emu_venue(emu), emu_venue(emu, "ccxt")
    watchers: list[Watcher] = []
    try:
        await native.start()
        await ccxt_pro.start()
        assert native.native_books and not ccxt_pro.native_books
        watchers = [Watcher(v, s) for v in (native, ccxt_pro) for s in ("BTC/USDT", "ETH/USDT")]
        seq = {s: emu.engine.sequence(s) for s in ("BTC/USDT", "ETH/USDT")}

        def same_state() -> bool:
            return all(w.last is not None and w.last.sequence == seq[w.symbol] for w in watchers)

        await wait_until(same_state, timeout=30, what=lambda: f"both feeds at {seq}: {[w.last for w in watchers]}")
        for n, c in zip(watchers[:2], watchers[2:], strict=True):
            assert (n.last.bids, n.last.asks) == (c.last.bids, c.last.asks) == engine_top(emu, n.symbol)
            assert n.last.bids and n.last.asks and n.last.sequence == c.last.sequence
            assert all(type(x) is D for level in n.last.bids + n.last.asks for x in level)
        # A change travels by diff on both: a new best bid and an ask level taken away.
        book = emu.engine.book("BTC/USDT", 5)
        tick = D("0.01")
        emu.engine.place("emulator", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.123"), book.bids[0][0] + tick)
        seq["BTC/USDT"] = emu.engine.sequence("BTC/USDT")
        await wait_until(same_state, timeout=30, what=lambda: f"both feeds at {seq}")
        n, c = watchers[0], watchers[2]
        assert n.last.bids[0] == (book.bids[0][0] + tick, D("0.123"))
        assert (n.last.bids, n.last.asks) == (c.last.bids, c.last.asks) == engine_top(emu, "BTC/USDT")
        assert native.last_feed_event == "websocket" and native.resyncs == 0
        assert native._depth_feed is not None and native._depth_feed.connects == 1  # one socket, both symbols
    finally:
        for w in watchers:
            await w.stop()
        await native.close()
        await ccxt_pro.close()
    assert all(addr[0] == "127.0.0.1" for addr in loopback_only if isinstance(addr, tuple))


async def _moving(emulator_factory: Any) -> tuple[Any, dict[int, tuple[tuple, tuple]]]:
    """A moving binance emulator, and the engine's own top 20 of BTC/USDT at every sequence."""
    emu = await emulator_factory("binance", simulate=True, seed=5)
    truth: dict[int, tuple[tuple, tuple]] = {emu.engine.sequence("BTC/USDT"): engine_top(emu, "BTC/USDT")}

    def record(event: Any) -> None:
        if getattr(event, "symbol", None) == "BTC/USDT" and hasattr(event, "last_sequence"):
            truth[emu.engine.sequence("BTC/USDT")] = engine_top(emu, "BTC/USDT")

    emu.ctx.subscribe(record)
    return emu, truth


def assert_true_books(books: list[BookSnapshot], truth: dict[int, tuple[tuple, tuple]]) -> None:
    """Every book shown is the engine's book at that book's sequence: no hole, no stale level."""
    assert books
    for book in books:
        assert book.sequence in truth, f"book at {book.sequence}: the engine never was"
        assert (book.bids, book.asks) == truth[book.sequence], f"book at {book.sequence} differs from the engine's"


async def test_a_dropped_diff_resyncs_and_no_holed_book_is_ever_returned(emulator_factory, loopback_only):
    emu, truth = await _moving(emulator_factory)
    venue = emu_venue(emu, symbols=("BTC/USDT",))
    watcher = None
    try:
        await venue.start()
        watcher = Watcher(venue, "BTC/USDT")
        await wait_until(lambda: len(watcher.books) >= 5, timeout=30, what="books from a moving market")
        assert venue.resyncs == 0
        emu.inject_fault("depth_gap", "BTCUSDT")  # the next diff event is lost: a U/u gap
        await wait_until(lambda: venue.resyncs >= 1, timeout=30, what="a resync after the gap")
        feed = venue._depth_feed
        assert feed is not None and feed.gaps == 1 and feed.connects == 1  # resynced on the same socket
        after = len(watcher.books)
        await wait_until(lambda: len(watcher.books) >= after + 5, timeout=30, what="books after the resync")
        assert venue.resyncs == 1 and watcher.errors == []
        assert_true_books(watcher.books, truth)
        seqs = [b.sequence for b in watcher.books]
        assert seqs == sorted(seqs)
    finally:
        if watcher is not None:
            await watcher.stop()
        await venue.close()


async def test_a_quiet_socket_is_reopened_and_books_keep_coming(still_emulator, loopback_only):
    emu = await still_emulator("binance")
    venue = emu_venue(emu, symbols=("BTC/USDT",), stale_after_s=0.5)  # a still market: no diff for 0.5 s
    watcher = None
    try:
        await venue.start()
        watcher = Watcher(venue, "BTC/USDT")
        await wait_until(lambda: venue._depth_feed is not None and venue._depth_feed.connects >= 3, timeout=30,
                         what="the stalled socket reopened twice")  # fmt: skip
        await wait_until(lambda: len(watcher.books) >= 3, timeout=30, what="a book from each new socket")
        assert all((b.bids, b.asks) == engine_top(emu, "BTC/USDT") for b in watcher.books)
    finally:
        if watcher is not None:
            await watcher.stop()
        await venue.close()


async def test_an_emulator_restarted_on_the_same_port_is_reconnected_to(emulator_factory, loopback_only):
    emu = await emulator_factory("binance", simulate=False, seed=2)
    port = int(emu.url.rsplit(":", 1)[1])
    venue = emu_venue(emu, symbols=("BTC/USDT",))
    watcher = None
    try:
        await venue.start()
        watcher = Watcher(venue, "BTC/USDT")
        await wait_until(lambda: watcher.books, timeout=30, what="the first book")
        await emu.stop()
        feed = venue._depth_feed
        assert feed is not None
        await wait_until(lambda: watcher.errors, timeout=30, what="the watcher told the venue is gone")
        before = len(watcher.books)
        # The same port, a different book: the mm quotes of another seed.
        emu2 = await emulator_factory("binance", port=port, simulate=False, seed=9)
        emu2.engine.place("emulator", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.321"),
                          emu2.engine.book("BTC/USDT", 1).bids[0][0] + D("0.01"))  # fmt: skip
        await wait_until(lambda: len(watcher.books) > before and watcher.books[-1].bids[0][1] == D("0.321"),
                         timeout=60, what=lambda: f"books from the restarted emulator ({feed.last_event})")  # fmt: skip
        assert (watcher.last.bids, watcher.last.asks) == engine_top(emu2, "BTC/USDT")
        assert feed.connects >= 2
    finally:
        if watcher is not None:
            await watcher.stop()
        await venue.close()


async def test_a_429_on_the_snapshot_is_the_venues_rate_limit_window_then_books(still_emulator, loopback_only):
    emu = await still_emulator("binance")
    emu.set_fault("http_429", "/api/v3/depth", count=1, retry_after=1)
    venue = emu_venue(emu, symbols=("BTC/USDT",))
    watcher = None
    try:
        await venue.start()
        watcher = Watcher(venue, "BTC/USDT")
        await wait_until(lambda: venue.rate_limited_until is not None, timeout=30, what="the 429 noted by the venue")
        assert "rate limited" in venue.rate_limit_text()
        await wait_until(lambda: watcher.books, timeout=30, what="a book after the window")
        assert (watcher.last.bids, watcher.last.asks) == engine_top(emu, "BTC/USDT")
        assert any("rate limited (HTTP 429)" in e for e in watcher.errors)
    finally:
        if watcher is not None:
            await watcher.stop()
        await venue.close()
