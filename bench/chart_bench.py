"""Price chart repaint after a trade, 200 candles visible.

One repaint = a trade into the current candle (CandleFeed.ingest) + the view the chart
screen builds from the feed (ChartView with as many candles as the chart is wide) + PriceChart.show + every
line the compositor would ask for (Widget.render_lines over the whole widget) + the strips
turned into ANSI (Strip.render). Compared, in the same run, with:

- the naive full redraw of the same widget: the grid rebuilt from scratch on every trade
  (what the incremental path skips when only the newest column can have changed);
- textual-plotext (when installed; not a dependency): a PlotextPlot with the same candles
  (candlestick) and volume (bar) in two subplots, redrawn from its data on every trade,
  as that library draws.

The trades walk the price a little around the current close, so most stay inside the
visible range (the incremental case) and some widen it (a full rebuild): both are counted.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from decimal import Decimal

from bench.common import Result, median

CANDLES = 200
AXIS = 11  # "65,000.00" + padding: the chart's own axis width for these prices
WIDTH = CANDLES + AXIS
HEIGHT = 40


def _series(seed: int = 5):
    from aitbc_tui.market_data import Candle

    rng = random.Random(seed)
    price = 65000.0
    candles = []
    for i in range(CANDLES):
        o = price
        price += rng.uniform(-40, 40)
        c = price
        h, low = max(o, c) + rng.uniform(0, 15), min(o, c) - rng.uniform(0, 15)
        d = lambda x: Decimal(f"{x:.2f}")  # noqa: E731
        candles.append(Candle("1m", 1_794_999_960 - (CANDLES - 1 - i) * 60, d(o), d(h), d(low), d(c),
                              Decimal(f"{rng.uniform(0.5, 20):.4f}")))  # fmt: skip
    return candles


def _trades(last_close: Decimal, open_time: int, count: int, seed: int = 9):
    from aitbc_tui.domain import Side
    from aitbc_tui.market_data import Trade

    rng = random.Random(seed)
    price = float(last_close)
    out = []
    for k in range(count):
        price += rng.uniform(-3, 3)
        out.append(Trade("BTC/USDT", open_time + 1 + k * 0.1, Decimal(f"{price:.2f}"), Decimal("0.01"),
                         Side.BUY if k % 2 else Side.SELL, f"t{k}"))  # fmt: skip
    return out


async def _measure(quick: bool) -> dict[str, list[float]]:
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    from aitbc_tui.chart_feed import CandleFeed
    from aitbc_tui.ui.panes.chart import ChartView, PriceChart
    from aitbc_tui.ui.themes import TRADING_VARIABLE_DEFAULTS, load_themes

    try:
        from textual_plotext import PlotextPlot
    except ImportError:
        PlotextPlot = None  # type: ignore[assignment,misc]

    n = 60 if quick else 300
    series = _series()
    trades = _trades(series[-1].close, series[-1].open_time, n)

    class ChartApp(App[None]):
        CSS = f"PriceChart {{ width: {WIDTH}; height: {HEIGHT}; }} PlotextPlot {{ width: {WIDTH}; height: {HEIGHT}; }}"

        def get_theme_variable_defaults(self) -> dict[str, str]:
            return {**super().get_theme_variable_defaults(), **TRADING_VARIABLE_DEFAULTS}

        def compose(self) -> ComposeResult:
            yield PriceChart(id="incremental")
            yield PriceChart(id="naive")
            if PlotextPlot is not None:
                yield PlotextPlot(id="plotext")

    app = ChartApp()
    themes, _ = load_themes()
    for theme in themes:
        app.register_theme(theme)
    app.theme = "aitbc-dark"
    times: dict[str, list[float]] = {"incremental": [], "naive": [], "plotext": []}
    feeds = {}
    async with app.run_test(size=(WIDTH + 2, HEIGHT * 3 + 4)) as pilot:
        charts = {name: app.query_one(f"#{name}", PriceChart) for name in ("incremental", "naive")}
        for name, chart in charts.items():
            feed = feeds[name] = CandleFeed(None, "BTC/USDT", "1m")
            feed.load_backfill(series, [])
            chart.show(ChartView("sim", "BTC/USDT", "1m", tuple(feed.candles(500)), feed.last, (), 2, 4))
        plot = app.query_one("#plotext") if PlotextPlot is not None else None
        await pilot.pause()
        console = app.console
        region = Region(0, 0, WIDTH, HEIGHT)
        perf = time.perf_counter
        for chart in charts.values():
            assert len(visible_of(chart)) == CANDLES, len(visible_of(chart))

        def view_of(feed) -> ChartView:
            return ChartView("sim", "BTC/USDT", "1m", tuple(feed.candles(WIDTH)), feed.last, (), 2, 4)

        gc.collect()
        gc.disable()
        try:
            for i, trade in enumerate(trades):
                # ours, incremental
                t0 = perf()
                feeds["incremental"].ingest([trade])
                charts["incremental"].show(view_of(feeds["incremental"]))
                out = "".join(s.render(console) for s in charts["incremental"].render_lines(region))
                times["incremental"].append(perf() - t0)
                # ours, the whole grid from scratch every time
                t0 = perf()
                feeds["naive"].ingest([trade])
                naive = charts["naive"]
                naive._strips = None  # noqa: SLF001 - what a widget without the incremental path does
                naive.show(view_of(feeds["naive"]))
                out2 = "".join(s.render(console) for s in naive.render_lines(region))
                times["naive"].append(perf() - t0)
                if out != out2:  # the same cells, perhaps split into segments differently
                    a = [list(s.simplify()) for s in charts["incremental"].render_lines(region)]
                    b = [list(s.simplify()) for s in naive.render_lines(region)]
                    bad = [y for y, (x, z) in enumerate(zip(a, b, strict=True)) if x != z]
                    assert not bad, f"trade {i}: lines {bad} of the incremental chart differ from the full redraw"
                if plot is not None:
                    candles = feeds["naive"].candles(CANDLES)
                    t0 = perf()
                    plt = plot.plt
                    plt.clear_figure()
                    plt.subplots(2, 1)
                    plt.subplot(1, 1)
                    xs = list(range(len(candles)))
                    plt.candlestick(xs, {"Open": [float(c.open) for c in candles],
                                         "Close": [float(c.close) for c in candles],
                                         "High": [float(c.high) for c in candles],
                                         "Low": [float(c.low) for c in candles]})  # fmt: skip
                    plt.subplot(2, 1)
                    plt.bar(xs, [float(c.volume) for c in candles])
                    plot.refresh()
                    "".join(s.render(console) for s in plot.render_lines(region))
                    times["plotext"].append(perf() - t0)
                if i % 10 == 0:
                    gc.enable()
                    await pilot.pause()
                    gc.disable()
        finally:
            gc.enable()
        times["partial_share"] = [charts["incremental"].partial_builds / max(1, len(trades))]
    return times


def visible_of(chart) -> list:
    from aitbc_tui.ui.panes.chart import visible

    view = chart.view
    return visible(view.candles, chart.size.width - AXIS) if view is not None else []


def run(quick: bool) -> list[Result]:
    times = asyncio.run(_measure(quick))
    inc, naive = median(times["incremental"]) * 1e3, median(times["naive"]) * 1e3
    share = times["partial_share"][0]
    results = [
        Result(
            "ui",
            f"chart repaint after a trade, {CANDLES} candles visible, ANSI (median)",
            inc,
            "ms",
            naive,
            "the same widget redrawn in full",
            "≤ 0.5 of the full redraw",
            inc <= naive * 0.5,
            f"{naive / inc:.1f}x faster; {share:.0%} of trades took the incremental path",
            {"p90_ms": sorted(times["incremental"])[int(len(times["incremental"]) * 0.9)] * 1e3},
        )
    ]
    if times["plotext"]:
        plotext = median(times["plotext"]) * 1e3
        results.append(
            Result(
                "ui",
                f"chart repaint after a trade, {CANDLES} candles: ours (incremental) vs textual-plotext",
                inc,
                "ms",
                plotext,
                "textual-plotext 1.0.1 candlestick + volume bars",
                "",
                None,
                f"{plotext / inc:.0f}x faster than textual-plotext",
            )
        )
    return results
