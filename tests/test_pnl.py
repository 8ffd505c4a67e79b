"""Positions and P&L from fills: average cost and FIFO, fees in base and quote, partial fills,
periods, equity through the books' mids. Every expectation is computed by hand in a comment."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aitbc_tui.domain import Balance, BookSnapshot, Fill, Side
from aitbc_tui.pnl import CostMethod, PnlFill, PnlTracker, equity, valuation_rates

DAY = 86400.0
NOON = 1_700_006_400.0 + 12 * 3600  # 1_700_006_400 is 00:00 UTC


def f(
    side: str,
    price: str,
    amount: str,
    fee: str = "0",
    cur: str = "USDT",
    t: float = NOON,
    symbol: str = "BTC/USDT",
    venue: str = "binance",
) -> PnlFill:
    return PnlFill(venue, symbol, Side(side), D(price), D(amount), D(fee), cur, t)


def tracker(method=CostMethod.AVERAGE, now=NOON + 60, session_start=NOON - 60) -> PnlTracker:
    return PnlTracker(method, session_start=session_start, clock=lambda: now)


def test_midnight_constant():
    from aitbc_tui.pnl import utc_midnight

    assert utc_midnight(NOON) == NOON - 12 * 3600


def test_average_cost_with_quote_fees():
    t = tracker()
    t.apply_many([f("buy", "100", "1", "0.1"), f("buy", "200", "1", "0.2")])
    p = t.position("binance", "BTC/USDT")
    assert p.quantity == 2 and p.average_cost == D(150) and p.cost_basis == D(300)
    t.apply(f("sell", "180", "1.5", "0.27"))
    p = t.position("binance", "BTC/USDT")
    # (180 - 150) x 1.5 = 45 realised; 0.5 left at 150
    assert p.realised == D(45) and p.quantity == D("0.5") and p.average_cost == D(150)
    assert p.fees == D("0.57") and p.unrealised is None  # no mark yet
    t.set_mark("binance", "BTC/USDT", D(160))
    p = t.position("binance", "BTC/USDT")
    assert p.unrealised == D(5) and p.net == D("49.43")  # 45 + 5 - 0.57
    assert (p.bought, p.sold, p.traded_value, p.fills) == (D(2), D("1.5"), D(570), 3)


def test_fifo_with_quote_fees():
    t = tracker(CostMethod.FIFO)
    t.apply_many([f("buy", "100", "1", "0.1"), f("buy", "200", "1", "0.2"), f("sell", "180", "1.5", "0.27")])
    t.set_mark("binance", "BTC/USDT", D(160))
    p = t.position("binance", "BTC/USDT")
    # lot 1: (180-100) x 1 = 80; lot 2: (180-200) x 0.5 = -10; 0.5 left at 200
    assert p.realised == D(70) and p.average_cost == D(200) and p.cost_basis == D(100)
    assert p.unrealised == D(-20) and p.net == D("49.43")  # 70 - 20 - 0.57: the same money as average cost


def test_open_position_without_a_mark_has_no_unrealised():
    t = tracker()
    t.apply(f("buy", "100", "1"))
    assert t.position("binance", "BTC/USDT").unrealised is None
    assert t.position("binance", "BTC/USDT").net is None


@pytest.mark.parametrize("method", list(CostMethod))
def test_fee_in_base(method):
    t = tracker(method)
    # buy 1 @ 100 with 0.001 BTC fee: 0.999 held at 100, fee worth 0.1 USDT, nothing realised
    p = t.apply(f("buy", "100", "1", "0.001", "BTC"))
    assert p.quantity == D("0.999") and p.cost_basis == D("99.9") and p.fees == D("0.1") and p.realised == 0
    # sell all 0.999 @ 110, fee 0.10989 USDT: (110 - 100) x 0.999 = 9.99
    p = t.apply(f("sell", "110", "0.999", "0.10989"))
    assert p.quantity == 0 and p.realised == D("9.99") and p.fees == D("0.20989") and p.average_cost is None
    assert p.net == D("9.78011")


def test_fee_in_base_on_a_sale_disposes_more_base():
    t = tracker()
    t.apply(f("buy", "100", "2"))
    # sell 1 @ 120 paying 0.01 BTC: 1.01 BTC leave at cost 100; realised 20 + 0.2; fee worth 1.2
    p = t.apply(f("sell", "120", "1", "0.01", "BTC"))
    assert p.quantity == D("0.99") and p.realised == D("20.2") and p.fees == D("1.2")


def test_fee_in_another_currency_is_valued_in_the_totals():
    t = tracker()
    t.apply(f("buy", "100", "1", "0.5", "BNB"))
    p = t.position("binance", "BTC/USDT")
    assert p.fees == 0 and p.other_fees == (("BNB", D("0.5")),)
    t.set_mark("binance", "BTC/USDT", D(100))
    books = [book("binance", "BNB/USDT", "599", "601")]
    s = t.summary("USDT", valuation_rates(books, "USDT"))
    assert s.fees == D(300) and s.net == D(-300) and s.unvalued == ()  # 0.5 BNB x 600


def test_partial_fills_of_one_order_average():
    t = tracker()
    t.apply_many([f("buy", "100", "0.4"), f("buy", "101", "0.6")])
    assert t.position("binance", "BTC/USDT").average_cost == D("100.6")  # (40 + 60.6) / 1


@pytest.mark.parametrize("method", list(CostMethod))
def test_short_from_flat_and_a_flip(method):
    t = tracker(method)
    t.apply_many([f("sell", "100", "1"), f("buy", "90", "1")])
    assert t.position("binance", "BTC/USDT").realised == D(10)  # sold 100, bought back 90
    t2 = tracker(method)
    t2.apply_many([f("buy", "100", "1"), f("sell", "110", "3")])
    p = t2.position("binance", "BTC/USDT")
    # 1 closed at +10; 2 short opened at 110
    assert p.realised == D(10) and p.quantity == D(-2) and p.average_cost == D(110) and p.cost_basis == D(-220)
    t2.set_mark("binance", "BTC/USDT", D(100))
    assert t2.position("binance", "BTC/USDT").unrealised == D(20)  # short 2 from 110 marked at 100


def test_periods_today_session_and_since():
    now = NOON + 3600
    t = PnlTracker(session_start=NOON, clock=lambda: now)
    t.apply_many(
        [
            f("buy", "100", "2", "0.2", t=NOON - DAY),  # yesterday
            f("sell", "110", "1", "0.11", t=NOON - 3600),  # today, before the session: +10
            f("sell", "120", "1", "0.12", t=NOON + 60),  # in the session: +20
        ]
    )
    today = t.today("binance", "BTC/USDT")
    assert (today.realised, today.fees, today.fills) == (D(30), D("0.23"), 2)
    session = t.session("binance", "BTC/USDT")
    assert (session.realised, session.fees, session.net) == (D(20), D("0.12"), D("19.88"))
    assert t.period("binance", "BTC/USDT", NOON - 2 * DAY).realised == D(30)
    assert t.period("binance", "BTC/USDT", now + 1).fills == 0
    s = t.summary("USDT", valuation_rates([], "USDT"), since=NOON - 3600)
    assert s.today_net == D("29.77") and s.session_net == D("19.88") and s.since_net == D("29.77")
    assert s.realised == D(30) and s.fees == D("0.43") and s.unrealised == 0


def book(venue: str, symbol: str, bid: str, ask: str) -> BookSnapshot:
    return BookSnapshot(venue, symbol, ((D(bid), D(1)),), ((D(ask), D(1)),), 0.0)


def test_valuation_routes_and_equity():
    books = [
        book("binance", "BTC/USDT", "99", "101"),
        book("kraken", "BTC/USDT", "101", "103"),
        book("kraken", "ETH/BTC", "0.049", "0.051"),
        book("coinbase", "USDT/EUR", "0.9", "1.1"),
    ]
    rates = valuation_rates(books, "USDT")
    assert rates["BTC"].price == D(101) and rates["BTC"].route == "BTC/USDT mid (binance, kraken)"
    assert rates["ETH"].price == D("5.05") and rates["ETH"].route == "ETH/BTC mid (kraken) x BTC"
    assert rates["EUR"].price == D(1) and rates["EUR"].route.startswith("1 / USDT/EUR")
    eq = equity(
        {
            "binance": {"BTC": Balance("BTC", D("0.5"), D("0.5")), "USDT": Balance("USDT", D(100))},
            "kraken": {"ETH": Balance("ETH", D(2)), "XYZ": Balance("XYZ", D(1))},
        },
        rates,
    )
    # 1 x 101 + 100 on binance; 2 x 5.05 on kraken; XYZ has no rate
    assert eq.total == D("211.10") and dict(eq.by_venue) == {"binance": D(201), "kraken": D("10.10")}
    assert eq.unvalued == ("XYZ",)
    btc = next(r for r in eq.rows if r.asset == "BTC")
    assert (btc.total, btc.free, btc.used, btc.value) == (D(1), D("0.5"), D("0.5"), D(101))


def test_summary_converts_each_quote():
    t = tracker()
    t.apply_many(
        [
            f("buy", "0.05", "10", "0.0005", "BTC", symbol="ETH/BTC", venue="kraken"),
            f("sell", "0.06", "10", symbol="ETH/BTC", venue="kraken"),
            f("buy", "100", "1", symbol="BTC/USDT"),
            f("sell", "90", "1", symbol="BTC/USDT"),
        ]
    )
    rates = valuation_rates([book("binance", "BTC/USDT", "999", "1001")], "USDT")
    s = t.summary("USDT", rates)
    # ETH/BTC: realised 0.1 BTC = 100 USDT, fee 0.0005 BTC = 0.5 USDT; BTC/USDT: realised -10
    assert s.realised == D(90) and s.fees == D("0.5") and s.net == D("89.5")
    assert t.summary("USDT", {}).unvalued == ("BTC", "USDT")


def test_domain_fills_are_accepted():
    t = tracker()
    t.apply(Fill("sim", "1", "BTC/USDT", Side.BUY, D(100), D(1), D("0.1"), "USDT", NOON, False, "1:1"))
    assert t.position("sim", "BTC/USDT").fees == D("0.1")
