"""Helpers for the kraken / coinbase websocket tests: the product's CcxtVenue pointed at an
emulator, book comparison with the engine, and a book poke that changes the top levels."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

from aitbc_tui.config import VenueConfig
from aitbc_tui.credentials import Credentials
from aitbc_tui.domain import Mode, OrderType, Side, VenueError
from aitbc_tui.venues.ccxt_venue import CcxtVenue

SYMBOL = "BTC/USDT"
TIMEOUT_S = 30.0  # a bound for a busy 2-core machine, never a pace


def top(book: Any, depth: int = 10) -> tuple[list, list]:
    """(bids, asks) as Decimal pairs: a BookSnapshot or a ccxt order book."""

    def side(levels: Any) -> list:
        return [(Decimal(str(p)), Decimal(str(q))) for p, q, *_ in list(levels)[:depth]]

    if isinstance(book, dict):
        return side(book["bids"]), side(book["asks"])
    return side(book.bids), side(book.asks)


def matches_engine(book: Any, emu: Any, depth: int = 10) -> bool:
    return top(book, depth) == top(emu.engine.book(SYMBOL, depth), depth)


def poke(emu: Any, n: int) -> None:
    """A resting bid one tick above the best: the top of the book changes."""
    market = emu.engine.markets[SYMBOL]
    price = emu.engine.book(SYMBOL, 1).best_bid + market.tick_size * (n + 1)
    emu.engine.place(emu.ctx.account, SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.001"), price, f"poke-{n}")


async def until(get: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = TIMEOUT_S,
                tolerate: tuple[type[BaseException], ...] = ()) -> Any:  # fmt: skip
    """Call ``get`` until ``done(result)``; errors in ``tolerate`` count as "not yet"."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"condition not met within {timeout:.0f} s")
        try:
            result = await asyncio.wait_for(get(), remaining)
        except tolerate:
            continue
        except TimeoutError:
            raise AssertionError(f"condition not met within {timeout:.0f} s") from None
        if done(result):
            return result


@contextlib.asynccontextmanager
async def product_venue(emu: Any, ws_url: str | None = None, **options: Any) -> AsyncIterator[CcxtVenue]:
    """The product's ccxt venue, configured as `aitbc-tui emulate` prints it (ws_url = ws://host:port)."""
    config = VenueConfig(
        name=f"emu-{emu.venue}",
        exchange=emu.ccxt_id,
        mode=Mode.LIVE,
        symbols=(SYMBOL,),
        api_url=emu.url,
        ws_url=ws_url or "/".join(emu.ws_url.split("/", 3)[:3]),
    )
    options.setdefault("poll_interval_s", 0.05)
    venue = CcxtVenue(config, credentials=Credentials(api_key=emu.api_key, secret=emu.secret), **options)
    venue._rest.enableRateLimit = False  # kraken's 3 s private throttle only slows the test
    await venue.start()
    try:
        yield venue
    finally:
        await venue.close()


async def survives(emu: Any, venue: CcxtVenue, kind: str, key: str, **params: Any) -> None:
    """Arm ``kind`` on the venue's book feed and show the product's book comes back right,
    by websocket, afterwards."""
    await until(lambda: venue.watch_order_book(SYMBOL, 10), lambda b: venue.last_feed_event == "websocket")
    count = None if kind == "ws_stall" and not params else 1
    rule = emu.set_fault(kind, key, count=count, **params)
    poke(emu, 1)
    stalled = kind == "ws_stall" and count is None  # armed until cleared: hits stays 0
    cleared = False

    def recovered(book: Any) -> bool:
        nonlocal cleared
        if stalled and not cleared and venue.last_feed_event != "websocket":
            emu.clear_faults(kind)  # the watchdog saw the stall: let the feed resume
            cleared = True
        fired = cleared if stalled else rule.hits > 0
        return fired and venue.last_feed_event == "websocket" and matches_engine(book, emu)

    await until(lambda: venue.watch_order_book(SYMBOL, 10), recovered, tolerate=(VenueError,))
    poke(emu, 2)  # and it keeps following the book by websocket
    await until(
        lambda: venue.watch_order_book(SYMBOL, 10),
        lambda b: venue.last_feed_event == "websocket" and matches_engine(b, emu),
        tolerate=(VenueError,),
    )
