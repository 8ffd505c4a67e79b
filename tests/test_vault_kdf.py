"""A vault header's key-derivation parameters are accepted only if they are exactly what
aitbc-tui writes (scrypt n=2^17, r=8, p=1, 32-byte key, 16-byte salt): anything else is
one line, at once, without running the KDF (a tampered n=2^20, r=32, p=16 cost 4 GB of
RAM and minutes before "wrong passphrase")."""

from __future__ import annotations

import base64
import json
import time

import pytest

from aitbc_tui import credentials as cr
from aitbc_tui.credentials import Credentials, CredentialStore, VaultError
from aitbc_tui.secret import Secret

FAST_N = 2**10


@pytest.fixture
def vault_path(tmp_path):
    parent = tmp_path / "data"
    parent.mkdir(mode=0o700)
    path = parent / "vault" / "credentials.vault"
    CredentialStore.open("vault", lambda new: "pw", vault_path=path, insecure_test_scrypt_n=FAST_N).set(
        "binance", Credentials(Secret("KEY1234567890"), Secret("SECRET1234567890"), None, read_only=False)
    )
    return path


def tamper(path, **changes):
    doc = json.loads(path.read_text())
    doc["kdf"].update(changes)
    path.write_text(json.dumps(doc))


@pytest.fixture
def no_kdf(monkeypatch):
    calls = []
    monkeypatch.setattr(cr, "derive_key", lambda *a: calls.append(a) or pytest.fail("the KDF ran"))
    return calls


@pytest.mark.parametrize(
    "changes",
    [
        {"n": 2**20, "r": 32, "p": 16},  # the 4 GB / 148 s header
        {"n": 2**18},
        {"n": 2**16},
        {"r": 9},
        {"p": 2},
        {"n": "131072"},
        {"n": 131072.0},
        {"r": True},
        {"length": 64},
        {"length": None},
        {"name": "argon2id"},
        {"salt": base64.b64encode(b"s" * 32).decode()},
        {"salt": base64.b64encode(b"s" * 8).decode()},
    ],
    ids=lambda c: ",".join(f"{k}={v!r}"[:20] for k, v in c.items()),
)
def test_tampered_parameters_fail_fast_without_running_the_kdf(vault_path, no_kdf, changes):
    tamper(vault_path, **{"n": cr.SCRYPT_N, **changes})
    started = time.perf_counter()
    with pytest.raises(VaultError) as info:
        CredentialStore.open("vault", lambda new: "pw", vault_path=vault_path).get("binance")
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    message = str(info.value)
    assert message.startswith(f"vault file {vault_path}: unsupported key-derivation parameters")
    assert message.endswith("; it was not written by aitbc-tui") and "\n" not in message
    assert no_kdf == []


def test_a_hostile_value_is_shown_short_and_printable(vault_path, no_kdf):
    tamper(vault_path, n="\x1b[2J" + "9" * 500)
    with pytest.raises(VaultError) as info:
        CredentialStore.open("vault", lambda new: "pw", vault_path=vault_path).get("binance")
    assert "\x1b" not in str(info.value) and len(str(info.value)) < 400


def test_the_parameters_we_write_pass_the_check(vault_path, monkeypatch):
    # A store with the reduced test n opens its own vault; the KDF runs once with exactly those.
    used = []
    real = cr.derive_key
    monkeypatch.setattr(
        cr, "derive_key", lambda pw, salt, n, r, p: used.append((n, r, p, len(salt))) or real(pw, salt, n, r, p)
    )
    store = CredentialStore.open("vault", lambda new: "pw", vault_path=vault_path, insecure_test_scrypt_n=FAST_N)
    assert store.get("binance").api_key.reveal() == "KEY1234567890"
    assert used == [(FAST_N, 8, 1, 16)]


def test_the_production_store_refuses_the_test_n(vault_path, no_kdf):
    with pytest.raises(VaultError, match="unsupported key-derivation parameters"):
        CredentialStore.open("vault", lambda new: "pw", vault_path=vault_path).get("binance")
