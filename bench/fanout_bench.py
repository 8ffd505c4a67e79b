"""N dashboards on one feed vs N connected directly: CPU per process (bench/desk_bench.py)."""

from bench.desk_bench import run_fanout as run

__all__ = ["run"]
