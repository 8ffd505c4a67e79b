"""The desk bus over TLS: a real nats-server with a ``tls`` block and a CA made here.

The collector, a feed dashboard (from its config) and the recorder connect through TLS and a
book arrives; a client without the desk's CA, a server without TLS behind a tls:// URL, and a
client without a certificate on a server that verifies clients are each refused in one line.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aitbc_tui.config import ConfigError, parse_config
from aitbc_tui.desk import bus
from aitbc_tui.desk.collector import Collector
from aitbc_tui.desk.feed_venue import FeedVenue
from aitbc_tui.desk.local_server import LocalNatsServer, nats_server_binary
from aitbc_tui.desk.recording import Recorder, read_recording
from aitbc_tui.service import MarketService
from aitbc_tui.venues.factory import build_venues
from tests.apptools import wait_until
from tests.desk.tls_pki import Pki, make_pki, server_tls_config

ROOT = Path(__file__).resolve().parents[2]
DEPTH = 20


@pytest.fixture
def pki(tmp_path) -> Pki:
    return make_pki(tmp_path / "pki")


async def _tls_server(tmp_path: Path, pki: Pki, *, verify_clients: bool = False) -> LocalNatsServer:
    if nats_server_binary() is None:
        pytest.skip("nats-server is not installed (apt-get install -y nats-server)")
    server = LocalNatsServer(
        store_dir=tmp_path / "nats-tls", config=server_tls_config(pki, verify_clients=verify_clients)
    )
    await server.start()
    return server


@pytest.fixture
async def tls_server(tmp_path, pki):
    server = await _tls_server(tmp_path, pki)
    yield server
    await server.close()


@pytest.fixture
async def mtls_server(tmp_path, pki):
    server = await _tls_server(tmp_path, pki, verify_clients=True)
    yield server
    await server.close()


def tls_url(server: LocalNatsServer) -> str:
    return f"tls://127.0.0.1:{server.port}"


def top(book):
    return None if book is None else (book.bids[:DEPTH], book.asks[:DEPTH])


async def test_collector_feed_dashboard_and_recorder_over_tls(tls_server, pki, still_emulator, emulator_venue,
                                                              tmp_path):  # fmt: skip
    emu = await still_emulator("binance")
    url = tls_url(tls_server)
    collector = Collector([emulator_venue(emu)], url, depth=DEPTH, tls=bus.BusTls(ca_file=pki.ca),
                          trades_interval_s=None, tickers_interval_s=None, health_interval_s=0.2)  # fmt: skip
    await asyncio.wait_for(collector.start(), 60)
    # The dashboard's TLS options come from its config; the CA path is relative to the config file.
    config_dir = tmp_path / "dashboard"
    config_dir.mkdir()
    (config_dir / "desk-ca.pem").write_bytes(pki.ca.read_bytes())
    text = f'[venues.binance]\nmode = "feed"\nfeed = "{url}"\ntls_ca = "desk-ca.pem"\n'
    config = parse_config(text, config_dir / "desk.toml")
    assert config.venues[0].tls_ca == str(config_dir / "desk-ca.pem")
    venues = build_venues(config, credentials={})
    service = MarketService(venues, health_interval_s=0.2, account_interval_s=3600)
    recording = tmp_path / "tls.jsonl.gz"
    recorder = Recorder(url, "md.>", recording, tls=bus.BusTls(ca_file=pki.ca))
    try:
        await asyncio.wait_for(service.start(), 60)
        await wait_until(lambda: service.book("binance", "BTC/USDT") is not None, timeout=60)
        direct = collector.service
        await wait_until(lambda: top(service.book("binance", "BTC/USDT")) == top(direct.book("binance", "BTC/USDT")),
                         timeout=60)  # fmt: skip
        book = service.book("binance", "BTC/USDT")
        assert book.bids and book.asks and book.best_bid < book.best_ask
        (feed,) = venues
        assert feed._nc.connected_url.scheme == "tls"
        await asyncio.wait_for(recorder.start(), 60)
        await wait_until(lambda: recorder.last_seq.get(("binance", "BTC/USDT"), 0) > 0, timeout=60)
    finally:
        await recorder.stop()
        await service.stop()
        await collector.stop()
    _header, records = read_recording(recording)
    assert any(r.subject == "md.binance.BTC-USDT.book" for r in records)


async def test_a_client_without_the_desks_ca_is_refused_in_one_line(tls_server, pki, tmp_path):
    url = tls_url(tls_server)
    for tls in (None, bus.BusTls(ca_file=pki.other_ca)):
        venue = FeedVenue("binance", url, tls=tls)
        with pytest.raises(bus.BusError, match="TLS certificate is not trusted .*name the desk's CA file"):
            await asyncio.wait_for(venue.start(), 60)
    # The collector waits for a server that is not up yet, but never retries a TLS refusal.
    from aitbc_tui.venues.sim import create_sandbox_venues

    _world, sandbox = create_sandbox_venues(seed=7, reset=True, latency=False, persist=False)
    collector = Collector(sandbox, url, trades_interval_s=None, tickers_interval_s=None)
    with pytest.raises(bus.BusError, match="TLS certificate is not trusted"):
        await asyncio.wait_for(collector.start(), 60)
    # The command line: exit 2, one line, no recording left behind.
    out = tmp_path / "never.jsonl.gz"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AITBC_DATA_DIR": str(tmp_path / "d"),
           "AITBC_CONFIG_DIR": str(tmp_path / "c")}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "aitbc_tui", "record", "--nats", url, "--out", str(out),
                           "--duration", "30"], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "TLS certificate is not trusted" in lines[0] and "--tls-ca" in lines[0], done.stderr
    assert not out.exists()
    # A CA file that is missing, or not a certificate, is refused before anything connects.
    for bad, why in ((tmp_path / "nope.pem", "no such file"), (pki.server_key, "not a CA certificate file")):
        done = subprocess.run([sys.executable, "-m", "aitbc_tui", "record", "--nats", url, "--tls-ca", str(bad),
                               "--out", str(out)], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert f"--tls-ca: {bad}: {why}" in done.stderr, done.stderr
        assert not out.exists()


async def test_a_tls_url_refuses_a_server_without_tls_before_sending_the_login(nats_server):
    # The plain server would accept anything; the login never leaves in clear text.
    login = bus.BusLogin("x", "dashboard", bus.Secret("clear-text-would-leak"))
    venue = FeedVenue("binance", f"tls://127.0.0.1:{nats_server.port}", login=login)
    with pytest.raises(bus.BusError, match="does not require TLS .*nothing was sent"):
        await asyncio.wait_for(venue.start(), 60)


async def test_a_server_that_verifies_clients_needs_the_client_certificate(mtls_server, pki):
    url = tls_url(mtls_server)
    without = FeedVenue("binance", url, tls=bus.BusTls(ca_file=pki.ca))
    with pytest.raises(
        bus.BusError, match="(TLS handshake failed|dropped the TLS connection) .*--tls-cert and --tls-key"
    ):
        await asyncio.wait_for(without.start(), 60)
    nc = await asyncio.wait_for(
        bus.connect(url, name="t", tls=bus.BusTls(pki.ca, pki.client_cert, pki.client_key), retry_first=False), 60
    )
    try:
        got: list[bytes] = []

        async def on_msg(msg):
            got.append(msg.data)

        await nc.subscribe("md.t", cb=on_msg)
        await nc.publish("md.t", b"over mutual TLS")
        await nc.flush()
        await wait_until(lambda: got == [b"over mutual TLS"])
    finally:
        await nc.close()


def test_tls_options_in_a_feed_venue_config_are_checked(tmp_path, pki):
    base = '[venues.b]\nmode = "feed"\nfeed = "tls://127.0.0.1:4222"\n'
    path = tmp_path / "desk.toml"
    with pytest.raises(ConfigError, match=r"venues\.b\.tls_ca: .*nope\.pem.*: no such file"):
        parse_config(base + 'tls_ca = "nope.pem"\n', path)
    with pytest.raises(ConfigError, match=r"venues\.b\.tls_key: is required too"):
        parse_config(base + f'tls_cert = "{pki.client_cert}"\n', path)
    with pytest.raises(ConfigError, match=r"venues\.b\.tls_ca: must be a file path string"):
        parse_config(base + "tls_ca = 3\n", path)
    # A file that exists but is not a CA certificate: refused when the venues are built.
    config = parse_config(base + f'tls_ca = "{pki.server_key}"\n', path)
    with pytest.raises(ConfigError, match=r"venues\.b\.tls_ca: .*not a CA certificate file"):
        build_venues(config, credentials={})
    config = parse_config(base + f'tls_cert = "{pki.client_cert}"\ntls_key = "{pki.server_key}"\n', path)
    with pytest.raises(ConfigError, match=r"venues\.b\.tls_cert: .*not a certificate and its key"):
        build_venues(config, credentials={})
