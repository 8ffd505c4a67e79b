"""Arbitrage execution, the pure part: fundable size and what limits it, the two-leg plan,
the group's state machine. Every figure below is worked out by hand in the comments."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aitbc_tui.analysis import find_arbitrage
from aitbc_tui.arb_exec import (
    GroupState,
    LegFill,
    Limit,
    PlanError,
    blocked_routes,
    fee_in_quote,
    floor_to_lots,
    fundable_size,
    group_outcome,
    inventory,
    plan_route,
    realised_fee,
    value_capped_amount,
)
from aitbc_tui.domain import Balance, BookSnapshot, Market, OrderStatus, Side

SYMBOL = "ETH/USDT"


def market(taker: str) -> Market:
    return Market(SYMBOL, "ETH", "USDT", D("0.01"), D("0.01"), D("0.01"), D("1"), D("0.0005"), D(taker))


BUY_MARKET = market("0.001")  # venue a: taker 0.1 %
SELL_MARKET = market("0.002")  # venue b: taker 0.2 %
# a's asks: 1 @ 100, 2 @ 101; b's bids: 1.5 @ 103, 5 @ 102.
BUY_BOOK = BookSnapshot("a", SYMBOL, ((D("99"), D("5")),), ((D("100"), D("1")), (D("101"), D("2"))), 0.0)
SELL_BOOK = BookSnapshot("b", SYMBOL, ((D("103"), D("1.5")), (D("102"), D("5"))), ((D("104"), D("5")),), 0.0)


def fundable(**kwargs):
    return fundable_size(SYMBOL, BUY_BOOK, BUY_MARKET, SELL_BOOK, SELL_MARKET, **kwargs)


def test_the_books_alone_allow_every_ask_that_still_nets_positive():
    # Slices: 1 @ 100 vs 103: 103*0.998 - 100*1.001 = 2.694 > 0; 0.5 @ 101 vs 103: 1.693 > 0;
    # 1.5 @ 101 vs 102: 101.796 - 101.101 = 0.695 > 0; then a's asks are gone: 3 ETH.
    size = fundable()
    assert (size.amount, size.limited_by, size.book_amount) == (D("3"), Limit.BOOK, D("3"))
    assert size.text == "book"


def test_quote_on_the_buy_venue_pays_price_plus_fee_and_limits_the_size():
    # 200 USDT on a: 1 @ 100 costs 100.1 (fee 0.1 %), 0.5 @ 101 costs 50.5505; 49.3495 left
    # buys 49.3495 / 101.101 = 0.4881... more: 1.98812... ETH, 1.98 on the 0.01 lot grid.
    size = fundable(buy_balances={"USDT": Balance("USDT", D("200"))}, sell_balances={"ETH": D("10")})
    assert (size.amount, size.limited_by, size.detail) == (D("1.98"), Limit.BALANCE, "USDT on a")
    assert size.text == "balance: USDT on a"
    assert size.book_amount == D("3")


def test_base_on_the_sell_venue_limits_the_size():
    size = fundable(buy_balances={"USDT": D("100000")}, sell_balances={"ETH": Balance("ETH", D("1.234"), D("5"))})
    assert (size.amount, size.limited_by, size.detail) == (D("1.23"), Limit.BALANCE, "ETH on b")  # free only


def test_an_asset_not_held_at_all_allows_nothing():
    size = fundable(buy_balances={}, sell_balances={"ETH": D("10")})
    assert (size.amount, size.limited_by, size.detail) == (D("0"), Limit.BALANCE, "USDT on a")


def test_the_risk_limit_values_each_leg_at_its_limit_price():
    # max 150 USDT per order on a: 1 ETH is worth 100 at its limit 100; beyond, the limit is
    # 101, so 150 / 101 = 1.4851... ETH, 1.48 on the lot grid.
    size = fundable(max_order_value={"a": D("150")})
    assert (size.amount, size.limited_by, size.detail) == (D("1.48"), Limit.RISK, "risk.max_order_value.a = 150 USDT")
    # On the sell leg (b): 1 ETH at 103 is 103; 1.5 at 103 = 154.5 > 120, so 120 / 103 = 1.1650...
    size = fundable(max_order_value={"b": D("120")})
    assert (size.amount, size.limited_by) == (D("1.16"), Limit.RISK)


def test_value_capped_amount_never_exceeds_the_upper_bound_where_a_dearer_level_lies():
    # Bids 1 @ 100 then 10 @ 1, cap 50: 11 ETH at limit 1 is worth 11, but with at most 1 ETH
    # allowed (the balance) the limit is 100: 0.5 ETH.
    levels = ((D("100"), D("1")), (D("1"), D("10")))
    assert value_capped_amount(levels, D("50"), D("11")) == D("11")
    assert value_capped_amount(levels, D("50"), D("1")) == D("0.5")


def test_floor_to_lots_takes_the_coarser_grid():
    assert floor_to_lots(D("1.2399"), D("0.001"), D("0.01")) == D("1.23")
    assert floor_to_lots(D("0.004"), D("0.01")) == D("0")


def test_plan_walks_each_book_for_the_amount_and_nets_both_fees():
    # 2 ETH: buy 1 @ 100 + 1 @ 101 = 201 (limit 101, fee 0.201); sell 1.5 @ 103 + 0.5 @ 102 =
    # 205.5 (limit 102, fee 0.411). Net = 205.5 - 0.411 - 201 - 0.201 = 3.888 USDT on 201.201
    # spent: 193.24 bps.
    plan = plan_route(SYMBOL, D("2"), BUY_BOOK, BUY_MARKET, SELL_BOOK, SELL_MARKET)
    assert (plan.buy.venue, plan.buy.side, plan.buy.amount, plan.buy.limit_price) == ("a", Side.BUY, D("2"), D("101"))
    assert (plan.buy.expected_notional, plan.buy.expected_fee, plan.buy.expected_average) == (
        D("201"), D("0.201"), D("100.5"))  # fmt: skip
    assert (plan.sell.venue, plan.sell.side, plan.sell.limit_price) == ("b", Side.SELL, D("102"))
    assert (plan.sell.expected_notional, plan.sell.expected_fee) == (D("205.5"), D("0.411"))
    assert plan.expected_net_quote == D("3.888")
    assert plan.expected_net_bps.quantize(D("0.01")) == D("193.24")


def test_plan_refuses_what_a_book_cannot_fill_and_a_non_positive_amount():
    with pytest.raises(PlanError, match="a's visible asks hold only 3 ETH: cannot buy 4"):
        plan_route(SYMBOL, D("4"), BUY_BOOK, BUY_MARKET, SELL_BOOK, SELL_MARKET)
    with pytest.raises(PlanError, match="must be positive"):
        plan_route(SYMBOL, D("0"), BUY_BOOK, BUY_MARKET, SELL_BOOK, SELL_MARKET)
    with pytest.raises(PlanError, match="must be positive"):
        plan_route(SYMBOL, D("NaN"), BUY_BOOK, BUY_MARKET, SELL_BOOK, SELL_MARKET)


def leg(side: Side, amount: str, filled: str, status: OrderStatus, cost: str = "0", fee: str = "0") -> LegFill:
    return LegFill(side, D(amount), D(filled), status, D(cost), D(fee))


BUY_FILLED = leg(Side.BUY, "2", "2", OrderStatus.FILLED, "201", "0.201")
SELL_FILLED = leg(Side.SELL, "2", "2", OrderStatus.FILLED, "205.5", "0.411")


def test_both_legs_filled_is_balanced_with_the_realised_net():
    out = group_outcome([BUY_FILLED, SELL_FILLED])
    assert (out.state, out.unhedged, out.at_risk) == (GroupState.BALANCED, D("0"), D("0"))
    assert out.realised_net_quote == D("3.888")
    assert out.realised_net_bps is not None and out.realised_net_bps.quantize(D("0.01")) == D("193.24")


def test_one_leg_rejected_leaves_the_other_unhedged():
    out = group_outcome([BUY_FILLED, leg(Side.SELL, "2", "0", OrderStatus.REJECTED)])
    assert (out.state, out.unhedged, out.bought, out.sold) == (GroupState.UNHEDGED, D("2"), D("2"), D("0"))
    assert out.realised_net_quote == D("-201.201")  # bought, nothing sold yet
    out = group_outcome([leg(Side.BUY, "2", "0", OrderStatus.REJECTED), SELL_FILLED])
    assert (out.state, out.unhedged) == (GroupState.UNHEDGED, D("-2"))  # sold short on the sell venue


def test_partial_and_partial_leaves_the_difference():
    # IOC legs expire: 1.5 bought, 1 sold: 0.5 ETH long.
    out = group_outcome(
        [leg(Side.BUY, "2", "1.5", OrderStatus.CANCELED), leg(Side.SELL, "2", "1", OrderStatus.CANCELED)]
    )
    assert (out.state, out.unhedged) == (GroupState.UNHEDGED, D("0.5"))


def test_one_unknown_then_found_filled():
    unknown = leg(Side.SELL, "2", "0", OrderStatus.UNKNOWN)
    out = group_outcome([BUY_FILLED, unknown])
    assert (out.state, out.unhedged, out.at_risk) == (GroupState.UNKNOWN, D("2"), D("2"))
    assert group_outcome([BUY_FILLED, SELL_FILLED]).state is GroupState.BALANCED


def test_one_unknown_then_not_found():
    assert group_outcome([BUY_FILLED, leg(Side.SELL, "2", "0", OrderStatus.UNKNOWN)]).state is GroupState.UNKNOWN
    # Settled as not placed: the tracker shows it rejected with nothing filled.
    out = group_outcome([BUY_FILLED, leg(Side.SELL, "2", "0", OrderStatus.REJECTED)])
    assert (out.state, out.unhedged) == (GroupState.UNHEDGED, D("2"))


def test_sending_and_open_come_before_any_figure():
    assert group_outcome([BUY_FILLED, leg(Side.SELL, "2", "0", OrderStatus.PENDING)]).state is GroupState.SENDING
    assert group_outcome([BUY_FILLED, leg(Side.SELL, "2", "1", OrderStatus.OPEN)]).state is GroupState.OPEN


def test_a_hedge_order_in_the_group_balances_it():
    hedge = leg(Side.SELL, "2", "2", OrderStatus.FILLED, "204", "0.408")
    out = group_outcome([BUY_FILLED, leg(Side.SELL, "2", "0", OrderStatus.REJECTED), hedge])
    assert (out.state, out.unhedged) == (GroupState.BALANCED, D("0"))
    assert out.realised_net_quote == D("204") - D("0.408") - D("201.201")  # 2.391


def test_nothing_filled_on_either_leg_is_balanced_at_zero():
    out = group_outcome([leg(Side.BUY, "2", "0", OrderStatus.REJECTED), leg(Side.SELL, "2", "0", OrderStatus.CANCELED)])
    assert (out.state, out.unhedged, out.realised_net_quote, out.realised_net_bps) == (
        GroupState.BALANCED, D("0"), D("0"), None)  # fmt: skip


def test_fee_in_base_is_valued_at_the_fill_price():
    assert fee_in_quote(D("0.002"), "ETH", D("100"), "ETH", "USDT") == D("0.200")
    assert fee_in_quote(D("0.2"), "USDT", D("100"), "ETH", "USDT") == D("0.2")
    assert fee_in_quote(D("0.2"), "BNB", D("100"), "ETH", "USDT") is None


def test_a_fee_not_reported_in_base_or_quote_is_estimated_at_the_taker_rate():
    # 2 ETH for 201 USDT, fee 0.002 ETH reported: 0.002 × 100.5 = 0.201 USDT, actual.
    assert realised_fee(D("0.002"), "ETH", D("2"), D("201"), D("0.001"), "ETH", "USDT") == (D("0.2010"), False)
    # No fee reported, or in another currency: 201 × 0.1 % = 0.201, estimated.
    assert realised_fee(D("0"), "", D("2"), D("201"), D("0.001"), "ETH", "USDT") == (D("0.201"), True)
    assert realised_fee(D("1"), "BNB", D("2"), D("201"), D("0.001"), "ETH", "USDT") == (D("0.201"), True)
    assert realised_fee(D("0"), "", D("0"), D("0"), D("0.001"), "ETH", "USDT") == (D("0"), False)
    out = group_outcome([BUY_FILLED, LegFill(Side.SELL, D("2"), D("2"), OrderStatus.FILLED, D("205.5"), D("0.411"),
                                             fee_estimated=True)])  # fmt: skip
    assert out.fees_estimated and out.realised_net_quote == D("3.888")


def test_inventory_spreads_each_asset_over_the_venues():
    rows = inventory(["a", "b"], {"a": {"USDT": D("200"), "ETH": Balance("ETH", D("1"), D("4"))}, "b": {"ETH": D("3")}})
    assert [(r.asset, r.free, r.total) for r in rows] == [
        ("ETH", (("a", D("1")), ("b", D("3"))), D("4")),  # free only: 4 ETH used on a are not movable
        ("USDT", (("a", D("200")), ("b", D("0"))), D("200")),
    ]
    assert rows[0].share("b") == D("0.75") and rows[1].share("b") == D("0")


def test_a_route_the_balances_cut_is_listed_with_the_balance_to_move():
    books = {("a", SYMBOL): BUY_BOOK, ("b", SYMBOL): SELL_BOOK}
    fees = {("a", SYMBOL): D("0.001"), ("b", SYMBOL): D("0.002")}
    balances = {"a": {"USDT": D("200")}, "b": {"ETH": D("10")}}
    blocked = blocked_routes(find_arbitrage(books, fees, D(0)), find_arbitrage(books, fees, D(0), balances=balances))
    # 3 ETH on the books, 1.98812... ETH for 200 USDT on a (see the balance test above).
    assert [(r.buy_venue, r.sell_venue, r.book_amount, r.capped_by) for r in blocked] == [
        ("a", "b", D("3"), "USDT on a")
    ]
    assert blocked[0].fundable_amount == D("1.98812079")
    assert blocked_routes(find_arbitrage(books, fees, D(0)), find_arbitrage(books, fees, D(0), balances={})) == []
