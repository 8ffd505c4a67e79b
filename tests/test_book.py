from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from aitbc_tui.book import OrderBook
from aitbc_tui.domain import BookSnapshot, Side


def levels(*pairs: tuple[str, str]) -> tuple[tuple[D, D], ...]:
    return tuple((D(p), D(q)) for p, q in pairs)


def test_apply_sorts_best_first_and_size_zero_removes() -> None:
    book = OrderBook("binance", "BTC/USDT")
    book.apply(Side.BUY, "99.5", "1")
    book.apply("bid", "100.0", "2")
    book.apply(Side.SELL, "101.25", "3")
    book.apply("ask", "100.5", "4")
    bids, asks = book.top(5)
    assert bids == levels(("100.0", "2"), ("99.5", "1"))
    assert asks == levels(("100.5", "4"), ("101.25", "3"))
    assert book.best_bid == D("100.0") and book.best_ask == D("100.5")

    book.apply(Side.BUY, "100.0", "0")  # remove the best bid
    book.apply(Side.SELL, "100.5", "0.00000000")  # Binance sends zero like this
    assert book.top(5) == (levels(("99.5", "1")), levels(("101.25", "3")))
    book.apply(Side.SELL, "555", "0")  # removing an absent level is a no-op
    assert book.ask_count == 1


def test_update_existing_level_changes_size_only() -> None:
    book = OrderBook()
    book.apply(Side.BUY, "10", "1")
    book.top(20)
    book.apply(Side.BUY, "10", "7.5")
    assert book.top(20)[0] == levels(("10", "7.5"))
    assert book.bid_count == 1


def test_decimals_come_from_the_original_strings_not_floats() -> None:
    book = OrderBook()
    book.apply(Side.SELL, "0.1", "0.30000000")
    ((price, size),) = book.top(1)[1]
    assert price == D("0.1") and str(price) == "0.1"  # not 0.1000000000000000055511...
    assert str(size) == "0.30000000"  # exchange formatting kept
    book.apply(Side.BUY, D("0.09"), 3)
    assert book.top(1)[0] == ((D("0.09"), D(3)),)


def test_float_input_uses_its_shortest_repr() -> None:
    book = OrderBook()
    book.apply(Side.SELL, 0.1, 2.5)  # ccxt hands out floats
    assert book.top(1)[1] == ((D("0.1"), D("2.5")),)


def test_top_returns_fewer_levels_when_the_book_is_thin() -> None:
    book = OrderBook()
    book.apply(Side.BUY, "1", "1")
    assert book.top(20) == (levels(("1", "1")), ())
    assert book.top(0) == ((), ())


def test_replace_is_a_snapshot() -> None:
    book = OrderBook()
    book.apply(Side.BUY, "50", "1")
    book.top(10)
    book.replace(bids=[("9", "1"), ("10", "2"), ("8", "0")], asks=[("12", "5"), ("11", "1")])
    assert book.top(10) == (levels(("10", "2"), ("9", "1")), levels(("11", "1"), ("12", "5")))
    assert book.bid_count == 2  # the size-0 level in the snapshot is not stored


def test_apply_many_and_binance_diff_and_snapshot() -> None:
    book = OrderBook("binance", "BTC/USDT")
    book.load_binance_snapshot(
        {"lastUpdateId": 100, "bids": [["100.00", "1.0"], ["99.00", "2.0"]], "asks": [["101.00", "1.5"]]}
    )
    assert book.sequence == 100
    book.apply_binance_depth(
        {
            "e": "depthUpdate",
            "E": 1,
            "s": "BTCUSDT",
            "U": 101,
            "u": 103,
            "b": [["100.00", "0.00000000"], ["99.50", "3.0"]],
            "a": [["100.80", "0.5"]],
        }
    )
    assert book.sequence == 103
    assert book.top(5) == (levels(("99.50", "3.0"), ("99.00", "2.0")), levels(("100.80", "0.5"), ("101.00", "1.5")))
    # combined-stream wrapper
    book.apply_binance_depth({"stream": "btcusdt@depth", "data": {"u": 104, "b": [], "a": [["100.80", "0"]]}})
    assert book.best_ask == D("101.00") and book.sequence == 104
    book.apply_many("sell", [("102", "1"), ("103", "1")])
    assert book.ask_count == 3


def test_snapshot_is_an_immutable_domain_copy() -> None:
    book = OrderBook("sim", "ETH/USDT")
    book.apply_many(Side.BUY, [("10", "1"), ("9", "1"), ("8", "1")])
    book.apply_many(Side.SELL, [("11", "1"), ("12", "1")])
    snap = book.snapshot(depth=2, timestamp=5.0, sequence=7)
    assert snap == BookSnapshot(
        "sim", "ETH/USDT", levels(("10", "1"), ("9", "1")), levels(("11", "1"), ("12", "1")), 5.0, 7
    )
    book.apply(Side.BUY, "10", "0")
    assert snap.best_bid == D("10")  # the copy does not change with the book


def test_crossed_book_is_reported_not_repaired() -> None:
    book = OrderBook()
    book.apply(Side.BUY, "100", "1")
    book.apply(Side.SELL, "101", "1")
    assert not book.crossed
    book.apply(Side.BUY, "101", "1")  # touching: bid == ask counts as crossed
    assert book.crossed
    book.apply(Side.BUY, "102", "1")
    assert book.crossed
    assert book.top(1) == (levels(("102", "1")), levels(("101", "1")))  # reported as sent
    book.apply(Side.BUY, "102", "0")
    book.apply(Side.BUY, "101", "0")
    assert not book.crossed
    book.apply(Side.SELL, "101", "0")
    assert not book.crossed  # one empty side is not crossed


@pytest.mark.parametrize(
    ("price", "size"), [("nan", "1"), ("inf", "1"), ("-5", "1"), ("0", "1"), ("5", "-1"), ("5", "nan")]
)
def test_invalid_levels_raise(price: str, size: str) -> None:
    book = OrderBook()
    with pytest.raises(ValueError):
        book.apply(Side.SELL, price, size)
    with pytest.raises(ValueError):
        book.apply(Side.BUY, price, size)


def test_unknown_side_and_bad_types_raise() -> None:
    book = OrderBook()
    with pytest.raises(ValueError):
        book.apply("middle", "1", "1")
    with pytest.raises(TypeError):
        book.apply(Side.BUY, None, "1")


def test_version_bumps_only_on_change() -> None:
    book = OrderBook()
    v = book.version
    book.apply(Side.BUY, "1", "0")  # absent level removed: nothing changed
    assert book.version == v
    book.apply(Side.BUY, "1", "1")
    assert book.version == v + 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_updates_match_a_naive_model(seed: int) -> None:
    """Interleave updates near and far from the top with reads of varying depth."""
    rng = random.Random(seed)
    book = OrderBook()
    model: dict[str, dict[D, D]] = {"bid": {}, "ask": {}}
    for step in range(3000):
        side = rng.choice(["bid", "ask"])
        ticks = rng.randint(1, 60)
        price = f"{(1000 - ticks) if side == 'bid' else (1000 + ticks)}.{rng.randint(0, 9)}"
        size = rng.choice(["0", "0", f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"])
        book.apply(side, price, size)
        if D(size) == 0:
            model[side].pop(D(price), None)
        else:
            model[side][D(price)] = D(size)
        if rng.random() < 0.3:
            n = rng.choice([1, 5, 20, 20, 20, 40])
            bids, asks = book.top(n)
            assert bids == tuple(sorted(model["bid"].items(), reverse=True)[:n]), step
            assert asks == tuple(sorted(model["ask"].items())[:n]), step
    book.replace([], [])
    assert book.top(20) == ((), ())
