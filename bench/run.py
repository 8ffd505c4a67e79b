"""Run every benchmark, print a table, optionally write JSON.

python -m bench [--quick] [--json FILE] [--only GROUP,...]
python bench/run.py [...]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result, machine  # noqa: E402

# Launch first (small parent process); the dashboard ones take the most wall time.
MODULES = (
    "launch_bench",
    "book_bench",
    "arb_bench",
    "ladder_bench",
    "dashboard_bench",
    "order_bench",
    "alert_bench",
    "pnl_bench",
    "webhook_bench",
    "alert_dashboard_bench",
    "chart_bench",
    "market_panes_bench",
    "arb_exec_bench",
    "arb_route_bench",
    "bus_bench",
    "desk_replay_bench",
    "ingest_bench",
    "fanout_bench",
)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 10000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def table(results: list[Result]) -> str:
    head = ("metric", "value", "unit", "anchor", "ratio", "target", "ok")
    rows = []
    for r in results:
        ok = "" if r.ok is None else ("PASS" if r.ok else "MISS")
        ratio = "-" if r.ratio is None else f"{r.ratio:.3g}"
        rows.append(
            (
                r.metric,
                _fmt(r.value),
                r.unit,
                _fmt(r.anchor) + (f" ({r.anchor_label})" if r.anchor_label else ""),
                ratio,
                r.target,
                ok,
            )
        )
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) if rows else len(head[i]) for i in range(len(head))]
    line = " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    out = [line, "-+-".join("-" * w for w in widths)]
    for row in rows:
        out.append(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    notes = [f"  {r.metric}: {r.notes}" for r in results if r.notes]
    return "\n".join(out + ([""] + ["notes:"] + notes if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small version (CI): seconds, not minutes")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--only", metavar="MODULES", help=f"comma-separated subset of {', '.join(MODULES)}")
    args = parser.parse_args(argv)
    os.environ.setdefault("TEXTUAL_FPS", "60")
    # A fresh install's data and config dirs, never the operator's: their alert rules,
    # webhooks, sandbox and journal would change the figures (and get written to).
    import atexit
    import shutil
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="aitbc-bench-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    os.environ["AITBC_DATA_DIR"] = str(scratch / "data")
    os.environ["AITBC_CONFIG_DIR"] = str(scratch / "config")
    wanted = [m.strip() for m in args.only.split(",")] if args.only else list(MODULES)
    results: list[Result] = []
    errors: list[str] = []
    started = time.perf_counter()
    for name in wanted:
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            got = module.run(args.quick)
            results.extend(got)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            errors.append(f"{name}: {traceback.format_exc()}")
            print(f"[{name}] FAILED", file=sys.stderr)
            traceback.print_exc()
        print(f"[{name}] {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    info = machine()
    print(
        f"\naitbc-tui benchmarks ({'quick' if args.quick else 'full'}) · {info['nproc']} cores · {info['cpu']} · "
        f"Python {info['python']} · textual {info['textual']} · ccxt {info['ccxt']}"
    )
    print(table(results))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "quick": args.quick,
                    "machine": info,
                    "results": [r.as_dict() for r in results],
                    "errors": errors,
                },
                indent=2,
                default=str,
            )
        )
    # Figures are not asserted; only a crashed benchmark fails the run.
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
