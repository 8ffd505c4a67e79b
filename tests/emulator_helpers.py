"""Helpers for tests that run the exchange emulator on 127.0.0.1.

The fixtures (``emulator_factory``, ``still_emulator``, ``loopback_only``) live in
tests/conftest.py and need no import; the names are re-exported here for modules that still
import them from this one.

- ``ccxt_client(emu, pro=False, **config)``: async context manager yielding a real ccxt
  (``ccxt.async_support`` or ``ccxt.pro``) client pointed at ``emu``, closed on exit.
- ``wait_for(predicate, timeout)``: ``tests.apptools.wait_until`` under its older name.
- ``seeded_engine(spec)``: a matching engine with a still book, five levels a side per market.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

from aitbc_tui.domain import OrderType, Side
from aitbc_tui.emulator import RunningEmulator
from aitbc_tui.sim import specs
from aitbc_tui.sim.engine import MatchingEngine
from tests.apptools import DEFAULT_TIMEOUT_S, wait_until
from tests.conftest import TEST_API_KEY, emulator_factory, loopback_only, still_emulator  # noqa: F401 - re-exported

D = Decimal
MIDS = {"BTC/USDT": D("65000"), "ETH/USDT": D("3400"), "ETH/BTC": D("0.05"), "AITBC/USDT": D("0.85"),
        "AITBC/ETH": D("0.00025"), "AITBC/BTC": D("0.000013")}  # fmt: skip


def seeded_engine(spec: specs.VenueSpec) -> MatchingEngine:
    """A still book: five levels a side per market from an unlimited market maker."""
    engine = MatchingEngine(spec.name)
    for market_spec in spec.markets:
        engine.add_market(market_spec.market(spec))
    engine.set_unlimited("mm", quiet=True)
    for m in spec.markets:
        mid = MIDS[m.symbol]
        size = max(m.min_amount * 10, (m.min_notional * 5000 / mid).quantize(m.lot_size))
        for i in range(1, 6):
            engine.place("mm", m.symbol, Side.BUY, OrderType.LIMIT, size, mid - m.tick_size * i * 10)
            engine.place("mm", m.symbol, Side.SELL, OrderType.LIMIT, size, mid + m.tick_size * i * 10)
    return engine


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


def live_binance_venue(emu: Any) -> Any:
    """A LIVE CcxtVenue (BTC/USDT, ETH/USDT) on the binance emulator ``emu`` through the real
    ccxt client, books polled every 0.1 s, ccxt's throttle off."""
    from aitbc_tui.config import VenueConfig
    from aitbc_tui.credentials import Credentials
    from aitbc_tui.domain import Mode
    from aitbc_tui.venues.ccxt_venue import CcxtVenue

    config = VenueConfig(name="binance", exchange=emu.ccxt_id, mode=Mode.LIVE, symbols=("BTC/USDT", "ETH/USDT"),
                         api_url=emu.url, ws_url=emu.ws_url.rsplit("/", 1)[0] if emu.ws_url else None)  # fmt: skip
    venue = CcxtVenue(config, credentials=Credentials(api_key=emu.api_key, secret=emu.secret), poll_interval_s=0.1)
    venue._rest.enableRateLimit = False
    return venue
