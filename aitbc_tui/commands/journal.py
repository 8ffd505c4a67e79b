"""`journal [--venue V] [--since T] [--csv]`: print the order journal's events."""

from __future__ import annotations

import argparse
import csv
import re
import sys
from datetime import datetime, timedelta, timezone

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

COLUMNS = ("time", "venue", "client_order_id", "event", "symbol", "side", "price", "amount", "fee",
           "fee_currency", "venue_order_id", "message")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``30m``, ``1h``, ``2d``, ``1w`` (ago), or an ISO date/time (UTC unless it has an offset)."""
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since must be an ISO date/time (2024-05-01, 2024-05-01T12:00, ...Z) or an age "
            f"like 30m, 1h, 2d, 1w; not {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("journal", help="print the order journal (every order event)")
    p.add_argument("--venue", metavar="V", help="only this venue")
    p.add_argument("--since", metavar="T", type=parse_since,
                   help="only events since T: ISO date/time (UTC unless an offset is given) or 30m/1h/2d/1w ago")
    p.add_argument("--csv", action="store_true", help="CSV with a header row instead of a table")
    p.set_defaults(func=run)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def run(args: argparse.Namespace) -> int:
    from aitbc_tui.journal import Journal, JournalError, default_journal_path

    path = default_journal_path()
    rows: list[tuple[str, ...]] = []
    if path.exists():  # a read-only command does not create the journal
        try:
            with Journal(path) as journal:
                events = journal.events(venue=args.venue, since=args.since)
        except JournalError as exc:
            print(f"aitbc-tui journal: error: {exc}", file=sys.stderr)
            return 1
        rows = [
            (_iso(e.at), e.venue, e.client_order_id, e.kind.value, e.symbol, e.side, _cell(e.price),
             _cell(e.amount), _cell(e.fee), e.fee_currency, _cell(e.venue_order_id), e.message)
            for e in events
        ]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return 0
    if not rows:
        print("no journaled order events" + ("" if path.exists() else f" (no journal at {path})"))
        return 0
    shown = [tuple(c.upper() for c in COLUMNS[:-1]) + ("MESSAGE",)] + rows
    widths = [max(len(r[i]) for r in shown) for i in range(len(COLUMNS) - 1)]
    for row in shown:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths))
        print(f"{line}  {row[-1]}".rstrip())
    return 0
