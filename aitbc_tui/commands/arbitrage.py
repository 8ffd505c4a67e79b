"""`arb execute SYMBOL --buy VENUE --sell VENUE --amount A`: both legs of an arbitrage route at
once, headless, with the dashboard's checks (``arb_desk.ArbDesk``).

A subcommand of the existing `arb` (which prints the routes): both venues are probed and
their books fetched now (a route on a book older than the health rule's stale-after time, or
on a down or degraded venue, is refused); the amount is parsed exactly (``validation``) and
must be within the route's fundable size (books net of both taker fees, the quote free on the
buy venue, the base free on the sell venue, ``[risk] max_order_value``); both legs pass the
risk limits together; the group and both intents are journalled; then both legs go out at
once as IOC limits at each book's walked worst price.

Live venues need the global ``--live`` (or ``--live`` here) and a confirmation (``y`` at the
prompt, or ``--yes``). When the legs fill unequally, ``[arbitrage] on_leg_failure`` (or
``--on-leg-failure``) says what happens: "hedge" / "unwind" act at once; "ask" asks on a
terminal (h / u / l) and otherwise leaves the group unresolved in the journal, where the
dashboard's banner shows it at its next start.

Exit codes: 0 both legs filled equally (or the difference was hedged / unwound / left by
choice); 1 declined at the prompt; 2 refused, nothing sent; 3 a leg's outcome is still
UNKNOWN; 4 unhedged and unresolved.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from decimal import Decimal

from aitbc_tui.sanitize import plain_text

EXIT_UNHEDGED = 4
SETTLE_TIMEOUT_S = 20.0  # how long to wait for the legs' fills, expiry or lookups


def register(sub: argparse._SubParsersAction) -> None:
    from aitbc_tui.commands.trading import _one_line

    arb = sub.choices.get("arb")
    if arb is None:  # a checkout without the snapshot commands: `arb` is ours alone
        arb = sub.add_parser("arb", help="cross-venue arbitrage")
    actions = arb.add_subparsers(dest="arb_command", metavar="execute|inventory")
    execute = _one_line(
        actions.add_parser(
            "execute",
            help="send both legs of a route at once (IOC limits), with the dashboard's checks",
            description="Buy SYMBOL on --buy and sell it on --sell at once, as IOC limits at each book's "
            "worst walked price for the amount; journalled as one group.",
        )
    )
    execute.add_argument("symbol", help="symbol, e.g. ETH/USDT")
    execute.add_argument("--buy", required=True, metavar="VENUE", help="venue to buy on")
    execute.add_argument("--sell", required=True, metavar="VENUE", help="venue to sell on")
    execute.add_argument("--amount", required=True, metavar="A", help="base amount, plain digits, e.g. 0.5")
    execute.add_argument(
        "--live", dest="live_here", action="store_true", help="allow live venues (as the global --live)"
    )
    execute.add_argument("--yes", action="store_true", help="confirm without a prompt (live venues)")
    execute.add_argument("--on-leg-failure", metavar="ask|hedge|unwind", default=None,
                         help="when the legs fill unequally (default: [arbitrage] on_leg_failure, ask)")  # fmt: skip
    execute.add_argument("--json", action="store_true", help="print the group as JSON")
    execute.set_defaults(func=run_execute)

    inv = _one_line(actions.add_parser("inventory", help="each asset's free amount per venue; routes the balances cut"))
    inv.add_argument("--json", action="store_true", help="machine-readable output (exact decimals as strings)")
    inv.set_defaults(func=run_inventory)


def _parse_amount(text: str) -> Decimal:
    from aitbc_tui import validation
    from aitbc_tui.cli import CliError

    try:
        amount = validation.parse_decimal(text, "amount")
    except validation.ValidationError as exc:
        raise CliError(f"--amount: {exc.message}; nothing sent") from None
    if amount is None or amount <= 0:
        raise CliError("--amount must be a positive amount of base, e.g. 0.5; nothing sent")
    return amount


def run_execute(args) -> int:
    from aitbc_tui.cli import CliError, check_live_allowed, load_config
    from aitbc_tui.commands.trading import (
        _check_readable_only,
        _is_live,
        _require_confirmation_possible,
        _run_locked,
    )
    from aitbc_tui.config import ON_LEG_FAILURE

    args.live = bool(getattr(args, "live", False) or args.live_here)
    amount = _parse_amount(args.amount)
    policy = args.on_leg_failure
    if policy is not None and policy not in ON_LEG_FAILURE:
        raise CliError(f"--on-leg-failure must be one of {', '.join(ON_LEG_FAILURE)}; nothing sent")
    _check_readable_only(args)
    config = load_config(args)
    check_live_allowed(config, args)
    live = _is_live(config, args.buy) or _is_live(config, args.sell)
    if live:
        _require_confirmation_possible(args, "a live venue (real money)")

    async def go() -> int:
        from aitbc_tui.commands.trading import _start, _stop

        config, service = await _start(args, trading=True)
        try:
            return await _execute(args, config, service, amount, policy or config.arbitrage.on_leg_failure, live)
        finally:
            await _stop(service)

    return _run_locked(config, go)


async def _execute(args, config, service, amount: Decimal, policy: str, live: bool) -> int:
    from aitbc_tui.arb_desk import ArbDesk
    from aitbc_tui.arb_exec import GroupState, PlanError
    from aitbc_tui.cli import CliError, print_json
    from aitbc_tui.commands.trading import (
        EXIT_DECLINED,
        EXIT_UNKNOWN,
        _by_name,
        _confirm,
        _fresh_book,
        _started_or_fail,
        _venue_arg,
    )

    buy = _venue_arg(args.buy, service.venue_names)
    sell = _venue_arg(args.sell, service.venue_names)
    if buy == sell:
        raise CliError("--buy and --sell must be different venues; nothing sent")
    for venue in (buy, sell):
        _started_or_fail(service, venue)
    symbol = _by_name(args.symbol, service.markets(buy))
    for venue in (buy, sell):
        if symbol not in service.markets(venue):
            raise CliError(f"{plain_text(args.symbol, 40)!r} is not listed on {venue}; nothing sent")
    desk = ArbDesk(service, risk=config.risk, on_leg_failure="ask" if policy == "ask" else policy)
    await asyncio.gather(*(service.probe_once(v) for v in (buy, sell)))
    await asyncio.gather(*(service.refresh_account(v) for v in (buy, sell)))
    buy_book, sell_book = await asyncio.gather(_fresh_book(service, buy, symbol), _fresh_book(service, sell, symbol))
    fetched = time.monotonic()
    try:
        plan = desk.plan_from(symbol, buy_book, service.market(buy, symbol), sell_book, service.market(sell, symbol),
                              amount)  # fmt: skip
    except PlanError as exc:
        raise CliError(f"{exc}; nothing sent") from None
    books = {buy: buy_book, sell: sell_book}
    summary = _summary(plan, service)
    if live:
        if not _confirm(args, summary, "Send both LIVE legs?"):
            print("not sent", file=sys.stderr)
            return EXIT_DECLINED
    ages = {venue: time.monotonic() - fetched for venue in books}
    group = desk.prepare(plan, book_ages=ages, books=books)  # OrderRejected: one line, exit 2
    await desk.send(group)
    outcome = await _settled(service, desk, group)
    if outcome.state is GroupState.UNHEDGED and not group.resolution and policy == "ask" and _ask_possible(args):
        choice = _ask(desk.exposure_text(group, outcome))
        try:
            if choice == "h":
                await desk.hedge(group.group_id)
            elif choice == "u":
                await desk.unwind(group.group_id)
            elif choice == "l":
                desk.leave(group.group_id)
        except Exception as exc:  # noqa: BLE001 - the group stays unresolved; said below
            from aitbc_tui.service import describe_error

            group.errors.append(describe_error(exc))
        outcome = await _settled(service, desk, group)
    await desk.wait_idle()
    outcome = await _settled(service, desk, group)
    if args.json:
        print_json(_group_json(desk, group, outcome))
    else:
        print("\n".join(_group_lines(desk, group, outcome)))
    if outcome.state is GroupState.UNKNOWN:
        return EXIT_UNKNOWN
    if outcome.state is GroupState.UNHEDGED and not group.resolution:
        return EXIT_UNHEDGED
    return 0


def _ask_possible(args) -> bool:
    from aitbc_tui.commands.trading import _stdin_is_tty

    return not args.json and _stdin_is_tty()


def _ask(exposure: str) -> str:
    print(f"legs filled unequally: {exposure}", file=sys.stderr)
    print("h hedge at market on the better venue · u unwind the filled leg · l leave it [h/u/l] ",
          end="", file=sys.stderr, flush=True)  # fmt: skip
    return sys.stdin.readline().strip().lower()[:1]


async def _settled(service, desk, group):
    """Wait until the legs have answered (fills, expiry, lookups), within SETTLE_TIMEOUT_S:
    headless there are no push feeds, so the accounts are refreshed while a leg is open."""
    from aitbc_tui.arb_exec import GroupState

    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        await service.wait_idle()
        outcome = desk.outcome(group)
        if outcome.state not in (GroupState.SENDING, GroupState.OPEN, GroupState.UNKNOWN) and not group.acting:
            await asyncio.sleep(0)  # a settle scheduled by the last event runs first
            return desk.outcome(group)
        if time.monotonic() > deadline:
            return outcome
        if outcome.state is GroupState.OPEN:
            venues = {t.venue for t in group.orders}
            await asyncio.gather(*(service.refresh_account(v) for v in venues), return_exceptions=True)
        await asyncio.sleep(0.1)


def _summary(plan, service) -> list[str]:
    lines = []
    for leg in plan.legs:
        mode = service.venue(leg.venue).mode.value.upper()
        lines.append(f"{leg.side.value.upper()} {leg.amount:f} {plan.base} on {leg.venue} ({mode}) IOC limit "
                     f"{leg.limit_price:f} {plan.quote}: ≈ {leg.expected_notional:f}, fee ≈ {leg.expected_fee:f}")  # fmt: skip
    lines.append(f"expected net {plan.expected_net_quote:.8f} {plan.quote} ({plan.expected_net_bps:.2f} bps)")
    return lines


def _group_lines(desk, group, outcome) -> list[str]:
    from aitbc_tui.commands.trading import _order_line

    now = time.time()
    lines = [f"group {group.group_id}: {outcome.state.value}" + (f", {group.resolution}" if group.resolution else "")]
    lines += [_order_line(t.view(now)) for t in group.orders]
    lines.append(desk._result_text(group, outcome))
    if outcome.unhedged or outcome.state is not outcome.state.BALANCED:
        lines.append(desk.exposure_text(group, outcome))
    lines += [f"error: {plain_text(e, 500)}" for e in group.errors]
    return lines


def _group_json(desk, group, outcome) -> dict:
    from aitbc_tui.commands.trading import _num, _order_json

    now = time.time()
    return {
        "group_id": group.group_id,
        "symbol": group.symbol,
        "buy_venue": group.buy_venue,
        "sell_venue": group.sell_venue,
        "amount": _num(group.amount),
        "state": outcome.state.value,
        "resolution": group.resolution or None,
        "bought": _num(outcome.bought),
        "sold": _num(outcome.sold),
        "unhedged": _num(outcome.unhedged),
        "expected_net_quote": _num(group.expected_net_quote),
        "expected_net_bps": _num(group.expected_net_bps.quantize(Decimal("0.01"))),
        "realised_net_quote": _num(outcome.realised_net_quote),
        "realised_net_bps": None
        if outcome.realised_net_bps is None
        else _num(outcome.realised_net_bps.quantize(Decimal("0.01"))),
        "fees_estimated": outcome.fees_estimated,
        "orders": [_order_json(t.view(now)) for t in group.orders],
        "errors": [plain_text(e, 500) for e in group.errors],
    }


def run_inventory(args) -> int:
    """Where each asset is (free, per venue) and which profitable routes the balances cut,
    with the balance to move: arbitrage drains quote on one venue and base on the other."""
    from aitbc_tui import analysis
    from aitbc_tui.arb_exec import blocked_routes, inventory
    from aitbc_tui.cli import print_json
    from aitbc_tui.commands.snapshot import _free_balances, _started
    from aitbc_tui.commands.trading import _num, _table

    async def go() -> int:
        service = await _started(args)
        try:
            balances = await _free_balances(service)
            books, fees = service.books(), service.taker_fees()
            rows = inventory(service.venue_names, balances)
            blocked = blocked_routes(analysis.find_arbitrage(books, fees, Decimal(0)),
                                     analysis.find_arbitrage(books, fees, Decimal(0), balances=balances))  # fmt: skip
            if args.json:
                print_json({
                    "assets": [{"asset": r.asset, "free": {v: _num(a) for v, a in r.free}, "total": _num(r.total)}
                               for r in rows],
                    "blocked_routes": [{"symbol": b.symbol, "buy_venue": b.buy_venue, "sell_venue": b.sell_venue,
                                        "net_bps": _num(b.net_bps.quantize(Decimal("0.01"))),
                                        "book_amount": _num(b.book_amount), "fundable_amount": _num(b.fundable_amount),
                                        "capped_by": b.capped_by} for b in blocked],
                })  # fmt: skip
                return 0
            header = ("asset", *service.venue_names, "total")
            print(_table(header, [(plain_text(r.asset, 20), *(_num(a) for _, a in r.free), _num(r.total))
                                  for r in rows], left=1))  # fmt: skip
            if not blocked:
                print("no profitable route is cut by the balances")
            for b in blocked:
                print(f"{b.symbol} buy on {b.buy_venue}, sell on {b.sell_venue} ({b.net_bps:.2f} bps): "
                      f"{_num(b.book_amount)} on the books, {_num(b.fundable_amount)} fundable: more "
                      f"{plain_text(b.capped_by, 60)} would lift it")  # fmt: skip
            return 0
        finally:
            await service.stop()

    return asyncio.run(go())
