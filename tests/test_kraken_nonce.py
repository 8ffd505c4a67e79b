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
