"""A cancel refused for its nonce is sent again (CI's order bench, kill switch on kraken).

The kill switch sends every cancel at once; on kraken the signed requests can reach the
venue out of nonce order, and it refuses the late ones ("EAPI:Invalid nonce"): 2 of 12
kraken orders were reported NOT cancelled. A refused nonce is a request the venue did not
act on, so a cancel is sent again with a fresh one (a create never is).
"""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from aitbc_tui.config import load_config
from aitbc_tui.credentials import Credentials
from aitbc_tui.domain import OrderRequest, OrderStatus, OrderType, Side, VenueUnavailable
from aitbc_tui.emulator.kraken import NONCE_STATE
from aitbc_tui.venues.factory import build_venues


async def _kraken_venue(tmp_path, still_emulator):
    emu = await still_emulator("kraken")
    path = tmp_path / "venues.toml"
    path.write_text(
        f'[venues.kraken]\nexchange = "kraken"\nmode = "live"\nsymbols = ["BTC/USDT"]\napi_url = "{emu.url}"\n',
        encoding="utf-8",
    )
    (venue,) = build_venues(load_config(path), credentials={"kraken": Credentials(emu.api_key, emu.secret)})
    venue._rest.enableRateLimit = False
    await venue.start()
    await venue.load_markets()
    return emu, venue


def _nonce_seen_ahead(emu, venue) -> int:
    """The venue has seen a nonce ahead of ours: our next one is refused, the one after not."""
    ahead = int(time.time() * 1000) + 600_000
    emu.ctx.state[NONCE_STATE][emu.api_key] = ahead
    venue._nonce_last = ahead - 1
    return ahead


async def test_a_cancel_refused_for_its_nonce_is_sent_again(tmp_path, still_emulator, loopback_only):
    emu, venue = await _kraken_venue(tmp_path, still_emulator)
    try:
        order = await venue.place_order(
            OrderRequest("kraken", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D("60000"))
        )
        _nonce_seen_ahead(emu, venue)
        cancelled = await venue.cancel_order(order.id, "BTC/USDT")
        assert cancelled.status is OrderStatus.CANCELED
        assert venue.cancel_nonce_retries == 1
        assert emu.engine.open_orders(emu.ctx.account) == []
    finally:
        await venue.close()


async def test_a_create_refused_for_its_nonce_is_never_sent_again(tmp_path, still_emulator, loopback_only):
    emu, venue = await _kraken_venue(tmp_path, still_emulator)
    try:
        _nonce_seen_ahead(emu, venue)
        with pytest.raises(VenueUnavailable, match="nonce"):
            await venue.place_order(
                OrderRequest("kraken", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D("60000"))
            )
        assert emu.engine.open_orders(emu.ctx.account) == []
    finally:
        await venue.close()


async def test_private_requests_to_kraken_go_one_at_a_time(tmp_path, still_emulator, loopback_only):
    """An account poll beside orders: every private request is signed and sent in turn, so
    none is refused for its nonce (the three-venue round trip once lost a create that way)."""
    import asyncio

    emu, venue = await _kraken_venue(tmp_path, still_emulator)
    try:
        requests = (
            [
                venue.place_order(OrderRequest("kraken", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D("60000")))
                for _ in range(4)
            ]
            + [venue.fetch_balances() for _ in range(4)]
            + [venue.fetch_open_orders() for _ in range(4)]
        )
        results = await asyncio.gather(*requests, return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert len(emu.engine.open_orders(emu.ctx.account)) == 4
    finally:
        await venue.close()


# ---- serial_private and ccxt's own throttle -------------------------------------------------
#
# The account client (``venue._rest``) keeps ccxt's throttle on; here the throttle's queue is
# replaced by a recorder that answers at once (kraken's real one makes a private request
# wait 3 s), so each test sees every cost ccxt's throttle was asked to account for.


def _record_throttle(exchange, turn) -> list[tuple[float, bool]]:
    """(cost, whether a private turn was held) for each request that went through the
    throttle's queue."""
    asked: list[tuple[float, bool]] = []

    async def throttler(cost=None):
        asked.append((cost, turn.locked()))

    exchange.throttler = throttler
    exchange.enableRateLimit = True
    return asked


def _hold_private_requests(exchange):
    """The first private request stops at the wire, its turn held, until ``release``."""
    import asyncio

    held, release = asyncio.Event(), asyncio.Event()
    fetch = exchange.fetch

    async def gated(url, method="GET", headers=None, body=None):
        if "/private/" in url and not release.is_set():
            held.set()
            await release.wait()
        return await fetch(url, method, headers, body)

    exchange.fetch = gated
    return held, release


async def test_a_public_request_during_a_private_turn_still_waits_in_ccxts_throttle(
    tmp_path, still_emulator, loopback_only
):
    """The account and book polls share one ccxt client. A private request's turn once
    switched the client's ``enableRateLimit`` off while it lasted, and a public request made
    meanwhile skipped ccxt's throttle (against kraken: a rate-limit ban)."""
    import asyncio

    emu, venue = await _kraken_venue(tmp_path, still_emulator)
    rest = venue._rest
    turn = venue._private_lock.get()
    asked = _record_throttle(rest, turn)
    held, release = _hold_private_requests(rest)
    try:
        account = asyncio.create_task(venue.fetch_balances())
        await asyncio.wait_for(held.wait(), 5)
        public_cost = rest.calculate_rate_limiter_cost(["public"], "GET", "Time", {}, rest.api["public"]["get"]["Time"])
        await asyncio.wait_for(venue.ping(), 5)
        assert asked[-1] == (public_cost, True)  # the ping, made during the turn, was throttled
        assert turn.locked() and rest.enableRateLimit is True
        release.set()
        await asyncio.wait_for(account, 5)
        assert [held_turn for _, held_turn in asked] == [False, True]
        assert rest.enableRateLimit is True
    finally:
        release.set()
        await venue.close()


async def test_a_private_request_waits_in_ccxts_throttle_once_and_before_its_turn(
    tmp_path, still_emulator, loopback_only
):
    """What serial_private relies on in ccxt's ``fetch2`` (it fails if ccxt changes it): a
    request is throttled once, through ``exchange.throttle`` with the cost
    ``calculate_rate_limiter_cost`` gives, before it is signed; fetch2 then signs, sends and
    records the request. The wait comes before the turn: a request throttled (kraken: 3 s)
    does not hold the others' turns (the kill switch's cancels took 22 s that way)."""
    import asyncio

    emu, venue = await _kraken_venue(tmp_path, still_emulator)
    rest = venue._rest
    turn = venue._private_lock.get()
    asked = _record_throttle(rest, turn)
    steps: list[tuple[str, object]] = []
    sign, throttler = rest.sign, rest.throttler

    def recording_sign(path, *args, **kwargs):
        steps.append(("sign", path))
        return sign(path, *args, **kwargs)

    async def recording_throttler(cost=None):
        steps.append(("throttle", cost))
        await throttler(cost)

    rest.sign, rest.throttler = recording_sign, recording_throttler
    held, release = _hold_private_requests(rest)
    try:
        private_cost = rest.calculate_rate_limiter_cost(
            ["private"], "POST", "BalanceEx", {}, rest.api["private"]["post"]["BalanceEx"]
        )
        assert private_cost > 1  # kraken: a private request costs more than a public one
        first = asyncio.create_task(rest.fetch_balance())
        await asyncio.wait_for(held.wait(), 5)
        second = asyncio.create_task(rest.fetch_balance())
        for _ in range(100):  # the second request's throttle wait, while the first holds the turn
            if len(asked) == 2:
                break
            await asyncio.sleep(0)
        assert asked == [(private_cost, False), (private_cost, True)]
        started = rest.lastRestRequestTimestamp
        release.set()
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert steps == [("throttle", private_cost), ("sign", "BalanceEx")] * 2
        assert len(asked) == 2  # fetch2's own throttle call was the one already paid
        assert rest.lastRestRequestTimestamp >= started  # fetch2's bookkeeping still runs
        assert rest.last_request_url.endswith("/0/private/BalanceEx")
        assert "API-Sign" in rest.last_request_headers
    finally:
        release.set()
        await venue.close()


async def test_a_cancel_resent_for_its_nonce_takes_a_new_turn_behind_the_waiting_ones(
    tmp_path, still_emulator, loopback_only
):
    """The cancel's nonce retry beside serial_private: the refused attempt leaves its turn,
    and the resend queues behind the private requests already waiting (no deadlock, none
    of them refused)."""
    import asyncio

    emu, venue = await _kraken_venue(tmp_path, still_emulator)
    turn = venue._private_lock.get()

    async def waiting(count: int) -> None:
        for _ in range(1000):
            if len(turn._waiters or ()) == count:
                return
            await asyncio.sleep(0.001)
        raise AssertionError(f"{count} private requests never queued for their turn")

    try:
        order = await venue.place_order(
            OrderRequest("kraken", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D("60000"))
        )
        await turn.acquire()
        try:
            cancel = asyncio.create_task(venue.cancel_order(order.id, "BTC/USDT"))
            await waiting(1)
            reads = [asyncio.create_task(venue.fetch_balances()) for _ in range(3)]
            await waiting(4)
            _nonce_seen_ahead(emu, venue)  # the cancel, first in turn, is refused for its nonce
        finally:
            turn.release()
        cancelled = await asyncio.wait_for(cancel, 10)
        await asyncio.wait_for(asyncio.gather(*reads), 10)
        assert cancelled.status is OrderStatus.CANCELED
        assert venue.cancel_nonce_retries == 1
        assert emu.engine.open_orders(emu.ctx.account) == []
    finally:
        await venue.close()
