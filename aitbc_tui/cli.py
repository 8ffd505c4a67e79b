"""Command line: the dashboard (no subcommand) and headless commands.

Headless commands import neither textual nor ccxt unless a ccxt venue is
configured; the dashboard imports textual only when it is about to open.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Sequence
from decimal import Decimal

from aitbc_tui import __version__

# Subcommand modules; each exposes register(subparsers). Optional ones may be absent
# in a partial checkout, and are then simply not offered.
COMMAND_MODULES = ("snapshot", "exchange", "emulate", "keys", "journal")


class CliError(Exception):
    """A usage problem: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aitbc-tui",
        description="Keyboard-driven trading dashboard. With no command, opens the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"aitbc-tui {__version__}")
    parser.add_argument("--config", metavar="FILE", help="venues config (TOML); default: the user config dir's config.toml")
    parser.add_argument("--seed", type=int, metavar="N", help="sandbox: seed the simulation for a reproducible run")
    parser.add_argument("--reset-sandbox", action="store_true", help="sandbox: discard saved balances, orders and pairs")
    parser.add_argument("--theme", metavar="NAME", help="theme name (see themes/), e.g. aitbc-light")
    parser.add_argument("--live", action="store_true", help="allow venues configured with mode = \"live\" to trade")
    parser.add_argument("--read-only", action="store_true", help="disable every order action; panes still work")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"aitbc_tui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"aitbc_tui.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return run_dashboard(args)
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"aitbc-tui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def load_config(args: argparse.Namespace):
    from aitbc_tui.config import ConfigError, load_config as _load

    try:
        return _load(getattr(args, "config", None))
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def build_service(args: argparse.Namespace, *, live_sim_latency: bool = True):
    """Venues from the config (sandbox when none), wrapped in the market service."""
    from aitbc_tui.service import MarketService
    from aitbc_tui.venues.factory import build_venues

    config = load_config(args)
    try:
        venues = build_venues(
            config,
            seed=getattr(args, "seed", None),
            reset_sandbox=getattr(args, "reset_sandbox", False),
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return config, MarketService(venues)


def run_dashboard(args: argparse.Namespace) -> int:
    config, service = build_service(args)
    from aitbc_tui.ui.app import AitbcApp

    modes = {getattr(v, "mode", None) for v in (service.venue(n) for n in service.venue_names)}
    from aitbc_tui.domain import Mode

    mode = Mode.LIVE if Mode.LIVE in modes else next(iter(sorted(modes, key=lambda m: m.value)), Mode.SANDBOX)
    ui = getattr(config, "ui", None)
    app = AitbcApp(
        service,
        mode=mode,
        theme=args.theme or getattr(ui, "theme", None),
        impact_size=getattr(ui, "impact_size", None) or Decimal("1"),
        min_arb_net_bps=getattr(ui, "min_arb_net_bps", None),
        keymap=getattr(config, "keys", None) or None,
        read_only=args.read_only,
    )
    app.run()
    return 0


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, default=_json_default)
    sys.stdout.write("\n")


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_async(coro):
    return asyncio.run(coro)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
