"""Desk fixtures: a real nats-server on 127.0.0.1 on a free port (Debian's nats-server).

- ``nats_server``: a started ``LocalNatsServer`` (``.url``, ``await .restart()``, ``await .stop()``);
  stopped at teardown. Skipped, saying why, only when the binary is not installed.
- ``nats_client``: ``await nats_client(url)`` a plain nats-py client, closed at teardown.
- ``emulator_venue``: ``emulator_venue(emu, name)`` a paper-mode ``CcxtVenue`` reading ``emu``'s
  public market data (the real ccxt client over the emulator's websocket).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from aitbc_tui.desk.local_server import LocalNatsServer, nats_server_binary


@pytest.fixture
async def nats_server(tmp_path) -> AsyncIterator[LocalNatsServer]:
    if nats_server_binary() is None:
        pytest.skip("nats-server is not installed (apt-get install -y nats-server)")
    server = LocalNatsServer(store_dir=tmp_path / "nats")
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def nats_client() -> AsyncIterator[Callable[..., Any]]:
    import nats

    clients: list[Any] = []

    async def factory(url: str, **options: Any) -> Any:
        options.setdefault("reconnect_time_wait", 0.2)
        options.setdefault("max_reconnect_attempts", -1)
        nc = await nats.connect(url, **options)
        clients.append(nc)
        return nc

    yield factory
    for nc in clients:
        try:
            await nc.close()
        except Exception:  # noqa: BLE001 - already closed by the test
            pass


@pytest.fixture
def emulator_venue() -> Callable[..., Any]:
    from aitbc_tui.config import VenueConfig
    from aitbc_tui.domain import Mode
    from aitbc_tui.venues.ccxt_venue import CcxtVenue

    def factory(emu: Any, name: str = "binance", symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")) -> CcxtVenue:
        ws_root = "/".join(emu.ws_url.split("/", 3)[:3]) if emu.ws_url else None
        config = VenueConfig(name=name, exchange=emu.ccxt_id, mode=Mode.PAPER, symbols=symbols,
                             api_url=emu.url, ws_url=ws_root)  # fmt: skip
        return CcxtVenue(config)

    return factory
