"""Building the dashboard for Pilot and snapshot tests: the real app, the real service,
the real sandbox venues; a paused, seeded world and a frozen clock where determinism
matters. Also the one condition wait every test uses: ``wait_until``."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from aitbc_tui.service import MarketService
from aitbc_tui.ui.app import AitbcApp
from aitbc_tui.venues.sim import SimVenue, create_sandbox_venues

FROZEN_NOW = 1_795_000_000.0  # 2026-11-17 09:46:40 UTC

# CI is a busy 2-core machine: a wait that normally takes 50 ms may take seconds there.
# The timeout only bounds a failing test; a passing one returns as soon as its condition holds.
DEFAULT_TIMEOUT_S = 15.0


def _describe(condition: Callable[[], object]) -> str:
    """The source text of a condition (a lambda's line), for the failure message."""
    try:
        return " ".join(inspect.getsource(condition).split())
    except (OSError, TypeError):
        return getattr(condition, "__qualname__", repr(condition))


async def wait_until(
    pilot_or_condition,
    condition: Callable[[], object] | None = None,
    /,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    what: str | Callable[[], str] | None = None,
    interval: float = 0.02,
) -> None:
    """Poll until ``condition()`` is true; fail after ``timeout`` seconds saying what was awaited.

    ``wait_until(pilot, condition)`` lets the app process messages between polls
    (``pilot.pause``); ``wait_until(condition)`` polls with ``asyncio.sleep`` (no app).
    ``what`` names the awaited state in the failure message (default: the condition's source);
    a callable ``what`` is called at the failure, so it can show the state that was there.
    The deadline is wall-clock (the event loop's time), not a count of polls.
    """
    if condition is None:
        pilot, condition = None, pilot_or_condition
    else:
        pilot = pilot_or_condition
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"waited {timeout:g} s for: {said or _describe(condition)}")
        if pilot is not None:
            await pilot.pause(interval)
        else:
            await asyncio.sleep(interval)


class SteadyPingSimVenue(SimVenue):
    """A SimVenue whose ping reports seeded simulated latencies instead of timing the
    event loop, so snapshot images do not depend on how busy the machine is."""

    def __init__(self, *args, ping_seed: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.latency_rng = random.Random(ping_seed)

        self.place_requests: list = []

    async def ping(self) -> float:
        return round(8 + self.latency_rng.random() * 30, 1)

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
        venues = [SteadyPingSimVenue(world, v.name, ping_seed=i, autostart_ticks=False) for i, v in enumerate(venues)]
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


def dashboard_has_data(app: AitbcApp) -> bool:
    """Every venue's books, balances and latency arrived, and the selected book exists."""
    service = app.service
    return (
        app.venue is not None
        and service.book(app.venue, app.symbol) is not None
        and all(service.balances(v) for v in service.venue_names)
        and len(service.books()) == sum(len(service.markets(v)) for v in service.venue_names)
        and all(h.latency_ms is not None for h in service.health())
    )


async def wait_ready(pilot, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Wait (without sleeping blindly) until every venue's books and balances arrived, then
    paint every pane once so a test (or a snapshot) sees them at once."""
    app = pilot.app
    await wait_until(pilot, lambda: dashboard_has_data(app), timeout=timeout,
                     what="the dashboard's books, balances and latencies")  # fmt: skip
    await pilot.pause()
    app.repaint_now()
    await pilot.pause()


def make_chart_app(data_dir: Path, *, seed: int = 7, minutes: int = 90, theme: str | None = None) -> AitbcApp:
    """The dashboard on a seeded sandbox that traded for ``minutes`` of simulated time (one
    step every 3 s), then froze at FROZEN_NOW: candles to chart, deterministic like make_app."""
    now = [FROZEN_NOW - minutes * 60]
    world, venues = create_sandbox_venues(seed=seed, reset=True, data_dir=data_dir, clock=lambda: now[0],
                                          autostart_ticks=False, latency=False, persist=False)  # fmt: skip
    while now[0] < FROZEN_NOW:
        world.step(0.5)
        now[0] += 3
    now[0] = FROZEN_NOW
    venues = [SteadyPingSimVenue(world, v.name, ping_seed=i, autostart_ticks=False) for i, v in enumerate(venues)]
    service = MarketService(venues, monotonic=lambda: 1000.0, health_interval_s=3600, account_interval_s=3600)
    app = AitbcApp(service, clock=lambda: FROZEN_NOW, theme=theme, impact_size=Decimal("1"))
    app.world = world
    return app
