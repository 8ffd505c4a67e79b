"""Two still exchange emulators for the arbitrage tests (kraken buys, coinbase sells), shared
by tests/test_arb_desk_emulated.py, tests/test_arb_inventory_pilot.py and tests/test_arb_cli.py.

kraken's ETH/USDT asks 0.73529412 ETH a level at 3,400.10, 3,400.20 … and coinbase's bids
1.42857143 ETH a level at 3,499.90, 3,499.80 …, five levels a side from an unlimited market
maker. The account holds 10,000 USDT on kraken, 2 ETH and 10,000 USDT on coinbase.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from aitbc_tui.config import load_config
from aitbc_tui.credentials import Credentials
from aitbc_tui.domain import OrderType, Side
from aitbc_tui.sim import specs
from aitbc_tui.sim.engine import MatchingEngine
from aitbc_tui.venues.factory import build_venues

SYMBOL = "ETH/USDT"
MIDS = {"kraken": D("3400"), "coinbase": D("3500")}


def still_engine(spec: specs.VenueSpec, mid: D) -> MatchingEngine:
    """Five levels a side of ETH/USDT around ``mid`` from an unlimited market maker."""
    engine = MatchingEngine(spec.name)
    for market_spec in spec.markets:
        engine.add_market(market_spec.market(spec))
    engine.set_unlimited("mm", quiet=True)
    m = next(m for m in spec.markets if m.symbol == SYMBOL)
    size = max(m.min_amount * 10, (m.min_notional * 5000 / mid).quantize(m.lot_size))
    for i in range(1, 6):
        engine.place("mm", SYMBOL, Side.BUY, OrderType.LIMIT, size, mid - m.tick_size * i * 10)
        engine.place("mm", SYMBOL, Side.SELL, OrderType.LIMIT, size, mid + m.tick_size * i * 10)
    return engine


async def still_emulators(emulator_factory: Callable[..., Any]) -> dict[str, Any]:
    """The kraken and coinbase emulators (conftest's ``emulator_factory``), books still, the
    account funded."""
    emus = {}
    for name, spec in (("kraken", specs.KRAKEN), ("coinbase", specs.COINBASE)):
        emus[name] = await emulator_factory(name, engine=still_engine(spec, MIDS[name]), fund=False, simulate=False)
    emus["kraken"].engine.deposit(emus["kraken"].ctx.account, "USDT", D("10000"))
    emus["coinbase"].engine.deposit(emus["coinbase"].ctx.account, "ETH", D("2"))
    emus["coinbase"].engine.deposit(emus["coinbase"].ctx.account, "USDT", D("10000"))
    return emus


def live_venues(tmp_path: Path, emus: Mapping[str, Any]) -> list[Any]:
    """Live-mode ccxt venues on ``emus`` (REST and websocket), ccxt's throttle off (the
    emulators do not need it, and it only slows the tests)."""
    blocks = [f'[venues.{name}]\nexchange = "{emu.ccxt_id}"\nmode = "live"\nsymbols = ["{SYMBOL}"]\n'
              f'api_url = "{emu.url}"\nws_url = "{emu.ws_url.rsplit("/", 1)[0]}"\n' for name, emu in emus.items()]  # fmt: skip
    path = tmp_path / "venues.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    credentials = {name: Credentials(api_key=emu.api_key, secret=emu.secret) for name, emu in emus.items()}
    venues = build_venues(load_config(path), credentials=credentials)
    for venue in venues:
        venue._rest.enableRateLimit = False
    return venues


async def keep_books_fresh(emus: Mapping[str, Any], interval_s: float) -> None:
    """Forever: a far-away quote placed and cancelled on each emulator every ``interval_s``.
    A still market sends no book updates, and a book older than its stale-after time is
    refused (the arbitrage index leaves the venue out)."""
    while True:
        for emu in emus.values():
            order, _ = emu.engine.place("mm", SYMBOL, Side.SELL, OrderType.LIMIT, D("0.01"), D("9000"))
            emu.engine.cancel("mm", order.id)
        await asyncio.sleep(interval_s)
