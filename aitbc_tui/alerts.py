"""Alert rules and their engine: pure (no I/O, no textual), driven by a clock.

A rule watches one condition: a price crossing a level, a wide spread held for a time, an
arbitrage route's net above N bps with a minimum size, a venue degraded or down for a
time, a book resync storm (more than N resyncs within T), a fill, a rejected order, a
balance below a threshold, P&L below a threshold (session, today or total, from
``pnl.PnlTracker``). Against alert fatigue:

- hysteresis: a "level" rule fires once, then re-arms only after its condition cleared by
  ``hysteresis_bps`` (price rules: of the level; spread and arbitrage: bps points; balance
  and P&L: of the threshold's size; a resync storm re-arms once N or fewer remain in T); a price rule needs a real crossing (its first observation on the
  wrong side only arms it once the price is back below/above);
- cooldown: a rule never fires twice within ``cooldown_s`` (an armed rule waits it out);
- rate limits: at most ``max_per_hour`` per rule and ``max_per_minute`` over all rules; an
  alert over a limit is dropped and counted (``suppressed``), said in the next one.

Evaluation is incremental: ``on_book(venue, symbol, ...)`` looks only at that symbol's
rules (a dict lookup), so 200 rules over 50 symbols cost a handful per update.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from aitbc_tui.notify import NotifyConfig, NotifyConfigError, parse_notify

TEN_K = Decimal(10000)

RULE_KINDS = ("price_above", "price_below", "spread_above", "arbitrage_above", "venue_down", "resync_storm",
              "fill", "order_rejected", "balance_below", "pnl_below")  # fmt: skip
PRICE_FIELDS = ("last", "bid", "ask", "mid")
VENUE_STATES = ("degraded", "down")
PNL_PERIODS = ("session", "today", "total")  # realised - fees since start / since 00:00 UTC; total adds unrealised

_COMMON = ("id", "kind", "cooldown_s", "max_per_hour", "hysteresis_bps", "notify", "apprise_urls")
FIELDS: Mapping[str, tuple[str, ...]] = {
    "price_above": ("symbol", "venue", "price", "level"),
    "price_below": ("symbol", "venue", "price", "level"),
    "spread_above": ("symbol", "venue", "bps", "for_s"),
    "arbitrage_above": ("symbol", "bps", "min_size"),
    "venue_down": ("venue", "status", "for_s"),
    "resync_storm": ("venue", "count", "within_s"),
    "fill": ("venue", "symbol", "min_notional"),
    "order_rejected": ("venue", "symbol"),
    "balance_below": ("venue", "asset", "threshold"),
    "pnl_below": ("venue", "period", "threshold", "currency"),
}
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "price_above": ("symbol", "level"),
    "price_below": ("symbol", "level"),
    "spread_above": ("symbol", "bps"),
    "arbitrage_above": ("symbol", "bps"),
    "venue_down": (),
    "resync_storm": ("count", "within_s"),
    "fill": (),
    "order_rejected": (),
    "balance_below": ("asset", "threshold"),
    "pnl_below": ("threshold",),
}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_SYMBOL_RE = re.compile(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class RuleError(ValueError):
    """A bad rule: ``key`` is the field (``level``), ``problem`` says what is allowed."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: str
    symbol: str | None = None
    venue: str | None = None  # None: any venue
    price: str = "last"  # price rules: last, bid, ask or mid
    level: Decimal | None = None  # price rules
    bps: Decimal | None = None  # spread, arbitrage
    for_s: float = 0.0  # spread, venue: held this long first
    min_size: Decimal | None = None  # arbitrage: executable size (base)
    status: str = "degraded"  # venue_down: "degraded" (degraded or down) or "down"
    min_notional: Decimal | None = None  # fill: only fills worth at least this (quote)
    asset: str | None = None  # balance
    threshold: Decimal | None = None  # balance; pnl (may be negative)
    count: int = 0  # resync_storm: more than this many resyncs ...
    within_s: float = 0.0  # ... within this many seconds
    period: str = "session"  # pnl_below: session, today or total
    currency: str = "USDT"  # pnl_below: the valuation currency
    hysteresis_bps: Decimal = Decimal(10)
    cooldown_s: float = 60.0
    max_per_hour: int = 20
    notify: bool = True  # desktop and apprise for this rule's alerts (the app and webhooks always)
    apprise_urls: tuple[str, ...] = ()  # this rule's own apprise URLs, beside [alerts] apprise_urls
    paused: bool = False
    source: str = "config"  # "config" (the [alerts] table) or "runtime" (the data dir's store)

    def describe(self) -> str:
        where = f"{self.venue or 'any venue'}"
        if self.kind in ("price_above", "price_below"):
            return f"{self.symbol} {self.price} {'above' if self.kind == 'price_above' else 'below'} {self.level} ({where})"
        if self.kind == "spread_above":
            held = f" for {self.for_s:g} s" if self.for_s else ""
            return f"{self.symbol} spread wider than {self.bps} bps{held} ({where})"
        if self.kind == "arbitrage_above":
            size = f", size >= {self.min_size}" if self.min_size is not None else ""
            return f"{self.symbol} arbitrage net above {self.bps} bps{size}"
        if self.kind == "venue_down":
            held = f" for {self.for_s:g} s" if self.for_s else ""
            return f"{where} {'down' if self.status == 'down' else 'degraded or down'}{held}"
        if self.kind == "fill":
            above = f" worth >= {self.min_notional}" if self.min_notional is not None else ""
            return f"fill{above} on {where}" + (f" {self.symbol}" if self.symbol else "")
        if self.kind == "order_rejected":
            return f"order rejected on {where}" + (f" {self.symbol}" if self.symbol else "")
        if self.kind == "resync_storm":
            return f"{where}: more than {self.count} book resyncs within {self.within_s:g} s"
        if self.kind == "pnl_below":
            return f"{self.period} P&L below {self.threshold} {self.currency} ({where})"
        return f"{self.asset} balance below {self.threshold} ({where})"

    def as_table(self) -> dict[str, Any]:
        """The rule as config/JSON values (Decimals as strings, defaults left out)."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind}
        defaults = Rule(id="", kind="")
        for name in _COMMON[2:] + FIELDS[self.kind]:
            value = getattr(self, name)
            if value is None or (value == getattr(defaults, name) and name not in REQUIRED[self.kind]):
                continue
            out[name] = str(value) if isinstance(value, Decimal) else list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, slots=True)
class Alert:
    rule_id: str
    at: float
    kind: str
    venue: str
    symbol: str
    text: str
    severity: str = "warning"
    data: Mapping[str, Any] = field(default_factory=dict)


# ---- parsing (config, the form, the CLI) ---------------------------------------------------


def _decimal(value: Any, key: str, *, minimum: Decimal | None = Decimal(0), strict: bool = False) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        hint = f' (write "{value}" in quotes: floats are not exact)' if isinstance(value, float) else ""
        raise RuleError(key, f'must be a decimal number written as a string, e.g. "100"{hint}')
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise RuleError(key, f"{value!r} is not a number") from None
    else:
        raise RuleError(key, 'must be a decimal number written as a string, e.g. "100"')
    if not number.is_finite():
        raise RuleError(key, f"{value!r} is not finite")
    if minimum is not None and (number <= minimum if strict else number < minimum):
        raise RuleError(key, f"{value!r} must be {'greater than' if strict else 'at least'} {minimum}")
    return number


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RuleError(key, "must be a number of seconds, e.g. 30")
    try:
        seconds = float(value)
    except ValueError:
        raise RuleError(key, f"{value!r} is not a number of seconds") from None
    if not 0 <= seconds <= 7 * 86400:
        raise RuleError(key, f"{value!r} must be from 0 to 604800 seconds")
    return seconds


def _text(value: Any, key: str, pattern: re.Pattern, example: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise RuleError(key, f"{value!r} is not allowed; use e.g. {example}")
    return value


def parse_rule(table: Mapping[str, Any], *, default_id: str = "", source: str = "config") -> Rule:
    """A rule from a config table, the form or the CLI; strict: an unknown field or a bad
    value is a RuleError naming the field and what is allowed."""
    kind = table.get("kind")
    if kind not in RULE_KINDS:
        raise RuleError("kind", f"{kind!r} is not a rule kind; use one of {', '.join(RULE_KINDS)}")
    allowed = _COMMON + FIELDS[kind]
    for name in table:
        if name not in allowed:
            raise RuleError(name, f"unknown field for a {kind} rule; allowed: {', '.join(allowed)}")
    for name in REQUIRED[kind]:
        if table.get(name) in (None, ""):
            raise RuleError(name, f"is required for a {kind} rule")
    rule_id = table.get("id", default_id)
    values: dict[str, Any] = {"id": _text(rule_id, "id", _ID_RE, '"btc-100k" (letters, digits, . _ -)'),
                              "kind": kind, "source": source}  # fmt: skip
    for name, raw in table.items():
        if name in ("id", "kind") or raw is None or raw == "":
            continue
        if name == "symbol":
            values[name] = _text(raw, name, _SYMBOL_RE, '"BTC/USDT"')
        elif name == "venue":
            values[name] = _text(raw, name, _NAME_RE, '"binance"')
        elif name == "asset":
            values[name] = _text(raw, name, re.compile(r"^[A-Za-z0-9._-]{1,20}$"), '"USDT"')
        elif name == "price":
            if raw not in PRICE_FIELDS:
                raise RuleError(name, f"{raw!r} is not allowed; use one of {', '.join(PRICE_FIELDS)}")
            values[name] = raw
        elif name == "status":
            if raw not in VENUE_STATES:
                raise RuleError(name, f"{raw!r} is not allowed; use degraded (degraded or down) or down")
            values[name] = raw
        elif name in ("level", "min_size", "min_notional"):
            values[name] = _decimal(raw, name, strict=True)
        elif name == "bps":
            values[name] = _decimal(raw, name, minimum=None if kind == "arbitrage_above" else Decimal(0))
        elif name == "threshold":
            values[name] = _decimal(raw, name, minimum=None if kind == "pnl_below" else Decimal(0))
        elif name == "hysteresis_bps":
            values[name] = _decimal(raw, name)
        elif name == "currency":
            values[name] = _text(raw, name, re.compile(r"^[A-Za-z0-9._-]{1,20}$"), '"USDT"')
        elif name == "period":
            if raw not in PNL_PERIODS:
                raise RuleError(name, f"{raw!r} is not allowed; use one of {', '.join(PNL_PERIODS)}")
            values[name] = raw
        elif name == "count":
            if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).isdigit() \
                    or not 0 <= int(raw) <= 100000:  # fmt: skip
                raise RuleError(name, f"{raw!r} is not allowed; use a whole number from 0 to 100000")
            values[name] = int(raw)
        elif name in ("for_s", "cooldown_s"):
            values[name] = _seconds(raw, name)
        elif name == "within_s":
            values[name] = _seconds(raw, name)
            if values[name] <= 0:
                raise RuleError(name, f"{raw!r} must be more than 0 seconds")
        elif name == "notify":
            if raw in (True, "true"):
                values[name] = True
            elif raw in (False, "false"):
                values[name] = False
            else:
                raise RuleError(name, f"{raw!r} is not allowed; use true or false")
        elif name == "apprise_urls":
            if not isinstance(raw, (list, tuple)) or not all(isinstance(u, str) and "://" in u for u in raw):
                raise RuleError(name, 'must be a list of apprise URLs, e.g. ["ntfy://topic"]')
            values[name] = tuple(raw)
        elif name == "max_per_hour":
            if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 3600:
                raise RuleError(name, f"{raw!r} is not allowed; use a whole number from 1 to 3600")
            values[name] = raw
    return Rule(**values)


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    rules: tuple[Rule, ...] = ()
    max_per_minute: int = 30
    bell: bool = True
    toast: bool = True
    # The `price` webhook event: every symbol each price_interval_s, or only the symbols of
    # price_symbols, each at its own interval (seconds).
    price_interval_s: float = 10.0
    price_symbols: tuple[tuple[str, float], ...] = ()
    notify: NotifyConfig = field(default_factory=NotifyConfig)  # desktop and apprise channels


_ALERTS_KEYS = ("rules", "max_per_minute", "bell", "toast", "price_interval_s", "price_symbols", "desktop",
                "notify_command", "apprise_urls")  # fmt: skip


def _interval(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.5 <= value <= 86400:
        raise RuleError(key, f"{value!r} is not allowed; use a number of seconds from 0.5 to 86400")
    return float(value)


def parse_alerts(table: Mapping[str, Any]) -> AlertsConfig:
    """The config's ``[alerts]`` table; RuleError keys are dotted from ``alerts``."""
    if not isinstance(table, Mapping):
        raise RuleError("alerts", "must be a table")
    for name in table:
        if name not in _ALERTS_KEYS:
            raise RuleError(f"alerts.{name}", f"unknown key; allowed keys: {', '.join(_ALERTS_KEYS)}")
    per_minute = table.get("max_per_minute", 30)
    if isinstance(per_minute, bool) or not isinstance(per_minute, int) or not 1 <= per_minute <= 600:
        raise RuleError("alerts.max_per_minute", f"{per_minute!r} is not allowed; use a whole number from 1 to 600")
    flags = {}
    for name in ("bell", "toast"):
        value = table.get(name, True)
        if not isinstance(value, bool):
            raise RuleError(f"alerts.{name}", f"{value!r} is not allowed; use true or false")
        flags[name] = value
    interval = _interval(table.get("price_interval_s", 10.0), "alerts.price_interval_s")
    raw_symbols = table.get("price_symbols", {})
    if not isinstance(raw_symbols, Mapping):
        raise RuleError("alerts.price_symbols", 'must be a table of symbol = seconds, e.g. {"BTC/USDT" = 5}')
    price_symbols = []
    for symbol, seconds in raw_symbols.items():
        key = f'alerts.price_symbols."{symbol}"'
        _text(symbol, key, _SYMBOL_RE, '"BTC/USDT"')
        price_symbols.append((symbol, _interval(seconds, key)))
    raw_rules = table.get("rules", [])
    if not isinstance(raw_rules, list):
        raise RuleError("alerts.rules", "must be an array of tables ([[alerts.rules]])")
    rules: list[Rule] = []
    for i, raw in enumerate(raw_rules):
        key = f"alerts.rules[{i}]"
        if not isinstance(raw, Mapping):
            raise RuleError(key, "must be a table")
        try:
            rule = parse_rule(raw, default_id=f"cfg-{i + 1}")
        except RuleError as exc:
            raise RuleError(f"{key}.{exc.key}" if exc.key else key, exc.problem) from None
        if any(r.id == rule.id for r in rules):
            raise RuleError(f"{key}.id", f"{rule.id!r} is used by another rule")
        rules.append(rule)
    try:
        notify = parse_notify(table)
    except NotifyConfigError as exc:
        raise RuleError(exc.key, exc.problem) from None
    return AlertsConfig(tuple(rules), per_minute, flags["bell"], flags["toast"], interval, tuple(price_symbols),
                        notify)  # fmt: skip


# ---- the engine -------------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    armed: bool | None = None  # None: not observed yet
    since: float | None = None  # the condition has held since
    last_fired: float = float("-inf")
    fired: collections.deque = field(default_factory=collections.deque)  # times, for max_per_hour


def _bps(value: Decimal, of: Decimal) -> Decimal:
    return value / of * TEN_K if of else Decimal(0)


class AlertEngine:
    """Feed it market and account changes; it returns the alerts to deliver."""

    def __init__(self, rules: Iterable[Rule] = (), *, clock: Callable[[], float], max_per_minute: int = 30) -> None:
        self.clock = clock
        self.max_per_minute = max_per_minute
        self.suppressed = 0  # dropped by a rate limit since the last alert delivered
        self.suppressed_total = 0
        self._recent: collections.deque[float] = collections.deque()  # global window
        self._states: dict[tuple[str, str], _State] = {}
        self._resync_total: dict[str, int] = {}  # venue -> its resync counter when last seen
        self._resync_times: dict[str, collections.deque[float]] = {}  # venue -> when each resync was seen
        self.set_rules(rules)

    def set_rules(self, rules: Iterable[Rule]) -> None:
        self.rules = {r.id: r for r in rules}
        self._by_symbol: dict[str, list[Rule]] = collections.defaultdict(list)  # price and spread
        self._by_kind: dict[str, list[Rule]] = collections.defaultdict(list)
        for rule in self.rules.values():
            if rule.paused:
                continue
            if rule.kind in ("price_above", "price_below", "spread_above"):
                self._by_symbol[rule.symbol or ""].append(rule)
            else:
                self._by_kind[rule.kind].append(rule)
        live = {r.id for r in self.rules.values()}
        self._states = {k: s for k, s in self._states.items() if k[0] in live}

    def _state(self, rule: Rule, venue: str) -> _State:
        key = (rule.id, venue)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State()
        return state

    # ---- limits

    def _allowed(self, rule: Rule, state: _State, now: float) -> bool:
        """Rate limits (the cooldown is checked by the caller): counted when refused."""
        while state.fired and now - state.fired[0] >= 3600:
            state.fired.popleft()
        while self._recent and now - self._recent[0] >= 60:
            self._recent.popleft()
        if len(state.fired) >= rule.max_per_hour or len(self._recent) >= self.max_per_minute:
            self.suppressed += 1
            self.suppressed_total += 1
            return False
        return True

    def _emit(self, rule: Rule, state: _State, now: float, venue: str, symbol: str, text: str,
              severity: str = "warning", **data: Any) -> Alert:  # fmt: skip
        state.last_fired = now
        state.fired.append(now)
        self._recent.append(now)
        if self.suppressed:
            text += f" ({self.suppressed} more suppressed by the rate limits)"
            self.suppressed = 0
        return Alert(rule.id, now, rule.kind, venue, symbol, text, severity,
                     {"rule": rule.id, "kind": rule.kind, "venue": venue, "symbol": symbol, **data})  # fmt: skip

    def _level(self, rule: Rule, venue: str, symbol: str, holds: bool, clears: bool, now: float,
               text: Callable[[], str], first_arms: bool = True, **data: Any) -> Alert | None:  # fmt: skip
        """The hysteresis state machine of a level rule: fire once when ``holds`` (for
        ``for_s``), re-arm once ``clears``."""
        state = self._state(rule, venue)
        if state.armed is None:  # first observation
            state.armed = first_arms or not holds
        if not holds:
            state.since = None
            if clears:
                state.armed = True
            return None
        if state.since is None:
            state.since = now
        if not state.armed or now - state.since < rule.for_s or now - state.last_fired < rule.cooldown_s:
            return None
        state.armed = False
        if not self._allowed(rule, state, now):
            return None
        return self._emit(rule, state, now, venue, symbol, text(), **data)

    def _once(self, rule: Rule, venue: str, symbol: str, now: float, text: str, severity: str = "warning",
              **data: Any) -> Alert | None:  # fmt: skip
        state = self._state(rule, venue)
        if now - state.last_fired < rule.cooldown_s:
            self.suppressed += 1
            self.suppressed_total += 1
            return None
        if not self._allowed(rule, state, now):
            return None
        return self._emit(rule, state, now, venue, symbol, text, severity, **data)

    # ---- inputs

    def on_book(self, venue: str, symbol: str, bid: Decimal | None, ask: Decimal | None,
                last: Decimal | None = None) -> list[Alert]:  # fmt: skip
        """One book update: only ``symbol``'s price and spread rules are looked at.
        ``last`` is the last trade price; without one, the mid stands in."""
        rules = self._by_symbol.get(symbol)
        if not rules or bid is None or ask is None:
            return []
        now = self.clock()
        mid = (bid + ask) / 2
        alerts = []
        for rule in rules:
            if rule.venue is not None and rule.venue != venue:
                continue
            if rule.kind == "spread_above":
                spread = _bps(ask - bid, mid)
                limit = rule.bps or Decimal(0)
                alert = self._level(rule, venue, symbol, spread > limit, spread <= limit - rule.hysteresis_bps, now,
                                    lambda: f"{venue} {symbol}: spread {spread:.1f} bps, wider than {limit} bps"
                                    + (f" for {rule.for_s:g} s" if rule.for_s else ""),
                                    spread_bps=str(round(spread, 2)), bid=str(bid), ask=str(ask))  # fmt: skip
            else:
                value = {"bid": bid, "ask": ask, "mid": mid, "last": last if last is not None else mid}[rule.price]
                level = rule.level or Decimal(0)
                margin = level * rule.hysteresis_bps / TEN_K
                if rule.kind == "price_above":
                    holds, clears, word = value >= level, value <= level - margin, "above"
                else:
                    holds, clears, word = value <= level, value >= level + margin, "below"
                alert = self._level(rule, venue, symbol, holds, clears, now,
                                    lambda: f"{venue} {symbol}: {rule.price} {value} crossed {word} {level}",
                                    first_arms=False, price=str(value), level=str(level), field=rule.price)  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        return alerts

    def on_arbitrage(self, symbol: str, net_bps: Decimal, size: Decimal | None, route: str = "") -> list[Alert]:
        now = self.clock()
        alerts = []
        for rule in self._by_kind.get("arbitrage_above", ()):
            if rule.symbol != symbol:
                continue
            limit = rule.bps or Decimal(0)
            big = rule.min_size is None or (size is not None and size >= rule.min_size)
            holds = net_bps > limit and big
            clears = net_bps <= limit - rule.hysteresis_bps or not big
            alert = self._level(rule, "", symbol, holds, clears, now,
                                lambda: f"{symbol}: arbitrage {route} net {net_bps:.1f} bps (above {limit})"
                                + (f", size {size}" if size is not None else ""),
                                net_bps=str(round(net_bps, 2)), size=None if size is None else str(size))  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        return alerts

    def on_health(self, statuses: Mapping[str, str]) -> list[Alert]:
        """Every venue's status now (connected, degraded, down); call it on each health tick."""
        now = self.clock()
        alerts = []
        for rule in self._by_kind.get("venue_down", ()):
            for venue, status in statuses.items():
                if rule.venue is not None and rule.venue != venue:
                    continue
                holds = status == "down" if rule.status == "down" else status in ("degraded", "down")
                alert = self._level(rule, venue, "", holds, status == "connected", now,
                                    lambda: f"{venue}: {status}" + (f" for {rule.for_s:g} s" if rule.for_s else ""),
                                    severity="error", status=status)  # fmt: skip
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def on_fill(self, venue: str, symbol: str, side: str, amount: Decimal, price: Decimal) -> list[Alert]:
        now = self.clock()
        notional = amount * price
        alerts = []
        for rule in self._by_kind.get("fill", ()):
            if (rule.venue not in (None, venue) or rule.symbol not in (None, symbol)
                    or (rule.min_notional is not None and notional < rule.min_notional)):  # fmt: skip
                continue
            alert = self._once(rule, venue, symbol, now, f"{venue}: fill {side} {amount} {symbol} at {price}",
                               "information", side=side, amount=str(amount), price=str(price), notional=str(notional))  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        return alerts

    def on_rejected(self, venue: str, symbol: str, message: str) -> list[Alert]:
        now = self.clock()
        alerts = []
        for rule in self._by_kind.get("order_rejected", ()):
            if rule.venue not in (None, venue) or rule.symbol not in (None, symbol):
                continue
            alert = self._once(rule, venue, symbol, now, f"{venue}: {symbol} order rejected: {message}", "error",
                               message=message)  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        return alerts

    def on_balance(self, venue: str, asset: str, free: Decimal) -> list[Alert]:
        now = self.clock()
        alerts = []
        for rule in self._by_kind.get("balance_below", ()):
            if rule.asset != asset or rule.venue not in (None, venue):
                continue
            threshold = rule.threshold or Decimal(0)
            margin = threshold * rule.hysteresis_bps / TEN_K
            alert = self._level(rule, venue, "", free < threshold, free >= threshold + margin, now,
                                lambda: f"{venue}: {asset} balance {free} below {threshold}",
                                asset=asset, free=str(free), threshold=str(threshold))  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        return alerts

    RESYNC_HISTORY = 10000  # resync times kept per venue (a storm of more is a storm all the same)

    def on_resyncs(self, venue: str, total: int) -> list[Alert]:
        """A venue's resync counter (book resubscriptions after sequence gaps) now; call it on
        each health tick. The first value seen, and a counter that went back (the client was
        rebuilt), only set the baseline."""
        now = self.clock()
        before = self._resync_total.get(venue)
        self._resync_total[venue] = total
        times = self._resync_times.setdefault(venue, collections.deque(maxlen=self.RESYNC_HISTORY))
        if before is not None and total > before:
            times.extend([now] * min(total - before, self.RESYNC_HISTORY))
        alerts = []
        for rule in self._by_kind.get("resync_storm", ()):
            if rule.venue not in (None, venue):
                continue
            recent = sum(1 for t in times if now - t < rule.within_s)
            alert = self._level(rule, venue, "", recent > rule.count, recent <= rule.count, now,
                                lambda: f"{venue}: {recent} book resyncs within {rule.within_s:g} s "
                                        f"(more than {rule.count})",
                                severity="error", resyncs=recent, within_s=rule.within_s)  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        return alerts

    def pnl_wanted(self) -> set[tuple[str | None, str]]:
        """(venue or None for all venues, valuation currency) of every active P&L rule."""
        return {(r.venue, r.currency) for r in self._by_kind.get("pnl_below", ())}

    def on_pnl(self, figures: Mapping[tuple[str | None, str], Mapping[str, Decimal | None]]) -> list[Alert]:
        """P&L now: ``figures[(venue or None, currency)][period]`` for the periods session,
        today and total (None: not known, e.g. an open position without a mark)."""
        now = self.clock()
        alerts = []
        for rule in self._by_kind.get("pnl_below", ()):
            value = figures.get((rule.venue, rule.currency), {}).get(rule.period)
            if value is None:
                continue
            threshold = rule.threshold if rule.threshold is not None else Decimal(0)
            margin = abs(threshold) * rule.hysteresis_bps / TEN_K
            where = rule.venue or "all venues"
            alert = self._level(rule, rule.venue or "", "", value < threshold, value >= threshold + margin, now,
                                lambda: f"{where}: {rule.period} P&L {value} {rule.currency} below {threshold}",
                                severity="error", period=rule.period, pnl=str(value), threshold=str(threshold),
                                currency=rule.currency)  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        return alerts

    def wants_symbol(self, symbol: str) -> bool:
        return symbol in self._by_symbol

    def with_paused(self, rule_id: str, paused: bool) -> None:
        rule = self.rules.get(rule_id)
        if rule is not None:
            self.set_rules([replace(rule, paused=paused) if r.id == rule_id else r for r in self.rules.values()])


def pnl_figures(tracker: Any, books: Iterable[Any], wanted: Iterable[tuple[str | None, str]]
                ) -> dict[tuple[str | None, str], dict[str, Decimal | None]]:  # fmt: skip
    """``on_pnl``'s input from a ``pnl.PnlTracker`` and the books (marks at their mids, rates
    into each valuation currency from the mids): per (venue or None, currency) the session's
    and today's realised P&L net of fees, and the total (realised + unrealised - fees; None
    while a position has no mark or a currency no rate, so a partial total never alerts)."""
    from aitbc_tui.pnl import valuation_rates

    books = list(books)
    tracker.set_marks(books)
    rates: dict[str, Any] = {}
    out: dict[tuple[str | None, str], dict[str, Decimal | None]] = {}
    for venue, currency in wanted:
        if currency not in rates:
            rates[currency] = valuation_rates(books, currency)
        summary = tracker.summary(currency, rates[currency], venue=venue)
        out[(venue, currency)] = {"session": summary.session_net, "today": summary.today_net,
                                  "total": None if summary.unvalued else summary.net}  # fmt: skip
    return out


__all__ = ["Alert", "AlertEngine", "AlertsConfig", "PNL_PERIODS", "PRICE_FIELDS", "RULE_KINDS", "Rule", "RuleError",
           "parse_alerts", "parse_rule", "pnl_figures"]  # fmt: skip
