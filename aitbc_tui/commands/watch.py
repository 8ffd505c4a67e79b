"""`watch [--alerts-only] [--json]`: the alert engine without the UI, for a server.

Runs the venues of the config (the sandbox when none), the alert rules of the config's
``[alerts]`` and of the data dir, and the webhooks, until Ctrl+C or SIGTERM (exit 0).
Prints every alert (and, without ``--alerts-only``, every event: health changes, venue
errors, order events, webhook deliveries) as one line, or one JSON object per line with
``--json``. It never trades (as with ``--read-only``); it holds the data dir like the
dashboard, so the two do not run at once on one data dir.
"""

from __future__ import annotations

import argparse
import sys

from aitbc_tui.commands.journal import _OneLineParser


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="run the alert rules and webhooks without the UI; print alerts and events",
                       description="Run the alert engine headless (for a server): print alerts (and events) as "
                                   "lines or NDJSON and deliver them to the webhooks, until Ctrl+C.")  # fmt: skip
    p.__class__ = _OneLineParser
    p.add_argument("--alerts-only", action="store_true", help="print only alerts, not every event")
    p.add_argument("--json", action="store_true", help="one JSON object per line (NDJSON)")
    p.set_defaults(func=run)


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()  # a pipe reader sees each alert as it happens


def _log_warning(event_log, text: str) -> None:
    event_log.log(text, severity="warning")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import time

    from aitbc_tui.alert_runner import AlertRunner
    from aitbc_tui.alert_store import AlertStore
    from aitbc_tui.alerts import AlertsConfig
    from aitbc_tui.cli import build_service
    from aitbc_tui.datalock import DataDirLock
    from aitbc_tui.delivery import WebhookDispatcher, env_secret_lookup
    from aitbc_tui.events import EventLog
    from aitbc_tui.notify import Notifier
    from aitbc_tui.watch import HeadlessWatch

    args.read_only = True  # watch never trades (live venues need no --live)
    lock = DataDirLock().acquire()
    try:
        config, service = build_service(args, trading=True)
        configured = getattr(config, "alerts", None)
        alerts_config = configured if isinstance(configured, AlertsConfig) else AlertsConfig()
        store = AlertStore()
        rules = store.all_rules(alerts_config.rules)
        store.close()
        event_log = EventLog()
        holder: list[HeadlessWatch] = []
        webhooks = WebhookDispatcher(
            env_secret_lookup(),
            on_outcome=lambda outcome: holder[0].webhook_outcome(outcome),
            on_problem=lambda text: holder[0].problem(text),
        )
        notifier = Notifier(alerts_config.notify, on_problem=lambda text: holder[0].problem(text, kind="notice"))
        runner = AlertRunner(service, alerts_config, rules, clock=time.time, webhooks=webhooks, notifier=notifier,
                             on_warning=lambda text: _log_warning(event_log, text))  # fmt: skip
        watch = HeadlessWatch(service, runner, event_log, write=_write, as_json=args.json,
                              alerts_only=args.alerts_only)  # fmt: skip
        holder.append(watch)

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await watch.run(stop)

        try:
            asyncio.run(main())
        finally:
            event_log.close()
            if service.journal is not None:
                service.journal.close()
    finally:
        lock.release()
    return 0
