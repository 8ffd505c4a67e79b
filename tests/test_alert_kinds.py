"""The resync-storm and P&L rules, and the `price` webhook event: parsing, hysteresis,
cooldown and rate limits with a fake clock, P&L from pnl.PnlTracker; every expectation
worked out by hand in the comments."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aitbc_tui.alert_store import AlertStore
from aitbc_tui.alerts import AlertEngine, RuleError, parse_alerts, parse_rule, pnl_figures
from aitbc_tui.delivery import PricePublisher, price_confidence
from aitbc_tui.domain import BookSnapshot, HealthStatus, Side, VenueHealth
from aitbc_tui.pnl import PnlFill, PnlTracker


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def engine(*tables, per_minute=30, clock=None):
    clock = clock or Clock()
    rules = [parse_rule({"cooldown_s": 0, **t}, default_id=f"t{i}") for i, t in enumerate(tables)]
    return AlertEngine(rules, clock=clock, max_per_minute=per_minute), clock


def book(venue: str, symbol: str, bid: str, ask: str) -> BookSnapshot:
    return BookSnapshot(venue, symbol, ((D(bid), D(1)),), ((D(ask), D(1)),), 0.0)


# ---- resync storm -------------------------------------------------------------------------


def test_resync_storm_fires_on_more_than_n_in_the_window_and_rearms_when_it_calms():
    # More than 3 resyncs within 60 s.
    e, clock = engine({"kind": "resync_storm", "venue": "binance", "count": 3, "within_s": 60})
    assert e.on_resyncs("binance", 7) == []  # first value: the baseline, not 7 resyncs
    clock.now += 1
    assert e.on_resyncs("binance", 10) == []  # 3 in the window: not more than 3
    clock.now += 1
    [alert] = e.on_resyncs("binance", 11)  # 4 within 60 s
    assert alert.text == "binance: 4 book resyncs within 60 s (more than 3)"
    assert (alert.severity, alert.data["resyncs"], alert.venue) == ("error", 4, "binance")
    clock.now += 1
    assert e.on_resyncs("binance", 14) == []  # 7 now: still the same storm, said once
    clock.now = 1062.5  # within 60 s means after 1002.5: only the 3 of t=1003 remain
    assert e.on_resyncs("binance", 14) == []  # calmed (3 <= 3): re-armed
    assert len(e.on_resyncs("binance", 15)) == 1  # 3 + 1 = 4 again: a new storm
    assert e.on_resyncs("kraken", 100) == []  # another venue: not this rule's


def test_a_resync_counter_that_went_back_is_a_new_baseline():
    e, clock = engine({"kind": "resync_storm", "count": 1, "within_s": 30})
    e.on_resyncs("kraken", 5)
    clock.now += 1
    assert e.on_resyncs("kraken", 0) == []  # the client was rebuilt: not -5 resyncs
    clock.now += 1
    assert e.on_resyncs("kraken", 1) == []  # 1, not more than 1
    assert len(e.on_resyncs("kraken", 2)) == 1  # 2 within 30 s (any venue: the rule has none)


def test_resync_storm_respects_cooldown_and_the_rules_rate_limit():
    clock = Clock()
    rule = parse_rule({"kind": "resync_storm", "count": 0, "within_s": 1, "cooldown_s": 10, "max_per_hour": 2},
                      default_id="r")  # fmt: skip
    e = AlertEngine([rule], clock=clock)
    total = 0
    fired_at = []
    e.on_resyncs("binance", total)  # the baseline
    for _ in range(60):  # for 2 minutes: a calm look 1.5 s after a resync, then a resync 0.5 s later
        clock.now += 1.5
        assert e.on_resyncs("binance", total) == []  # 0 within 1 s: re-armed
        total += 1
        clock.now += 0.5
        if e.on_resyncs("binance", total):  # 1 > 0 within 1 s: a storm by this rule
            fired_at.append(clock.now)
    # The first at 1002; the cooldown of 10 s holds the next to 1012; max_per_hour 2 stops the rest.
    assert fired_at == [1002.0, 1012.0]
    assert e.suppressed_total > 0


@pytest.mark.parametrize(
    "table, message",
    [
        ({"kind": "resync_storm", "within_s": 60}, "count: is required for a resync_storm rule"),
        ({"kind": "resync_storm", "count": 3}, "within_s: is required for a resync_storm rule"),
        ({"kind": "resync_storm", "count": -1, "within_s": 60}, "count: -1 is not allowed"),
        ({"kind": "resync_storm", "count": "3.5", "within_s": 60}, "count: '3.5' is not allowed"),
        ({"kind": "resync_storm", "count": 3, "within_s": 0}, "within_s: 0 must be more than 0 seconds"),
        ({"kind": "pnl_below"}, "threshold: is required for a pnl_below rule"),
        ({"kind": "pnl_below", "threshold": "-1", "period": "week"}, "period: 'week' is not allowed"),
        ({"kind": "pnl_below", "threshold": -100.5}, "threshold: must be a decimal number written as a string"),
        ({"kind": "pnl_below", "threshold": "-1", "asset": "BTC"}, "asset: unknown field for a pnl_below rule"),
    ],
)
def test_bad_new_rules_are_refused_naming_the_field(table, message):
    with pytest.raises(RuleError) as info:
        parse_rule(table, default_id="x")
    assert str(info.value).startswith(message)


def test_new_rules_round_trip_through_the_store_and_describe_themselves(tmp_path):
    store = AlertStore(tmp_path / "alerts.sqlite3")
    storm = store.add({"kind": "resync_storm", "venue": "binance", "count": "5", "within_s": "60"})
    pnl = store.add({"kind": "pnl_below", "threshold": "-250.5", "period": "today", "currency": "USDC"})
    assert [r.as_table() for r in store.runtime_rules()] == [
        {"id": "r1", "kind": "resync_storm", "venue": "binance", "count": 5, "within_s": 60.0},
        {"id": "r2", "kind": "pnl_below", "period": "today", "threshold": "-250.5", "currency": "USDC"},
    ]
    assert storm.describe() == "binance: more than 5 book resyncs within 60 s"
    assert pnl.describe() == "today P&L below -250.5 USDC (any venue)"
    store.close()


# ---- P&L below ----------------------------------------------------------------------------

DAY = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC; 00:00 UTC that day is DAY - 40000


def tracker(clock: Clock, session_start: float) -> PnlTracker:
    return PnlTracker(clock=clock, session_start=session_start)


def test_pnl_below_from_the_tracker_session_today_and_total():
    clock = Clock(DAY)
    t = tracker(clock, session_start=DAY - 3600)
    # Yesterday: bought 1 BTC at 100 and sold it at 110 (+10), no fees: not today, not the session.
    t.apply(PnlFill("binance", "BTC/USDT", Side.BUY, D(100), D(1), time=DAY - 90000))
    t.apply(PnlFill("binance", "BTC/USDT", Side.SELL, D(110), D(1), time=DAY - 89000))
    # Today before the session: bought 2 at 100, fee 0.2 USDT; in the session sold 1 at 90, fee 0.09.
    t.apply(PnlFill("binance", "BTC/USDT", Side.BUY, D(100), D(2), D("0.2"), "USDT", time=DAY - 7200))
    t.apply(PnlFill("binance", "BTC/USDT", Side.SELL, D(90), D(1), D("0.09"), "USDT", time=DAY - 60))
    books = [book("binance", "BTC/USDT", "94", "96")]  # mark: mid 95
    figures = pnl_figures(t, books, [(None, "USDT"), ("kraken", "USDT")])
    # session: realised (90 - 100) x 1 = -10, fees 0.09: -10.09
    # today: -10 - (0.2 + 0.09) = -10.29
    # total: realised +10 - 10 = 0; unrealised (95 - 100) x 1 = -5; fees 0.29: -5.29
    assert figures[(None, "USDT")] == {"session": D("-10.09"), "today": D("-10.29"), "total": D("-5.29")}
    assert figures[("kraken", "USDT")] == {"session": D(0), "today": D(0), "total": D(0)}

    e, _ = engine({"kind": "pnl_below", "threshold": "-10.2", "period": "today", "hysteresis_bps": "100"},
                  {"kind": "pnl_below", "threshold": "-10.2", "period": "session"},
                  {"kind": "pnl_below", "threshold": "-5", "period": "total"},
                  {"kind": "pnl_below", "threshold": "-1", "venue": "kraken"}, clock=clock)  # fmt: skip
    fired = e.on_pnl(figures)
    # today -10.29 < -10.2: fires; session -10.09 is not below -10.2; total -5.29 < -5: fires; kraken 0.
    assert [(a.rule_id, a.text) for a in fired] == [
        ("t0", "all venues: today P&L -10.29 USDT below -10.2"),
        ("t2", "all venues: total P&L -5.29 USDT below -5"),
    ]
    assert fired[0].data["pnl"] == "-10.29" and fired[0].severity == "error"
    # Hysteresis 100 bps of 10.2 = 0.102: t0 re-arms only at -10.098 or above.
    assert e.on_pnl({(None, "USDT"): {"today": D("-10.1")}}) == []  # cleared the level, not the margin
    assert e.on_pnl({(None, "USDT"): {"today": D("-10.3")}}) == []  # not re-armed: no second alert
    assert e.on_pnl({(None, "USDT"): {"today": D("-10.098")}}) == []  # re-armed
    assert [a.rule_id for a in e.on_pnl({(None, "USDT"): {"today": D("-10.21")}})] == ["t0"]


def test_a_total_without_a_mark_is_unknown_and_never_alerts():
    clock = Clock(DAY)
    t = tracker(clock, session_start=DAY - 10)
    t.apply(PnlFill("kraken", "ETH/USDT", Side.BUY, D(3000), D(1), time=DAY - 5))  # no ETH book: no mark
    figures = pnl_figures(t, [], [(None, "USDT")])
    assert figures[(None, "USDT")] == {"session": D(0), "today": D(0), "total": None}
    e, _ = engine({"kind": "pnl_below", "threshold": "-1", "period": "total"}, clock=clock)
    assert e.on_pnl(figures) == []


# ---- the `price` event --------------------------------------------------------------------


def test_price_confidence_is_freshness_times_tightness():
    # age 1 s of a 4 s stale-after: freshness 0.75; spread 10 bps: tightness 10 / 20 = 0.5.
    assert price_confidence(1.0, 4.0, D(10)) == D("0.375")
    assert price_confidence(0.0, 5.0, D(0)) == D("1.000")
    assert price_confidence(6.0, 5.0, D(1)) == D("0.000")  # stale: nothing to trust
    assert price_confidence(None, 5.0, D(1)) == D("0.000")  # no book seen
    # age 0.5 of 5: 0.9; spread 2.5 bps: 10 / 12.5 = 0.8; 0.72.
    assert price_confidence(0.5, 5.0, D("2.5")) == D("0.720")


def test_the_price_publisher_sends_each_symbol_at_its_interval():
    clock = Clock(0.0)
    books = {("binance", "BTC/USDT"): book("binance", "BTC/USDT", "99990", "100010"),
             ("binance", "ETH/USDT"): book("binance", "ETH/USDT", "2999", "3001"),
             ("kraken", "BTC/USDT"): book("kraken", "BTC/USDT", "99980", "100020")}  # fmt: skip
    health = [VenueHealth("binance", HealthStatus.CONNECTED, 10.0, 0.5, stale_after_s=5.0),
              VenueHealth("kraken", HealthStatus.CONNECTED, 10.0, None)]  # fmt: skip
    every = PricePublisher(10.0, clock=clock)
    first = every.due(books, health, at=DAY)
    assert [(d["venue"], d["symbol"]) for d in first] == [("binance", "BTC/USDT"), ("binance", "ETH/USDT"),
                                                          ("kraken", "BTC/USDT")]  # fmt: skip
    # binance BTC/USDT: mid 100000, spread 20 / 100000 = 2 bps; age 0.5 of 5: 0.9 x 10 / 12 = 0.75
    assert first[0] == {"venue": "binance", "symbol": "BTC/USDT", "last": "100000", "bid": "99990",
                        "ask": "100010", "mid": "100000", "spread_bps": "2.00", "book_age_s": 0.5,
                        "confidence": "0.750", "source": "aitbc-tui binance",
                        "timestamp": "2026-11-18T11:06:40.000Z"}  # fmt: skip
    assert first[2]["confidence"] == "0.000"  # kraken: no book age known
    clock.now = 9.9
    assert every.due(books, health, at=DAY) == []
    clock.now = 10.0
    assert len(every.due(books, health, at=DAY)) == 3
    only = PricePublisher(10.0, [("ETH/USDT", 2.0)], clock=clock)
    assert [d["symbol"] for d in only.due(books, health, at=DAY)] == ["ETH/USDT"]
    clock.now = 12.0
    assert [d["symbol"] for d in only.due(books, health, at=DAY)] == ["ETH/USDT"]


def test_price_settings_in_the_alerts_table_are_strict():
    config = parse_alerts({"price_interval_s": 5, "price_symbols": {"BTC/USDT": 1.5}})
    assert (config.price_interval_s, config.price_symbols) == (5.0, (("BTC/USDT", 1.5),))
    with pytest.raises(RuleError, match=r"^alerts.price_interval_s: 0.1 is not allowed"):
        parse_alerts({"price_interval_s": 0.1})
    with pytest.raises(RuleError, match=r"^alerts.price_symbols.\"BTC\": 'BTC' is not allowed"):
        parse_alerts({"price_symbols": {"BTC": 5}})
    with pytest.raises(RuleError, match=r"^alerts.price_symbols: must be a table"):
        parse_alerts({"price_symbols": ["BTC/USDT"]})
