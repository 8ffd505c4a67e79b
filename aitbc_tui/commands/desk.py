"""Desk commands: ``feed`` (the collector) and ``record`` (the bus to a file).

``feed --config desk.toml --nats nats://HOST:4222``: connect each configured venue once
(public market data only: no keys are read) and publish books, trades, tickers, health and
markets on the bus until Ctrl-C / SIGTERM. No config: the sandbox venues.

``record --nats URL --subjects 'md.>' --out FILE``: write every message on those subjects to
FILE (gzip, one JSON object per line) until Ctrl-C / SIGTERM or ``--duration``. Without
``--nats``: the configured venues (no config: the sandbox) connected here, no bus, the same
messages as a collector publishes, to the same file format.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TextIO


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of seconds greater than 0")
    return value


def _seconds_or_off(text: str) -> float | None:
    if text.strip() in ("0", "off"):
        return None
    return _positive(text)


def _depth(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; use a whole number of levels from 1 to 1000")
    return int(text)


def _nats_url(text: str) -> str:
    from aitbc_tui.desk.bus import BusError, check_nats_url

    try:
        return check_nats_url(text)
    except BusError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--nats: ")) from None


def register(sub: argparse._SubParsersAction) -> None:
    from aitbc_tui.commands.journal import _OneLineParser
    from aitbc_tui.desk.bus import DEFAULT_NATS_URL

    p = sub.add_parser(
        "feed",
        help="desk collector: connect each venue once and publish its market data on NATS",
        description="Connect each configured venue once (public market data only; no keys are read) and publish "
        "normalised books (snapshots and sequenced deltas), trades, tickers and health on NATS subjects "
        "md.<venue>.<symbol>.book|delta|trades|ticker and md.<venue>.health. No venues configured: the sandbox.",
    )
    p.__class__ = _OneLineParser
    p.add_argument("--nats", type=_nats_url, default=DEFAULT_NATS_URL, metavar="URL",
                   help=f"the desk's NATS server (default {DEFAULT_NATS_URL})")  # fmt: skip
    p.add_argument("--login", metavar="NAME", help="the bus login stored with `aitbc-tui bus-login set NAME`")
    _add_tls_options(p)
    p.add_argument("--depth", type=_depth, default=50, metavar="N", help="levels per side published (default 50)")
    p.add_argument("--snapshot-every", type=_positive, default=1.0, metavar="S",
                   help="a full book snapshot to the last-value stream at most every S seconds (default 1)")  # fmt: skip
    p.add_argument("--trades-every", type=_seconds_or_off, default=2.0, metavar="S",
                   help="poll public trades every S seconds (default 2; 0: off)")  # fmt: skip
    p.add_argument("--tickers-every", type=_seconds_or_off, default=10.0, metavar="S",
                   help="poll 24 h tickers every S seconds (default 10; 0: off)")  # fmt: skip
    p.set_defaults(func=run_feed)

    r = sub.add_parser(
        "record",
        help="record the desk bus, or the configured venues directly, to a compressed file for --replay",
        description="Write every message on the subjects to FILE (gzip, one JSON object per line), starting with "
        "the last values the stream holds (markets, every book's snapshot). Without --nats, the venues of "
        "--config (no config: the sandbox) are connected directly (no bus) and the messages a collector would "
        "publish are written instead. Replay it with `aitbc-tui --replay FILE`.",
    )
    r.__class__ = _OneLineParser
    r.add_argument("--nats", type=_nats_url, metavar="URL",
                   help=f"the desk's NATS server, e.g. {DEFAULT_NATS_URL} (default: no bus, the venues directly)")  # fmt: skip
    r.add_argument("--login", metavar="NAME", help="the bus login stored with `aitbc-tui bus-login set NAME`")
    _add_tls_options(r)
    r.add_argument("--subjects", default="md.>", metavar="S", help="subjects to record (default 'md.>')")
    r.add_argument("--out", required=True, metavar="FILE", help="the recording to write (gzip JSON lines)")
    r.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds (default: Ctrl-C)")
    r.add_argument("--depth", type=_depth, metavar="N", help="without --nats: levels per side recorded (default 50)")
    r.set_defaults(func=run_record)

    w = sub.add_parser(
        "serve",
        help="the dashboard in a browser (textual-serve) on 127.0.0.1, with a per-start token",
        description="Serve the dashboard to a browser on 127.0.0.1 only: one dashboard per tab, read-only unless "
        "--allow-orders. The URL printed carries a random token made at each start; requests without it are "
        "refused. For anyone else, put an authenticating reverse proxy in front. The dashboard options "
        "(--config, --theme, --replay ...) go before `serve`.",
    )
    w.__class__ = _OneLineParser
    w.add_argument(
        "--port", type=_port, default=8000, metavar="P", help="port on 127.0.0.1 (default 8000; 0: a free one)"
    )
    w.add_argument("--allow-orders", action="store_true",
                   help="tabs may trade (live venues still need --live and the live gate typed in the page)")  # fmt: skip
    w.set_defaults(func=run_serve)

    b = sub.add_parser(
        "bus-login",
        help="store or delete a NATS user and password for the desk bus (keyring or vault, like API keys)",
        description="A bus login lives in the credential store (the secure OS keyring, else the encrypted vault) "
        'as bus:NAME. Use it with `feed --login NAME`, `record --login NAME`, or login = "NAME" in a feed venue.',
    )
    b.__class__ = _OneLineParser
    b.add_argument("action", choices=("set", "delete"))
    b.add_argument("name", help="a name for the login, e.g. desk-collector")
    b.add_argument("--user", metavar="USER", help="the NATS user (default: asked)")
    b.add_argument("--store", choices=("auto", "keyring", "vault"), default="auto",
                   help="where it lives: auto (secure OS keyring, else vault; default), keyring or vault")  # fmt: skip
    b.set_defaults(func=run_bus_login)


def _add_tls_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls-ca", metavar="FILE",
                   help="TLS to the bus: the desk's CA certificate (PEM); a tls:// URL without it trusts the system's CAs")  # fmt: skip
    p.add_argument(
        "--tls-cert", metavar="FILE", help="TLS: a client certificate (PEM), for a server that verifies clients"
    )
    p.add_argument("--tls-key", metavar="FILE", help="TLS: the client certificate's key (PEM)")


def _tls(args: argparse.Namespace):
    """The TLS options of this command line (None: none given); a missing or bad file is a
    one-line error before anything connects."""
    from pathlib import Path

    from aitbc_tui.desk.bus import BusTls, tls_context

    files = (getattr(args, "tls_ca", None), getattr(args, "tls_cert", None), getattr(args, "tls_key", None))
    tls = BusTls(*(Path(f) if f else None for f in files))
    if not tls.given:
        return None
    tls_context(tls)
    return tls


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0 picks a free one)")
    return int(text)


def _install_stop(stop: asyncio.Event) -> list[signal.Signals]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    return installed


async def feed(args: argparse.Namespace, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> int:
    from aitbc_tui.cli import load_config
    from aitbc_tui.desk.collector import Collector, collector_venues

    config = load_config(args)
    venues = collector_venues(config, seed=getattr(args, "seed", None))
    collector = Collector(
        venues,
        args.nats,
        depth=args.depth,
        snapshot_interval_s=args.snapshot_every,
        trades_interval_s=args.trades_every,
        tickers_interval_s=args.tickers_every,
        login=_login(args),
        tls=_tls(args),
    )
    stop = stop or asyncio.Event()
    installed = _install_stop(stop)
    try:
        out.write(f"aitbc-tui feed: connecting to {args.nats} …\n")
        out.flush()
        await collector.start()
        names = ", ".join(v.name for v in venues)
        out.write(f"aitbc-tui feed: publishing {names} on {args.nats} (epoch {collector.epoch}); Ctrl-C stops\n")
        out.flush()
        await stop.wait()
    finally:
        for sig in installed:
            asyncio.get_running_loop().remove_signal_handler(sig)
        await collector.stop()
        s = collector.stats
        out.write(f"aitbc-tui feed: stopped ({s.deltas} deltas, {s.snapshots} snapshots, {s.dropped} dropped "
                  f"while the bus was away, {s.reconnects} reconnects)\n")  # fmt: skip
        out.flush()
    return 0


async def record(args: argparse.Namespace, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> int:
    from pathlib import Path

    from aitbc_tui.cli import CliError, load_config
    from aitbc_tui.desk.collector import collector_venues
    from aitbc_tui.desk.recording import DirectRecorder, Recorder

    recorder: Recorder | DirectRecorder
    if args.nats is not None:
        if args.depth is not None:
            raise CliError("record: --depth is for recording without --nats (the collector sets the bus's depth)")
        recorder = Recorder(args.nats, args.subjects, Path(args.out), login=_login(args), tls=_tls(args))
        source = f"on {args.nats}"
    else:
        bus_only = [f for f, name in (("--login", "login"), ("--tls-ca", "tls_ca"), ("--tls-cert", "tls_cert"),
                                      ("--tls-key", "tls_key")) if getattr(args, name, None)]  # fmt: skip
        if bus_only:
            raise CliError(f"record: {', '.join(bus_only)} needs --nats (without it the venues are recorded directly)")
        venues = collector_venues(load_config(args), seed=getattr(args, "seed", None))
        recorder = DirectRecorder(venues, args.subjects, Path(args.out), depth=args.depth or 50)
        source = f"from {', '.join(v.name for v in venues)} directly (no bus)"
    stop = stop or asyncio.Event()
    installed = _install_stop(stop)
    try:
        await recorder.start()
        out.write(f"aitbc-tui record: {args.subjects} {source} -> {args.out}; Ctrl-C stops\n")
        out.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    finally:
        for sig in installed:
            asyncio.get_running_loop().remove_signal_handler(sig)
        await recorder.stop()
    out.write(f"aitbc-tui record: {recorder.messages} messages written to {args.out}\n")
    out.flush()
    return 0


def run_record(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(record(args))
    return 0


def replay_speed(text: str | None) -> float:
    from aitbc_tui.cli import CliError
    from aitbc_tui.desk.recording import MAX_SPEED, MIN_SPEED

    if text is None:
        return 1.0
    try:
        speed = float(text)
    except ValueError:
        speed = float("nan")
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise CliError(f"--speed {text!r} is not allowed; use a number from {MIN_SPEED:g} to {MAX_SPEED:g}")
    return speed


def build_replay(path: str, speed: float = 1.0, *, paused: bool = False, start: str | None = None):
    """The replay dashboard for ``path`` (its own in-memory engines: the sandbox's files,
    balances and journal are not touched; practice orders live for this run only); ``start``:
    ``--from`` (ISO-8601 UTC or an offset from the recording's start)."""
    from aitbc_tui.desk.recording import Replayer, ReplayWorld, parse_start, read_recording, replay_venues
    from aitbc_tui.service import MarketService
    from aitbc_tui.ui.replay_app import ReplayApp

    header, records = read_recording(path)
    at = parse_start(start, header, records) if start is not None else None  # before anything is built
    holder: dict[str, Replayer] = {}
    world = ReplayWorld(records, clock=lambda: holder["r"].now)
    replayer = holder["r"] = Replayer(records, world, speed=speed)
    if at is not None:
        replayer.seek(at)
    service = MarketService(replay_venues(world))
    return ReplayApp(service, replayer, paused=paused)


def run_replay(args: argparse.Namespace) -> int:
    from aitbc_tui.cli import CliError

    if not getattr(args, "replay", None):
        raise CliError(f"{'--speed' if getattr(args, 'speed', None) else '--from'} needs --replay FILE")
    app = build_replay(args.replay, replay_speed(getattr(args, "speed", None)), start=getattr(args, "from_time", None))
    app.run()
    return 0


def dashboard_args(args: argparse.Namespace) -> list[str]:
    """The dashboard options of this command line, for each served tab."""
    out: list[str] = []
    for flag, name in (("--config", "config"), ("--seed", "seed"), ("--theme", "theme"), ("--replay", "replay"),
                       ("--speed", "speed"), ("--from", "from_time")):  # fmt: skip
        value = getattr(args, name, None)
        if value is not None:
            out += [flag, str(value)]
    if getattr(args, "reset_sandbox", False):
        out.append("--reset-sandbox")
    if not args.allow_orders or getattr(args, "read_only", False):
        out.append("--read-only")
    elif getattr(args, "live", False):
        out.append("--live")
    return out


async def serve(args: argparse.Namespace, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> int:
    import os

    from aitbc_tui.cli import check_live_allowed, load_config
    from aitbc_tui.desk import web

    config = load_config(args)  # a bad config is refused here, not in every tab
    if args.allow_orders and not getattr(args, "read_only", False):
        check_live_allowed(config, args)
    tab_args = dashboard_args(args)
    if "--read-only" in tab_args:
        os.environ[web.PRIVATE_DATA_ENV] = "1"
    else:
        os.environ.pop(web.PRIVATE_DATA_ENV, None)
    token = web.new_token()
    server = web.make_server(web.tab_command(tab_args), token, port=args.port)
    runner, port = await web.start(server)
    stop = stop or asyncio.Event()
    installed = _install_stop(stop)
    try:
        mode = "read-only" if "--read-only" in tab_args else "orders allowed"
        out.write(f"aitbc-tui serve: http://{web.HOST}:{port}/?token={token}\n"
                  f"  one dashboard per tab, {mode}; 127.0.0.1 only; the token is new at every start; Ctrl-C stops\n")  # fmt: skip
        out.flush()
        await stop.wait()
    finally:
        for sig in installed:
            asyncio.get_running_loop().remove_signal_handler(sig)
        await runner.cleanup()
    return 0


def run_serve(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(args))
    return 0


def _login(args: argparse.Namespace):
    from aitbc_tui.desk.bus import load_login

    name = getattr(args, "login", None)
    return load_login(name) if name else None


def run_bus_login(args: argparse.Namespace) -> int:
    import getpass

    from aitbc_tui.cli import CliError
    from aitbc_tui.credentials import CredentialStore
    from aitbc_tui.desk.bus import login_entry, store_login

    try:
        store = CredentialStore.open(args.store)
        if args.action == "delete":
            found = store.delete(login_entry(args.name))
            print(f"bus login {args.name!r} {'deleted' if found else 'was not stored'}")
            return 0
        user = args.user or input("NATS user: ").strip()
        password = getpass.getpass("NATS password (not shown): ").strip()
        store_login(store, args.name, user, password)
    except (OSError, EOFError) as exc:
        raise CliError(f"bus-login: {exc}") from None
    print(f"bus login {args.name!r} stored ({store.backend_name}); use --login {args.name}")
    return 0


def run_feed(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(feed(args))
    return 0
