"""The invariant checker itself: it must see each kind of disagreement (a checker that
always returns [] would make every fault test pass)."""

from __future__ import annotations

from decimal import Decimal as D

from aitbc_tui.domain import Order, OrderRequest, OrderStatus, OrderType, Side
from aitbc_tui.journal import Journal
from tests.emulator_helpers import emulator_factory  # noqa: F401 - fixture
from tests.faults.invariants import check_invariants


def request(coid: str, price: str = "50000") -> OrderRequest:
    return OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), D(price), client_order_id=coid)


def place(emu, coid: str, price: str = "50000"):
    return emu.engine.place(emu.ctx.account, "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), D(price),
                            client_order_id=coid)  # fmt: skip


def ack_view(order) -> Order:
    return order if isinstance(order, Order) else order[0]


async def test_checker_sees_each_disagreement(emulator_factory, tmp_path):  # noqa: F811
    emu = await emulator_factory("binance", simulate=False, seed=1)
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        assert check_invariants(journal, [emu]) == []

        # agreeing: journaled open, resting at the venue
        journal.record_intent(request("ok-1"), "live", "binance")
        journal.mark_sent("ok-1")
        placed = ack_view(place(emu, "ok-1"))
        journal.mark_ack("ok-1", placed)
        assert check_invariants(journal, [emu]) == []
        assert check_invariants(journal, {"binance": emu}) == []
        assert check_invariants(journal.path, [emu]) == []

        # (c) the venue holds an order the journal does not know
        ack_view(place(emu, "stranger"))
        [v] = check_invariants(journal, [emu])
        assert "stranger" in v and "no such order" in v
        emu.engine.cancel(emu.ctx.account, emu.engine.get_order(emu.ctx.account, client_order_id="stranger").id)
        journal.record_intent(request("stranger"), "live", "binance")
        journal.mark_sent("stranger")
        # unresolved but the venue can prove it (canceled): a violation once settled only
        [v] = check_invariants(journal, [emu])
        assert "stranger" in v and "unresolved" in v
        assert check_invariants(journal, [emu], settled=False) == []
        journal.reconcile("stranger", emu.engine.get_order(emu.ctx.account, client_order_id="stranger"))
        assert check_invariants(journal, [emu]) == []

        # (b) one client id placed twice (the engines refuse a second *open* one; a resend
        # after the first closed is what a blind retry produces)
        journal.record_intent(request("twice"), "live", "binance")
        journal.mark_sent("twice")
        first = ack_view(place(emu, "twice"))
        journal.mark_ack("twice", first)
        emu.engine.cancel(emu.ctx.account, first.id)
        journal.mark_canceled("twice", by="operator")
        assert check_invariants(journal, [emu]) == []
        second = ack_view(place(emu, "twice", "49000"))
        found = check_invariants(journal, [emu], settled=False)
        assert any("twice" in v and "placed 2 times" in v for v in found), found
        emu.engine.cancel(emu.ctx.account, second.id)
        emu.engine._closed[emu.ctx.account].remove(
            next(o for o in emu.engine._closed[emu.ctx.account] if o.id == second.id)
        )
        assert check_invariants(journal, [emu]) == []

        # (a) journal not placed while the venue holds it
        journal.record_intent(request("ghost"), "live", "binance")
        journal.mark_sent("ghost")
        journal.reconcile("ghost", None, "absent")
        assert check_invariants(journal, [emu]) == [v for v in check_invariants(journal, [emu]) if "ghost" not in v]
        place(emu, "ghost")
        assert any("ghost" in v and "not_placed" in v for v in check_invariants(journal, [emu], settled=False))

        # (a) journal open while the venue cancelled it
        journal.record_intent(request("gone"), "live", "binance")
        journal.mark_sent("gone")
        gone = ack_view(place(emu, "gone"))
        journal.mark_ack("gone", gone)
        emu.engine.cancel(emu.ctx.account, gone.id)
        assert any("gone" in v and OrderStatus.CANCELED.value in v for v in check_invariants(journal, [emu]))
    finally:
        journal.close()


async def test_remote_emulator_reads_orders_and_arms_faults_over_loopback(emulator_factory, tmp_path):  # noqa: F811
    """What scripts/soak uses when the emulators run in a child process: the same orders
    the engine holds (exact decimals), the same violations, faults armed over HTTP. Calls
    are synchronous, so the test makes them from a thread (the emulator runs on this loop)."""
    import asyncio

    from tests.faults.remote import RemoteEmulator

    emu = await emulator_factory("binance", simulate=False, seed=1)
    remote = RemoteEmulator.from_json({"venue": "binance", "url": emu.url, "ws_url": emu.ws_url,
                                       "api_key": emu.api_key, "secret": emu.secret, "ccxt_id": emu.ccxt_id})  # fmt: skip
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        journal.record_intent(request("ok-1"), "live", "binance")
        journal.mark_sent("ok-1")
        journal.mark_ack("ok-1", ack_view(place(emu, "ok-1")))
        canceled = ack_view(place(emu, "stranger", "49000.5"))
        emu.engine.cancel(emu.ctx.account, canceled.id)

        held = await asyncio.to_thread(remote.held_orders)
        assert [(o.client_order_id, o.status, o.side, o.amount, o.filled, o.price) for o in held] == [
            ("ok-1", OrderStatus.OPEN, Side.BUY, D("0.01"), D("0"), D("50000")),
            ("stranger", OrderStatus.CANCELED, Side.BUY, D("0.01"), D("0"), D("49000.5")),
        ]
        found = await asyncio.to_thread(check_invariants, journal.path, {"binance": remote})
        assert found == check_invariants(journal, {"binance": emu})
        [violation] = found
        assert "stranger" in violation and "no such order" in violation

        await asyncio.to_thread(remote.set_fault, "http_5xx", "/api/v3/order", 1, "POST", status=503)
        [rule] = emu.ctx.faults.to_json()
        assert (rule["kind"], rule["endpoint"], rule["method"], rule["count"], rule["params"]) == (
            "http_5xx", "/api/v3/order", "POST", 1, {"status": 503})  # fmt: skip
        await asyncio.to_thread(remote.clear_faults)
        assert emu.ctx.faults.to_json() == []
    finally:
        journal.close()
