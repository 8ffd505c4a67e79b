"""Number and age formatting used by every pane: exact Decimal text, no float round trip."""

from decimal import Decimal

import pytest

from aitbc_tui.formatting import decimals_of, fmt_age, fmt_age_coarse, fmt_bps, fmt_compact, fmt_fixed, sparkline


@pytest.mark.parametrize("step, places", [("0.01", 2), ("1", 0), ("0.00050", 4), ("0.00000001", 8), ("10", 0)])
def test_decimals_of_a_tick_or_lot(step, places):
    assert decimals_of(Decimal(step)) == places


def test_fixed_is_exact_and_grouped():
    assert fmt_fixed(Decimal("64928.5"), 2) == "64,928.50"
    assert fmt_fixed(Decimal("0.000012345"), 8, grouping=False) == "0.00001234"  # half-even: ...45 -> ...4
    assert fmt_fixed(Decimal("0.1") + Decimal("0.2"), 1) == "0.3"  # no float artefacts


@pytest.mark.parametrize(
    "value, text", [("999.994", "999.99"), ("1500", "1.50k"), ("16470000", "16.47M"), ("-2500000000", "-2.50B")]
)
def test_compact_quote_amounts(value, text):
    assert fmt_compact(Decimal(value)) == text


def test_bps_and_missing_values():
    assert fmt_bps(Decimal("-46.85")) == "-46.8"  # half-even
    assert fmt_bps(None) == "—"


@pytest.mark.parametrize(
    "seconds, fine, coarse",
    [(0.034, "34ms", "<1s"), (1.5, "1.5s", "1s"), (59.9, "59.9s", "59s"), (125, "2m", "2m"), (7300, "2h", "2h")],
)
def test_ages(seconds, fine, coarse):
    assert fmt_age(seconds) == fine
    assert fmt_age_coarse(seconds) == coarse


def test_sparkline_scales_to_the_window():
    assert sparkline([1.0, 2.0, 3.0], 10) == "▁▅█"
    assert sparkline([5.0, 5.0], 10) == "▁▁"
    assert sparkline([float(i) for i in range(30)], 4) == "▁▃▆█"


# ---- one precision per asset / market (issue 10: "Numbers that read right") ----------------

from aitbc_tui.domain import Market  # noqa: E402
from aitbc_tui.formatting import (  # noqa: E402
    amount_places,
    currency_places,
    fmt_amount,
    fmt_balance,
    fmt_exact,
    fmt_money,
    fmt_price,
    fmt_timestamp,
    json_quantize,
    price_places,
)


def _market(symbol: str, tick: str, lot: str) -> Market:
    base, quote = symbol.split("/")
    return Market(
        symbol, base, quote, Decimal(tick), Decimal(lot), Decimal(lot), Decimal(1), Decimal("0.001"), Decimal("0.001")
    )


BINANCE_BTC = _market("BTC/USDT", "0.01", "0.00001")
KRAKEN_BTC = _market("BTC/USDT", "0.1", "0.00000001")
AITBC_BTC = _market("AITBC/BTC", "0.00000001", "1")
FOO_BAR = _market("FOO/BAR", "0.001", "0.1")


def test_available_reads_the_same_whatever_its_history():
    # was 100000, 99344.0797350 and 100000.0 for the same column
    shown = [fmt_balance(Decimal(v), "USDT", BINANCE_BTC) for v in ("100000", "99344.0797350", "100000.0")]
    assert shown == ["100,000.00", "99,344.07", "100,000.00"]
    # rounded down: never shows more than there is
    assert fmt_balance(Decimal("0.999999999"), "BTC", BINANCE_BTC) == "0.99999"
    assert fmt_balance(Decimal("1.23456789"), "BTC", unit=True) == "1.23456789 BTC"


def test_prices_in_one_column_share_the_finest_tick():
    places = price_places(BINANCE_BTC, KRAKEN_BTC)
    assert places == 2
    assert [fmt_price(Decimal(p), KRAKEN_BTC, places=places) for p in ("65832.0", "65832.00", "65832.1")] == [
        "65,832.00", "65,832.00", "65,832.10"]  # fmt: skip
    assert fmt_price(Decimal("65832"), BINANCE_BTC) == "65,832.00"
    assert fmt_price(None, BINANCE_BTC) == "—"
    assert amount_places(BINANCE_BTC, KRAKEN_BTC) == 8
    assert fmt_amount(Decimal("0.5"), BINANCE_BTC) == "0.50000"


@pytest.mark.parametrize(
    "currency, market, places", [("USDT", None, 2), ("usd", None, 2), ("BTC", None, 8), ("ETH", None, 6),
                                 ("BAR", FOO_BAR, 3), ("FOO", FOO_BAR, 1), ("XYZ", None, 8)],
)  # fmt: skip
def test_money_precision_per_currency(currency, market, places):
    assert currency_places(currency, market) == places


def test_a_btc_profit_is_not_zero():
    # was "0.00 BTC"
    assert fmt_money(Decimal("0.000123456"), "BTC", AITBC_BTC, unit=True) == "0.00012346 BTC"
    assert fmt_compact(Decimal("0.000123456"), currency_places("BTC")) == "0.00012346"
    assert fmt_money(Decimal("1234.5"), "USDT") == "1,234.50"


def test_exact_never_cuts_a_digit():
    assert fmt_exact(Decimal("0.123456789"), 2) == "0.123456789"
    assert fmt_exact(Decimal("5"), 2) == "5.00"
    assert fmt_exact(Decimal("1E+3"), 0) == "1,000"


def test_timestamps_are_iso_utc_with_milliseconds():
    assert fmt_timestamp(1796132700.1239) == "2026-12-01T13:45:00.123Z"
    assert fmt_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert fmt_timestamp(None) is None


def test_json_quantize_drops_the_noise_not_the_value():
    noisy = Decimal(1) / Decimal(3) * Decimal(10000) / Decimal("65000")
    assert str(json_quantize(noisy, 2)) == "0.05"
    assert json_quantize(Decimal("1.5"), 2) == Decimal("1.50")
    assert json_quantize(None, 2) is None
