"""`emulate --venue binance|kraken|coinbase`: serve the sandbox engine through a real exchange
protocol, so an unmodified ccxt client (or aitbc-tui's own ccxt venue) can trade against it.

Prints the URLs, the API key and secret, a ccxt snippet and a config.toml block; runs until
Ctrl-C / SIGTERM. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import pprint
import signal
import sys
from typing import Any, TextIO

VENUES = ("binance", "kraken", "coinbase")
# Fixed default ports, so a practice config keeps working across restarts.
DEFAULT_PORTS = {"binance": 18081, "kraken": 18082, "coinbase": 18083}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "emulate",
        help="serve a simulated exchange through its real API (binance, kraken, coinbase) for ccxt clients",
        description="Serve a fresh simulated venue (its own seeded in-memory world, not your sandbox) "
        "through the exchange's real REST/websocket protocol.",
    )
    p.add_argument("--venue", required=True, choices=VENUES, help="which exchange protocol to serve")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to bind (default: binance 18081, kraken 18082, coinbase 18083; 0: a free port)",
    )
    p.add_argument("--api-key", metavar="KEY", help="API key clients must send (default: generated)")
    p.add_argument("--secret", metavar="SECRET", help="API secret (default: generated; base64 for kraken)")
    p.add_argument(
        "--seed", dest="emulator_seed", type=int, metavar="N", help="seed of the simulated market (default 0)"
    )
    p.add_argument(
        "--weight-per-minute",
        type=int,
        metavar="W",
        help="request weight budget per key and minute before HTTP 429 (default 6000)",
    )
    p.add_argument(
        "--log-requests",
        action="store_true",
        help="print each request served: method, path (secret parameters masked), status, latency",
    )
    p.set_defaults(func=run)


def snippet(emu: Any) -> str:
    """Ready-to-paste Python using an unmodified ccxt client."""
    options = emu.ccxt_options
    lines = [
        "import ccxt.pro as ccxt  # or ccxt.async_support",
        "",
        f"exchange = ccxt.{emu.ccxt_id}({{",
        f"    'apiKey': {emu.api_key!r},",
        f"    'secret': {emu.secret!r},",
    ]
    if options:
        lines.append(f"    'options': {options!r},")
    lines += [
        "})",
        "exchange.urls['api'] = " + pprint.pformat(emu.ccxt_urls, width=100, sort_dicts=False),
    ]
    return "\n".join(lines)


def config_block(emu: Any, name: str | None = None) -> str:
    """A [venues.*] block for config.toml pointing aitbc-tui's ccxt venue at the emulator."""
    name = name or f"{emu.venue}-emulator"
    symbols = ", ".join(f'"{s}"' for s in list(emu.engine.markets)[:3])
    ws_root = emu.ws_url.split("/", 3)
    ws_line = f'ws_url = "{"/".join(ws_root[:3])}"\n' if emu.ws_url else ""
    # "live": orders go to the emulator with its key (kraken and coinbase have no testnet
    # in ccxt); delete api_url/ws_url and it is the config for the real exchange.
    return (
        f"[venues.{name}]\n"
        f'exchange = "{emu.ccxt_id}"\n'
        'mode = "live"  # trades the emulator\'s simulated funds while api_url points at it\n'
        f"symbols = [{symbols}]\n"
        f'api_url = "{emu.url}"\n'
        f"{ws_line}"
    )


def print_banner(emu: Any, out: TextIO = sys.stdout) -> None:
    name = f"{emu.venue}-emulator"
    out.write(
        f"aitbc-tui emulator: {emu.venue} protocol (simulated, seed {emu.ctx.options.get('seed', 0)})\n"
        f"  REST       {emu.url}\n"
        + (f"  websocket  {emu.ws_url}\n" if emu.ws_url else "")
        + f"  API key    {emu.api_key}\n"
        f"  secret     {emu.secret}\n\n"
        f"ccxt:\n{snippet(emu)}\n\n"
        f"config.toml:\n{config_block(emu, name)}\n"
        f"then store the key:  aitbc-tui keys set {name} --exchange {emu.ccxt_id}\n\n"
        "Ctrl-C stops the emulator.\n"
    )
    out.flush()


async def serve(args: argparse.Namespace, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> int:
    from aitbc_tui.emulator import start_emulator

    seed = args.emulator_seed if args.emulator_seed is not None else (getattr(args, "seed", None) or 0)
    opts: dict[str, Any] = {}
    if args.weight_per_minute:
        opts["weight_per_minute"] = args.weight_per_minute
    if getattr(args, "log_requests", False):
        opts["log_requests"] = out
    port = DEFAULT_PORTS[args.venue] if args.port is None else args.port
    emu = await start_emulator(
        args.venue, host=args.host, port=port, api_key=args.api_key, secret=args.secret, seed=seed, **opts
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
    try:
        print_banner(emu, out)
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await emu.stop()
        out.write("emulator stopped\n")
        out.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    from aitbc_tui.cli import CliError

    if args.port is not None and not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port} is not a port (0-65535; 0 picks a free one)")
    port = DEFAULT_PORTS[args.venue] if args.port is None else args.port
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {args.host}: other machines can reach this emulator", file=sys.stderr)
    try:
        return asyncio.run(serve(args))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            which = f"the {args.venue} emulator's default port " if args.port is None else "port "
            raise CliError(
                f"{which}{port} on {args.host} is already in use (another emulator?); "
                "choose one with --port N, or --port 0 for a free one"
            ) from None
        print(f"aitbc-tui: error: cannot listen on {args.host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
