"""`alerts list|add|remove|pause|resume [--json]`: the alert rules the dashboard runs.

Rules come from the config's ``[alerts]`` (edit the file to change them; they can be
paused here) and from ``alerts.sqlite3`` in the data dir (added here or with `!` in the
dashboard). Both are validated by the same strict parser; a bad value is one line, exit 2.
A running dashboard picks up changes at its next start.
"""

from __future__ import annotations

import argparse
import json
import sys

from aitbc_tui.commands.journal import _OneLineParser
from aitbc_tui.sanitize import plain_text

FIELD_OPTIONS = (  # option, rule field, help
    ("--symbol", "symbol", "BASE/QUOTE"),
    ("--venue", "venue", "only this venue (default: any)"),
    ("--price", "price", "price rules: last, bid, ask or mid (default last)"),
    ("--level", "level", "price rules: the level"),
    ("--bps", "bps", "spread / arbitrage: basis points"),
    ("--for", "for_s", "spread / venue: held this many seconds first"),
    ("--min-size", "min_size", "arbitrage: executable size at least (base)"),
    ("--status", "status", "venue_down: degraded (degraded or down) or down"),
    ("--min-notional", "min_notional", "fill: worth at least (quote)"),
    ("--asset", "asset", "balance_below: the asset"),
    ("--threshold", "threshold", "balance_below / pnl_below: the threshold (P&L may be negative)"),
    ("--count", "count", "resync_storm: more than this many resyncs ..."),
    ("--within", "within_s", "resync_storm: ... within this many seconds"),
    ("--period", "period", "pnl_below: session, today or total (default session)"),
    ("--currency", "currency", "pnl_below: valuation currency (default USDT)"),
    ("--hysteresis-bps", "hysteresis_bps", "re-arm margin (default 10)"),
    ("--cooldown", "cooldown_s", "seconds between two alerts of the rule (default 60)"),
    ("--max-per-hour", "max_per_hour", "rate limit of the rule (default 20)"),
    ("--id", "id", "the rule's id (default r1, r2, ...)"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alerts", help="list, add, remove, pause or resume alert rules",
                       description="Alert rules: [alerts] in the config and the ones added here or with ! in the"
                                   " dashboard (stored in the data dir's alerts.sqlite3).")  # fmt: skip
    p.__class__ = _OneLineParser
    p.set_defaults(func=run_list, json=False)
    actions = p.add_subparsers(dest="alerts_command", metavar="list|add|remove|pause|resume")
    lst = actions.add_parser("list", help="every rule, its source and whether it is paused")
    lst.add_argument("--json", action="store_true", help="a JSON array")
    lst.set_defaults(func=run_list)
    add = actions.add_parser("add", help="add a rule: --kind K and its fields")
    add.add_argument("--kind", required=True, help="price_above, price_below, spread_above, arbitrage_above, "
                     "venue_down, resync_storm, fill, order_rejected, balance_below, pnl_below")  # fmt: skip
    for option, dest, text in FIELD_OPTIONS:
        add.add_argument(option, dest=dest, help=text)
    add.add_argument("--no-notify", action="store_true", help="no desktop or apprise notification for this rule")
    add.add_argument("--apprise-url", action="append", metavar="URL", help="this rule's own apprise URL (repeatable)")
    add.add_argument("--json", action="store_true", help="print the rule as JSON")
    add.set_defaults(func=run_add)
    for name, func, text in (
        ("remove", run_remove, "remove a rule added here or with !"),
        ("pause", run_pause, "pause a rule"),
        ("resume", run_resume, "resume a paused rule"),
    ):
        one = actions.add_parser(name, help=text)
        one.add_argument("rule_id", metavar="ID")
        one.add_argument("--json", action="store_true", help="print the result as JSON")
        one.set_defaults(func=func)
    for parser in (lst, add, *actions.choices.values()):
        parser.__class__ = _OneLineParser


def _context(args):
    from aitbc_tui.alert_store import AlertStore
    from aitbc_tui.cli import load_config

    config = load_config(args)
    alerts = getattr(config, "alerts", None)
    return AlertStore(), tuple(alerts.rules) if alerts is not None else ()


def _row(rule) -> dict:
    table = rule.as_table()
    if "apprise_urls" in table:  # an apprise URL may hold a token: its scheme only
        table["apprise_urls"] = [url.split("://", 1)[0] + "://…" for url in table["apprise_urls"]]
    return {**table, "source": rule.source, "paused": rule.paused, "describe": rule.describe()}


def run_list(args: argparse.Namespace) -> int:
    store, config_rules = _context(args)
    rules = store.all_rules(config_rules)
    store.close()
    if args.json:
        json.dump([_row(r) for r in rules], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not rules:
        print("no alert rules")
        return 0
    width = max(len(r.id) for r in rules)
    for r in rules:
        state = "paused" if r.paused else "active"
        print(f"{r.id:<{width}}  {state:<6}  {r.source:<7}  {plain_text(r.describe(), 300)}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    store, config_rules = _context(args)
    table = {"kind": args.kind}
    for _, dest, _ in FIELD_OPTIONS:
        value = getattr(args, dest)
        if value is not None:
            table[dest] = int(value) if dest == "max_per_hour" and value.isdigit() else value
    if args.no_notify:
        table["notify"] = False
    if args.apprise_url:
        table["apprise_urls"] = args.apprise_url
    try:
        rule = store.add(table, config_rules)
    finally:
        store.close()
    if args.json:
        json.dump(_row(rule), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"added {rule.id}: {plain_text(rule.describe(), 300)}")
    return 0


def _one(args: argparse.Namespace, action: str) -> int:
    store, config_rules = _context(args)
    try:
        if action == "remove":
            store.remove(args.rule_id, config_rules)
        else:
            store.set_paused(args.rule_id, action == "pause", config_rules)
    finally:
        store.close()
    done = {"remove": "removed", "pause": "paused", "resume": "resumed"}[action]
    if args.json:
        print(json.dumps({"id": args.rule_id, "result": done}))
    else:
        print(f"{done} {plain_text(args.rule_id, 60)}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    return _one(args, "remove")


def run_pause(args: argparse.Namespace) -> int:
    return _one(args, "pause")


def run_resume(args: argparse.Namespace) -> int:
    return _one(args, "resume")
