"""Pure pieces of the market panes: the watchlist's sort order, the tape's gap line and size
filter, the ccxt trade cursor (hand-made rows, hand-computed expectations)."""

from __future__ import annotations

from decimal import Decimal as D

from aitbc_tui.domain import Side
from aitbc_tui.market_data import Trade
from aitbc_tui.market_feed import TapeGap, TapeSnapshot
from aitbc_tui.ui.panes.tape import TapeView, gap_text, size_filter, tape_rows
from aitbc_tui.ui.panes.watchlist import WatchRow, sort_rows


def row(venue: str, symbol: str, change: str | None, volume: str | None, spread: str | None) -> WatchRow:
    return WatchRow(venue, symbol, D(1), None if change is None else D(change), D(1),
                    None if volume is None else D(volume), None if spread is None else D(spread), 0.0, 2, 5, 2)  # fmt: skip


ROWS = [
    row("kraken", "BTC/USDT", "1.5", "900", "2.0"),
    row("binance", "BTC/USDT", "-0.5", "1000", "1.0"),
    row("binance", "ETH/USDT", None, None, None),
    row("coinbase", "AITBC/USDT", "3", "10", "30"),
]


def keys(rows):
    return [(r.venue, r.symbol) for r in rows]


def test_watchlist_sorts_by_symbol_change_volume_and_spread_unknowns_last():
    assert keys(sort_rows(ROWS, "symbol")) == [("coinbase", "AITBC/USDT"), ("binance", "BTC/USDT"),
                                               ("kraken", "BTC/USDT"), ("binance", "ETH/USDT")]  # fmt: skip
    assert keys(sort_rows(ROWS, "change")) == [("coinbase", "AITBC/USDT"), ("kraken", "BTC/USDT"),
                                               ("binance", "BTC/USDT"), ("binance", "ETH/USDT")]  # fmt: skip
    assert keys(sort_rows(ROWS, "volume")) == [("binance", "BTC/USDT"), ("kraken", "BTC/USDT"),
                                               ("coinbase", "AITBC/USDT"), ("binance", "ETH/USDT")]  # fmt: skip
    assert keys(sort_rows(ROWS, "spread")) == [("binance", "BTC/USDT"), ("kraken", "BTC/USDT"),
                                               ("coinbase", "AITBC/USDT"), ("binance", "ETH/USDT")]  # fmt: skip
    # reversed: the known figures flip, the row without one stays last
    assert keys(sort_rows(ROWS, "spread", descending=True))[:3] == [("coinbase", "AITBC/USDT"),
                                                                    ("kraken", "BTC/USDT"), ("binance", "BTC/USDT")]  # fmt: skip
    assert keys(sort_rows(ROWS, "spread", descending=True))[3] == ("binance", "ETH/USDT")


def trade(i: int, amount: str, side: Side = Side.BUY, own: bool = False) -> Trade:
    return Trade("BTC/USDT", 1_795_000_000.0 + i, D("65000.5"), D(amount), side, str(i), own, "binance")


def test_tape_rows_newest_first_with_the_gap_where_the_feed_was_lost():
    gap = TapeGap(1_795_000_001.0, 1_795_000_009.0, 1, "binance: connection lost")
    entries = (trade(0, "0.1"), trade(1, "0.2", Side.SELL), gap, trade(5, "0.3", own=True))
    view = TapeView("binance", "BTC/USDT", TapeSnapshot("binance", "BTC/USDT", entries, 1), None)
    rows = tape_rows(view)
    assert [r[0][0] for r in rows] == ["11:06:45", gap_text(gap), "11:06:41", "11:06:40"]
    assert gap_text(gap) == "── gap 11:06:41–11:06:49: 1 trade backfilled · binance: connection lost"
    assert rows[0][4] == ("◆", "linetable--live") and rows[2][1] == ("sell", "linetable--ask")
    # f: at least the median amount (0.2 of 0.1 / 0.2 / 0.3), then 5x it
    assert size_filter(view, 1) == D("0.2") and size_filter(view, 2) == D("1.0") and size_filter(view, 0) is None
    filtered = tape_rows(TapeView("binance", "BTC/USDT", view.tape, None, D("0.2")))
    assert [r[0][0] for r in filtered] == ["11:06:45", gap_text(gap), "11:06:41"]  # the gap always shows


def test_watchlist_volumes_fit_their_column_without_cutting_a_number():
    from decimal import Decimal as D

    from aitbc_tui.ui.panes.watchlist import _volume

    assert _volume(D("11.597849"), 8) == "11.60"
    assert _volume(D("1290.4"), 8) == "1.29k"
    assert _volume(D("3400000"), 2) == "3.40M"
    assert _volume(D("0.04963875"), 8) == "0.04963875"
