"""Headless trading commands (`balance`, `orders`, `order place|cancel|cancel-all`) through the
real entry point: on the sandbox venues (seeded, data dir in tmp), and against the binance
and kraken exchange emulators on 127.0.0.1 (binance in live mode with keys in the vault,
kraken in paper mode). Every bad argument exits 2 with one line and journals nothing."""

from __future__ import annotations

import io
import json
import re
import sys
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pytest

from aitbc_tui import cli, paths
from aitbc_tui.credentials import CredentialStore
from aitbc_tui.emulator import RunningEmulator
from aitbc_tui.journal import Journal
from tests.test_cli_emulated import emulators  # noqa: F401 - fixture (binance + kraken, static books)

SEED = ("--seed", "5")


def run(capsys, *argv: str, stdin: io.TextIOBase | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", stdin)
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def ok_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return json.loads(out)


def journal_orders() -> list:
    path = paths.data_dir() / "journal.sqlite3"
    if not path.exists():
        return []
    with Journal(path, read_only=True) as journal:
        return journal.orders()


def best(capsys, venue: str, symbol: str, *extra: str) -> tuple[Decimal, Decimal]:
    data = ok_json(capsys, *extra, "book", venue, symbol, "--depth", "1", "--json")
    return Decimal(data["bids"][0][0]), Decimal(data["asks"][0][0])


def below(price: Decimal, pct: str, tick: Decimal) -> Decimal:
    """``pct`` percent below ``price``, on the tick grid."""
    raw = price * (1 - Decimal(pct) / 100)
    return (raw / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


class TtyInput(io.StringIO):
    """A terminal's stdin with the operator's typed answer."""

    def isatty(self) -> bool:
        return True


# ---- sandbox -------------------------------------------------------------------------------


def test_limit_order_balance_orders_and_cancel(capsys):
    bid, _ask = best(capsys, "binance", "BTC/USDT", *SEED)
    price = below(bid, "2", Decimal("0.01"))
    before = ok_json(capsys, *SEED, "balance", "binance", "--json")
    assert set(before) == {"binance"}
    usdt = before["binance"]["USDT"]
    assert all(isinstance(v, str) for v in usdt.values())
    assert Decimal(usdt["total"]) == Decimal(usdt["free"]) + Decimal(usdt["used"])

    placed = ok_json(
        capsys, *SEED, "order", "place", "binance", "btc/usdt", "buy", "0.01000", "--price", str(price), "--json"
    )
    assert placed["id"] and placed["client_order_id"]
    assert (placed["venue"], placed["symbol"], placed["side"], placed["type"]) == (
        "binance",
        "BTC/USDT",
        "buy",
        "limit",
    )
    assert (placed["status"], placed["time_in_force"], placed["post_only"]) == ("open", "gtc", False)
    assert placed["amount"] == "0.01000" and placed["filled"] in ("0", "0.00000")
    assert Decimal(placed["price"]) == price
    [entry] = journal_orders()
    assert (entry.client_order_id, entry.state.value, entry.venue_order_id) == (
        placed["client_order_id"],
        "open",
        placed["id"],
    )

    listed = ok_json(capsys, *SEED, "orders", "binance", "--json")
    # Times are ISO 8601 UTC with milliseconds, like every JSON of ours (they were epoch floats).
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["created_at"]) for o in listed), listed
    assert [o["id"] for o in listed] == [placed["id"]]
    after = ok_json(capsys, *SEED, "balance", "--json")
    assert set(after) == {"binance", "kraken", "coinbase"}
    reserved = Decimal(after["binance"]["USDT"]["used"]) - Decimal(usdt["used"])
    assert reserved >= price * Decimal("0.01")  # the resting buy holds its quote
    code, out, err = run(capsys, *SEED, "orders")
    assert code == 0 and placed["id"] in out and "open" in out, err

    code, out, err = run(capsys, *SEED, "order", "cancel", "binance", placed["id"])
    assert code == 0, err
    assert out.startswith("cancelled binance BTC/USDT buy 0.01000") and "canceled" in out
    assert ok_json(capsys, *SEED, "orders", "binance", "--json") == []
    history = ok_json(capsys, *SEED, "orders", "binance", "--history", "--json")
    assert [(o["id"], o["status"]) for o in history] == [(placed["id"], "canceled")]
    restored = ok_json(capsys, *SEED, "balance", "binance", "--json")
    assert {k: Decimal(v) for k, v in restored["binance"]["USDT"].items()} == {k: Decimal(v) for k, v in usdt.items()}
    [entry] = journal_orders()
    assert entry.state.value == "canceled"

    # Cancelling it again: one line, exit 2.
    code, out, err = run(capsys, *SEED, "order", "cancel", "binance", placed["id"])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "already canceled" in err


def test_market_order_is_an_ioc_limit_at_the_slippage_cap(capsys):
    _bid, ask = best(capsys, "binance", "BTC/USDT", *SEED)
    before = ok_json(capsys, *SEED, "balance", "binance", "--json")["binance"]
    placed = ok_json(
        capsys, *SEED, "order", "place", "binance", "BTC/USDT", "buy", "0.01", "--type", "market", "--json"
    )
    assert (placed["type"], placed["time_in_force"], placed["requested_type"]) == ("limit", "ioc", "market")
    assert placed["slippage_cap_bps"] == "50"
    cap = Decimal(placed["cap_price"])
    assert Decimal(placed["price"]) == cap
    assert (
        ask * Decimal("0.99") < cap <= Decimal(placed["average_price"]) * Decimal("1.005")
    )  # the touch at sending + 50 bps
    assert placed["status"] == "filled" and Decimal(placed["filled"]) == Decimal("0.01")
    assert Decimal(placed["average_price"]) <= cap and placed["fee_asset"]
    after = ok_json(capsys, *SEED, "balance", "binance", "--json")["binance"]
    assert Decimal(after["BTC"]["total"]) - Decimal(before["BTC"]["total"]) == Decimal("0.01")
    [entry] = journal_orders()
    assert (entry.client_order_id, entry.state.value) == (placed["client_order_id"], "filled")

    # A sell the other way, as text: one line naming the order.
    code, out, err = run(capsys, *SEED, "order", "place", "binance", "BTC/USDT", "sell", "0.01", "--type", "market")
    assert code == 0, err
    assert out.startswith("placed binance BTC/USDT sell 0.01") and "IOC" in out and "filled" in out
    assert len(journal_orders()) == 2


def test_market_order_beyond_the_slippage_cap_is_refused_and_not_sent(capsys, tmp_path):
    config = tmp_path / "risk.toml"
    config.write_text('[risk]\nmax_slippage_bps = "0.5"\n', encoding="utf-8")  # no venues: the sandbox
    code, out, err = run(capsys, "--config", str(config), *SEED, "order", "place", "binance", "BTC/USDT", "buy", "1.5",
                         "--type", "market")  # fmt: skip
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "beyond the slippage cap" in err and "risk.max_slippage_bps" in err and "nothing sent" in err
    assert journal_orders() == []


def test_cancel_all_per_venue_then_everything(capsys):
    placed = {}
    for venue, tick in (("binance", "0.01"), ("kraken", "0.1"), ("coinbase", "0.01")):
        bid, _ = best(capsys, venue, "ETH/USDT", *SEED)
        price = below(bid, "3", Decimal(tick))
        order = ok_json(
            capsys, *SEED, "order", "place", venue, "ETH/USDT", "buy", "0.1", "--price", str(price), "--json"
        )
        assert order["status"] == "open"
        placed[venue] = order["id"]
    report = ok_json(capsys, *SEED, "order", "cancel-all", "kraken", "--json")
    assert [(o["venue"], o["id"], o["status"]) for o in report["cancelled"]] == [
        ("kraken", placed["kraken"], "canceled")
    ]
    assert report["failed"] == []
    left = ok_json(capsys, *SEED, "orders", "--json")
    assert sorted(o["venue"] for o in left) == ["binance", "coinbase"]

    code, out, err = run(capsys, *SEED, "order", "cancel-all")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("cancelled ") for line in lines)
    assert ok_json(capsys, *SEED, "orders", "--json") == []
    assert sorted(o.state.value for o in journal_orders()) == ["canceled"] * 3
    code, out, _ = run(capsys, *SEED, "order", "cancel-all")
    assert code == 0 and out.strip() == "no open orders on every venue"


def test_a_price_far_from_the_mid_needs_confirmation(capsys, monkeypatch):
    bid, _ = best(capsys, "binance", "BTC/USDT", *SEED)
    far = str(below(bid, "10", Decimal("0.01")))
    argv = (*SEED, "order", "place", "binance", "BTC/USDT", "buy", "0.01", "--price", far)
    code, out, err = run(capsys, *argv, stdin=io.StringIO("y\n"), monkeypatch=monkeypatch)  # not a terminal
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "risk.price_band_pct" in err and "--yes" in err and "nothing sent" in err
    code, out, err = run(capsys, *argv, stdin=TtyInput("n\n"), monkeypatch=monkeypatch)
    assert code == 1 and out == "" and "Price " in err and "not sent" in err
    assert journal_orders() == []
    code, out, err = run(capsys, *argv, stdin=TtyInput("y\n"), monkeypatch=monkeypatch)
    assert code == 0 and out.startswith("placed "), err
    code, out, err = run(capsys, *argv, "--yes", "--json")
    assert code == 0 and json.loads(out)["status"] == "open", err
    assert len(journal_orders()) == 2


BAD_ARGUMENTS = [
    (["binance", "BTC/USDT", "buy", "NaN", "--price", "60000"], "NaN is not a number"),
    (["binance", "BTC/USDT", "buy", "nan", "--type", "market"], "NaN is not a number"),
    (["binance", "BTC/USDT", "buy", "-1", "--price", "60000"], "amount must be greater than 0"),
    (["binance", "BTC/USDT", "buy", "0", "--price", "60000"], "amount must be greater than 0"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "-60000"], "price must be greater than 0"),
    (["binance", "BTC/USDT", "buy", "1e3", "--price", "60000"], "exponent notation is not accepted: write 1000"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "6e4"], "exponent notation"),
    (["binance", "BTC/USDT", "buy", "inf", "--price", "60000"], "finite"),
    (["binance", "BTC/USDT", "buy", "0.000001", "--price", "60000"], "more decimals than the lot size 0.00001"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "60000.001"], "more decimals than the tick size 0.01"),
    (["kraken", "BTC/USDT", "buy", "0.01", "--price", "60000.05"], "more decimals than the tick size 0.1"),
    (["binance", "BTC/USDT", "buy", "１", "--price", "60000"], "ASCII digits"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "６0000"], "ASCII digits"),
    (["binance", "BTC/USDT", "buy", "1,000", "--price", "60000"], "thousands separators"),
    (["binance", "BTC/USDT", "buy", "0.00001", "--price", "60000"], "below the minimum 5 USDT"),
    (["binance", "BTC/USDT", "sell", "500", "--price", "60000"], "only 2 BTC free"),
    (["binance", "BTC/USDT", "buy", "100", "--price", "60000"], "including the fee"),
    (["nasdaq", "BTC/USDT", "buy", "0.01", "--price", "60000"], "unknown venue 'nasdaq'"),
    (["binance", "FOO/BAR", "buy", "0.01", "--price", "60000"], "'FOO/BAR' is not listed on binance"),
    (["binance", "BTC/USDT", "hold", "0.01", "--price", "60000"], "side must be buy or sell"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "60000", "--type", "stop"], "--type must be limit or market"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "60000", "--tif", "day"], "--tif must be gtc or ioc or fok"),
    (["binance", "BTC/USDT", "buy", "0.01"], "a limit order needs --price"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "60000", "--type", "market"], "--price is for limit orders"),
    (["binance", "BTC/USDT", "buy", "0.01", "--type", "market", "--post-only"], "--post-only needs a limit order"),
    (["binance", "BTC/USDT", "buy", "0.01", "--type", "market", "--tif", "fok"], "does not apply to a market order"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "60000", "--post-only", "--tif", "ioc"], "--post-only rests"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "60000", "--post-only", "--tif", "fok"], "--post-only rests"),
    (["binance", "BTC/USDT", "buy", "2000", "--type", "market"], "the visible book holds only"),
    (["binance", "BTC/USDT", "buy"], "required: amount"),
    (["binance", "BTC/USDT", "buy", "0.01", "--price", "60000", "--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_every_bad_argument_exits_2_with_one_line_and_sends_nothing(capsys, argv, message):
    code, out, err = run(capsys, *SEED, "order", "place", *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aitbc-tui: error: ") and message in lines[0], err
    assert "Traceback" not in err
    assert journal_orders() == []


def test_post_only_that_would_take_liquidity_is_refused_before_sending(capsys):
    _bid, ask = best(capsys, "binance", "BTC/USDT", *SEED)
    code, out, err = run(capsys, *SEED, "order", "place", "binance", "BTC/USDT", "buy", "0.01",
                         # 2 % through the ask: it crosses however the market moved since `best`
                         "--price", str((ask * Decimal("1.02")).quantize(Decimal("0.01"))), "--post-only")  # fmt: skip
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--post-only" in err and "would take liquidity now" in err
    assert journal_orders() == []


def test_read_only_refuses_every_order_action(capsys):
    for argv in (["order", "place", "binance", "BTC/USDT", "buy", "0.01", "--price", "60000"],
                 ["order", "cancel", "binance", "123"], ["order", "cancel-all"]):  # fmt: skip
        code, out, err = run(capsys, *SEED, "--read-only", *argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--read-only" in err, err
    assert journal_orders() == []
    code, out, err = run(capsys, *SEED, "--read-only", "balance", "binance")  # reading still works
    assert code == 0 and "USDT" in out, err


def test_unknown_venue_and_order_in_balance_orders_and_cancel(capsys):
    for argv, message in ((["balance", "nasdaq"], "unknown venue 'nasdaq'"),
                          (["orders", "nasdaq"], "unknown venue 'nasdaq'"),
                          (["order", "cancel", "nasdaq", "1"], "unknown venue 'nasdaq'"),
                          (["order", "cancel-all", "nasdaq"], "unknown venue 'nasdaq'"),
                          (["order", "cancel", "binance", "999999"], "binance has no open order '999999'"),
                          (["order"], "required")):  # fmt: skip
        code, out, err = run(capsys, *SEED, *argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, (argv, err)
    assert journal_orders() == []


# ---- emulators: kraken in paper mode, binance live with keys --------------------------------


def venue_block(name: str, emu: RunningEmulator, mode: str, extra: str = "") -> str:
    ws = f'ws_url = "{emu.ws_url.rsplit("/", 1)[0]}"\n' if emu.ws_url else ""
    return (f'[venues.{name}]\nexchange = "{emu.ccxt_id}"\nmode = "{mode}"\nsymbols = ["BTC/USDT"]\n'
            f'api_url = "{emu.url}"\n{ws}{extra}')  # fmt: skip


def test_kraken_has_no_fill_or_kill_and_read_only_venues_refuse(capsys, tmp_path, emulators):  # noqa: F811
    kraken = emulators["kraken"]
    config = tmp_path / "paper.toml"
    config.write_text(venue_block("kraken", kraken, "paper") + "\n"
                      + venue_block("watch", kraken, "paper", "read_only = true\n"), encoding="utf-8")  # fmt: skip
    bid = kraken.engine.book("BTC/USDT", 1).bids[0][0]
    price = str(below(bid, "1", Decimal("0.1")))
    code, out, err = run(capsys, "--config", str(config), "order", "place", "kraken", "BTC/USDT", "buy", "0.001",
                         "--price", price, "--tif", "fok")  # fmt: skip
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "kraken has no FOK orders on spot" in err, err
    code, out, err = run(capsys, "--config", str(config), "order", "place", "watch", "BTC/USDT", "buy", "0.001",
                         "--price", price)  # fmt: skip
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "venue is read-only" in err, err
    assert journal_orders() == []
    # A paper order on the same venue goes through (paper orders live in memory only).
    placed = ok_json(capsys, "--config", str(config), "order", "place", "kraken", "BTC/USDT", "buy", "0.001",
                     "--price", price, "--json")  # fmt: skip
    assert placed["status"] == "open" and placed["id"]
    assert [o.client_order_id for o in journal_orders()] == [placed["client_order_id"]]


@pytest.fixture
def live_binance(tmp_path, monkeypatch, capsys, emulators) -> tuple[Path, RunningEmulator]:  # noqa: F811
    """A live binance venue on the emulator, its keys in the vault (a cheap KDF for the test;
    the passphrase from the environment, as a script gives it)."""
    import getpass

    emu = emulators["binance"]
    real_open = CredentialStore.open.__func__

    def open_fast(cls, prefer="auto", passphrase_provider=None, **kw):
        kw.setdefault("insecure_test_scrypt_n", 2**10)
        return real_open(cls, prefer, passphrase_provider, **kw)

    monkeypatch.setattr(CredentialStore, "open", classmethod(open_fast))
    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "trading-test-passphrase")
    answers = [emu.api_key, emu.secret]
    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: answers.pop(0))
    code, out, err = run(capsys, "keys", "set", "binance", "--exchange", "binance", "--store", "vault")
    assert code == 0 and not answers, err
    config = tmp_path / "live.toml"
    config.write_text(venue_block("binance", emu, "live"), encoding="utf-8")
    return config, emu


def emulator_open(emu: RunningEmulator) -> list[str]:
    return [o.client_order_id for o in emu.engine.open_orders(emu.ctx.account)]


def test_live_order_with_live_and_yes_reaches_the_emulator(capsys, live_binance):
    config, emu = live_binance
    before = emulator_open(emu)
    bid, _ = best(capsys, "binance", "BTC/USDT", "--config", str(config))
    price = below(bid, "1", emu.engine.markets["BTC/USDT"].tick_size)
    argv = ("--config", str(config), "--live", "order", "place", "binance", "BTC/USDT", "buy", "0.001",
            "--price", str(price), "--yes", "--json")  # fmt: skip
    placed = ok_json(capsys, *argv)
    assert placed["id"] and placed["status"] == "open" and placed["client_order_id"].startswith("aitbc-")
    assert emulator_open(emu) == [*before, placed["client_order_id"]]
    [entry] = journal_orders()
    assert (entry.mode, entry.state.value, entry.venue_order_id) == ("live", "open", placed["id"])

    balances = ok_json(capsys, "--config", str(config), "balance", "binance", "--json")["binance"]
    assert Decimal(balances["USDT"]["used"]) >= price * Decimal("0.001")
    listed = ok_json(capsys, "--config", str(config), "orders", "binance", "--json")
    assert placed["id"] in [o["id"] for o in listed]

    code, out, err = run(
        capsys, "--config", str(config), "--live", "order", "cancel", "binance", placed["id"], "--yes", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "canceled"
    assert emulator_open(emu) == before
    [entry] = journal_orders()
    assert entry.state.value == "canceled"


def test_live_order_without_yes_and_no_terminal_sends_nothing(capsys, monkeypatch, live_binance):
    config, emu = live_binance
    before = emulator_open(emu)
    order = ("order", "place", "binance", "BTC/USDT", "buy", "0.001", "--price", "50000")
    # Even a "y" on stdin is not a confirmation when stdin is not a terminal.
    code, out, err = run(
        capsys, "--config", str(config), "--live", *order, stdin=io.StringIO("y\n"), monkeypatch=monkeypatch
    )
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--yes" in err and "nothing sent" in err, err
    # Without --live, a live config is refused outright (before any key is read).
    code, out, err = run(capsys, "--config", str(config), *order, "--yes")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--live" in err, err
    # Declined at the prompt on a terminal: nothing sent either.
    bid, _ = best(capsys, "binance", "BTC/USDT", "--config", str(config))
    price = str(below(bid, "1", emu.engine.markets["BTC/USDT"].tick_size))
    close = ("order", "place", "binance", "BTC/USDT", "buy", "0.001", "--price", price)
    code, out, err = run(
        capsys, "--config", str(config), "--live", *close, stdin=TtyInput("n\n"), monkeypatch=monkeypatch
    )
    assert code == 1 and out == "" and "Send this LIVE order to binance? [y/N]" in err and "not sent" in err
    for argv in (["order", "cancel", "binance", "1"], ["order", "cancel-all"]):
        code, out, err = run(
            capsys, "--config", str(config), "--live", *argv, stdin=io.StringIO(""), monkeypatch=monkeypatch
        )
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--yes" in err, err
    assert emulator_open(emu) == before
    assert journal_orders() == []


def test_a_running_sandbox_dashboard_owns_the_sandbox(capsys):
    """Another process holding the data dir (a sandbox dashboard): refused in one line after
    a short wait, nothing sent."""
    from aitbc_tui.datalock import DataDirLock

    lock = DataDirLock().acquire()
    try:
        code, out, err = run(capsys, *SEED, "order", "place", "binance", "BTC/USDT", "buy", "0.01", "--type", "market")
    finally:
        lock.release()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert journal_orders() == []
