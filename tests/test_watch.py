"""`aitbc-tui watch`: the alert engine headless. In process on the frozen, seeded sandbox
(lines and what --alerts-only leaves out), and as the real command in a subprocess: NDJSON
on stdout, the alert delivered to a real aiohttp receiver on 127.0.0.1, the event log
written, and Ctrl+C (SIGINT) ends it with exit code 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from decimal import Decimal

import pytest

from aitbc_tui.alert_runner import AlertRunner
from aitbc_tui.alerts import AlertsConfig, parse_rule
from aitbc_tui.delivery import WebhookDispatcher
from aitbc_tui.events import EventLog, read_events
from aitbc_tui.service import MarketService
from aitbc_tui.venues.sim import create_sandbox_venues
from aitbc_tui.watch import HeadlessWatch
from aitbc_tui.webhooks import WebhookStore
from tests.apptools import FROZEN_NOW, wait_until
from tests.webhook_receiver import Receiver

SECRET = "whsec_watch-test-93ab1d"


def frozen_service(tmp_path) -> MarketService:
    world, venues = create_sandbox_venues(seed=7, reset=True, data_dir=tmp_path, clock=lambda: FROZEN_NOW,
                                          autostart_ticks=False, latency=False, persist=False)  # fmt: skip
    world.run_steps(40, 0.1)
    return MarketService(venues, monotonic=lambda: 1000.0, health_interval_s=3600, account_interval_s=3600,
                         clock=lambda: FROZEN_NOW)  # fmt: skip


async def run_watch(tmp_path, rules, *, alerts_only: bool, until) -> tuple[list[str], HeadlessWatch]:
    service = frozen_service(tmp_path / "sandbox")
    webhooks = WebhookDispatcher(lambda _: None, path=tmp_path / "no-webhooks.sqlite3")
    runner = AlertRunner(service, AlertsConfig(), [parse_rule(r, default_id=f"w{i}") for i, r in enumerate(rules)],
                         clock=lambda: FROZEN_NOW, webhooks=webhooks)  # fmt: skip
    lines: list[str] = []
    watch = HeadlessWatch(service, runner, EventLog(persist=False, clock=lambda: FROZEN_NOW), write=lines.append,
                          alerts_only=alerts_only)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    try:
        await wait_until(lambda: until(lines) or task.done(), what=lambda: f"watch output; got {lines}")
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    return lines, watch


async def test_watch_prints_alerts_as_lines_and_only_alerts_with_alerts_only(tmp_path):
    rules = [{"kind": "spread_above", "venue": "binance", "symbol": "BTC/USDT", "bps": "0"}]
    lines, watch = await run_watch(tmp_path / "a", rules, alerts_only=False, until=lambda out: len(out) >= 2)
    assert lines[0] == "2026-11-18T11:06:40.000Z  info   notice    -           watching binance, kraken, coinbase: " \
                       "1 alert rule(s) active"  # fmt: skip
    [alert] = watch.alerts
    spread = Decimal(alert.data["spread_bps"])
    assert lines[1] == (f"2026-11-18T11:06:40.000Z  warn   alert     binance     binance BTC/USDT: spread "
                        f"{spread:.1f} bps, wider than 0 bps")  # fmt: skip
    only, _ = await run_watch(tmp_path / "b", rules, alerts_only=True, until=lambda out: len(out) >= 1)
    assert only == [lines[1]]  # the notice is left out


@pytest.fixture
async def receiver(loopback_only):
    found = await Receiver(SECRET).start()
    yield found
    await found.stop()


async def _readline(stream, deadline: float) -> str:
    loop = asyncio.get_running_loop()
    raw = await asyncio.wait_for(stream.readline(), max(0.1, deadline - loop.time()))
    return raw.decode()


async def test_the_watch_command_streams_ndjson_delivers_the_webhook_and_stops_on_ctrl_c(receiver, monkeypatch):
    from aitbc_tui.alert_store import AlertStore
    from aitbc_tui.credentials import Credentials, CredentialStore
    from aitbc_tui.secret import Secret

    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "watch-test-passphrase")
    vault = CredentialStore.open("vault", None)  # the real KDF: the command reads it as users would
    vault.set("webhook-1", Credentials(api_key=Secret("webhook"), secret=Secret(SECRET)))
    store = WebhookStore()
    store.add(receiver.url, "alert")
    store.close()
    rules = AlertStore()
    rules.add({"kind": "spread_above", "venue": "kraken", "symbol": "BTC/USDT", "bps": "0"})
    rules.close()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitbc_tui", "watch", "--json", "--alerts-only",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # a cold start of Python and the sandbox on a busy machine
    try:
        first = json.loads(await _readline(proc.stdout, deadline))
        await wait_until(lambda: receiver.accepted, timeout=max(1.0, deadline - loop.time()),
                         what=lambda: f"the webhook; requests {receiver.requests}")  # fmt: skip
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 20)
        err = (await proc.stderr.read()).decode()
    assert code == 0, err
    assert (first["kind"], first["venue"], first["symbol"], first["rule"], first["severity"]) == (
        "alert", "kraken", "BTC/USDT", "r1", "warning")  # fmt: skip
    assert first["text"].startswith("kraken BTC/USDT: spread ") and first["text"].endswith("wider than 0 bps")
    assert first["data"]["kind"] == "spread_above" and Decimal(first["data"]["spread_bps"]) > 0
    [sent] = receiver.accepted
    assert sent["event"] == "alert" and sent["data"]["text"] == first["text"] and sent["timestamp"] == first["time"]
    assert receiver.bad_signatures == 0
    logged = [e for e in read_events() if e.kind == "alert"]
    assert [e.text for e in logged] == [first["text"]]
    assert SECRET not in err and all(SECRET not in e.text for e in read_events())


async def test_a_resync_storm_on_a_real_ccxt_feed_is_an_alert(emulator_factory, loopback_only, tmp_path):
    """A paper venue on the binance emulator (real ccxt.pro client, a moving market); the
    emulator drops one depth diff: ccxt sees the U/u gap and resubscribes (one resync); the
    rule "more than 0 resyncs within 60 s" fires in the headless watch."""
    from aitbc_tui.config import VenueConfig
    from aitbc_tui.domain import Mode
    from aitbc_tui.venues.ccxt_venue import CcxtVenue
    from aitbc_tui.venues.paper import PaperVenue

    emu = await emulator_factory("binance", simulate=True, seed=1)
    config = VenueConfig(name="emu-binance", exchange=emu.ccxt_id, mode=Mode.PAPER, symbols=("BTC/USDT",),
                         api_url=emu.url, ws_url=emu.ws_url or None)  # fmt: skip
    venue = PaperVenue(CcxtVenue(config, credentials=None, poll_interval_s=0.05))
    service = MarketService([venue], health_interval_s=0.5, account_interval_s=5)
    rule = parse_rule({"kind": "resync_storm", "venue": "emu-binance", "count": 0, "within_s": 60}, default_id="gaps")
    webhooks = WebhookDispatcher(lambda _: None, path=tmp_path / "no-webhooks.sqlite3")
    runner = AlertRunner(service, AlertsConfig(), [rule], clock=lambda: FROZEN_NOW, webhooks=webhooks)
    lines: list[str] = []
    watch = HeadlessWatch(service, runner, EventLog(persist=False), write=lines.append, alerts_only=True)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    try:
        await wait_until(lambda: service.book("emu-binance", "BTC/USDT") is not None, timeout=30,
                         what="the emulator's book through ccxt")  # fmt: skip
        await wait_until(lambda: venue.inner.resyncs == 0 and runner.engine._resync_total.get("emu-binance") == 0,
                         what="the watch's first look at the resync counter")  # fmt: skip
        # The next diff event is dropped: a U/u gap. On a busy machine the drop can land
        # while ccxt is (re)syncing from a snapshot, where a gap is not one: drop again
        # until ccxt has seen one (each try waits on the counter, never a fixed time).
        for _ in range(5):
            emu.inject_fault("depth_gap", "BTCUSDT")
            with contextlib.suppress(AssertionError):
                await wait_until(lambda: venue.inner.resyncs > 0, timeout=10, what="ccxt's resync")
                break
        await wait_until(
            lambda: watch.alerts, timeout=30, what=lambda: f"a resync alert; resyncs {venue.inner.resyncs}"
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    [alert] = watch.alerts
    assert (alert.rule_id, alert.kind, alert.venue, alert.severity) == ("gaps", "resync_storm", "emu-binance", "error")
    assert alert.text == "emu-binance: 1 book resyncs within 60 s (more than 0)"
    assert lines == [f"2026-11-18T11:06:40.000Z  error  alert     emu-binance  {alert.text}"]
