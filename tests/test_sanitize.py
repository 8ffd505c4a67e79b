"""Data at the boundary: impossible books are refused with a readable reason, venue text
cannot drive the terminal, and ccxt's garbage levels become BadData instead of a crash."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal as D

import pytest

from aitbc_tui.domain import BookSnapshot, VenueError
from aitbc_tui.sanitize import BadData, check_book, plain_text
from aitbc_tui.venues.ccxt_venue import book_from_ccxt


def book(bids, asks) -> BookSnapshot:
    return BookSnapshot("v", "BTC/USDT", tuple(bids), tuple(asks), 0.0)


GOOD_BIDS = [(D("100.0"), D("1")), (D("99.5"), D("2")), (D("99"), D("0.001"))]
GOOD_ASKS = [(D("100.5"), D("1.5")), (D("101"), D("3"))]


def refused(bids, asks) -> str:
    with pytest.raises(BadData) as info:
        check_book(book(bids, asks))
    return str(info.value)


# ---- check_book -----------------------------------------------------------------------


def test_a_good_book_is_returned_unchanged():
    snap = book(GOOD_BIDS, GOOD_ASKS)
    assert check_book(snap) is snap


@pytest.mark.parametrize("bids, asks", [([], []), (GOOD_BIDS, []), ([], GOOD_ASKS)])
def test_empty_and_one_sided_books_are_allowed(bids, asks):
    assert check_book(book(bids, asks)).bids == tuple(bids)


def test_bad_data_is_a_venue_error_with_its_reason():
    with pytest.raises(VenueError) as info:
        check_book(book([(D("101"), D("1"))], [(D("100"), D("1"))]))
    assert isinstance(info.value, BadData)
    assert info.value.reason == "crossed book: best bid 101 >= best ask 100"
    assert (info.value.venue, info.value.symbol) == ("v", "BTC/USDT")


def test_crossed_book_is_refused():
    assert refused([(D("101"), D("1"))], [(D("100"), D("1"))]) == (
        "bad data: crossed book: best bid 101 >= best ask 100"
    )


def test_locked_book_bid_equal_ask_is_refused():
    assert refused([(D("100"), D("1"))], [(D("100.0"), D("1"))]) == (
        "bad data: crossed book: best bid 100 >= best ask 100.0"
    )


@pytest.mark.parametrize(
    "bad, expected",
    [
        (D("NaN"), "bid 2 price is NaN"),
        (D("sNaN"), "bid 2 price is NaN"),
        (D("Infinity"), "bid 2 price is infinite"),
        (D("-Infinity"), "bid 2 price is infinite"),
        (D("0"), "bid 2 price 0 is not positive"),
        (D("-99.7"), "bid 2 price -99.7 is not positive"),
        (D("1E+400"), "bid 2 price 1E+400 is absurdly large (over 1E+15)"),
        (D("1E-999999"), "bid 2 price 1E-999999 is absurdly small (under 1E-18)"),
        (99.7, "bid 2 price is a float (99.7), not a Decimal"),
        ("99.7", "bid 2 price is a str ('99.7'), not a Decimal"),
        (None, "bid 2 price is a NoneType (None), not a Decimal"),
    ],
)
def test_bad_price_deep_in_the_book_is_refused(bad, expected):
    bids = [GOOD_BIDS[0], (bad, D("1")), GOOD_BIDS[2]]
    assert refused(bids, GOOD_ASKS) == f"bad data: {expected}"


@pytest.mark.parametrize(
    "bad, expected",
    [
        (D("NaN"), "ask 2 size is NaN"),
        (D("Infinity"), "ask 2 size is infinite"),
        (D("0"), "ask 2 size 0 is not positive"),
        (D("-1"), "ask 2 size -1 is not positive"),
        (D("1E+23"), "ask 2 size 1E+23 is absurdly large (over 1E+15)"),
        (3, "ask 2 size is a int (3), not a Decimal"),
    ],
)
def test_bad_size_is_refused(bad, expected):
    asks = [GOOD_ASKS[0], (D("101"), bad)]
    assert refused(GOOD_BIDS, asks) == f"bad data: {expected}"


def test_the_limits_themselves_are_allowed():
    check_book(book([(D("1e15"), D("1e-18"))], []))
    check_book(book([], [(D("1e-18"), D("1e15"))]))


def test_unsorted_bids_are_refused():
    bids = [(D("100"), D("1")), (D("99"), D("1")), (D("99.5"), D("1"))]
    assert refused(bids, GOOD_ASKS) == (
        "bad data: bids not in strictly descending price order: 99.5 after 99 at level 3"
    )


def test_unsorted_and_duplicate_asks_are_refused():
    assert refused(GOOD_BIDS, [(D("101"), D("1")), (D("100.5"), D("1"))]) == (
        "bad data: asks not in strictly ascending price order: 100.5 after 101 at level 2"
    )
    assert refused(GOOD_BIDS, [(D("101"), D("1")), (D("101.0"), D("1"))]) == (
        "bad data: asks not in strictly ascending price order: 101.0 after 101 at level 2"
    )


def test_a_level_that_is_not_a_pair_is_refused():
    assert refused([(D("100"),)], GOOD_ASKS) == "bad data: bid 1 is not a (price, size) pair: (Decimal('100'),)"


def test_too_many_digits_at_the_top_is_refused():
    long = D("100." + "1" * 60)
    assert refused([(long, D("1"))], GOOD_ASKS) == "bad data: best bid price has more than 40 digits"


# ---- plain_text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("order rejected", "order rejected"),
        ("clear\x1b[2J\x1b[Hscreen", "clearscreen"),  # CSI erase + home
        ("\x1b[31mred\x1b[0m", "red"),  # SGR
        ("\x1b]0;owned\x07title", "title"),  # OSC set title, BEL-terminated
        ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink, ST-terminated
        ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),  # DCS
        ("reset\x1bc!", "reset!"),  # RIS
        ("\x1b7save\x1b8", "save"),  # DECSC / DECRC
        ("8bit\x9b2Jcsi", "8bitcsi"),  # C1 CSI
        ("c1\x9d0;t\x9cend", "c1end"),  # C1 OSC ... ST
        ("nul\x00bel\x07bs\x08del\x7f", "nulbelbsdel"),
        ("line one\nline two\r\n\tthree", "line one line two three"),
        ("fake\n2024-01-01 ok", "fake 2024-01-01 ok"),
        ("bidi \u202egnp.exe\u202c \u2066x\u2069 \u200fy", "bidi gnp.exe x y"),
        ("trailing ESC\x1b", "trailing ESC"),
        ("nested \x1b\x1b[2Jok", "nested ok"),
        ("[/api/v3/order] markup stays text", "[/api/v3/order] markup stays text"),
        ("unicode ✓ €", "unicode ✓ €"),
    ],
)
def test_plain_text_strips_terminal_control(raw, expected):
    assert plain_text(raw) == expected


def test_plain_text_leaves_no_control_character_whatever_the_input():
    hostile = "".join(chr(c) for c in range(0, 0xA0)) * 3 + "\u202a\u202b\u202d\u2066\u2067\u2068\u061c"
    out = plain_text(hostile, limit=10_000)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in out)
    assert not set(out) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\u200e\u200f")


def test_plain_text_bounds_length_with_an_ellipsis():
    assert plain_text("x" * 600) == "x" * 499 + "…"
    assert len(plain_text("y" * 600, limit=20)) == 20
    assert plain_text("abc", limit=3) == "abc"
    assert plain_text("abcd", limit=3) == "ab…"


def test_plain_text_accepts_non_strings():
    assert plain_text(ValueError("bad\x1b[2J")) == "bad"
    assert plain_text(None) == "None"


# ---- book_from_ccxt -------------------------------------------------------------------


def ccxt_book(bids, asks, **extra):
    return {"bids": bids, "asks": asks, "timestamp": 1_700_000_000_000, "nonce": None, **extra}


def test_book_from_ccxt_converts_floats_exactly():
    snap = book_from_ccxt("bn", "BTC/USDT", ccxt_book([[65000.1, 0.1], [65000.0, 2]], [[65000.2, 1e-8]]), 20, 7)
    assert snap.bids == ((D("65000.1"), D("0.1")), (D("65000.0"), D("2")))
    assert snap.asks == ((D("65000.2"), D("1E-8")),)
    assert (snap.timestamp, snap.sequence) == (1_700_000_000.0, 7)


def test_book_from_ccxt_takes_price_and_size_of_longer_levels_and_cuts_at_depth():
    snap = book_from_ccxt("k", "BTC/USDT", ccxt_book([[10.0, 1.0, 1700000000], [9.0, 1.0, 1]], []), 1, 1)
    assert snap.bids == ((D("10.0"), D("1.0")),)


@pytest.mark.parametrize(
    "level, reason",
    [
        (["65000.1", 1.0], "bid 1 price is '65000.1', not a number"),
        ([65000.1, "abc"], "bid 1 size is 'abc', not a number"),
        ([None, 1.0], "bid 1 price is None, not a number"),
        ([True, 1.0], "bid 1 price is True, not a number"),
        ([1e400, 1.0], "bid 1 price is infinite"),  # 1e400 as a float is inf
        ([float("nan"), 1.0], "bid 1 price is NaN"),
        ([10**400, 1.0], "bid 1 price 1" + "0" * 38 + "… is absurdly large (over 1E+15)"),
        ([65000.1, 1e23], "bid 1 size 1E+23 is absurdly large (over 1E+15)"),
        ([65000.1, -1.0], "bid 1 size -1.0 is not positive"),
        ([65000.1, 0.0], "bid 1 size 0.0 is not positive"),
        ([65000.1], "bid 1 is [65000.1], not [price, size]"),
        ("65000.1", "bid 1 is '65000.1', not [price, size]"),
        (None, "bid 1 is None, not [price, size]"),
    ],
)
def test_book_from_ccxt_refuses_garbage_levels(level, reason):
    with pytest.raises(BadData) as info:
        book_from_ccxt("bn", "BTC/USDT", ccxt_book([level], [[70000.0, 1.0]]), 20, 1)
    assert str(info.value) == "bad data: " + reason


def test_book_from_ccxt_refuses_a_side_that_is_not_a_list():
    with pytest.raises(BadData, match="bad data: asks are 'oops', not a list of levels"):
        book_from_ccxt("bn", "BTC/USDT", ccxt_book([], "oops"), 20, 1)


def test_book_from_ccxt_refuses_a_crossed_book():
    with pytest.raises(BadData, match=r"^bad data: crossed book: best bid 65100.0 >= best ask 65000.0$"):
        book_from_ccxt("bn", "BTC/USDT", ccxt_book([[65100.0, 1.0]], [[65000.0, 1.0]]), 20, 1)


def test_book_from_ccxt_ignores_a_garbage_timestamp():
    snap = book_from_ccxt("bn", "BTC/USDT", ccxt_book([[1.0, 1.0]], [], timestamp="soon"), 20, 1)
    assert snap.timestamp > 1_600_000_000


def test_sanitize_imports_neither_textual_nor_ccxt():
    code = "import aitbc_tui.sanitize, sys; print(sorted(m for m in ('textual', 'ccxt') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
