"""The dashboard with the market panes on screen vs without, in the same run.

4 replayed books x 100 updates/s (bench.replay) plus 50 public trades/s on the focused book.
Session A: today's default layout (ladder, health, balances, arbitrage, orders; no tape, no
chart, no watchlist). Session B: the trade layout (ladder, price chart over the tape) with the
watchlist shown beside it (tickers polled every 5 s as in the watch layout), so ladder, chart,
tape and watchlist are painted together. The chart is the product's own path: backfilled
from the venue's ``fetch_ohlcv`` (500 seeded 1m candles of history) and then built from the
tape's trades, repainted at most every CHART_REPAINT_S. Measured in each: the dashboard process's CPU (the replay feed and the trade
generator included, reported), and book message -> frame latency of the focused book (the
dashboard bench's frame recorder), p50 / p99.

python -m bench --quick --only market_panes_bench
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from decimal import Decimal

from bench.common import Result, median, percentile
from bench.dashboard_bench import _cpu, _match, record_frames
from bench.replay import ReplayVenue, replay_venues

SIZE = (200, 60)
BOOK_RATE_HZ = 400.0  # 4 books x 100
TRADE_RATE_HZ = 50.0


class TradeFeed:
    """Public trades at ``rate_hz`` on one (venue, symbol), at the book's best prices."""

    def __init__(self, venues: list[TradingReplayVenue], rate_hz: float, seed: int = 1) -> None:
        self.venues = {v.name: v for v in venues}
        self.rate_hz = rate_hz
        self.rng = random.Random(seed)
        self.key: tuple[str, str] | None = None
        self.count = 0
        self.cpu_s = 0.0
        self._task: asyncio.Task | None = None

    def start(self, key: tuple[str, str]) -> None:
        self.key = key
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="bench-trades")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        from aitbc_tui.domain import Side
        from aitbc_tui.market_data import Trade

        t0 = time.perf_counter()
        while True:
            due = int((time.perf_counter() - t0) * self.rate_hz) - self.count
            c0 = time.process_time()
            if due > 0 and self.key is not None:
                venue = self.venues[self.key[0]]
                book = venue.feed.books[self.key].snapshot(depth=1, timestamp=time.time())
                for _ in range(due):
                    self.count += 1
                    buy = self.rng.random() < 0.5
                    price = book.best_ask if buy else book.best_bid
                    amount = Decimal(self.rng.randint(1, 50000)).scaleb(-5)
                    venue.publish(Trade(self.key[1], time.time(), price or Decimal(1), amount,
                                        Side.BUY if buy else Side.SELL, str(self.count), False, venue.name))  # fmt: skip
            self.cpu_s += time.process_time() - c0
            await asyncio.sleep(1 / self.rate_hz)


class TradingReplayVenue(ReplayVenue):
    """ReplayVenue with public trades (fetch / watch) and 24 h tickers from them."""

    def __init__(self, inner: ReplayVenue) -> None:
        super().__init__(inner.feed, inner.name, inner.symbols)
        self.trades: dict[str, deque] = {s: deque(maxlen=1000) for s in inner.symbols}
        self.new: dict[str, list] = {s: [] for s in inner.symbols}
        self.ready: dict[str, asyncio.Event] = {}

    def publish(self, trade) -> None:
        self.trades[trade.symbol].append(trade)
        self.new[trade.symbol].append(trade)
        event = self.ready.get(trade.symbol)
        if event is not None:
            event.set()

    async def fetch_trades(self, symbol: str, limit: int = 100, since: float | None = None):
        trades = list(self.trades[symbol])
        if since is not None:
            return [t for t in trades if t.time >= since][:limit]
        return trades[-limit:]

    async def watch_trades(self, symbol: str):
        event = self.ready.setdefault(symbol, asyncio.Event())
        while not self.new[symbol]:
            event.clear()
            await event.wait()
        out, self.new[symbol] = self.new[symbol], []
        return out

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", limit: int = 100, since: float | None = None):
        """500 seeded candles of history before the session, then candles of its trades."""
        from aitbc_tui.market_data import Candle, CandleBuilder, timeframe_seconds

        seconds = timeframe_seconds(timeframe)
        builder = CandleBuilder(timeframe, 1000)
        for trade in self.trades[symbol]:
            builder.add(trade)
        live = builder.candles()
        book = self.feed.books[(self.name, symbol)].snapshot(depth=1, timestamp=time.time())
        price = float(book.best_bid or 1)
        first = int(time.time() // seconds) * seconds - 500 * seconds
        rng = random.Random(f"{self.name}{symbol}{timeframe}")
        cent = Decimal("0.01")
        history = []
        for i in range(500):
            open_ = price
            price *= 1 + rng.gauss(0, 0.001)
            high = max(open_, price) * (1 + abs(rng.gauss(0, 0.0005)))
            low = min(open_, price) * (1 - abs(rng.gauss(0, 0.0005)))
            o, h, lo, c = (Decimal(str(v)).quantize(cent) for v in (open_, high, low, price))
            history.append(
                Candle(timeframe, first + i * seconds, o, h, lo, c, Decimal(rng.randint(1, 5000)).scaleb(-3))
            )
        return (history + [c for c in live if c.open_time > history[-1].open_time])[-limit:]

    async def fetch_tickers(self, symbols=None):
        from aitbc_tui.market_data import ticker_from_trades

        now = time.time()
        return {s: ticker_from_trades(s, self.trades[s], now, venue=self.name) for s in (symbols or self.symbols)}


async def _session(with_panes: bool, seconds: float) -> dict:
    from textual.drivers.headless_driver import HeadlessDriver

    from aitbc_tui.service import MarketService
    from aitbc_tui.ui import layouts
    from aitbc_tui.ui.app import AitbcApp

    feed, plain = replay_venues(BOOK_RATE_HZ)
    venues = [TradingReplayVenue(v) for v in plain]
    trades = TradeFeed(venues, TRADE_RATE_HZ)
    service = MarketService(venues)
    app = AitbcApp(service)
    shown_before = layouts.SHOWN["trade"]
    try:
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(500):
                if app.venue is not None and service.book(app.venue, app.symbol) is not None:
                    break
                await asyncio.sleep(0.01)
            key = (app.venue, app.symbol)
            trades.start(key)  # trades flow in both sessions: only what is painted differs
            if with_panes:
                layouts.SHOWN["trade"] = shown_before | {"watchlist"}
                app._compose_layout("watch")  # the watchlist's pane (composed on first use)
                app.apply_layout("trade", remember=False)
                watch_col = app.screen_stack[0].query_one("#watch-col")
                watch_col.styles.display = "block"
                watch_col.styles.width = 90
                service.market_feed().want_tickers(True)
                await pilot.pause()
            rec = record_frames(app)
            await asyncio.sleep(1.0)  # warm: the tape's backfill, the first tickers
            sent = feed.sent[key]
            first_seq = len(sent) + 1
            c0, w0, f0, t0 = _cpu(), time.perf_counter(), feed.cpu_s, trades.cpu_s
            n0, trades0 = len(rec.frames), trades.count
            await asyncio.sleep(seconds)
            c1, w1 = _cpu(), time.perf_counter()
            wall = w1 - w0
            matched = _match(sent, rec.frames, first_seq)
            tape = service.market_feed().tape(*key)
            charts = app.screen_stack[0].query("#chart")
            chart = charts.first() if charts else None
            app._driver.__class__ = HeadlessDriver
            return {
                "chart_candles": len(chart.view.candles) if chart is not None and chart.view is not None else 0,
                "chart_builds": (chart.full_builds, chart.partial_builds) if chart is not None else (0, 0),
                "cpu": (c1 - c0) / wall,
                "producers": (feed.cpu_s - f0 + trades.cpu_s - t0) / wall,
                "fps": (len(rec.frames) - n0) / wall,
                "latency_ms": [lat * 1e3 for _, lat in matched],
                "trades_per_s": (trades.count - trades0) / wall,
                "tape_entries": len(tape.entries) if tape is not None else 0,
                "watch_rows": sum(len(pane.rows) for pane in app.screen_stack[0].query("#watchlist")),
            }
    finally:
        layouts.SHOWN["trade"] = shown_before
        await trades.stop()


def run(quick: bool) -> list[Result]:
    seconds = 4.0 if quick else 30.0
    without = asyncio.run(_session(False, seconds))
    with_ = asyncio.run(_session(True, seconds))
    assert with_["tape_entries"] > 0 and with_["watch_rows"] > 0 and with_["chart_candles"] > 0, (
        "the market panes were not fed"
    )
    full, partial = with_["chart_builds"]
    p99_with, p99_without = percentile(with_["latency_ms"], 0.99), percentile(without["latency_ms"], 0.99)
    return [
        Result(
            "market panes",
            f"CPU, ladder + chart + tape + watchlist, 4 books x 100 upd/s + 50 trades/s, {seconds:.0f} s",
            with_["cpu"] * 100,
            "% of a core",
            without["cpu"] * 100,
            "same feeds, default layout (no chart, tape or watchlist)",
            "≤ 1.3x",
            with_["cpu"] <= 1.3 * without["cpu"],
            f"{with_['fps']:.0f} frames/s (without {without['fps']:.0f}); feeds themselves "
            f"{with_['producers'] * 100:.1f}% (included); {with_['trades_per_s']:.0f} trades/s; "
            f"{with_['watch_rows']} watchlist rows; chart {with_['chart_candles']} candles, "
            f"{full} full and {partial} partial repaints",
        ),
        Result(
            "market panes",
            "book message -> frame with the market panes on screen, p99",
            p99_with,
            "ms",
            p99_without,
            "default layout, same run (p99)",
            "≤ 100 ms",
            p99_with <= 100,
            f"p50 {median(with_['latency_ms']):.1f} ms (without {median(without['latency_ms']):.1f} ms); "
            f"{len(with_['latency_ms']):,} updates of the focused book matched",
        ),
    ]
