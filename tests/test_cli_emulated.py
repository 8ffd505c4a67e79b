"""Headless commands (`book`, `health`, `arb`) on a config whose venues point at exchange
emulators on 127.0.0.1, in paper mode: the public feed comes from the emulator, orders
would fill locally, no keys are needed. The emulators run on their own event loop in a
thread, like a separate `aitbc-tui emulate` process would."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from aitbc_tui import cli
from aitbc_tui.emulator import RunningEmulator, start_emulator
from tests.emulator_helpers import emulator_factory  # noqa: F401 - fixture

AITBC_TUI = Path(sys.executable).with_name("aitbc-tui")


class EmulatorThread:
    """Emulators served from a background event loop, so a command can use asyncio.run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="emulators", daemon=True)
        self.thread.start()
        self.running: list[RunningEmulator] = []

    def start(self, venue: str, **options) -> RunningEmulator:
        emu = asyncio.run_coroutine_threadsafe(start_emulator(venue, seed=5, **options), self.loop).result(10)
        self.running.append(emu)
        return emu

    def call(self, fn):
        async def run():
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        for emu in self.running:
            asyncio.run_coroutine_threadsafe(emu.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, RunningEmulator]]:
    served = EmulatorThread()
    try:
        # No simulated flow: the books stay where the market maker quoted them, so every
        # command sees the same book as the emulator's engine.
        yield {"binance": served.start("binance", simulate=False), "kraken": served.start("kraken", simulate=False)}
    finally:
        served.stop()


@pytest.fixture(scope="module")
def moving_emulators() -> Iterator[dict[str, RunningEmulator]]:
    """A live simulated market: books keep changing, as health expects of a real feed."""
    served = EmulatorThread()
    try:
        yield {"binance": served.start("binance"), "kraken": served.start("kraken")}
    finally:
        served.stop()


def write_config(tmp_path: Path, emulators: dict[str, RunningEmulator]) -> Path:
    blocks = []
    for name, emu in emulators.items():
        ws = f'ws_url = "{emu.ws_url.rsplit("/", 1)[0]}"\n' if emu.ws_url else ""
        blocks.append(
            f'[venues.{name}]\nexchange = "{emu.ccxt_id}"\nmode = "paper"\n'
            f'symbols = ["BTC/USDT", "ETH/USDT"]\napi_url = "{emu.url}"\n{ws}'
        )
    path = tmp_path / "venues.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def engine_book(emu: RunningEmulator, symbol: str, depth: int):
    book = emu.engine.book(symbol, depth)
    return book.bids, book.asks


def test_book_json_is_the_emulators_book(tmp_path, capsys, emulators):
    config = write_config(tmp_path, emulators)
    code, out, err = run_cli(capsys, "--config", str(config), "book", "binance", "BTC/USDT", "--json", "--depth", "5")
    assert code == 0, err
    data = json.loads(out)
    assert (data["venue"], data["symbol"]) == ("binance", "BTC/USDT")
    bids, asks = engine_book(emulators["binance"], "BTC/USDT", 5)
    assert [[Decimal(p), Decimal(s)] for p, s in data["bids"]] == [[p, s] for p, s in bids]
    assert [[Decimal(p), Decimal(s)] for p, s in data["asks"]] == [[p, s] for p, s in asks]
    assert Decimal(data["analysis"]["mid"]) == (bids[0][0] + asks[0][0]) / 2


def test_book_through_the_installed_command(tmp_path, emulators):
    """The real entry point in its own process: --config is a global option."""
    config = write_config(tmp_path, emulators)
    result = subprocess.run(
        [str(AITBC_TUI), "--config", str(config), "book", "kraken", "ETH/USDT", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    bids, asks = engine_book(emulators["kraken"], "ETH/USDT", 10)
    assert Decimal(data["bids"][0][0]) == bids[0][0] and Decimal(data["asks"][0][0]) == asks[0][0]


def test_health_json_two_emulated_venues(tmp_path, capsys, moving_emulators):
    code, out, err = run_cli(capsys, "--config", str(write_config(tmp_path, moving_emulators)), "health", "--json")
    assert code == 0, err
    rows = {row["venue"]: row for row in json.loads(out)}
    assert set(rows) == {"binance", "kraken"}
    for row in rows.values():
        assert row["status"] == "connected", row
        assert row["latency_ms"] > 0 and row["last_error"] == ""
    assert rows["binance"]["latency_probe"] == "fetch_time (GET /api/v3/time)"
    assert rows["kraken"]["latency_probe"] == "fetch_time (GET /0/public/Time)"


def test_arb_json_two_emulated_venues(tmp_path, capsys, emulators):
    code, out, err = run_cli(capsys, "--config", str(write_config(tmp_path, emulators)), "arb", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert {r["symbol"] for r in rows} == {"BTC/USDT", "ETH/USDT"}
    for r in rows:
        assert {r["buy_venue"], r["sell_venue"]} == {"binance", "kraken"}
        buy = emulators[r["buy_venue"]].engine.book(r["symbol"], 1).asks[0][0]
        sell = emulators[r["sell_venue"]].engine.book(r["symbol"], 1).bids[0][0]
        assert (Decimal(r["buy_price"]), Decimal(r["sell_price"])) == (buy, sell)
        assert Decimal(r["net_bps"]) < Decimal(r["gross_bps"])  # both taker fees taken off


def test_unknown_venue_is_exit_2_with_the_configured_names(tmp_path, capsys, emulators):
    code, out, err = run_cli(capsys, "--config", str(write_config(tmp_path, emulators)), "book", "bitmex", "BTC/USDT")
    assert code == 2 and out == ""
    assert err.strip() == "aitbc-tui: error: unknown venue 'bitmex'; venues: binance, kraken"


def test_unknown_symbol_is_exit_2(tmp_path, capsys, emulators):
    code, _, err = run_cli(capsys, "--config", str(write_config(tmp_path, emulators)), "book", "kraken", "DOGE/USDT")
    assert code == 2 and "'DOGE/USDT' is not listed on kraken" in err


def test_paper_venue_against_an_emulator_fills_locally_headless(tmp_path, emulators):
    """Paper mode as the commands build it: the emulator's book, local fills, nothing sent."""
    from aitbc_tui.config import load_config
    from aitbc_tui.domain import OrderRequest, OrderStatus, OrderType, Side
    from aitbc_tui.service import MarketService
    from aitbc_tui.venues.ccxt_venue import PaperVenue
    from aitbc_tui.venues.factory import build_venues

    async def trade():
        venues = build_venues(load_config(write_config(tmp_path, emulators)))
        assert all(isinstance(v, PaperVenue) for v in venues)
        service = MarketService(venues)
        await service.start(stream=False)
        try:
            order = await service.place_order(
                OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), None, "paper-1")
            )
            await service.refresh_account("binance")  # the ack does not wait for it
            return order, service.balances("binance")
        finally:
            await service.stop()

    order, balances = asyncio.run(trade())
    best_ask = emulators["binance"].engine.book("BTC/USDT", 1).asks[0][0]
    assert order.status is OrderStatus.FILLED and order.average_price == best_ask
    assert balances["BTC"].free == Decimal("2.01")
    for emu in emulators.values():  # the emulators saw no order
        assert emu.engine.open_orders("emulator") == [] and emu.engine.closed_orders("emulator") == []


@pytest.mark.parametrize("venue", ["binance", "kraken", "coinbase"])
async def test_emulate_banner_config_block_trades_on_the_emulator(tmp_path, venue, emulator_factory):  # noqa: F811
    """What `aitbc-tui emulate` prints is a working config: parsed, built with the printed
    key, it places and cancels an order on the emulator."""
    from aitbc_tui.commands.emulate import config_block
    from aitbc_tui.config import load_config
    from aitbc_tui.credentials import Credentials
    from aitbc_tui.domain import Mode, OrderRequest, OrderStatus, OrderType, Side
    from aitbc_tui.venues.factory import build_venues

    emu = await emulator_factory(venue, simulate=False)
    path = tmp_path / "config.toml"
    path.write_text(config_block(emu), encoding="utf-8")
    config = load_config(path)
    [venue_config] = config.venues
    assert venue_config.mode is Mode.LIVE and venue_config.api_url == emu.url
    [client] = build_venues(
        config, credentials={venue_config.name: Credentials(api_key=emu.api_key, secret=emu.secret)}
    )
    client._rest.enableRateLimit = False
    try:
        await client.start()
        book = await asyncio.wait_for(client.watch_order_book("BTC/USDT", 5), 10)
        market = (await client.load_markets())["BTC/USDT"]
        price = (book.best_bid * Decimal("0.98")).quantize(market.tick_size)
        order = await client.place_order(
            OrderRequest(client.name, "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), price, "banner-1")
        )
        assert order.status is OrderStatus.OPEN and len(emu.engine.open_orders("emulator")) == 1
        assert (await client.cancel_order(order.id, "BTC/USDT")).status is OrderStatus.CANCELED
        assert emu.engine.open_orders("emulator") == []
    finally:
        await client.close()
