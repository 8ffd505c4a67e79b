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
from aitbc_tui.errors import UserError

# Subcommand modules; each exposes register(subparsers). Optional ones may be absent
# in a partial checkout, and are then simply not offered.
COMMAND_MODULES: tuple[str, ...] = ("snapshot", "exchange", "emulate", "keys", "journal", "trading", "events", "alerts",
                                    "webhook", "watch", "market", "arbitrage", "desk")  # fmt: skip


class CliError(UserError):
    """A usage problem: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aitbc-tui",
        description="Keyboard-driven trading dashboard. With no command, opens the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"aitbc-tui {__version__}")
    parser.add_argument(
        "--config", metavar="FILE", help="venues config (TOML); default: the user config dir's config.toml"
    )
    parser.add_argument("--seed", type=int, metavar="N", help="sandbox: seed the simulation for a reproducible run")
    parser.add_argument(
        "--reset-sandbox", action="store_true", help="sandbox: discard saved balances, orders and pairs"
    )
    parser.add_argument("--theme", metavar="NAME", help="theme name (see themes/), e.g. aitbc-light")
    parser.add_argument("--live", action="store_true", help='allow venues configured with mode = "live" to trade')
    parser.add_argument("--read-only", action="store_true", help="disable every order action; panes still work")
    parser.add_argument("--replay", metavar="FILE", help="the dashboard in sandbox mode on a recording (`record`)")
    parser.add_argument("--speed", metavar="N", help="--replay: N times the recorded pace, 1 to 50 (default 1)")
    parser.add_argument("--from", dest="from_time", metavar="TIME",
                        help="--replay: start at TIME, ISO-8601 UTC or an offset from the recording's start (+90s, 5m)")  # fmt: skip
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
    from aitbc_tui.domain import VenueError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return run_dashboard(args)
        return int(args.func(args) or 0)
    except (UserError, VenueError) as exc:
        # Something the operator can fix, or a venue's refusal: one line, exit 2. By type
        # only; anything else is a bug and keeps its traceback.
        from aitbc_tui.sanitize import plain_text

        print(f"aitbc-tui: error: {plain_text(exc, limit=4000) or type(exc).__name__}", file=sys.stderr)
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


def live_venue_names(config) -> list[str]:
    """Configured venues whose mode is live (real money)."""
    from aitbc_tui.domain import Mode

    return [v.name for v in getattr(config, "venues", ()) if v.mode is Mode.LIVE]


def check_live_allowed(config, args: argparse.Namespace) -> list[str]:
    """The live venues; a CliError (exit 2) when there are some and ``--live`` was not given.
    Checked before any credential store is opened."""
    live = live_venue_names(config)
    if live and not getattr(args, "live", False) and not getattr(args, "read_only", False):
        where = f" in {config.path}" if getattr(config, "path", None) else ""
        raise CliError(
            f'{", ".join(live)} {"is" if len(live) == 1 else "are"} configured with mode = "live"{where}: '
            "real money. Start with --live to trade, --read-only to only watch, "
            'or set mode = "paper" to practise'
        )
    return live


def open_journal():
    """The order journal at ``data_dir()/journal.sqlite3`` (every mode journals)."""
    from aitbc_tui.journal import Journal, JournalError

    try:
        return Journal()
    except JournalError as exc:
        raise CliError(str(exc)) from None


def build_service(args: argparse.Namespace, *, live_sim_latency: bool = True, trading: bool = False):
    """Venues from the config (sandbox when none), wrapped in the market service with the
    risk limits and ``--read-only``. ``trading`` (the dashboard): live venues need
    ``--live`` (or ``--read-only``), and the order journal is opened. Headless commands
    only read, so they need neither."""
    from aitbc_tui.service import MarketService
    from aitbc_tui.venues.factory import build_venues

    config = load_config(args)
    if trading:
        check_live_allowed(config, args)
    try:
        venues = build_venues(
            config,
            seed=getattr(args, "seed", None),
            reset_sandbox=getattr(args, "reset_sandbox", False),
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    service = MarketService(
        venues,
        journal=open_journal() if trading else None,
        risk=getattr(config, "risk", None),
        read_only=bool(getattr(args, "read_only", False)),
    )
    return config, service


def live_gate_word(live_venues: list[str]) -> str:
    """What the operator types to unlock live trading: the live venues' names."""
    return "LIVE " + " ".join(sorted(live_venues))


def run_dashboard(args: argparse.Namespace) -> int:
    from aitbc_tui.datalock import DataDirLock

    # One dashboard per data dir: two would overwrite each other's sandbox balances.
    # Taken before the sandbox or the journal is opened (or --reset-sandbox moves a file).
    lock = DataDirLock().acquire()
    try:
        return _run_dashboard(args)
    finally:
        lock.release()


def _run_dashboard(args: argparse.Namespace) -> int:
    if getattr(args, "replay", None) or getattr(args, "speed", None) or getattr(args, "from_time", None):
        from aitbc_tui.commands.desk import run_replay  # the desk feed's replay (issue 14)

        return run_replay(args)
    config, service = build_service(args, trading=True)
    from aitbc_tui.domain import Mode
    from aitbc_tui.ui.app import AitbcApp

    modes = {service.venue(n).mode for n in service.venue_names}
    mode = Mode.LIVE if Mode.LIVE in modes else next(iter(sorted(modes, key=lambda m: m.value)), Mode.SANDBOX)
    live = live_venue_names(config)
    ui = getattr(config, "ui", None)
    app = AitbcApp(
        service,
        mode=mode,
        theme=args.theme or getattr(ui, "theme", None),
        impact_size=getattr(ui, "impact_size", None),
        impact_sizes=getattr(ui, "impact_size_by_symbol", None),
        impact_value=getattr(ui, "impact_value", None) or Decimal(10000),
        impact_value_currency=getattr(ui, "impact_value_currency", None) or "USDT",
        min_arb_net_bps=getattr(ui, "min_arb_net_bps", None),
        keymap=getattr(config, "keys", None) or None,
        read_only=args.read_only,
        live_gate=live_gate_word(live) if live and not args.read_only else None,
        config=config,
    )
    try:
        app.run()
    finally:
        if service.journal is not None:
            service.journal.close()
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
