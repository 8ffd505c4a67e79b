from __future__ import annotations

import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from aitbc_tui.domain import Balance, BookSnapshot, Market, OrderType, Side
from aitbc_tui.validation import ValidatedOrder, ValidationError, estimate, parse_decimal, validate_order

MARKET = Market(
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    lot_size=D("0.0001"),
    min_amount=D("0.001"),
    min_notional=D("5"),
    maker_fee=D("0.001"),
    taker_fee=D("0.002"),
)
# asks 100 x 0.5, 101 x 1 | bids 99 x 2
BOOK = BookSnapshot(
    "sim",
    "BTC/USDT",
    bids=((D("99"), D("2")),),
    asks=((D("100"), D("0.5")), (D("101"), D("1"))),
    timestamp=0.0,
)
EMPTY = BookSnapshot("sim", "BTC/USDT", (), (), 0.0)
BALANCES = {"USDT": Balance("USDT", D("1000")), "BTC": Balance("BTC", D("1"))}


@pytest.mark.parametrize(
    ("text", "rule", "fragment"),
    [
        ("", "required", "amount is required"),
        ("  ", "required", "amount is required"),
        (None, "required", "amount is required"),
        ("NaN", "nan", "NaN is not a number"),
        ("sNaN", "nan", "NaN is not a number"),
        ("inf", "finite", "not infinity"),
        ("-Infinity", "finite", "not infinity"),
        ("-1", "positive", "must be greater than 0"),
        ("0", "positive", "must be greater than 0"),
        ("0.000", "positive", "must be greater than 0"),
        ("1e3", "exponent", "write 1000"),
        ("2.5E-3", "exponent", "write 0.0025"),
        ("1e999999", "exponent", "plain digits"),
        ("１２", "ascii_digits", "ASCII digits"),  # fullwidth: Decimal() would accept it
        ("٣", "ascii_digits", "ASCII digits"),  # Arabic-Indic three
        ("1,000", "separator", "write 1000"),
        ("1_000", "separator", "write 1000"),  # Decimal() accepts underscores too
        ("12 345.5", "separator", "write 12345.5"),
        ("1,5", "decimal_point", "use '.' as the decimal point: 1.5"),
        ("+5", "sign", "without a '+' sign"),
        ("12.5.3", "number", "is not a number"),
        ("0x10", "number", "is not a number"),
        ("abc", "number", "is not a number"),
        ("9" * 31, "too_long", "at most 30"),
    ],
)
def test_parse_decimal_rejects_with_the_rule_named(text: str | None, rule: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_decimal(text, "amount")
    assert info.value.rule == rule
    assert info.value.field == "amount"
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  1.50 ", "1.50"),
        (".5", "0.5"),
        ("7", "7"),
        ("0.123456789012345678901234567", "0.123456789012345678901234567"),
    ],
)
def test_parse_decimal_is_exact(text: str, expected: str) -> None:
    value = parse_decimal(text, "price")
    assert value == D(expected) and str(value) == expected  # no rounding, typed scale kept


def test_parse_decimal_options() -> None:
    assert parse_decimal("0", "x", allow_zero=True) == 0
    assert parse_decimal("-2.5", "x", allow_negative=True) == D("-2.5")


def rules(result: ValidatedOrder | list[ValidationError]) -> list[tuple[str, str]]:
    assert isinstance(result, list), result
    return [(e.field, e.rule) for e in result]


def messages(result: ValidatedOrder | list[ValidationError]) -> list[str]:
    assert isinstance(result, list), result
    return [e.message for e in result]


def test_valid_limit_buy_with_fee_at_the_higher_rate() -> None:
    order = validate_order(MARKET, Side.BUY, OrderType.LIMIT, "0.5", "100", BALANCES, BOOK)
    assert isinstance(order, ValidatedOrder)
    # notional 0.5*100 = 50; fee at max(maker 0.001, taker 0.002) = 0.002 -> 0.1
    assert (order.amount, order.price, order.notional, order.fee) == (D("0.5"), D("100"), D("50"), D("0.1"))
    request = order.to_request("sim", "cid-1")
    assert (request.amount, request.price, request.client_order_id) == (D("0.5"), D("100"), "cid-1")


def test_valid_market_buy_walks_the_book() -> None:
    order = validate_order(MARKET, "buy", "market", "1", "ignored for market", BALANCES, BOOK)
    assert isinstance(order, ValidatedOrder)
    # 100*0.5 + 101*0.5 = 100.5; taker 0.002 -> 0.201; average 100.5
    assert (order.notional, order.fee, order.average_price, order.price) == (D("100.5"), D("0.201"), D("100.5"), None)


def test_lot_message_offers_the_neighbours() -> None:
    result = validate_order(MARKET, Side.SELL, OrderType.LIMIT, "0.12345", "100", BALANCES, BOOK)
    assert rules(result) == [("amount", "lot")]
    assert messages(result) == ["0.12345 has more decimals than the lot size 0.0001 allows: use 0.1234 or 0.1235"]


def test_tick_message_offers_the_neighbours() -> None:
    result = validate_order(MARKET, Side.BUY, OrderType.LIMIT, "0.5", "100.005", BALANCES, BOOK)
    assert rules(result) == [("price", "tick")]
    assert messages(result) == ["100.005 has more decimals than the tick size 0.01 allows: use 100.00 or 100.01"]


def test_non_decimal_step_uses_multiple_wording() -> None:
    market = Market("X/USD", "X", "USD", D("0.05"), D("0.5"), D("0.5"), D("0"), D("0"), D("0"))
    result = validate_order(market, Side.BUY, OrderType.LIMIT, "1.2", "10.02", {"USD": Balance("USD", D("100"))}, None)
    assert messages(result) == [
        "1.2 is not a multiple of the lot size 0.5: use 1.0 or 1.5",
        "10.02 is not a multiple of the tick size 0.05: use 10.00 or 10.05",
    ]


def test_too_many_decimals_below_lot_and_min_amount() -> None:
    result = validate_order(MARKET, Side.BUY, OrderType.LIMIT, "0.000000001", "100", BALANCES, BOOK)
    # 0.000000001 / 0.0001 -> below is 0 (not offered), above 0.0001; also < min 0.001 and notional 1e-7 < 5
    assert rules(result) == [("amount", "lot"), ("amount", "min_amount"), ("notional", "min_notional")]
    assert messages(result)[0] == "0.000000001 has more decimals than the lot size 0.0001 allows: use 0.0001"


def test_below_min_notional() -> None:
    result = validate_order(MARKET, Side.BUY, OrderType.LIMIT, "0.01", "100", BALANCES, BOOK)
    # 0.01 * 100 = 1 USDT < 5
    assert rules(result) == [("notional", "min_notional")]
    assert messages(result) == ["order value 1 USDT is below the minimum 5 USDT"]


def test_market_order_below_min_notional_uses_the_book_estimate() -> None:
    result = validate_order(MARKET, Side.SELL, OrderType.MARKET, "0.002", None, BALANCES, BOOK)
    # 0.002 * 99 = 0.198 < 5
    assert rules(result) == [("amount", "min_notional")]


def test_buy_over_balance_includes_the_fee() -> None:
    result = validate_order(MARKET, Side.BUY, OrderType.LIMIT, "10", "100", BALANCES, BOOK)
    # 10*100 = 1000 + fee 1000*0.002 = 2 -> needs 1002, free 1000
    assert rules(result) == [("amount", "balance")]
    assert messages(result) == ["needs 1002 USDT including the fee, only 1000 USDT free"]
    # exactly enough: 9.98*100 = 998 + 1.996 = 999.996 <= 1000
    assert isinstance(validate_order(MARKET, Side.BUY, OrderType.LIMIT, "9.98", "100", BALANCES, BOOK), ValidatedOrder)


def test_sell_over_balance_and_missing_balance() -> None:
    result = validate_order(MARKET, Side.SELL, OrderType.LIMIT, "2", "100", BALANCES, BOOK)
    assert rules(result) == [("amount", "balance")]
    assert messages(result) == ["needs 2 BTC, only 1 BTC free"]
    assert rules(validate_order(MARKET, Side.BUY, OrderType.LIMIT, "1", "100", {}, BOOK)) == [("amount", "balance")]


@pytest.mark.parametrize("book", [EMPTY, None])
def test_market_order_with_no_liquidity(book: BookSnapshot | None) -> None:
    result = validate_order(MARKET, Side.BUY, OrderType.MARKET, "0.5", "", BALANCES, book)
    assert rules(result) == [("amount", "liquidity")]
    assert "no asks in the book" in messages(result)[0]


def test_market_order_bigger_than_the_visible_book() -> None:
    result = validate_order(MARKET, Side.BUY, OrderType.MARKET, "5", "", BALANCES, BOOK)
    # asks hold 0.5 + 1 = 1.5
    assert rules(result) == [("amount", "liquidity")]
    assert "holds only 1.5 BTC of asks" in messages(result)[0]


def test_all_field_errors_at_once() -> None:
    result = validate_order(MARKET, Side.BUY, OrderType.LIMIT, "abc", "1e3", BALANCES, BOOK)
    assert rules(result) == [("amount", "number"), ("price", "exponent")]


def test_estimate_for_the_form() -> None:
    # limit: 0.5*100 = 50, fee 0.1 at the max rate
    assert estimate(MARKET, Side.BUY, OrderType.LIMIT, D("0.5"), D("100"), None) == (D("50"), D("0.1"))
    # market sell 1 on bids 99x2: 99, fee 0.198
    assert estimate(MARKET, Side.SELL, OrderType.MARKET, D("1"), None, BOOK) == (D("99"), D("0.198"))
    assert estimate(MARKET, Side.BUY, OrderType.MARKET, D("5"), None, BOOK) == (None, None)
    assert estimate(MARKET, Side.BUY, OrderType.LIMIT, D("1"), None, BOOK) == (None, None)


def test_modules_do_not_import_textual_or_ccxt() -> None:
    code = (
        "import sys\n"
        "import aitbc_tui.analysis, aitbc_tui.validation\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'ccxt'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    )
    assert out.stdout.strip() == ""
