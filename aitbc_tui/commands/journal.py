"""`journal [--venue V] [--since T] [--csv]`: print the order journal's events;
`journal check`: back the journal up, then check it.

Both only read the journal (SQLite ``mode=ro``): they never create or change it. Every
text that came from a venue (messages, symbols, ids) is printed as plain text, so an
escape sequence in an exchange's reply cannot reach the terminal.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import NoReturn

from aitbc_tui.sanitize import plain_text

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# AMOUNT is always an amount of base this event moved or asked for: ordered (intent) or
# filled by this one fill (fill). FILLED is the order's cumulative fill as the venue
# reported it at that event (ack, canceled, reconciled). STATE is the order's state now.
COLUMNS = (
    "time",
    "venue",
    "client_order_id",
    "event",
    "state",
    "symbol",
    "side",
    "price",
    "amount",
    "filled",
    "fee",
    "fee_currency",
    "venue_order_id",
    "trade_id",
    "message",
)
_AMOUNT_EVENTS = frozenset({"intent", "fill"})
_FILLED_EVENTS = frozenset({"ack", "canceled", "reconciled"})


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``30m``, ``1h``, ``2d``, ``1w`` (ago), or an ISO date/time (UTC unless it has an offset)."""
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(text)
    if match:
        try:
            return now - timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])
        except (OverflowError, ValueError):
            raise argparse.ArgumentTypeError(
                f"--since {text.strip()} reaches back before the year 1; give a smaller age or an ISO date"
            ) from None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since must be an ISO date/time (2024-05-01, 2024-05-01T12:00, ...Z) or an age "
            f"like 30m, 1h, 2d, 1w; not {plain_text(text, 60)!r}"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    try:
        when.timestamp()
    except (OverflowError, ValueError):
        raise argparse.ArgumentTypeError(f"--since {text.strip()} is out of range") from None
    return when


class _OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr and exit code 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"aitbc-tui: error: {self.prog.removeprefix('aitbc-tui ')}: {plain_text(message)}\n")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "journal",
        help="print the order journal (every order event); `journal check`",
        description="Print the order journal's events; `journal check` backs it up and checks it."
        " Neither writes to the journal.",
    )
    p.__class__ = _OneLineParser  # add_parser builds the parent's class; only its error() differs
    p.add_argument("--venue", metavar="V", help="only this venue")
    p.add_argument(
        "--since",
        metavar="T",
        type=parse_since,
        help="only events since T: ISO date/time (UTC unless an offset is given) or 30m/1h/2d/1w ago",
    )
    p.add_argument("--csv", action="store_true", help="CSV with a header row instead of a table")
    p.add_argument("--group", metavar="ID", help="only this arbitrage group's orders, after its plan and result")
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="journal_command", metavar="check")
    check = actions.add_parser(
        "check", help="copy the journal to journal.sqlite3.bak-<UTC time>, then check it (exit 0 ok, 2 a problem)"
    )
    check.__class__ = _OneLineParser
    check.set_defaults(func=run_check)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell(value: object) -> str:
    return "" if value is None else plain_text(value)


def _error(text: str) -> int:
    print(f"aitbc-tui: error: {plain_text(text, 1000)}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from aitbc_tui.journal import Journal, JournalError, default_journal_path

    path = default_journal_path()
    rows: list[tuple[str, ...]] = []
    exists = path.exists() or path.is_symlink()
    group_id = getattr(args, "group", None)
    header: list[str] = []
    if exists:  # a read-only command never creates the journal
        try:
            with Journal(path, read_only=True) as journal:
                if group_id is not None:
                    header = _group_header(journal, group_id)
                    if not header:
                        return _error(f"no arbitrage group {group_id!r} in the journal {path}")
                events = journal.events(venue=args.venue, since=args.since, group_id=group_id)
                states = {o.client_order_id: o.state.value for o in journal.orders(venue=args.venue)}
        except JournalError as exc:
            return _error(str(exc))
        rows = [
            (
                _iso(e.at),
                _cell(e.venue),
                _cell(e.client_order_id),
                e.kind.value,
                states.get(e.client_order_id, ""),
                _cell(e.symbol),
                _cell(e.side),
                _cell(e.price),
                _cell(e.amount) if e.kind.value in _AMOUNT_EVENTS else "",
                _cell(e.amount) if e.kind.value in _FILLED_EVENTS else "",
                _cell(e.fee),
                _cell(e.fee_currency),
                _cell(e.venue_order_id),
                _cell(e.trade_id),
                _cell(e.message),
            )
            for e in events
        ]
    if not exists and group_id is not None:
        return _error(f"no arbitrage group {group_id!r}: no journal at {path}")
    if header and not args.csv:
        print("\n".join(header))
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return 0
    if not rows:
        print("no journaled order events" + ("" if exists else f" (no journal at {path})"))
        return 0
    shown = [tuple(c.upper() for c in COLUMNS[:-1]) + ("MESSAGE",)] + rows
    widths = [max(len(r[i]) for r in shown) for i in range(len(COLUMNS) - 1)]
    for row in shown:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths))
        print(f"{line}  {row[-1]}".rstrip())
    return 0


def _group_header(journal, group_id: str) -> list[str]:
    """An arbitrage group's plan, state and realised net beside the expected (empty when the
    journal has no such group)."""
    from aitbc_tui.arb_desk import journal_outcome

    record = journal.group(group_id)
    outcome = journal_outcome(journal, group_id)
    if record is None or outcome is None:
        return []
    base, _, quote = record.symbol.partition("/")
    bps = "—" if outcome.realised_net_bps is None else f"{outcome.realised_net_bps:.2f}"
    left_out = " (fees the venue did not report in base or quote are left out)" if outcome.fees_estimated else ""
    return [
        f"group {plain_text(group_id, 60)}: {plain_text(record.symbol, 40)} {record.amount:f} {plain_text(base, 20)}: "
        f"buy on {plain_text(record.buy_venue, 40)} at ≤ {record.buy_price:f}, sell on "
        f"{plain_text(record.sell_venue, 40)} at ≥ {record.sell_price:f} ({record.mode})",
        f"expected net {record.expected_net_quote:.8f} {quote} ({record.expected_net_bps:.2f} bps); "
        f"realised net {outcome.realised_net_quote:.8f} {quote} ({bps} bps){left_out}",
        f"state {outcome.state.value}: bought {outcome.bought:f}, sold {outcome.sold:f}, unhedged "
        f"{outcome.unhedged:f} {base}; resolution: {plain_text(record.resolution, 40) or 'none yet'}"
        + (f" ({plain_text(record.message, 300)})" if record.message else ""),
        "",
    ]


def run_check(args: argparse.Namespace) -> int:
    """Back up first (the copy is the evidence, whatever the check finds), then check."""
    from aitbc_tui.journal import JournalError, backup_journal, check_journal, default_journal_path

    path = default_journal_path()
    if not (path.exists() or path.is_symlink()):
        print(f"no journal at {path}: nothing to check")
        return 0
    try:
        backup = backup_journal(path)
    except JournalError as exc:
        return _error(str(exc))
    try:
        version, orders, events = check_journal(path)
    except JournalError as exc:
        print(f"problem: {plain_text(exc, 1000)}")
        print(f"backup: {backup}")
        return 2
    print(f"ok: journal {path}: schema version {version}, {orders} orders, {events} events; backup: {backup}")
    return 0
