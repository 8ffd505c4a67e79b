"""Keyring backend classification, the credential store over a keyring, and (marked
``secret_service``) the same against a real Secret Service; see run_keyring_tests.sh."""

from __future__ import annotations

import json
import os

import pytest

from aitbc_tui import credentials as cr
from aitbc_tui.credentials import (
    INDEX_USERNAME,
    SERVICE,
    CredentialError,
    CredentialStore,
    Credentials,
    KeyringBackend,
    KeyringUnavailable,
    classify_keyring,
    secure_keyring,
)
from aitbc_tui.secret import Secret


def _creds(key: str = "AKIAEXAMPLEKEY42", passphrase: str | None = None, read_only: bool = False):
    return Credentials(Secret(key), Secret("secret-" + key), Secret(passphrase) if passphrase else None, read_only)


class MemoryKeyring:
    """Stands in for a secure backend in store-logic tests (classification is bypassed)."""

    def __init__(self):
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        del self.items[(service, username)]


# ---- classification ---------------------------------------------------------------


def test_fail_backend_refused():
    from keyring.backends import fail

    chosen, reason = classify_keyring(fail.Keyring())
    assert chosen is None and "no OS keyring" in reason
    with pytest.raises(KeyringUnavailable, match="refusing the OS keyring"):
        secure_keyring(fail.Keyring())


def test_null_backend_refused():
    from keyring.backends import null

    chosen, reason = classify_keyring(null.Keyring())
    assert chosen is None and "null" in reason


def test_chainer_without_secure_backend_refused(monkeypatch):
    from keyring.backends import chainer, fail, null

    monkeypatch.setattr(chainer.ChainerBackend, "backends", [null.Keyring(), fail.Keyring()])
    ring = chainer.ChainerBackend()
    chosen, reason = classify_keyring(ring)
    assert chosen is None and "chainer has no secure backend" in reason


def test_chainer_with_secret_service_picks_it(monkeypatch):
    from keyring.backends import SecretService, chainer, fail

    ss = SecretService.Keyring.__new__(SecretService.Keyring)  # no D-Bus needed to classify
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [fail.Keyring(), ss])
    ring = chainer.ChainerBackend()
    chosen, _ = classify_keyring(ring)
    assert chosen is ss


@pytest.mark.parametrize(
    "module, cls",
    [
        ("keyring.backends.SecretService", "Keyring"),
        ("keyring.backends.kwallet", "DBusKeyring"),
        ("keyring.backends.macOS", "Keyring"),
        ("keyring.backends.Windows", "WinVaultKeyring"),
    ],
)
def test_real_os_backends_accepted_by_name(module, cls):
    fake = type(cls, (), {"__module__": module})()
    chosen, reason = classify_keyring(fake)
    assert chosen is fake and module in reason


def test_subclass_of_secure_backend_is_not_trusted():
    from keyring.backends import SecretService

    sub = type("Keyring", (SecretService.Keyring,), {"__module__": "somebody.else"})
    chosen, _ = classify_keyring(sub.__new__(sub))
    assert chosen is None


def test_keyrings_alt_plaintext_refused():
    pytest.importorskip("keyrings.alt")
    from keyrings.alt.file import EncryptedKeyring, PlaintextKeyring

    # EncryptedKeyring needs pycryptodome to instantiate; classification needs only the type.
    for backend in (PlaintextKeyring(), EncryptedKeyring.__new__(EncryptedKeyring)):
        chosen, reason = classify_keyring(backend)
        assert chosen is None and "keyrings.alt" in reason


def test_auto_falls_back_to_vault_when_keyring_refused(tmp_path):
    from keyring.backends import fail

    store = CredentialStore.open("auto", lambda new: "pw", vault_path=tmp_path / "v" / "c.vault",
                                 keyring_backend=fail.Keyring())
    assert store.backend_name == "vault"
    with pytest.raises(KeyringUnavailable, match="no OS keyring"):
        CredentialStore.open("keyring", keyring_backend=fail.Keyring())


def test_open_rejects_unknown_choice():
    with pytest.raises(CredentialError, match="unknown credential store"):
        CredentialStore.open("plaintext")  # type: ignore[arg-type]


# ---- store logic over a keyring -------------------------------------------------------


def test_keyring_store_roundtrip_and_index():
    ring = MemoryKeyring()
    store = CredentialStore([KeyringBackend(ring)])
    assert store.backend_name == "keyring"
    store.set("binance", _creds(read_only=True))
    store.set("okx", _creds("OKXKEY1234567890", passphrase="pp"))
    assert json.loads(ring.items[(SERVICE, INDEX_USERNAME)]) == ["binance", "okx"]
    blob = json.loads(ring.items[(SERVICE, "binance")])
    assert blob["api_key"] == "AKIAEXAMPLEKEY42" and blob["read_only"] is True
    got = store.get("okx")
    assert got.passphrase.reveal() == "pp" and got.secret.reveal() == "secret-OKXKEY1234567890"
    assert [tuple(e) for e in store.list()] == [
        ("binance", "keyring", "AKIA…42", True),
        ("okx", "keyring", "OKXK…90", False),
    ]
    assert store.delete("binance") is True
    assert store.delete("binance") is False
    assert store.get("binance") is None
    assert json.loads(ring.items[(SERVICE, INDEX_USERNAME)]) == ["okx"]


def test_keyring_errors_become_messages():
    class Broken(MemoryKeyring):
        def set_password(self, *a):
            raise RuntimeError("collection is locked")

    store = CredentialStore([KeyringBackend(Broken())])
    with pytest.raises(CredentialError, match="could not store binance: RuntimeError: collection is locked"):
        store.set("binance", _creds())


def test_venue_names_are_validated():
    store = CredentialStore([KeyringBackend(MemoryKeyring())])
    for bad in ("", "../x", "a b", INDEX_USERNAME, "x" * 65):
        with pytest.raises(CredentialError, match="invalid venue name"):
            store.set(bad, _creds())


def test_needs_passphrase():
    assert cr.needs_passphrase("coinbaseexchange") and cr.needs_passphrase("kucoin") and cr.needs_passphrase("OKX")
    assert not cr.needs_passphrase("binance") and not cr.needs_passphrase("kraken")


# ---- a real Secret Service (tests/run_keyring_tests.sh) ---------------------------------


def _secret_service_reachable() -> bool:
    try:
        import keyring

        backend = keyring.get_keyring()
        chosen, _ = classify_keyring(backend)
        return chosen is not None and type(chosen).__module__ == "keyring.backends.SecretService"
    except Exception:
        return False


secret_service = pytest.mark.skipif(
    not os.environ.get("AITBC_REQUIRE_SECRET_SERVICE") and not _secret_service_reachable(), reason="no Secret Service reachable (run tests/run_keyring_tests.sh)"
)


@pytest.mark.secret_service
@secret_service
def test_secret_service_is_accepted_and_roundtrips():
    store = CredentialStore.open("keyring")
    assert store.backend_name == "keyring" and "SecretService" in store.description
    venue = "aitbc-test-venue"
    try:
        store.set(venue, _creds("SSKEY-0123456789", passphrase="ss-pass", read_only=True))
        # a fresh store (new process in real life) reads it back through the index
        again = CredentialStore.open("auto")
        got = again.get(venue)
        assert got.api_key.reveal() == "SSKEY-0123456789" and got.passphrase.reveal() == "ss-pass"
        assert ("aitbc-test-venue", "keyring", "SSKE…89", True) in [tuple(e) for e in again.list()]
        import keyring

        assert json.loads(keyring.get_password(SERVICE, venue))["secret"] == "secret-SSKEY-0123456789"
    finally:
        assert store.delete(venue) is True
    assert CredentialStore.open("keyring").get(venue) is None


@pytest.mark.secret_service
@secret_service
def test_secret_service_auto_still_reads_an_existing_vault(tmp_path):
    path = tmp_path / "vault" / "credentials.vault"
    CredentialStore.open("vault", lambda new: "pw", vault_path=path, insecure_test_scrypt_n=2**10).set(
        "kraken", _creds("KRAKENKEY0000001")
    )
    store = CredentialStore.open("auto", lambda new: "pw", vault_path=path, insecure_test_scrypt_n=2**10)
    assert store.backend_name == "keyring"
    assert store.get("kraken").api_key.reveal() == "KRAKENKEY0000001"
    assert ("kraken", "vault", "KRAK…01", False) in [tuple(e) for e in store.list()]
