"""Risk limits: each breach names the limit and the values; the daily value counts what
was (or may have been) traded today, UTC."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from types import MappingProxyType

import pytest

from aitbc_tui.config import RiskConfig, parse_config
from aitbc_tui.domain import OrderRejected, OrderRequest, OrderType, Side
from aitbc_tui.risk import RiskGate, RiskLimitBreached, traded_value, utc_day_start


def buy(amount: str, price: str | None = "100", venue: str = "binance") -> OrderRequest:
    kind = OrderType.LIMIT if price is not None else OrderType.MARKET
    return OrderRequest(venue, "BTC/USDT", Side.BUY, kind, D(amount), D(price) if price else None)


def gate(**kw) -> RiskGate:
    if "max_order_value" in kw:
        kw["max_order_value"] = MappingProxyType(kw["max_order_value"])
    return RiskGate(RiskConfig(**kw))


def check(g: RiskGate, request: OrderRequest, *, ref="100", open_orders=0, traded="0"):
    return g.check(request, quote="USDT", reference_price=D(ref) if ref else None,
                   open_orders=open_orders, traded_today=D(traded))  # fmt: skip


def test_no_limits_allows_everything():
    g = gate()
    assert not g.enabled
    assert check(g, buy("1000000")) == D("100000000")


def test_max_order_value_per_venue_names_the_limit():
    g = gate(max_order_value={"binance": D("500")})
    assert check(g, buy("5")) == D("500")  # at the limit is allowed
    with pytest.raises(
        RiskLimitBreached, match=r"order value 501 USDT exceeds risk\.max_order_value\.binance = 500 USDT"
    ) as err:
        check(g, buy("5.01"))
    assert err.value.limit == "risk.max_order_value" and isinstance(err.value, OrderRejected)
    check(g, buy("100", venue="kraken"))  # no limit configured for kraken


def test_market_orders_are_valued_at_the_opposite_best_price():
    g = gate(max_order_value={"binance": D("500")})
    with pytest.raises(RiskLimitBreached, match="order value 600"):
        check(g, buy("5", price=None), ref="120")
    with pytest.raises(RiskLimitBreached, match="cannot be computed"):
        check(g, buy("1", price=None), ref=None)


def test_max_open_orders():
    g = gate(max_open_orders=2)
    check(g, buy("1"), open_orders=1)
    with pytest.raises(RiskLimitBreached, match=r"2 orders are open; one more exceeds risk\.max_open_orders = 2"):
        check(g, buy("1"), open_orders=2)


def test_daily_traded_value_cap():
    g = gate(daily_traded_value=D("1000"))
    check(g, buy("1"), traded="900")
    with pytest.raises(
        RiskLimitBreached, match=r"900 \+ this order 200 USDT = 1100 USDT exceeds risk\.daily_traded_value = 1000"
    ):
        check(g, buy("2"), traded="900")


@dataclass
class Row:
    state: str
    amount: D
    filled: D
    price: D | None
    client_order_id: str = ""


def test_traded_value_counts_committed_and_filled_amounts_only():
    rows = [
        Row("open", D("2"), D("0"), D("10")),  # resting: all of it may trade → 20
        Row("unknown", D("1"), D("0"), D("10")),  # may have been placed → 10
        Row("filled", D("3"), D("3"), None, "m"),  # market, priced from its fill → 3 * 7
        Row("canceled", D("5"), D("1"), D("10")),  # only the filled part → 10
        Row("rejected", D("9"), D("0"), D("10")),
        Row("not_placed", D("9"), D("0"), D("10")),
    ]
    assert traded_value(rows, lambda r: D("7") if r.client_order_id == "m" else None) == D("61")


def test_utc_day_start():
    assert utc_day_start(1_700_000_000.0) == 1_699_920_000.0  # 2023-11-14 00:00 UTC


def test_config_keys_feed_the_gate():
    config = parse_config(
        '[venues.binance]\nexchange = "binance"\nmode = "live"\nsymbols = ["BTC/USDT"]\n'
        '[risk]\nmax_order_value = { binance = "250" }\nmax_open_orders = 3\ndaily_traded_value = "5000"\n'
    )
    g = RiskGate(config.risk)
    assert g.enabled
    with pytest.raises(RiskLimitBreached, match="binance = 250"):
        check(g, buy("3"))
