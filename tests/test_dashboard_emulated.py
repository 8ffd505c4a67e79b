"""The dashboard against three exchange emulators (binance, kraken, coinbase) on 127.0.0.1.

Issue 3's "done when": configured with the three venues pointed at emulators, every pane
is live, and an order round trip (place, see it on the exchange, cancel) works by keyboard
on each venue. The config is TOML text parsed like the operator's file; the same text
without ``api_url`` / ``ws_url`` is the real-exchange config (see test_config).
"""

from __future__ import annotations

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
from tests.apptools import wait_until

SIZE = (160, 45)
VENUES = ("binance", "kraken", "coinbase")
SYMBOLS = ("BTC/USDT", "ETH/USDT")
ACCOUNT = "emulator"  # the engine account behind the emulator's API key


def venues_toml(emulators: dict, *, with_urls: bool = True, rest_polled: tuple[str, ...] = ()) -> str:
    """The operator's config: live venues; with ``with_urls`` they point at the emulators.
    Venues named in ``rest_polled`` get ``api_url`` only (no ``ws_url``): books by REST polling."""
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
            if emu.ws_url and name not in rest_polled:
                lines.append(f'ws_url = "{emu.ws_url.rsplit("/", 1)[0]}"')  # ws://host:port
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def make_dashboard(service: MarketService, mode: Mode) -> AitbcApp:
    """The one place this file builds the app (live-mode guardrails may add arguments)."""
    return AitbcApp(service, mode=mode)


@pytest.fixture
async def emulators(emulator_factory):
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


def every_pane_is_live(app: AitbcApp) -> bool:
    service = app.service
    return (
        all(service.book(v, s) is not None for v in VENUES for s in SYMBOLS)
        and all(service.balances(v) for v in VENUES)
        and all(h.latency_ms is not None for h in service.health())
    )


def panes_show_every_venue(app: AitbcApp) -> bool:
    """The ladder, health, balances and arbitrage panes have painted what the service holds."""
    health = [row for row in app.query_one("#health", LineTable).rows if len(row) > 1]
    balances = {row[0][0]: row for row in app.query_one("#balances", LineTable).rows}
    return (
        app.query_one(BookLadder).snapshot is not None
        and len(health) == len(VENUES)
        and all(row[2][0] != "—" for row in health)
        and "USDT" in balances
        and len(balances["USDT"]) == 1 + len(VENUES)
        and {row[0][0] for row in app.query_one("#arb", LineTable).rows} == set(SYMBOLS)
    )


def order_work_running(app) -> bool:
    """A place or cancel worker still running (waited on with a deadline: the app's
    wait_for_complete waits on every worker, with none)."""
    return any(w.is_running and w.name in ("place-order", "cancel-order") for w in app.workers)


async def test_dashboard_with_three_emulated_venues_round_trips_an_order_on_each(tmp_path, emulators, loopback_only):
    config_path = tmp_path / "venues.toml"
    # Every emulator serves websockets; kraken is configured without ws_url so the REST
    # polling path (api_url only) stays covered beside the two streaming venues.
    config_path.write_text(venues_toml(emulators, rest_polled=("kraken",)), encoding="utf-8")
    app = make_dashboard(build_service(config_path, emulators), Mode.LIVE)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: every_pane_is_live(app), timeout=30, what="every pane live")
        # The panes repaint on their own timers (20 Hz books, 2 Hz the rest): wait for them.
        await wait_until(pilot, lambda: panes_show_every_venue(app), what="every pane painted with every venue")

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
        assert [app.service.venue(v).uses_websocket for v in VENUES] == [True, False, True]
        seen = {(v, s): app.service.book(v, s).sequence for v in VENUES for s in SYMBOLS}
        await wait_until(
            pilot,
            lambda: all(app.service.book(v, "BTC/USDT").sequence != seen[(v, "BTC/USDT")] for v in VENUES),
            what="books keep updating",
        )
        assert {v: app.service.venue(v).last_feed_event for v in VENUES} == {
            "binance": "websocket",
            "kraken": "rest",
            "coinbase": "websocket",
        }

        orders_table = app.query_one("#orders", DataTable)
        for name in VENUES:
            emu = emulators[name]
            for _ in range(len(VENUES) + 1):  # bounded: a venue that never comes fails below
                if app.venue == name:
                    break
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
            await wait_until(pilot, lambda: not order_work_running(app), what="the place-order worker done")

            # On a busy machine the reply can outlast the order timeout: the order is then
            # UNKNOWN until the venue shows it, so wait for the exchange, with a deadline.
            await wait_until(
                pilot, lambda emu=emu: emu.engine.open_orders(ACCOUNT), what=f"{name} order on the exchange"
            )
            on_exchange = emu.engine.open_orders(ACCOUNT)
            assert [(o.side, o.price, o.amount) for o in on_exchange] == [(Side.BUY, price, Decimal("0.001"))], name
            await wait_until(
                pilot,
                lambda: [o.status for o in app.service.open_orders()] == [OrderStatus.OPEN],
                what=f"{name} order known open",
            )
            await wait_until(pilot, lambda: orders_table.row_count == 1, what=f"{name} order in the pane")
            [order] = app.service.open_orders()
            # Exchange ids are the protocol's own (binance numbers them per symbol), not the engine's.
            assert (order.venue, order.side, order.price, order.amount, order.status) == (
                name,
                Side.BUY,
                price,
                Decimal("0.001"),
                OrderStatus.OPEN,
            )
            assert [str(c) for c in orders_table.get_row_at(0)[:3]] == [name, "BTC/USDT", "buy"]

            for _ in range(10):  # select it: focus the orders pane (bounded)
                if app.focused is orders_table:
                    break
                await pilot.press("tab")
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what=f"{name} cancel confirmation")
            await pilot.press("y")
            await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="confirmation closed")
            await wait_until(pilot, lambda: not order_work_running(app), what="the cancel worker done")

            await wait_until(
                pilot, lambda emu=emu: emu.engine.open_orders(ACCOUNT) == [], what=f"{name} order cancelled"
            )
            [closed] = emu.engine.closed_orders(ACCOUNT)
            assert (closed.id, closed.status) == (on_exchange[0].id, OrderStatus.CANCELED)
            await wait_until(pilot, lambda: orders_table.row_count == 0, what=f"{name} order gone from the pane")
            assert app.service.open_orders() == []
            await pilot.press("shift+tab")  # back to where the next venue's keys go

        # Nothing traded: every venue's USDT is free again.
        for name in VENUES:
            assert app.service.balances(name)["USDT"].free == Decimal("100000")


# ---- the same config without URLs is the real one; with URLs nothing leaves 127.0.0.1 ----

REAL_HOSTS = {
    "binance": ("api.binance.com", "stream.binance.com"),
    "kraken": ("api.kraken.com", "ws.kraken.com"),
    "coinbase": ("api.coinbase.com", "advanced-trade-ws.coinbase.com"),
    "coinbaseexchange": ("api.exchange.coinbase.com", "ws-feed.exchange.coinbase.com"),
}


class _Stub:  # what venues_toml reads from an emulator when the URLs are left out
    def __init__(self, ccxt_id: str) -> None:
        self.ccxt_id = ccxt_id


async def venue_urls(venue: CcxtVenue) -> tuple[list[str], list[str]]:
    """Every REST URL of the venue's ccxt client, and every websocket URL it would use."""
    from urllib.parse import urlsplit

    from aitbc_tui.venues.ccxt_venue import iter_urls

    rest = [venue._rest.implode_hostname(u) for u in iter_urls(venue._rest.urls["api"])]
    ws: list[str] = []
    if venue.uses_websocket:
        client = venue._new_exchange(pro=True)
        try:
            urls = [client.implode_hostname(u) for u in iter_urls(client.urls["api"])]
            ws = [u for u in urls if urlsplit(u).scheme in ("ws", "wss")]
        finally:
            await client.close()
    return rest, ws


async def test_same_config_without_urls_is_the_real_exchanges(tmp_path, loopback_only):
    from urllib.parse import urlsplit

    names = {**{v: v for v in VENUES}, "coinbase-pro": "coinbaseexchange"}
    path = tmp_path / "real.toml"
    path.write_text(venues_toml({n: _Stub(x) for n, x in names.items()}, with_urls=False), encoding="utf-8")
    config = load_config(path)
    assert all(v.api_url is None and v.ws_url is None and v.mode is Mode.LIVE for v in config.venues)
    credentials = {n: Credentials(api_key="k", secret="s", passphrase="p") for n in names}
    venues = build_venues(config, credentials=credentials)
    try:
        for venue in venues:
            rest_host, ws_host = REAL_HOSTS[venue.exchange_id]
            rest, ws = await venue_urls(venue)
            hosts = {urlsplit(u).hostname for u in rest}
            assert rest_host in hosts and "127.0.0.1" not in hosts, (venue.name, hosts)
            assert venue.uses_websocket  # real exchanges stream books over their websockets
            assert any(urlsplit(u).hostname == ws_host for u in ws), (venue.name, ws)
    finally:
        for venue in venues:
            await venue.close()
    assert loopback_only == []  # building venues connects nowhere


@pytest.mark.parametrize("exchange", sorted(REAL_HOSTS))
@pytest.mark.parametrize("with_ws", [True, False])
async def test_with_urls_set_every_url_a_venue_could_use_is_loopback(exchange, with_ws):
    from urllib.parse import urlsplit

    ws_line = 'ws_url = "ws://127.0.0.1:9"\n' if with_ws else ""
    text = (
        f'[venues.v]\nexchange = "{exchange}"\nmode = "live"\nsymbols = ["BTC/USDT"]\n'
        f'api_url = "http://127.0.0.1:9"\n{ws_line}'
    )
    config = load_config(_write(text))
    [venue] = build_venues(config, credentials={"v": Credentials(api_key="k", secret="s", passphrase="p")})
    try:
        rest, ws = await venue_urls(venue)
        assert rest and {urlsplit(u).hostname for u in rest} == {"127.0.0.1"}
        assert {urlsplit(u).hostname for u in ws} <= {"127.0.0.1"}
        # api_url without ws_url: books by REST polling, the websocket client is never built.
        assert venue.uses_websocket is (with_ws and bool(ws))
        if not with_ws:
            assert venue._ws is None and ws == []
    finally:
        await venue.close()


def _write(text: str):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "venues.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _binance_pushing_service(tmp_path, emulator_factory):
    """A still binance emulator and a started service with a journal, polling off (only the
    user stream brings order updates), its order events collected; the first book is in."""
    from aitbc_tui.journal import Journal

    emu = await emulator_factory("binance", seed=3, simulate=False)
    config_path = tmp_path / "venues.toml"
    config_path.write_text(venues_toml({"binance": emu}), encoding="utf-8")
    credentials = {"binance": Credentials(api_key=emu.api_key, secret=emu.secret)}
    venues = build_venues(load_config(config_path), credentials=credentials)
    journal = Journal(tmp_path / "journal.sqlite3")
    service = MarketService(venues, journal=journal, health_interval_s=3600, account_interval_s=3600)
    events: list = []
    service.add_event_listener(events.append)
    await service.start()
    try:
        await wait_until(lambda: service.book("binance", "BTC/USDT") is not None, what="binance's first book")
    except BaseException:
        await service.stop()
        journal.close()
        raise
    return emu, journal, service, events


async def test_a_resting_fill_arrives_by_the_binance_user_stream_without_polling(
    tmp_path, emulator_factory, loopback_only
):
    """Private push: ccxt.pro's watch_orders on the emulator's user stream delivers the fill
    of a resting order, journalled with its amount, while account polling is off."""
    from aitbc_tui.domain import OrderRequest, OrderType
    from aitbc_tui.journal import EventKind

    emu, journal, service, events = await _binance_pushing_service(tmp_path, emulator_factory)
    try:
        bid = service.book("binance", "BTC/USDT").best_bid
        order = await service.place_order(
            OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), bid)
        )
        assert order.status is OrderStatus.OPEN
        await service.wait_idle()
        emu.engine.set_unlimited("someone")
        emu.engine.place("someone", "BTC/USDT", Side.SELL, OrderType.MARKET, Decimal("5"))
        await wait_until(lambda: any(e.kind == "fill" for e in events), timeout=30, what="the fill pushed")
        [fill] = [e for e in journal.events() if e.kind is EventKind.FILL]
        assert fill.amount == Decimal("0.01") and fill.price == bid and fill.trade_id
    finally:
        await service.stop()
        journal.close()


async def test_partial_fills_pushed_out_of_order_are_counted_once_each(tmp_path, emulator_factory, loopback_only):
    """The venue's user stream delivers the second partial fill before the first (fault
    fills_out_of_order): the journal ends with exactly what the venue filled, never the
    late report on top of the cumulative one, never less."""
    from aitbc_tui.domain import OrderRequest, OrderType
    from aitbc_tui.journal import EventKind, JournalState

    emu, journal, service, events = await _binance_pushing_service(tmp_path, emulator_factory)
    try:
        book = service.book("binance", "BTC/USDT")
        market = service.market("binance", "BTC/USDT")
        price = book.best_bid + market.tick_size  # alone at the top: the next sells fill it first
        assert price < book.best_ask
        order = await service.place_order(
            OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), price)
        )
        await service.wait_idle()
        rule = emu.set_fault("fills_out_of_order", "BTCUSDT", count=1, delay_s=30)
        emu.engine.set_unlimited("someone")
        emu.engine.place("someone", "BTC/USDT", Side.SELL, OrderType.MARKET, Decimal("0.004"))
        emu.engine.place("someone", "BTC/USDT", Side.SELL, OrderType.MARKET, Decimal("0.003"))
        await wait_until(
            lambda: sum((e.amount for e in journal.events() if e.kind is EventKind.FILL), Decimal(0)) >= Decimal("0.007"),
            timeout=30, what="both fills journalled",
        )  # fmt: skip
        [held] = [o for o in emu.engine.open_orders(emu.ctx.account) if o.client_order_id == order.client_order_id]
        assert held.filled == Decimal("0.007")
        await wait_until(lambda: journal.order(order.client_order_id).filled == Decimal("0.007"), what="journal filled")
        await service.wait_idle()
        entry = journal.order(order.client_order_id)
        fills = [e.amount for e in journal.events() if e.kind is EventKind.FILL]
        assert entry.filled == Decimal("0.007") and sum(fills, Decimal(0)) == Decimal("0.007"), fills
        assert entry.state is JournalState.OPEN
        assert rule is not None and rule.hits == 1  # the first fill's reports did go out second
    finally:
        await service.stop()
        journal.close()
