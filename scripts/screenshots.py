#!/usr/bin/env python3
"""Regenerate screenshots/ (SVG): the main screen, the order form, help, the layouts, each theme, the charts.

Deterministic like the snapshot tests: a seeded, paused simulation and a frozen clock.
Run from the repo root: python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.widgets import Input  # noqa: E402

from tests.apptools import make_app, wait_ready  # noqa: E402

OUT = ROOT / "screenshots"
SIZE = (160, 45)


def isolate(tmp: str) -> None:
    """Each shot gets fresh data and config dirs: the layout last chosen (layouts.json), the
    alert rules and the event log live there, and one shot's `4` must not become the next
    shot's screen (nor be written into the operator's own data dir)."""
    os.environ["AITBC_DATA_DIR"] = str(Path(tmp) / "data")
    os.environ["AITBC_CONFIG_DIR"] = str(Path(tmp) / "config")


async def shoot(name: str, *, theme: str | None = None, keys: tuple[str, ...] = (), amount: str | None = None,
                layout: str | None = None) -> Path:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        isolate(tmp)
        app = make_app(Path(tmp), theme=theme, impact_size=None)  # the product default: 10,000 USDT
        async with app.run_test(size=SIZE) as pilot:
            await wait_ready(pilot)
            for key in keys:
                await pilot.press(key)
                await pilot.pause()
            if layout is not None:  # the layout's data first (tickers, the funding's positions)
                from tests.apptools import wait_until
                from tests.test_snapshots_layouts import layout_ready

                await wait_until(pilot, lambda: layout_ready(app, layout), what=f"layout {layout}'s data")
                app.clear_notifications()
                await pilot.pause()
                app.repaint_now()
                await pilot.pause()
            if amount is not None:
                app.screen.query_one("#amount", Input).value = amount
                await pilot.pause()
            await pilot.press("enter") if amount is not None and name.endswith("error") else None
            await pilot.pause()
            path = OUT / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
            return path


async def shoot_chart(name: str, key: str) -> Path:
    """The chart screen (C) or the depth chart (D) on a sandbox that traded for 90 minutes."""
    from tests.apptools import make_chart_app, wait_until

    with tempfile.TemporaryDirectory() as tmp:
        isolate(tmp)
        app = make_chart_app(Path(tmp))
        async with app.run_test(size=(120, 35)) as pilot:
            await wait_ready(pilot)
            await pilot.press(key)
            chart = "#price-chart" if key == "C" else "#depth-chart"
            await wait_until(pilot, lambda: app.screen.query(chart) and app.screen.query_one(chart).view is not None)
            await wait_until(pilot, lambda: bool(app.screen.query_one(chart).lines()[1:]))
            await pilot.pause()
            path = OUT / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
            return path


async def shoot_trade(name: str) -> Path:
    """Layout 2 (ladder, chart over tape) on the sandbox that traded for 90 minutes."""
    from tests.apptools import make_chart_app, wait_until
    from tests.test_chart_snapshots import trade_layout_ready

    with tempfile.TemporaryDirectory() as tmp:
        isolate(tmp)
        app = make_chart_app(Path(tmp))
        async with app.run_test(size=SIZE) as pilot:
            await wait_ready(pilot)
            await pilot.press("2")
            await wait_until(pilot, lambda: trade_layout_ready(app))
            app.clear_notifications()
            await pilot.pause()
            app.repaint_now()
            await pilot.pause()
            path = OUT / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
            return path


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    shots = [
        await shoot("main"),
        await shoot("order-form", keys=("b",), amount="0.05"),
        await shoot("order-form-error", keys=("b",), amount="0.123456"),
        await shoot("confirm", keys=("s", "0", ".", "2", "5", "enter")),
        await shoot("help", keys=("question_mark",)),
        await shoot_trade("layout-trade"),
        await shoot("layout-watch", keys=("3",), layout="watch"),
        await shoot("layout-account", keys=("4",), layout="account"),
    ]
    for theme in ("aitbc-dark", "aitbc-light", "aitbc-amber", "aitbc-colorblind", "aitbc-high-contrast"):
        shots.append(await shoot(f"theme-{theme}", theme=theme))
    shots.append(await shoot_chart("chart", "C"))
    shots.append(await shoot_chart("depth-chart", "D"))
    for path in shots:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    asyncio.run(main())
