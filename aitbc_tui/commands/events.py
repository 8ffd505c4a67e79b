"""`events [--since T] [--severity S] [--venue V] [--json]`: print the event log (every
notice, alert and health change the dashboard recorded). Read-only: never creates the
log. Times are ISO 8601 UTC; text is plain (it came from venues and operators)."""

from __future__ import annotations

import argparse
import sys

from aitbc_tui.commands.journal import _OneLineParser, parse_since
from aitbc_tui.sanitize import plain_text


def _severity(text: str) -> str:
    from aitbc_tui.events import severity_of

    try:
        return severity_of(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("events", help="print the event log (notices, alerts, health changes)",
                       description="Print the event log: every notice, alert, health change and webhook delivery"
                                   " the dashboard recorded (kept 30 days). Never writes to it.")  # fmt: skip
    p.__class__ = _OneLineParser
    p.add_argument(
        "--since",
        metavar="T",
        type=parse_since,
        help="only events since T: ISO date/time (UTC unless an offset is given) or 30m/1h/2d/1w ago",
    )
    p.add_argument("--severity", metavar="S", type=_severity, help="only S and above: info, warning, error")
    p.add_argument("--venue", metavar="V", help="only this venue")
    p.add_argument("--json", action="store_true", help="one JSON object per line (NDJSON)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aitbc_tui.events import EventLogError, default_events_path, read_events, to_json_lines

    path = default_events_path()
    try:
        events = read_events(path, since=args.since.timestamp() if args.since else None,
                             min_severity=args.severity, venue=args.venue)  # fmt: skip
    except EventLogError as exc:
        print(f"aitbc-tui: error: {plain_text(exc, 1000)}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(to_json_lines(events))
        return 0
    if not events:
        print("no events" + ("" if path.exists() else f" (no event log at {path})"))
        return 0
    venue_width = max([5] + [len(e.venue) for e in events])
    for e in events:
        severity = {"information": "info", "warning": "warn"}.get(e.severity, e.severity)
        print(f"{e.iso}  {severity:<5}  {e.kind:<8}  {(e.venue or '-'):<{venue_width}}  {plain_text(e.text, 1000)}")
    return 0
