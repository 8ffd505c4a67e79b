"""Alert rules: strict parsing, and each rule's hysteresis, cooldown and rate limits with a
fake clock (every expectation worked out by hand in the comments)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aitbc_tui.alerts import AlertEngine, RuleError, parse_alerts, parse_rule
from aitbc_tui.config import ConfigError, parse_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def engine(*tables, per_minute=30):
    clock = Clock()
    rules = [parse_rule({"cooldown_s": 0, **t}, default_id=f"t{i}") for i, t in enumerate(tables)]
    return AlertEngine(rules, clock=clock, max_per_minute=per_minute), clock


def mid_book(e, price, venue="binance", symbol="BTC/USDT"):
    """A 2-wide book around ``price`` (bid price-1, ask price+1: mid = price)."""
    return e.on_book(venue, symbol, D(price) - 1, D(price) + 1)


def test_price_above_fires_on_the_crossing_then_rearms_only_below_the_hysteresis():
    # level 100,000, hysteresis 10 bps = 100: re-arms at or below 99,900.
    e, _ = engine({"kind": "price_above", "symbol": "BTC/USDT", "level": "100000", "price": "mid"})
    assert mid_book(e, 99950) == []  # below: armed
    fired = mid_book(e, 100000)  # mid 100,000 >= level
    assert [a.text for a in fired] == ["binance BTC/USDT: mid 100000 crossed above 100000"]
    assert mid_book(e, 100500) == []  # still above: once
    assert mid_book(e, 99950) == []  # back below but within 100 of the level: not re-armed
    assert mid_book(e, 100001) == []
    assert mid_book(e, 99900) == []  # 99,900 <= 99,900: re-armed
    assert len(mid_book(e, 100002)) == 1


def test_a_price_rule_already_on_the_far_side_waits_for_a_real_crossing():
    e, _ = engine({"kind": "price_below", "symbol": "BTC/USDT", "level": "50000"})
    assert mid_book(e, 40000) == []  # first seen below: not a crossing
    assert mid_book(e, 50060) == []  # 50,060 >= 50,000 + 50 (10 bps): armed
    assert [a.data["price"] for a in mid_book(e, 49999)] == ["49999"]  # last falls back to the mid


def test_price_rules_read_the_field_they_name_and_only_their_venue():
    e, _ = engine({"kind": "price_above", "symbol": "BTC/USDT", "level": "101", "price": "ask", "venue": "kraken"})
    assert e.on_book("kraken", "BTC/USDT", D(99), D(100)) == []
    assert e.on_book("binance", "BTC/USDT", D(200), D(201)) == []  # another venue
    assert len(e.on_book("kraken", "BTC/USDT", D(99), D(101))) == 1  # ask 101 >= 101; the bid would not


def test_cooldown_delays_a_re_armed_rule_until_it_has_passed():
    e, clock = engine(
        {"kind": "price_above", "symbol": "BTC/USDT", "level": "100", "cooldown_s": 60, "hysteresis_bps": "0"}
    )
    e.on_book("binance", "BTC/USDT", D(98), D(98))
    assert len(e.on_book("binance", "BTC/USDT", D(100), D(100))) == 1  # t = 1000
    clock.now = 1010
    e.on_book("binance", "BTC/USDT", D(98), D(98))  # re-armed (hysteresis 0)
    assert e.on_book("binance", "BTC/USDT", D(100), D(100)) == []  # 10 s < 60 s cooldown, stays armed
    clock.now = 1060
    assert len(e.on_book("binance", "BTC/USDT", D(100), D(100))) == 1  # 60 s after the first


def test_spread_rule_needs_the_spread_held_for_its_time():
    # bid 99, ask 101: spread 2 / mid 100 = 200 bps.
    e, clock = engine({"kind": "spread_above", "symbol": "BTC/USDT", "bps": "150", "for_s": 5})
    assert e.on_book("binance", "BTC/USDT", D(99), D(101)) == []  # held 0 s
    clock.now += 4.9
    assert e.on_book("binance", "BTC/USDT", D(99), D(101)) == []
    clock.now += 0.1
    [alert] = e.on_book("binance", "BTC/USDT", D(99), D(101))
    assert alert.text == "binance BTC/USDT: spread 200.0 bps, wider than 150 bps for 5 s"
    # 145 bps is not wider, but within the 10 bps hysteresis: not re-armed; 140 re-arms.
    e.on_book("binance", "BTC/USDT", D("99.275"), D("100.725"))
    e.on_book("binance", "BTC/USDT", D(99), D(101))
    clock.now += 10
    assert e.on_book("binance", "BTC/USDT", D(99), D(101)) == []
    e.on_book("binance", "BTC/USDT", D("99.3"), D("100.7"))  # 140 bps
    e.on_book("binance", "BTC/USDT", D(99), D(101))
    clock.now += 5
    assert len(e.on_book("binance", "BTC/USDT", D(99), D(101))) == 1


def test_per_rule_rate_limit_counts_what_it_dropped_and_says_so_in_the_next_alert():
    e, clock = engine({"kind": "fill", "max_per_hour": 2})
    for _ in range(4):
        clock.now += 1
        e.on_fill("binance", "BTC/USDT", "buy", D("0.1"), D(100))
    assert e.suppressed == 2 and e.suppressed_total == 2
    clock.now += 3600  # the first two left the hour's window
    [alert] = e.on_fill("binance", "BTC/USDT", "buy", D("0.1"), D(100))
    assert alert.text.endswith("(2 more suppressed by the rate limits)") and e.suppressed == 0
    assert alert.data["notional"] == "10.0"


def test_the_global_rate_limit_spans_every_rule():
    e, clock = engine({"kind": "fill"}, {"kind": "order_rejected"}, per_minute=3)
    out = []
    for _ in range(3):
        out += e.on_fill("kraken", "ETH/USDT", "sell", D(1), D(10))
        out += e.on_rejected("kraken", "ETH/USDT", "insufficient funds")
    assert len(out) == 3 and e.suppressed == 3
    clock.now += 60
    assert len(e.on_rejected("kraken", "ETH/USDT", "again")) == 1


def test_fill_above_a_notional_only():
    e, _ = engine({"kind": "fill", "min_notional": "1000"})
    assert e.on_fill("binance", "BTC/USDT", "buy", D("0.009"), D(100000)) == []  # 900
    assert len(e.on_fill("binance", "BTC/USDT", "buy", D("0.01"), D(100000))) == 1  # 1000


def test_venue_down_for_a_time_and_rearms_when_connected():
    e, clock = engine({"kind": "venue_down", "venue": "kraken", "for_s": 30})
    assert e.on_health({"kraken": "degraded", "binance": "down"}) == []
    clock.now += 30
    [alert] = e.on_health({"kraken": "down"})
    assert (alert.venue, alert.severity, alert.text) == ("kraken", "error", "kraken: down for 30 s")
    clock.now += 100
    assert e.on_health({"kraken": "down"}) == []
    e.on_health({"kraken": "connected"})
    e.on_health({"kraken": "degraded"})
    clock.now += 30
    assert len(e.on_health({"kraken": "degraded"})) == 1


def test_balance_below_with_hysteresis_of_the_threshold():
    # threshold 1000 USDT, 10 bps: re-arms at 1001.
    e, _ = engine({"kind": "balance_below", "asset": "USDT", "threshold": "1000"})
    assert len(e.on_balance("binance", "USDT", D(999))) == 1
    e.on_balance("binance", "USDT", D("1000.5"))
    assert e.on_balance("binance", "USDT", D(999)) == []
    e.on_balance("binance", "USDT", D(1001))
    assert len(e.on_balance("binance", "USDT", D(999))) == 1


def test_arbitrage_net_above_with_a_minimum_size():
    e, _ = engine({"kind": "arbitrage_above", "symbol": "BTC/USDT", "bps": "5", "min_size": "0.5"})
    assert e.on_arbitrage("BTC/USDT", D(8), D("0.4")) == []  # too small
    assert len(e.on_arbitrage("BTC/USDT", D(8), D("0.5"), "kraken->binance")) == 1


def test_only_the_changed_symbols_rules_are_evaluated():
    e, _ = engine(*({"kind": "price_above", "symbol": f"S{i}/USDT", "level": "1"} for i in range(50)))
    assert e.wants_symbol("S7/USDT") and not e.wants_symbol("ZZ/USDT")
    assert len(e._by_symbol["S7/USDT"]) == 1


def test_a_paused_rule_never_fires():
    e, _ = engine({"kind": "fill"})
    e.with_paused("t0", True)
    assert e.on_fill("binance", "BTC/USDT", "buy", D(1), D(1)) == []


@pytest.mark.parametrize(
    "table, message",
    [
        ({"kind": "price_over"}, "kind: 'price_over' is not a rule kind"),
        ({"kind": "price_above", "symbol": "BTC/USDT"}, "level: is required for a price_above rule"),
        (
            {"kind": "price_above", "symbol": "BTC/USDT", "level": 1.5},
            "level: must be a decimal number written as a string",
        ),
        (
            {"kind": "price_above", "symbol": "BTC/USDT", "level": "1", "price": "close"},
            "price: 'close' is not allowed",
        ),
        ({"kind": "fill", "bps": "3"}, "bps: unknown field for a fill rule"),
        ({"kind": "venue_down", "status": "slow"}, "status: 'slow' is not allowed"),
        ({"kind": "fill", "max_per_hour": 0}, "max_per_hour: 0 is not allowed"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(table, message):
    with pytest.raises(RuleError) as info:
        parse_rule(table, default_id="x")
    assert str(info.value).startswith(message)


def test_the_config_alerts_table_is_strict_and_names_file_and_key():
    text = '[alerts]\nmax_per_minute = 10\n[[alerts.rules]]\nkind = "fill"\n[[alerts.rules]]\nkind = "spread_above"\nsymbol = "BTC/USDT"\nbps = "20"\nfor_s = 5\n'
    config = parse_config(text, "/c.toml")
    assert [r.id for r in config.alerts.rules] == ["cfg-1", "cfg-2"] and config.alerts.max_per_minute == 10
    with pytest.raises(ConfigError, match=r"^/c.toml: alerts.rules\[1\].bps: '-1' must be at least 0$"):
        parse_config(text.replace('"20"', '"-1"'), "/c.toml")
    with pytest.raises(ConfigError, match=r"^/c.toml: alerts.sound: unknown key"):
        parse_config("[alerts]\nsound = true\n", "/c.toml")
    assert parse_alerts({}).rules == ()
