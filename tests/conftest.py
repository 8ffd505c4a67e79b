"""Shared fixtures. Every test runs with its own data and config directories, so no
test reads or writes the operator's real sandbox, journal, vault or config.

Fixtures here need no import (pytest finds them):

- ``emulator_factory``: ``await emulator_factory("binance", simulate=False, ...)`` starts an
  exchange emulator on 127.0.0.1 (same arguments as ``start_emulator``; key "test-key") and
  stops every one it started at teardown.
- ``emulated_app``: (emulator, app), the dashboard on a still binance emulator (real ccxt client)
- ``still_emulator``: ``await still_emulator("kraken")`` an emulator whose market does not move
  (binance: seed 7, no simulation; kraken / coinbase: ``seeded_engine``'s five levels a side)
  with a funded account (10,000 USDT and 1 BTC unless ``funds`` says otherwise).
- ``loopback_only``: fails any connection to an address other than 127.0.0.1 / ::1.
- ``sandbox_app``: the dashboard on the frozen, seeded sandbox (``tests.apptools.make_app``).

Helpers to import: ``tests.apptools`` (``make_app``, ``wait_ready``, ``wait_until``) and
``tests.emulator_helpers`` (``ccxt_client``, ``seeded_engine``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    data = tmp_path / "data"
    config = tmp_path / "config"
    monkeypatch.setenv("AITBC_DATA_DIR", str(data))
    monkeypatch.setenv("AITBC_CONFIG_DIR", str(config))
    monkeypatch.delenv("AITBC_VAULT_PASSPHRASE", raising=False)
    monkeypatch.delenv("AITBC_TEST_CRASH_AT", raising=False)  # crash points are for crash tests only
    return data, config


TEST_API_KEY = "test-key"


@pytest.fixture
async def emulator_factory() -> AsyncIterator[Callable[..., Any]]:
    from aitbc_tui.emulator import start_emulator

    started: list[Any] = []

    async def factory(venue: str, **kwargs: Any) -> Any:
        kwargs.setdefault("api_key", TEST_API_KEY)
        emu = await start_emulator(venue, **kwargs)
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        await emu.stop()


STILL_FUNDS = {"USDT": "10000", "BTC": "1"}


@pytest.fixture
def still_emulator(emulator_factory) -> Callable[..., Any]:
    from aitbc_tui.sim import specs
    from tests.emulator_helpers import seeded_engine

    async def factory(venue: str, *, funds: dict[str, str] | None = None, **kwargs: Any) -> Any:
        if venue == "binance":  # the binance emulator funds its account and seeds its books itself
            return await emulator_factory("binance", seed=kwargs.pop("seed", 7), simulate=False, **kwargs)
        engine = seeded_engine({"kraken": specs.KRAKEN, "coinbase": specs.COINBASE}[venue])
        emu = await emulator_factory(venue, engine=engine, fund=False, simulate=False, **kwargs)
        for asset, amount in (STILL_FUNDS if funds is None else funds).items():
            engine.deposit(emu.ctx.account, asset, Decimal(amount))
        return emu

    return factory


@pytest.fixture
async def emulated_app(still_emulator) -> Any:
    """(emulator, app): the dashboard on a still binance emulator (BTC/USDT, ETH/USDT) as a
    LIVE venue through the real ccxt client, its polls fast (0.5 s health and account)."""
    from aitbc_tui.domain import Mode
    from aitbc_tui.service import MarketService
    from aitbc_tui.ui.app import AitbcApp
    from tests.emulator_helpers import live_binance_venue

    emu = await still_emulator("binance")
    venue = live_binance_venue(emu)
    service = MarketService([venue], health_interval_s=0.5, account_interval_s=0.5)
    return emu, AitbcApp(service, mode=Mode.LIVE)


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


@pytest.fixture
def sandbox_app(tmp_path):
    """The dashboard on the frozen, seeded sandbox (``make_app(tmp_path)``); run it with
    ``async with sandbox_app.run_test(size=...) as pilot`` and ``await wait_ready(pilot)``."""
    from tests.apptools import make_app

    return make_app(tmp_path)
