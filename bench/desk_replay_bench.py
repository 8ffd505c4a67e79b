"""Replay at 10x of a 10-minute recording: wall time and CPU (bench/desk_bench.py)."""

from bench.desk_bench import run_replay as run

__all__ = ["run"]
