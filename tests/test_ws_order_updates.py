"""Order updates by websocket through the product's CcxtVenue and the real ccxt.pro client
(4.5.90) against the kraken and coinbase emulators on 127.0.0.1: an order placed by REST and
then cancelled reaches ``watch_order_updates`` with its amount, symbol and our client order
id, though ccxt.pro gets each wrong on one of them (see ``quirks.ExchangeQuirks.ws_order_*``):
- coinbase: ccxt sets ``amount`` from cumulative_quantity, 0 for an unfilled order;
- kraken: ccxt reads clientOrderId from order_userref (we send cl_ord_id), and the
  canceled frame carries no symbol, so ccxt cannot merge it with the open order."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from aitbc_tui.domain import Order, OrderRequest, OrderStatus, OrderType, Side
from tests.emulator_helpers import emulator_factory, loopback_only  # noqa: F401 - fixtures
from tests.emulator_ws_helpers import SYMBOL, TIMEOUT_S, product_venue, until

AMOUNT = Decimal("0.002")


@pytest.fixture(params=["kraken", "coinbase"])
async def emu(request, emulator_factory, loopback_only):  # noqa: F811
    return await emulator_factory(request.param, seed=3, simulate=False)


def update_of(updates: list[tuple[Order, tuple]], order_id: str, status: OrderStatus) -> Order | None:
    return next((o for o, _ in reversed(updates) if o.id == order_id and o.status is status), None)


async def subscribed(venue) -> asyncio.Future:
    """A watch, started once the user stream is subscribed: coinbase answers the first watch
    with a snapshot; kraken's snapshot holds the open orders, so an order placed meanwhile shows.
    A watch is always started before the action it should see: a frame with no watch waiting
    does not wake a later one."""
    first = asyncio.ensure_future(venue.watch_order_updates())
    if venue.exchange_id != "coinbase":
        return first
    await asyncio.wait_for(first, TIMEOUT_S)
    return asyncio.ensure_future(venue.watch_order_updates())


async def next_update(venue, pending: asyncio.Future, order_id: str, status: OrderStatus) -> Order:
    got = await asyncio.wait_for(pending, TIMEOUT_S)
    if (order := update_of(got, order_id, status)) is not None:
        return order
    got = await until(venue.watch_order_updates, lambda u: update_of(u, order_id, status) is not None)
    return update_of(got, order_id, status)


def resting_bid(emu, coid: str) -> OrderRequest:
    price = emu.engine.book(SYMBOL, 1).best_bid - 40
    return OrderRequest(f"emu-{emu.venue}", SYMBOL, Side.BUY, OrderType.LIMIT, AMOUNT, price, client_order_id=coid)


async def test_order_placed_and_cancelled_by_rest_arrives_by_websocket(emu):
    async with product_venue(emu) as venue:
        first = await subscribed(venue)
        placed = await venue.place_order(resting_bid(emu, f"wsu{emu.venue[:2]}1"))
        opened = await next_update(venue, first, placed.id, OrderStatus.OPEN)
        assert (opened.amount, opened.filled, opened.symbol, opened.client_order_id) == (
            AMOUNT,
            0,
            SYMBOL,
            placed.client_order_id,
        )
        pending = asyncio.ensure_future(venue.watch_order_updates())
        await venue.cancel_order(placed.id, SYMBOL)
        canceled = await next_update(venue, pending, placed.id, OrderStatus.CANCELED)
        assert (canceled.amount, canceled.filled, canceled.symbol, canceled.client_order_id) == (
            AMOUNT,
            0,
            SYMBOL,
            placed.client_order_id,
        )


async def test_a_venue_that_never_saw_the_order_reads_it_from_the_frames(emu):
    """After a restart the venue knows no order: amount, symbol and client id come from the
    frames (kraken order_qty and cl_ord_id; coinbase filled + remaining) and the one symbol."""
    async with product_venue(emu) as trader, product_venue(emu) as watcher:
        first = await subscribed(watcher)
        placed = await trader.place_order(resting_bid(emu, f"wsu{emu.venue[:2]}2"))
        opened = await next_update(watcher, first, placed.id, OrderStatus.OPEN)
        assert (opened.amount, opened.symbol, opened.client_order_id) == (AMOUNT, SYMBOL, placed.client_order_id)
        watcher._orders.clear()  # and forgets it again before the cancel
        pending = asyncio.ensure_future(watcher.watch_order_updates())
        await trader.cancel_order(placed.id, SYMBOL)
        canceled = await next_update(watcher, pending, placed.id, OrderStatus.CANCELED)
        assert (canceled.symbol, canceled.client_order_id, canceled.filled) == (SYMBOL, placed.client_order_id, 0)
        assert canceled.status is OrderStatus.CANCELED  # not FILLED: the unknown amount is not the filled one


# ---- the frames ccxt.pro makes of partial fills, without a server ---------------------------


def pushed(exchange: str, known: Order | None = None, **raw) -> Order:
    from aitbc_tui.config import VenueConfig
    from aitbc_tui.domain import Mode
    from aitbc_tui.venues.ccxt_venue import CcxtVenue

    venue = CcxtVenue(VenueConfig(name="v", exchange=exchange, mode=Mode.PAPER, symbols=(SYMBOL,)))
    if known is not None:
        venue._remember(known)
    return venue._pushed_order({"id": "o1", "side": "buy", "type": "limit", "price": 100.0, **raw})


def test_coinbase_partial_fill_then_cancel_is_canceled_with_its_amount():
    # ccxt.pro coinbase: amount = filled = cumulative_quantity; leaves_quantity 0 once final
    frame = {
        "symbol": SYMBOL,
        "clientOrderId": "c1",
        "amount": 0.001,
        "filled": 0.001,
        "remaining": 0.0,
        "status": "canceled",
        "info": {"cumulative_quantity": "0.001", "leaves_quantity": "0"},
    }
    unknown = pushed("coinbase", **frame)
    assert (unknown.status, unknown.filled, unknown.amount) == (OrderStatus.CANCELED, Decimal("0.001"), 0)
    open_frame = {**frame, "status": "open", "remaining": 0.002}
    assert pushed("coinbase", **open_frame).amount == Decimal("0.003")  # filled + remaining
    known = pushed("coinbase", known=pushed("coinbase", **open_frame), **frame)
    assert (known.status, known.filled, known.amount) == (OrderStatus.CANCELED, Decimal("0.001"), Decimal("0.003"))


def test_kraken_final_frames_take_filled_from_cum_qty_and_a_fill_in_full():
    # ccxt.pro kraken: amount from order_qty or else cum_qty, filled None, clientOrderId = order_userref
    canceled = pushed(
        "kraken",
        amount=0.001,
        filled=None,
        status="canceled",
        clientOrderId="0",
        info={"order_id": "o1", "cum_qty": "0.001", "order_userref": 0, "cl_ord_id": "k1"},
    )
    assert (canceled.status, canceled.filled, canceled.client_order_id) == (
        OrderStatus.CANCELED,
        Decimal("0.001"),
        "k1",
    )
    assert canceled.symbol == SYMBOL and canceled.amount == 0  # no order_qty in the frame, order unknown
    filled = pushed(
        "kraken",
        amount=0.002,
        filled=None,
        status="closed",
        clientOrderId="0",
        info={"order_id": "o1", "order_qty": "0.002", "cum_qty": "0.0015", "order_userref": 0},
    )
    assert (filled.status, filled.filled, filled.amount) == (OrderStatus.FILLED, Decimal("0.002"), Decimal("0.002"))
