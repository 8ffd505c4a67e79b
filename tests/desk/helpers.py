"""Helpers for the desk tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tests.apptools import DEFAULT_TIMEOUT_S

T = TypeVar("T")


async def wait_async(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    what: str = "",
    interval: float = 0.05,
) -> T:
    """``wait_until`` for a condition that needs a round trip: await ``probe()`` until it returns
    something other than None (or False) and return that; fail after ``timeout`` s (wall clock)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"waited {timeout:g} s for: {what or probe}")
        await asyncio.sleep(interval)
