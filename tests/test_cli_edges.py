"""CLI edges (issue 10): the impact line names the real reason it has no figure; symbols in
any case. (add-liquidity's per-venue --amount, its refused --price and book's any-case venue
and symbol are covered in test_cli_errors.py.)"""

from __future__ import annotations

import json

from aitbc_tui.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def one_sided_book(capsys):
    run(capsys, "exchange", "create-pair", "--base-asset", "foo", "--quote-asset", "usdt", "--exchange", "Kraken",
        "--min-order-size", "1", "--price-precision", "3", "--quantity-precision", "0")  # fmt: skip
    run(capsys, "exchange", "add-liquidity", "--pair", "foo/usdt", "--amount", "10", "--side", "sell",
        "--price", "2", "--levels", "2")  # fmt: skip


def test_impact_without_a_mid_says_so_not_book_too_thin(capsys):
    one_sided_book(capsys)
    out = run(capsys, "book", "kraken", "foo/usdt", "--impact-size", "1")
    line = out.splitlines()[-1]
    assert "no mid price: one side of the book is empty" in line, line
    assert "too thin" not in line
    data = json.loads(run(capsys, "book", "KRAKEN", "FOO/usdt", "--json", "--impact-size", "1"))
    assert data["analysis"]["buy_impact"]["unavailable"] == "no_mid"
    assert data["analysis"]["sell_impact"]["unavailable"] == "no_mid"


def test_impact_too_big_for_the_book_says_too_thin(capsys):
    out = run(capsys, "--seed", "5", "book", "binance", "aitbc/btc", "--impact-size", "100000000")
    line = out.splitlines()[-1]
    assert "book too thin (only" in line and "of 100,000,000 fillable" in line, line


def test_default_impact_is_worth_10000_usdt_in_any_quote(capsys):
    from decimal import Decimal

    for venue, symbol, worth in (("binance", "BTC/USDT", 1), ("coinbase", "AITBC/BTC", 65000)):
        a = json.loads(run(capsys, "--seed", "5", "book", venue, symbol, "--json"))["analysis"]
        assert (a["impact_value"], a["impact_value_currency"]) == ("10000", "USDT")
        usdt = Decimal(a["impact_size"]) * Decimal(a["mid"]) * worth  # was 1 base unit: 0.85 USD of AITBC
        assert Decimal("9000") < usdt < Decimal("11000"), (symbol, usdt)
