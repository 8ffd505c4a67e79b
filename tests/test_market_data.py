"""Candles, the tape's Trade and 24 h figures: hand-computed expectations."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aitbc_tui.domain import Side
from aitbc_tui.market_data import (
    Candle,
    CandleBuilder,
    SymbolMarketData,
    Trade,
    aggregate,
    bucket_start,
    build_candles,
    ticker_from_candles,
    ticker_from_trades,
)

T0 = 1_700_000_040  # a whole minute (1_700_000_040 % 60 == 0)


def trade(t: float, price: str, amount: str, side: Side = Side.BUY, id: str = "") -> Trade:
    return Trade("BTC/USDT", t, D(price), D(amount), side, id or str(t))


def test_t0_is_a_minute_boundary():
    assert T0 % 60 == 0 and bucket_start(T0 + 59.999, "1m") == T0 and bucket_start(T0 + 60, "1m") == T0 + 60


def test_candles_across_a_boundary():
    trades = [
        trade(T0 + 5, "100", "1"),
        trade(T0 + 30, "105", "2"),
        trade(T0 + 59.999, "95", "1"),
        trade(T0 + 60, "101", "0.5"),
    ]  # exactly on the boundary: opens the next candle
    first, second = build_candles(trades, "1m")
    assert (first.open_time, first.open, first.high, first.low, first.close) == (T0, D(100), D(105), D(95), D(95))
    assert first.volume == D(4) and first.quote_volume == D(405) and first.trades == 3  # 100 + 210 + 95
    assert (second.open_time, second.open, second.close, second.volume) == (T0 + 60, D(101), D(101), D("0.5"))
    assert second.quote_volume == D("50.5") and second.close_time == T0 + 120


def test_late_trades_go_into_their_own_candle():
    builder = CandleBuilder("1m")
    for t in (
        trade(T0 + 5, "100", "1"),
        trade(T0 + 30, "105", "2"),
        trade(T0 + 59, "95", "1"),
        trade(T0 + 65, "101", "1"),
    ):
        builder.add(t)
    changed = builder.add(trade(T0 + 10, "110", "0.5"))  # late, in the middle of the first candle
    assert changed.open_time == T0 and changed.high == D(110) and changed.close == D(95)  # close unchanged
    assert changed.volume == D("4.5") and changed.trades == 4
    changed = builder.add(trade(T0 + 2, "90", "1"))  # older than the candle's first trade: the new open
    assert (changed.open, changed.low, changed.close) == (D(90), D(90), D(95))
    assert builder.current.open_time == T0 + 60 and builder.current.close == D(101)


def test_a_late_trade_into_a_gap_and_a_too_old_one():
    builder = CandleBuilder("1m", max_candles=2)
    builder.add(trade(T0 + 1, "100", "1"))
    builder.add(trade(T0 + 181, "103", "1"))
    gap = builder.add(trade(T0 + 120, "102", "1"))  # a bucket with no candle yet, between the two
    assert gap.open_time == T0 + 120
    assert [c.open_time for c in builder.candles()] == [T0 + 120, T0 + 180]  # the oldest was trimmed
    assert builder.add(trade(T0 + 2, "99", "1")) is None  # older than a full builder keeps


def test_five_minute_candles_and_aggregation_agree():
    trades = [trade(T0 + 60 * k + 7, str(100 + k), "1") for k in range(7)]  # minutes 0..6
    five = build_candles(trades, "5m")
    start = bucket_start(T0, "5m")
    assert [c.open_time for c in five] == sorted({bucket_start(t.time, "5m") for t in trades})
    rolled = aggregate(build_candles(trades, "1m"), "5m")
    assert rolled == five
    assert five[0].open_time == start
    assert sum((c.volume for c in five), D(0)) == D(7)


def test_aggregate_refuses_a_coarser_source():
    with pytest.raises(ValueError):
        aggregate([Candle("1h", 0, D(1), D(1), D(1), D(1), D(1))], "5m")


def test_unknown_timeframe_names_the_allowed_ones():
    with pytest.raises(ValueError, match="1m, 5m, 15m, 1h, 4h, 1d"):
        CandleBuilder("2m")


def test_backfill_merge():
    builder = CandleBuilder("1m")
    builder.add(trade(T0 + 120 + 30, "105", "1"))  # we joined mid-candle at T0+150
    builder.add(trade(T0 + 120 + 40, "104", "1"))
    venue = [
        Candle("1m", T0, D(98), D(99), D(97), D(99), D(3), D(294), 3),
        Candle("1m", T0 + 60, D(99), D(101), D(99), D(100), D(2), D(200), 2),
        Candle("1m", T0 + 120, D(100), D(106), D(100), D(105), D(5), D(515), 5),  # our newest bucket
    ]
    builder.merge(venue)
    candles = builder.candles()
    assert candles[:2] == venue[:2]  # older buckets: the venue's
    newest = candles[2]
    # venue's open, widened high/low, our (newer) close, the larger volume
    assert (newest.open, newest.high, newest.low, newest.close) == (D(100), D(106), D(100), D(104))
    assert newest.volume == D(5) and newest.trades == 5
    builder.add(trade(T0 + 170, "107", "1"))  # live trades keep building the current candle
    assert builder.current.high == D(107) and builder.current.volume == D(6)
    assert builder.candles(since=T0 + 60)[0].open_time == T0 + 60
    assert [c.open_time for c in builder.candles(limit=2)] == [T0 + 60, T0 + 120]


def test_ticker_from_trades_window_and_change():
    now = float(T0 + 86400 * 2)
    trades = [
        trade(now - 86400, "90", "5"),  # exactly 24 h old: outside the window
        trade(now - 86399, "100", "1", id="a"),
        trade(now - 100, "110", "2"),
        trade(now, "99", "0.5", Side.SELL, id="z"),
        trade(now + 1, "1", "1"),  # in the future of `now`: ignored
    ]
    t = ticker_from_trades("BTC/USDT", trades, now)
    assert (t.last, t.open, t.high, t.low) == (D(99), D(100), D(110), D(99))
    assert t.base_volume == D("3.5") and t.quote_volume == D("369.5")  # 100 + 220 + 49.5
    assert t.trades == 3 and t.change == D(-1) and t.change_pct == D(-1)
    assert t.vwap == D("369.5") / D("3.5") and (t.first_trade_id, t.last_trade_id) == ("a", "z")


def test_ticker_without_trades_in_the_window_keeps_the_last_price():
    now = float(T0 + 86400 * 3)
    t = ticker_from_trades("BTC/USDT", [trade(now - 90000, "100", "1")], now)
    assert t.last == D(100) and t.base_volume == 0 and t.trades == 0 and t.change == 0 and t.change_pct == 0
    empty = ticker_from_trades("BTC/USDT", [], now)
    assert empty.last is None and empty.change is None and empty.change_pct is None


def test_ticker_from_minute_candles_matches_the_trades_on_minute_boundaries():
    now = float(T0 + 86400 + 30)
    trades = [
        trade(T0 + 86400 - 86340 + 1, "100", "1"),  # in the oldest minute of the window
        trade(T0 + 86400 - 86400 + 5, "80", "1"),  # a minute too old
        trade(T0 + 86400 + 10, "120", "2"),
    ]
    t = ticker_from_candles("BTC/USDT", build_candles(trades, "1m", 5000), now)
    assert (t.open, t.high, t.low, t.last, t.base_volume, t.trades) == (D(100), D(120), D(100), D(120), D(3), 2)
    assert t.change_pct == D(20)


def test_symbol_market_data_keeps_a_bounded_tape():
    data = SymbolMarketData("BTC/USDT", max_trades=3)
    for k in range(5):
        data.add(trade(T0 + k, str(100 + k), "1", id=str(k)))
    assert [t.id for t in data.recent()] == ["2", "3", "4"] and data.trade_count == 5
    assert data.candles("1m")[0].volume == D(5)  # candles saw every trade
    ticker = data.ticker(T0 + 10)
    assert ticker.last == D(104) and ticker.base_volume == D(5) and ticker.last_trade_id == "4"
