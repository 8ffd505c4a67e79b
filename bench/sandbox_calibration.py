"""Sandbox calibration: realised volatility, book reach and liquidity ratio of the seeded world.

    python -m bench.sandbox_calibration [--seed 1] [--minutes 30] [--dt 0.1]

Simulated time only (no wall clock): the same arguments print the same figures.
See ``aitbc_tui/sim/calibration.py`` for what each figure means.
"""

from __future__ import annotations

import argparse
import time

from aitbc_tui.sim.calibration import calibrate, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=30.0, help="simulated minutes (default 30)")
    parser.add_argument("--dt", type=float, default=0.1, help="simulated seconds a step (default 0.1)")
    parser.add_argument("--sample-s", type=float, default=60.0, help="return interval for volatility (default 60 s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = calibrate(seed=args.seed, minutes=args.minutes, dt=args.dt, sample_s=args.sample_s)
    print(
        f"seed {args.seed}, {args.minutes:g} simulated minutes, step {args.dt:g} s, "
        f"returns every {args.sample_s:g} s (took {time.perf_counter() - started:.1f} s)"
    )
    print(report(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
