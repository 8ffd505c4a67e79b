"""Quitting never hangs: MarketService.stop ends in bounded time.

The launch benchmark's child once hung for 90 s at quit (CI, and 1 run in 38 here): a
book task on kraken was "cancelling" but went on watching, because on Python 3.11
``asyncio.wait_for`` returns the inner result and drops a cancel that lands just as the
book arrives; stop() then awaited it forever. The book watch now uses
``asyncio.timeout``, and stop() waits a bounded time for tasks and venue closes.
"""

from __future__ import annotations

import asyncio

from aitbc_tui import service as service_module
from aitbc_tui.config import load_config
from aitbc_tui.service import MarketService
from aitbc_tui.venues.ccxt_venue import CcxtVenue
from aitbc_tui.venues.factory import build_venues
from aitbc_tui.venues.sim import create_sandbox_venues

VENUES = ("binance", "kraken", "coinbase")


def sandbox_service(tmp_path) -> MarketService:
    _world, venues = create_sandbox_venues(seed=1, reset=True, data_dir=tmp_path, latency=False, persist=False)
    return MarketService(venues, health_interval_s=0.2, account_interval_s=3600)


def _toml(emulators: dict) -> str:
    blocks = []
    for name, emu in emulators.items():
        blocks.append(
            "\n".join(
                [
                    f"[venues.{name}]",
                    f'exchange = "{emu.ccxt_id}"',
                    'mode = "paper"',
                    'symbols = ["BTC/USDT", "ETH/USDT"]',
                    f'api_url = "{emu.url}"',
                    f'ws_url = "{emu.ws_url.rsplit("/", 1)[0]}"',
                ]
            )
        )
    return "\n\n".join(blocks) + "\n"


async def _books_flowing(service: MarketService, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not all(service.book(v, "BTC/USDT") is not None for v in VENUES):
            await asyncio.sleep(0.02)


async def test_stop_while_books_stream_over_websockets_always_ends(tmp_path, emulator_factory, loopback_only):
    """Start and stop the real ccxt.pro clients on three emulators, many times, while
    books stream: every stop ends, and no task of the service is left running."""
    emulators = {name: await emulator_factory(name, seed=5) for name in VENUES}
    path = tmp_path / "venues.toml"
    path.write_text(_toml(emulators), encoding="utf-8")
    for _ in range(6):
        venues = build_venues(load_config(path))
        assert all(isinstance(v.inner, CcxtVenue) and v.inner.uses_websocket for v in venues)
        service = MarketService(venues, health_interval_s=0.2, account_interval_s=3600)
        await service.start()
        await _books_flowing(service)
        before = asyncio.all_tasks()
        async with asyncio.timeout(30):  # far above 2 x STOP_GRACE_S + close: a hang fails
            await service.stop()
        leftover = [t for t in before if not t.done() and t.get_name().split(":")[0] in ("book", "health", "push")]
        assert leftover == []


class _StuckClose:
    """A venue whose close never answers, wrapped around a real sandbox venue."""

    def __init__(self, venue) -> None:
        self._venue = venue
        self.closes = 0

    def __getattr__(self, name):
        return getattr(self._venue, name)

    async def close(self) -> None:
        self.closes += 1
        await asyncio.Event().wait()


async def test_stop_is_bounded_when_a_task_ignores_cancel_and_a_venue_never_closes(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(service_module, "STOP_GRACE_S", 0.2)
    service = sandbox_service(tmp_path)
    stuck = _StuckClose(service._states[service.venue_names[0]].venue)
    service._states[service.venue_names[0]].venue = stuck
    await service.start()
    ignored = asyncio.Event()

    async def stubborn() -> None:
        # What a dropped cancel looks like: the task goes on as if nothing happened.
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if ignored.is_set():
                    raise
                ignored.set()

    service._spawn(stubborn, "stubborn")
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await service.stop()
    assert ignored.is_set() and stuck.closes == 1
    assert "did not close cleanly" in caplog.text
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "stubborn" and not t.done()]


async def test_nothing_is_spawned_after_stop(tmp_path):
    service = sandbox_service(tmp_path)
    await service.start()
    await service.stop()
    service._spawn(lambda: asyncio.sleep(3600), "late")
    assert service._tasks == []


async def test_a_cancel_that_lands_as_the_book_arrives_is_not_dropped(tmp_path, emulator_factory, loopback_only):
    """The race itself, made deterministic: the book's future resolves and the task is
    cancelled in the same loop turn. With ``asyncio.wait_for`` (3.11) the watch returned
    the book and the cancel was lost; it must raise CancelledError."""
    emu = await emulator_factory("kraken", seed=5)
    path = tmp_path / "venues.toml"
    path.write_text(_toml({"kraken": emu}), encoding="utf-8")
    (venue,) = build_venues(load_config(path))
    client = await venue.inner._ws_client()  # the real ccxt.pro client, not connected yet
    book: asyncio.Future = asyncio.get_running_loop().create_future()
    client.watch_order_book = lambda symbol: book  # only the arrival is ours to time
    try:
        task = asyncio.create_task(venue.inner._watch_resyncing(client, "BTC/USDT"))
        await asyncio.sleep(0)  # the task now waits for the book
        book.set_result({"bids": [], "asks": []})
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the cancel was dropped: the watch returned the book")
    finally:
        await venue.close()
