"""Canary: a known API key and secret go into the vault and drive a live session against
the emulator; then everything that could print them is made to: DEBUG logging of every
logger (ccxt, aiohttp), an authentication failure, Textual's crash screen (it prints local
variables), a ccxt error's traceback rendered with locals, a screenshot. The canary must
appear in no output, log, screenshot or file under the data directory."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest
from rich.console import Console
from rich.traceback import Traceback

from aitbc_tui import paths
from aitbc_tui.config import load_config
from aitbc_tui.credentials import Credentials, CredentialStore
from aitbc_tui.domain import Mode, VenueError
from aitbc_tui.journal import Journal
from aitbc_tui.service import MarketService, describe_error
from aitbc_tui.ui.app import AitbcApp
from aitbc_tui.ui.screens.confirm import ConfirmScreen
from aitbc_tui.ui.screens.credentials import CredentialsScreen
from aitbc_tui.ui.screens.live_gate import LiveGateScreen
from aitbc_tui.ui.screens.order_form import OrderForm
from aitbc_tui.venues.ccxt_venue import CcxtVenue
from aitbc_tui.venues.factory import build_venues
from tests.apptools import wait_until

CANARY_KEY = "CANARYKEY7f3a9c1e5b2d4a6f8e0c2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0"
CANARY_SECRET = "CANARYSECRET5e1d9b7a3c2f4e6d8b0a2c4e6f8d0b2a4c6e8f0d2b4a6c8e0f2d4b6"
MARKERS = ("CANARYKEY7f3a", "CANARYSECRET5e1d")  # any long piece of either is a leak
SIZE = (160, 45)


def leaks(text: str) -> list[str]:
    return [m for m in MARKERS + (CANARY_KEY, CANARY_SECRET) if m in text]


def render(renderable) -> str:
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


async def authentication_failure(config) -> list[str]:
    """In its own frame, so the rendered traceback holds no test fixture (the emulator's
    repr shows the secret it serves)."""
    wrong = CcxtVenue(config.venues[0], credentials=Credentials(api_key=CANARY_KEY, secret="wrong" * 10))
    try:
        await wrong.authenticated_ping()
    except VenueError as exc:
        message = describe_error(exc)
        assert "authentication failed" in message
        return [message, render(Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=True))]
    finally:
        await wrong.close()
    raise AssertionError("a wrong secret was accepted")


@pytest.fixture
def debug_log(tmp_path):
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("ccxt", "ccxt.base.exchange", "aiohttp", "asyncio"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old)
    handler.close()


async def failing_live_session(store, venue: str, emu, tmp_path) -> list[str]:
    """A live session against the emulator with keys from ``store``: gate, order, the
    credentials screen, two screenshots, then a crash inside the app's message loop
    (Textual's crash screen, with locals) and a ccxt authentication failure rendered with
    locals. Returns every text a person could have seen."""
    config_path = tmp_path / "live.toml"
    config_path.write_text(
        f'[venues.{venue}]\nexchange = "binance"\nmode = "live"\nsymbols = ["BTC/USDT"]\n'
        f'api_url = "{emu.url}"\nws_url = "{emu.ws_url.rsplit("/", 1)[0]}"\n'
    )
    config = load_config(config_path)
    venues = build_venues(config, credentials=store)
    journal = Journal()
    service = MarketService(venues, journal=journal, risk=config.risk, health_interval_s=0.3, account_interval_s=0.3)
    app = AitbcApp(service, mode=Mode.LIVE, live_gate=f"LIVE {venue}", config=config,
                   credential_store_factory=lambda provider: store)  # fmt: skip
    outputs: list[str] = []

    def boom() -> None:
        credentials = store.get(venue)  # locals the crash screen will print
        running_venue = service.venue(venue)
        raise RuntimeError(f"canary crash with {credentials} on {running_venue}")

    app.action_canary_crash = boom
    with pytest.raises(RuntimeError, match="canary crash"):  # run_test re-raises the crash
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*f"LIVE {venue}", "enter")
            await wait_until(pilot, lambda: service.book(venue, "BTC/USDT") is not None and service.balances(venue),
                             what="the live venue's book and balances")  # fmt: skip
            assert not isinstance(app.screen, LiveGateScreen)
            await pilot.press("b")
            await wait_until(pilot, lambda: isinstance(app.screen, OrderForm), what="the order form")
            await pilot.press(*"0.001", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            await pilot.press("y")
            await wait_until(pilot, lambda: bool(journal.orders()), what="the order reaching the journal")
            await asyncio.wait_for(app.workers.wait_for_complete(), 120)
            await pilot.press("K")
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, CredentialsScreen) and app.screen.query_one("DataTable").row_count,
                what="the credentials screen with its rows",
            )
            await asyncio.wait_for(app.workers.wait_for_complete(), 120)  # whatever the screen checks in the background
            await pilot.pause()
            svg = app.export_screenshot()
            (tmp_path / "screen.svg").write_text(svg)
            app.save_screenshot(str(tmp_path / "saved.svg"))
            outputs.extend(n.message for n in app.notices)
            await pilot.press("escape")

            # Textual's crash screen: an exception inside a handler, rendered with locals.
            app.call_later(app.action_canary_crash)  # runs in the app's message loop, like a handler
            # (private: Textual has no public access to what its crash screen prints)
            await wait_until(lambda: bool(app._exit_renderables), what="Textual's crash screen")
            crash_screen = [render(r) for r in app._exit_renderables]

    assert crash_screen and "RuntimeError" in crash_screen[-1] and "credentials" in crash_screen[-1]
    outputs.extend(crash_screen)

    # A ccxt authentication error (wrong secret): its message, and its traceback with locals.
    outputs.extend(await authentication_failure(config))
    journal.close()
    return outputs


async def test_canary_never_leaves_the_credential_store(emulator_factory, tmp_path, monkeypatch, capfd, debug_log):
    emu = await emulator_factory("binance", api_key=CANARY_KEY, secret=CANARY_SECRET, simulate=False, seed=9)
    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "canary-vault-passphrase")
    store = CredentialStore.open("vault", insecure_test_scrypt_n=2**4)
    store.set("emu", Credentials(api_key=CANARY_KEY, secret=CANARY_SECRET))
    monkeypatch.delenv("AITBC_VAULT_PASSPHRASE")  # the app gets the store, not the environment

    outputs = await failing_live_session(store, "emu", emu, tmp_path)
    files = assert_no_canary(outputs, capfd, debug_log, tmp_path)
    assert any(p.suffix == ".vault" for p in files)
    # The event log got every toast of the session, and no canary (scanned with the other files).
    from aitbc_tui.events import read_events

    assert any(p.name == "events.sqlite3" for p in files)
    logged = read_events()
    assert any(e.kind == "order" for e in logged) and not any(leaks(e.text) for e in logged)


def assert_no_canary(outputs: list[str], capfd, debug_log, tmp_path, extra_files: list[Path] = ()) -> list[Path]:
    """The canary is in no output, log line, screenshot, or file under the data directory
    (nor in ``extra_files``). Returns the data directory's files."""
    captured = capfd.readouterr()
    outputs += [captured.out, captured.err]
    log_text = debug_log.read_text(errors="replace")
    assert "Request:" in log_text, "ccxt's DEBUG request lines were logged (redacted)"
    assert "****" in log_text
    for index, text in enumerate(outputs + [log_text]):
        found = leaks(text)
        at = text.find(found[0]) if found else 0
        assert found == [], (index, len(outputs), text[max(0, at - 1500) : at + 200])
    for svg_file in (tmp_path / "screen.svg", tmp_path / "saved.svg"):
        assert leaks(svg_file.read_text()) == []
    files = [p for p in Path(paths.data_dir()).rglob("*") if p.is_file()]
    assert any(p.name == "journal.sqlite3" for p in files)
    for path in files + list(extra_files):
        data = path.read_bytes()
        assert not any(m.encode() in data for m in MARKERS), path
    return files
