"""Live-trading guardrails, driven by keyboard: the live gate, the LIVE marker, read-only
sessions and venues, UNKNOWN orders blocking a resend, and the credentials screen."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Input, Static

from aitbc_tui.cli import main
from aitbc_tui.credentials import CredentialStore
from aitbc_tui.domain import Mode, VenueUnavailable
from aitbc_tui.journal import Journal, JournalState
from aitbc_tui.ui.screens.confirm import ConfirmScreen
from aitbc_tui.ui.screens.credentials import CredentialsScreen
from aitbc_tui.ui.screens.live_gate import LiveGateScreen
from aitbc_tui.ui.screens.order_form import OrderForm
from tests.apptools import make_app, wait_ready, wait_until

SIZE = (160, 45)
WORD = "LIVE binance"


def notices(app) -> list[str]:
    return [n.message for n in app.notices]


async def test_live_gate_locks_orders_until_the_word_is_typed_and_marks_the_screen(tmp_path):
    app = make_app(tmp_path, mode=Mode.LIVE, live_gate=WORD)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert isinstance(app.screen, LiveGateScreen)
        assert not app.trading_armed
        app.action_order("buy")  # even if reached some other way, nothing opens
        await pilot.pause()
        assert isinstance(app.screen, LiveGateScreen)
        assert any("locked" in m for m in notices(app))
        assert "LOCKED" in str(app.query_one("#status-bar", Static).render())

        await pilot.press(*"live", "enter")  # not the word
        assert isinstance(app.screen, LiveGateScreen) and not app.trading_armed
        await pilot.press(*WORD, "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, LiveGateScreen))
        assert app.trading_armed

        main_screen = app.screen_stack[0]
        assert main_screen.has_class("mode-live") and main_screen.border_title.startswith("LIVE")
        assert app.query_one("#status-bar").has_class("mode-live")

        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm))
        await pilot.press(*"0.01", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert "Mode" in body and "LIVE" in body
        assert "Notional" in body and "USDT" in body.split("Notional", 1)[1].splitlines()[0]
        assert app.screen.query_one("#confirm-box").has_class("live")
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, (OrderForm, ConfirmScreen)))
        await asyncio.wait_for(app.workers.wait_for_complete(), 120)
        assert len(app.service.venue("binance").place_requests) == 1


async def test_escape_at_the_live_gate_quits_without_sending(tmp_path):
    app = make_app(tmp_path, mode=Mode.LIVE, live_gate=WORD)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LiveGateScreen)
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code == 0
    assert app.service.venue("binance").place_requests == []


async def test_sandbox_screen_has_no_live_marker(sandbox_app):
    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        assert not app.screen.has_class("mode-live") and app.query_one("#status-bar").has_class("mode-sandbox")


async def test_read_only_session_refuses_every_order_action_and_panes_still_work(tmp_path):
    app = make_app(tmp_path, read_only=True)
    app.service.read_only = True  # what build_service does with --read-only
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        for key in ("b", "s", "c", "ctrl+k"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, (OrderForm, ConfirmScreen)), key
        assert all("read-only" in m for m in notices(app)) and len(notices(app)) == 4
        assert app.service.venue("binance").place_requests == []
        assert app.service.book("binance", "BTC/USDT") is not None  # market data keeps flowing
        assert "READ-ONLY" in str(app.query_one("#status-bar", Static).render())


async def test_a_read_only_venue_refuses_orders_others_trade(sandbox_app):
    app = sandbox_app
    app.service.venue("binance").read_only = True  # venues.binance.read_only, or read-only keys
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(app.screen, OrderForm)
        assert any("binance is read-only" in m for m in notices(app))
        await pilot.press("v")
        assert app.venue != "binance"
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm))


async def test_unknown_order_is_shown_and_blocks_a_resend_on_that_venue(tmp_path):
    app = make_app(tmp_path)
    journal = Journal(tmp_path / "journal.sqlite3")
    app.service.journal = journal
    venue = app.service.venue("binance")

    async def timed_out(request):
        venue.place_requests.append(request)
        raise VenueUnavailable("binance: request timed out")

    async def lookup_fails(client_order_id, symbol):
        raise VenueUnavailable("binance: request timed out")

    venue.place_order = timed_out
    venue.fetch_order_by_client_id = lookup_fails
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm))
        await pilot.press(*"0.01", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(app.service.unknown_orders()))
        table = app.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1 and "UNKNOWN" in str(table.get_row_at(0)[7]),
                         what="the orders pane showing the order as UNKNOWN")  # fmt: skip
        assert any("UNKNOWN" in m for m in notices(app))
        [entry] = journal.orders()
        assert entry.state is JournalState.UNKNOWN

        await pilot.press("b")  # a resend on binance is refused while it is unknown
        await pilot.pause()
        assert not isinstance(app.screen, OrderForm)
        assert len(venue.place_requests) == 1
    journal.close()


async def test_credentials_screen_sets_lists_and_deletes_without_showing_secrets(tmp_path, monkeypatch):
    from aitbc_tui.config import parse_config

    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "pilot-passphrase")
    vault = tmp_path / "data" / "vault" / "credentials.vault"

    def store_factory(provider):
        return CredentialStore.open("vault", provider, vault_path=vault, insecure_test_scrypt_n=2**4)

    config = parse_config('[venues.binance]\nexchange = "binance"\nmode = "paper"\nsymbols = ["BTC/USDT"]\n')
    app = make_app(tmp_path, config=config, credential_store_factory=store_factory)
    key, secret = "PILOTKEY0123456789abcdef", "PILOTSECRET-do-not-show-42"
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        assert table.get_row_at(0)[4] == "no key"
        await pilot.press("s")
        await wait_until(pilot, lambda: screen.query_one("#api-key", Input).has_focus)
        assert screen.query_one("#api-key", Input).password and screen.query_one("#api-secret", Input).password
        await pilot.press(*key, "tab", *secret, "enter")
        await wait_until(pilot, lambda: table.row_count == 1 and table.get_row_at(0)[4] != "no key")
        assert table.get_row_at(0)[3:5] == ["vault", "PILO…ef"]
        svg = app.export_screenshot()
        assert key not in svg and secret not in svg
        assert all(key not in m and secret not in m for m in notices(app))
        stored = store_factory(lambda new: "pilot-passphrase").get("binance")
        assert stored.api_key.reveal() == key and stored.secret.reveal() == secret
        assert secret.encode() not in vault.read_bytes()

        await pilot.press("d", "d")
        await wait_until(pilot, lambda: table.get_row_at(0)[4] == "no key")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CredentialsScreen))


def test_live_config_without_live_flag_refuses_to_start(tmp_path, capsys):
    path = tmp_path / "live.toml"
    path.write_text('[venues.binance]\nexchange = "binance"\nmode = "live"\nsymbols = ["BTC/USDT"]\n')
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert 'binance is configured with mode = "live"' in err and "--live" in err
