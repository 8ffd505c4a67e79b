"""`keys set|list|test|delete` end to end: the real command line (``aitbc_tui.cli.main``, and
``python -m aitbc_tui`` in its own process with the key and secret on stdin) against the
binance, kraken and coinbase exchange emulators on 127.0.0.1, through the encrypted vault
and, marked ``secret_service``, through a real Secret Service (tests/run_keyring_tests.sh).

Also the canary (tests/test_canary.py, which uses the vault) with the canary stored in the
Secret Service by ``keys set --store keyring``: a live dashboard session on those credentials,
then everything that could print them is made to; the canary must appear nowhere.

In-process runs feed getpass through monkeypatch and use a cheap vault KDF (the KDF is
tested in test_vault.py); the subprocess runs use the real KDF and real stdin.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aitbc_tui import cli, paths
from aitbc_tui.credentials import SERVICE, Credentials, CredentialStore, classify_keyring
from aitbc_tui.emulator import RunningEmulator, start_emulator
from tests.emulator_helpers import emulator_factory  # noqa: F401 - fixture
from tests.test_canary import (  # the canary's own helpers, so both variants fail the same way
    CANARY_KEY,
    CANARY_SECRET,
    assert_no_canary,
    debug_log,  # noqa: F401 - fixture
    failing_live_session,
)
from tests.test_credentials import secret_service

REPO = Path(__file__).resolve().parent.parent
EXCHANGES = ("binance", "kraken", "coinbase")
# What each emulator answers a request signed with the wrong secret (as the real exchange does).
AUTH_ERRORS = {
    "binance": "Signature for this request is not valid. (code -1022)",
    "kraken": "EAPI:Invalid key",
    "coinbase": "invalid signature",
}
WORKS = re.compile(r"^(?P<venue>\S+): key (?P<masked>\S+) works \((?P<ms>\d+) ms\)$")


class EmulatorThread:
    """Emulators on their own event loop in a thread (like a separate `aitbc-tui emulate`),
    so the command can run its own asyncio.run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="key-emulators", daemon=True)
        self.thread.start()
        self.running: list[RunningEmulator] = []

    def start(self, venue: str) -> RunningEmulator:
        future = asyncio.run_coroutine_threadsafe(start_emulator(venue, seed=11, simulate=False), self.loop)
        emu = future.result(15)
        self.running.append(emu)
        return emu

    def stop(self) -> None:
        for emu in self.running:
            asyncio.run_coroutine_threadsafe(emu.stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)
        self.loop.close()


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, RunningEmulator]]:
    served = EmulatorThread()
    try:
        yield {name: served.start(name) for name in EXCHANGES}
    finally:
        served.stop()


def venue_name(exchange: str, store: str) -> str:
    # Distinct from anything an operator would call a venue: the Secret Service variant may
    # run against a real desktop keyring (the entries are deleted again).
    return f"aitbc-e2e-{store}-{exchange}"


def write_practice_config(tmp_path: Path, emulators: dict[str, RunningEmulator], store: str) -> Path:
    """The README's practice config: live venues whose URLs point at the emulators."""
    blocks = []
    for exchange, emu in emulators.items():
        ws = f'ws_url = "{emu.ws_url.rsplit("/", 1)[0]}"\n' if emu.ws_url else ""
        blocks.append(
            f'[venues.{venue_name(exchange, store)}]\nexchange = "{emu.ccxt_id}"\nmode = "live"\n'
            f'symbols = ["BTC/USDT"]\napi_url = "{emu.url}"\n{ws}'
        )
    path = tmp_path / "practice.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


@pytest.fixture
def fast_vault(monkeypatch):
    """The vault with a cheap KDF (new vaults only; the real one is tested in test_vault.py)
    and its passphrase in the environment, as a script would give it."""
    real_open = CredentialStore.open.__func__

    def open_fast(cls, prefer="auto", passphrase_provider=None, **kw):
        kw.setdefault("insecure_test_scrypt_n", 2**10)
        return real_open(cls, prefer, passphrase_provider, **kw)

    monkeypatch.setattr(CredentialStore, "open", classmethod(open_fast))
    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "e2e-vault-passphrase")


def run_cli(argv: list[str], capsys, monkeypatch, answers: tuple[str, ...] = ()) -> tuple[int, str, str, list[str]]:
    """``aitbc_tui.cli.main(argv)`` with getpass answering ``answers`` in order."""
    import getpass

    queue, prompts = list(answers), []

    def fake_getpass(prompt: str = "", stream=None) -> str:
        prompts.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    capsys.readouterr()
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert not queue, f"unused answers: {len(queue)} (prompts: {prompts})"
    return code, out, err, prompts


def masked(api_key: str) -> str:
    return Credentials(api_key=api_key, secret="x").masked_key()


def assert_no_secret(text: str, *values: str) -> None:
    for value in values:
        assert value not in text, "a key or secret was printed"
    assert "Traceback" not in text


def keys_flow(store: str, exchange: str, emu: RunningEmulator, config: Path, capsys, monkeypatch) -> dict:
    """set, list, test (works), set a wrong secret, test (fails readably), delete. Runs the
    last steps in ``finally`` so a Secret Service is left clean. Returns what was seen."""
    venue = venue_name(exchange, store)
    wrong = "WRONG" + emu.secret[5:]
    store_args = ["--store", store]
    seen: dict = {}

    code, out, err, prompts = run_cli(
        ["keys", "set", venue, "--exchange", emu.ccxt_id, *store_args], capsys, monkeypatch, (emu.api_key, emu.secret)
    )
    assert code == 0, err
    assert len(prompts) == 2 and "API key" in prompts[0] and "API secret" in prompts[1]
    where = "encrypted vault (" if store == "vault" else "OS keyring (keyring.backends.SecretService.Keyring)"
    assert out.strip().startswith(f"stored trading key {masked(emu.api_key)} for {venue} in {where}"), out
    assert_no_secret(out + err, emu.api_key, emu.secret)
    try:
        code, out, err, _ = run_cli(["keys", "list", *store_args], capsys, monkeypatch)
        assert code == 0, err
        assert [venue, store, masked(emu.api_key), "trading"] in [line.split() for line in out.splitlines()], out
        assert_no_secret(out + err, emu.api_key, emu.secret)
        seen["stored"] = stored_blob(store, venue)

        # The global --config before the command, as in the README.
        code, out, err, _ = run_cli(["--config", str(config), "keys", "test", venue, *store_args], capsys, monkeypatch)
        assert code == 0, err
        match = WORKS.match(out.strip())
        assert match, out
        assert (match["venue"], match["masked"]) == (venue, masked(emu.api_key))
        seen["latency_ms"] = int(match["ms"])
        assert_no_secret(out + err, emu.api_key, emu.secret)

        code, out, err, _ = run_cli(
            ["keys", "set", venue, "--exchange", emu.ccxt_id, *store_args], capsys, monkeypatch, (emu.api_key, wrong)
        )
        assert code == 0 and out.startswith(f"replaced trading key {masked(emu.api_key)} for {venue}"), out + err
        code, out, err, _ = run_cli(["keys", "test", venue, "--config", str(config), *store_args], capsys, monkeypatch)
        assert code == 1 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err  # one readable line, no traceback
        assert lines[0].startswith(f"aitbc-tui keys: error: {venue}: authenticated call failed: "), err
        assert lines[0].count(venue) == 1, err  # the venue is named once
        assert AUTH_ERRORS[exchange] in err and "authentication failed: check the API key, secret" in err
        assert_no_secret(err, emu.api_key, emu.secret, wrong)
        seen["auth_error"] = lines[0]
    finally:
        code, out, err, _ = run_cli(["keys", "delete", venue, *store_args], capsys, monkeypatch)
    assert code == 0 and out.strip() == f"deleted the key for {venue}", err
    code, out, err, _ = run_cli(["keys", "list", *store_args], capsys, monkeypatch)
    assert code == 0 and venue not in out
    code, out, err, _ = run_cli(["--config", str(config), "keys", "test", venue, *store_args], capsys, monkeypatch)
    assert code == 2 and f"no key stored for {venue}" in err
    return seen


def stored_blob(store: str, venue: str) -> dict:
    """The entry as the store holds it, read past the CLI."""
    if store == "keyring":
        import keyring

        backend = keyring.get_keyring()  # what any keyring client sees, a chainer here
        raw = backend.get_password(SERVICE, venue)
        assert raw is not None, f"{venue} is not in {type(backend).__module__}"
        secure, _ = classify_keyring(backend)
        return {"backend": type(secure).__module__, **json.loads(raw)}
    creds = CredentialStore.open("vault").get(venue)
    assert creds is not None
    return {"backend": "vault", **creds._to_blob()}


def vault_dir() -> Path:
    return paths.data_dir() / "vault"


# ---- through the vault --------------------------------------------------------------------


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_keys_set_list_test_delete_through_the_vault(exchange, emulators, tmp_path, capsys, monkeypatch, fast_vault):
    emu = emulators[exchange]
    config = write_practice_config(tmp_path, emulators, "vault")
    seen = keys_flow("vault", exchange, emu, config, capsys, monkeypatch)
    assert seen["stored"]["api_key"] == emu.api_key and seen["stored"]["secret"] == emu.secret
    vault_file = vault_dir() / "credentials.vault"
    assert vault_file.is_file() and (vault_file.stat().st_mode & 0o077) == 0
    data = vault_file.read_bytes()
    assert emu.secret.encode() not in data and emu.api_key.encode() not in data


def test_keys_test_reports_the_round_trip_not_the_rate_limiter(emulators, tmp_path, capsys, monkeypatch, fast_vault):
    emu = emulators["kraken"]
    venue = venue_name("kraken", "vault")
    config = write_practice_config(tmp_path, emulators, "vault")
    code, _, err, _ = run_cli(
        ["keys", "set", venue, "--exchange", "kraken"], capsys, monkeypatch, (emu.api_key, emu.secret)
    )
    assert code == 0, err
    code, out, err, _ = run_cli(["--config", str(config), "keys", "test", venue], capsys, monkeypatch)
    assert code == 0, err
    # One authenticated request to 127.0.0.1 takes a few ms; kraken's rate limiter waits 1 s.
    assert int(WORKS.match(out.strip())["ms"]) < 500, out


# ---- through a real Secret Service ---------------------------------------------------------


@pytest.mark.secret_service
@secret_service
@pytest.mark.parametrize("exchange", EXCHANGES)
def test_keys_set_list_test_delete_through_the_secret_service(exchange, emulators, tmp_path, capsys, monkeypatch):
    emu = emulators[exchange]
    config = write_practice_config(tmp_path, emulators, "keyring")
    seen = keys_flow("keyring", exchange, emu, config, capsys, monkeypatch)
    stored = seen["stored"]
    assert stored["backend"] == "keyring.backends.SecretService"
    assert (stored["api_key"], stored["secret"], stored["passphrase"], stored["read_only"]) == (
        emu.api_key,
        emu.secret,
        None,
        False,
    )
    import keyring

    venue = venue_name(exchange, "keyring")
    assert keyring.get_keyring().get_password(SERVICE, venue) is None  # deleted from the Secret Service
    assert venue not in json.loads(keyring.get_keyring().get_password(SERVICE, "__aitbc_index__") or "[]")
    assert not vault_dir().exists(), "the keyring store wrote a vault"


# ---- the installed entry point in its own process, secrets on stdin -----------------------


def run_module(args: list[str], stdin: str = "", timeout: float = 90) -> subprocess.CompletedProcess:
    """``python -m aitbc_tui`` in a new session: no controlling terminal, so getpass reads
    the piped stdin (with a terminal it would prompt on /dev/tty instead)."""
    return subprocess.run(
        [sys.executable, "-m", "aitbc_tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    "store",
    ["vault", pytest.param("keyring", marks=[pytest.mark.secret_service, secret_service])],
)
def test_keys_through_python_m_with_stdin(store, emulators, tmp_path, monkeypatch):
    """The unpatched command: real getpass fallback, real vault KDF, real environment."""
    if store == "vault":
        monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "e2e-subprocess-passphrase")
    emu = emulators["kraken"]  # base64 key and secret
    venue = venue_name("kraken", store)
    config = write_practice_config(tmp_path, emulators, store)
    result = run_module(
        ["keys", "set", venue, "--exchange", "kraken", "--store", store], f"{emu.api_key}\n{emu.secret}\n"
    )
    assert result.returncode == 0, result.stderr
    assert f"stored trading key {masked(emu.api_key)} for {venue}" in result.stdout
    assert_no_secret(result.stdout + result.stderr, emu.api_key, emu.secret)
    try:
        result = run_module(["--config", str(config), "keys", "test", venue, "--store", store])
        assert result.returncode == 0, result.stderr
        assert WORKS.match(result.stdout.strip()), result.stdout
        assert_no_secret(result.stdout + result.stderr, emu.api_key, emu.secret)
        result = run_module(["keys", "list", "--store", store])
        assert [venue, store, masked(emu.api_key), "trading"] in [line.split() for line in result.stdout.splitlines()]
    finally:
        deleted = run_module(["keys", "delete", venue, "--store", store])
    assert deleted.returncode == 0, deleted.stderr
    assert vault_dir().exists() == (store == "vault")


# ---- the canary through the Secret Service --------------------------------------------------

CANARY_VENUE = "aitbccanary"


@pytest.mark.secret_service
@secret_service
async def test_canary_never_leaves_the_secret_service(emulator_factory, tmp_path, monkeypatch, capfd, debug_log):  # noqa: F811
    """tests/test_canary.py with the canary in the Secret Service instead of the vault,
    stored by ``keys set --store keyring``."""
    import getpass

    import keyring

    emu = await emulator_factory("binance", api_key=CANARY_KEY, secret=CANARY_SECRET, simulate=False, seed=9)
    answers = [CANARY_KEY, CANARY_SECRET]
    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: answers.pop(0))
    assert cli.main(["keys", "set", CANARY_VENUE, "--exchange", "binance", "--store", "keyring"]) == 0
    assert answers == []
    try:
        assert json.loads(keyring.get_keyring().get_password(SERVICE, CANARY_VENUE))["secret"] == CANARY_SECRET
        store = CredentialStore.open("keyring")
        assert store.backend_name == "keyring" and "SecretService" in store.description

        outputs = await failing_live_session(store, CANARY_VENUE, emu, tmp_path)
        assert "keyring" in (tmp_path / "screen.svg").read_text()  # the credentials screen listed the entry
    finally:
        monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: pytest.fail("no prompt expected"))
        assert cli.main(["keys", "delete", CANARY_VENUE, "--store", "keyring"]) == 0

    # The Secret Service's own files (gnome-keyring: $XDG_DATA_HOME/keyrings) are encrypted.
    ring_dir = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "keyrings"
    files = assert_no_canary(outputs, capfd, debug_log, tmp_path, [p for p in ring_dir.rglob("*") if p.is_file()])
    assert not any(p.suffix == ".vault" for p in files), "the keyring store wrote a vault"
