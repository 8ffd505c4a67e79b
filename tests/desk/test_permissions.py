"""A desk's bus with logins: the collector may publish market data, dashboards may only
read it; logins live in the credential store (the vault here) like API keys."""

from __future__ import annotations

import pytest

from aitbc_tui.config import parse_config
from aitbc_tui.credentials import CredentialStore
from aitbc_tui.desk import bus, wire
from aitbc_tui.desk.collector import Collector
from aitbc_tui.desk.feed_venue import FeedVenue
from aitbc_tui.desk.local_server import LocalNatsServer, desk_authorization, nats_server_binary
from aitbc_tui.secret import Secret
from aitbc_tui.service import MarketService
from aitbc_tui.venues.factory import build_venues
from tests.apptools import wait_until

COLLECTOR = ("collector", "c-pass-4f1e")
DASHBOARD = ("dashboard", "d-pass-9a2b")


@pytest.fixture
async def desk_server(tmp_path):
    if nats_server_binary() is None:
        pytest.skip("nats-server is not installed (apt-get install -y nats-server)")
    server = LocalNatsServer(store_dir=tmp_path / "nats", config=desk_authorization(COLLECTOR, DASHBOARD))
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def vault(monkeypatch):
    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "desk-test-vault-passphrase")
    store = CredentialStore.open("vault")
    bus.store_login(store, "desk-collector", *COLLECTOR)
    bus.store_login(store, "desk-dashboard", *DASHBOARD)
    return store


async def test_dashboards_read_the_bus_and_cannot_publish_on_it(desk_server, vault, still_emulator, emulator_venue,
                                                                nats_client, tmp_path):  # fmt: skip
    login = bus.load_login("desk-collector", vault)
    assert login.user == "collector" and "c-pass" not in repr(login)
    emu = await still_emulator("binance")
    collector = Collector([emulator_venue(emu)], desk_server.url, depth=20, login=login, trades_interval_s=None,
                          tickers_interval_s=None)  # fmt: skip
    await collector.start()
    text = f'[venues.binance]\nmode = "feed"\nfeed = "{desk_server.url}"\nlogin = "desk-dashboard"\n'
    venues = build_venues(parse_config(text, tmp_path / "desk.toml"), credentials={})
    service = MarketService(venues, health_interval_s=0.5, account_interval_s=3600)
    try:
        await service.start()
        await wait_until(lambda: service.book("binance", "BTC/USDT") is not None)  # the stream's last value
        # A dashboard that publishes market data is refused by the server.
        errors: list[str] = []

        async def on_error(exc):
            errors.append(str(exc))

        rogue = await nats_client(desk_server.url, user=DASHBOARD[0], password=DASHBOARD[1], error_cb=on_error)
        seen: list[bytes] = []

        async def on_delta(msg):
            seen.append(msg.data)

        await rogue.subscribe("md.binance.BTC-USDT.delta", cb=on_delta)
        fake = wire.BookMessage("delta", "binance", "BTC/USDT", collector.epoch, 10**9, 0.0, 0.0, (), ())
        await rogue.publish(wire.subject("binance", "BTC/USDT", "delta"), fake.to_bytes())
        await rogue.flush()
        await wait_until(lambda: any("permissions violation" in e.lower() for e in errors))
        await rogue.flush()
        assert fake.to_bytes() not in seen
        (venue,) = venues
        assert venue.book_gaps("BTC/USDT") == 0
    finally:
        await service.stop()
        await collector.stop()


async def test_a_wrong_or_missing_login_is_refused_in_one_line(desk_server, vault):
    wrong = bus.BusLogin("x", DASHBOARD[0], Secret("not-the-password"))
    venue = FeedVenue("binance", desk_server.url, login=wrong)
    with pytest.raises(bus.BusError, match="refused the login"):
        await venue.start()
    with pytest.raises(bus.BusError, match="no bus login 'nobody' stored; store one with"):
        bus.load_login("nobody", vault)
    anonymous = FeedVenue("binance", desk_server.url)
    with pytest.raises(bus.BusError, match="refused the login"):
        await anonymous.start()
