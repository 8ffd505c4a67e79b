"""The desk bus's wire format: exact decimals, sequence numbers, deltas, subjects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aitbc_tui.desk import wire
from aitbc_tui.domain import BookSnapshot, HealthStatus, Market, Side, VenueHealth
from aitbc_tui.market_data import Ticker24h, Trade

D = Decimal


def book_message(kind="snapshot", seq=1, bids=(), asks=(), epoch="e1") -> wire.BookMessage:
    return wire.BookMessage(
        kind, "binance", "BTC/USDT", epoch, seq, 1795000000.25, 1795000000.5, tuple(bids), tuple(asks)
    )


def roundtrip_book(message: wire.BookMessage) -> wire.BookMessage:
    return wire.parse_book(wire.decode(message.to_bytes()))


def test_subjects_sanitise_symbols():
    assert wire.subject("binance", "BTC/USDT", "book") == "md.binance.BTC-USDT.book"
    assert wire.subject("kraken", "BTC/USD:USD", "delta") == "md.kraken.BTC-USD_USD.delta"
    assert wire.subject("b", "1INCH.X/USDT", "trades") == "md.b.1INCH_X-USDT.trades"
    assert wire.health_subject("coinbase") == "md.coinbase.health"
    assert wire.markets_subject("coinbase") == "md.coinbase.markets"
    with pytest.raises(wire.WireError, match="subject token"):
        wire.subject("binance", "BTC USDT", "book")  # a space would split the subject
    with pytest.raises(wire.WireError, match="subject token"):
        wire.subject("bin.ance", "BTC/USDT", "book")
    with pytest.raises(wire.WireError, match="subject token"):
        wire.subject("binance", "BTC/*", "book")  # a wildcard


def test_snapshot_keeps_exact_decimals():
    bids = ((D("65000.10"), D("0.00000001")), (D("64999.9"), D("1E+3")))
    asks = ((D("65000.20"), D("12.3450")),)
    back = roundtrip_book(book_message(bids=bids, asks=asks, seq=41))
    assert back.bids == bids and back.asks == asks
    assert str(back.bids[0][0]) == "65000.10" and str(back.asks[0][1]) == "12.3450"  # trailing zeros kept
    assert all(type(x) is Decimal for level in back.bids + back.asks for x in level)
    assert (back.kind, back.seq, back.epoch, back.timestamp, back.sent) == (
        "snapshot",
        41,
        "e1",
        1795000000.25,
        1795000000.5,
    )


def test_wire_decimals_are_strings():
    raw = wire.decode(book_message(bids=((D("1.10"), D("2")),)).to_bytes())
    assert raw["bids"] == [["1.10", "2"]]


@pytest.mark.parametrize(
    ("levels", "why"),
    [
        ([[1.5, "1"]], "decimal string"),  # a float price
        ([["NaN", "1"]], "not allowed"),
        ([["Infinity", "1"]], "not allowed"),
        ([["1", "-2"]], "not allowed"),
        ([["0", "1"]], "not allowed"),  # a zero price
        ([["abc", "1"]], "not a number"),
        ([["1"]], r"\[price, size\]"),
    ],
)
def test_bad_levels_are_refused(levels, why):
    raw = wire.decode(book_message().to_bytes())
    raw["bids"] = levels
    with pytest.raises(wire.WireError, match=why):
        wire.parse_book(raw)


def test_a_zero_size_is_a_removal_in_a_delta_only():
    raw = wire.decode(book_message(kind="delta", bids=((D("1"), D("0")),)).to_bytes())
    assert wire.parse_book(raw).bids == ((D("1"), D("0")),)
    raw["type"] = "snapshot"
    with pytest.raises(wire.WireError, match="not allowed"):
        wire.parse_book(raw)


def test_decode_refuses_other_versions_and_non_objects():
    with pytest.raises(wire.WireError, match="version"):
        wire.decode(b'{"v": 99, "type": "snapshot"}')
    with pytest.raises(wire.WireError, match="object"):
        wire.decode(b"[1, 2]")
    with pytest.raises(wire.WireError, match="not JSON"):
        wire.decode(b"{nope")


def test_diff_then_apply_rebuilds_the_new_book():
    old_bids = ((D("100"), D("1")), (D("99"), D("2")), (D("98"), D("3")))
    old_asks = ((D("101"), D("1")), (D("102"), D("5")))
    new_bids = ((D("100"), D("1.5")), (D("98"), D("3")), (D("97"), D("4")))  # 100 resized, 99 gone, 97 new
    new_asks = ((D("101"), D("1")), (D("102"), D("5")))  # unchanged
    bid_changes = wire.diff_levels(old_bids, new_bids)
    assert sorted(bid_changes) == [(D("97"), D("4")), (D("99"), D("0")), (D("100"), D("1.5"))]
    assert wire.diff_levels(old_asks, new_asks) == ()

    book = wire.L2Book(book_message(seq=7, bids=old_bids, asks=old_asks))
    delta = roundtrip_book(book_message(kind="delta", seq=8, bids=bid_changes))
    assert book.follows(delta)
    book.apply(delta)
    snap = book.snapshot()
    assert snap == BookSnapshot("binance", "BTC/USDT", new_bids, new_asks, 1795000000.25, 8)
    assert book.snapshot(depth=1).bids == ((D("100"), D("1.5")),)


def test_follows_detects_gaps_and_a_new_collector_run():
    book = wire.L2Book(book_message(seq=7))
    assert book.follows(book_message(kind="delta", seq=8))
    assert not book.follows(book_message(kind="delta", seq=9))  # seq 8 was lost
    assert not book.follows(book_message(kind="delta", seq=7))  # a repeat
    assert not book.follows(book_message(kind="delta", seq=8, epoch="e2"))  # the collector restarted


def test_trades_roundtrip():
    trades = [Trade("BTC/USDT", 1795000000.5, D("65000.10"), D("0.0012"), Side.BUY, "t-1", venue="binance")]
    back = wire.parse_trades(wire.decode(wire.trades_bytes("binance", "BTC/USDT", trades, 1.0)))
    assert back == trades


def test_ticker_roundtrip():
    ticker = Ticker24h("ETH/USDT", D("3400.5"), D("3300"), D("3450.25"), D("3290"), D("12.5"), D("42500.125"), 17,
                       1795000000.0, bid=D("3400.4"), ask=None, venue="kraken", last_amount=D("0.1"),
                       first_trade_id="a", last_trade_id="z")  # fmt: skip
    back = wire.parse_ticker(wire.decode(wire.ticker_bytes("kraken", ticker, 1.0)))
    assert back == ticker


def test_health_roundtrip():
    health = VenueHealth("binance", HealthStatus.DEGRADED, 12.5, 0.25, last_error="probe: timed out",
                         probe="GET /api/v3/time", stale_after_s=8.0)  # fmt: skip
    back = wire.parse_health(wire.decode(wire.health_bytes(health, 1795000000.5, epoch="e9")))
    assert back.health == health and back.epoch == "e9" and back.sent == 1795000000.5
    raw = wire.decode(wire.health_bytes(health, 1.0, epoch="e9"))
    raw["status"] = "great"
    with pytest.raises(wire.WireError, match="health status"):
        wire.parse_health(raw)


def test_markets_roundtrip():
    market = Market("BTC/USDT", "BTC", "USDT", D("0.01"), D("0.00001"), D("0.00001"), D("5"), D("0.001"), D("0.001"))
    back = wire.parse_markets(wire.decode(wire.markets_bytes("binance", {"BTC/USDT": market}, 1.0)))
    assert back == {"BTC/USDT": market}
