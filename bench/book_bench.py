"""Order-book write path (Binance depth JSON) and top-20 read, against their anchors.

* depth: the same JSON text messages go through ccxt.pro.binance's real websocket path
  (Client.handle_text_or_binary_message -> binance.handle_message -> handle_order_book ->
  handle_order_book_message, exchange built offline) and through json parsing +
  OrderBook.apply_binance_depth (+ the same U == previous u + 1 check ccxt does).
* top20: one update inside the top 20, then a copy of the top 20 levels of both sides as
  Decimals; anchor: a sortedcontainers.SortedDict per side doing the same.
"""

from __future__ import annotations

import gc
import json
import random
import time
from decimal import Decimal
from itertools import islice

from aitbc_tui.book import OrderBook
from bench.common import Result, median, percentile

TICK = 0.01
MID = 30000.0


def _fmt_price(i: int) -> str:
    return f"{i * TICK:.2f}"


def _fmt_size(rng: random.Random) -> str:
    return f"{rng.randint(1, 500000) / 100000:.8f}"


def make_stream(levels: int, messages: int, per_message: int = 10, seed: int = 7):
    """A REST snapshot and Binance depth diffs: mostly size changes, some adds and removals."""
    rng = random.Random(seed)
    mid_i = int(MID / TICK)
    bids = set(range(mid_i - levels, mid_i))  # price indices
    asks = set(range(mid_i + 1, mid_i + 1 + levels))
    snapshot = {
        "lastUpdateId": 1000,
        "bids": [[_fmt_price(i), _fmt_size(rng)] for i in sorted(bids, reverse=True)],
        "asks": [[_fmt_price(i), _fmt_size(rng)] for i in sorted(asks)],
    }
    bid_list, ask_list = sorted(bids), sorted(asks)
    texts = []
    u = 1000
    half = per_message // 2
    for m in range(messages):
        out = {"b": [], "a": []}
        for side, pool, lst in (("b", bids, bid_list), ("a", asks, ask_list)):
            for _ in range(half):
                r = rng.random()
                # Most activity is near the touch.
                depth = min(int(rng.expovariate(1 / 30)), len(lst) - 1)
                i = lst[-1 - depth] if side == "b" else lst[depth]
                if r < 0.8:
                    out[side].append([_fmt_price(i), _fmt_size(rng)])
                elif r < 0.9 and len(lst) > 20:  # remove a level
                    pool.discard(i)
                    lst.remove(i)
                    out[side].append([_fmt_price(i), "0.00000000"])
                else:  # add a level next to an existing one
                    j = i + (rng.choice((-1, 1)))
                    if (side == "b" and j >= mid_i) or (side == "a" and j <= mid_i) or j in pool:
                        out[side].append([_fmt_price(i), _fmt_size(rng)])
                    else:
                        pool.add(j)
                        lst.insert(__import__("bisect").bisect_left(lst, j), j)
                        out[side].append([_fmt_price(j), _fmt_size(rng)])
        U = u + 1
        u = U + rng.randint(0, 5)
        data = {
            "e": "depthUpdate",
            "E": 1700000000000 + m,
            "s": "BTCUSDT",
            "U": U,
            "u": u,
            "b": out["b"],
            "a": out["a"],
        }
        texts.append(json.dumps({"stream": "btcusdt@depth@100ms", "data": data}, separators=(",", ":")))
    return snapshot, texts


class _StubClient:
    """What ccxt's ws Client exposes to the message path (no socket)."""

    url = "wss://stream.binance.com:9443/stream"
    verbose = False
    decompressBinary = False

    def __init__(self, on_message):
        self.subscriptions = {}
        self.on_message_callback = on_message
        self.resolved = 0

    def resolve(self, result, message_hash=None):
        self.resolved += 1

    def reject(self, error, message_hash=None):
        raise error


def _ccxt_setup(snapshot):
    import ccxt.pro
    from ccxt.async_support.base.ws.client import Client

    ex = ccxt.pro.binance({"enableRateLimit": False})
    ex.set_markets(
        [
            {
                "id": "BTCUSDT",
                "symbol": "BTC/USDT",
                "base": "BTC",
                "quote": "USDT",
                "baseId": "BTC",
                "quoteId": "USDT",
                "type": "spot",
                "spot": True,
                "margin": False,
                "swap": False,
                "future": False,
                "option": False,
                "contract": False,
                "linear": None,
                "inverse": None,
                "active": True,
                "settle": None,
                "settleId": None,
                "precision": {"amount": 1e-8, "price": 0.01},
                "limits": {"amount": {}, "price": {}, "cost": {}},
                "info": {},
            }
        ]
    )
    client = _StubClient(ex.handle_message)

    def reset():
        ob = ex.order_book({})
        ob.reset(
            {
                "bids": [[float(p), float(q)] for p, q in snapshot["bids"]],
                "asks": [[float(p), float(q)] for p, q in snapshot["asks"]],
            }
        )
        ob["nonce"] = snapshot["lastUpdateId"]
        ob["timestamp"] = 1700000000000
        ex.orderbooks["BTC/USDT"] = ob
        return ob

    handle = Client.handle_text_or_binary_message
    return ex, client, reset, handle


def _json_loads():
    from ccxt.async_support.base.ws import client as ws_client

    return ws_client.json_parser.loads, getattr(ws_client.json_parser, "__name__", "json")


def bench_depth(quick: bool) -> list[Result]:
    levels = 1000
    n = 3000 if quick else 40000
    snapshot, texts = make_stream(levels, n)
    level_updates = sum(len(json.loads(t)["data"]["b"]) + len(json.loads(t)["data"]["a"]) for t in texts)
    repeat = 3 if quick else 5

    ex, client, reset, handle = _ccxt_setup(snapshot)

    def run_ccxt():
        ob = reset()
        t0 = time.perf_counter()
        for text in texts:
            handle(client, text)
        dt = time.perf_counter() - t0
        assert ob["nonce"] == json.loads(texts[-1])["data"]["u"], "ccxt dropped messages"
        return dt

    loads, parser_name = _json_loads()

    def run_ours(loads=loads):
        book = OrderBook("binance", "BTC/USDT")
        book.load_binance_snapshot(snapshot)
        t0 = time.perf_counter()
        last = book.sequence
        for text in texts:
            msg = loads(text)
            data = msg["data"]
            if data["U"] != last + 1:
                raise RuntimeError("gap")
            book.apply_binance_depth(data)
            last = data["u"]
        return time.perf_counter() - t0

    def best(fn, **kw):
        gc.collect()
        gc.disable()
        try:
            return min(fn(**kw) for _ in range(repeat))
        finally:
            gc.enable()

    # interleave so machine noise hits both
    t_ccxt = best(run_ccxt)
    t_ours = best(run_ours)
    t_ccxt = min(t_ccxt, best(run_ccxt))
    t_ours = min(t_ours, best(run_ours))
    t_ours_stdlib = best(run_ours, loads=json.loads)
    ours = level_updates / t_ours
    anchor = level_updates / t_ccxt
    # sanity: the books agree at the top
    book = OrderBook("b", "s")
    book.load_binance_snapshot(snapshot)
    for t in texts:
        book.apply_binance_depth(json.loads(t))
    ob = ex.orderbooks["BTC/USDT"]
    bids, asks = book.top(5)
    assert [float(p) for p, _ in bids] == [p for p, _ in ob["bids"][:5]], "books disagree"
    assert [float(p) for p, _ in asks] == [p for p, _ in ob["asks"][:5]], "books disagree"
    return [
        Result(
            "book",
            f"binance depth -> OrderBook ({parser_name} parse)",
            ours,
            "level upd/s",
            anchor,
            "ccxt.pro binance message path",
            "≥ 2x anchor",
            ours >= 2 * anchor,
            f"{n} msgs x10 levels, 1,000-level book",
        ),
        Result(
            "book",
            "binance depth -> OrderBook (stdlib json parse)",
            level_updates / t_ours_stdlib,
            "level upd/s",
            anchor,
            "ccxt.pro binance message path",
            "",
            None,
        ),
    ]


def _top_bench(levels: int, iters: int, seed: int = 3) -> tuple[float, float, float, float]:
    """Median and p99 ns of top(20) right after an update in the top 20: ours, SortedDict."""
    from sortedcontainers import SortedDict

    rng = random.Random(seed)
    mid_i = int(MID / TICK)
    bid_idx = list(range(mid_i - levels, mid_i))
    ask_idx = list(range(mid_i + 1, mid_i + 1 + levels))
    bids = [(_fmt_price(i), _fmt_size(rng)) for i in reversed(bid_idx)]
    asks = [(_fmt_price(i), _fmt_size(rng)) for i in ask_idx]
    book = OrderBook("v", "s")
    book.replace(bids, asks)
    sd_b = SortedDict({-float(p): (p, q) for p, q in bids})
    sd_a = SortedDict({float(p): (p, q) for p, q in asks})

    # Pre-generate the updates: size change at one of the top 20 levels, and every 8th a
    # level removed and re-added inside the top 20 (the head shifts).
    ops = []
    for k in range(iters):
        side = "b" if k % 2 else "a"
        d = rng.randrange(20)
        i = (mid_i - 1 - d) if side == "b" else (mid_i + 1 + d)
        if k % 8 == 7:
            ops.append((side, _fmt_price(i), "0"))
            ops.append((side, _fmt_price(i), _fmt_size(rng)))
        else:
            ops.append((side, _fmt_price(i), _fmt_size(rng)))
    # group into "one update then a read": removal+add pairs count as one update
    steps = []
    j = 0
    while j < len(ops):
        if ops[j][2] == "0":
            steps.append(ops[j : j + 2])
            j += 2
        else:
            steps.append(ops[j : j + 1])
            j += 1

    book.top(20)  # start tracking the head, as the service does
    perf = time.perf_counter_ns
    ours: list[int] = []
    anchor: list[int] = []
    D = Decimal
    gc.collect()
    gc.disable()
    try:
        # timer overhead
        overhead = min(-(perf() - perf()) for _ in range(1000))
        for step in steps:
            for side, p, q in step:
                book.apply(side, p, q)
            t0 = perf()
            book.top(20)
            ours.append(perf() - t0 - overhead)
        for step in steps:
            for side, p, q in step:
                sd = sd_b if side == "b" else sd_a
                k = -float(p) if side == "b" else float(p)
                if float(q) == 0:
                    sd.pop(k, None)
                else:
                    sd[k] = (p, q)
            t0 = perf()
            (
                tuple([(D(p), D(q)) for p, q in islice(sd_b.values(), 20)]),
                tuple([(D(p), D(q)) for p, q in islice(sd_a.values(), 20)]),
            )
            anchor.append(perf() - t0 - overhead)
    finally:
        gc.enable()
    # same answer
    tb, ta = book.top(20)
    assert tb == tuple((D(p), D(q)) for p, q in islice(sd_b.values(), 20))
    assert ta == tuple((D(p), D(q)) for p, q in islice(sd_a.values(), 20))
    return median(ours), percentile(ours, 0.99), median(anchor), percentile(anchor, 0.99)


def bench_top(quick: bool) -> list[Result]:
    iters = 5000 if quick else 50000
    m1, p1, a1, ap1 = _top_bench(1000, iters)
    m10, p10, a10, ap10 = _top_bench(10000, iters)
    us = 1e-3
    ok1 = m1 * us <= 5
    ok10 = m10 * us <= 5 and m10 <= 1.5 * m1
    return [
        Result(
            "book",
            "top-20 copy after an update, 1,000 levels/side (median)",
            m1 * us,
            "µs",
            a1 * us,
            "SortedDict same copy",
            "≤ 5 µs",
            ok1,
            f"p99 {p1 * us:.2f} µs; anchor p99 {ap1 * us:.2f} µs",
        ),
        Result(
            "book",
            "top-20 copy after an update, 10,000 levels/side (median)",
            m10 * us,
            "µs",
            a10 * us,
            "SortedDict same copy",
            "≤ 5 µs and ≤ 1.5x the 1,000-level figure",
            ok10,
            f"{m10 / m1:.2f}x the 1,000-level figure; p99 {p10 * us:.2f} µs; anchor p99 {ap10 * us:.2f} µs",
        ),
    ]


def run(quick: bool) -> list[Result]:
    return bench_depth(quick) + bench_top(quick)
