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
    Credentials,
    CredentialStore,
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

    store = CredentialStore.open(
        "auto", lambda new: "pw", vault_path=tmp_path / "v" / "c.vault", keyring_backend=fail.Keyring()
    )
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
    not os.environ.get("AITBC_REQUIRE_SECRET_SERVICE") and not _secret_service_reachable(),
    reason="no Secret Service reachable (run tests/run_keyring_tests.sh)",
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


# ---- `keys` command -------------------------------------------------------------------


@pytest.fixture
def keys_env(tmp_path, monkeypatch):
    """The command on a vault in a temp data dir (fast KDF), the keyring refused."""
    from keyring.backends import fail

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    monkeypatch.setenv("AITBC_DATA_DIR", str(data))
    monkeypatch.setenv("AITBC_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv(cr.PASSPHRASE_ENV, "vault-pass")
    real_open = CredentialStore.open.__func__

    def open_fast(cls, prefer="auto", passphrase_provider=None, **kw):
        kw.setdefault("keyring_backend", fail.Keyring())
        kw.setdefault("insecure_test_scrypt_n", 2**10)
        return real_open(cls, prefer, passphrase_provider, **kw)

    monkeypatch.setattr(CredentialStore, "open", classmethod(open_fast))
    return data


def _run_keys(argv, capsys, answers=(), monkeypatch=None):
    import argparse

    from aitbc_tui.commands import keys as cmd

    prompts = []
    if monkeypatch is not None:
        queue = list(answers)

        def fake_getpass(prompt=""):
            prompts.append(prompt)
            return queue.pop(0)

        monkeypatch.setattr(cmd.getpass, "getpass", fake_getpass)
    parser = argparse.ArgumentParser(prog="aitbc-tui")
    parser.add_argument("--config")
    cmd.register(parser.add_subparsers(dest="command"))
    try:
        args = parser.parse_args(argv)
        code = args.func(args)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err, prompts


def test_keys_set_list_delete(keys_env, capsys, monkeypatch):
    code, out, err, prompts = _run_keys(
        ["keys", "set", "binance", "--read-only"], capsys, ["BINANCEKEY123456 ", "binance-secret-value"], monkeypatch
    )
    assert code == 0, err
    assert "stored read-only key BINA…56 for binance in encrypted vault" in out
    assert len(prompts) == 2 and "passphrase" not in " ".join(prompts)
    assert "binance-secret-value" not in out + err
    code, out, err, prompts = _run_keys(
        ["keys", "set", "okx"], capsys, ["OKXAPIKEY0000001", "okx-secret", "okx-pass"], monkeypatch
    )
    assert code == 0 and "passphrase" in prompts[2]
    code, out, _, _ = _run_keys(["keys", "list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["VENUE", "STORE", "KEY", "ACCESS"]
    assert lines[1].split() == ["binance", "vault", "BINA…56", "read-only"]
    assert lines[2].split() == ["okx", "vault", "OKXA…01", "trading"]
    assert "okx-secret" not in out
    got = CredentialStore.open("vault").get("okx")
    assert got.passphrase.reveal() == "okx-pass"
    code, out, _, _ = _run_keys(["keys", "delete", "binance"], capsys)
    assert code == 0 and "deleted" in out
    code, _, err, _ = _run_keys(["keys", "delete", "binance"], capsys)
    assert code == 1 and "no key stored for binance" in err


def test_keys_set_uses_exchange_for_passphrase(keys_env, capsys, monkeypatch):
    code, _, _, prompts = _run_keys(
        ["keys", "set", "cb-main", "--exchange", "coinbaseexchange"],
        capsys,
        ["CBKEY00000000001", "s", "p"],
        monkeypatch,
    )
    assert code == 0 and len(prompts) == 3


def test_keys_bad_input_exit_2(keys_env, capsys, monkeypatch):
    code, _, err, _ = _run_keys(["keys", "set", "../etc"], capsys)
    assert code == 2 and "invalid venue name" in err
    code, _, err, _ = _run_keys(["keys", "set", "binance"], capsys, ["", ""], monkeypatch)
    assert code == 2 and "API key must not be empty" in err
    code, _, err, _ = _run_keys(["keys", "set", "kucoin"], capsys, ["KUCOINKEY0000001", "s", ""], monkeypatch)
    assert code == 2 and "need their passphrase" in err
    code, _, err, _ = _run_keys(["keys", "frobnicate"], capsys)
    assert code == 2
    code, _, err, _ = _run_keys(["keys", "list", "--store", "plaintext"], capsys)
    assert code == 2 and "invalid choice" in err
    code, _, err, _ = _run_keys(["keys", "list", "--store", "keyring"], capsys)
    assert code == 1 and "refusing the OS keyring" in err


def test_keys_wrong_vault_passphrase_is_a_message(keys_env, capsys, monkeypatch):
    _run_keys(["keys", "set", "binance"], capsys, ["BINANCEKEY123456", "s"], monkeypatch)
    monkeypatch.setenv(cr.PASSPHRASE_ENV, "not-it")
    code, out, err, _ = _run_keys(["keys", "list"], capsys)
    assert code == 1 and "wrong passphrase" in err and "Traceback" not in err


def test_keys_test_without_factory(keys_env, capsys, monkeypatch):
    from aitbc_tui.commands import keys as cmd

    monkeypatch.setattr(cmd, "_load_probe", lambda: None)
    code, _, err, _ = _run_keys(["keys", "test", "binance"], capsys)
    assert code == 2 and "keys test needs a configured exchange venue" in err


def test_keys_test_calls_probe(keys_env, capsys, monkeypatch):
    from aitbc_tui.commands import keys as cmd

    _run_keys(["keys", "set", "binance"], capsys, ["BINANCEKEY123456", "s"], monkeypatch)
    seen = {}

    async def probe(venue_name, credentials, config=None):
        seen.update(venue=venue_name, key=credentials.api_key.reveal(), config=config)
        return 42.4

    monkeypatch.setattr(cmd, "_load_probe", lambda: probe)
    cfg = keys_env.parent / "venues.toml"
    cfg.write_text("")
    code, out, err, _ = _run_keys(["--config", str(cfg), "keys", "test", "binance"], capsys)
    assert code == 0, err
    assert "binance: key BINA…56 works (42 ms)" in out
    assert seen["venue"] == "binance" and seen["key"] == "BINANCEKEY123456"
    assert str(seen["config"].path) == str(cfg)  # the loaded config, from --config
    code, _, err, _ = _run_keys(["keys", "test", "binance", "--config", str(cfg) + ".missing"], capsys)
    assert code == 2 and "file not found" in err

    def failing(venue_name, credentials):
        raise RuntimeError("invalid API-key, IP, or permissions for action")

    monkeypatch.setattr(cmd, "_load_probe", lambda: failing)
    code, _, err, _ = _run_keys(["keys", "test", "binance"], capsys)
    assert code == 1 and "authenticated call failed: invalid API-key" in err
    code, _, err, _ = _run_keys(["keys", "test", "kraken"], capsys)
    assert code == 2 and "no key stored for kraken" in err


@pytest.mark.secret_service
@secret_service
def test_secret_service_keys_command(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AITBC_CONFIG_DIR", str(tmp_path / "config"))
    code, out, err, _ = _run_keys(
        ["keys", "set", "aitbc-cmd-test", "--store", "keyring"], capsys, ["CMDKEY0000000042", "cmd-secret"], monkeypatch
    )
    assert code == 0, err
    assert "in OS keyring (keyring.backends.SecretService.Keyring)" in out
    try:
        code, out, _, _ = _run_keys(["keys", "list", "--store", "keyring"], capsys)
        assert ["aitbc-cmd-test", "keyring", "CMDK…42", "trading"] in [line.split() for line in out.splitlines()]
    finally:
        code, _, _, _ = _run_keys(["keys", "delete", "aitbc-cmd-test", "--store", "keyring"], capsys)
    assert code == 0


def test_commands_do_not_import_textual_or_ccxt():
    import subprocess
    import sys

    code = (
        "import sys, aitbc_tui.commands.keys, aitbc_tui.commands.journal, aitbc_tui.credentials, "
        "aitbc_tui.journal, aitbc_tui.secret; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'ccxt', 'keyring', 'cryptography')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
