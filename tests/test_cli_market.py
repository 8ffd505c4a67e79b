"""`trades`, `candles`, `tickers`, `pnl` through the real entry point: on the sandbox, and on a
config whose paper venues are exchange emulators on 127.0.0.1 (still markets: the only trades
are the ones the test makes, so every figure is computed by hand)."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from aitbc_tui.cli import main
from aitbc_tui.domain import Fill, Mode, Order, OrderRequest, OrderStatus, OrderType, Side
from aitbc_tui.journal import Journal
from tests.test_cli_emulated import EmulatorThread, write_config


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- bad arguments: one line, exit 2, nothing else ---------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trades", "binance", "BTC/USDT", "--limit", "0"], "--limit must be from 1 to 1000"),
        (["trades", "binance", "BTC/USDT", "--limit", "١٠"], "--limit must be a whole number"),
        (["trades", "binance", "BTC/USDT", "--limit", "NaN"], "--limit must be a whole number"),
        (["trades", "nasdaq", "BTC/USDT"], "unknown venue 'nasdaq'"),
        (["trades", "binance", "FOO/BAR"], "'FOO/BAR' is not listed on binance"),
        (["candles", "binance", "BTC/USDT", "--timeframe", "2m"], "--timeframe must be one of 1m, 5m"),
        (["tickers", "nasdaq"], "unknown venue 'nasdaq'"),
        (["pnl", "--since", "yesterday"], "--since must be an ISO date/time"),
        (["pnl", "--method", "lifo"], "invalid choice: 'lifo'"),
        (["pnl", "--valuation", "US$"], "--valuation must be an asset code"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        code = main(["--seed", "5", *argv])
        raise SystemExit(code)
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and err.startswith("aitbc-tui: error: ")


# ---- sandbox ------------------------------------------------------------------------------


def test_sandbox_tickers_json_every_symbol_on_every_venue(capsys):
    code, out, _ = run(capsys, "--seed", "5", "tickers", "--json")
    assert code == 0
    rows = json.loads(out)
    from aitbc_tui.sim import specs

    listed = {(spec.name, m.symbol) for spec in (specs.BINANCE, specs.KRAKEN, specs.COINBASE) for m in spec.markets}
    assert {(r["venue"], r["symbol"]) for r in rows} == listed and len(listed) >= 16
    for r in rows:
        assert isinstance(r["base_volume"], str) and D(r["base_volume"]) >= 0  # exact text, never a float
        assert D(r["bid"]) < D(r["ask"])
    _, out, _ = run(capsys, "--seed", "5", "tickers", "kraken", "--json")
    assert {r["venue"] for r in json.loads(out)} == {"kraken"}


def journal_fills(fills: list[tuple[str, str, str, str, str]], *, venue: str = "binance", symbol: str = "BTC/USDT",
                  mode: Mode = Mode.SANDBOX, at: float = 1_795_000_000.0) -> None:  # fmt: skip
    """Journal one order per fill (side, amount, price, fee, fee currency), as the order path does."""
    with Journal(clock=lambda: at) as journal:
        for index, (side, amount, price, fee, fee_currency) in enumerate(fills):
            request = OrderRequest(
                venue, symbol, Side(side), OrderType.LIMIT, D(amount), D(price), f"t-{mode.value}-{index}"
            )
            coid = journal.record_intent(request, mode)
            journal.mark_sent(coid)
            order = Order(venue, f"V{index}", coid, symbol, Side(side), OrderType.LIMIT, D(price), D(amount), D(0),
                          OrderStatus.OPEN, at, at)  # fmt: skip
            journal.mark_ack(coid, order)
            journal.record_fill(coid, Fill(venue, f"V{index}", symbol, Side(side), D(price), D(amount), D(fee),
                                           fee_currency, at, False, f"T{index}"))  # fmt: skip


FILLS = [("buy", "0.02", "60000", "1.2", "USDT"), ("buy", "0.01", "63000", "0.63", "USDT"),
         ("sell", "0.015", "66000", "0.99", "USDT")]  # fmt: skip


@pytest.mark.parametrize(
    # average: cost 1,200 + 630 = 1,830 for 0.03 (61,000 each); the sale of 0.015 releases 915
    # and realises 990 - 915 = 75. FIFO: the 0.015 come from the 60,000 lot: (66,000 - 60,000)
    # x 0.015 = 90; left 0.005 at 60,000 + 0.01 at 63,000 = 930 (62,000 each).
    ("method", "realised", "average", "cost"),
    [("average", "75", "61000", "915"), ("fifo", "90", "62000", "930")],
)
def test_sandbox_pnl_from_the_journals_fills(capsys, method, realised, average, cost):
    journal_fills(FILLS)
    code, out, _ = run(capsys, "--seed", "5", "pnl", "binance", "--method", method, "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["method"], data["valuation"]) == (method, "USDT")
    position = btc_position(data)
    # The sandbox's start funding (2 BTC, a deposit at its book's mid, after these journalled
    # fills) moves the position, not the P&L: realised and fees are the fills' alone.
    (funding,) = [t for t in data["transfers"] if t["asset"] == "BTC"]
    assert (funding["id"], funding["kind"], funding["symbol"]) == ("start-BTC", "deposit", "BTC/USDT")
    deposit_cost = D(funding["price"]) * 2
    assert (position["venue"], D(position["quantity"])) == ("binance", D("2.015"))
    assert (position["transfers"], D(position["deposited"]), position["transfer_prices"]) == (
        1, D(2), [funding["price_source"]])  # fmt: skip
    assert D(position["realised"]) == D(realised) and D(position["fees"]) == D("2.82")
    assert D(position["cost_basis"]) == D(cost) + deposit_cost
    assert D(position["average_cost"]) == ((D(cost) + deposit_cost) / D("2.015")).quantize(D("0.000001"))
    if method == "fifo":  # the fills' 0.015 lots (at 62,000 each) are the oldest
        assert D(cost) / D("0.015") == D(average)
    mark = D(position["mark"])  # the sandbox book's mid
    assert D(position["unrealised"]) == (mark * D("2.015") - D(cost) - deposit_cost).quantize(D("0.000001"))
    assert D(data["totals"]["realised"]) == D(realised) and D(data["totals"]["fees"]) == D("2.82")
    assert position["fills"] == 3 and (D(position["bought"]), D(position["sold"])) == (D("0.03"), D("0.015"))
    assert set(data["equity"]["by_venue"]) == {"binance"}
    btc = next(r for r in data["equity"]["balances"] if r["asset"] == "BTC")
    assert D(btc["total"]) == D(btc["free"]) + D(btc["used"]) and "BTC/USDT mid" in btc["route"]


def btc_position(data: dict) -> dict:
    (position,) = [p for p in data["positions"] if p["symbol"] == "BTC/USDT"]
    return position


def test_pnl_counts_only_fills_of_the_venues_own_mode(capsys):
    journal_fills(FILLS)
    journal_fills([("buy", "5", "1000", "0", "USDT")], mode=Mode.LIVE)  # a live "binance": another account
    code, out, _ = run(capsys, "--seed", "5", "pnl", "binance", "--json")
    position = btc_position(json.loads(out))
    assert D(position["quantity"]) == D("2.015") and position["fills"] == 3  # 0.015 + the 2 BTC start funding


def test_sandbox_pnl_text_states_method_and_route(capsys):
    journal_fills(FILLS)
    code, out, _ = run(capsys, "--seed", "5", "pnl")
    assert code == 0
    assert out.startswith("cost basis: average cost")
    assert "binance   BTC/USDT" in out and "rates: " in out and "BTC/USDT mid (binance, coinbase, kraken)" in out
    # each venue's start funding: USDT, BTC, ETH and AITBC deposits
    assert "transfers: 12 deposits, 0 withdrawals (they move the positions at cost, not the P&L)" in out


# ---- emulators (paper venues on 127.0.0.1) --------------------------------------------------


@pytest.fixture(scope="module")
def still():
    served = EmulatorThread()
    try:
        yield served, {"binance": served.start("binance", simulate=False)}
    finally:
        served.stop()


def cross(served, emu, side: Side, amount: str) -> tuple[D, D]:
    """Take the best level of the emulator's own book with the emulator's account."""

    def take():
        book = emu.engine.book("BTC/USDT", 1)
        price = book.best_ask if side is Side.BUY else book.best_bid
        emu.engine.place(emu.ctx.account, "BTC/USDT", side, OrderType.LIMIT, D(amount), price)
        return price, D(amount)

    return served.call(take)


def test_emulator_trades_candles_and_tickers_are_what_it_traded(capsys, tmp_path, still, loopback_only):
    served, emulators = still
    emu = emulators["binance"]
    config = write_config(tmp_path, emulators)
    before = len(served.call(lambda: emu.engine.recent_trades("BTC/USDT")))
    ask, bought = cross(served, emu, Side.BUY, "0.02")
    bid, sold = cross(served, emu, Side.SELL, "0.01")

    code, out, _ = run(capsys, "--config", str(config), "trades", "binance", "BTC/USDT", "--limit", "2", "--json")
    assert code == 0
    trades = json.loads(out)
    assert [(D(t["price"]), D(t["amount"]), t["side"]) for t in trades] == [(ask, bought, "buy"), (bid, sold, "sell")]
    assert [int(t["id"]) for t in trades] == [before + 1, before + 2]

    code, out, _ = run(capsys, "--config", str(config), "candles", "binance", "BTC/USDT", "--timeframe", "1d", "--json")
    day = json.loads(out)[-1]
    assert D(day["close"]) == bid and D(day["high"]) >= ask and D(day["low"]) <= bid

    code, out, _ = run(capsys, "--config", str(config), "tickers", "binance", "--json")
    ticker = next(r for r in json.loads(out) if r["symbol"] == "BTC/USDT")
    assert D(ticker["last"]) == bid and ticker["venue"] == "binance"

    code, out, _ = run(capsys, "--config", str(config), "trades", "binance", "BTC/USDT", "--limit", "1")
    assert code == 0 and "binance BTC/USDT: 1 trade(s)" in out and "sell" in out.splitlines()[-1]


def test_ui_valuation_is_validated_and_upper_cased():
    from aitbc_tui.config import ConfigError, parse_config

    assert parse_config('[ui]\nvaluation = "usdc"\n', "c.toml").ui.valuation == "USDC"
    assert parse_config("", "c.toml").ui.valuation == "USDT"
    for bad in ('"US$"', "5", '""'):
        with pytest.raises(ConfigError) as info:
            parse_config(f"[ui]\nvaluation = {bad}\n", "c.toml")
        assert str(info.value).startswith("c.toml: ui.valuation: ") and "asset code" in str(info.value)


@pytest.mark.parametrize(("since", "net"), [("2026-11-18", "72.18"), ("2026-11-19T00:00", "0")])
def test_pnl_since_is_the_realised_minus_fees_of_the_fills_since_then(capsys, since, net):
    journal_fills(FILLS)  # journalled at 2026-11-18 11:06:40 UTC: realised 75, fees 2.82
    code, out, _ = run(capsys, "--seed", "5", "pnl", "binance", "--since", since, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["since"].startswith(since[:10]) and D(data["totals"]["since_net"]) == D(net)
    assert D(btc_position(data)["since_net"]) == D(net)
