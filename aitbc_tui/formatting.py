"""Number formatting for panes: Decimal in, exact text out (no float round trips)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal


def decimals_of(step: Decimal) -> int:
    """Decimal places a tick or lot size implies: 0.01 -> 2, 1 -> 0, 0.00050 -> 4."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def fmt_fixed(value: Decimal, places: int, *, grouping: bool = True) -> str:
    quantum = Decimal(1).scaleb(-places)
    quantized = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
    return f"{quantized:,.{places}f}" if grouping else f"{quantized:.{places}f}"


def fmt_compact(value: Decimal) -> str:
    """Quote-currency amounts for narrow columns: 1.23M, 45.6k, 789.12."""
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for threshold, suffix in ((Decimal("1e9"), "B"), (Decimal("1e6"), "M"), (Decimal("1e3"), "k")):
        if magnitude >= threshold:
            return f"{sign}{fmt_fixed(magnitude / threshold, 2, grouping=False)}{suffix}"
    return f"{sign}{fmt_fixed(magnitude, 2, grouping=False)}"


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
