"""Repaint of the order-book ladder vs a Textual DataTable showing the same rows.

One repaint = hand the widget a new book (every row changed) + render every line the
compositor would ask for (Widget.render_lines over the whole widget, so Textual's style
cache, borders and padding are included) + turn the strips into ANSI text
(Strip.render(console)). For the DataTable the rows are replaced (clear + add_rows, with
coloured rich Text cells) and its idle-time dimension update runs before rendering, as it
would before the next frame.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from decimal import Decimal

from bench.common import Result, median

LEVELS = 20
WIDTH = 60
HEIGHT = 2 + 1 + 2 * LEVELS  # title, column header, mid line + levels


def _market():
    from aitbc_tui.domain import Market

    return Market(
        "BTC/USDT",
        "BTC",
        "USDT",
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("0.00001"),
        Decimal("5"),
        Decimal("0.001"),
        Decimal("0.001"),
    )


def _snapshots(count: int, seed: int = 11):
    from aitbc_tui.domain import BookSnapshot

    rng = random.Random(seed)
    out = []
    for k in range(count):
        mid = 30000 + rng.randint(-500, 500) / 100 + k % 2  # the touch moves: every row changes
        bids = tuple(
            (Decimal(f"{mid - 0.5 - i * 0.37:.2f}"), Decimal(f"{rng.randint(1, 500000) / 100000:.5f}"))
            for i in range(LEVELS)
        )
        asks = tuple(
            (Decimal(f"{mid + 0.5 + i * 0.37:.2f}"), Decimal(f"{rng.randint(1, 500000) / 100000:.5f}"))
            for i in range(LEVELS)
        )
        out.append(BookSnapshot("sim", "BTC/USDT", bids, asks, 0.0, k + 1))
    return out


def _table_rows(snap, market):
    from rich.text import Text

    from aitbc_tui.formatting import decimals_of, fmt_fixed

    pp, sp = decimals_of(market.tick_size), decimals_of(market.lot_size)
    rows = []
    cum = Decimal(0)
    cums = []
    for _, size in snap.asks:
        cum += size
        cums.append(cum)
    for (price, size), c in reversed(list(zip(snap.asks, cums, strict=True))):
        rows.append(
            (
                Text(fmt_fixed(price, pp), style="red"),
                Text(fmt_fixed(size, sp), style="red"),
                Text(fmt_fixed(c, sp), style="red"),
            )
        )
    mid = snap.mid
    rows.append((Text(fmt_fixed(mid, pp + 1), style="bold"), "", ""))
    cum = Decimal(0)
    for price, size in snap.bids:
        cum += size
        rows.append(
            (
                Text(fmt_fixed(price, pp), style="green"),
                Text(fmt_fixed(size, sp), style="green"),
                Text(fmt_fixed(cum, sp), style="green"),
            )
        )
    return rows


async def _measure(quick: bool) -> tuple[list[float], list[float]]:
    from textual.app import App, ComposeResult
    from textual.geometry import Region
    from textual.widgets import DataTable

    from aitbc_tui.ui.widgets.ladder import BookLadder

    market = _market()
    n = 60 if quick else 400
    snaps = _snapshots(n + 1)

    class LadderApp(App[None]):
        CSS = f"BookLadder {{ width: {WIDTH}; height: {HEIGHT}; }} DataTable {{ width: {WIDTH}; height: {HEIGHT}; }}"

        def compose(self) -> ComposeResult:
            yield BookLadder(id="ladder")
            yield DataTable(id="table", show_cursor=False)

    # The app's own theme supplies $bid/$ask; register it so the ladder CSS resolves.
    from aitbc_tui.ui.themes import load_themes

    app = LadderApp()
    themes, _ = load_themes()
    for t in themes:
        app.register_theme(t)
    if themes:
        app.theme = themes[0].name
    ladder_times: list[float] = []
    table_times: list[float] = []
    async with app.run_test(size=(WIDTH * 2 + 4, HEIGHT + 4)) as pilot:
        ladder = app.query_one(BookLadder)
        table = app.query_one(DataTable)
        table.add_columns("Price", "Size", "Total")
        ladder.set_book(snaps[0], market, [])
        table.add_rows(_table_rows(snaps[0], market))
        await pilot.pause()
        console = app.console
        lreg = Region(0, 0, ladder.size.width, ladder.size.height)
        treg = Region(0, 0, table.size.width, table.size.height)
        assert ladder.levels_per_side == LEVELS, ladder.levels_per_side
        perf = time.perf_counter
        gc.collect()
        gc.disable()
        try:
            for i in range(1, n + 1):
                snap = snaps[i]
                # ladder
                t0 = perf()
                ladder.set_book(snap, market, [])
                lines = ladder.render_lines(lreg)
                out = "".join(strip.render(console) for strip in lines)
                ladder_times.append(perf() - t0)
                # DataTable
                t0 = perf()
                table.clear()
                table.add_rows(_table_rows(snap, market))
                await table._on_idle(None)  # the dimension update Textual runs before the next frame
                tlines = table.render_lines(treg)
                tout = "".join(strip.render(console) for strip in tlines)
                table_times.append(perf() - t0)
                assert len(lines) == HEIGHT and len(tlines) == HEIGHT and out and tout
                # let Textual process its own refresh messages outside the timed region
                if i % 10 == 0:
                    gc.enable()
                    await pilot.pause()
                    gc.disable()
        finally:
            gc.enable()
    return ladder_times, table_times


def run(quick: bool) -> list[Result]:
    ladder, table = asyncio.run(_measure(quick))
    lm, tm = median(ladder) * 1e3, median(table) * 1e3
    speedup = tm / lm
    return [
        Result(
            "ui",
            "ladder repaint, 20+20 levels, every row changed, ANSI (median)",
            lm,
            "ms",
            tm,
            "DataTable same rows",
            "≥ 6x faster than anchor (ratio ≤ 0.167)",
            speedup >= 6,
            f"{speedup:.1f}x faster than the DataTable",
        )
    ]
