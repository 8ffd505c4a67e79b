"""Headless commands, run through the real entry point on the sandbox venues."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from aitbc_tui.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_book_json_is_exact_and_ordered(capsys):
    code, out, _ = run(capsys, "--seed", "5", "book", "binance", "BTC/USDT", "--depth", "5", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["venue"], data["symbol"]) == ("binance", "BTC/USDT")
    bids = [Decimal(p) for p, _ in data["bids"]]
    asks = [Decimal(p) for p, _ in data["asks"]]
    assert len(bids) == len(asks) == 5
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0] < asks[0]
    assert Decimal(data["analysis"]["mid"]) == (bids[0] + asks[0]) / 2
    # Money stays exact text in JSON, never a float.
    assert all(isinstance(p, str) for p, _ in data["bids"])


def test_arb_json_lists_each_symbol_on_two_venues_net_of_fees(capsys):
    code, out, _ = run(capsys, "--seed", "5", "arb", "--json")
    assert code == 0
    rows = json.loads(out)
    symbols = {r["symbol"] for r in rows}
    assert {"BTC/USDT", "ETH/USDT", "ETH/BTC", "AITBC/USDT", "AITBC/BTC", "AITBC/ETH"} <= symbols
    for r in rows:
        assert r["buy_venue"] != r["sell_venue"]
        assert Decimal(r["net_bps"]) < Decimal(r["gross_bps"])  # fees always cost


def test_health_json(capsys):
    code, out, _ = run(capsys, "--seed", "5", "health", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["venue"] for r in rows] == ["binance", "kraken", "coinbase"]
    assert all(r["status"] == "connected" and r["latency_ms"] > 0 for r in rows)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["book", "nasdaq", "BTC/USDT"], "unknown venue 'nasdaq'"),
        (["book", "binance", "FOO/BAR"], "'FOO/BAR' is not listed on binance"),
        (["book", "binance", "BTC/USDT", "--depth", "0"], "--depth must be from 1 to 500"),
        (["book", "binance", "BTC/USDT", "--depth", "NaN"], "whole number"),
        (["arb", "--min-net-bps", "abc"], "--min-net-bps must be a number"),
        (
            ["exchange", "add-liquidity", "--pair", "AITBC/ETH", "--amount", "NaN", "--side", "sell"],
            "NaN is not a number",
        ),
        (["exchange", "add-liquidity", "--pair", "AITBC/ETH", "--amount", "-5", "--side", "sell"], "greater than 0"),
        (["exchange", "add-liquidity", "--pair", "AITBCETH", "--amount", "5", "--side", "sell"], "BASE/QUOTE"),
        (
            ["exchange", "add-liquidity", "--pair", "AITBC/XYZ", "--amount", "5", "--side", "sell"],
            "no sandbox venue lists AITBC/XYZ",
        ),
        (
            [
                "exchange",
                "create-pair",
                "--base-asset",
                "AITBC",
                "--quote-asset",
                "ETH",
                "--exchange",
                "binance",
                "--min-order-size",
                "１",
                "--price-precision",
                "8",
                "--quantity-precision",
                "8",
            ],
            "ASCII digits",
        ),
        (
            [
                "exchange",
                "create-pair",
                "--base-asset",
                "AITBC",
                "--quote-asset",
                "ETH",
                "--exchange",
                "nasdaq",
                "--min-order-size",
                "0.001",
                "--price-precision",
                "8",
                "--quantity-precision",
                "8",
            ],
            "nasdaq",
        ),
        (
            [
                "exchange",
                "create-pair",
                "--base-asset",
                "AITBC",
                "--quote-asset",
                "ETH",
                "--exchange",
                "kraken",
                "--min-order-size",
                "0.001",
                "--price-precision",
                "8",
                "--quantity-precision",
                "8",
            ],
            "already exists",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(capsys, argv, message):
    code = None
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    _, err = capsys.readouterr()
    assert code == 2
    assert message in err, err


def test_create_pair_and_add_liquidity_persist_and_show_in_the_book(capsys):
    code, out, _ = run(
        capsys,
        "exchange",
        "create-pair",
        "--base-asset",
        "XYZ",
        "--quote-asset",
        "USDT",
        "--exchange",
        "kraken",
        "--min-order-size",
        "0.1",
        "--price-precision",
        "4",
        "--quantity-precision",
        "1",
    )
    assert code == 0 and "created XYZ/USDT on sandbox kraken: tick 0.0001, lot 0.1" in out
    code, out, _ = run(
        capsys,
        "exchange",
        "add-liquidity",
        "--pair",
        "XYZ/USDT",
        "--amount",
        "100",
        "--side",
        "sell",
        "--price",
        "2.5",
        "--levels",
        "4",
    )
    assert code == 0 and out.startswith("rested 4 orders, 100 XYZ in all, on kraken")
    code, out, _ = run(capsys, "book", "kraken", "XYZ/USDT", "--json")
    assert code == 0
    asks = json.loads(out)["asks"]
    # 100 XYZ over 4 levels above 2.5: 25 each, resting where the operator sees them.
    assert [Decimal(s) for _, s in asks] == [Decimal(25)] * 4
    assert all(Decimal(p) > Decimal("2.5") for p, _ in asks)
