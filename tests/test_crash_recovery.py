"""Crash and timeout recovery of the order path against the binance emulator.

The emulator runs in this test process, so it outlives the trading process. The trading
process is a real child (`python -c CHILD`) built by the CLI's own ``build_service``
(config TOML pointing at the emulator, `--live`, keys from the encrypted vault, the
journal in ``data_dir()``); it is SIGKILLed at the named points. The restart is a new
service over the same journal, which must reconcile before accepting orders.

(a) the create times out but the order was placed → exactly one order, journaled open;
(b) SIGKILL after the intent is committed, before the send → "not placed", no order;
(c) SIGKILL after the request reached the venue, before the reply → exactly one order,
    journaled open after the restart; nothing duplicated, nothing orphaned.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal as D

import pytest

from aitbc_tui.config import VenueConfig
from aitbc_tui.credentials import Credentials, CredentialStore
from aitbc_tui.domain import Mode, OrderRequest, OrderType, Side, VenueError
from aitbc_tui.journal import Journal, JournalState
from aitbc_tui.service import CRASH_ENV, MarketService
from aitbc_tui.venues.ccxt_venue import CcxtVenue
from tests.apptools import wait_until

PASSPHRASE = "crash-test-passphrase"
AMOUNT = D("0.01")

# The trading process: the CLI's wiring, one limit buy 2 % under the bid, then report.
CHILD = r"""
import asyncio, json, sys
from decimal import Decimal
from aitbc_tui.cli import build_parser, build_service
from aitbc_tui.domain import OrderRequest, OrderType, Side

async def main():
    args = build_parser().parse_args(["--config", sys.argv[1], "--live"])
    config, service = build_service(args, trading=True)
    await service.start(stream=False)
    print(json.dumps({"ready": True, "reconciled": service.reconcile_report}), flush=True)
    market = service.market("emu", "BTC/USDT")
    venue = service.venue("emu")
    book = await venue._poll_rest("BTC/USDT", 5, respect_cadence=False)
    price = (book.best_bid * Decimal("0.98")).quantize(market.tick_size)
    request = OrderRequest("emu", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal(sys.argv[2]), price)
    order = await service.place_order(request)
    print(json.dumps({"placed": order.client_order_id, "status": order.status.value}), flush=True)
    await service.stop()

asyncio.run(main())
"""


@pytest.fixture
async def binance(emulator_factory):
    return await emulator_factory("binance", simulate=False, seed=5, delay_reply_s=30)


def write_config(tmp_path, emu) -> str:
    path = tmp_path / "live.toml"
    path.write_text(
        "[venues.emu]\n"
        'exchange = "binance"\n'
        'mode = "live"\n'
        'symbols = ["BTC/USDT"]\n'
        f'api_url = "{emu.url}"\n'
        f'ws_url = "{emu.ws_url.rsplit("/", 1)[0]}"\n',
        encoding="utf-8",
    )
    return str(path)


def store_keys(emu, monkeypatch) -> None:
    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", PASSPHRASE)
    store = CredentialStore.open("vault")
    store.set("emu", Credentials(api_key=emu.api_key, secret=emu.secret))


def emulator_orders(emu) -> list:
    account = emu.ctx.account
    return list(emu.engine.open_orders(account)) + list(emu.engine.closed_orders(account, 100))


async def run_child(config_path: str, *, crash_at: str | None = None, kill_when=None, timeout: float = 60):
    env = {**os.environ}
    env.pop(CRASH_ENV, None)
    if crash_at:
        env[CRASH_ENV] = crash_at
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, config_path, str(AMOUNT),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    if kill_when is not None:
        try:
            await wait_until(lambda: kill_when() or proc.returncode is not None, timeout=timeout, interval=0.01)
        except AssertionError:
            pass
        if not kill_when():  # timed out, or the child ended first
            if proc.returncode is None:
                proc.kill()
            out, err = await proc.communicate()
            raise AssertionError(f"child never reached the kill point: {out.decode()} {err.decode()[-2000:]}")
        proc.send_signal(signal.SIGKILL)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


async def restart(emu, tmp_path):
    """A fresh service over the same journal: reconciles before it accepts orders."""
    journal = Journal()
    venue = CcxtVenue(
        VenueConfig(
            name="emu",
            exchange="binance",
            mode=Mode.LIVE,
            symbols=("BTC/USDT",),
            api_url=emu.url,
            ws_url=emu.ws_url.rsplit("/", 1)[0],
        ),  # fmt: skip
        credentials=CredentialStore.open("vault").get("emu"),
    )
    service = MarketService([venue], journal=journal, health_interval_s=3600, account_interval_s=3600)
    await service.start(stream=False)
    return service, journal


async def test_sigkill_after_intent_before_send_leaves_nothing_to_duplicate(binance, tmp_path, monkeypatch):
    store_keys(binance, monkeypatch)
    config = write_config(tmp_path, binance)
    code, out, err = await run_child(config, crash_at="after_intent")
    assert code == -signal.SIGKILL, err[-2000:]
    assert '"ready"' in out and '"placed"' not in out
    assert emulator_orders(binance) == []

    service, journal = await restart(binance, tmp_path)
    try:
        [entry] = journal.orders()
        assert entry.state is JournalState.NOT_PLACED
        assert journal.unresolved() == []
        assert len(service.reconcile_report) == 1 and "not placed" in service.reconcile_report[0]
        assert emulator_orders(binance) == []  # reconciliation only looks up, never sends
    finally:
        await service.stop()
        journal.close()


async def test_sigkill_after_send_before_reply_reconciles_to_exactly_one_order(binance, tmp_path, monkeypatch):
    store_keys(binance, monkeypatch)
    config = write_config(tmp_path, binance)
    binance.inject_fault("delay_reply", "new_order")  # the order is placed; its reply hangs
    code, out, err = await run_child(config, kill_when=lambda: bool(emulator_orders(binance)))
    assert code == -signal.SIGKILL, err[-2000:]
    assert '"placed"' not in out
    [placed] = emulator_orders(binance)

    with Journal() as before:
        [entry] = before.orders()
    assert entry.state is JournalState.SENT and entry.client_order_id == placed.client_order_id

    service, journal = await restart(binance, tmp_path)
    try:
        row = journal.order(placed.client_order_id)
        assert row.state is JournalState.OPEN and row.venue_order_id
        assert journal.unresolved() == [journal.order(placed.client_order_id)]  # open, and tracked
        assert service.accepting_orders and service.unknown_orders() == []
        assert [o.client_order_id for o in emulator_orders(binance)] == [placed.client_order_id]
    finally:
        await service.stop()
        journal.close()


async def test_create_times_out_but_was_placed_exactly_one_order_after_lookup(binance, tmp_path, monkeypatch):
    store_keys(binance, monkeypatch)
    journal = Journal()
    venue = CcxtVenue(
        VenueConfig(
            name="emu",
            exchange="binance",
            mode=Mode.LIVE,
            symbols=("BTC/USDT",),
            api_url=binance.url,
            ws_url=binance.ws_url.rsplit("/", 1)[0],
        ),  # fmt: skip
        credentials=Credentials(api_key=binance.api_key, secret=binance.secret),
        timeout_ms=1500,
    )
    service = MarketService([venue], journal=journal, health_interval_s=3600, account_interval_s=3600,
                            unknown_lookup_delays_s=(0.2,))  # fmt: skip
    await service.start(stream=False)
    try:
        book = await venue._poll_rest("BTC/USDT", 5, respect_cadence=False)
        market = service.market("emu", "BTC/USDT")
        price = (book.best_bid * D("0.98")).quantize(market.tick_size)
        request = OrderRequest("emu", "BTC/USDT", Side.BUY, OrderType.LIMIT, AMOUNT, price)
        binance.inject_fault("delay_reply", "new_order")
        with pytest.raises(VenueError, match="UNKNOWN"):
            await service.place_order(request)
        [entry] = journal.orders()
        await wait_until(lambda: not service.unknown_orders(), what="the unknown order looked up")
        orders = emulator_orders(binance)
        assert [o.client_order_id for o in orders] == [entry.client_order_id]  # exactly one
        assert journal.order(entry.client_order_id).state is JournalState.OPEN
        assert journal.order(entry.client_order_id).venue_order_id
    finally:
        await service.stop()
        journal.close()
