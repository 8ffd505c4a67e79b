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


def test_a_late_transfer_rebuilds_its_position_only():
    fills = [f("buy", "100", "1", NOON + 1), f("sell", "150", "1", NOON + 3),
             PnlFill("binance", "ETH/USDT", Side.BUY, D(10), D(1), D(0), "USDT", NOON + 4)]  # fmt: skip
    t = tracker()
    t.apply_many(fills)
    late = tr("1", "120", NOON + 2)
    assert not t.in_order(late)
    t.rebuild("binance", "BTC/USDT", fills, [late])
    p = t.position("binance", "BTC/USDT")
    # as replayed in time order: 2 @ 110 before the sale -> 40 realised, 1 @ 110 left
    assert (p.realised, p.quantity, p.average_cost, p.transfers, p.fills) == (D(40), D(1), D(110), 1, 2)
    assert t.position("binance", "ETH/USDT").quantity == D(1)  # untouched


def test_transfer_domain():
    deposit = Transfer("kraken", "BTC", D("0.5"), NOON, "d1")
    withdrawal = Transfer("kraken", "BTC", D("-0.5"), NOON, "w1", status="pending", fee=D("0.001"))
    assert (deposit.kind, deposit.completed, deposit.change) == ("deposit", True, D("0.5"))
    assert (withdrawal.kind, withdrawal.completed, withdrawal.change) == ("withdrawal", False, D("-0.501"))


# ---- the sandbox: its start funding and later deposits through the feed ----------------------


async def test_sandbox_funding_is_deposits_and_selling_them_is_no_short(tmp_path):
    from aitbc_tui.domain import OrderRequest, OrderType
    from aitbc_tui.service import MarketService
    from aitbc_tui.sim.specs import OPERATOR
    from aitbc_tui.venues.sim import create_sandbox_venues
    from tests.apptools import wait_until

    now = [1_795_000_000.0]
    world, venues = create_sandbox_venues(seed=3, reset=True, data_dir=tmp_path, clock=lambda: now[0],
                                          autostart_ticks=False, latency=False, persist=False)  # fmt: skip
    for _ in range(40):  # trades in the funding's minute and after: candles to price it
        world.step(0.5)
        now[0] += 3
    service = MarketService(venues, monotonic=lambda: 1000.0, health_interval_s=3600, account_interval_s=3600)
    await service.start()
    try:
        venue, symbol = "binance", "BTC/USDT"
        await wait_until(lambda: service.book(venue, symbol) is not None)
        feed = service.market_feed()
        feed.pnl_report("USDT")  # the P&L's first use starts the transfers' poll
        await wait_until(lambda: (p := feed.tracker.position(venue, symbol)) is not None and p.transfers == 1)
        engine = world.engine(venue)
        funded_at = 1_795_000_000.0
        # The sandbox states the price it funded at: the world's BTC price then, to the tick.
        (start,) = [t for t in engine.transfers(OPERATOR) if t.id == "start-BTC"]
        tick = service.market(venue, symbol).tick_size
        assert start.price_quote == "USDT" and start.price == start.price.quantize(tick) and start.price > 0
        (moved,) = [m for t, m in feed.transfers() if m is not None and (m.venue, m.symbol) == (venue, symbol)]
        assert (moved.amount, moved.price, moved.price_source, moved.time) == (
            D(2), start.price, "the venue's price at the transfer", funded_at)  # fmt: skip
        cost = start.price
        usdt = [t for t, m in feed.transfers() if t.asset == "USDT" and t.venue == venue]
        assert [(t.id, t.amount) for t in usdt] == [("start-USDT", D(100000))]  # listed, moves no position

        low = (service.book(venue, symbol).best_bid * D("0.98")).quantize(D("0.01"))  # walks the bids: fills whole
        await service.place_order(OrderRequest(venue, symbol, Side.SELL, OrderType.LIMIT, D(1), low, "sell-funded"))
        await wait_until(lambda: feed.tracker.position(venue, symbol).sold == 1)
        p = feed.tracker.position(venue, symbol)
        # 1 of the 2 deposited BTC sold for traded_value: realised traded_value - 1 x deposit price;
        # 1 left at the deposit price, long, not short
        realised = p.traded_value - cost
        assert (p.quantity, p.realised, p.average_cost) == (D(1), realised, cost) and p.fees > 0

        now[0] += 60
        engine.deposit(OPERATOR, "BTC", D("0.5"))  # a later deposit: at the book's mid (no candle then)
        version = feed.pnl_version
        assert await feed.refresh_transfers()
        (later,) = [m for t, m in feed.transfers() if t.id == "D1"]
        assert later is not None and later.price_source == "book mid when first seen"
        mid = later.price
        p = feed.tracker.position(venue, symbol)
        assert (p.quantity, p.realised, p.transfers, p.deposited) == (D("1.5"), realised, 2, D("2.5"))
        assert p.cost_basis == cost + D("0.5") * mid and feed.pnl_version > version
        assert set(p.transfer_prices) == {"the venue's price at the transfer", "book mid when first seen"}
        version = feed.pnl_version
        await feed.refresh_transfers()  # the same ledger again: each transfer is applied once
        assert feed.tracker.position(venue, symbol).transfers == 2 and feed.pnl_version == version

        feed.set_method("fifo")  # recomputed from the same fills and transfers, in time order
        p = feed.tracker.position(venue, symbol)
        assert (p.quantity, p.realised, p.transfers, p.cost_basis) == (
            D("1.5"), realised, 2, cost + D("0.5") * mid)  # fmt: skip
    finally:
        await service.stop()


def test_the_sandboxs_start_funding_keeps_its_price_across_a_restart(tmp_path):
    """A restart must not re-price the starting coins at that day's mid (their unrealised P&L
    would start again from zero at every launch): the funding's prices are in the store."""
    from aitbc_tui.sim.specs import OPERATOR
    from aitbc_tui.venues.sim import create_sandbox_venues

    clock = [1_795_000_000.0]

    def funding():
        world, _venues = create_sandbox_venues(seed=None, data_dir=tmp_path, clock=lambda: clock[0],
                                               autostart_ticks=False, latency=False, persist=True)  # fmt: skip
        try:
            return {(t.asset, t.time, t.price, t.price_quote) for t in world.engine("binance").transfers(OPERATOR)}
        finally:
            world.close()

    first = funding()
    assert ("BTC", clock[0], next(p for a, _, p, _ in first if a == "BTC"), "USDT") in first
    clock[0] += 86_400  # a day later: the world's prices moved on, the funding did not
    assert funding() == first


async def test_a_venue_without_transfers_is_skipped_quietly(tmp_path):
    from aitbc_tui.market_feed import MarketFeed

    class Service:  # what the feed asks of the service; this venue has no fetch_transfers
        venue_names = ["plain"]
        journal = None

        def add_event_listener(self, _listener):
            pass

        def venue(self, name):
            return type("Plain", (), {"name": name})()

        def markets(self, name):
            return {"BTC/USDT": None}

        def books(self):
            return {}

    feed = MarketFeed(Service())
    assert await feed.refresh_transfers()
    assert await feed.refresh_transfers() and feed._no_transfers == {"plain"} and feed.transfers() == ()


# ---- the binance emulator through the real ccxt client --------------------------------------


async def test_binance_emulator_deposit_moves_the_position_via_ccxt(still_emulator, loopback_only):
    from aitbc_tui.service import MarketService
    from tests.apptools import wait_until
    from tests.emulator_helpers import live_binance_venue

    emu = await still_emulator("binance")
    venue = live_binance_venue(emu)
    service = MarketService([venue], health_interval_s=3600, account_interval_s=3600)
    await service.start()
    try:
        await wait_until(lambda: service.book("binance", "BTC/USDT") is not None)
        # The emulator funds its account by deposits: ccxt reads them from /sapi/v1/capital/deposit/hisrec.
        funded = {t.asset: t for t in await venue.fetch_transfers()}
        assert all(t.kind == "deposit" and t.completed for t in funded.values()) and "BTC" in funded
        assert funded["BTC"].amount == emu.engine.balances(emu.ctx.account)["BTC"].total

        feed = service.market_feed()
        assert await feed.refresh_transfers()
        before = feed.tracker.position("binance", "BTC/USDT")
        assert (before.quantity, before.transfers, before.realised) == (funded["BTC"].amount, 1, 0)

        emu.engine.deposit(emu.ctx.account, "BTC", D("0.25"))  # a deposit made on the emulator
        emu.engine.deposit(emu.ctx.account, "BTC", D("-0.05"))  # and a withdrawal (/capital/withdraw/history)
        emu.engine.deposit(emu.ctx.account, "USDT", D("500"))  # the quote: listed, moves no position
        assert await feed.refresh_transfers()
        p = feed.tracker.position("binance", "BTC/USDT")
        # + 0.25 at its price, - 0.05 at the average cost: realised unchanged (0)
        assert (p.quantity, p.transfers, p.deposited, p.withdrawn, p.realised) == (
            before.quantity + D("0.2"), 3, before.quantity + D("0.25"), D("0.05"), 0)  # fmt: skip
        funding_ids = {t.id for t in funded.values()}
        kinds = [(t.kind, t.asset, t.amount) for t, _moved in feed.transfers() if t.id not in funding_ids]
        assert sorted(kinds) == sorted([("deposit", "BTC", D("0.25")), ("withdrawal", "BTC", D("-0.05")),
                                        ("deposit", "USDT", D(500))])  # fmt: skip
        version = feed.pnl_version
        await feed.refresh_transfers()  # served again from `since`: nothing applied twice
        assert feed.tracker.position("binance", "BTC/USDT").transfers == 3 and feed.pnl_version == version
    finally:
        await service.stop()
