"""Every error the operator can fix reaches the CLI as one line and exit code 2: one base
class (``aitbc_tui.errors.UserError``) plus the venues' ``VenueError``, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from aitbc_tui import cli
from aitbc_tui.config import ConfigError
from aitbc_tui.credentials import CredentialError, KeyringUnavailable, VaultError
from aitbc_tui.domain import OrderRejected, VenueError
from aitbc_tui.errors import UserError
from aitbc_tui.journal import JournalError

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process (the data and config dirs are the test's
    temporary ones: conftest points AITBC_DATA_DIR / AITBC_CONFIG_DIR there)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AITBC_VAULT_PASSPHRASE", None)
    return subprocess.run(
        [sys.executable, "-m", "aitbc_tui", *argv],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def write_config(path: Path, exchange: str, mode: str, symbol: str) -> Path:
    path.write_text(
        f'[venues.{exchange}]\nexchange = "{exchange}"\nmode = "{mode}"\nsymbols = ["{symbol}"]\n',
        encoding="utf-8",
    )
    return path


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aitbc-tui: error: "), lines[0]
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize(
    "exchange, mode, symbol, argv, expected",
    [
        ("binance", "live", "BTC/USDT", ["health"], ("venues.binance.mode", "aitbc-tui keys set binance")),
        ("binance", "live", "BTC/USDT", ["--live", "health"], ("venues.binance.mode", "no")),
        ("kraken", "testnet", "BTC/USD", ["health"], ("venues.kraken.mode", "paper")),
        ("coinbase", "testnet", "BTC/USD", ["health"], ("venues.coinbase.mode", "paper")),
    ],
    ids=["live-without-key", "live-flag-without-key", "kraken-testnet", "coinbase-testnet"],
)
def test_a_venue_the_config_cannot_build_is_one_line_exit_2(tmp_path, exchange, mode, symbol, argv, expected):
    config = write_config(tmp_path / "c.toml", exchange, mode, symbol)
    result = run_cli("--config", str(config), *argv)
    assert_one_line_error(result, str(config), *expected)
    assert result.stdout == ""


@pytest.mark.parametrize(
    "error_type", [cli.CliError, ConfigError, JournalError, CredentialError, VaultError, KeyringUnavailable]
)
def test_user_facing_errors_share_one_base(error_type):
    assert issubclass(error_type, UserError)


def _parser_raising(exc: Exception):
    def build() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="aitbc-tui")
        sub = parser.add_subparsers(dest="command")
        command = sub.add_parser("boom")

        def fail(_args):
            raise exc

        command.set_defaults(func=fail)
        return parser

    return build


@pytest.mark.parametrize(
    "exc, text",
    [
        (JournalError("journal at /x is locked by another aitbc-tui"), "journal at /x is locked by another aitbc-tui"),
        (ConfigError("/c.toml", "venues.x.mode", "bad"), "/c.toml: venues.x.mode: bad"),
        (VaultError("vault is readable by others"), "vault is readable by others"),
        (UserError("fix this"), "fix this"),
        (VenueError("binance: 401 invalid API key"), "binance: 401 invalid API key"),
        (OrderRejected("binance: insufficient balance"), "binance: insufficient balance"),
    ],
)
def test_main_prints_any_user_or_venue_error_as_one_line(monkeypatch, capsys, exc, text):
    monkeypatch.setattr(cli, "build_parser", _parser_raising(exc))
    assert cli.main(["boom"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"aitbc-tui: error: {text}\n"


def test_a_multi_line_message_still_prints_as_one_line(monkeypatch, capsys):
    monkeypatch.setattr(cli, "build_parser", _parser_raising(VenueError("binance said:\n  {'code': -2015}")))
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("aitbc-tui: error: binance said:")


def test_a_bug_is_not_disguised_as_a_user_error(monkeypatch):
    monkeypatch.setattr(cli, "build_parser", _parser_raising(ZeroDivisionError("a bug")))
    with pytest.raises(ZeroDivisionError):
        cli.main(["boom"])


# ---- exchange add-liquidity and book: what the options say and do ------------------------


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse: --help, usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_add_liquidity_help_says_the_amount_is_per_venue(capsys):
    code, out, _ = run_main(capsys, "exchange", "add-liquidity", "--help")
    assert code == 0
    assert "total" not in out
    assert "on each venue" in " ".join(out.split())


def test_add_liquidity_amount_rests_on_each_venue(capsys):
    code, out, err = run_main(
        capsys, "exchange", "add-liquidity", "--pair", "ETH/BTC", "--amount", "4", "--side", "sell", "--levels", "2"
    )
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:]]
    venues = {row[0] for row in rows}
    assert len(venues) >= 2, out  # ETH/BTC is on several sandbox venues
    for venue in venues:
        assert sum(Decimal(row[2]) for row in rows if row[0] == venue) == Decimal(4), (venue, out)


def test_add_liquidity_refuses_a_price_it_would_ignore(capsys):
    # BTC/USDT has a book: liquidity centres on its mid, so --price would be silently ignored.
    code, out, err = run_main(
        capsys,
        "exchange",
        "add-liquidity",
        "--pair",
        "BTC/USDT",
        "--amount",
        "1",
        "--side",
        "buy",
        "--exchange",
        "binance",
        "--price",
        "10",
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("aitbc-tui: error: --price ")
    assert "binance" in err and "BTC/USDT" in err
    # Nothing was placed: the next try without --price still finds the book as it was.
    code, out, _ = run_main(
        capsys,
        "exchange",
        "add-liquidity",
        "--pair",
        "BTC/USDT",
        "--amount",
        "1",
        "--side",
        "buy",
        "--exchange",
        "binance",
        "--levels",
        "1",
    )
    assert code == 0 and out.startswith("rested 1 orders, 1 BTC in all, on binance")


def test_add_liquidity_accepts_any_case(capsys):
    code, out, err = run_main(
        capsys,
        "exchange",
        "add-liquidity",
        "--pair",
        "eth/btc",
        "--amount",
        "2",
        "--side",
        "both",
        "--exchange",
        "Kraken",
        "--levels",
        "1",
    )
    assert code == 0, err
    assert out.startswith("rested 2 orders, 2 ETH in all, on kraken")


@pytest.mark.parametrize("venue, symbol", [("binance", "btc/usdt"), ("BINANCE", "BTC/USDT"), ("Binance", "Btc/Usdt")])
def test_book_accepts_any_case_for_venue_and_symbol(capsys, venue, symbol):
    code, out, err = run_main(capsys, "--seed", "5", "book", venue, symbol, "--depth", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["venue"], data["symbol"]) == ("binance", "BTC/USDT")
