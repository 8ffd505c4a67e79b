"""Snapshots of the arbitrage pane's "Limited by" and of the inventory (`I`): the frozen,
seeded sandbox (tests.apptools.make_app), routes made by hand (tests.arb_scenarios).

kraken is left bidding 0.5 BTC at 66,000 and 1 ETH at 3,500, above every other venue's ask.
binance's USDT is set to 20,000 free: its BTC route is cut by that balance; coinbase's orders
are capped at 10,000 USDT (``[risk] max_order_value.coinbase``): its BTC route by the risk
limit; the ETH routes (1 ETH, under 4,000 USDT) by kraken's book.
"""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from aitbc_tui.config import RiskConfig
from aitbc_tui.ui.screens.inventory import InventoryScreen
from tests.apptools import make_app, wait_ready, wait_until
from tests.arb_scenarios import arb_cells, kraken_bid, set_operator_balance

SIZES = [(120, 35), (80, 24)]


def limits_app(tmp_path):
    config = SimpleNamespace(risk=RiskConfig(max_order_value={"coinbase": D("10000")}))
    return make_app(tmp_path, min_arb_net_bps=D(0), config=config)


def limits_shown(app) -> bool:
    limits = {(row[0], row[2], row[8]) for row in arb_cells(app)}
    return {("BTC/USDT", "binance", "bal binance USDT"), ("BTC/USDT", "coinbase", "risk coinbase"),
            ("ETH/USDT", "binance", "book"), ("ETH/USDT", "coinbase", "book")} <= limits  # fmt: skip


async def routes_with_every_limit(pilot) -> None:
    app = pilot.app
    await wait_ready(pilot)
    kraken_bid(app, "BTC/USDT", D("66000"), D("0.5"))
    kraken_bid(app, "ETH/USDT", D("3500"), D("1"))
    await set_operator_balance(app, "binance", "USDT", D("20000"))
    await wait_until(pilot, lambda: limits_shown(app), what=lambda: f"every limit: {arb_cells(app)}")
    app.repaint_now()
    await pilot.pause()


class TestArbitrageLimits:
    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_pane(self, snap_compare, tmp_path, size):
        assert snap_compare(limits_app(tmp_path), terminal_size=size, run_before=routes_with_every_limit)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_inventory(self, snap_compare, tmp_path, size):
        async def run_before(pilot):
            await routes_with_every_limit(pilot)
            await pilot.press("I")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, InventoryScreen))
            await wait_until(pilot, lambda: pilot.app.screen.view is not None and pilot.app.screen.view.blocked)
            await pilot.pause()

        assert snap_compare(limits_app(tmp_path), terminal_size=size, run_before=run_before)
