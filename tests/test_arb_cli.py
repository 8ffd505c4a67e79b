"""`aitbc-tui arb execute`: both legs headless, on two paper venues whose public feeds are
exchange emulators on 127.0.0.1 (kraken asks from 3,400.10, coinbase bids from 3,499.90; see
tests/arb_emulators.py). Paper venues fill locally at ccxt's taker fees (kraken
0.4 %, coinbase 1.2 %): 0.5 ETH buys for 1,700.05 + 6.8002 and sells for 1,749.95 − 20.9994,
netting 22.1004 USDT on 1,706.8502 spent (129.48 bps), exactly as planned."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest

from aitbc_tui import cli
from aitbc_tui.config import parse_config
from aitbc_tui.emulator import RunningEmulator, start_emulator
from aitbc_tui.journal import Journal, default_journal_path
from aitbc_tui.sim import specs
from tests.arb_emulators import MIDS, still_engine


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, RunningEmulator]]:
    """Still emulators on their own event loop in a thread, as a separate process would be."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="emulators", daemon=True)
    thread.start()
    running = {}
    try:
        for name, spec in (("kraken", specs.KRAKEN), ("coinbase", specs.COINBASE)):
            start = start_emulator(name, engine=still_engine(spec, MIDS[name]), fund=False, simulate=False)
            running[name] = asyncio.run_coroutine_threadsafe(start, loop).result(10)
        yield running
    finally:
        for emu in running.values():
            asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def config_path(tmp_path, emulators):
    blocks = [f'[venues.{name}]\nexchange = "{emu.ccxt_id}"\nmode = "paper"\nsymbols = ["ETH/USDT"]\n'
              f'api_url = "{emu.url}"\n' for name, emu in emulators.items()]  # fmt: skip
    path = tmp_path / "venues.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_execute_sends_both_legs_and_prints_the_group_as_json(capsys, config_path, loopback_only):
    code, out, err = run(capsys, "--config", config_path, "arb", "execute", "ETH/USDT", "--buy", "kraken",
                         "--sell", "coinbase", "--amount", "0.5", "--json")  # fmt: skip
    assert code == 0, err
    group = json.loads(out)
    assert (group["state"], group["resolution"], group["bought"], group["sold"]) == ("balanced", "balanced", "0.5",
                                                                                    "0.5")  # fmt: skip
    assert (group["expected_net_quote"], group["expected_net_bps"]) == ("22.10040", "129.48")
    assert (group["realised_net_quote"], group["realised_net_bps"]) == ("22.10040", "129.48")
    assert [(o["venue"], o["side"], o["time_in_force"], o["price"], o["status"]) for o in group["orders"]] == [
        ("kraken", "buy", "ioc", "3400.1", "filled"), ("coinbase", "sell", "ioc", "3499.9", "filled")]  # fmt: skip
    with Journal(default_journal_path(), read_only=True) as journal:
        assert [o.group_id for o in journal.orders()] == [group["group_id"]] * 2
        assert journal.group(group["group_id"]).resolution == "balanced"
    code, out, err = run(capsys, "journal", "--group", group["group_id"])
    assert code == 0 and "realised net 22.10040000 USDT (129.48 bps)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--amount", "1e3"), "--amount: "),
        (("--amount", "-1"), "--amount: amount must be greater than 0; nothing sent"),
        # kraken's five asks of 0.73529412 ETH all net positive against coinbase's bids: 3.6764706.
        (("--amount", "40"), "more than the route allows now: 3.67647060 (limited by book)"),
        (("--amount", "0.5", "--on-leg-failure", "pray"), "--on-leg-failure must be one of ask, hedge, unwind"),
    ],
)
def test_bad_arguments_are_one_line_and_nothing_is_journalled(capsys, config_path, argv, message):
    code, out, err = run(capsys, "--config", config_path, "arb", "execute", "ETH/USDT", "--buy", "kraken",
                         "--sell", "coinbase", *argv)  # fmt: skip
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    path = default_journal_path()
    if path.exists():
        with Journal(path, read_only=True) as journal:
            assert journal.orders() == [] and journal.groups() == []


def test_same_venue_twice_is_refused(capsys, config_path):
    code, _out, err = run(capsys, "--config", config_path, "arb", "execute", "ETH/USDT", "--buy", "kraken",
                          "--sell", "kraken", "--amount", "0.5")  # fmt: skip
    assert code == 2 and "--buy and --sell must be different venues" in err


def test_the_arbitrage_config_table():
    assert parse_config('[arbitrage]\non_leg_failure = "hedge"\n').arbitrage.on_leg_failure == "hedge"
    assert parse_config("").arbitrage.on_leg_failure == "ask"
    with pytest.raises(Exception, match="arbitrage.on_leg_failure: 'later' is not allowed"):
        parse_config('[arbitrage]\non_leg_failure = "later"\n')
    with pytest.raises(Exception, match="arbitrage.size: unknown key"):
        parse_config("[arbitrage]\nsize = 1\n")


def test_inventory_shows_each_asset_per_venue_and_the_routes_balances_cut(capsys, config_path, loopback_only):
    # Paper venues start with 100,000 USDT and 30 ETH each; the books allow 3.6764706 ETH on
    # kraken → coinbase, which the balances fund in full: nothing is cut.
    code, out, err = run(capsys, "--config", config_path, "arb", "inventory", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["assets"] == [
        {"asset": "ETH", "free": {"kraken": "30", "coinbase": "30"}, "total": "60"},
        {"asset": "USDT", "free": {"kraken": "100000", "coinbase": "100000"}, "total": "200000"},
    ]
    assert data["blocked_routes"] == []
    code, out, err = run(capsys, "--config", config_path, "arb", "inventory")
    assert code == 0 and "no profitable route is cut by the balances" in out
