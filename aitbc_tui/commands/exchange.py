"""`exchange create-pair` / `exchange add-liquidity`: administer the sandbox venues.

Changes persist in the sandbox database and appear in the dashboard on its next start.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, overload

from aitbc_tui.validation import ValidationError, parse_decimal

if TYPE_CHECKING:
    from aitbc_tui.sim.world import SandboxWorld

_ASSET = re.compile(r"[A-Z0-9]{2,12}")


def _decimal(name: str):
    def parse(text: str):
        try:
            return parse_decimal(text, name)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    return parse


def _asset(text: str) -> str:
    value = text.strip().upper()  # any case: aitbc is AITBC
    if not _ASSET.fullmatch(value):
        raise argparse.ArgumentTypeError(f"asset must be 2-12 letters or digits (like AITBC), not {text!r}")
    return value


def _precision(text: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or not 0 <= int(value) <= 18:
        raise argparse.ArgumentTypeError(
            f"precision must be a whole number of decimal places from 0 to 18, not {text!r}"
        )
    return int(value)


def _pair(text: str) -> str:
    value = text.strip().upper()  # any case: aitbc/btc is AITBC/BTC
    if value.count("/") != 1 or not all(_ASSET.fullmatch(part) for part in value.split("/")):
        raise argparse.ArgumentTypeError(f"pair must look like BASE/QUOTE (e.g. AITBC/BTC), not {text!r}")
    return value


def _levels(text: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 200:
        raise argparse.ArgumentTypeError(f"--levels must be a whole number from 1 to 200, not {text!r}")
    return int(value)


def register(sub: argparse._SubParsersAction) -> None:
    exchange = sub.add_parser("exchange", help="administer the sandbox venues (pairs, liquidity)")
    actions = exchange.add_subparsers(dest="exchange_command", metavar="ACTION", required=True)

    pair = actions.add_parser("create-pair", help="list a new pair on a sandbox venue")
    pair.add_argument("--base-asset", required=True, type=_asset, help="e.g. AITBC")
    pair.add_argument("--quote-asset", required=True, type=_asset, help="e.g. ETH")
    pair.add_argument("--exchange", required=True, help="sandbox venue: binance, kraken or coinbase")
    pair.add_argument(
        "--min-order-size", required=True, type=_decimal("--min-order-size"), help="smallest amount, in base"
    )
    pair.add_argument("--price-precision", required=True, type=_precision, help="decimal places of the price (tick)")
    pair.add_argument("--quantity-precision", required=True, type=_precision, help="decimal places of the amount (lot)")
    pair.add_argument(
        "--min-notional", type=_decimal("--min-notional"), default=None, help="smallest price*amount, in quote"
    )
    pair.set_defaults(func=run_create_pair)

    liquidity = actions.add_parser("add-liquidity", help="rest liquidity-provider orders on a sandbox pair")
    liquidity.add_argument("--pair", required=True, type=_pair, help="e.g. AITBC/BTC")
    liquidity.add_argument(
        "--amount",
        required=True,
        type=_decimal("--amount"),
        help="base amount to rest on each venue (with --side both, half on each side), split over the levels",
    )
    liquidity.add_argument("--side", required=True, choices=["buy", "sell", "both"], help="which side of the book")
    liquidity.add_argument(
        "--exchange", default=None, help="sandbox venue (default: every venue listing the pair, --amount on each)"
    )
    liquidity.add_argument(
        "--price",
        type=_decimal("--price"),
        default=None,
        help="centre price, only for a pair with no book and no reference price (refused otherwise: "
        "liquidity centres on the mid)",
    )
    liquidity.add_argument("--levels", type=_levels, default=10, help="price levels to spread over (default 10)")
    liquidity.set_defaults(func=run_add_liquidity)


def _sandbox_only(args) -> None:
    from aitbc_tui.cli import CliError, load_config

    config = load_config(args)
    if not config.is_sandbox:
        raise CliError(
            "exchange commands administer the sandbox venues; the config names real venues (remove --config)"
        )


@overload
def _venue_name(world: SandboxWorld, name: str) -> str: ...
@overload
def _venue_name(world: SandboxWorld, name: None) -> None: ...
def _venue_name(world: SandboxWorld, name: str | None) -> str | None:
    """A sandbox venue by name in any case (Binance is binance); unknown names pass through
    for the world to refuse with its list of venues."""
    if name is None or name in world.engines:
        return name
    matches = [v for v in world.engines if v.casefold() == name.strip().casefold()]
    return matches[0] if len(matches) == 1 else name


def _refuse_ignored_price(world, symbol: str, venue: str | None) -> None:
    """--price only centres a pair with no book and no reference price; elsewhere the mid
    wins, so a price given there would be silently ignored: refuse it instead."""
    from aitbc_tui.cli import CliError

    venues = [venue] if venue else list(world.engines)
    centred: list[str] = []
    for name in venues:
        engine = world.engines.get(name)
        if engine is None or symbol not in engine.markets:
            continue  # the world names what is not listed
        market = engine.markets[symbol]
        bid, ask = engine.best_bid_ask(symbol)
        if bid is not None or ask is not None:
            centred.append(f"{name} (a book)")
        elif world.reference_price(market.base, market.quote) is not None:
            centred.append(f"{name} (a reference price)")
    if centred:
        raise CliError(
            f"--price is only for a pair with no book and no reference price; {symbol} has "
            f"{', '.join(centred)}, and liquidity centres on its mid there: drop --price"
        )


def _short_lock():
    """The data dir's lock, waited for briefly: a running dashboard owns the sandbox's
    balances, and two writers would overwrite each other."""
    from aitbc_tui.datalock import DataDirLock

    return DataDirLock().acquire(wait_s=5)


def run_create_pair(args) -> int:
    from aitbc_tui.cli import CliError
    from aitbc_tui.sim.world import SandboxAdminError, open_world

    _sandbox_only(args)
    lock = _short_lock()
    world = open_world()
    try:
        venue = _venue_name(world, args.exchange)
        market = world.create_pair(
            args.base_asset,
            args.quote_asset,
            venue,
            args.min_order_size,
            args.price_precision,
            args.quantity_precision,
            **({"min_notional": args.min_notional} if args.min_notional is not None else {}),
        )
    except SandboxAdminError as exc:
        raise CliError(str(exc)) from None
    finally:
        world.close()
        lock.release()
    print(
        f"created {market.symbol} on sandbox {venue}: tick {market.tick_size:f}, lot {market.lot_size:f}, "
        f"min amount {market.min_amount:f}, min notional {market.min_notional:f} {market.quote}, "
        f"fees maker {market.maker_fee:f} / taker {market.taker_fee:f}"
    )
    return 0


def run_add_liquidity(args) -> int:
    from aitbc_tui.cli import CliError
    from aitbc_tui.sim.world import SandboxAdminError, open_world

    _sandbox_only(args)
    lock = _short_lock()
    world = open_world()
    try:
        venue = _venue_name(world, args.exchange)
        if args.price is not None:
            _refuse_ignored_price(world, args.pair, venue)
        orders = world.add_liquidity(args.pair, args.amount, args.side, venue, levels=args.levels, price=args.price)
    except SandboxAdminError as exc:
        raise CliError(str(exc)) from None
    finally:
        world.close()
        lock.release()
    venues = sorted({o.venue for o in orders})
    total = sum((o.amount for o in orders), start=type(args.amount)(0))
    print(f"rested {len(orders)} orders, {total} {args.pair.split('/')[0]} in all, on {', '.join(venues)}:")
    for order in orders:
        print(f"  {order.venue:<9} {order.side.value:<4} {order.amount} @ {order.price}")
    return 0
