"""SIGKILL after the first leg of an arbitrage was sent: on restart the journal's group is
reconciled with the venues and its exposure shown.

The trading process is a real child on the persisted sandbox (its balances and orders are
saved in the data dir, as an operator's are): a whale leaves 0.5 BTC bid at 66,000 on kraken
while binance asks 65,000.00, the desk sends both legs of 0.5 BTC and the process is killed
(``AITBC_TEST_CRASH_AT=arb_after_first_leg``) as soon as the first leg's send returned. The
restart is a new world and service over the same data dir and journal."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal as D

from aitbc_tui.arb_desk import ArbDesk
from aitbc_tui.arb_exec import GroupState
from aitbc_tui.journal import Journal, JournalState
from aitbc_tui.service import CRASH_ENV, MarketService
from aitbc_tui.venues.sim import create_sandbox_venues
from tests.apptools import wait_until

CHILD = r"""
import asyncio, sys
from decimal import Decimal as D
from pathlib import Path
from aitbc_tui.arb_desk import ArbDesk
from aitbc_tui.domain import OrderType, Side
from aitbc_tui.journal import Journal
from aitbc_tui.service import MarketService
from aitbc_tui.venues.sim import create_sandbox_venues

async def main():
    data = Path(sys.argv[1])
    world, venues = create_sandbox_venues(seed=7, reset=True, data_dir=data, autostart_ticks=False, latency=False)
    world.run_steps(40, 0.1)
    kraken = world.engine("kraken")
    kraken.set_unlimited("whale")
    asks = kraken.book("BTC/USDT", 500).asks
    kraken.place("whale", "BTC/USDT", Side.BUY, OrderType.LIMIT, sum(s for _, s in asks) + D("0.5"), D("66000"))
    price, resting = kraken.book("BTC/USDT", 1).bids[0]
    if resting > D("0.5"):
        kraken.set_unlimited("seller")
        kraken.place("seller", "BTC/USDT", Side.SELL, OrderType.LIMIT, resting - D("0.5"), D("66000"))
    service = MarketService(venues, journal=Journal(data / "journal.sqlite3"), account_interval_s=3600)
    await service.start()
    while not (service.book("binance", "BTC/USDT") and service.book("kraken", "BTC/USDT")
               and service.book("kraken", "BTC/USDT").best_bid == D("66000")):
        await asyncio.sleep(0.02)
    desk = ArbDesk(service)
    plan = desk.plan("BTC/USDT", "binance", "kraken", D("0.5"))
    print("sending", plan.expected_net_quote, flush=True)
    await desk.execute(plan, book_ages={"binance": 0.0, "kraken": 0.0})
    print("not killed", flush=True)

asyncio.run(main())
"""


async def test_a_group_cut_by_sigkill_after_its_first_leg_is_reconciled_and_shown(tmp_path):
    data = tmp_path / "sandbox"
    env = {**os.environ, CRASH_ENV: "arb_after_first_leg", "PYTHONPATH": os.getcwd()}
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, str(data), env=env,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == -signal.SIGKILL, (out, err)
    assert b"sending" in out and b"not killed" not in out

    journal = Journal(data / "journal.sqlite3")
    [record] = journal.groups(unresolved=True)
    legs = journal.orders(group_id=record.group_id)
    assert [(o.venue, o.side) for o in legs] == [("binance", "buy"), ("kraken", "sell")]
    assert legs[0].state is JournalState.FILLED  # the first leg was sent and filled before the kill

    _world, venues = create_sandbox_venues(seed=7, data_dir=data, autostart_ticks=False, latency=False)
    service = MarketService(venues, journal=journal, account_interval_s=3600)
    await service.start()  # reconciles every unresolved order by client order id
    try:
        desk = ArbDesk(service)
        [group] = desk.restore()
        outcome = desk.outcome(group)
        sell = journal.order(legs[1].client_order_id)
        assert sell is not None
        # The sandbox answers the first leg before the second is sent: killed in between, the
        # second was journalled (intent) and never sent, so the restart settles it not placed.
        assert sell.state is JournalState.NOT_PLACED
        assert (outcome.state, outcome.unhedged) == (GroupState.UNHEDGED, D("0.5"))
        assert [g.group_id for g, _ in desk.needs_attention()] == [group.group_id]
        assert any("from the last session: 0.5 BTC unhedged: bought on binance, not sold" in n for n in desk.notices)
        await wait_until(lambda: desk.venue_refusal("binance") is None and desk.venue_refusal("kraken") is None,
                         what=lambda: f"both venues connected: {service.health()}")  # fmt: skip
        await desk.hedge(group.group_id)  # and it can be closed like any unhedged group
        assert desk.outcome(group).state is GroupState.BALANCED
        assert journal.group(group.group_id).resolution == "hedged"
    finally:
        await service.stop()
        journal.close()
