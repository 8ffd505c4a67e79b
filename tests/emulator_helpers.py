"""Fixtures and helpers for tests that run the exchange emulator on 127.0.0.1.

Import the fixtures into a test module (pytest finds fixtures in the module namespace)::

    from tests.emulator_helpers import emulator_factory, ccxt_client  # noqa: F401

- ``emulator_factory``: ``await emulator_factory("binance", simulate=False, ...)`` starts an
  emulator (same arguments as ``start_emulator``; key "test-key", secret from the protocol
  unless given) and stops every one it started at teardown.
- ``ccxt_client(emu, pro=False, **config)``: async context manager yielding a real ccxt
  (``ccxt.async_support`` or ``ccxt.pro``) client pointed at ``emu``, closed on exit.
- ``wait_for(predicate, timeout)``: ``tests.apptools.wait_until`` under its older name.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from aitbc_tui.emulator import RunningEmulator, start_emulator
from tests.apptools import DEFAULT_TIMEOUT_S, wait_until

TEST_API_KEY = "test-key"


@pytest.fixture
async def emulator_factory() -> AsyncIterator[Callable[..., Any]]:
    started: list[RunningEmulator] = []

    async def factory(venue: str, **kwargs: Any) -> RunningEmulator:
        kwargs.setdefault("api_key", TEST_API_KEY)
        emu = await start_emulator(venue, **kwargs)
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        await emu.stop()


@contextlib.asynccontextmanager
async def ccxt_client(emu: RunningEmulator, pro: bool = False, **config: Any) -> AsyncIterator[Any]:
    """A real ccxt client for ``emu``; ``config`` overrides (e.g. a wrong ``secret``)."""
    if pro:
        import ccxt.pro as module
    else:
        import ccxt.async_support as module
    exchange = getattr(module, emu.ccxt_id)(emu.ccxt_config(**config))
    exchange.urls["api"] = emu.ccxt_urls
    try:
        yield exchange
    finally:
        await exchange.close()


async def wait_for(predicate: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT_S, interval: float = 0.02) -> None:
    """``wait_until(predicate)``, kept for the emulator tests that import this name."""
    await wait_until(predicate, timeout=timeout, interval=interval)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail any connection to an address other than 127.0.0.1 / ::1 (and record each one).

    asyncio's socket connect, and so aiohttp's and ccxt's, goes through ``socket.connect``.
    """
    import socket

    attempted: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        attempted.append(address)
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(address, tuple) and host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"a test tried to connect to {address!r}; only 127.0.0.1 is allowed")

    def connect(self: socket.socket, address: Any) -> Any:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempted
