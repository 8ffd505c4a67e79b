"""`trades`, `candles`, `tickers`, `pnl`: market context, printed once (scriptable).

Venues from the config (the sandbox when none). Prices, amounts and volumes are the venue's
exact figures (strings in JSON); figures computed by division are quantized: a change in
percent to 4 decimals, bps to 2, an average cost to the tick + 4, money to its currency's
precision + 4. Bad arguments: one line on stderr, exit 2.

The sandbox keeps no trade history between runs: its tape and candles start with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aitbc_tui.commands.journal import parse_since
from aitbc_tui.commands.trading import _one_line
from aitbc_tui.market_data import TIMEFRAMES

WAIT_FOR_BOOKS_S = 10.0
PCT_JSON_PLACES = 4
EXTRA_PLACES = 4  # beyond the tick (average cost) or the currency's precision (money)
MAX_LIMIT = 1000


def _limit(text: str) -> int:
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()):  # int() would take "١٠" (Arabic-Indic digits)
        raise argparse.ArgumentTypeError(f"--limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    value = int(stripped)
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"--limit must be from 1 to {MAX_LIMIT}, not {value}")
    return value


def _timeframe(text: str) -> str:
    if text not in TIMEFRAMES:
        raise argparse.ArgumentTypeError(f"--timeframe must be one of {', '.join(TIMEFRAMES)}, not {text!r}")
    return text


def register(sub: argparse._SubParsersAction) -> None:
    trades = _one_line(sub.add_parser("trades", help="the newest public trades of one venue's symbol (the tape)"))
    trades.add_argument("venue", help="venue name, e.g. binance")
    trades.add_argument("symbol", help="symbol, e.g. BTC/USDT")
    trades.add_argument("--limit", type=_limit, default=50, help="how many (default 50, newest)")
    trades.add_argument("--json", action="store_true", help="machine-readable output (exact decimals)")
    trades.set_defaults(func=run_trades)

    candles = _one_line(sub.add_parser("candles", help="OHLCV candles of one venue's symbol"))
    candles.add_argument("venue", help="venue name, e.g. binance")
    candles.add_argument("symbol", help="symbol, e.g. BTC/USDT")
    candles.add_argument("--timeframe", type=_timeframe, default="1m", help=f"one of {', '.join(TIMEFRAMES)}")
    candles.add_argument("--limit", type=_limit, default=50, help="how many (default 50, newest)")
    candles.add_argument("--json", action="store_true", help="machine-readable output (exact decimals)")
    candles.set_defaults(func=run_candles)

    tickers = _one_line(sub.add_parser("tickers", help="24 h figures of every symbol (of one venue, or all)"))
    tickers.add_argument("venue", nargs="?", help="only this venue")
    tickers.add_argument("--json", action="store_true", help="machine-readable output (exact decimals)")
    tickers.set_defaults(func=run_tickers)

    pnl = _one_line(sub.add_parser("pnl", help="positions, average cost, realised / unrealised P&L, fees, equity"))
    pnl.add_argument("venue", nargs="?", help="only this venue")
    pnl.add_argument("--since", type=parse_since, default=None, metavar="T",
                     help="also the P&L of fills since T: ISO date/time (UTC) or 30m/1h/2d/1w ago")  # fmt: skip
    pnl.add_argument("--method", choices=("average", "fifo"), default="average", help="cost basis (default average)")
    pnl.add_argument("--valuation", default=None, metavar="ASSET", help="equity currency (default [ui] valuation)")
    pnl.add_argument("--json", action="store_true", help="machine-readable output (exact decimals)")
    pnl.set_defaults(func=run_pnl)


# ---- shared ---------------------------------------------------------------------------


async def _service(args, *, stream: bool):
    from aitbc_tui.cli import build_service

    config, service = build_service(args)
    await service.start(stream=stream)
    return config, service


def _venue_symbol(service, venue: str, symbol: str | None) -> tuple[str, str | None]:
    from aitbc_tui.cli import CliError
    from aitbc_tui.commands.snapshot import _by_name

    venue = _by_name(venue, service.venue_names)
    if venue not in service.venue_names:
        raise CliError(f"unknown venue {venue!r}; venues: {', '.join(service.venue_names)}")
    markets = service.markets(venue)
    if not markets:
        health = next((h for h in service.health() if h.venue == venue), None)
        raise CliError(f"{venue} is not available: {health.last_error if health else 'no markets loaded'}")
    if symbol is None:
        return venue, None
    symbol = _by_name(symbol, markets)
    if symbol not in markets:
        raise CliError(f"{symbol!r} is not listed on {venue}; symbols: {', '.join(sorted(markets))}")
    return venue, symbol


def _iso(epoch: float | None) -> str | None:
    from aitbc_tui.formatting import fmt_timestamp

    return fmt_timestamp(epoch)


def _q(value: Decimal | None, places: int) -> Decimal | None:
    from aitbc_tui.formatting import json_quantize

    return json_quantize(value, places)


def _run(coro_fn) -> int:
    return asyncio.run(coro_fn())


# ---- trades ---------------------------------------------------------------------------


def trades_json(trades) -> list[dict]:
    return [{"time": _iso(t.time), "price": t.price, "amount": t.amount, "side": t.side.value, "id": t.id,
             "own": t.own} for t in trades]  # fmt: skip


def run_trades(args) -> int:
    from aitbc_tui.cli import print_json
    from aitbc_tui.formatting import fmt_amount, fmt_price
    from aitbc_tui.venues.base import fetch_trades

    async def go() -> int:
        _config, service = await _service(args, stream=False)
        try:
            venue, symbol = _venue_symbol(service, args.venue, args.symbol)
            assert symbol is not None
            trades = list(await fetch_trades(service.venue(venue), symbol, limit=args.limit))[-args.limit :]
            if args.json:
                print_json(trades_json(trades))
                return 0
            market = service.market(venue, symbol)
            print(f"{venue} {symbol}: {len(trades)} trade(s), oldest first; side = the aggressor's")
            print(f"{'time (UTC)':<24}{'side':<6}{'price':>16}{'amount':>16}  id")
            for t in trades:
                mark = "  (own)" if t.own else ""
                print(f"{_iso(t.time) or '':<24}{t.side.value:<6}{fmt_price(t.price, market):>16}"
                      f"{fmt_amount(t.amount, market):>16}  {t.id}{mark}")  # fmt: skip
            return 0
        finally:
            await service.stop()

    return _run(go)


# ---- candles --------------------------------------------------------------------------


def run_candles(args) -> int:
    from aitbc_tui.cli import print_json
    from aitbc_tui.formatting import fmt_amount, fmt_price
    from aitbc_tui.venues.base import fetch_ohlcv

    async def go() -> int:
        _config, service = await _service(args, stream=False)
        try:
            venue, symbol = _venue_symbol(service, args.venue, args.symbol)
            assert symbol is not None
            candles = list(await fetch_ohlcv(service.venue(venue), symbol, timeframe=args.timeframe,
                                             limit=args.limit))[-args.limit :]  # fmt: skip
            if args.json:
                print_json([{"open_time": _iso(c.open_time), "open": c.open, "high": c.high, "low": c.low,
                             "close": c.close, "volume": c.volume, "quote_volume": c.quote_volume or None,
                             "trades": c.trades or None} for c in candles])  # fmt: skip
                return 0
            market = service.market(venue, symbol)
            print(f"{venue} {symbol} {args.timeframe}: {len(candles)} candle(s), oldest first (minutes without a trade "
                  "have no candle)")  # fmt: skip
            print(f"{'open (UTC)':<22}{'open':>14}{'high':>14}{'low':>14}{'close':>14}{'volume':>16}")
            for c in candles:
                when = datetime.fromtimestamp(c.open_time, UTC).strftime("%Y-%m-%d %H:%M")
                print(f"{when:<22}{fmt_price(c.open, market):>14}{fmt_price(c.high, market):>14}"
                      f"{fmt_price(c.low, market):>14}{fmt_price(c.close, market):>14}"
                      f"{fmt_amount(c.volume, market):>16}")  # fmt: skip
            return 0
        finally:
            await service.stop()

    return _run(go)


# ---- tickers --------------------------------------------------------------------------


def ticker_json(t) -> dict:
    return {"venue": t.venue, "symbol": t.symbol, "last": t.last, "open": t.open, "high": t.high, "low": t.low,
            "change_pct": _q(t.change_pct, PCT_JSON_PLACES), "base_volume": t.base_volume,
            "quote_volume": t.quote_volume, "bid": t.bid, "ask": t.ask, "trades": t.trades,
            "timestamp": _iso(t.timestamp) if t.timestamp else None}  # fmt: skip


def run_tickers(args) -> int:
    from aitbc_tui.cli import print_json
    from aitbc_tui.formatting import amount_places, currency_places, fmt_compact, fmt_fixed, fmt_price
    from aitbc_tui.venues.base import fetch_tickers

    async def go() -> int:
        _config, service = await _service(args, stream=False)
        try:
            names = [_venue_symbol(service, args.venue, None)[0]] if args.venue else service.venue_names
            rows: list[Any] = []
            for name in names:
                if not service.markets(name):
                    continue
                found = await fetch_tickers(service.venue(name), list(service.markets(name)))
                rows.extend(found[s] for s in sorted(found))
            if args.json:
                print_json([ticker_json(t) for t in rows])
                return 0
            print(f"{'venue':<10}{'symbol':<12}{'last':>14}{'24h %':>9}{'vol base':>14}{'vol quote':>14}")
            for t in rows:
                market = service.market(t.venue, t.symbol) if t.venue else None
                last = fmt_price(t.last, market) if market else (str(t.last) if t.last is not None else "—")
                pct = "—" if t.change_pct is None else fmt_fixed(t.change_pct, 2, grouping=False)
                base = fmt_compact(t.base_volume, amount_places(market) if market else 8)
                quote = fmt_compact(t.quote_volume, currency_places(t.symbol.partition("/")[2], market))
                print(f"{t.venue:<10}{t.symbol:<12}{last:>14}{pct:>9}{base:>14}{quote:>14}")
            print("24 h figures from each venue's trades (the sandbox and the emulators compute them from their own)")
            return 0
        finally:
            await service.stop()

    return _run(go)


# ---- pnl ------------------------------------------------------------------------------


async def _wait_books(service) -> None:
    deadline = time.monotonic() + WAIT_FOR_BOOKS_S
    wanted = [(v, s) for v in service.venue_names for s in service.markets(v)]
    while time.monotonic() < deadline and not all(k in service.books() for k in wanted):
        await asyncio.sleep(0.05)


def pnl_json(report, markets_of) -> dict:
    from aitbc_tui.formatting import currency_places, price_places

    def money(value, currency, market=None):
        return _q(value, currency_places(currency, market) + EXTRA_PLACES)

    val = report.valuation
    positions = []
    for line in report.positions:
        p = line.position
        market = markets_of(p.venue, p.symbol)
        pp = (price_places(market) if market else 8) + EXTRA_PLACES
        positions.append({
            "venue": p.venue, "symbol": p.symbol, "base": p.base, "quote": p.quote, "quantity": p.quantity,
            "average_cost": _q(p.average_cost, pp), "cost_basis": money(p.cost_basis, p.quote, market),
            "mark": p.mark, "realised": money(p.realised, p.quote, market),
            "unrealised": money(p.unrealised, p.quote, market), "fees": money(p.fees, p.quote, market),
            "other_fees": {c: a for c, a in p.other_fees}, "net": money(p.net, p.quote, market),
            "session_net": money(line.session.net, p.quote, market), "today_net": money(line.today.net, p.quote, market),
            "since_net": money(line.since.net, p.quote, market) if line.since is not None else None,
            "fills": p.fills, "bought": p.bought, "sold": p.sold, "transfers": p.transfers,
            "deposited": p.deposited, "withdrawn": p.withdrawn, "transfer_prices": list(p.transfer_prices),
        })  # fmt: skip
    s, e = report.summary, report.equity
    return {
        "method": report.method.value,
        "valuation": val,
        "since": _iso(s.since) if s.since is not None else None,
        "positions": positions,
        "totals": {
            "realised": money(s.realised, val),
            "unrealised": money(s.unrealised, val),
            "fees": money(s.fees, val),
            "net": money(s.net, val),
            "today_net": money(s.today_net, val),
            "session_net": money(s.session_net, val),
            "since_net": money(s.since_net, val) if s.since_net is not None else None,
            "unvalued": list(s.unvalued),
        },  # fmt: skip
        "equity": {
            "total": money(e.total, val),
            "by_venue": {v: money(t, val) for v, t in e.by_venue},
            "balances": [
                {
                    "venue": r.venue,
                    "asset": r.asset,
                    "total": r.total,
                    "free": r.free,
                    "used": r.used,
                    "value": money(r.value, val),
                    "route": r.route or None,
                }
                for r in e.rows
            ],  # fmt: skip
            "unvalued": list(e.unvalued),
        },
        "rates": {a: {"price": r.price, "route": r.route} for a, r in sorted(report.rates.items())},
        "transfers": [
            {
                "venue": t.venue,
                "id": t.id,
                "kind": t.kind,
                "asset": t.asset,
                "amount": t.amount,
                "fee": t.fee,
                "time": _iso(t.time),
                "symbol": m.symbol if m else None,
                "price": m.price if m else None,
                "price_source": m.price_source if m else None,
            }
            for t, m in report.transfers
        ],  # fmt: skip
    }


def pnl_text(report, markets_of) -> str:
    from aitbc_tui.formatting import fmt_fixed, fmt_money, price_places

    val = report.valuation
    lines = [f"cost basis: {report.method.value}{' cost' if report.method.value == 'average' else ''} · "
             f"P&L in each pair's quote, totals and equity in {val} · realised is before fees"]  # fmt: skip
    if not report.positions:
        lines.append("no journalled fills or transfers: no positions")
    else:
        lines.append(f"{'venue':<10}{'symbol':<12}{'quantity':>16}{'avg cost':>14}{'realised':>14}{'unrealised':>14}"
                     f"{'fees':>12}{'today':>12}")  # fmt: skip
    for line in report.positions:
        p = line.position
        market = markets_of(p.venue, p.symbol)
        avg = "—" if p.average_cost is None else fmt_fixed(p.average_cost, price_places(market) if market else 8)
        lines.append(f"{p.venue:<10}{p.symbol:<12}{p.quantity!s:>16}{avg:>14}{fmt_money(p.realised, p.quote, market):>14}"
                     f"{fmt_money(p.unrealised, p.quote, market):>14}{fmt_money(p.fees, p.quote, market):>12}"
                     f"{fmt_money(line.today.net, p.quote, market):>12}")  # fmt: skip
    if report.transfers:
        deposits = sum(1 for t, _moved in report.transfers if t.kind == "deposit")
        lines.append(f"transfers: {deposits} deposits, {len(report.transfers) - deposits} withdrawals "
                     "(they move the positions at cost, not the P&L)")  # fmt: skip
    s = report.summary
    lines.append(f"total ({val}): realised {fmt_money(s.realised, val)} · unrealised {fmt_money(s.unrealised, val)}"
                 f" · fees {fmt_money(s.fees, val)} · net {fmt_money(s.net, val)} · today {fmt_money(s.today_net, val)}"
                 + (f" · since {_iso(s.since)} {fmt_money(s.since_net, val)}" if s.since_net is not None else ""))  # fmt: skip
    if s.unvalued:
        lines.append(f"not in the totals (no {val} rate): {', '.join(s.unvalued)}")
    e = report.equity
    lines.append(f"equity: {fmt_money(e.total, val, unit=True)} ("
                 + ", ".join(f"{v} {fmt_money(t, val)}" for v, t in e.by_venue) + ")")  # fmt: skip
    routes = sorted({r.route for r in e.rows if r.route and r.asset != val})
    if routes:
        lines.append("rates: " + "; ".join(routes))
    if e.unvalued:
        lines.append(f"held without a {val} rate: {', '.join(e.unvalued)}")
    return "\n".join(lines)


def run_pnl(args) -> int:
    from aitbc_tui.cli import CliError, print_json
    from aitbc_tui.market_feed import build_pnl_report, collect_transfers, service_modes, venue_fills
    from aitbc_tui.pnl import PnlTracker, replay

    async def go() -> int:
        config, service = await _service(args, stream=True)
        journal = None
        try:
            venue = _venue_symbol(service, args.venue, None)[0] if args.venue else None
            valuation = (args.valuation or getattr(getattr(config, "ui", None), "valuation", "USDT")).upper()
            if not valuation.isalnum():
                raise CliError(f"--valuation must be an asset code such as USDT, not {args.valuation!r}")
            from aitbc_tui.journal import Journal, JournalError, default_journal_path

            fills: list[Any] = []
            path = default_journal_path()
            if path.exists():
                try:
                    journal = Journal(path, read_only=True)
                except JournalError as exc:
                    raise CliError(str(exc)) from None
                fills = venue_fills(journal, service_modes(service))
            await _wait_books(service)
            # Deposits and withdrawals move positions (not the P&L): in time order with the fills.
            transfers = await collect_transfers(service, valuation, venue)
            tracker = PnlTracker(args.method)
            tracker.apply_many(replay(fills, [moved for _t, moved in transfers if moved is not None]))
            balances = {}
            for name in service.venue_names:
                if venue not in (None, name):
                    continue
                try:
                    await service.refresh_account(name)
                except Exception:  # noqa: BLE001 - no keys or an error: equity without it, said below
                    continue
                balances[name] = dict(service.balances(name))
            since = args.since.timestamp() if args.since is not None else None
            report = build_pnl_report(tracker, balances, service.books().values(), valuation, venue=venue,
                                      since=since, transfers=transfers)  # fmt: skip

            def markets_of(v, s):
                return service.market(v, s) if v in service.venue_names else None

            if args.json:
                print_json(pnl_json(report, markets_of))
            else:
                print(pnl_text(report, markets_of))
            return 0
        finally:
            if journal is not None:
                journal.close()
            await service.stop()

    return _run(go)
