"""Credentials: the dashboard's `keys set / list / delete / test`.

Lists the configured and stored venues with where their key lives and the key masked
(``abcd…yz``). Secrets are typed into password inputs, go straight into a
``Credentials`` (redacted repr) and the store; they are never shown, logged or put in a
notification. Store calls (keyring over D-Bus, the vault's scrypt) run in threads.

The vault's passphrase, when needed and not in ``AITBC_VAULT_PASSPHRASE``, is asked for
here (password input) and kept only for this screen's store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static, Switch

from aitbc_tui.credentials import (
    PASSPHRASE_ENV,
    CredentialError,
    Credentials,
    CredentialStore,
    VaultError,
    needs_passphrase,
)
from aitbc_tui.secret import Secret

NEEDS_PASSPHRASE = "the vault needs its passphrase"


def default_store_factory(provider: Callable[[bool], Secret]) -> CredentialStore:
    return CredentialStore.open(passphrase_provider=provider)


class CredentialsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="credentials.close"),
        Binding("s", "set_key", "Set", id="credentials.set"),
        Binding("d", "delete_key", "Delete", id="credentials.delete"),
        Binding("t", "test_key", "Test", id="credentials.test"),
    ]

    def __init__(
        self,
        config: Any = None,
        *,
        store_factory: Callable[[Callable[[bool], Secret]], Any] = default_store_factory,
        probe: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(id="credentials")
        self.config = config
        self._store_factory = store_factory
        self._probe = probe
        self._store: Any = None
        self._passphrase: Secret | None = None
        self._venues: list[str] = []
        self._editing: str | None = None  # venue whose key the form is setting
        self._pending_delete: str | None = None

    # ---- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="credentials-box", classes="modal-box"):
            yield Static("Credentials", id="credentials-title", classes="modal-title")
            yield DataTable(id="credentials-table", cursor_type="row")
            yield Static("", id="credentials-status")
            with Vertical(id="passphrase-form"):
                yield Label("Vault passphrase")
                yield Input(password=True, id="vault-passphrase")
            with Vertical(id="key-form"):
                yield Static("", id="key-form-title")
                with Horizontal(classes="form-row"):
                    yield Label("API key", classes="form-label")
                    yield Input(password=True, id="api-key")
                with Horizontal(classes="form-row"):
                    yield Label("Secret", classes="form-label")
                    yield Input(password=True, id="api-secret")
                with Horizontal(classes="form-row", id="passphrase-row"):
                    yield Label("Passphrase", classes="form-label")
                    yield Input(password=True, id="api-passphrase")
                with Horizontal(classes="form-row"):
                    yield Label("Read-only key", classes="form-label")
                    yield Switch(value=False, id="key-read-only")
            yield Static("s set · d delete · t test · Esc close", classes="modal-hint", id="credentials-hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Venue", "Exchange", "Mode", "Store", "Key", "Access")
        self.query_one("#passphrase-form").display = False
        self.query_one("#key-form").display = False
        table.focus()
        self._reload()

    # ---- store access (threads) ---------------------------------------------------------

    def _provide_passphrase(self, new: bool) -> Secret:
        if self._passphrase is not None:
            return self._passphrase
        env = os.environ.get(PASSPHRASE_ENV)
        if env:
            return Secret(env)
        raise VaultError(NEEDS_PASSPHRASE)

    def _open_store(self) -> Any:
        if self._store is None:
            self._store = self._store_factory(self._provide_passphrase)
        return self._store

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#credentials-status", Static)
        status.set_class(error, "form-error")
        status.update(text)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, VaultError) and NEEDS_PASSPHRASE in str(exc):
            self._ask_passphrase()
            return
        if isinstance(exc, VaultError) and "wrong passphrase" in str(exc):
            self._passphrase = None
            self._store = None
        self._status(str(exc), error=True)

    def _ask_passphrase(self) -> None:
        self._status("the vault is locked: type its passphrase and press Enter")
        self.query_one("#passphrase-form").display = True
        self.query_one("#vault-passphrase", Input).focus()

    @work(thread=True, exclusive=True, group="credentials", exit_on_error=False)
    def _reload(self) -> None:
        try:
            store = self._open_store()
            entries = {e.venue: e for e in store.list()}
            description = store.description
        except CredentialError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._show, entries, description)

    def _show(self, entries: dict[str, Any], description: str) -> None:
        self.query_one("#credentials-title", Static).update(f"Credentials · {description}")
        table = self.query_one(DataTable)
        table.clear()
        configured = {v.name: v for v in getattr(self.config, "venues", ())}
        self._venues = sorted(set(configured) | set(entries))
        for venue in self._venues:
            entry = entries.get(venue)
            cfg = configured.get(venue)
            table.add_row(
                venue,
                cfg.exchange if cfg else "—",
                cfg.mode.value if cfg else "not configured",
                entry.store_name if entry else "—",
                entry.masked_key if entry else "no key",
                ("read-only" if entry.read_only else "trade") if entry else "",
                key=venue,
            )
        if not self._venues:
            self._status("no venue is configured and no key is stored (sandbox needs none)")

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not self._venues or table.cursor_row is None or not (0 <= table.cursor_row < len(self._venues)):
            self._status("select a venue first", error=True)
            return None
        return self._venues[table.cursor_row]

    # ---- actions ----------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "vault-passphrase":
            value = event.value
            event.input.value = ""
            if not value:
                return
            self._passphrase = Secret(value)
            self._store = None
            self.query_one("#passphrase-form").display = False
            self.query_one(DataTable).focus()
            self._reload()
        elif event.input.id in ("api-key", "api-secret", "api-passphrase"):
            self._save_form()

    def action_set_key(self) -> None:
        venue = self._selected()
        if venue is None:
            return
        self._editing = venue
        cfg = next((v for v in getattr(self.config, "venues", ()) if v.name == venue), None)
        self.query_one("#passphrase-row").display = bool(cfg and needs_passphrase(cfg.exchange))
        self.query_one("#key-form-title", Static).update(f"Set the API key for {venue} (Enter saves, Esc cancels)")
        for field in ("#api-key", "#api-secret", "#api-passphrase"):
            self.query_one(field, Input).value = ""
        self.query_one("#key-form").display = True
        self.query_one("#api-key", Input).focus()

    def _save_form(self) -> None:
        venue = self._editing
        key = self.query_one("#api-key", Input)
        secret = self.query_one("#api-secret", Input)
        passphrase = self.query_one("#api-passphrase", Input)
        if not key.value or not secret.value:
            (secret if key.value else key).focus()
            self._status("both the API key and the secret are needed", error=True)
            return
        needs = self.query_one("#passphrase-row").display
        if needs and not passphrase.value:
            passphrase.focus()
            self._status("this exchange's keys come with a passphrase", error=True)
            return
        creds = Credentials(
            api_key=Secret(key.value),
            secret=Secret(secret.value),
            passphrase=Secret(passphrase.value) if needs else None,
            read_only=self.query_one("#key-read-only", Switch).value,
        )
        for field in (key, secret, passphrase):
            field.value = ""
        self._close_form()
        self._store_key(venue, creds)

    def _close_form(self) -> None:
        self._editing = None
        self.query_one("#key-form").display = False
        self.query_one(DataTable).focus()

    @work(thread=True, group="credentials", exit_on_error=False)
    def _store_key(self, venue: str, creds: Credentials) -> None:
        try:
            store = self._open_store()
            store.set(venue, creds)
            where = store.description
        except CredentialError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._status, f"{venue}: key {creds.masked_key()} stored in {where}")
        self.app.call_from_thread(self.app.notify, f"{venue}: API key stored")
        self._reload()

    def action_delete_key(self) -> None:
        venue = self._selected()
        if venue is None:
            return
        if self._pending_delete != venue:
            self._pending_delete = venue
            self._status(f"press d again to delete the key for {venue}")
            return
        self._pending_delete = None
        self._delete_key(venue)

    @work(thread=True, group="credentials", exit_on_error=False)
    def _delete_key(self, venue: str) -> None:
        try:
            deleted = self._open_store().delete(venue)
        except CredentialError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._status, f"{venue}: key deleted" if deleted else f"{venue}: no key was stored")
        self._reload()

    def action_test_key(self) -> None:
        venue = self._selected()
        if venue is None:
            return
        if self.config is None or not any(v.name == venue for v in getattr(self.config, "venues", ())):
            self._status(f"{venue} is not configured: nothing to test against", error=True)
            return
        self._status(f"{venue}: testing the key with one authenticated request…")
        self._test_key(venue)

    @work(group="credentials-test", exit_on_error=False)
    async def _test_key(self, venue: str) -> None:
        import asyncio

        try:
            creds = await asyncio.to_thread(lambda: self._open_store().get(venue))
        except CredentialError as exc:
            self._failed(exc)
            return
        if creds is None:
            self._status(f"{venue}: no key stored; press s to set one", error=True)
            return
        from aitbc_tui.venues.factory import authenticated_probe

        probe = self._probe or authenticated_probe
        try:
            latency = await probe(venue, creds, self.config)
        except Exception as exc:  # noqa: BLE001 - the operator reads a line, not a traceback
            from aitbc_tui.service import describe_error

            self._status(f"{venue}: key test failed: {describe_error(exc)}", error=True)
            return
        self._status(f"{venue}: key works ({latency:.0f} ms, {'read-only' if creds.read_only else 'trade'})")

    def action_close(self) -> None:
        if self._editing is not None:
            self._close_form()
            return
        self.dismiss(None)
