"""Headless subcommands. Each module exposes ``register(subparsers)``, which adds its
parser and sets ``func`` to a ``run(args) -> int``. Modules must import neither
textual nor ccxt at import time (headless commands start fast)."""
