"""The TOML config: venues, risk limits, UI settings and key remapping.

Validation is strict: an unknown key, a bad value or an unknown ccxt exchange id is
a ``ConfigError`` naming the file, the dotted key and what is allowed. No config
file means sandbox mode (``Config.venues`` empty: use the built-in venues).

This module never imports ccxt: exchange ids are checked against the list in
ccxt's package source, read as text, and only when a venue is configured.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from aitbc_tui import paths
from aitbc_tui.domain import Mode
from aitbc_tui.errors import UserError

CONFIG_FILENAME = "config.toml"

# Exchanges whose ccxt classes we run against the emulator in tests.
TESTED_EXCHANGES = frozenset({"binance", "kraken", "coinbase", "coinbaseexchange"})

# Old ids people still type, and what ccxt calls them now.
EXCHANGE_ALIASES = {
    "coinbasepro": (
        "coinbaseexchange",
        'the old Coinbase Pro API; for Coinbase Advanced Trade use exchange = "coinbase"',
    ),
}

VENUE_MODES = (Mode.PAPER, Mode.TESTNET, Mode.LIVE)

_VENUE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_SYMBOL_RE = re.compile(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$")
_ACTION_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_THEME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

# The dashboard's remappable actions for ``[keys]``: the ``id=`` of each of AitbcApp.BINDINGS
# and its default keys, in Textual's key names. Data here, so config never imports textual;
# tests/test_keys_config.py keeps it equal to the app's bindings.
KEY_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "order.buy": ("b",),
        "order.sell": ("s",),
        "order.cancel": ("c",),
        "order.kill": ("ctrl+k",),
        "order.arbitrage": ("x",),
        "inventory.show": ("I",),
        "venue.next": ("v", "right_square_bracket"),
        "venue.previous": ("V", "left_square_bracket"),
        "symbol.pick": ("slash",),
        "orders.history": ("h",),
        "theme.next": ("t",),
        "app.credentials": ("K",),
        "events.show": ("e",),
        "alerts.new": ("exclamation_mark",),
        "app.help": ("question_mark",),
        "app.quit": ("q",),
        "focus.next": ("tab",),
        "focus.previous": ("shift+tab",),
        "chart.show": ("C",),
        "depth.show": ("D",),
        "ladder.group": ("g",),
        "layout.default": ("1",),
        "layout.trade": ("2",),
        "layout.watch": ("3",),
        "layout.account": ("4",),
        "pane.maximise": ("z",),
        "pane.grow": ("greater_than_sign",),
        "pane.shrink": ("less_than_sign",),
        "pane.size_reset": ("0",),
    }
)


class ConfigError(UserError):
    """The config cannot be used; ``str()`` names the file, the key and what is allowed."""

    def __init__(self, path: Path | str | None, key: str, problem: str) -> None:
        self.path = Path(path) if path is not None else None
        self.key = key
        self.problem = problem
        where = str(self.path) if self.path is not None else "config"
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class VenueConfig:
    name: str  # as shown and typed in commands
    exchange: str  # ccxt exchange id (aliases resolved)
    mode: Mode  # paper | testnet | live
    symbols: tuple[str, ...]
    api_url: str | None = None  # replaces scheme+host of every REST endpoint
    ws_url: str | None = None  # replaces scheme+host of every websocket endpoint (needs api_url)
    # api_url without ws_url: books by REST polling, so no websocket reaches the real host.
    read_only: bool = False
    # Dead man's switch (kraken: cancel_all_orders_after): every open order is cancelled
    # this many seconds after the dashboard stops re-arming it; None: off.
    dead_man_switch_s: int | None = None
    # Where websocket books come from: "native" (the product's own diff-depth client, where
    # the exchange has one: binance spot), "ccxt" (ccxt.pro); "" : native where there is one.
    book_feed: str = ""
    # mode = "feed" (the desk bus, issue 14): market data from the collector at ``feed``
    # (nats://host:port), published under ``source`` (default: this venue's name); orders go
    # to the venue named by ``trade_on`` (another [venues.*] of this file), or nowhere.
    feed: str | None = None
    source: str | None = None
    trade_on: str | None = None
    login: str | None = None  # a bus login's name in the credential store (`aitbc-tui bus-login set`)
    # TLS to the bus (PEM files, relative paths from the config's directory): the desk's CA,
    # and a client certificate and key for a server that verifies clients.
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None


@dataclass(frozen=True, slots=True)
class RiskConfig:
    max_order_value: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    max_open_orders: int | None = None
    daily_traded_value: Decimal | None = None
    # Market orders go out as marketable IOC limits at most this far from the touch.
    max_slippage_bps: Decimal = Decimal(50)
    # A limit price further than this from the mid needs a second, explicit confirmation.
    price_band_pct: Decimal = Decimal(5)

    def max_order_value_for(self, venue: str) -> Decimal | None:
        """Largest order value (quote currency) allowed on ``venue``, or None for no limit."""
        return self.max_order_value.get(venue)


@dataclass(frozen=True, slots=True)
class UiConfig:
    theme: str = "dark"
    # Price impact is measured for an order worth impact_value (in impact_value_currency,
    # converted to each pair's quote); ``impact_size`` (base units), when the config sets it,
    # overrides that for every symbol, and impact_size_by_symbol for one symbol.
    impact_size: Decimal | None = None
    impact_size_by_symbol: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    impact_value: Decimal = Decimal(10000)
    impact_value_currency: str = "USDT"
    min_arb_net_bps: Decimal = Decimal(-50)
    bell: bool = True  # ring the terminal bell on every fill
    valuation: str = "USDT"  # equity and P&L totals (positions pane, `pnl`) in this currency

    def impact_size_for(self, symbol: str) -> Decimal | None:
        """Base units set in the config for ``symbol`` (or for every symbol); None: measure
        impact for ``impact_value`` instead (see ``analysis.impact_size_for_value``)."""
        return self.impact_size_by_symbol.get(symbol, self.impact_size)


@dataclass(frozen=True, slots=True)
class ArbitrageConfig:
    # When an arbitrage's legs fill unequally: "ask" the operator (a banner with hedge /
    # unwind / leave), or "hedge" the difference at market on the better venue, or "unwind"
    # the filled leg, at once (both within risk.max_slippage_bps).
    on_leg_failure: str = "ask"


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None  # the file read, or None when there was none
    venues: tuple[VenueConfig, ...] = ()
    risk: RiskConfig = field(default_factory=RiskConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # App.set_keymap
    alerts: Any = None  # alerts.AlertsConfig from [alerts]; None: no [alerts] table
    notices: tuple[str, ...] = ()  # things the operator should know (aliases, untested venues)
    arbitrage: ArbitrageConfig = field(default_factory=ArbitrageConfig)

    @property
    def is_sandbox(self) -> bool:
        """No venue configured: run the built-in sandbox venues."""
        return not self.venues

    def venue(self, name: str) -> VenueConfig | None:
        return next((v for v in self.venues if v.name == name), None)


def default_config_path() -> Path:
    return paths.config_dir() / CONFIG_FILENAME


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate the config.

    ``path`` given (``--config FILE``): the file must exist. Not given: the default
    file is read if present, else sandbox mode.
    """
    if path is None:
        path = default_config_path()
        if not path.exists():
            return Config(path=None)
    path = Path(path)
    from aitbc_tui.safeio import UnreadableFile, read_small_text

    if not path.exists() and not path.is_symlink():
        raise ConfigError(path, "", "file not found")
    try:
        # Bounded: a FIFO, /dev/zero or a huge file is one line, never a hang.
        text = read_small_text(path)
    except UnreadableFile as exc:
        raise ConfigError(path, "", exc.reason) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path | str | None = None) -> Config:
    path = Path(path) if path is not None else None
    from aitbc_tui.safeio import UnreadableFile, loads_toml

    try:
        data = loads_toml(text, path or "<config>")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except UnreadableFile as exc:
        raise ConfigError(path, "", exc.reason) from None
    return _Parser(path).parse(data)


# ---- exchange ids, without importing ccxt ------------------------------------------


@functools.lru_cache(maxsize=1)
def ccxt_exchange_ids() -> frozenset[str]:
    """ccxt's exchange ids, read from its package source (importing ccxt costs ~0.8 s)."""
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    ids = _exchanges_from_init(package_dir / "__init__.py")
    if ids:
        return ids
    # Fallback: one module per exchange at the package top level.
    return frozenset(p.stem for p in package_dir.glob("*.py") if not p.stem.startswith("_") and p.stem != "version")


def _exchanges_from_init(init_file: Path) -> frozenset[str]:
    try:
        tree = ast.parse(init_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "exchanges" for t in node.targets)
            and isinstance(node.value, ast.List)
        ):
            return frozenset(
                e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
            )
    return frozenset()


# ---- validation ----------------------------------------------------------------------

_TOP_KEYS = ("venues", "risk", "ui", "keys", "alerts", "arbitrage")
_ARBITRAGE_KEYS = ("on_leg_failure",)
ON_LEG_FAILURE = ("ask", "hedge", "unwind")
_VENUE_KEYS = ("exchange", "mode", "symbols", "api_url", "ws_url", "read_only", "dead_man_switch_s", "book_feed")
BOOK_FEEDS = ("native", "ccxt")
_FEED_KEYS = ("mode", "feed", "symbols", "source", "trade_on", "read_only", "login", "tls_ca", "tls_cert", "tls_key")
_RISK_KEYS = ("max_order_value", "max_open_orders", "daily_traded_value", "max_slippage_bps", "price_band_pct")
_UI_KEYS = ("theme", "impact_size", "min_arb_net_bps", "bell", "impact_value", "valuation")
_ASSET_RE = re.compile(r"^[A-Za-z0-9]{1,16}$")


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


class _Parser:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.notices: list[str] = []

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.path, key, problem)

    def check_keys(self, table: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> None:
        for name in table:
            if name not in allowed:
                dotted = f"{key}.{name}" if key else name
                raise self.error(dotted, f"unknown key; allowed keys: {', '.join(allowed)}")

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {_type_name(value)}")
        return value

    def decimal(self, value: Any, key: str, *, positive: bool = True) -> Decimal:
        allowed = 'a decimal number written as a string, e.g. "1000"'
        if isinstance(value, bool) or isinstance(value, float):
            hint = f' (write "{value}" in quotes: floats are not exact)' if isinstance(value, float) else ""
            raise self.error(key, f"must be {allowed}, got {_type_name(value)}{hint}")
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                raise self.error(key, f"{value!r} is not a number; allowed: {allowed}") from None
        else:
            raise self.error(key, f"must be {allowed}, got {_type_name(value)}")
        if not number.is_finite():
            raise self.error(key, f"{value!r} is not finite; allowed: {allowed}")
        if positive and number <= 0:
            raise self.error(key, f"{value!r} must be greater than 0")
        return number

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, f"{value!r} is not allowed; use true or false")
        return value

    def url(self, value: Any, key: str, schemes: tuple[str, ...]) -> str:
        allowed = " or ".join(f"{s}://host[:port]" for s in schemes)
        if not isinstance(value, str):
            raise self.error(key, f"must be a URL string ({allowed}), got {_type_name(value)}")
        parts = urlsplit(value.strip())
        if parts.scheme not in schemes or not parts.netloc or parts.query or parts.fragment:
            raise self.error(key, f"{value!r} is not allowed; use {allowed} (an optional path prefix is kept)")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise self.error(key, f"{value!r} has an invalid port; use {allowed}") from None
        return value.strip().rstrip("/")

    # ---- sections

    def parse(self, data: Mapping[str, Any]) -> Config:
        self.check_keys(data, "", _TOP_KEYS)
        venues = self.venues(data.get("venues", {}))
        self.check_feeds(venues)
        names = {v.name for v in venues}
        risk = self.risk(data.get("risk", {}), names)
        ui = self.ui(data.get("ui", {}))
        keys = self.keys(data.get("keys", {}))
        alerts = self.alerts(data["alerts"]) if "alerts" in data else None
        arbitrage = self.arbitrage(data.get("arbitrage", {}))
        return Config(
            path=self.path,
            venues=venues,
            risk=risk,
            ui=ui,
            keys=MappingProxyType(keys),
            alerts=alerts,
            notices=tuple(self.notices),
            arbitrage=arbitrage,
        )

    def arbitrage(self, value: Any) -> ArbitrageConfig:
        table = self.table(value, "arbitrage")
        self.check_keys(table, "arbitrage", _ARBITRAGE_KEYS)
        policy = table.get("on_leg_failure", "ask")
        if policy not in ON_LEG_FAILURE:
            raise self.error("arbitrage.on_leg_failure",
                             f"{policy!r} is not allowed; use one of {', '.join(repr(p) for p in ON_LEG_FAILURE)}")  # fmt: skip
        return ArbitrageConfig(on_leg_failure=policy)

    def alerts(self, value: Any):
        """``[alerts]``: rate limit, channels and ``[[alerts.rules]]`` (see aitbc_tui.alerts)."""
        from aitbc_tui.alerts import RuleError, parse_alerts

        try:
            return parse_alerts(self.table(value, "alerts"))
        except RuleError as exc:
            raise self.error(exc.key, exc.problem) from None

    def venues(self, value: Any) -> tuple[VenueConfig, ...]:
        table = self.table(value, "venues")
        return tuple(self.venue(name, spec) for name, spec in table.items())

    def venue(self, name: str, value: Any) -> VenueConfig:
        key = f"venues.{name}"
        if not _VENUE_NAME_RE.match(name):
            raise self.error(
                key, "venue name must be 1-32 letters, digits, '-' or '_', starting with a letter or digit"
            )
        spec = self.table(value, key)
        if spec.get("mode") == "feed":
            return self.feed_venue(name, key, spec)
        self.check_keys(spec, key, _VENUE_KEYS)
        for required in ("exchange", "mode", "symbols"):
            if required not in spec:
                raise self.error(f"{key}.{required}", "is required")
        exchange = self.exchange(spec["exchange"], f"{key}.exchange")

        mode_value = spec["mode"]
        allowed_modes = ", ".join(m.value for m in VENUE_MODES) + ' (or "feed" with feed = "nats://…")'
        if not isinstance(mode_value, str) or mode_value not in {m.value for m in VENUE_MODES}:
            raise self.error(f"{key}.mode", f"{mode_value!r} is not allowed; use one of {allowed_modes}")
        mode = Mode(mode_value)

        symbols_value = spec["symbols"]
        if not isinstance(symbols_value, list) or not symbols_value:
            raise self.error(f"{key}.symbols", 'must be a non-empty array of symbols like ["BTC/USDT"]')
        symbols: list[str] = []
        for i, symbol in enumerate(symbols_value):
            if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol):
                raise self.error(
                    f"{key}.symbols[{i}]",
                    f'{symbol!r} is not a symbol; use BASE/QUOTE as ccxt writes it, e.g. "BTC/USDT"',
                )
            if symbol in symbols:
                raise self.error(f"{key}.symbols[{i}]", f"{symbol!r} is listed twice")
            symbols.append(symbol)

        api_url = self.url(spec["api_url"], f"{key}.api_url", ("http", "https")) if "api_url" in spec else None
        ws_url = self.url(spec["ws_url"], f"{key}.ws_url", ("ws", "wss")) if "ws_url" in spec else None
        if ws_url is not None and api_url is None:
            # Websocket at one host, REST (orders, snapshots) at another is never what is meant.
            raise self.error(
                f"{key}.ws_url",
                "needs api_url as well (both point at the same emulator or proxy); "
                "remove both to use the exchange's own URLs",
            )
        read_only = spec.get("read_only", False)
        if not isinstance(read_only, bool):
            raise self.error(f"{key}.read_only", f"must be true or false, got {_type_name(read_only)}")
        dead_man = spec.get("dead_man_switch_s")
        if dead_man is not None:
            dkey = f"{key}.dead_man_switch_s"
            if isinstance(dead_man, bool) or not isinstance(dead_man, int) or not 10 <= dead_man <= 86400:
                raise self.error(dkey, f"{dead_man!r} is not allowed; use whole seconds from 10 to 86400")
            if mode is Mode.PAPER:
                raise self.error(dkey, "has no effect in paper mode (orders never reach the venue); remove it")
        book_feed = spec.get("book_feed", "")
        if "book_feed" in spec:
            fkey = f"{key}.book_feed"
            if not isinstance(book_feed, str) or book_feed not in BOOK_FEEDS:
                raise self.error(fkey, f"{book_feed!r} is not allowed; use one of {', '.join(map(repr, BOOK_FEEDS))}")
            from aitbc_tui.venues.quirks import quirks

            if book_feed == "native" and not quirks(exchange).native_book_feed:
                raise self.error(
                    fkey, f'{exchange} has no native book feed (binance has); use "ccxt" or remove the key'
                )
        return VenueConfig(
            name=name,
            exchange=exchange,
            mode=mode,
            symbols=tuple(symbols),
            api_url=api_url,
            ws_url=ws_url,
            read_only=read_only,
            dead_man_switch_s=dead_man,
            book_feed=book_feed,
        )

    def feed_venue(self, name: str, key: str, spec: Mapping[str, Any]) -> VenueConfig:
        """``mode = "feed"``: ``feed`` (required), ``symbols`` (optional: all the collector
        publishes), ``source``, ``trade_on``, ``read_only``."""
        self.check_keys(spec, key, _FEED_KEYS)
        if "feed" not in spec:
            raise self.error(
                f"{key}.feed", 'is required with mode = "feed": the desk\'s NATS server, e.g. "nats://127.0.0.1:4222"'
            )
        feed = self.url(spec["feed"], f"{key}.feed", ("nats", "tls"))
        if "@" in urlsplit(feed).netloc:
            raise self.error(
                f"{key}.feed", "put no user, password or token in the URL; store a token with `aitbc-tui keys` instead"
            )
        symbols: list[str] = []
        raw = spec.get("symbols", [])
        if not isinstance(raw, list):
            raise self.error(f"{key}.symbols", 'must be an array of symbols like ["BTC/USDT"]')
        for i, symbol in enumerate(raw):
            if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol) or symbol in symbols:
                raise self.error(f"{key}.symbols[{i}]", f"{symbol!r} is not a symbol (or is listed twice)")
            symbols.append(symbol)
        names = {}
        for field_name in ("source", "trade_on", "login"):
            value = spec.get(field_name)
            if value is not None and (not isinstance(value, str) or not _VENUE_NAME_RE.match(value)):
                raise self.error(f"{key}.{field_name}", f"{value!r} is not a venue name")
            names[field_name] = value
        if names["trade_on"] == name:
            raise self.error(f"{key}.trade_on", "names this venue itself; name another [venues.*] of this file")
        read_only = spec.get("read_only", False)
        if not isinstance(read_only, bool):
            raise self.error(f"{key}.read_only", f"must be true or false, got {_type_name(read_only)}")
        tls = {
            f: self.file_path(spec[f], f"{key}.{f}") if f in spec else None for f in ("tls_ca", "tls_cert", "tls_key")
        }
        if (tls["tls_cert"] is None) != (tls["tls_key"] is None):
            missing = "tls_key" if tls["tls_key"] is None else "tls_cert"
            raise self.error(f"{key}.{missing}", "is required too: a client certificate needs its certificate and key")
        return VenueConfig(name=name, exchange="", mode=Mode.FEED, symbols=tuple(symbols), read_only=read_only,
                           feed=feed, source=names["source"], trade_on=names["trade_on"], login=names["login"],
                           tls_ca=tls["tls_ca"], tls_cert=tls["tls_cert"], tls_key=tls["tls_key"])  # fmt: skip

    def file_path(self, value: Any, key: str) -> str:
        """A file named in the config: relative to the config's directory; it must exist."""
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a file path string, got {_type_name(value)}")
        path = Path(value.strip()).expanduser()
        if not path.is_absolute() and self.path is not None:
            path = Path(self.path).parent / path
        if not path.is_file():
            raise self.error(key, f"{str(path)!r}: no such file")
        return str(path)

    def check_feeds(self, venues: tuple[VenueConfig, ...]) -> None:
        by_name = {v.name: v for v in venues}
        used: dict[str, str] = {}
        for v in venues:
            if v.mode is not Mode.FEED or v.trade_on is None:
                continue
            target = by_name.get(v.trade_on)
            key = f"venues.{v.name}.trade_on"
            if target is None:
                raise self.error(key, f"no venue named {v.trade_on!r} in this file")
            if target.mode is Mode.FEED:
                raise self.error(key, f"{v.trade_on!r} is a feed venue; name a paper, testnet or live venue")
            if v.trade_on in used:
                raise self.error(key, f"{v.trade_on!r} is already traded on by feed venue {used[v.trade_on]!r}")
            used[v.trade_on] = v.name

    def exchange(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(key, f'must be a ccxt exchange id such as "binance", got {_type_name(value)}')
        exchange = value
        if exchange in EXCHANGE_ALIASES:
            target, why = EXCHANGE_ALIASES[exchange]
            self.notices.append(f'{key}: "{exchange}" is now "{target}" in ccxt ({why}); using "{target}"')
            exchange = target
        known = ccxt_exchange_ids()
        if not known:
            raise self.error(key, "ccxt is not installed, so no exchange can be used; install ccxt or remove [venues]")
        if exchange not in known:
            close = sorted(e for e in known if e.startswith(exchange[:4].lower()))[:8]
            hint = f"; similar ids: {', '.join(close)}" if close else ""
            raise self.error(
                key,
                f"{value!r} is not a ccxt exchange id; tested: {', '.join(sorted(TESTED_EXCHANGES))}; "
                f"any of ccxt's {len(known)} ids is accepted{hint}",
            )
        if exchange not in TESTED_EXCHANGES:
            self.notices.append(
                f"{key}: {exchange!r} is not one of the tested exchanges ({', '.join(sorted(TESTED_EXCHANGES))}); "
                "it may work through ccxt, start it in paper mode first"
            )
        return exchange

    def risk(self, value: Any, venue_names: set[str]) -> RiskConfig:
        table = self.table(value, "risk")
        self.check_keys(table, "risk", _RISK_KEYS)
        max_order_value: dict[str, Decimal] = {}
        if "max_order_value" in table:
            limits = self.table(table["max_order_value"], "risk.max_order_value")
            for venue, limit in limits.items():
                key = f"risk.max_order_value.{venue}"
                if venue_names and venue not in venue_names:
                    raise self.error(
                        key, f"no venue named {venue!r}; configured venues: {', '.join(sorted(venue_names))}"
                    )
                max_order_value[venue] = self.decimal(limit, key)
        max_open_orders = table.get("max_open_orders")
        if max_open_orders is not None and (
            isinstance(max_open_orders, bool) or not isinstance(max_open_orders, int) or max_open_orders < 1
        ):
            raise self.error("risk.max_open_orders", f"{max_open_orders!r} is not allowed; use a whole number >= 1")
        daily = table.get("daily_traded_value")
        return RiskConfig(
            max_order_value=MappingProxyType(max_order_value),
            max_open_orders=max_open_orders,
            daily_traded_value=self.decimal(daily, "risk.daily_traded_value") if daily is not None else None,
            max_slippage_bps=self.decimal(table.get("max_slippage_bps", "50"), "risk.max_slippage_bps"),
            price_band_pct=self.decimal(table.get("price_band_pct", "5"), "risk.price_band_pct"),
        )

    def ui(self, value: Any) -> UiConfig:
        table = self.table(value, "ui")
        self.check_keys(table, "ui", _UI_KEYS)
        theme = table.get("theme", "dark")
        if not isinstance(theme, str) or not _THEME_RE.match(theme):
            raise self.error("ui.theme", f'{theme!r} is not allowed; use a theme name such as "dark"')
        impact_size: Decimal | None = None
        by_symbol: dict[str, Decimal] = {}
        if "impact_size" in table:
            raw = table["impact_size"]
            if isinstance(raw, dict):
                for symbol, size in raw.items():
                    key = f"ui.impact_size.{symbol}"
                    if symbol == "default":
                        impact_size = self.decimal(size, key)
                    elif not _SYMBOL_RE.match(symbol):
                        raise self.error(key, 'keys must be symbols like "BTC/USDT" (quoted) or "default"')
                    else:
                        by_symbol[symbol] = self.decimal(size, key)
            else:
                impact_size = self.decimal(raw, "ui.impact_size")
        min_arb = table.get("min_arb_net_bps", "-50")
        valuation = table.get("valuation", "USDT")
        if not isinstance(valuation, str) or not _ASSET_RE.match(valuation):
            raise self.error("ui.valuation", f'{valuation!r} is not allowed; use an asset code such as "USDT"')
        return UiConfig(
            theme=theme,
            impact_size=impact_size,
            impact_size_by_symbol=MappingProxyType(by_symbol),
            impact_value=self.decimal(table.get("impact_value", "10000"), "ui.impact_value"),
            min_arb_net_bps=self.decimal(min_arb, "ui.min_arb_net_bps", positive=False),
            bell=self.boolean(table.get("bell", True), "ui.bell"),
            valuation=valuation.upper(),
        )

    def keys(self, value: Any) -> dict[str, str]:
        """``[keys]``: action id (one of KEY_ACTIONS) -> key or keys. Refused: an unknown id,
        and one key for two actions (two entries, or an entry and an action left on its
        default key: Textual would silently drop one of them)."""
        import unicodedata

        def canonical(name: str) -> str:
            # Textual's name for a key: one punctuation character by its Unicode name
            # ("?" is question_mark), as textual.keys._character_to_key does.
            if len(name) != 1 or name.isalnum():
                return name
            if name == "\t":
                return "tab"
            try:
                long = unicodedata.name(name).lower().replace("-", "_").replace(" ", "_")
            except ValueError:
                return name
            replacements = {
                "solidus": "slash",
                "reverse_solidus": "backslash",
                "commercial_at": "at",
                "hyphen_minus": "minus",
                "plus_sign": "plus",
                "low_line": "underscore",
            }
            return replacements.get(long, long)

        table = self.table(value, "keys")
        keymap: dict[str, str] = {}
        for action, keys in table.items():
            key = f"keys.{action}"
            if not _ACTION_RE.match(action):
                raise self.error(key, "action ids are letters, digits, '_', '.' or '-'")
            if isinstance(keys, str):
                keys = [k.strip() for k in keys.split(",")]
            if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k.strip() for k in keys):
                raise self.error(key, 'must be a key such as "ctrl+b" or an array of keys such as ["f5", "ctrl+r"]')
            if action not in KEY_ACTIONS:
                raise self.error(key, f"unknown action id; allowed: {', '.join(KEY_ACTIONS)}")
            keymap[action] = ",".join(k.strip() for k in keys)

        # Every key in force after the remap, with the action it does.
        owner: dict[str, tuple[str, str]] = {}  # canonical key -> (action, key as written)
        for action, defaults in KEY_ACTIONS.items():
            if action not in keymap:
                for written in defaults:
                    owner.setdefault(canonical(written), (action, written))
        for action, keys in keymap.items():
            for written in keys.split(","):
                other = owner.get(canonical(written))
                if other is not None and other[0] != action:
                    other_action, other_written = other
                    where = f"keys.{other_action}" if other_action in keymap else f"{other_action} (its default key)"
                    raise self.error(
                        f"keys.{action}",
                        f'"{written}" is also the key of {where} ("{other_written}"): '
                        "one key does one action; map one of them to another key",
                    )
                owner[canonical(written)] = (action, written)
        return keymap


__all__ = [
    "ArbitrageConfig",
    "CONFIG_FILENAME",
    "Config",
    "ConfigError",
    "RiskConfig",
    "UiConfig",
    "VenueConfig",
    "ccxt_exchange_ids",
    "default_config_path",
    "load_config",
    "parse_config",
]
