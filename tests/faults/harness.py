"""The product as an operator runs it, in front of a fault proxy and an emulator.

``Rig`` holds one venue's emulator, the proxy in front of it, and the product's
``MarketService`` over a real ``CcxtVenue`` (real ccxt client, short timeout) with a SQLite
journal in ``tmp_path``. The service's clock can be moved forward (``advance``): the
order tracker settles an order "not placed" only after the venue's validity window
(binance 15 s, kraken/coinbase 65 s), and a test must not wait that long; moving the
clock is only done while nothing is on its way to the venue (``proxy.idle``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from aitbc_tui.config import VenueConfig
from aitbc_tui.credentials import Credentials
from aitbc_tui.domain import Mode, Order, OrderRequest, OrderType, Side
from aitbc_tui.emulator import RunningEmulator, start_emulator
from aitbc_tui.journal import Journal
from aitbc_tui.orders import WINDOW_MARGIN_S, validity_window_s
from aitbc_tui.service import MarketService
from aitbc_tui.sim import specs
from tests.faults.invariants import check_invariants, venue_orders
from tests.faults.proxy import FaultProxy, start_proxy

SYMBOL = "BTC/USDT"
VENUES = ("binance", "kraken", "coinbase")
TIMEOUT_MS = 2000  # ccxt's timeout in these tests: a held reply costs this, not 10 s
SETTLE_S = 30.0
AMOUNT = D("0.01")

# (method, path substring) of each request kind, per venue, as the product's ccxt calls make them.
CREATE = {"binance": ("POST", "/api/v3/order"), "kraken": ("POST", "/AddOrder"),
          "coinbase": ("POST", "/api/v3/brokerage/orders")}  # fmt: skip
CANCEL = {"binance": ("DELETE", "/api/v3/order"), "kraken": ("POST", "/CancelOrder"),
          "coinbase": ("POST", "/orders/batch_cancel")}  # fmt: skip
OPEN_ORDERS = {"binance": ("GET", "/api/v3/openOrders"), "kraken": ("POST", "/OpenOrders"),
               "coinbase": ("GET", "/orders/historical/batch")}  # fmt: skip
BOOK = {"binance": ("GET", "/api/v3/depth"), "kraken": ("GET", "/Depth"), "coinbase": ("GET", "/product_book")}


async def start_venue_emulator(venue: str) -> RunningEmulator:
    """A still market (no simulated flow): orders fill only when a test crosses them."""
    if venue == "binance":
        return await start_emulator("binance", api_key="test-key", seed=7, simulate=False)
    from tests.test_emulator_kraken import seeded_engine

    engine = seeded_engine(specs.KRAKEN if venue == "kraken" else specs.COINBASE)
    # Kraken's REST call counter (15, -0.33/s) would answer the lookups of a lost order with
    # 429s: raised here, its own tests cover it.
    limits = {"rest_counter_max": 1e9, "order_counter_max": 1e9} if venue == "kraken" else {}
    emu = await start_emulator(venue, api_key="test-key", engine=engine, fund=False, simulate=False, **limits)
    engine.deposit(emu.ctx.account, "USDT", D("100000"))
    engine.deposit(emu.ctx.account, "BTC", D("10"))
    return emu


@dataclass
class Rig:
    venue: str
    emu: RunningEmulator
    proxy: FaultProxy
    journal_path: Path
    service: MarketService | None = None
    journal: Journal | None = None
    skew_s: float = 0.0
    notices: list[str] = field(default_factory=list)
    services: list[MarketService] = field(default_factory=list)

    # ---- the product ---------------------------------------------------------------

    def clock(self) -> float:
        return time.time() + self.skew_s

    def new_service(self) -> MarketService:
        if self.journal is None:
            self.journal = Journal(self.journal_path)
        venue = _ccxt_venue(self)
        service = MarketService([venue], journal=self.journal, health_interval_s=3600, account_interval_s=3600,
                                clock=self.clock, unknown_lookup_delays_s=(0.2,))  # fmt: skip
        service.add_listener(self.notices.append)
        self.services.append(service)
        self.service = service
        return service

    async def start_service(self) -> MarketService:
        service = self.new_service()
        await service.start(stream=False)
        return service

    async def restart(self) -> MarketService:
        """Close the running service (its lookups end with it) and start a new one over the
        same journal file, as an operator restarting the dashboard."""
        if self.service is not None:
            await self.service.stop()
        self.journal.close()
        self.journal = None
        return await self.start_service()

    async def close(self) -> None:
        for service in self.services:
            await service.stop()
        if self.journal is not None:
            self.journal.close()
        await self.proxy.stop()
        await self.emu.stop()

    # ---- orders --------------------------------------------------------------------

    def resting_buy(self, amount: D = AMOUNT, below: str = "0.98") -> OrderRequest:
        """A limit buy well under the bid: it rests until a test crosses it."""
        bid, _ask = self.emu.engine.best_bid_ask(SYMBOL)
        market = self.service.market(self.venue, SYMBOL)
        price = (bid * D(below)).quantize(market.tick_size)
        return OrderRequest(self.venue, SYMBOL, Side.BUY, OrderType.LIMIT, amount, price)

    def best_buy(self, amount: D = AMOUNT) -> OrderRequest:
        """A limit buy one tick over the best bid (under the ask): the next seller meets it first."""
        bid, ask = self.emu.engine.best_bid_ask(SYMBOL)
        tick = self.service.market(self.venue, SYMBOL).tick_size
        assert bid + tick < ask, (bid, ask)
        return OrderRequest(self.venue, SYMBOL, Side.BUY, OrderType.LIMIT, amount, bid + tick)

    def fill_at_venue(self, order_coid: str, amount: D) -> None:
        """Another trader sells ``amount`` into our resting buy (at its price)."""
        engine = self.emu.engine
        ours = engine.get_order(self.emu.ctx.account, client_order_id=order_coid)
        engine.set_unlimited("taker", quiet=True)
        engine.place("taker", SYMBOL, Side.SELL, OrderType.LIMIT, amount, ours.price)

    def venue_has(self, coid: str) -> list[Order]:
        return [o for o in venue_orders(self.emu) if o.client_order_id == coid]

    def violations(self, settled: bool = True) -> list[str]:
        return check_invariants(self.journal, {self.venue: self.emu}, settled=settled)

    # ---- settling ------------------------------------------------------------------

    async def settle(self, timeout: float = SETTLE_S) -> None:
        """Until the service knows every order's outcome and its refreshes are done: the
        lookups run (every 0.2 s); once nothing is on its way to the venue, the service's
        clock is moved past the validity window so an absent order may settle."""
        service = self.service
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        window = validity_window_s(self.venue) + WINDOW_MARGIN_S + 1
        while True:
            await service.wait_idle()
            if not service.unknown_orders() and not service.tracker.pending() and self.proxy.idle:
                break
            if service.unknown_orders() and self.proxy.idle and self.skew_s < window:
                self.skew_s = window  # nothing in flight: time may pass
            if loop.time() > deadline:
                raise AssertionError(
                    f"{self.venue}: not settled in {timeout:g} s: unknown {service.unknown_orders()}, "
                    f"pending {[t.coid for t in service.tracker.pending()]}, proxy in flight {self.proxy.in_flight}"
                )
            await asyncio.sleep(0.05)
        await service.refresh_account(self.venue)  # one clean poll: the journal catches up on fills
        await service.wait_idle()


def _ccxt_venue(rig: Rig) -> Any:
    from aitbc_tui.venues.ccxt_venue import CcxtVenue

    config = VenueConfig(name=rig.venue, exchange=rig.emu.ccxt_id, mode=Mode.LIVE, symbols=(SYMBOL,),
                         api_url=rig.proxy.url)  # fmt: skip
    venue = CcxtVenue(config, credentials=Credentials(api_key=rig.emu.api_key, secret=rig.emu.secret),
                      timeout_ms=TIMEOUT_MS)  # fmt: skip
    # ccxt's throttle spaces kraken's private calls ~1-3 s apart; the emulator is not rate
    # limited here, so the throttle would only make each case slow.
    venue._rest.enableRateLimit = False
    for client in (venue._rest, venue._trade):
        client.timeout_on_exit = 0  # ccxt's close() sleeps this (for TLS teardown; none here)
    return venue


async def make_rig(venue: str, tmp_path: Path) -> Rig:
    emu = await start_venue_emulator(venue)
    proxy = await start_proxy(emu.url)
    return Rig(venue, emu, proxy, tmp_path / "journal.sqlite3")
