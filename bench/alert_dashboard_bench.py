"""The dashboard's book -> frame latency with 200 alert rules armed (4 on the shown symbol,
196 over 49 others, none firing) against the same dashboard with none; the replay feed and
the frame recorder of dashboard_bench, a 5,000 updates/s burst. Run in a temporary data
dir (no rule, webhook or event of the operator's is read or written).

    python -m bench --only alert_dashboard_bench
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from types import SimpleNamespace

from bench.common import Result, percentile
from bench.dashboard_bench import SIZE, _match, record_frames
from bench.replay import replay_venues

SYMBOLS = 50


def _rules():
    from aitbc_tui.alerts import parse_rule

    rules = []
    for i in range(SYMBOLS):
        symbol = "BTC/USDT" if i == 0 else f"S{i}/USDT"
        rules += [
            parse_rule({"kind": "price_above", "symbol": symbol, "level": "10000000"}, default_id=f"a{i}"),
            parse_rule({"kind": "price_below", "symbol": symbol, "level": "1", "price": "bid"}, default_id=f"b{i}"),
            parse_rule(
                {"kind": "price_above", "symbol": symbol, "level": "10000000", "price": "ask"}, default_id=f"c{i}"
            ),  # fmt: skip
            parse_rule({"kind": "spread_above", "symbol": symbol, "bps": "5000", "for_s": 5}, default_id=f"d{i}"),
        ]
    return rules


async def _latency(rules: list, total: int) -> tuple[list[float], int]:
    from textual.drivers.headless_driver import HeadlessDriver

    from aitbc_tui.alerts import AlertsConfig
    from aitbc_tui.service import MarketService
    from aitbc_tui.ui.app import AitbcApp

    feed, venues = replay_venues(0.0001)
    service = MarketService(venues)
    app = AitbcApp(service, config=SimpleNamespace(alerts=AlertsConfig(rules=tuple(rules), max_per_minute=600)))
    async with app.run_test(size=SIZE):
        for _ in range(500):
            if app.venue is not None and service.book(app.venue, app.symbol) is not None:
                break
            await asyncio.sleep(0.01)
        rec = record_frames(app)
        await asyncio.sleep(0.2)
        key = (app.venue, app.symbol)
        try:
            sent = feed.sent[key]
            first_seq = len(sent) + 1
            feed.limit = feed.total + total
            feed.done.clear()
            feed.reset_clock()
            feed.rate_hz = 5000.0
            feed.start()
            await feed.done.wait()
            await asyncio.sleep(0.3)
            matched = _match(sent, rec.frames, first_seq)
        finally:
            app._driver.__class__ = HeadlessDriver
        fired = len(app.alerts_fired)
    return [lat * 1e3 for _, lat in matched], fired


def run(quick: bool) -> list[Result]:
    total = 20_000 if quick else 200_000
    rounds = 1 if quick else 2
    rules = _rules()
    assert len(rules) == 200
    old = os.environ.get("AITBC_DATA_DIR")
    none: list[float] = []
    armed: list[float] = []
    fired = 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AITBC_DATA_DIR"] = tmp
        try:
            for _ in range(rounds):  # alternated, so a busy neighbour hits both alike
                none += asyncio.run(_latency([], total))[0]
                got, n = asyncio.run(_latency(rules, total))
                armed += got
                fired += n
                time.sleep(0.1)
        finally:
            if old is None:
                os.environ.pop("AITBC_DATA_DIR", None)
            else:
                os.environ["AITBC_DATA_DIR"] = old
    p99_none, p99_armed = percentile(none, 0.99), percentile(armed, 0.99)
    return [
        Result("alerts", "book message -> frame p99 with 200 alert rules armed (5,000 upd/s burst)", p99_armed, "ms",
               p99_none, "no rules", "≤ 1.2x", p99_armed <= 1.2 * p99_none,
               f"p50 {percentile(armed, 0.5):.1f} ms (no rules {percentile(none, 0.5):.1f} ms); {rounds} round(s) of "
               f"{total:,} updates each; {fired} alerts fired (none expected)"),
    ]  # fmt: skip
