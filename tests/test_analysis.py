from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from aitbc_tui.analysis import (
    ArbitrageIndex,
    analyse_book,
    depth_within,
    find_arbitrage,
    net_bps,
    price_impact,
    spread,
    spread_bps,
    walk_levels,
)
from aitbc_tui.domain import BookSnapshot, Side


def lv(*pairs: tuple[str, str]) -> tuple[tuple[D, D], ...]:
    return tuple((D(p), D(q)) for p, q in pairs)


def q(x: D | None, places: str = "0.0001") -> D:
    assert x is not None
    return x.quantize(D(places))


# bids 100x2, 99.6x3, 99x5 | asks 101x1, 101.4x4, 102x10
BOOK = BookSnapshot(
    "sim",
    "BTC/USDT",
    bids=lv(("100", "2"), ("99.6", "3"), ("99", "5")),
    asks=lv(("101", "1"), ("101.4", "4"), ("102", "10")),
    timestamp=0.0,
)


def test_mid_spread_and_spread_bps() -> None:
    assert BOOK.mid == D("100.5")  # (100 + 101) / 2
    assert spread(BOOK) == D("1")  # 101 - 100
    # 1 / 100.5 * 10000 = 99.50248756...
    assert q(spread_bps(BOOK), "0.000001") == D("99.502488")


def test_depth_half_and_one_percent() -> None:
    half = depth_within(BOOK, D("0.005"))
    assert half is not None
    # band 100.5*0.995 = 99.9975 .. 100.5*1.005 = 101.0025
    assert half.bid_quote == D("200")  # 100*2
    assert half.ask_quote == D("101")  # 101*1
    assert half.total_quote == D("301")
    assert not half.truncated  # both sides have a level outside the band
    one = depth_within(BOOK, D("0.01"))
    assert one is not None
    # band 99.495 .. 101.505
    assert one.bid_quote == D("498.8")  # 100*2 + 99.6*3 = 200 + 298.8
    assert one.ask_quote == D("506.6")  # 101*1 + 101.4*4 = 101 + 405.6
    assert one.total_quote == D("1005.4")


def test_depth_flags_a_snapshot_that_ends_inside_the_band() -> None:
    thin = BookSnapshot("sim", "X", lv(("100", "1")), lv(("100.2", "1")), 0.0)
    band = depth_within(thin, D("0.01"))
    assert band is not None and band.truncated


def test_price_impact_vs_mid() -> None:
    buy = price_impact(BOOK, Side.BUY, D("3"))
    # 101*1 + 101.4*2 = 303.8; avg 101.2666...; (101.2666.. - 100.5)/100.5*1e4 = 76.2852
    assert buy.fillable_size == D("3") and buy.complete
    assert q(buy.average_price) == D("101.2667")
    assert q(buy.impact_bps) == D("76.2852")
    sell = price_impact(BOOK, Side.SELL, D("4"))
    # 100*2 + 99.6*2 = 399.2; avg 99.8; (100.5 - 99.8)/100.5*1e4 = 69.6517
    assert sell.average_price == D("99.8")
    assert q(sell.impact_bps) == D("69.6517")


def test_price_impact_when_the_book_cannot_fill() -> None:
    too_big = price_impact(BOOK, Side.BUY, D("20"))
    # asks hold 1 + 4 + 10 = 15
    assert not too_big.complete
    assert too_big.fillable_size == D("15")
    assert too_big.impact_bps is None
    empty = BookSnapshot("sim", "X", (), (), 0.0)
    assert price_impact(empty, Side.SELL, D("1")).fillable_size == 0


def test_walk_levels_reports_worst_price() -> None:
    walk = walk_levels(BOOK.asks, D("1.5"))
    assert walk.cost_quote == D("151.7")  # 101*1 + 101.4*0.5
    assert walk.worst_price == D("101.4")


def test_analyse_book_bundles_everything() -> None:
    a = analyse_book(BOOK, D("3"))
    assert (a.best_bid, a.best_ask, a.mid, a.spread) == (D("100"), D("101"), D("100.5"), D("1"))
    assert a.depth_half_pct is not None and a.depth_half_pct.total_quote == D("301")
    # liquidity ratio within 1 %: 498.8 / 506.6 = 0.984603...
    assert q(a.liquidity_ratio, "0.000001") == D("0.984603")
    assert a.buy_impact.complete and a.sell_impact.complete
    one_sided = analyse_book(BookSnapshot("sim", "X", lv(("1", "1")), (), 0.0), D("1"))
    assert one_sided.mid is None and one_sided.spread is None and one_sided.liquidity_ratio is None


def test_liquidity_ratio_none_without_ask_depth() -> None:
    # ask 200 is outside +1 % of mid 150 -> ask depth 0 within the band
    wide = BookSnapshot("sim", "X", lv(("100", "1")), lv(("200", "1")), 0.0)
    assert analyse_book(wide, D("1")).liquidity_ratio is None


# ---- arbitrage ---------------------------------------------------------------------

A = BookSnapshot("A", "X/USD", bids=lv(("99", "1")), asks=lv(("100", "1"), ("100.5", "2"), ("102", "5")), timestamp=0.0)
B = BookSnapshot(
    "B", "X/USD", bids=lv(("101", "1.5"), ("100.8", "1"), ("100", "10")), asks=lv(("101.5", "1")), timestamp=0.0
)
FEES = {("A", "X/USD"): D("0.001"), ("B", "X/USD"): D("0.002")}


def test_arbitrage_net_of_fees_and_executable_size() -> None:
    [opp] = find_arbitrage({("A", "X/USD"): A, ("B", "X/USD"): B}, FEES, D("0"))
    assert (opp.buy_venue, opp.sell_venue, opp.buy_price, opp.sell_price) == ("A", "B", D("100"), D("101"))
    assert opp.gross_bps == D("100")  # (101 - 100)/100*1e4
    # cost 100*1.001 = 100.1; proceeds 101*0.998 = 100.798; 0.698/100.1*1e4 = 69.7303
    assert q(opp.net_bps) == D("69.7303")
    # slice 1: ask 100 x bid 101, take min(1, 1.5)=1, margin 0.698 -> 0.698
    # slice 2: ask 100.5 x bid 101 (0.5 left), margin 100.798 - 100.6005 = 0.1975, take 0.5 -> 0.09875
    # slice 3: ask 100.5 x bid 100.8: 100.5984 - 100.6005 = -0.0021 <= 0 -> stop
    assert opp.executable_size == D("1.5")
    assert opp.est_profit_quote == D("0.79675")
    assert (opp.buy_limit_price, opp.sell_limit_price) == (D("100.5"), D("101"))


def test_arbitrage_lists_negative_pairs_when_asked() -> None:
    books = {("A", "X/USD"): A, ("B", "X/USD"): B}
    both = find_arbitrage(books, FEES, D("-1000"))
    assert [(o.buy_venue, o.sell_venue) for o in both] == [("A", "B"), ("B", "A")]
    reverse = both[1]
    # buy B at 101.5, sell A at 99: gross -2.5/101.5*1e4 = -246.3054
    assert q(reverse.gross_bps) == D("-246.3054")
    # (99*0.999 - 101.5*1.002) / (101.5*1.002) * 1e4 = (98.901 - 101.703)/101.703*1e4 = -275.5081
    assert q(reverse.net_bps) == D("-275.5081")
    assert reverse.executable_size == 0 and reverse.est_profit_quote == 0
    assert reverse.buy_limit_price is None


def test_best_pair_per_symbol_when_no_threshold() -> None:
    # C has the cheaper-looking ask but a 0.5 % fee: cost 100.2*1.005 = 100.701 vs B's 101*0.998 = 100.798,
    # so C->B nets (100.798 - 100.701)/100.701*1e4 = 9.63 bps, below A->B's 69.73.
    C = BookSnapshot("C", "X/USD", bids=lv(("98", "1")), asks=lv(("100.2", "3")), timestamp=0.0)
    # Y/USD: only negative pairs; the best still shows
    YA = BookSnapshot("A", "Y/USD", bids=lv(("10", "1")), asks=lv(("10.1", "1")), timestamp=0.0)
    YB = BookSnapshot("B", "Y/USD", bids=lv(("10.05", "1")), asks=lv(("10.2", "1")), timestamp=0.0)
    books = {("A", "X/USD"): A, ("B", "X/USD"): B, ("C", "X/USD"): C, ("A", "Y/USD"): YA, ("B", "Y/USD"): YB}
    fees = dict(FEES) | {("C", "X/USD"): D("0.005"), ("A", "Y/USD"): D("0.001"), ("B", "Y/USD"): D("0.001")}
    rows = find_arbitrage(books, fees, None)
    assert [(o.symbol, o.buy_venue, o.sell_venue) for o in rows] == [("X/USD", "A", "B"), ("Y/USD", "A", "B")]
    # Y: (10.05*0.999 - 10.1*1.001)/(10.1*1.001)*1e4 = (10.03995 - 10.1101)/10.1101*1e4 = -69.3861
    assert q(rows[1].net_bps) == D("-69.3861")
    positive = find_arbitrage(books, fees, D("0"))
    assert [(o.buy_venue, o.sell_venue) for o in positive] == [("A", "B"), ("C", "B")]
    assert q(positive[1].net_bps, "0.01") == D("9.63")
    assert positive[1].executable_size == D("1.5")  # C has 3 at 100.2 but B's 101 holds 1.5, then 100.8*0.998 < 100.701
    assert find_arbitrage(books, fees, D("70")) == []


def test_single_venue_symbols_and_missing_fee() -> None:
    assert find_arbitrage({("A", "X/USD"): A}, FEES, None) == []
    with pytest.raises(KeyError, match="no taker fee for X/USD on B"):
        find_arbitrage({("A", "X/USD"): A, ("B", "X/USD"): B}, {("A", "X/USD"): D("0")}, None)


def test_net_bps_formula() -> None:
    # zero fees: net == gross
    assert net_bps(D("100"), D("0"), D("101"), D("0")) == D("100")


def random_book(rng: random.Random, venue: str, symbol: str) -> BookSnapshot:
    mid = D(1000) + D(rng.randint(-300, 300)) / 100
    bids = []
    asks = []
    price_b = mid - D(rng.randint(1, 50)) / 100
    price_a = mid + D(rng.randint(1, 50)) / 100
    for _ in range(rng.randint(0, 5)):
        bids.append((price_b, D(rng.randint(1, 500)) / 100))
        price_b -= D(rng.randint(1, 80)) / 100
    for _ in range(rng.randint(0, 5)):
        asks.append((price_a, D(rng.randint(1, 500)) / 100))
        price_a += D(rng.randint(1, 80)) / 100
    return BookSnapshot(venue, symbol, tuple(bids), tuple(asks), 0.0)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_incremental_index_equals_full_rescan(seed: int) -> None:
    rng = random.Random(seed)
    venues = ["v0", "v1", "v2", "v3", "v4"]
    symbols = ["S0", "S1", "S2"]
    fees = {(v, s): D(rng.choice(["0", "0.0005", "0.001", "0.002"])) for v in venues for s in symbols}
    index = ArbitrageIndex(fees)
    books: dict[tuple[str, str], BookSnapshot] = {}
    for step in range(400):
        v, s = rng.choice(venues), rng.choice(symbols)
        if rng.random() < 0.1 and (v, s) in books:
            del books[(v, s)]
            index.remove(v, s)
        else:
            books[(v, s)] = random_book(rng, v, s)
            index.update(books[(v, s)])
        for threshold in (None, D("0"), D("-20")):
            assert index.opportunities(threshold) == find_arbitrage(books, fees, threshold), (step, threshold)
    assert any(o.net_bps > 0 for o in find_arbitrage(books, fees, None))  # the test exercised profitable pairs


def test_index_requires_a_fee() -> None:
    with pytest.raises(KeyError):
        ArbitrageIndex().update(A)
    index = ArbitrageIndex()
    index.set_fee("A", "X/USD", D("0.001"))
    index.set_fee("B", "X/USD", D("0.002"))
    index.update(A)
    index.update(B)
    assert index.opportunities(D("0")) == find_arbitrage({("A", "X/USD"): A, ("B", "X/USD"): B}, FEES, D("0"))


# ---- arbitrage sized by what the operator holds (issue 10) -------------------------------

from aitbc_tui.analysis import evaluate_pair, valuation_rates  # noqa: E402
from aitbc_tui.domain import Balance  # noqa: E402

# A deep book on both venues: the books alone allow ~990 ETH.
DEEP_A = BookSnapshot("kraken", "ETH/USDT", bids=lv(("3390", "500")),
                      asks=lv(("3400", "400"), ("3400.5", "600")), timestamp=0.0)  # fmt: skip
DEEP_B = BookSnapshot("binance", "ETH/USDT", bids=lv(("3440", "700"), ("3439", "290.98")),
                      asks=lv(("3450", "500")), timestamp=0.0)  # fmt: skip
DEEP_FEES = {("kraken", "ETH/USDT"): D("0.001"), ("binance", "ETH/USDT"): D("0.001")}
HOLDINGS = {v: {"USDT": Balance("USDT", D("100000")), "ETH": Balance("ETH", D("30"))} for v in ("kraken", "binance")}


def test_arbitrage_size_is_capped_by_the_balances_on_both_legs() -> None:
    uncapped = evaluate_pair("ETH/USDT", DEEP_A, D("0.001"), DEEP_B, D("0.001"))
    assert uncapped.executable_size == D("990.98") and uncapped.capped_by == ""  # the old figure
    opp = evaluate_pair("ETH/USDT", DEEP_A, D("0.001"), DEEP_B, D("0.001"), balances=HOLDINGS)
    # 100,000 USDT on kraken buys 100000 / (3400 * 1.001) = 29.38... ETH, under the 30 ETH on binance
    assert opp.executable_size == (D("100000") / (D("3400") * D("1.001"))).quantize(
        D("0.00000001"), rounding="ROUND_DOWN"
    )
    assert opp.executable_size < 30
    assert (opp.base, opp.quote, opp.capped_by) == ("ETH", "USDT", "USDT on kraken")
    assert opp.est_profit_quote == opp.executable_size * (D("3440") * D("0.999") - D("3400") * D("1.001"))
    # with plenty of USDT the sell venue's 30 ETH is the cap
    rich = {"kraken": {"USDT": D("10000000")}, "binance": {"ETH": D("30")}}
    opp = evaluate_pair("ETH/USDT", DEEP_A, D("0.001"), DEEP_B, D("0.001"), balances=rich)
    assert (opp.executable_size, opp.capped_by) == (D("30"), "ETH on binance")
    # a known venue without the asset can do nothing; an unknown venue is not capped
    assert evaluate_pair("ETH/USDT", DEEP_A, D("0.001"), DEEP_B, D("0.001"),
                         balances={"binance": {}}).executable_size == 0  # fmt: skip
    assert evaluate_pair("ETH/USDT", DEEP_A, D("0.001"), DEEP_B, D("0.001"),
                         balances={"nasdaq": {}}).executable_size == D("990.98")  # fmt: skip


def test_arbitrage_profit_in_quote_and_in_the_valuation_currency() -> None:
    a = BookSnapshot("A", "ETH/BTC", bids=lv(("0.0500", "10")), asks=lv(("0.0510", "10")), timestamp=0.0)
    b = BookSnapshot("B", "ETH/BTC", bids=lv(("0.0530", "10")), asks=lv(("0.0540", "10")), timestamp=0.0)
    btc = BookSnapshot("A", "BTC/USDT", bids=lv(("64990", "1")), asks=lv(("65010", "1")), timestamp=0.0)
    aitbc = BookSnapshot("A", "AITBC/BTC", bids=lv(("0.00001300", "1")), asks=lv(("0.00001310", "1")), timestamp=0.0)
    rates = valuation_rates([a, b, btc, aitbc])
    assert rates["USDT"] == 1 and rates["BTC"] == D("65000") and rates["AITBC"] == D("0.00001305") * D("65000")
    opp = evaluate_pair("ETH/BTC", a, D("0.001"), b, D("0.001"), rates=rates)
    assert opp.quote == "BTC" and opp.est_profit_quote > 0
    assert opp.est_profit_valuation == opp.est_profit_quote * D("65000")
    assert opp.valuation_currency == "USDT"
    assert evaluate_pair("ETH/BTC", a, D("0.001"), b, D("0.001")).est_profit_valuation is None


def test_index_with_balances_equals_full_rescan() -> None:
    books = {("kraken", "ETH/USDT"): DEEP_A, ("binance", "ETH/USDT"): DEEP_B}
    index = ArbitrageIndex(DEEP_FEES)
    for book in books.values():
        index.update(book)
    assert index.opportunities(None)[0].executable_size == D("990.98")
    for venue, held in HOLDINGS.items():
        index.set_balances(venue, held)
    rates = {"USDT": D(1)}
    index.set_rates(rates)
    for threshold in (None, D("0")):
        assert index.opportunities(threshold) == find_arbitrage(books, DEEP_FEES, threshold, balances=HOLDINGS,
                                                                rates=rates)  # fmt: skip
    [best] = index.opportunities(None)
    assert best.executable_size < 30 and best.est_profit_valuation == best.est_profit_quote
