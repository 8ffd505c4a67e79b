"""Building the dashboard for Pilot and snapshot tests: the real app, the real service,
the real sandbox venues; a paused, seeded world and a frozen clock where determinism
matters."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from aitbc_tui.service import MarketService
from aitbc_tui.ui.app import AitbcApp
from aitbc_tui.venues.sim import SimVenue, create_sandbox_venues

FROZEN_NOW = 1_795_000_000.0  # 2026-11-17 09:46:40 UTC


class SteadyPingSimVenue(SimVenue):
    """A SimVenue whose ping reports seeded simulated latencies instead of timing the
    event loop, so snapshot images do not depend on how busy the machine is."""

    def __init__(self, *args, ping_seed: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ping_rng = random.Random(ping_seed)

        self.place_requests: list = []

    async def ping(self) -> float:
        return round(8 + self._ping_rng.random() * 30, 1)

    async def place_order(self, request):
        self.place_requests.append(request)  # what reached the venue, to prove nothing else did
        return await super().place_order(request)


def make_app(
    data_dir: Path,
    *,
    seed: int = 7,
    frozen: bool = True,
    warmup_steps: int = 40,
    theme: str | None = None,
    **app_kwargs,
) -> AitbcApp:
    world, venues = create_sandbox_venues(
        seed=seed,
        reset=True,
        data_dir=data_dir,
        clock=(lambda: FROZEN_NOW) if frozen else __import__("time").time,
        autostart_ticks=not frozen,
        latency=False,
        persist=not frozen,
    )
    if frozen:
        world.run_steps(warmup_steps, 0.1)
        venues = [
            SteadyPingSimVenue(world, v.name, ping_seed=i, autostart_ticks=False) for i, v in enumerate(venues)
        ]
    service = MarketService(
        venues,
        monotonic=(lambda: 1000.0) if frozen else __import__("time").monotonic,
        health_interval_s=3600 if frozen else 1.0,
        account_interval_s=3600 if frozen else 1.0,
    )
    app = AitbcApp(
        service,
        clock=(lambda: FROZEN_NOW) if frozen else __import__("time").time,
        theme=theme,
        impact_size=app_kwargs.pop("impact_size", Decimal("1")),  # snapshots keep the 1-unit impact line
        **app_kwargs,
    )
    app.world = world  # for tests that need to move the market
    return app


async def wait_ready(pilot, timeout: float = 5.0) -> None:
    """Wait (without sleeping blindly) until every venue's books and balances arrived."""
    app = pilot.app
    loop_time = 0.0
    while loop_time < timeout:
        service = app.service
        if app.venue is not None and service.book(app.venue, app.symbol) is not None and all(
            service.balances(v) for v in service.venue_names
        ) and len(service.books()) == sum(len(service.markets(v)) for v in service.venue_names) and all(
            h.latency_ms is not None for h in service.health()
        ):
            await pilot.pause()
            app._repaint(force=True)
            app._repaint_slow()
            await pilot.pause()
            return
        await pilot.pause(0.02)
        loop_time += 0.02
    raise AssertionError("the dashboard did not get its data in time")
