"""Websocket plumbing the emulator protocols share: fault-aware sending, the serve loop, book
diffs against what a subscriber was last sent, and the engine's order events of one account.

``FaultySocket.send_text`` applies the server's websocket faults (see server.py's docstring):
``ws_stall``, ``ws_close_1006``, ``ws_reconnect`` and ``ws_malformed``, each matched against the
keys the protocol gives for the frame (a channel, a symbol id, the endpoint path).
``send_reply`` bypasses them: pongs and subscription answers still flow while a feed stalls.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from aitbc_tui.emulator.server import EmulatorContext, ctx_of

NORMAL_CLOSURE = 1000  # what a venue sends when it ends a session (Binance and Kraken every 24 h)


def iso_z(epoch_s: float) -> str:
    """RFC 3339 with microseconds and Z, as Kraken v2 and Coinbase stamp their frames."""
    micros = int(round(epoch_s * 1_000_000)) % 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + f".{micros:06d}Z"


def dumps_numbers(obj: Any) -> str:
    """JSON with Decimal written as a bare number keeping its digits (``0.00100000``), as Kraken
    v2 sends prices and quantities: its book checksum is computed over those digits."""
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps_numbers(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(dumps_numbers(v) for v in obj) + "]"
    return json.dumps(obj)


class FaultySocket:
    """One server-side websocket whose data frames pass through the fault table."""

    def __init__(self, ctx: EmulatorContext, ws: web.WebSocketResponse, transport: Any = None) -> None:
        self.ctx = ctx
        self.ws = ws
        self.transport = transport
        self.stalled_until = 0.0
        self.tasks: dict[str, asyncio.Task] = {}  # background pumps by subscription name
        self._send_lock = asyncio.Lock()

    def _stalled(self, keys: tuple[str, ...]) -> bool:
        loop_time = asyncio.get_running_loop().time()
        if self.stalled_until > loop_time:
            return True
        rule = self.ctx.faults.find("ws_stall", *keys)
        if rule is None:
            return False
        duration = rule.params.get("duration_s")
        if duration is None:
            return True  # stalled while the rule is armed (clear_faults resumes the stream)
        self.ctx.faults.take("ws_stall", *keys)
        self.stalled_until = loop_time + float(duration)
        return True

    async def send_text(self, text: str, keys: tuple[str, ...]) -> None:
        """Send a data frame unless a fault armed for one of ``keys`` says otherwise."""
        if self.ws.closed:
            return
        faults = self.ctx.faults
        if self._stalled(keys):
            return  # the connection stays up (pings are answered), the data stops
        if faults.take("ws_close_1006", *keys) is not None:
            # No close frame: the client sees an abnormal closure (1006).
            if self.transport is not None:
                self.transport.abort()
            return
        rule = faults.take("ws_reconnect", *keys)
        if rule is not None:
            # The venue ends the session politely; the client has to connect and subscribe again.
            code = int(rule.params.get("code", NORMAL_CLOSURE))
            await self.ws.close(code=code, message=str(rule.params.get("reason", "session ended")).encode())
            return
        if faults.take("ws_malformed", *keys) is not None:
            text = text[: max(1, len(text) // 2)]  # a truncated JSON frame
        await self.send_reply(text)

    async def send_reply(self, text: str) -> None:
        """Send without consulting the fault table (answers to the client's own requests)."""
        if self.ws.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_str(text)
            except ConnectionError:
                pass

    def spawn(self, name: str, coro: Awaitable[Any]) -> None:
        self.cancel(name)
        self.tasks[name] = self.ctx.spawn(coro)

    def cancel(self, name: str) -> bool:
        task = self.tasks.pop(name, None)
        if task is not None:
            task.cancel()
        return task is not None

    # -- hooks for serve_websocket ------------------------------------------------------
    async def opened(self) -> bool:
        """Called once the socket is up; False closes it (e.g. an unknown stream in the URL)."""
        return True

    async def on_text(self, text: str) -> None:  # pragma: no cover - every protocol overrides it
        raise NotImplementedError

    def close(self) -> None:
        for name in list(self.tasks):
            self.cancel(name)


async def serve_websocket(
    request: web.Request, make: Callable[[EmulatorContext, web.WebSocketResponse, Any], FaultySocket]
) -> web.WebSocketResponse:
    """Accept a websocket, register it for stop(), feed its text frames to the connection."""
    ctx = ctx_of(request)
    ws = web.WebSocketResponse(heartbeat=None, autoping=True)
    await ws.prepare(request)
    untrack = ctx.track_websocket(ws)
    conn = make(ctx, ws, request.transport)
    try:
        if await conn.opened():
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await conn.on_text(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
    finally:
        conn.close()
        untrack()
    return ws


Levels = list[tuple[Decimal, Decimal]]


class BookMirror:
    """What one subscriber was last sent of a book, so the next frame is the difference:
    changed levels with their new size, levels gone (or out of the depth) with size 0."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def snapshot(self, book: Any) -> tuple[Levels, Levels]:
        self.bids, self.asks = dict(book.bids), dict(book.asks)
        return list(book.bids), list(book.asks)

    @staticmethod
    def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal], reverse: bool) -> Levels:
        changes = {p: q for p, q in new.items() if old.get(p) != q}
        changes.update({p: Decimal(0) for p in old if p not in new})
        return sorted(changes.items(), reverse=reverse)

    def update(self, book: Any) -> tuple[Levels, Levels]:
        bids, asks = dict(book.bids), dict(book.asks)
        changes = self._diff(self.bids, bids, True), self._diff(self.asks, asks, False)
        self.bids, self.asks = bids, asks
        return changes

    def top(self, depth: int) -> tuple[Levels, Levels]:
        """The subscriber's book as it should be now: best first on each side."""
        return sorted(self.bids.items(), reverse=True)[:depth], sorted(self.asks.items())[:depth]


async def pump_book(
    ctx: EmulatorContext,
    symbol: str,
    depth: int,
    interval_s: float,
    send_snapshot: Callable[[Levels, Levels, BookMirror], Awaitable[None]],
    send_update: Callable[[Levels, Levels, BookMirror], Awaitable[None]],
    gap_keys: Iterable[str] = (),
) -> None:
    """Snapshot once, then every ``interval_s`` the changes since the last frame. A
    ``depth_gap`` fault for one of ``gap_keys`` loses one update (the mirror moves on)."""
    mirror = BookMirror()
    bids, asks = mirror.snapshot(ctx.engine.book(symbol, depth))
    await send_snapshot(bids, asks, mirror)
    keys = tuple(gap_keys)
    while True:
        await asyncio.sleep(interval_s)
        bids, asks = mirror.update(ctx.engine.book(symbol, depth))
        if not bids and not asks:
            continue
        if ctx.faults.take("depth_gap", *keys) is not None:
            continue  # this update is lost: the subscriber's book is now wrong
        await send_update(bids, asks, mirror)


def order_events(ctx: EmulatorContext, account: str) -> tuple[asyncio.Queue, Callable[[], None]]:
    """A queue of the engine's ``OrderUpdated`` events of ``account``, and its unsubscribe."""
    from aitbc_tui.sim.engine import OrderUpdated

    queue: asyncio.Queue = asyncio.Queue()

    def on_event(event: Any) -> None:
        if isinstance(event, OrderUpdated) and event.account == account:
            queue.put_nowait(event)

    return queue, ctx.subscribe(on_event)
