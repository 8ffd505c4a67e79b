"""The service's order path with the journal: intent before send, never a retried create,
UNKNOWN after an ambiguous failure until looked up, reconciliation at start, read-only
and risk limits refused before anything is journaled or sent."""

from __future__ import annotations

from decimal import Decimal as D
from types import MappingProxyType

import pytest

from aitbc_tui.config import RiskConfig
from aitbc_tui.domain import OrderRejected, OrderRequest, OrderStatus, OrderType, Side, VenueError, VenueUnavailable
from aitbc_tui.journal import EventKind, Journal, JournalState
from aitbc_tui.service import MarketService
from aitbc_tui.venues.sim import SimVenue, create_sandbox_venues
from tests.apptools import wait_until

FROZEN = 1_700_000_000.0


class RecordingVenue(SimVenue):
    """Counts creates; ``lose_reply``: place the order, then fail as a timeout would;
    ``drop``: fail without placing."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.creates: list[OrderRequest] = []
        self.lose_reply = 0
        self.drop = 0
        self.read_only = False
        self.hidden = False  # the venue's answers do not show the order yet (lagging API)

    async def fetch_open_orders(self):
        return [] if self.hidden else await super().fetch_open_orders()

    async def fetch_order_by_client_id(self, client_order_id, symbol):
        return None if self.hidden else await super().fetch_order_by_client_id(client_order_id, symbol)

    async def place_order(self, request):
        self.creates.append(request)
        if self.drop:
            self.drop -= 1
            raise VenueUnavailable(f"{self.name}: request timed out")
        order = await super().place_order(request)
        if self.lose_reply:
            self.lose_reply -= 1
            raise VenueUnavailable(f"{self.name}: request timed out")
        return order


@pytest.fixture
def world(tmp_path):
    world, venues = create_sandbox_venues(seed=3, data_dir=tmp_path, clock=lambda: FROZEN,
                                          autostart_ticks=False, latency=False, persist=False)  # fmt: skip
    world.run_steps(20, 0.1)
    yield world
    world.close()


def make_service(world, journal, **kwargs):
    venue = RecordingVenue(world, "binance", autostart_ticks=False)
    kwargs.setdefault("unknown_lookup_delays_s", (0.01,))
    service = MarketService([venue], journal=journal, health_interval_s=3600, account_interval_s=3600, **kwargs)
    return service, venue


def limit_buy(service, amount="0.01", **kw) -> OrderRequest:
    bid = service.book("binance", "BTC/USDT").best_bid
    return OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, D(amount), kw.get("price", bid))


async def started(service):
    await service.start()
    await wait_until(lambda: service.book("binance", "BTC/USDT") is not None, what="binance's first book")
    return service


async def test_intent_is_journaled_before_the_send_with_a_client_order_id(world, tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    service, venue = make_service(world, journal)
    await started(service)
    seen_at_send = []
    original = venue.place_order

    async def spy(request):
        seen_at_send.append(journal.order(request.client_order_id))
        return await original(request)

    venue.place_order = spy
    order = await service.place_order(limit_buy(service))
    await service.stop()
    assert seen_at_send[0] is not None and seen_at_send[0].state is JournalState.SENT
    assert order.client_order_id == seen_at_send[0].client_order_id
    assert order.client_order_id.startswith("aitbc") and len(order.client_order_id) == 20
    row = journal.order(order.client_order_id)
    assert row.state is JournalState.OPEN and row.venue_order_id == order.id
    assert [e.kind for e in journal.events()] == [EventKind.INTENT, EventKind.SENT, EventKind.ACK]


async def test_lost_reply_is_unknown_never_resent_then_resolved_by_lookup(world, tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    service, venue = make_service(world, journal, unknown_lookup_delays_s=(0.3,), unknown_misses_to_settle=1000)
    await started(service)
    venue.lose_reply = 1
    venue.hidden = True
    with pytest.raises(VenueError, match="UNKNOWN") as raised:
        await service.place_order(limit_buy(service))
    # The venue is named once: "binance: request timed out: the order is UNKNOWN …".
    assert str(raised.value).startswith(f"{venue.name}: request timed out: the order is UNKNOWN"), raised.value
    coid = venue.creates[0].client_order_id
    assert journal.order(coid).state is JournalState.UNKNOWN
    shown = [o for o in service.open_orders() if o.client_order_id == coid]
    assert shown and shown[0].status is OrderStatus.UNKNOWN
    with pytest.raises(OrderRejected, match="UNKNOWN"):  # no resend while it is unknown
        await service.place_order(limit_buy(service))
    venue.hidden = False
    await wait_until(lambda: not service.unknown_orders())
    assert len(venue.creates) == 1  # the create was sent once, never retried
    assert journal.order(coid).state is JournalState.OPEN
    assert [o.client_order_id for o in world.engine("binance").open_orders("operator")] == [coid]
    assert any("was UNKNOWN" in n for n in service.notices)
    await service.place_order(limit_buy(service))  # resolved: trading continues
    await service.stop()


async def test_dropped_request_settles_as_not_placed_after_repeated_misses(world, tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    service, venue = make_service(world, journal, unknown_misses_to_settle=3)
    await started(service)
    venue.drop = 1
    with pytest.raises(VenueError, match="UNKNOWN"):
        await service.place_order(limit_buy(service))
    await wait_until(lambda: not service.unknown_orders())
    coid = venue.creates[0].client_order_id
    assert journal.order(coid).state is JournalState.NOT_PLACED
    assert world.engine("binance").open_orders("operator") == []
    await service.stop()


async def test_rejection_is_journaled_as_rejected(world, tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    service, venue = make_service(world, journal)
    await started(service)
    with pytest.raises(OrderRejected):
        await service.place_order(limit_buy(service, amount="100000"))
    row = journal.orders()[0]
    assert row.state is JournalState.REJECTED and row.message
    await service.stop()


async def test_start_reconciles_every_unresolved_order_before_accepting_orders(world, tmp_path):
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    engine = world.engine("binance")
    bid = engine.book("BTC/USDT", 1).best_bid
    request = OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), bid)
    never_sent = journal.record_intent(request, "sandbox", "sim")
    placed = journal.record_intent(request, "sandbox", "sim")
    journal.mark_sent(placed)
    engine.place("operator", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), bid, client_order_id=placed)
    other_mode = journal.record_intent(request, "live", "binance")  # not this session's venue
    journal.close()

    journal = Journal(path)
    service, venue = make_service(world, journal)
    with pytest.raises(OrderRejected, match="reconciled"):
        await service.place_order(request)
    await started(service)
    assert journal.order(never_sent).state is JournalState.NOT_PLACED
    assert journal.order(placed).state is JournalState.OPEN
    assert journal.order(other_mode).state is JournalState.INTENT  # left alone
    assert len(service.reconcile_report) == 2
    assert venue.creates == []  # reconciliation only looks orders up
    await service.stop()


async def test_account_poll_journals_fills_and_cancels(world, tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    service, venue = make_service(world, journal)
    await started(service)
    order = await service.place_order(limit_buy(service))
    await service.cancel_order(order)
    assert journal.order(order.client_order_id).state is JournalState.CANCELED
    ask = service.book("binance", "BTC/USDT").best_ask
    market = await service.place_order(OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.MARKET, D("0.01")))
    row = journal.order(market.client_order_id)
    assert row.state is JournalState.FILLED and row.filled == D("0.01")
    assert ask is not None
    await service.stop()


async def test_read_only_refuses_before_journal_or_venue(world, tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    service, venue = make_service(world, journal, read_only=True)
    await started(service)
    with pytest.raises(OrderRejected, match="read-only"):
        await service.place_order(limit_buy(service))
    report = await service.cancel_all()
    assert report.cancelled == ()
    service.read_only = False
    venue.read_only = True  # a venue marked read-only (config or keys)
    assert service.is_read_only("binance")
    with pytest.raises(OrderRejected, match="read-only"):
        await service.place_order(limit_buy(service))
    assert venue.creates == [] and journal.orders() == []
    await service.stop()


async def test_risk_limits_refuse_with_the_limit_named(world, tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    risk = RiskConfig(max_order_value=MappingProxyType({"binance": D("1000")}), max_open_orders=3,
                      daily_traded_value=D("2500"))  # fmt: skip
    service, venue = make_service(world, journal, risk=risk, clock=lambda: FROZEN)
    await started(service)
    bid = service.book("binance", "BTC/USDT").best_bid
    with pytest.raises(OrderRejected, match=r"risk\.max_order_value\.binance = 1000"):
        await service.place_order(limit_buy(service, amount="1"))
    assert journal.orders() == [] and venue.creates == []
    big = str((D("900") / bid).quantize(D("0.0001")))
    tiny = str((D("10") / bid).quantize(D("0.0001")))
    await service.place_order(limit_buy(service, amount=big))
    await service.place_order(limit_buy(service, amount=big))
    small = await service.place_order(limit_buy(service, amount=tiny))
    with pytest.raises(OrderRejected, match=r"risk\.max_open_orders = 3"):
        await service.place_order(limit_buy(service, amount=tiny))
    await service.cancel_order(small)  # a cancelled order counts only what it filled
    with pytest.raises(OrderRejected, match=r"risk\.daily_traded_value = 2500"):
        await service.place_order(limit_buy(service, amount=big))
    assert len(venue.creates) == 3
    await service.stop()


# ---- kraken dead man's switch (cancel_all_orders_after) against the emulator ---------------


async def test_kraken_dead_man_switch_is_rearmed_while_running_and_fires_when_it_stops():
    from aitbc_tui.config import VenueConfig
    from aitbc_tui.credentials import Credentials
    from aitbc_tui.domain import Mode
    from aitbc_tui.emulator import start_emulator
    from aitbc_tui.venues.ccxt_venue import CcxtVenue

    emu = await start_emulator("kraken", api_key="test-key", simulate=False, seed=2)
    config = VenueConfig(name="k", exchange="kraken", mode=Mode.LIVE, symbols=("BTC/USDT",),
                         api_url=emu.url, dead_man_switch_s=12)  # fmt: skip
    venue = CcxtVenue(config, credentials=Credentials(api_key=emu.api_key, secret=emu.secret))
    venue._rest.enableRateLimit = False
    try:
        await venue.start()
        first = venue.dead_man_armed_until
        assert first is not None and "kraken_dead_man" in emu.ctx.state  # armed before any order
        book = emu.engine.book("BTC/USDT", 1)
        price = (book.best_bid * D("0.9")).quantize(D("0.1"))
        await venue.place_order(OrderRequest("k", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), price, "dms-1"))
        # re-armed every timeout / 3 = 4 s
        await wait_until(lambda: venue.dead_man_armed_until > first, what="the dead man's switch re-armed")
        assert len(emu.engine.open_orders(emu.ctx.account)) == 1
        # Disarm-free stop: the dashboard quits, the switch fires after its timeout.
        timer = emu.ctx.state["kraken_dead_man"][emu.ctx.account]
        await venue.close()
        timer_now = emu.ctx.state["kraken_dead_man"][emu.ctx.account]
        assert timer_now is timer and not timer.done()
        # Re-arm with a 1 s timeout through the protocol to see it fire without waiting 12 s.
        client = CcxtVenue(config, credentials=Credentials(api_key=emu.api_key, secret=emu.secret))
        client._rest.enableRateLimit = False
        await client._rest.load_markets()
        await client._rest.cancel_all_orders_after(1000)
        await client.close()
        await wait_until(lambda: not emu.engine.open_orders(emu.ctx.account), what="the switch cancelling the order")
    finally:
        await venue.close()
        await emu.stop()


def test_dead_man_switch_config_is_validated():
    from aitbc_tui.config import ConfigError, parse_config

    base = '[venues.k]\nexchange = "kraken"\nmode = "{mode}"\nsymbols = ["BTC/USDT"]\ndead_man_switch_s = {value}\n'
    assert parse_config(base.format(mode="live", value=60)).venues[0].dead_man_switch_s == 60
    with pytest.raises(ConfigError, match="dead_man_switch_s.*10 to 86400"):
        parse_config(base.format(mode="live", value=5))
    with pytest.raises(ConfigError, match="no effect in paper mode"):
        parse_config(base.format(mode="paper", value=60))
