"""JSON and headless text keep exact decimals without 28-digit noise; times are ISO 8601 UTC."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from aitbc_tui.cli import main

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def places(text: str) -> int:
    return max(0, -Decimal(text).as_tuple().exponent)


def test_book_json_figures_are_quantized_and_the_time_is_iso(capsys):
    data = json.loads(run(capsys, "--seed", "5", "book", "binance", "ETH/BTC", "--json"))
    assert ISO_UTC.fullmatch(data["timestamp"]), data["timestamp"]
    a = data["analysis"]
    assert places(a["spread_bps"]) == 2  # was 28 significant digits
    assert places(a["liquidity_ratio"]) == 4
    for side in ("buy_impact", "sell_impact"):
        assert places(a[side]["bps"]) == 2
        assert places(a[side]["average_price"]) <= 5 + 4  # tick 0.00001 plus 4
    # exact figures stay exact: the mid is (bid + ask) / 2, not rounded
    bid, ask = Decimal(data["bids"][0][0]), Decimal(data["asks"][0][0])
    assert Decimal(a["mid"]) == (bid + ask) / 2


def test_arb_json_bps_are_quantized_with_units(capsys):
    rows = json.loads(run(capsys, "--seed", "5", "arb", "--json"))
    assert rows
    for r in rows:
        assert places(r["net_bps"]) == 2 and places(r["gross_bps"]) == 2
        assert (r["base"], r["quote"]) == tuple(r["symbol"].split("/"))
        assert r["valuation_currency"] == "USDT"
        assert places(r["est_profit_valuation"]) == 2


def test_book_text_shows_the_book_time_in_iso_utc(capsys):
    out = run(capsys, "--seed", "5", "book", "binance", "BTC/USDT", "--depth", "2")
    assert ISO_UTC.search(out.splitlines()[0])
