"""Number formatting for panes and headless output: Decimal in, exact text out (no float
round trips). The one place that decides how many decimals a figure shows.

Which function for which value (every one rounds for display only; the domain stays exact):

- a price: ``fmt_price(value, market)`` -- the market's tick (``price_places``); a column that
  mixes venues of one symbol passes ``places=price_places(*markets)`` so every row has the
  same decimals;
- an order amount or a level size (base): ``fmt_amount(value, market)`` -- the lot size;
- a money value (notional, fee, profit, P&L) in currency C: ``fmt_money(value, C, market)`` --
  ``currency_places`` (USD/USDT/USDC/EUR 2, BTC 8, ETH 6, else the market's precision, else 8);
  in a narrow column ``fmt_compact(value, currency_places(C))``;
- a balance or "Available": ``fmt_balance(value, asset, market)`` -- rounds **down**, so it never
  shows more than there is (lot precision for the market's base, currency precision otherwise);
- a number that must not lose a digit (a confirmation's amount): ``fmt_exact(value, places)``;
- bps: ``fmt_bps``; a timestamp: ``fmt_timestamp`` (ISO 8601 UTC, milliseconds, ``Z``);
- JSON: ``json_quantize(value, places)`` keeps a Decimal (serialised as a string) without
  28-digit noise (``BPS_JSON_PLACES`` for bps, ``RATIO_JSON_PLACES`` for ratios).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aitbc_tui.domain import Market

# Display precision of money by currency: fiat and stablecoins to the cent, BTC to the
# satoshi, ETH to 6 (what venues show); anything else to its market's precision, else 8.
CURRENCY_PLACES: dict[str, int] = {
    "USD": 2, "USDT": 2, "USDC": 2, "BUSD": 2, "FDUSD": 2, "DAI": 2, "EUR": 2, "GBP": 2,
    "BTC": 8, "ETH": 6,
}  # fmt: skip
DEFAULT_CURRENCY_PLACES = 8
BPS_JSON_PLACES = 2  # 0.01 bps
RATIO_JSON_PLACES = 4


def decimals_of(step: Decimal) -> int:
    """Decimal places a tick or lot size implies: 0.01 -> 2, 1 -> 0, 0.00050 -> 4."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def fmt_fixed(value: Decimal, places: int, *, grouping: bool = True, rounding: str = ROUND_HALF_EVEN) -> str:
    """Exactly ``places`` decimals (half-even unless ``rounding`` says otherwise), thousands
    separated with ``grouping``. ``-0.00`` is shown as ``0.00``."""
    quantum = Decimal(1).scaleb(-places)
    quantized = value.quantize(quantum, rounding=rounding)
    if quantized.is_zero():
        quantized = abs(quantized)
    return f"{quantized:,.{places}f}" if grouping else f"{quantized:.{places}f}"


def fmt_exact(value: Decimal, places: int = 0, *, grouping: bool = True) -> str:
    """At least ``places`` decimals and never fewer than the value has: nothing is cut."""
    exponent = value.normalize().as_tuple().exponent
    shown = max(places, -int(exponent)) if isinstance(exponent, int) else places
    return fmt_fixed(value, shown, grouping=grouping)


def price_places(*markets: Market) -> int:
    """Decimals of a price: the finest tick among ``markets`` (one column, one precision)."""
    return max((decimals_of(m.tick_size) for m in markets), default=DEFAULT_CURRENCY_PLACES)


def amount_places(*markets: Market) -> int:
    """Decimals of a base amount: the finest lot among ``markets``."""
    return max((decimals_of(m.lot_size) for m in markets), default=DEFAULT_CURRENCY_PLACES)


def currency_places(currency: str, market: Market | None = None) -> int:
    """Decimals of a money value in ``currency`` (see ``CURRENCY_PLACES``); a currency not in
    the table takes the market's precision: its tick (at least 2) as the quote, its lot as
    the base."""
    places = CURRENCY_PLACES.get(currency.upper())
    if places is not None:
        return places
    if market is not None:
        if currency == market.quote:
            return max(2, decimals_of(market.tick_size))
        if currency == market.base:
            return decimals_of(market.lot_size)
    return DEFAULT_CURRENCY_PLACES


def fmt_price(value: Decimal | None, market: Market, *, places: int | None = None, grouping: bool = True) -> str:
    if value is None:
        return "—"
    return fmt_fixed(value, decimals_of(market.tick_size) if places is None else places, grouping=grouping)


def fmt_amount(value: Decimal | None, market: Market, *, places: int | None = None, grouping: bool = True) -> str:
    if value is None:
        return "—"
    return fmt_fixed(value, decimals_of(market.lot_size) if places is None else places, grouping=grouping)


def fmt_money(value: Decimal | None, currency: str, market: Market | None = None, *,
              grouping: bool = True, unit: bool = False) -> str:  # fmt: skip
    """A money value at its currency's precision; ``unit=True`` appends the currency."""
    if value is None:
        return "—"
    text = fmt_fixed(value, currency_places(currency, market), grouping=grouping)
    return f"{text} {currency}" if unit else text


def fmt_balance(value: Decimal | None, asset: str, market: Market | None = None, *,
                grouping: bool = True, unit: bool = False) -> str:  # fmt: skip
    """A balance (free, "Available"): rounded down, never showing more than there is. As the
    market's base it has the lot's decimals (what can be traded); otherwise its currency's."""
    if value is None:
        return "—"
    if market is not None and asset == market.base:
        places = decimals_of(market.lot_size)
    else:
        places = currency_places(asset, market)
    text = fmt_fixed(value, places, grouping=grouping, rounding=ROUND_FLOOR if value >= 0 else ROUND_DOWN)
    return f"{text} {asset}" if unit else text


def fmt_compact(value: Decimal, places: int = 2) -> str:
    """Money for narrow columns: 1.23M, 45.6k, 789.12; below 1,000 with ``places`` decimals
    (pass ``currency_places(currency)``: 0.00012345 BTC must not print as 0.00)."""
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for threshold, suffix in ((Decimal("1e9"), "B"), (Decimal("1e6"), "M"), (Decimal("1e3"), "k")):
        if magnitude >= threshold:
            return f"{sign}{fmt_fixed(magnitude / threshold, 2, grouping=False)}{suffix}"
    text = fmt_fixed(magnitude, places, grouping=False)
    return text if Decimal(text).is_zero() else f"{sign}{text}"


def json_quantize(value: Decimal | None, places: int) -> Decimal | None:
    """A computed Decimal for JSON: exact to ``places`` decimals (half-even), no 28-digit tail."""
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def fmt_timestamp(epoch_s: float | None) -> str | None:
    """ISO 8601 UTC with milliseconds: 2026-12-01T13:45:00.123Z (None stays None)."""
    if epoch_s is None:
        return None
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def fmt_bps(value: Decimal | None, places: int = 1) -> str:
    if value is None:
        return "—"
    return f"{fmt_fixed(value, places, grouping=False)}"


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def fmt_age_coarse(seconds: float) -> str:
    """Ages in a table that ticks once a second: whole units, so a row changes at most
    once a second (and once a minute after two minutes)."""
    if seconds < 1:
        return "<1s"
    if seconds < 120:
        return f"{int(seconds)}s"
    if seconds < 7200:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


SPARK_CHARS = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[float, ...] | list[float], width: int) -> str:
    data = list(values)[-width:]
    if not data:
        return ""
    low, high = min(data), max(data)
    span = high - low
    if span <= 0:
        return SPARK_CHARS[0] * len(data)
    top = len(SPARK_CHARS) - 1
    return "".join(SPARK_CHARS[round((v - low) / span * top)] for v in data)
