"""Deposits and withdrawals change the position, not the P&L (issue 11). Every expectation is
computed by hand in a comment."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from aitbc_tui.domain import Side, Transfer
from aitbc_tui.pnl import CostMethod, PnlFill, PnlTracker, PnlTransfer, replay, transfer_symbol

NOON = 1_700_006_400.0 + 12 * 3600


def f(side: str, price: str, amount: str, t: float = NOON, fee: str = "0", trade_id: str = "") -> PnlFill:
    return PnlFill("binance", "BTC/USDT", Side(side), D(price), D(amount), D(fee), "USDT", t, trade_id)


def tr(amount: str, price: str, t: float = NOON, fee: str = "0", id: str = "t1") -> PnlTransfer:
    transfer = Transfer("binance", "BTC", D(amount), t, id, fee=D(fee))
    return PnlTransfer.from_transfer(transfer, "BTC/USDT", D(price), "1m candle close")


def tracker(method=CostMethod.AVERAGE) -> PnlTracker:
    return PnlTracker(method, session_start=NOON - 60, clock=lambda: NOON + 60)


@pytest.mark.parametrize("method", list(CostMethod))
def test_deposit_then_sell_is_no_short(method):
    t = tracker(method)
    p = t.apply_transfer(tr("1", "100", NOON - 10))
    assert (p.quantity, p.average_cost, p.realised, p.transfers, p.deposited) == (D(1), D(100), D(0), 1, D(1))
    assert p.transfer_prices == ("1m candle close",)
    t.apply(f("sell", "150", "1", fee="0.15"))
    p = t.position("binance", "BTC/USDT")
    # (150 - 100) x 1 = 50 realised, flat, not short
    assert (p.quantity, p.realised, p.fees, p.average_cost) == (D(0), D(50), D("0.15"), None)
    # the period holds the sale only; the deposit is no period figure
    assert t.session("binance", "BTC/USDT").realised == D(50)
    assert t.session("binance", "BTC/USDT").fills == 1
    assert (p.fills, p.bought, p.sold) == (1, D(0), D(1))


def test_deposit_alone_realises_nothing_and_is_marked():
    t = tracker()
    t.apply_transfer(tr("2", "100"))
    t.set_mark("binance", "BTC/USDT", D(110))
    p = t.position("binance", "BTC/USDT")
    # unrealised (110 - 100) x 2 = 20; realised, fees and the periods stay 0
    assert (p.realised, p.fees, p.unrealised, p.net) == (D(0), D(0), D(20), D(20))
    assert t.session("binance", "BTC/USDT").net == 0 and t.today("binance", "BTC/USDT").fills == 0
    s = t.summary("USDT", {})
    assert s.unvalued == ("USDT",)  # no rate given: left out, as for fills


def test_withdrawal_under_average_cost():
    t = tracker()
    t.apply_many([f("buy", "100", "1"), f("buy", "200", "1")])
    p = t.apply_transfer(tr("-0.5", "170", NOON + 1))
    # avg 150 unchanged; 1.5 left, cost 225; nothing realised
    assert (p.quantity, p.average_cost, p.cost_basis, p.realised, p.withdrawn) == (
        D("1.5"), D(150), D(225), D(0), D("0.5"))  # fmt: skip
    p = t.apply(f("sell", "180", "1.5", NOON + 2))
    assert p.realised == D(45)  # (180 - 150) x 1.5


def test_withdrawal_under_fifo_takes_the_oldest_lot():
    t = tracker(CostMethod.FIFO)
    t.apply_many([f("buy", "100", "1"), f("buy", "200", "1")])
    p = t.apply_transfer(tr("-0.5", "170", NOON + 1))
    # the 100 lot gives 0.5: lots 0.5@100, 1@200; cost 50 + 200 = 250
    assert (p.quantity, p.cost_basis, p.realised) == (D("1.5"), D(250), D(0))
    p = t.apply(f("sell", "180", "1", NOON + 2))
    # 0.5 x (180 - 100) + 0.5 x (180 - 200) = 40 - 10 = 30; 0.5 @ 200 left
    assert (p.realised, p.quantity, p.average_cost) == (D(30), D("0.5"), D(200))


def test_withdrawal_fee_leaves_the_position_too():
    t = tracker()
    t.apply(f("buy", "100", "1"))
    p = t.apply_transfer(tr("-0.5", "170", NOON + 1, fee="0.01"))
    # the balance drops by 0.5 + 0.01; avg 100 unchanged
    assert (p.quantity, p.average_cost, p.withdrawn, p.realised) == (D("0.49"), D(100), D("0.51"), D(0))


def test_withdrawal_beyond_the_position_crosses_zero_at_its_price():
    t = tracker()
    p = t.apply_transfer(tr("-1", "100"))
    assert (p.quantity, p.cost_basis, p.realised) == (D(-1), D(-100), D(0))
    p = t.apply_transfer(tr("1", "120", id="t2"))  # a deposit back closes it at cost, realising 0
    assert (p.quantity, p.realised) == (D(0), D(0))


def test_transfer_symbol_rule():
    symbols = ["ETH/BTC", "ETH/USDT", "BTC/USDT"]
    assert transfer_symbol("ETH", symbols) == "ETH/USDT"
    assert transfer_symbol("ETH", ["ETH/EUR", "ETH/BTC"]) == "ETH/BTC"  # alphabetically first
    assert transfer_symbol("ETH", ["ETH/EUR", "ETH/BTC"], valuation="EUR") == "ETH/EUR"
    assert transfer_symbol("USDT", symbols) is None  # the quote: no position moves
    assert transfer_symbol("SOL", symbols) is None


@pytest.mark.parametrize(("method", "realised", "left_cost"), [
    # average: buy 1@100, deposit 1@120 -> 2 @ 110; sell 1@150 -> 40; 1 @ 110 left
    (CostMethod.AVERAGE, D(40), D(110)),
    # FIFO: the 100 lot is sold first -> 50; the deposited 1 @ 120 is left
    (CostMethod.FIFO, D(50), D(120)),
])  # fmt: skip
def test_replay_puts_transfers_in_time_order_for_either_method(method, realised, left_cost):
    fills = [f("buy", "100", "1", NOON + 1), f("sell", "150", "1", NOON + 3)]
    transfers = [tr("1", "120", NOON + 2)]
    assert [type(e).__name__ for e in replay(fills, transfers)] == ["PnlFill", "PnlTransfer", "PnlFill"]
    t = tracker(method)
    t.apply_many(replay(fills, transfers))
    p = t.position("binance", "BTC/USDT")
    assert (p.realised, p.quantity, p.average_cost, p.transfers) == (realised, D(1), left_cost, 1)


def test_in_order_tells_a_late_transfer():
    t = tracker()
    t.apply(f("buy", "100", "1", NOON + 5))
    assert t.in_order(tr("1", "100", NOON + 5))
    assert not t.in_order(tr("1", "100", NOON + 4))
    assert t.in_order(PnlTransfer("binance", "ETH/USDT", D(1), D(1), "x", NOON))  # no ETH position yet


def test_transfer_domain():
    deposit = Transfer("kraken", "BTC", D("0.5"), NOON, "d1")
    withdrawal = Transfer("kraken", "BTC", D("-0.5"), NOON, "w1", status="pending", fee=D("0.001"))
    assert (deposit.kind, deposit.completed, deposit.change) == ("deposit", True, D("0.5"))
    assert (withdrawal.kind, withdrawal.completed, withdrawal.change) == ("withdrawal", False, D("-0.501"))
