"""`I` on the dashboard: each asset spread over the venues, and the routes the balances cut;
the arbitrage pane's "Limited by" beside the fundable size. On the frozen sandbox and on two
exchange emulators behind the real ccxt clients.

Sandbox: kraken's BTC/USDT asks are swept and 0.5 BTC is left bid at 66,000 (tests.arb_scenarios);
binance asks 65,000.00 for its first 0.29 BTC (taker 0.1 %), kraken's taker is 0.4 %. The
operator's kraken BTC is set to 0.2 free + 0.3 used: the route binance → kraken is cut from
0.5 to 0.2 BTC by kraken's BTC. 0.2 BTC: buy 13,000.00 + fee 13.00; sell 13,200.00 − fee
52.80; net 134.20 USDT (103.13 bps; gross (66,000 − 65,000) / 65,000 = 153.8 bps).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from aitbc_tui.domain import HealthStatus, Mode
from aitbc_tui.service import MarketService
from aitbc_tui.ui.app import AitbcApp
from aitbc_tui.ui.screens.inventory import InventoryScreen
from aitbc_tui.ui.widgets.linetable import LineTable
from tests.apptools import wait_ready, wait_until
from tests.arb_emulators import keep_books_fresh, live_venues, still_emulators
from tests.arb_scenarios import arb_cells, kraken_bid, painted_lines, set_operator_balance

SIZE = (160, 45)


def screen_text(app) -> str:
    """What the terminal shows (the screenshot's text; its spaces are &#160;)."""
    return app.export_screenshot().replace("&#160;", " ")


def cells(app, table_id: str) -> list[list[str]]:
    return [[str(text) for text, _ in row] for row in app.screen.query_one(table_id, LineTable).rows]


async def open_inventory(pilot) -> InventoryScreen:
    await pilot.press("I")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, InventoryScreen))
    return pilot.app.screen


async def test_sandbox_pane_says_kraken_lacks_btc_and_i_shows_where_the_btc_is(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        kraken_bid(app, "BTC/USDT", D("66000"), D("0.5"))
        await set_operator_balance(app, "kraken", "BTC", D("0.2"), D("0.3"))
        route = ["BTC/USDT", "103.1", "binance", "65,000.00", "kraken", "66,000.00", "153.8", "0.20000 BTC",
                 "bal kraken BTC", "134.20 USDT"]  # fmt: skip
        await wait_until(pilot, lambda: route in arb_cells(app), what=lambda: f"the route: {arb_cells(app)}")
        arb = app.query_one("#arb")
        await wait_until(pilot, lambda: any("0.20000 BTC bal kraken BTC" in line for line in painted_lines(arb)))

        screen = await open_inventory(pilot)
        holdings = cells(app, "#inventory-holdings")
        # 4.5 BTC in all: binance 2 (44.4 %), kraken 0.2 free + 0.3 used (11.1 %), coinbase 2.
        btc = holdings.index(["BTC", "binance", "2.00000000", "0.00000000", "2.00000000", "44.4 %"])
        assert holdings[btc + 1 : btc + 4] == [
            ["", "kraken", "0.20000000", "0.30000000", "0.50000000", "11.1 %"],
            ["", "coinbase", "2.00000000", "0.00000000", "2.00000000", "44.4 %"],
            ["", "all", "4.20000000", "0.30000000", "4.50000000", ""],
        ]
        # Every route into kraken's bid is cut, not only the pane's best: coinbase's asks too.
        assert cells(app, "#inventory-blocked") == [
            ["BTC/USDT binance → kraken", "103.1", "0.50000000 BTC", "0.20000000 BTC",
             "kraken lacks BTC: 0.20000000 · +0.30000000"],
            ["BTC/USDT coinbase → kraken", "48.9", "0.50000000 BTC", "0.20000000 BTC",
             "kraken lacks BTC: 0.20000000 · +0.30000000"],
        ]  # fmt: skip
        assert any("kraken lacks BTC: 0.20000000 · +0.30000000" in line
                   for line in painted_lines(app.screen.query_one("#inventory-blocked")))  # fmt: skip
        assert "Inventory · free and used per venue" in screen_text(app)
        # The balance moves back while the view is open: the route is no longer cut.
        await set_operator_balance(app, "kraken", "BTC", D("2"))
        await wait_until(pilot, lambda: screen.view is not None and screen.view.blocked == (),
                         what=lambda: f"no cut route: {cells(app, '#inventory-blocked')}")  # fmt: skip
        await pilot.press("I")
        await wait_until(pilot, lambda: not isinstance(app.screen, InventoryScreen))
        await wait_until(pilot, lambda: any(r[7] == "0.50000 BTC" and r[8] == "book" for r in arb_cells(app)),
                         what=lambda: f"the route limited by the book: {arb_cells(app)}")  # fmt: skip


# ---- two emulators -----------------------------------------------------------------------

# kraken asks 0.73529412 ETH a level at 3,400.10, 3,400.20 … (taker 0.4 %); coinbase bids
# 1.42857143 ETH a level at 3,499.90, 3,499.80 … (taker 0.6 %): all five kraken asks net > 0,
# 3.6764706 ETH on the books. The account holds 10,000 USDT on kraken (≈ 2.93 ETH of asks)
# and 2 ETH on coinbase: coinbase's ETH cuts the route to 2 ETH; 1.676471 more (rounded up) lifts it
# (tests.arb_emulators).


async def test_emulators_i_shows_that_coinbase_lacks_eth(tmp_path, emulator_factory):
    emus = await still_emulators(emulator_factory)
    venues = live_venues(tmp_path, emus)
    service = MarketService(venues, health_interval_s=0.2, account_interval_s=3600)
    app = AitbcApp(service, mode=Mode.LIVE, read_only=True)  # looking only: nothing can be sent

    fresh = asyncio.create_task(keep_books_fresh(emus, 0.3))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: all(service.balances(v) for v in emus)
                             and all(h.status is HealthStatus.CONNECTED for h in service.health()),
                             timeout=30, what=lambda: f"balances and connected venues: {service.health()}")  # fmt: skip
            await wait_until(pilot, lambda: any(r[2:5:2] == ["kraken", "coinbase"] and r[8] == "bal coinbase ETH"
                                                for r in arb_cells(app)),
                             timeout=30, what=lambda: f"the route cut by coinbase's ETH: {arb_cells(app)}")  # fmt: skip
            [row] = [r for r in arb_cells(app) if r[2:5:2] == ["kraken", "coinbase"]]
            assert row[7].startswith("2.") and D(row[7].split()[0]) == D("2")
            await open_inventory(pilot)
            await wait_until(pilot, lambda: bool(cells(app, "#inventory-blocked")))
            holdings = cells(app, "#inventory-holdings")
            eth = next(i for i, r in enumerate(holdings) if r[0] == "ETH")
            assert holdings[eth][1] == "kraken" and holdings[eth][2] in ("—", "0.000000")  # kraken holds no ETH
            assert holdings[eth + 1][:3] == ["", "coinbase", "2.000000"] and holdings[eth + 1][5] == "100.0 %"
            [cut] = cells(app, "#inventory-blocked")
            assert cut[0] == "ETH/USDT kraken → coinbase"
            assert D(cut[2].split()[0]) == D("3.6764706") and D(cut[3].split()[0]) == D("2")
            # 3.6764706 − 2 = 1.6764706 more ETH, rounded up to ETH's 6 decimals: moving it is enough.
            assert cut[4] == "coinbase lacks ETH: 2.000000 · +1.676471", cut
    finally:
        fresh.cancel()
