"""`book`, `arb`, `health`: print one snapshot and exit (scriptable, sandbox by default)."""

from __future__ import annotations

import argparse
import asyncio
import time
from decimal import Decimal, InvalidOperation

WAIT_FOR_BOOKS_S = 10.0


def _positive_depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--depth must be a whole number from 1 to 500, not {text!r}") from None
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"--depth must be from 1 to 500, not {value}")
    return value


def _bps(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"--min-net-bps must be a number of basis points, not {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"--min-net-bps must be finite, not {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    book = sub.add_parser("book", help="print one venue's order book and its analysis")
    book.add_argument("venue", help="venue name, e.g. binance")
    book.add_argument("symbol", help="symbol, e.g. BTC/USDT")
    book.add_argument("--depth", type=_positive_depth, default=10, help="levels a side (default 10)")
    book.add_argument(
        "--impact-size",
        type=_bps,
        default=None,
        metavar="AMOUNT",
        help="base amount for the price-impact figures (default: worth --impact-value)",
    )
    book.add_argument("--impact-value", type=_bps, default=None, metavar="USDT",
                      help="order value in USDT for the price-impact figures, converted to the pair's quote "
                      "(default: [ui] impact_value, 10000)")  # fmt: skip
    book.add_argument("--json", action="store_true", help="machine-readable output")
    book.set_defaults(func=run_book)

    arb = sub.add_parser("arb", help="print cross-venue arbitrage, net of taker fees")
    arb.add_argument(
        "--min-net-bps", type=_bps, default=None, metavar="BPS", help="only opportunities at or above this net"
    )
    arb.add_argument("--json", action="store_true", help="machine-readable output")
    arb.set_defaults(func=run_arb)

    health = sub.add_parser("health", help="print each venue's status and latency")
    health.add_argument("--json", action="store_true", help="machine-readable output")
    health.set_defaults(func=run_health)


async def _started(args, keys=None):
    from aitbc_tui.cli import build_service

    _config, service = build_service(args)
    await service.start()
    deadline = time.monotonic() + WAIT_FOR_BOOKS_S
    while time.monotonic() < deadline:
        books = service.books()
        wanted = keys if keys is not None else [(v, s) for v in service.venue_names for s in service.markets(v)]
        if all(k in books for k in wanted):
            break
        await asyncio.sleep(0.05)
    return service


def _by_name(wanted: str, names) -> str:
    """``wanted`` as listed in ``names``, in any case (btc/usdt is BTC/USDT; Binance is
    binance); as given when nothing, or more than one name, matches."""
    names = list(names)
    if wanted in names:
        return wanted
    matches = [n for n in names if n.casefold() == wanted.strip().casefold()]
    return matches[0] if len(matches) == 1 else wanted


def run_book(args) -> int:
    from aitbc_tui.cli import CliError, print_json

    async def go() -> int:
        from aitbc_tui import analysis

        service = await _started(args, keys=[])
        try:
            args.venue = _by_name(args.venue, service.venue_names)
            if args.venue not in service.venue_names:
                raise CliError(f"unknown venue {args.venue!r}; venues: {', '.join(service.venue_names)}")
            markets = service.markets(args.venue)
            args.symbol = _by_name(args.symbol, markets)
            if args.symbol not in markets:
                raise CliError(f"{args.symbol!r} is not listed on {args.venue}; symbols: {', '.join(sorted(markets))}")
            deadline = time.monotonic() + WAIT_FOR_BOOKS_S
            while service.book(args.venue, args.symbol) is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            book = service.book(args.venue, args.symbol)
            if book is None:
                raise CliError(f"no order book from {args.venue} for {args.symbol} within {WAIT_FOR_BOOKS_S:.0f} s")
            market = markets[args.symbol]
            size, value = await _impact_size(args, service, book, market)
            result = analysis.analyse_book(book, size if size is not None else Decimal(0))
            if args.json:
                data = _book_json(book, args.depth, result, size, market)
                data["analysis"]["impact_value"] = value
                data["analysis"]["impact_value_currency"] = VALUATION_CURRENCY if value is not None else None
                print_json(data)
            else:
                print(_book_text(book, market, args.depth, result, size, value))
            return 0
        finally:
            await service.stop()

    return asyncio.run(go())


# Extra decimals of a computed average price beyond the tick: exact enough, no 28-digit tail.
AVERAGE_PRICE_EXTRA_PLACES = 4


async def _impact_size(args, service, book, market):
    """(base size, value in USDT or None): --impact-size, else the config's impact_size for
    the symbol, else the base worth --impact-value / [ui] impact_value (10,000 USDT) at the
    mid, through the quote's USDT rate from the books (waited for briefly)."""
    from aitbc_tui import analysis
    from aitbc_tui.cli import load_config

    if args.impact_size is not None:
        return args.impact_size, None
    ui = getattr(load_config(args), "ui", None)
    configured = ui.impact_size_for(book.symbol) if ui is not None else None
    if configured is not None:
        return configured, None
    value = (
        args.impact_value
        if args.impact_value is not None
        else getattr(ui, "impact_value", analysis.DEFAULT_IMPACT_VALUE)
    )
    deadline = time.monotonic() + WAIT_FOR_BOOKS_S
    while True:
        rates = analysis.valuation_rates(service.books().values(), VALUATION_CURRENCY)
        size = analysis.impact_size_for_value(book, value, rates, VALUATION_CURRENCY, market.lot_size)
        if size is not None or book.mid is None or time.monotonic() > deadline:
            return size, value
        await asyncio.sleep(0.05)


def _book_json(book, depth, result, size, market=None) -> dict:
    """Prices, sizes and sums stay exact; figures computed by division (bps, ratios,
    averages) are quantized (0.01 bps, 4 decimals of a ratio, tick + 4 of an average)."""
    from aitbc_tui.formatting import fmt_timestamp

    return {
        "venue": book.venue,
        "symbol": book.symbol,
        "timestamp": fmt_timestamp(book.timestamp),
        "bids": [[p, s] for p, s in book.bids[:depth]],
        "asks": [[p, s] for p, s in book.asks[:depth]],
        "analysis": _analysis_json(result, size, market),
    }


def _impact_gap(result, impact) -> str | None:
    """Why an impact has no bps: "no_mid" (a side of the book is empty, so there is no mid
    to measure against) or "book_too_thin" (the visible levels cannot fill the size)."""
    if impact.impact_bps is not None:
        return None
    return "no_mid" if result.mid is None else "book_too_thin"


def _analysis_json(result, size, market=None) -> dict:
    from aitbc_tui.formatting import BPS_JSON_PLACES, RATIO_JSON_PLACES, json_quantize, price_places

    avg_places = (price_places(market) if market is not None else 8) + AVERAGE_PRICE_EXTRA_PLACES

    def impact(i):
        return {"bps": json_quantize(i.impact_bps, BPS_JSON_PLACES),
                "average_price": json_quantize(i.average_price, avg_places),
                "fillable": i.fillable_size, "complete": i.complete,
                "unavailable": _impact_gap(result, i)}  # fmt: skip

    def band(b):
        return None if b is None else {"bid": b.bid_quote, "ask": b.ask_quote, "truncated": b.truncated}

    return {
        "mid": result.mid,
        "spread": result.spread,
        "spread_bps": json_quantize(result.spread_bps, BPS_JSON_PLACES),
        "depth_0_5pct": band(result.depth_half_pct),
        "depth_1pct": band(result.depth_one_pct),
        "liquidity_ratio": json_quantize(result.liquidity_ratio, RATIO_JSON_PLACES),
        "impact_size": size,
        "buy_impact": impact(result.buy_impact),
        "sell_impact": impact(result.sell_impact),
    }


def _book_text(book, market, depth, result, size, value=None) -> str:
    from aitbc_tui.formatting import (
        currency_places,
        fmt_amount,
        fmt_bps,
        fmt_compact,
        fmt_fixed,
        fmt_money,
        fmt_price,
        fmt_timestamp,
        price_places,
    )

    pp = price_places(market)
    lines = [f"{book.venue} {book.symbol}  {fmt_timestamp(book.timestamp)}", f"{'side':<5}{'price':>18}{'size':>16}"]
    for price, amount in reversed(book.asks[:depth]):
        lines.append(f"{'ask':<5}{fmt_price(price, market):>18}{fmt_amount(amount, market):>16}")
    # the mid can fall on half a tick: one more decimal shows it exactly
    lines.append(
        f"---- mid {fmt_price(result.mid, market, places=pp + 1)}  spread "
        f"{fmt_price(result.spread, market)} ({fmt_bps(result.spread_bps, 2)} bps)"
    )
    for price, amount in book.bids[:depth]:
        lines.append(f"{'bid':<5}{fmt_price(price, market):>18}{fmt_amount(amount, market):>16}")
    q = market.quote
    money = currency_places(q, market)
    for label, b in (("±0.5%", result.depth_half_pct), ("±1%  ", result.depth_one_pct)):
        if b is not None:
            more = " (book ends inside the band)" if b.truncated else ""
            lines.append(
                f"depth {label}: bid {fmt_compact(b.bid_quote, money)} / ask {fmt_compact(b.ask_quote, money)} {q}{more}"
            )
    ratio = "—" if result.liquidity_ratio is None else fmt_fixed(result.liquidity_ratio, 2, grouping=False)
    lines.append(f"liquidity ratio (bid/ask, ±1%): {ratio}")

    def imp(i):
        reason = _impact_gap(result, i)
        if reason == "no_mid":
            return "— (no mid price: one side of the book is empty)"
        if reason == "book_too_thin":
            return (
                f"book too thin (only {fmt_amount(i.fillable_size, market)} of {fmt_amount(i.size, market)} fillable)"
            )
        return f"{fmt_bps(i.impact_bps)} bps"

    if size is None:
        worth = f"{fmt_money(value, VALUATION_CURRENCY, unit=True)}" if value is not None else "the impact value"
        lines.append(f"impact of {worth}: — (no mid price or no {VALUATION_CURRENCY} rate for {market.quote})")
    else:
        worth = f" (≈ {fmt_money(value, VALUATION_CURRENCY, unit=True)})" if value is not None else ""
        lines.append(f"impact of {fmt_amount(size, market)} {market.base}{worth}: "
                     f"buy {imp(result.buy_impact)}, sell {imp(result.sell_impact)}")  # fmt: skip
    return "\n".join(lines)


VALUATION_CURRENCY = "USDT"


async def _free_balances(service) -> dict:
    """venue -> asset -> Balance for every venue whose account can be read now; a venue
    that cannot (no keys, an error) is left out, so its legs are sized by the books alone."""
    out = {}
    for name in service.venue_names:
        try:
            await service.refresh_account(name)
        except Exception:  # noqa: BLE001 - sizing falls back to the books, said in the footer
            continue
        held = service.balances(name)
        if held:
            out[name] = dict(held)
    return out


def _arb_text(opportunities, markets_of) -> str:
    """One row per opportunity; prices of a symbol at the finest tick among its venues,
    sizes at the finest lot, profit at the quote currency's precision with its unit, then
    its valuation-currency equivalent and what capped the size."""
    from aitbc_tui.formatting import amount_places, fmt_bps, fmt_fixed, fmt_money, price_places

    lines = [f"{'symbol':<11}{'net bps':>9}  {'buy at':<9}{'ask':>14}  {'sell at':<9}{'bid':>14}{'gross':>8}"
             f"{'size':>20}{'profit':>20}{'≈ value':>14}  capped by"]  # fmt: skip
    for o in opportunities:
        markets = markets_of(o.symbol)
        pp = price_places(*markets)
        base, quote = o.symbol.split("/")
        positive = o.net_bps > 0
        size = f"{fmt_fixed(o.executable_size, amount_places(*markets))} {base}" if positive else "—"
        profit = fmt_money(o.est_profit_quote, quote, markets[0] if markets else None, unit=True) if positive else "—"
        value = "—"
        if positive and o.est_profit_valuation is not None:
            value = fmt_money(o.est_profit_valuation, o.valuation_currency, unit=True)
        capped = (o.capped_by or "the books") if positive else ""
        lines.append(
            f"{o.symbol:<11}{fmt_bps(o.net_bps):>9}  {o.buy_venue:<9}{fmt_fixed(o.buy_price, pp):>14}  "
            f"{o.sell_venue:<9}{fmt_fixed(o.sell_price, pp):>14}{fmt_bps(o.gross_bps):>8}{size:>20}{profit:>20}"
            f"{value:>14}  {capped}".rstrip()
        )
    lines.append(
        "net bps = (bid·(1−sell fee) − ask·(1+buy fee)) / (ask·(1+buy fee)) × 10,000: "
        "taker fees on both legs, the buy leg's fee in the denominator; size is capped by "
        "the quote free on the buy venue and the base free on the sell venue"
    )
    return "\n".join(lines)


def run_arb(args) -> int:
    from aitbc_tui.cli import print_json

    async def go() -> int:
        from aitbc_tui import analysis

        service = await _started(args)
        try:
            balances = await _free_balances(service)
            rates = analysis.valuation_rates(service.books().values(), VALUATION_CURRENCY)
            index = analysis.ArbitrageIndex(service.taker_fees(), balances=balances, rates=rates,
                                            valuation_currency=VALUATION_CURRENCY)  # fmt: skip
            for book in service.books().values():
                index.update(book)
            opportunities = index.opportunities(args.min_net_bps)
            if args.json:
                print_json([_opp_json(o) for o in opportunities])
            else:

                def markets_of(symbol):
                    found = (service.market(v, symbol) for v in service.venue_names)
                    return [m for m in found if m is not None]

                print(_arb_text(opportunities, markets_of))
            return 0
        finally:
            await service.stop()

    return asyncio.run(go())


def _opp_json(o) -> dict:
    from aitbc_tui.formatting import BPS_JSON_PLACES, currency_places, json_quantize

    value = None
    if o.est_profit_valuation is not None:
        value = json_quantize(o.est_profit_valuation, currency_places(o.valuation_currency))
    return {
        "symbol": o.symbol,
        "buy_venue": o.buy_venue,
        "buy_price": o.buy_price,
        "sell_venue": o.sell_venue,
        "sell_price": o.sell_price,
        "gross_bps": json_quantize(o.gross_bps, BPS_JSON_PLACES),
        "net_bps": json_quantize(o.net_bps, BPS_JSON_PLACES),
        "executable_size": o.executable_size,
        "base": o.base,
        "quote": o.quote,
        "capped_by": o.capped_by or None,
        "est_profit_quote": o.est_profit_quote,
        "est_profit_valuation": value,
        "valuation_currency": o.valuation_currency or None,
    }


def run_health(args) -> int:
    from aitbc_tui.cli import print_json
    from aitbc_tui.service import HEALTH_RULE

    async def go() -> int:
        service = await _started(args)
        try:
            for name in service.venue_names:
                await service.probe_once(name)
            rows = service.health()
            if args.json:
                print_json(
                    [
                        {
                            "venue": h.venue,
                            "status": h.status.value,
                            "latency_ms": None if h.latency_ms is None else round(h.latency_ms, 3),
                            "latency_probe": h.probe,
                            "book_age_s": None if h.book_age_s is None else round(h.book_age_s, 3),
                            "stale_after_s": round(h.stale_after_s, 3),
                            "last_error": h.last_error,
                        }
                        for h in rows
                    ]
                )
            else:
                name_width = max([len("venue"), *(len(h.venue) for h in rows)]) + 2
                print(f"{'venue':<{name_width}}{'status':<11}{'rtt ms':>8}{'book age':>10}  probe / last error")
                for h in rows:
                    rtt = "—" if h.latency_ms is None else f"{h.latency_ms:.1f}"
                    age = "—" if h.book_age_s is None else f"{h.book_age_s:.2f}s"
                    error = f"  {h.last_error}" if h.last_error else ""
                    print(f"{h.venue:<{name_width}}{h.status.value:<11}{rtt:>8}{age:>10}  {h.probe}{error}")
                print(f"rule: {HEALTH_RULE}")
            return 0
        finally:
            await service.stop()

    return asyncio.run(go())
