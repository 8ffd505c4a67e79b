"""Public trades, candles and 24 h tickers through a ccxt client, as ``market_data`` types.

Functions taking the ccxt client (async_support), so CcxtVenue can expose ``fetch_trades`` /
``fetch_ohlcv`` / ``fetch_tickers`` with one line each. ccxt's floats are turned into Decimal
through ``str`` (the shortest repr, which is what the venue sent for the prices and amounts
ccxt parses from strings). ccxt errors are left to the caller's own translation.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from aitbc_tui.domain import ZERO, Side
from aitbc_tui.market_data import TIMEFRAMES, Candle, Ticker24h, Trade, timeframe_seconds
from aitbc_tui.sanitize import BadData


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _num(value: Any, what: str, venue: str = "", symbol: str = "") -> Decimal:
    """A number the structure cannot do without: a missing one is the venue's bad data."""
    if value is None:
        raise BadData(f"{what} is missing", venue=venue, symbol=symbol)
    return Decimal(str(value))


def trade_from_ccxt(raw: dict, venue: str = "") -> Trade:
    symbol = raw["symbol"]
    return Trade(symbol, (raw.get("timestamp") or 0) / 1000, _num(raw["price"], "trade price", venue, symbol),
                 _num(raw["amount"], "trade amount", venue, symbol),
                 Side(raw.get("side") or "buy"), str(raw.get("id") or ""), False, venue)  # fmt: skip


def candle_from_ccxt(row: Sequence[Any], timeframe: str, symbol: str = "") -> Candle:
    opened, o, h, low, c, v = row[:6]
    return Candle(timeframe, int(opened // 1000), _num(o, "candle open", symbol=symbol),
                  _num(h, "candle high", symbol=symbol), _num(low, "candle low", symbol=symbol),
                  _num(c, "candle close", symbol=symbol), _dec(v) or ZERO)  # fmt: skip


def ticker_from_ccxt(raw: dict, venue: str = "") -> Ticker24h:
    base = _dec(raw.get("baseVolume")) or ZERO
    quote = _dec(raw.get("quoteVolume"))
    if quote is None and raw.get("vwap") is not None:
        quote = base * _num(raw["vwap"], "vwap", venue, raw["symbol"])
    opened = _dec(raw.get("open"))
    last = _dec(raw.get("last") if raw.get("last") is not None else raw.get("close"))
    if opened is None and last is not None and raw.get("percentage") is not None:
        pct = _num(raw["percentage"], "percentage", venue, raw["symbol"])
        opened = last / (1 + pct / 100) if pct != -100 else None
    timestamp = (raw.get("timestamp") or 0) / 1000
    return Ticker24h(raw["symbol"], last, opened, _dec(raw.get("high")), _dec(raw.get("low")), base, quote or ZERO,
                     0, timestamp, _dec(raw.get("bid")), _dec(raw.get("ask")), venue)  # fmt: skip


async def fetch_trades(
    client: Any, symbol: str, limit: int = 100, since: float | None = None, venue: str = ""
) -> list[Trade]:
    raw = await client.fetch_trades(symbol, int(since * 1000) if since is not None else None, limit)
    trades = [trade_from_ccxt(t, venue) for t in raw]
    trades.sort(key=lambda t: t.time)
    return trades[-limit:] if since is None else trades[:limit]


async def fetch_ohlcv(client: Any, symbol: str, timeframe: str = "1m", limit: int = 100,
                      since: float | None = None) -> list[Candle]:  # fmt: skip
    timeframe_seconds(timeframe)  # ValueError naming the timeframes
    raw = await client.fetch_ohlcv(symbol, timeframe, int(since * 1000) if since is not None else None, limit)
    return [candle_from_ccxt(row, timeframe, symbol) for row in raw]


async def fetch_tickers(client: Any, symbols: Sequence[str] | None = None, venue: str = "") -> dict[str, Ticker24h]:
    if symbols is not None and len(symbols) == 1 and not client.has.get("fetchTickers"):
        raw = {symbols[0]: await client.fetch_ticker(symbols[0])}
    else:
        raw = await client.fetch_tickers(list(symbols) if symbols is not None else None)
    return {symbol: ticker_from_ccxt(t, venue) for symbol, t in raw.items()
            if symbols is None or symbol in symbols}  # fmt: skip


__all__ = ["TIMEFRAMES", "fetch_ohlcv", "fetch_tickers", "fetch_trades", "candle_from_ccxt", "ticker_from_ccxt",
           "trade_from_ccxt"]  # fmt: skip
