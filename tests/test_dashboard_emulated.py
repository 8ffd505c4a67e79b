"""The dashboard against three exchange emulators (binance, kraken, coinbase) on 127.0.0.1.

Issue 3's "done when": configured with the three venues pointed at emulators, every pane
is live, and an order round trip (place, see it on the exchange, cancel) works by keyboard
on each venue. The config is TOML text parsed like the operator's file; the same text
without ``api_url`` / ``ws_url`` is the real-exchange config (see test_config).
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from textual.widgets import DataTable

from aitbc_tui.config import load_config
from aitbc_tui.credentials import Credentials
from aitbc_tui.domain import Mode, OrderStatus, Side
from aitbc_tui.service import MarketService
from aitbc_tui.ui.app import AitbcApp
from aitbc_tui.ui.screens.confirm import ConfirmScreen
from aitbc_tui.ui.screens.order_form import OrderForm
from aitbc_tui.ui.widgets.ladder import BookLadder
from aitbc_tui.ui.widgets.linetable import LineTable
from aitbc_tui.venues.ccxt_venue import CcxtVenue
from aitbc_tui.venues.factory import build_venues
from tests.emulator_helpers import emulator_factory, loopback_only  # noqa: F401 - fixtures

SIZE = (160, 45)
VENUES = ("binance", "kraken", "coinbase")
SYMBOLS = ("BTC/USDT", "ETH/USDT")
ACCOUNT = "emulator"  # the engine account behind the emulator's API key


def venues_toml(emulators: dict, *, with_urls: bool = True) -> str:
    """The operator's config: live venues; with ``with_urls`` they point at the emulators."""
    blocks = []
    for name, emu in emulators.items():
        lines = [
            f"[venues.{name}]",
            f'exchange = "{emu.ccxt_id}"',
            'mode = "live"',
            "symbols = [" + ", ".join(f'"{s}"' for s in SYMBOLS) + "]",
        ]
        if with_urls:
            lines.append(f'api_url = "{emu.url}"')
            if emu.ws_url:
                lines.append(f'ws_url = "{emu.ws_url.rsplit("/", 1)[0]}"')  # ws://host:port
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def make_dashboard(service: MarketService, mode: Mode) -> AitbcApp:
    """The one place this file builds the app (live-mode guardrails may add arguments)."""
    return AitbcApp(service, mode=mode)


@pytest.fixture
async def emulators(emulator_factory):  # noqa: F811
    return {name: await emulator_factory(name, seed=3) for name in VENUES}


def build_service(config_path, emulators) -> MarketService:
    config = load_config(config_path)
    credentials = {name: Credentials(api_key=emu.api_key, secret=emu.secret) for name, emu in emulators.items()}
    venues = build_venues(config, credentials=credentials)
    for venue in venues:
        assert isinstance(venue, CcxtVenue) and venue.mode is Mode.LIVE
        # ccxt's client throttle (kraken: 3 s per private call) only slows the test; the
        # emulators enforce their own per-key budgets.
        venue._rest.enableRateLimit = False
    return MarketService(venues, health_interval_s=0.5, account_interval_s=0.5)


async def wait_until(pilot, condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout:.0f} s")
        await pilot.pause(0.05)


def every_pane_is_live(app: AitbcApp) -> bool:
    service = app.service
    return (
        all(service.book(v, s) is not None for v in VENUES for s in SYMBOLS)
        and all(service.balances(v) for v in VENUES)
        and all(h.latency_ms is not None for h in service.health())
    )


async def test_dashboard_with_three_emulated_venues_round_trips_an_order_on_each(
    tmp_path, emulators, loopback_only  # noqa: F811
):
    config_path = tmp_path / "venues.toml"
    config_path.write_text(venues_toml(emulators), encoding="utf-8")
    app = make_dashboard(build_service(config_path, emulators), Mode.LIVE)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: every_pane_is_live(app), timeout=20, what="every pane live")
        app._repaint(force=True)
        app._repaint_slow()
        await pilot.pause()

        # Panes: a ladder with levels, a health row per venue, balances, arbitrage rows.
        ladder = app.query_one(BookLadder)
        assert ladder.border_title == "Order book · binance · BTC/USDT"
        health = app.query_one("#health", LineTable).rows
        assert [row[0][0] for row in health if len(row) > 1] == list(VENUES)
        assert all(row[2][0] != "—" for row in health if len(row) > 1)  # RTT measured
        balances = {row[0][0]: row for row in app.query_one("#balances", LineTable).rows}
        assert {"USDT", "BTC", "ETH"} <= set(balances)
        assert [c[0] for c in balances["USDT"][1:]] == ["100,000.00"] * 3
        arb_symbols = {row[0][0] for row in app.query_one("#arb", LineTable).rows}
        assert arb_symbols == set(SYMBOLS)
        # Live: a moving market keeps updating books from every venue (websocket and REST).
        seen = {(v, s): app.service.book(v, s).sequence for v in VENUES for s in SYMBOLS}
        await wait_until(
            pilot,
            lambda: all(app.service.book(v, "BTC/USDT").sequence != seen[(v, "BTC/USDT")] for v in VENUES),
            what="books keep updating",
        )
        assert {app.service.venue(v).last_feed_event for v in VENUES} == {"websocket", "rest"}

        orders_table = app.query_one("#orders", DataTable)
        for name in VENUES:
            emu = emulators[name]
            while app.venue != name:
                await pilot.press("v")
            assert app.symbol == "BTC/USDT"
            market = app.service.market(name, "BTC/USDT")
            best_bid = app.service.book(name, "BTC/USDT").best_bid
            # 2 % under the bid: rests on the book whatever the simulated flow does meanwhile.
            price = (best_bid * Decimal("0.98")).quantize(market.tick_size)

            await pilot.press("b")
            await wait_until(pilot, lambda: isinstance(app.screen, OrderForm), what="order form")
            await pilot.press(*"0.001", "tab", *str(price), "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what=f"{name} confirmation")
            await pilot.press("y")
            await wait_until(pilot, lambda: not isinstance(app.screen, (OrderForm, ConfirmScreen)), what="form closed")
            await app.workers.wait_for_complete()

            on_exchange = emu.engine.open_orders(ACCOUNT)
            assert [(o.side, o.price, o.amount) for o in on_exchange] == [(Side.BUY, price, Decimal("0.001"))], name
            await wait_until(pilot, lambda: orders_table.row_count == 1, what=f"{name} order in the pane")
            [order] = app.service.open_orders()
            # Exchange ids are the protocol's own (binance numbers them per symbol), not the engine's.
            assert (order.venue, order.side, order.price, order.amount, order.status) == (
                name, Side.BUY, price, Decimal("0.001"), OrderStatus.OPEN
            )
            assert orders_table.get_row_at(0)[:3] == [name, "BTC/USDT", "[bold green]buy[/]"]

            while app.focused is not orders_table:  # select it: focus the orders pane
                await pilot.press("tab")
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what=f"{name} cancel confirmation")
            await pilot.press("y")
            await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="confirmation closed")
            await app.workers.wait_for_complete()

            assert emu.engine.open_orders(ACCOUNT) == [], name
            [closed] = emu.engine.closed_orders(ACCOUNT)
            assert (closed.id, closed.status) == (on_exchange[0].id, OrderStatus.CANCELED)
            await wait_until(pilot, lambda: orders_table.row_count == 0, what=f"{name} order gone from the pane")
            assert app.service.open_orders() == []
            await pilot.press("shift+tab")  # back to where the next venue's keys go

        # Nothing traded: every venue's USDT is free again.
        for name in VENUES:
            assert app.service.balances(name)["USDT"].free == Decimal("100000")
