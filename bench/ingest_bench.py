"""Collector ingest of 200 binance depth streams, native path vs ccxt.pro, ccxt.pro and depth_book alone (bench/desk_bench.py)."""

from bench.desk_bench import run_ingest as run

__all__ = ["run"]
