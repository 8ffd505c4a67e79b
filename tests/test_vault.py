"""The encrypted vault: permissions, KDF parameters, wrong passphrase, tampering,
atomic replace. A reduced scrypt n is used only through insecure_test_scrypt_n."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from aitbc_tui import credentials as cr
from aitbc_tui.credentials import Credentials, CredentialStore, VaultBackend, VaultError
from aitbc_tui.secret import Secret

FAST_N = 2**10


def _creds(key: str = "VAULTKEY12345678"):
    return Credentials(Secret(key), Secret("vault-secret-" + key), None, read_only=False)


@pytest.fixture
def vault_path(tmp_path):
    parent = tmp_path / "data"
    parent.mkdir(mode=0o700)
    return parent / "vault" / "credentials.vault"


def _store(path, passphrase="correct horse", **kw):
    return CredentialStore.open("vault", lambda new: passphrase, vault_path=path, insecure_test_scrypt_n=FAST_N, **kw)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_roundtrip_and_permissions(vault_path):
    store = _store(vault_path)
    assert store.backend_name == "vault"
    store.set("binance", _creds())
    assert _mode(vault_path) == 0o600
    assert _mode(vault_path.parent) == 0o700
    got = _store(vault_path).get("binance")
    assert got.api_key.reveal() == "VAULTKEY12345678" and got.secret.reveal() == "vault-secret-VAULTKEY12345678"
    assert [tuple(e) for e in _store(vault_path).list()] == [("binance", "vault", "VAUL…78", False)]
    assert _store(vault_path).delete("binance") is True
    assert _store(vault_path).get("binance") is None


def test_file_holds_no_plaintext(vault_path):
    _store(vault_path, passphrase="pw-xyz").set("binance", _creds())
    raw = vault_path.read_bytes()
    for leaked in (b"VAULTKEY", b"vault-secret", b"pw-xyz", b"binance"):
        assert leaked not in raw
    doc = json.loads(raw)
    assert doc["format"] == "aitbc-tui-vault" and doc["kdf"]["name"] == "scrypt"
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 16


def test_default_kdf_is_scrypt_2_17_8_1_stored_and_used(vault_path, monkeypatch):
    used = []
    real = cr.derive_key

    def spy(passphrase, salt, n, r, p):
        used.append((n, r, p, salt))
        return real(passphrase, salt, n, r, p)

    monkeypatch.setattr(cr, "derive_key", spy)
    # No insecure_test_scrypt_n: the production default.
    store = CredentialStore.open("vault", lambda new: "pw", vault_path=vault_path)
    store.set("binance", _creds())
    kdf = json.loads(vault_path.read_text())["kdf"]
    assert (kdf["n"], kdf["r"], kdf["p"]) == (2**17, 8, 1) == (cr.SCRYPT_N, cr.SCRYPT_R, cr.SCRYPT_P)
    assert used[0][:3] == (2**17, 8, 1)
    assert base64.b64decode(kdf["salt"]) == used[0][3]
    # and a fresh process (new backend) derives again with the stored parameters
    used.clear()
    assert CredentialStore.open("vault", lambda new: "pw", vault_path=vault_path).get("binance") is not None
    assert [u[:3] for u in used] == [(2**17, 8, 1)]


def test_default_vault_refuses_weakened_kdf(vault_path):
    _store(vault_path).set("binance", _creds())  # written with the test-only n=2**10
    with pytest.raises(VaultError, match="unacceptable KDF parameters"):
        CredentialStore.open("vault", lambda new: "correct horse", vault_path=vault_path).get("binance")


def test_salt_is_random_per_vault(tmp_path):
    salts = set()
    for i in range(3):
        d = tmp_path / f"d{i}"
        d.mkdir(mode=0o700)
        _store(d / "vault" / "c.vault").set("x", _creds())
        salts.add(json.loads((d / "vault" / "c.vault").read_text())["kdf"]["salt"])
    assert len(salts) == 3


def test_wrong_passphrase_is_a_clear_error(vault_path):
    _store(vault_path).set("binance", _creds())
    with pytest.raises(VaultError) as info:
        _store(vault_path, passphrase="wrong").get("binance")
    assert "wrong passphrase, or the file was modified" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_tampered_token_is_a_clear_error(vault_path):
    _store(vault_path).set("binance", _creds())
    doc = json.loads(vault_path.read_text())
    token = bytearray(base64.urlsafe_b64decode(doc["token"]))
    token[40] ^= 1
    doc["token"] = base64.urlsafe_b64encode(bytes(token)).decode()
    vault_path.write_text(json.dumps(doc))
    with pytest.raises(VaultError, match="wrong passphrase, or the file was modified"):
        _store(vault_path).get("binance")


def test_tampered_salt_is_a_clear_error(vault_path):
    _store(vault_path).set("binance", _creds())
    doc = json.loads(vault_path.read_text())
    doc["kdf"]["salt"] = base64.b64encode(b"\0" * 16).decode()
    vault_path.write_text(json.dumps(doc))
    with pytest.raises(VaultError, match="wrong passphrase, or the file was modified"):
        _store(vault_path).get("binance")


@pytest.mark.parametrize(
    "content", [b"", b"not json", b'{"format": "other"}', b'{"format": "aitbc-tui-vault", "version": 1}']
)
def test_corrupt_file_is_a_clear_error(vault_path, content):
    vault_path.parent.mkdir(mode=0o700)
    fd = os.open(vault_path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(VaultError, match="corrupt or not a vault"):
        _store(vault_path).get("binance")


def test_refuses_group_readable_file_with_reason(vault_path):
    _store(vault_path).set("binance", _creds())
    os.chmod(vault_path, 0o640)
    with pytest.raises(VaultError) as info:
        _store(vault_path).get("binance")
    msg = str(info.value)
    assert "group or others have access (mode 0640)" in msg and "chmod 600" in msg and str(vault_path) in msg


def test_refuses_world_readable_directory_with_reason(vault_path):
    _store(vault_path).set("binance", _creds())
    os.chmod(vault_path.parent, 0o755)
    with pytest.raises(
        VaultError, match=r"vault directory .* group or others have access \(mode 0755\); run: chmod 700"
    ):
        _store(vault_path).list()
    with pytest.raises(VaultError, match="mode 0755"):
        _store(vault_path).set("kraken", _creds())


def test_refuses_parent_writable_by_others(vault_path):
    _store(vault_path).set("binance", _creds())
    os.chmod(vault_path.parent.parent, 0o777)
    try:
        with pytest.raises(VaultError, match="parent directory .* writable by group or others"):
            _store(vault_path).get("binance")
    finally:
        os.chmod(vault_path.parent.parent, 0o700)


def test_refuses_file_owned_by_another_user_simulated(vault_path, monkeypatch):
    _store(vault_path).set("binance", _creds())
    real_uid = os.getuid()
    monkeypatch.setattr(cr.os, "getuid", lambda: real_uid + 4242)
    with pytest.raises(VaultError, match=r"owned by uid \d+, not by you"):
        _store(vault_path).get("binance")


@pytest.mark.skipif(os.getuid() != 0, reason="chown to another user needs root")
def test_refuses_file_owned_by_another_user_real(vault_path):
    _store(vault_path).set("binance", _creds())
    os.chown(vault_path, 65534, 65534)  # nobody
    with pytest.raises(VaultError, match=r"refusing vault file .* owned by uid 65534, not by you"):
        _store(vault_path).get("binance")


def test_atomic_replace_keeps_old_file_on_failure(vault_path, monkeypatch):
    _store(vault_path).set("binance", _creds())
    before = vault_path.read_bytes()
    inode = os.stat(vault_path).st_ino

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cr.os, "replace", boom)
    with pytest.raises(VaultError, match="cannot write vault .*No space left on device"):
        _store(vault_path).set("kraken", _creds("KRAKENKEY1234567"))
    assert vault_path.read_bytes() == before
    assert os.stat(vault_path).st_ino == inode
    assert sorted(p.name for p in vault_path.parent.iterdir()) == [".credentials.vault.lock", "credentials.vault"]


def test_replace_is_a_new_inode_written_with_fsync(vault_path, monkeypatch):
    _store(vault_path).set("binance", _creds())
    inode = os.stat(vault_path).st_ino
    synced, replaced = [], []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(cr.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    monkeypatch.setattr(cr.os, "replace", lambda a, b: (replaced.append((str(a), str(b))), real_replace(a, b)))
    _store(vault_path).set("kraken", _creds("KRAKENKEY1234567"))
    assert len(replaced) == 1
    tmp, dst = replaced[0]
    assert os.path.dirname(tmp) == str(vault_path.parent) and dst == str(vault_path)
    assert len(synced) >= 2  # the file, then the directory
    assert os.stat(vault_path).st_ino != inode and _mode(vault_path) == 0o600
    assert {e.venue for e in _store(vault_path).list()} == {"binance", "kraken"}


def test_empty_passphrase_refused(vault_path):
    with pytest.raises(VaultError, match="must not be empty"):
        _store(vault_path, passphrase="").set("binance", _creds())
    assert not vault_path.exists()


def test_passphrase_from_env(vault_path, monkeypatch):
    monkeypatch.setenv(cr.PASSPHRASE_ENV, "from-env")
    store = CredentialStore.open("vault", vault_path=vault_path, insecure_test_scrypt_n=FAST_N)
    store.set("binance", _creds())
    assert _store(vault_path, passphrase="from-env").get("binance") is not None


def test_no_passphrase_without_tty_or_env(vault_path, monkeypatch):
    monkeypatch.delenv(cr.PASSPHRASE_ENV, raising=False)
    monkeypatch.setattr(cr.sys, "stdin", open(os.devnull))
    store = CredentialStore.open("vault", vault_path=vault_path, insecure_test_scrypt_n=FAST_N)
    with pytest.raises(VaultError, match="AITBC_VAULT_PASSPHRASE"):
        store.set("binance", _creds())


def test_new_vault_asks_with_new_true_then_unlock_false(vault_path):
    calls = []

    def provider(new):
        calls.append(new)
        return "pw"

    CredentialStore.open("vault", provider, vault_path=vault_path, insecure_test_scrypt_n=FAST_N).set("a", _creds())
    CredentialStore.open("vault", provider, vault_path=vault_path, insecure_test_scrypt_n=FAST_N).get("a")
    assert calls == [True, False]


def test_default_path_is_in_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AITBC_DATA_DIR", str(tmp_path / "d"))
    assert VaultBackend().path == tmp_path / "d" / "vault" / "credentials.vault"
