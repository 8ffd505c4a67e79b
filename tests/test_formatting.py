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
