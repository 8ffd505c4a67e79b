"""The staleness rule follows each venue's cadence: a book older than twice the venue's
usual interval between updates is stale (degraded), never under 5 s, never over 20 s.
A REST-polled kraken book that comes every ~4 s under its throttle is healthy at 6 s
old; a websocket venue that updates many times a second is stale after 5 s."""

from __future__ import annotations

import asyncio

from aitbc_tui.domain import HealthStatus
from aitbc_tui.service import STALE_BOOK_MAX_S, STALE_BOOK_S, MarketService
from aitbc_tui.venues.sim import SimVenue, create_sandbox_venues
from tests.apptools import FROZEN_NOW


class PacedVenue(SimVenue):
    """A sandbox venue whose books arrive when the test lets one through."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate: asyncio.Queue[None] = asyncio.Queue()
        self.delivered = 0

    async def watch_order_book(self, symbol, depth):
        await self.gate.get()
        self.delivered += 1
        return self.engine.book(symbol, depth)

    async def ping(self) -> float:
        return 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _service(tmp_path, clock: Clock):
    world, venues = create_sandbox_venues(seed=3, reset=True, data_dir=tmp_path, clock=lambda: FROZEN_NOW,
                                          autostart_ticks=False, latency=False, persist=False)  # fmt: skip
    world.run_steps(20, 0.1)
    venue = PacedVenue(world, venues[0].name, autostart_ticks=False)
    service = MarketService([venue], monotonic=clock, health_interval_s=3600, account_interval_s=3600)
    await service.start()
    symbols = len(service.markets(venue.name))
    return service, venue, symbols


async def _deliver(venue: PacedVenue, clock: Clock, interval_s: float, updates: int) -> None:
    for _ in range(updates):
        clock.now += interval_s
        target = venue.delivered + 1
        venue.gate.put_nowait(None)
        for _ in range(2000):  # the watcher takes it and stores the book: no wall-clock wait
            if venue.delivered >= target:
                break
            await asyncio.sleep(0)
        await asyncio.sleep(0)


def _health(service: MarketService):
    [health] = service.health()
    return health


async def test_a_slow_rest_cadence_is_not_called_degraded(tmp_path):
    clock = Clock()
    service, venue, symbols = await _service(tmp_path, clock)
    try:
        await service.probe_once(venue.name)
        await _deliver(venue, clock, 4.0 / symbols, 12 * symbols)  # each symbol every 4 s, the venue every 4/n s
        health = _health(service)
        expected = max(STALE_BOOK_S, 2 * 4.0 / symbols)
        assert health.stale_after_s == expected
        clock.now += expected - 0.5
        assert _health(service).status is HealthStatus.CONNECTED
        clock.now += 1.0
        assert _health(service).status is HealthStatus.DEGRADED
    finally:
        await service.stop()


async def test_a_venue_whose_books_come_every_4_s_is_stale_after_8(tmp_path):
    clock = Clock()
    service, venue, _symbols = await _service(tmp_path, clock)
    try:
        await service.probe_once(venue.name)
        await _deliver(venue, clock, 4.0, 10)
        assert _health(service).stale_after_s == 8.0
        clock.now += 6.0  # 6 s old: a fixed 5 s rule called this degraded
        assert _health(service).status is HealthStatus.CONNECTED
        clock.now += 2.5
        assert _health(service).status is HealthStatus.DEGRADED
    finally:
        await service.stop()


async def test_fast_venues_keep_the_floor_and_slow_ones_the_cap(tmp_path):
    clock = Clock()
    service, venue, _symbols = await _service(tmp_path, clock)
    try:
        await service.probe_once(venue.name)
        await _deliver(venue, clock, 0.05, 40)
        assert _health(service).stale_after_s == STALE_BOOK_S
        clock.now += STALE_BOOK_S + 0.1
        assert _health(service).status is HealthStatus.DEGRADED
        await _deliver(venue, clock, 60.0, 40)  # a venue that almost never updates: capped
        assert _health(service).stale_after_s == STALE_BOOK_MAX_S
    finally:
        await service.stop()
