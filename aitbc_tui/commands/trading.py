"""Headless trading: `balance`, `orders`, `order place|cancel|cancel-all`.

The same path as the dashboard's order form: every argument is checked by
``validation.validate_order`` against the venue's market rules, its book and the free
balance; the order goes through ``MarketService.place_order`` (risk limits, then the
intent journalled before anything is sent); a market order is sent as the dashboard
sends it, a marketable IOC limit at the slippage cap (``[risk] max_slippage_bps``), and
is refused when the book cannot fill it within the cap.

Guardrails:
- a bad argument (a number that is not plain ASCII digits, off the lot/tick grid,
  below a minimum; an unknown venue or symbol; options that do not go together or that
  the venue lacks) is one line on stderr, exit 2, and nothing is sent or journalled;
- ``--read-only`` and read-only venues (config or keys) refuse every order action (exit 2);
- a live venue needs the global ``--live`` and a confirmation: ``y`` typed at the prompt
  on a terminal, or ``--yes`` for scripts; with neither (no terminal, no ``--yes``) the
  command refuses (exit 2) before it connects to anything;
- a limit price further than ``[risk] price_band_pct`` from the mid needs the same
  confirmation, in every mode (the dashboard asks a second time).

Exit codes: 0 done; 1 declined at the prompt, or some cancels of a cancel-all failed;
2 refused (bad argument, guardrail, the venue's refusal); 3 the order's outcome is
UNKNOWN (the reply was lost: it may have been placed; it is reconciled by client order id
at the next start, and no new order goes to that venue until then).

Money is printed exactly: JSON carries every amount as a string in positional notation
(``format(d, "f")``: "0.01000000" stays "0.01000000", never a float or an exponent).
Venue-supplied text (asset names, ids, messages) is printed through ``plain_text``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, NoReturn, overload

from aitbc_tui.formatting import fmt_timestamp
from aitbc_tui.sanitize import plain_text

BOOK_TIMEOUT_S = 10.0
BOOK_DEPTH = 50  # the dashboard's service book depth: market orders walk this many levels
EXIT_DECLINED = 1
EXIT_UNKNOWN = 3

SIDES = ("buy", "sell")
TYPES = ("limit", "market")
TIFS = ("gtc", "ioc", "fok")


class _OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr and exit code 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"aitbc-tui: error: {self.prog.removeprefix('aitbc-tui ')}: {plain_text(message)}\n")

    def parse_known_args(self, args=None, namespace=None):
        # An unknown argument is refused here, in one line, not by the top-level parser
        # (which would print its whole usage block first).
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def _one_line(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.__class__ = _OneLineParser  # add_parser builds the parent's class; only error() differs
    return parser


def register(sub: argparse._SubParsersAction) -> None:
    balance = _one_line(sub.add_parser("balance", help="total, free and used of every asset per venue"))
    balance.add_argument("venue", nargs="?", help="only this venue")
    balance.add_argument("--json", action="store_true", help="machine-readable output (amounts as exact strings)")
    balance.set_defaults(func=run_balance)

    orders = _one_line(sub.add_parser("orders", help="open orders, or with --history filled and cancelled ones"))
    orders.add_argument("venue", nargs="?", help="only this venue")
    orders.add_argument("--history", action="store_true", help="filled and cancelled orders instead of open ones")
    orders.add_argument("--json", action="store_true", help="machine-readable output")
    orders.set_defaults(func=run_orders)

    order = _one_line(sub.add_parser("order", help="place or cancel orders (same checks as the dashboard)"))
    actions = order.add_subparsers(dest="order_command", metavar="place|cancel|cancel-all", required=True)

    place = actions.add_parser(
        "place",
        help="place one order",
        description="Place one order. A market order is sent as an IOC limit at the slippage cap "
        "(risk.max_slippage_bps), like the dashboard does.",
    )
    place.add_argument("venue", help="venue name, e.g. binance")
    place.add_argument("symbol", help="symbol, e.g. BTC/USDT")
    place.add_argument("side", help="buy or sell")
    place.add_argument("amount", help="base amount, plain digits, e.g. 0.01")
    place.add_argument("--price", metavar="P", help="limit price (limit orders only)")
    place.add_argument(
        "--type", dest="order_type", metavar="limit|market", default=None, help="order type (default: limit)"
    )
    place.add_argument("--tif", metavar="gtc|ioc|fok", default=None, help="time in force of a limit (default gtc)")
    place.add_argument("--post-only", action="store_true", help="refused rather than take liquidity (GTC limits)")
    place.add_argument("--yes", action="store_true", help="confirm without a prompt (live venues, far prices)")
    place.add_argument("--json", action="store_true", help="print the order as JSON")
    place.set_defaults(func=run_place)

    cancel = actions.add_parser("cancel", help="cancel one open order by its id (or client order id)")
    cancel.add_argument("venue", help="venue name")
    cancel.add_argument("order_id", metavar="ORDER_ID", help="the order's id (or client order id)")
    cancel.add_argument("--yes", action="store_true", help="confirm without a prompt (live venues)")
    cancel.add_argument("--json", action="store_true", help="print the cancelled order as JSON")
    cancel.set_defaults(func=run_cancel)

    cancel_all = actions.add_parser("cancel-all", help="cancel every open order (of one venue, or all)")
    cancel_all.add_argument("venue", nargs="?", help="only this venue")
    cancel_all.add_argument("--yes", action="store_true", help="confirm without a prompt (live venues)")
    cancel_all.add_argument("--json", action="store_true", help="print the report as JSON")
    cancel_all.set_defaults(func=run_cancel_all)


# ---- helpers ------------------------------------------------------------------------------


@overload
def _num(value: Decimal) -> str: ...
@overload
def _num(value: Decimal | None) -> str | None: ...
def _num(value: Decimal | None) -> str | None:
    """Exact positional text: never a float, never an exponent."""
    return None if value is None else format(value, "f")


def _by_name(wanted: str, names) -> str:
    """``wanted`` as listed in ``names``, in any case; as given when nothing (or more than
    one name) matches."""
    names = list(names)
    if wanted in names:
        return wanted
    matches = [n for n in names if n.casefold() == wanted.strip().casefold()]
    return matches[0] if len(matches) == 1 else wanted


@overload
def _venue_arg(wanted: str, names: list[str]) -> str: ...
@overload
def _venue_arg(wanted: None, names: list[str]) -> None: ...
def _venue_arg(wanted: str | None, names: list[str]) -> str | None:
    from aitbc_tui.cli import CliError

    if wanted is None:
        return None
    found = _by_name(wanted, names)
    if found not in names:
        raise CliError(f"unknown venue {plain_text(wanted, 60)!r}; venues: {', '.join(names)}")
    return found


def _configured_modes(config) -> dict[str, str]:
    """Venue name -> mode, from the config alone (nothing built, nothing connected);
    empty in sandbox mode."""
    return {v.name: v.mode.value for v in getattr(config, "venues", ())}


def _is_live(config, venue: str | None) -> bool:
    modes = _configured_modes(config)
    if venue is None:
        return "live" in modes.values()
    name = _by_name(venue, modes)
    return modes.get(name) == "live"


def _require_confirmation_possible(args, what: str) -> None:
    """No terminal and no --yes: refuse before anything connects."""
    from aitbc_tui.cli import CliError

    if not args.yes and not _stdin_is_tty():
        raise CliError(f"{what}: needs confirmation: type y at the prompt on a terminal, "
                       "or pass --yes in scripts; nothing sent")  # fmt: skip


def _stdin_is_tty() -> bool:
    try:
        return bool(sys.stdin is not None and sys.stdin.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _confirm(args, summary: list[str], question: str) -> bool:
    """--yes, or ``y`` typed on a terminal. The prompt goes to stderr, so --json output
    stays clean."""
    if args.yes:
        return True
    if not _stdin_is_tty():  # checked before connecting too; the state may not change in between
        from aitbc_tui.cli import CliError

        raise CliError(
            f"{question} needs confirmation: type y at the prompt on a terminal, or pass --yes; nothing sent"
        )
    for line in summary:
        print(line, file=sys.stderr)
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _check_readable_only(args) -> None:
    """Order actions under --read-only: refused before anything is built."""
    from aitbc_tui.cli import CliError

    if getattr(args, "read_only", False):
        raise CliError("read-only session (--read-only): order actions are disabled; nothing sent")


def _sandbox_lock(config):
    """Sandbox orders change the sandbox's saved balances: the data dir's lock, waited for
    briefly (a running sandbox dashboard owns them; its holder is named). Venues from a
    config need no lock (their state is the venue's; the journal takes concurrent writers)."""
    if not getattr(config, "is_sandbox", True):
        return None
    from aitbc_tui.datalock import DataDirLock

    return DataDirLock().acquire(wait_s=5)


def _run_locked(config, coro_fn) -> int:
    lock = _sandbox_lock(config)
    try:
        return asyncio.run(coro_fn())
    finally:
        if lock is not None:
            lock.release()


async def _start(args, *, trading: bool):
    """The service started headless: markets and accounts loaded, the journal (trading)
    reconciled before any order is accepted. No book streams: books are read when needed."""
    from aitbc_tui.cli import build_service

    config, service = build_service(args, trading=trading)
    try:
        await service.start(stream=False)
    except BaseException:
        await _stop(service)
        raise
    for notice in service.reconcile_report:
        print(f"aitbc-tui: journal: {plain_text(notice, 1000)}", file=sys.stderr)
    return config, service


async def _stop(service) -> None:
    try:
        await service.stop()
    finally:
        if service.journal is not None:
            service.journal.close()


def _started_or_fail(service, venue: str) -> None:
    """A venue that did not start (its markets never loaded) is one line naming why."""
    from aitbc_tui.cli import CliError

    if service.markets(venue):
        return
    health = next((h for h in service.health() if h.venue == venue), None)
    why = plain_text(health.last_error, 500) if health is not None and health.last_error else "no markets loaded"
    raise CliError(f"{venue} is not available: {why}")


async def _account(service, venue: str) -> None:
    """The account as ``start`` loaded it; when that failed, loaded again so the venue's
    error surfaces (one line, exit 2) instead of empty balances."""
    health = next((h for h in service.health() if h.venue == venue), None)
    if health is None or health.last_error.startswith("account:"):
        await service.refresh_account(venue)


async def _fresh_book(service, venue: str, symbol: str):
    from aitbc_tui.cli import CliError

    try:
        return await asyncio.wait_for(service.venue(venue).watch_order_book(symbol, BOOK_DEPTH), BOOK_TIMEOUT_S)
    except TimeoutError:
        raise CliError(f"no order book from {venue} for {symbol} within {BOOK_TIMEOUT_S:.0f} s; nothing sent") from None


def _order_json(order, extra: Mapping[str, Any] | None = None) -> dict:
    data = {
        "venue": order.venue,
        "id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "time_in_force": order.time_in_force.value,
        "post_only": order.post_only,
        "price": _num(order.price),
        "amount": _num(order.amount),
        "filled": _num(order.filled),
        "remaining": _num(order.remaining),
        "status": order.status.value,
        "average_price": _num(order.average_price),
        "fee": _num(order.fee),
        "fee_asset": order.fee_currency,
        "liquidity": order.liquidity,
        "message": plain_text(order.message, 1000),
        "created_at": fmt_timestamp(order.created_at),  # ISO 8601 UTC, milliseconds
        "updated_at": fmt_timestamp(order.updated_at),
    }
    if extra:
        data.update(extra)
    return data


def _order_line(order) -> str:
    price = "market" if order.price is None else _num(order.price)
    options = order.time_in_force.value.upper() + (" post-only" if order.post_only else "")
    parts = [
        f"{order.venue} {plain_text(order.symbol, 40)} {order.side.value} {_num(order.amount)} @ {price} {options}",
        f"id {plain_text(order.id, 80) or '—'}",
        f"client {plain_text(order.client_order_id, 80) or '—'}",
        f"status {order.status.value}",
        f"filled {_num(order.filled)}",
    ]
    if order.average_price is not None:
        parts.append(f"avg {_num(order.average_price)}")
    if order.fee:
        parts.append(f"fee {_num(order.fee)} {plain_text(order.fee_currency, 20)}".rstrip())
    if order.message:
        parts.append(plain_text(order.message, 300))
    return " · ".join(parts)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], left: int) -> str:
    """Columns padded to their widest cell; the first ``left`` aligned left, the rest right."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]

    def line(cells) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join(line(r) for r in [header, *rows])


def _find(service, venue: str, coid: str, fallback):
    """The newest view of the order ``coid`` (open or closed), else ``fallback``."""
    for order in [*service.open_orders(), *service.closed_orders()]:
        if order.venue == venue and coid and order.client_order_id == coid:
            return order
    return fallback


# ---- balance / orders --------------------------------------------------------------------


def run_balance(args) -> int:
    from aitbc_tui.cli import print_json

    async def go() -> int:
        _config, service = await _start(args, trading=False)
        try:
            venue = _venue_arg(args.venue, service.venue_names)
            names = [venue] if venue else service.venue_names
            data: dict[str, dict[str, dict[str, str]]] = {}
            for name in names:
                _started_or_fail(service, name)
                await _account(service, name)  # errors here are the venue's, one line
                data[name] = {
                    asset: {"total": _num(b.total), "free": _num(b.free), "used": _num(b.used)}
                    for asset, b in sorted(service.balances(name).items())
                }
            if args.json:
                print_json(data)
                return 0
            rows = [(v, plain_text(a, 20), b["total"], b["free"], b["used"]) for v, assets in data.items()
                    for a, b in assets.items()]  # fmt: skip
            print(_table(("venue", "asset", "total", "free", "used"), rows, left=2))
            return 0
        finally:
            await _stop(service)

    return asyncio.run(go())


def run_orders(args) -> int:
    from aitbc_tui.cli import print_json

    async def go() -> int:
        _config, service = await _start(args, trading=False)
        try:
            venue = _venue_arg(args.venue, service.venue_names)
            for name in [venue] if venue else service.venue_names:
                _started_or_fail(service, name)
                await _account(service, name)
            listed = service.closed_orders() if args.history else service.open_orders()
            listed = [o for o in listed if venue is None or o.venue == venue]
            if args.json:
                print_json([_order_json(o) for o in listed])
                return 0
            if not listed:
                print(f"no {'finished' if args.history else 'open'} orders" + (f" on {venue}" if venue else ""))
            for order in listed:
                print(_order_line(order))
            return 0
        finally:
            await _stop(service)

    return asyncio.run(go())


# ---- order place -------------------------------------------------------------------------


@overload
def _choice(value: str, allowed: tuple[str, ...], option: str) -> str: ...
@overload
def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> str | None: ...
def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> str | None:
    from aitbc_tui.cli import CliError

    if value is None:
        return None
    folded = value.strip().lower()
    if folded not in allowed:
        raise CliError(f"{option} must be {' or '.join(allowed)}, not {plain_text(value, 40)!r}; nothing sent")
    return folded


def _check_option_combination(args) -> tuple[str, str, str | None]:
    """(side, type, tif) from the arguments alone, before anything is built."""
    from aitbc_tui.cli import CliError

    side = _choice(args.side, SIDES, "side")
    order_type = _choice(args.order_type, TYPES, "--type") or "limit"
    tif = _choice(args.tif, TIFS, "--tif")
    if order_type == "market":
        if args.price is not None:
            raise CliError("--price is for limit orders: a market order is sent as an IOC limit at the "
                           "slippage cap (risk.max_slippage_bps); drop --price or use --type limit; nothing sent")  # fmt: skip
        if args.post_only:
            raise CliError("--post-only needs a limit order (a market order takes liquidity); nothing sent")
        if tif not in (None, "ioc"):
            raise CliError(f"--tif {tif} does not apply to a market order: it is always sent as an IOC limit "
                           "at the slippage cap; nothing sent")  # fmt: skip
    else:
        if args.price is None:
            raise CliError("a limit order needs --price P (or use --type market); nothing sent")
        if args.post_only and tif not in (None, "gtc"):
            raise CliError(f"--post-only rests on the book, so it needs --tif gtc, not {tif}; nothing sent")
    return side, order_type, tif


def run_place(args) -> int:
    from aitbc_tui.cli import check_live_allowed, load_config

    side, order_type, tif = _check_option_combination(args)
    _check_readable_only(args)
    config = load_config(args)
    check_live_allowed(config, args)
    live = _is_live(config, args.venue)
    if live:
        _require_confirmation_possible(args, f"{args.venue} is a live venue (real money)")

    async def go() -> int:
        config, service = await _start(args, trading=True)
        try:
            return await _place(args, config, service, side, order_type, tif, live)
        finally:
            await _stop(service)

    return _run_locked(config, go)


async def _place(args, config, service, side: str, order_type: str, tif_text: str | None, live: bool) -> int:
    from aitbc_tui import validation
    from aitbc_tui.cli import CliError, print_json
    from aitbc_tui.domain import OrderRequest, OrderStatus, OrderType, Side, TimeInForce, VenueUnavailable
    from aitbc_tui.formatting import fmt_fixed
    from aitbc_tui.service import describe_error, exchange_id_of
    from aitbc_tui.venues.quirks import order_options

    venue = _venue_arg(args.venue, service.venue_names)
    if service.is_read_only(venue):
        raise CliError(f"{venue}: venue is read-only (venues.{venue}.read_only or read-only keys); nothing sent")
    if not service.accepting_orders:
        raise CliError(f"{venue}: orders from the last session are still being reconciled; nothing sent")
    options = order_options(exchange_id_of(service.venue(venue)))
    tif = TimeInForce(tif_text or "gtc")
    if order_type == "limit" and tif.value not in options:
        raise CliError(f"{venue} has no {tif.value.upper()} orders on spot (it offers "
                       f"{', '.join(sorted(o.upper() for o in options if o != 'post_only'))}); nothing sent")  # fmt: skip
    if args.post_only and "post_only" not in options:
        raise CliError(f"{venue} has no post-only orders; nothing sent")
    _started_or_fail(service, venue)
    markets = service.markets(venue)
    symbol = _by_name(args.symbol, markets)
    if symbol not in markets:
        raise CliError(
            f"{plain_text(args.symbol, 40)!r} is not listed on {venue}; symbols: {', '.join(sorted(markets))}"
        )
    market = markets[symbol]
    blocked = service.blocked_reason(venue)
    if blocked:
        raise CliError(f"{plain_text(blocked, 500)}; nothing sent")
    await _account(service, venue)  # the free balance the checks use (loaded just now by start)
    book = await _fresh_book(service, venue, symbol)
    risk = config.risk
    result = validation.validate_order(
        market,
        side,
        order_type,
        args.amount,
        args.price,
        service.balances(venue),
        book,
        max_slippage_bps=risk.max_slippage_bps,
    )
    if isinstance(result, list):
        raise CliError("; ".join(f"{e.field}: {e.message}" for e in result) + "; nothing sent")
    order = result
    if order.type is OrderType.MARKET:
        request = OrderRequest(venue=venue, symbol=symbol, side=Side(side), type=OrderType.LIMIT, amount=order.amount,
                               price=order.limit_price, time_in_force=TimeInForce.IOC)  # fmt: skip
    else:
        if args.post_only and order.crosses:
            touch = book.best_ask if order.side is Side.BUY else book.best_bid
            raise CliError(f"--post-only: a {side} at {_num(order.price)} would take liquidity now (best "
                           f"{'ask' if order.side is Side.BUY else 'bid'} {_num(touch)}), so the venue would "
                           "refuse it; nothing sent")  # fmt: skip
        request = OrderRequest(venue=venue, symbol=symbol, side=Side(side), type=OrderType.LIMIT, amount=order.amount,
                               price=order.price, time_in_force=tif, post_only=args.post_only)  # fmt: skip

    quote = market.quote
    summary = [
        f"{side.upper()} {_num(order.amount)} {market.base} {symbol} on {venue} ({service.venue(venue).mode.value.upper()})",
        ("type: market, sent as an IOC limit at " f"{_num(order.limit_price)} {quote} (slippage cap {risk.max_slippage_bps:f} bps); "
         f"expected avg {_num(order.average_price)}" if order.type is OrderType.MARKET else
         f"type: limit {request.time_in_force.value.upper()}{' post-only' if request.post_only else ''} at "
         f"{_num(order.price)} {quote} ({'crosses now: taker' if order.crosses else 'rests: maker'})"),
        f"notional: {'≈ ' if order.type is OrderType.MARKET else ''}{fmt_fixed(order.notional, 2)} {quote}, "
        f"fee (est.) {fmt_fixed(order.fee, 2)} {quote}",
    ]  # fmt: skip
    confirmed = False
    if live:
        if not _confirm(args, summary, f"Send this LIVE order to {venue}?"):
            print("not sent", file=sys.stderr)
            return EXIT_DECLINED
        confirmed = True
    distance = _band_distance_pct(order.price, book, risk.price_band_pct)
    if distance is not None:
        question = (f"price {_num(order.price)} is {distance:.2f}% from the mid {_num(book.mid)} "
                    f"(risk.price_band_pct = {risk.price_band_pct:f}); send anyway?")  # fmt: skip
        if not args.yes and not _stdin_is_tty():
            raise CliError(f"{question[:-len('; send anyway?')]}: needs confirmation at the prompt "
                           "on a terminal, or --yes; nothing sent")  # fmt: skip
        if not _confirm(args, [] if confirmed else summary, question.capitalize()):
            print("not sent", file=sys.stderr)
            return EXIT_DECLINED
        confirmed = True
    if order.type is OrderType.MARKET and confirmed and not args.yes:
        # The book may have moved while the prompt was open: re-quote within the same cap.
        book = await _fresh_book(service, venue, symbol)
        _walk, problem = validation.market_quote(market, side, order.amount, book, order.limit_price)
        if problem:
            raise CliError(f"not sent: the market moved: {problem}")

    try:
        placed = await service.place_order(request)
    except VenueUnavailable as exc:
        print(f"aitbc-tui: error: {plain_text(describe_error(exc), 4000)}", file=sys.stderr)
        return EXIT_UNKNOWN
    await service.wait_idle()
    placed = _find(service, venue, placed.client_order_id, placed)
    extra: dict[str, str | None] = {"requested_type": order.type.value}
    if order.type is OrderType.MARKET:
        extra.update(slippage_cap_bps=_num(risk.max_slippage_bps), cap_price=_num(order.limit_price))
    if args.json:
        print_json(_order_json(placed, extra))
    else:
        print(("placed " if placed.status is not OrderStatus.REJECTED else "") + _order_line(placed))
    return 0


def _band_distance_pct(price: Decimal | None, book, band_pct: Decimal) -> Decimal | None:
    if price is None or book is None or book.mid is None or not book.mid:
        return None
    distance = abs(price - book.mid) / book.mid * 100
    return distance if distance > band_pct else None


# ---- cancel ------------------------------------------------------------------------------


def _cancel_preflight(args, venue: str | None, what: str):
    from aitbc_tui.cli import check_live_allowed, load_config

    _check_readable_only(args)
    config = load_config(args)
    check_live_allowed(config, args)
    if _is_live(config, venue):
        _require_confirmation_possible(args, what)
    return config


def run_cancel(args) -> int:
    from aitbc_tui.cli import CliError, print_json
    from aitbc_tui.domain import OrderStatus

    config = _cancel_preflight(args, args.venue, f"{args.venue} is a live venue (real money)")

    async def go() -> int:
        _config, service = await _start(args, trading=True)
        try:
            venue = _venue_arg(args.venue, service.venue_names)
            if service.is_read_only(venue):
                raise CliError(
                    f"{venue}: venue is read-only (venues.{venue}.read_only or read-only keys); nothing sent"
                )
            _started_or_fail(service, venue)
            await _account(service, venue)
            wanted = args.order_id.strip()
            mine = [o for o in service.open_orders() if o.venue == venue and wanted in (o.id, o.client_order_id)]
            if not mine:
                done = [o for o in service.closed_orders() if o.venue == venue and wanted in (o.id, o.client_order_id)]
                if done:
                    raise CliError(
                        f"{venue}: order {plain_text(wanted, 80)} is already {done[0].status.value}; nothing sent"
                    )
                raise CliError(f"{venue} has no open order {plain_text(wanted, 80)!r} (see `aitbc-tui orders {venue}`)")
            target = mine[0]
            if _is_live_venue(service, venue) and not _confirm(
                args, [_order_line(target)], f"Cancel this LIVE order on {venue}?"
            ):
                print("not sent", file=sys.stderr)
                return EXIT_DECLINED
            result = await service.cancel_order(target, by="cli")
            await service.wait_idle()
            result = _find(service, venue, result.client_order_id, result)
            if args.json:
                print_json(_order_json(result))
            else:
                verb = "cancelled " if result.status is OrderStatus.CANCELED else ""
                print(verb + _order_line(result))
            return 0
        finally:
            await _stop(service)

    return _run_locked(config, go)


def _is_live_venue(service, venue: str) -> bool:
    mode = service.venue(venue).mode
    return getattr(mode, "value", str(mode)) == "live"


def run_cancel_all(args) -> int:
    from aitbc_tui.cli import CliError, print_json
    from aitbc_tui.service import describe_error

    where = args.venue or "every venue"
    config = _cancel_preflight(args, args.venue, f"cancel-all on {where} includes a live venue (real money)")

    async def go() -> int:
        _config, service = await _start(args, trading=True)
        try:
            venue = _venue_arg(args.venue, service.venue_names)
            names = [venue] if venue else service.venue_names
            for name in names:
                if service.is_read_only(name) and venue is not None:
                    raise CliError(
                        f"{name}: venue is read-only (venues.{name}.read_only or read-only keys); nothing sent"
                    )
                if service.markets(name):
                    await _account(service, name)
            targets = [o for o in service.open_orders() if o.venue in names]
            if (
                any(_is_live_venue(service, n) for n in names)
                and targets
                and not _confirm(
                    args,
                    [_order_line(o) for o in targets],
                    f"Cancel these {len(targets)} order(s), LIVE ones included?",
                )
            ):
                print("not sent", file=sys.stderr)
                return EXIT_DECLINED
            if venue is None:
                report = await service.cancel_all(by="cli cancel-all")
                cancelled, failed, ended = list(report.cancelled), list(report.failed), list(report.ended)
            else:
                cancelled, failed = await _cancel_venue(service, venue, targets, describe_error)
                ended = []
            await service.wait_idle()
            if args.json:
                print_json(
                    {
                        "cancelled": [_order_json(_find(service, o.venue, o.client_order_id, o)) for o in cancelled],
                        "failed": [{**_order_json(o), "reason": plain_text(why, 1000)} for o, why in failed],
                        "filled_before_cancel": [_order_json(o) for o in ended],
                    }
                )
            else:
                if not cancelled and not failed and not ended:
                    print(f"no open orders on {where}")
                for order in cancelled:
                    print("cancelled " + _order_line(_find(service, order.venue, order.client_order_id, order)))
                for order in ended:
                    print("already filled (nothing to cancel) " + _order_line(order))
                for order, why in failed:
                    print(f"FAILED {_order_line(order)}: {plain_text(why, 500)}")
            return 1 if failed else 0
        finally:
            await _stop(service)

    return _run_locked(config, go)


async def _cancel_venue(service, venue: str, targets, describe_error):
    """Every open order of one venue cancelled at once; (cancelled, failed with reason)."""
    from aitbc_tui.domain import OrderStatus

    cancelled, failed = [], []

    async def one(order) -> None:
        if order.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN) or not order.id:
            failed.append((order, "UNKNOWN or still being sent: cancel it when it is resolved"))
            return
        try:
            cancelled.append(await service.cancel_order(order, by="cli cancel-all"))
        except Exception as exc:  # noqa: BLE001 - reported per order
            failed.append((order, describe_error(exc)))

    await asyncio.gather(*(one(o) for o in targets))
    return cancelled, failed


__all__ = ["register"]
