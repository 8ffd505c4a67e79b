"""A real exchange through ccxt: REST via ``ccxt.async_support``, books via ``ccxt.pro``.

ccxt is imported lazily (inside methods) so importing this module stays cheap. Money
crosses the ccxt edge in ``ccxt_convert``: every float ccxt hands back becomes ``Decimal``.

Converters from ccxt's structures live in ``ccxt_convert``, per-exchange facts in
``quirks``, the paper venue in ``paper`` (all re-exported here for old importers).

Modes: ``paper`` uses only the public feed (no keys; ``PaperVenue`` fills orders
locally), ``testnet`` switches ccxt to the venue's test network, ``live`` trades with
keys from the credential store. A create is never retried: on a timeout the caller
looks the order up by client id (``fetch_order_by_client_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from aitbc_tui.config import ConfigError, VenueConfig
from aitbc_tui.domain import (
    ZERO,
    Balance,
    BookSnapshot,
    FeatureUnavailable,
    InsufficientFunds,
    Market,
    Mode,
    Order,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    Transfer,
    VenueError,
    VenueUnavailable,
)
from aitbc_tui.venues.ccxt_convert import (  # noqa: F401 - re-exported for importers of this module
    DECIMAL_PLACES,
    SIGNIFICANT_DIGITS,
    TICK_SIZE,
    _is_clock_skew,
    book_from_ccxt,
    market_from_ccxt,
    order_from_ccxt,
    readable_error,
    redact_error_text,
    to_decimal,
)
from aitbc_tui.venues.ccxt_import import exchange_class
from aitbc_tui.venues.paper import PaperVenue  # noqa: F401 - re-exported
from aitbc_tui.venues.quirks import TokenBucket, quirks

if TYPE_CHECKING:
    from aitbc_tui.market_data import Candle, Ticker24h, Trade
    from aitbc_tui.venues.binance_depth import BinanceDepthFeed

log = logging.getLogger(__name__)

T = TypeVar("T")
CANCEL_NONCE_RETRIES = 3

DEFAULT_STALE_AFTER_S = 15.0  # no book update for this long: rebuild the websocket client
DEFAULT_POLL_INTERVAL_S = 1.0  # REST book polling cadence when there is no websocket
MAX_BACKOFF_S = 30.0
# Set by ping(): the HTTP time of requests made in its task, without ccxt's throttle queue.
_HTTP_TIMES_MS: ContextVar[list[float] | None] = ContextVar("aitbc_http_times_ms", default=None)
MAX_RESYNCS_IN_A_ROW = 3  # sequence gaps on one watch before it counts as a feed failure


def _hms(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch)) + " UTC"


class RedactingLogger:
    """Stands in for a ccxt exchange's logger: formats each record and replaces the API
    key, secret and passphrase with ``****`` before it reaches any handler."""

    def __init__(self, logger: logging.Logger, credentials: Any) -> None:
        self._logger = logger
        values = [credentials.api_key, credentials.secret, credentials.passphrase]
        self._values = [v for v in values if v is not None and v]  # Secrets: redacted in any repr

    def _redact(self, text: str) -> str:
        for secret in self._values:
            text = text.replace(secret.reveal(), "****")
        return text

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self._logger.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(str(a) for a in (msg, *args))
        kwargs.pop("exc_info", None)  # a traceback's locals could hold the values
        self._logger.log(level, "%s", self._redact(text), **kwargs)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.DEBUG, msg, *args, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.INFO, msg, *args, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.WARNING, msg, *args, **kwargs)

    warn = warning

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.ERROR, msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.ERROR, msg, *args, **kwargs)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.CRITICAL, msg, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return self._logger.isEnabledFor(level)

    def __repr__(self) -> str:
        return f"RedactingLogger({self._logger.name!r})"


def _record_status(exchange: Any) -> None:
    """Keep the HTTP status of the client's last answer (``aitbc_last_status``): whether an
    exchange error answering a create is an explicit refusal (4xx) or not (5xx, none)."""
    original = exchange.handle_errors

    def handle_errors(code, *args: Any, **kwargs: Any) -> Any:
        exchange.aitbc_last_status = code
        return original(code, *args, **kwargs)

    exchange.aitbc_last_status = None
    exchange.handle_errors = handle_errors


def _time_http(exchange: Any) -> None:
    """Record the duration of each HTTP request made where ``_HTTP_TIMES_MS`` is set."""
    fetch = exchange.fetch

    async def timed_fetch(*args: Any, **kwargs: Any) -> Any:
        times = _HTTP_TIMES_MS.get()
        if times is None:
            return await fetch(*args, **kwargs)
        started = time.perf_counter()
        try:
            return await fetch(*args, **kwargs)
        finally:
            times.append((time.perf_counter() - started) * 1000)

    exchange.fetch = timed_fetch


# ---- URL redirection ---------------------------------------------------------------


def _replace_base(url: str, base: str) -> str:
    """``url`` with scheme+host from ``base``; ``base``'s path, if any, prefixes the path."""
    old = urlsplit(url)
    new = urlsplit(base)
    prefix = new.path.rstrip("/")
    path = old.path
    if prefix and not path.startswith(prefix):
        path = prefix + path
    return urlunsplit((new.scheme, new.netloc, path, old.query, old.fragment))


class _LazyLock:
    """An asyncio.Lock made on first use, in the loop that uses it (venues are built
    before the app's loop runs)."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None

    def get(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock


# (exchange, task): the exchange whose ccxt throttle this task has already paid for the
# request it is about to make (``_serialise_private``). A context variable, and the task
# kept too (a task started meanwhile copies the context): no other request, public or
# private, skips the throttle on account of it.
_THROTTLE_PAID: ContextVar[tuple[object, object] | None] = ContextVar("aitbc_throttle_paid", default=None)


def _serialise_private(exchange: Any, lock: _LazyLock) -> None:
    """Send ``exchange``'s private requests one at a time (ccxt signs, and so takes the
    nonce, inside fetch2): each nonce then reaches the venue after the one before it.

    ccxt's own throttle wait comes first, outside the turn (kraken's private throttle is
    3 s a request; inside the turn it held every other private request, the kill switch's
    cancels among them). ccxt's fetch2 then runs whole inside the turn (sign, fetch and what
    it records), its throttle call answered at once because this task has just paid it.
    The exchange is shared: ``enableRateLimit`` is never touched, so a public request that
    arrives during a private turn still waits in ccxt's throttle.
    tests/test_kraken_nonce.py checks the fetch2 this relies on: one throttle a request,
    through ``exchange.throttle``, before the signing.
    """
    fetch2 = exchange.fetch2
    throttle = exchange.throttle

    async def prepaid_throttle(cost: Any = None) -> Any:
        paid = _THROTTLE_PAID.get()
        if paid is not None and paid[0] is exchange and paid[1] is asyncio.current_task():
            _THROTTLE_PAID.set(None)  # once: only the throttle of the request it was paid for
            return None
        return await throttle(cost)

    async def serial_fetch2(path: Any, api: Any = "public", method: str = "GET", params: Any = None,
                            config: Any = None) -> Any:  # fmt: skip
        params = {} if params is None else params
        config = {} if config is None else config
        if not (api == "private" or (isinstance(api, (list, tuple)) and "private" in api)):
            return await fetch2(path, api, method, params, config)
        paid = None
        if exchange.enableRateLimit:  # the wait outside the turn: it must not hold the others
            await throttle(exchange.calculate_rate_limiter_cost(api, method, path, params, config))
            paid = _THROTTLE_PAID.set((exchange, asyncio.current_task()))
        try:
            async with lock.get():
                return await fetch2(path, api, method, params, config)
        finally:
            if paid is not None:
                _THROTTLE_PAID.reset(paid)

    exchange.throttle = prepaid_throttle
    exchange.fetch2 = serial_fetch2


async def wait_for_keeping_cancel(awaitable: Awaitable[T], timeout: float) -> T:
    """``asyncio.wait_for`` without its Python 3.11 flaw: a cancel that lands as the
    awaited thing completes is dropped (wait_for returns the result). A book watch that
    dropped the cancel went on watching, and quitting waited on it forever."""
    result = await asyncio.wait_for(awaitable, timeout)
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return result


def redirect_urls(api: Any, api_url: str | None, ws_url: str | None, exchange_id: str = "") -> Any:
    """A copy of ``exchange.urls['api']`` with REST URLs moved to ``api_url`` and websocket
    URLs to ``ws_url`` (nested dicts walked, paths kept). Binance's spot stream URL keeps
    ``/stream`` in its path: ccxt.pro resolves a symbol as spot only when it is there."""
    if isinstance(api, dict):
        return {k: redirect_urls(v, api_url, ws_url, exchange_id) for k, v in api.items()}
    if not isinstance(api, str) or "://" not in api:
        return api
    scheme = api.split("://", 1)[0].lower()
    if scheme in ("http", "https") and api_url:
        return _replace_base(api, api_url)
    if scheme in ("ws", "wss") and ws_url:
        new = _replace_base(api, ws_url)
        host = urlsplit(api).hostname or ""
        facts = quirks(exchange_id)
        if facts.ws_spot_stream_path and host.startswith("stream.") and "/stream" not in new:
            parts = urlsplit(new)
            new = urlunsplit((parts.scheme, parts.netloc, "/stream" + parts.path, parts.query, parts.fragment))
        if facts.ws_private_host and host.startswith(facts.ws_private_host):
            # A private websocket on another host: kept apart on the one ws_url (kraken: /auth/v2).
            parts = urlsplit(_replace_base(api, ws_url.split("://", 1)[0] + "://" + urlsplit(ws_url).netloc))
            new = urlunsplit(
                (parts.scheme, parts.netloc, facts.ws_private_path + parts.path, parts.query, parts.fragment)
            )
        return new
    return api


def iter_urls(api: Any) -> list[str]:
    if isinstance(api, dict):
        return [u for v in api.values() for u in iter_urls(v)]
    return [api] if isinstance(api, str) else []


# ---- the venue -------------------------------------------------------------------------


class CcxtVenue:
    """One configured venue through ccxt. Implements ``venues.base.Venue``."""

    def __init__(
        self,
        config: VenueConfig,
        *,
        credentials: Any = None,  # credentials.Credentials, or None (public data only)
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        use_websocket: bool | None = None,  # None: when the exchange has it and the URL is not left on the internet
        timeout_ms: int = 10_000,
    ) -> None:
        self.name = config.name
        self.mode = config.mode
        self.config = config
        self.exchange_id = config.exchange
        self.read_only = config.read_only or bool(getattr(credentials, "read_only", False))
        self._credentials = credentials
        self._stale_after_s = stale_after_s
        self._poll_interval_s = poll_interval_s
        self._use_websocket = use_websocket
        self._timeout_ms = timeout_ms
        self._pro_has_book: bool | None = None
        self._rest: Any = None
        self._trade: Any = None  # the order lane: its own client, never behind polling
        self.quirks = quirks(config.exchange)
        self._lane = TokenBucket(self.quirks.order_lane)
        self._nonce_last = 0
        self.cancel_nonce_retries = 0  # cancels sent again after the venue refused their nonce
        self._private_lock = _LazyLock()  # quirks.serial_private: one signed request at a time
        self.rate_limited_until: float | None = None  # epoch s: a 429's window
        self.banned_until: float | None = None  # epoch s: a 418's (IP ban) window
        self._cancel_tried_in_window = False
        self._ws: Any = None
        self._ws_lock = asyncio.Lock()
        self._markets: dict[str, Market] = {}
        self._last_book: dict[str, BookSnapshot] = {}
        self._last_poll: dict[str, float] = {}
        self._backoff_s: dict[str, float] = {}
        self._sequence = 0
        self._ccxt_resyncs = 0  # book resubscriptions after a sequence gap (ccxt ChecksumError)
        self._depth_feed: BinanceDepthFeed | None = None  # the native book feed, once used
        self._depth_feed_lock = asyncio.Lock()
        self._orders: dict[str, Order] = {}  # by venue order id, as last seen
        self._trade_cursors: dict[str, tuple[float, frozenset[str]]] = {}  # watch_trades: newest seen
        # watch_trades by websocket: None until decided; False once the websocket refused the
        # trade channel or never delivered (then fetch_trades polling, for the session).
        self._trades_ws: bool | None = None
        self._trades_ws_delivered = False
        self._dead_man_task: asyncio.Task | None = None
        self.dead_man_armed_until: float | None = None  # epoch seconds, as last re-armed
        self.probe = ""
        self.last_feed_event = ""  # "websocket", "rest", "watchdog: ..." for diagnostics
        if self.mode is Mode.LIVE and credentials is None:
            raise ConfigError(
                None,
                f"venues.{self.name}.mode",
                f"live mode needs API keys from the credential store and none were given for {self.name!r}; "
                f'store them with `aitbc-tui keys set {self.name}` or use mode = "paper"',
            )
        # Build the REST client now: a bad testnet choice fails at start-up, not mid-session.
        self._rest = self._new_exchange(pro=False)
        self.probe = self._probe_text()
        # Orders travel in their own lane: a second client without ccxt's throttle (whose
        # queue holds book and account polls), limited by the venue's own order limits
        # (quirks: order_lane). Both clients share one nonce sequence (kraken needs it
        # strictly increasing per key).
        if credentials is not None and self.mode is not Mode.PAPER:
            self._trade = self._new_exchange(pro=False)
            self._trade.enableRateLimit = False
            self._rest.nonce = self._shared_nonce
            self._trade.nonce = self._shared_nonce
            if self.quirks.serial_private:
                _serialise_private(self._rest, self._private_lock)
                _serialise_private(self._trade, self._private_lock)

    def __repr__(self) -> str:
        return f"CcxtVenue(name={self.name!r}, exchange={self.exchange_id!r}, mode={self.mode.value})"

    # ---- construction

    def _new_exchange(self, *, pro: bool) -> Any:
        # Only this exchange's modules: ``import ccxt.pro`` imports all ~110 (about 1 s).
        cls = exchange_class(self.exchange_id, pro=pro)
        if cls is None:
            raise ConfigError(
                None,
                f"venues.{self.name}.exchange",
                f"{self.exchange_id!r} has no {'websocket' if pro else 'REST'} client in ccxt",
            )
        options = {"maxRetriesOnFailure": 0, **copy.deepcopy(dict(self.quirks.ccxt_options))}
        exchange = cls({"enableRateLimit": True, "timeout": self._timeout_ms, "options": options})
        exchange.options["maxRetriesOnFailure"] = 0  # never retry: a create must not be sent twice
        if not self.quirks.fetch_currencies:
            exchange.has["fetchCurrencies"] = False
        if self.mode is Mode.TESTNET:
            try:
                exchange.set_sandbox_mode(True)
            except Exception as exc:  # ccxt raises TypeError (no urls['test']) or NotSupported
                raise ConfigError(
                    None,
                    f"venues.{self.name}.mode",
                    f"{self.exchange_id} has no test network in ccxt ({type(exc).__name__}); "
                    'use mode = "paper" to practise against the real order book without risking funds',
                ) from None
        exchange.urls["api"] = redirect_urls(
            exchange.urls["api"], self.config.api_url, self.config.ws_url, self.exchange_id
        )
        if not pro:
            _time_http(exchange)
            _record_status(exchange)
        if self._credentials is not None and self.mode is not Mode.PAPER:
            # ccxt logs request headers (with the API key) at DEBUG: redact its log lines.
            exchange.logger = RedactingLogger(exchange.logger or logging.getLogger("ccxt"), self._credentials)
            exchange.apiKey = self._credentials.api_key.reveal()
            exchange.secret = self._credentials.secret.reveal()
            if self._credentials.passphrase is not None:
                exchange.password = self._credentials.passphrase.reveal()
        return exchange

    def _shared_nonce(self) -> int:
        self._nonce_last = max(self._nonce_last + 1, int(time.time() * 1000))
        return self._nonce_last

    @property
    def _orders_client(self) -> Any:
        return self._trade if self._trade is not None else self._rest

    def supports(self, option: str) -> bool:
        """Whether the venue takes ``option`` (gtc, ioc, fok, post_only) on spot orders."""
        return option in self.quirks.order_options

    def _probe_text(self) -> str:
        if not self._rest.has.get("fetchTime"):
            return "fetch_status"
        path = self.quirks.probe_path
        return f"fetch_time ({path})" if path else "fetch_time"

    @property
    def account_interval_s(self) -> float:
        """How often the service should poll balances and orders: each poll is three
        private calls, and ccxt's throttle queues an order behind them, so a venue with a
        slow private rate (kraken: ~3 s a call) is polled less often than a fast one."""
        rate_limit_s = float(getattr(self._rest, "rateLimit", 50) or 50) / 1000
        interval = max(1.0, 10 * rate_limit_s)
        # Binance reports the IP weight used this minute: slow down before a 429 happens.
        header, budget = self.quirks.weight_header, self.quirks.weight_per_minute
        headers = getattr(self._rest, "last_response_headers", None) or {}
        used = next((v for k, v in dict(headers).items() if header and str(k).lower() == header), None)
        try:
            share = float(used) / budget if used is not None else 0.0
        except ValueError:
            share = 0.0
        if share > 0.9:
            return interval * 10
        if share > 0.7:
            return interval * 3
        return interval

    @property
    def resyncs(self) -> int:
        """Book resyncs after a sequence gap so far: ccxt.pro's resubscriptions and the
        native feed's new snapshots (gap, crossed book, a snapshot that did not join)."""
        return self._ccxt_resyncs + (self._depth_feed.resyncs if self._depth_feed is not None else 0)

    @property
    def native_books(self) -> bool:
        """Whether websocket books come from the product's own depth client (quirks:
        ``native_book_feed``; config ``book_feed = "ccxt"`` keeps ccxt.pro)."""
        return bool(self.quirks.native_book_feed) and self.config.book_feed != "ccxt" and self.uses_websocket

    @property
    def uses_websocket(self) -> bool:
        if self._use_websocket is not None:
            return self._use_websocket
        if self.config.api_url and not self.config.ws_url:
            return False  # REST redirected, websocket not: polling keeps us off the internet
        if self._pro_has_book is None:
            cls = exchange_class(self.exchange_id, pro=True)
            self._pro_has_book = bool(cls is not None and cls().has.get("watchOrderBook"))
        return self._pro_has_book

    # ---- errors

    def _error(self, exc: BaseException) -> VenueError:
        import ccxt

        message = readable_error(self.name, self.exchange_id, str(exc) or type(exc).__name__)
        if isinstance(exc, VenueError):
            return exc
        if isinstance(exc, InvalidOperation):
            return OrderRejected(f"{self.name}: amount or price is not a finite number")
        if isinstance(exc, ccxt.InsufficientFunds):
            return InsufficientFunds(message)
        if isinstance(exc, ccxt.OrderNotFound):
            return OrderNotFound(message)
        if isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied | ccxt.AccountSuspended):
            return VenueError(
                f"{message} — authentication failed: check the API key, secret"
                f"{' and passphrase' if self.quirks.needs_passphrase else ''}, their permissions and the clock"
            )
        if isinstance(exc, ccxt.NotSupported):
            return FeatureUnavailable(message)
        if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.ArgumentsRequired):
            return OrderRejected(message)
        # NetworkError and its kin are VenueUnavailable: the outcome of the request is
        # unknown, so a create answered with one is looked up by client id, never resent.
        if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            retry = self._retry_after_s()
            wait = f", retry after {retry} s" if retry is not None else ""
            return VenueUnavailable(f"{self.name}: rate limited{wait} ({message.removeprefix(self.name + ': ')})")
        if isinstance(exc, ccxt.ChecksumError):
            return VenueUnavailable(f"{self.name}: order book sequence gap; resubscribing to resync")
        if isinstance(exc, ccxt.InvalidNonce):
            if _is_clock_skew(str(exc)):
                return VenueUnavailable(
                    f"{message} — this computer's clock is off from {self.exchange_id}'s by more than the "
                    "request window allows: synchronise it (e.g. `timedatectl set-ntp true`) and retry"
                )
            return VenueUnavailable(
                f"{message} — the exchange refused the request nonce: is another program using the same "
                "API key? Give each program its own key"
            )
        if isinstance(exc, ccxt.NetworkError):
            return VenueUnavailable(message)
        return VenueError(message)

    def _retry_after_s(self, client: Any = None) -> int | None:
        """Seconds from the last response's Retry-After header, when it had one."""
        headers = getattr(client if client is not None else self._rest, "last_response_headers", None) or {}
        for key, value in dict(headers).items():
            if str(key).lower() == "retry-after":
                try:
                    return max(0, int(float(str(value).strip())))
                except ValueError:
                    return None  # an HTTP date: not worth parsing for a message
        return None

    # ---- rate limits: after a 429 every request waits out the window; a 418 (IP ban)
    # stops all traffic to the venue until it ends.

    def rate_limit_text(self) -> str:
        """What the health pane says while a window is running ("" when none)."""
        now = time.time()
        if self.banned_until and now < self.banned_until:
            return f"IP banned (HTTP 418) until {_hms(self.banned_until)}: all traffic to {self.exchange_id} stopped"
        if self.rate_limited_until and now < self.rate_limited_until:
            return f"rate limited until {_hms(self.rate_limited_until)} (HTTP 429, Retry-After)"
        return ""

    def _check_window(self, kind: str) -> None:
        """Refuse a request that would go out inside a rate-limit window, before sending."""
        now = time.time()
        if self.banned_until and now < self.banned_until:
            text = self.rate_limit_text()
            raise OrderRejected(f"{self.name}: not sent: {text}") if kind in ("create", "cancel") else VenueUnavailable(
                f"{self.name}: {text}")  # fmt: skip
        if self.rate_limited_until and now < self.rate_limited_until:
            if kind == "cancel" and not self._cancel_tried_in_window:
                self._cancel_tried_in_window = True  # a kill switch's cancels are tried once, stated
                return
            if kind == "cancel":
                return  # the cancels of one kill switch go out together
            text = self.rate_limit_text()
            raise OrderRejected(f"{self.name}: not sent: {text}") if kind == "create" else VenueUnavailable(
                f"{self.name}: {text}")  # fmt: skip

    def _note_rate_limit(self, client: Any) -> None:
        status = getattr(client, "aitbc_last_status", None)
        retry = self._retry_after_s(client)
        now = time.time()
        if status == 418:
            self.banned_until = now + (retry if retry is not None else 120)
        else:
            self.rate_limited_until = now + (retry if retry is not None else 60)
        self._cancel_tried_in_window = False

    async def _call(self, coro_fn: Callable[[], Awaitable[T]], *, kind: str = "read", client: Any = None) -> T:
        import ccxt

        self._check_window(kind)
        try:
            return await coro_fn()
        except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
            self._note_rate_limit(client if client is not None else self._rest)
            error: VenueError = self._error(exc)
        except (ccxt.BaseError, InvalidOperation) as exc:
            error = self._error(exc)
        except asyncio.TimeoutError:
            error = VenueUnavailable(f"{self.name}: request timed out")
        except OSError as exc:
            error = VenueUnavailable(f"{self.name}: network error: {redact_error_text(str(exc))}")
        # Raised outside the handler, with no cause or context: ccxt's frames hold the
        # signed request (API key in its headers) as locals, and a traceback printed with
        # locals (Textual's crash screen) would show them.
        raise error

    def _require(self, feature: str, what: str) -> None:
        if not self._rest.has.get(feature):
            raise FeatureUnavailable(f"{self.name}: {self.exchange_id} does not support {what} through ccxt")

    def _require_keys(self) -> None:
        if self.mode is Mode.PAPER:
            raise FeatureUnavailable(f"{self.name}: paper mode has no account on the venue")
        if not self._rest.apiKey:
            raise VenueError(
                f"{self.name}: no API keys for {self.mode.value} mode; store them with `aitbc-tui keys set {self.name}`"
            )

    def _require_writable(self) -> None:
        self._require_keys()
        if self.read_only:
            raise FeatureUnavailable(
                f"{self.name}: venue is read-only (venues.{self.name}.read_only or read-only keys)"
            )

    # ---- lifecycle

    async def start(self) -> None:
        await self.load_markets()
        if self.config.dead_man_switch_s and self.mode is not Mode.PAPER and self._dead_man_task is None:
            if not self._rest.has.get("cancelAllOrdersAfter"):
                raise ConfigError(
                    None, f"venues.{self.name}.dead_man_switch_s",
                    f"{self.exchange_id} has no dead man's switch (cancelAllOrdersAfter) in ccxt; remove the key",
                )  # fmt: skip
            await self.arm_dead_man_switch()  # armed before the first order can be placed
            self._dead_man_task = asyncio.create_task(self._rearm_dead_man_switch(), name=f"dead-man:{self.name}")

    async def arm_dead_man_switch(self) -> float:
        """(Re-)arm the venue's dead man's switch; returns when it would fire (epoch s)."""
        timeout_s = int(self.config.dead_man_switch_s or 0)
        await self._call(lambda: self._rest.cancel_all_orders_after(timeout_s * 1000))
        self.dead_man_armed_until = time.time() + timeout_s
        return self.dead_man_armed_until

    async def _rearm_dead_man_switch(self) -> None:
        """Re-arm every third of the timeout, so two missed rounds still leave it armed.
        On exit it stays armed: unattended orders are cancelled when it fires."""
        interval = max(1.0, (self.config.dead_man_switch_s or 0) / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.arm_dead_man_switch()
            except VenueError as exc:
                log.warning("%s: re-arming the dead man's switch failed: %s", self.name, exc)

    async def close(self) -> None:
        if self._dead_man_task is not None:
            self._dead_man_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._dead_man_task
            self._dead_man_task = None
        if self._depth_feed is not None:
            await self._depth_feed.close()
            self._depth_feed = None
        for exchange in (self._ws, self._rest, self._trade):
            if exchange is not None:
                try:
                    await exchange.close()
                except Exception:  # closing must not fail the shutdown
                    log.debug("%s: error while closing ccxt client", self.name, exc_info=True)
        self._ws = None

    # ---- markets

    async def load_markets(self) -> Mapping[str, Market]:
        if self._markets:
            return dict(self._markets)
        raw = await self._call(lambda: self._rest.load_markets())
        missing = [s for s in self.config.symbols if s not in raw]
        if missing:
            raise VenueError(
                f"{self.name}: {', '.join(missing)} not listed on {self.exchange_id}; check venues.{self.name}.symbols"
            )
        if self._trade is not None:
            self._trade.set_markets(self._rest.markets, self._rest.currencies)
        fees = getattr(self._rest, "fees", None)
        self._markets = {s: market_from_ccxt(raw[s], self._rest.precisionMode, fees) for s in self.config.symbols}
        return dict(self._markets)

    # ---- order books

    async def watch_order_book(self, symbol: str, depth: int) -> BookSnapshot:
        if self.uses_websocket and self.native_books and ":" not in symbol:
            snapshot = await self._watch_native(symbol, depth)
        elif self.uses_websocket:
            snapshot = await self._watch_ws(symbol, depth)
        else:
            snapshot = await self._poll_rest(symbol, depth)
        self._last_book[symbol] = snapshot
        return snapshot

    def last_book(self, symbol: str) -> BookSnapshot | None:
        return self._last_book.get(symbol)

    async def _ws_client(self) -> Any:
        async with self._ws_lock:
            if self._ws is None:
                ws = self._new_exchange(pro=True)
                if self._rest.markets:
                    ws.set_markets(self._rest.markets, self._rest.currencies)
                self._ws = ws
            return self._ws

    async def _rebuild_ws(self, reason: str) -> None:
        async with self._ws_lock:
            old, self._ws = self._ws, None
        log.warning("%s: rebuilding websocket client: %s", self.name, reason)
        self.last_feed_event = f"watchdog: {reason}"
        if old is not None:
            try:
                await old.close()
            except Exception:
                log.debug("%s: closing stale websocket client failed", self.name, exc_info=True)

    # ---- the native book feed (binance spot: venues/binance_depth.py)

    async def _native_feed(self) -> BinanceDepthFeed:
        async with self._depth_feed_lock:
            if self._depth_feed is not None:
                return self._depth_feed
            from aitbc_tui.venues.binance_depth import BinanceDepthFeed

            await self.load_markets()
            markets = self._rest.markets or {}
            # Its URLs are ccxt's, moved as ccxt's are: ws_url / api_url, testnet's own hosts.
            probe = self._new_exchange(pro=True)
            try:
                spot_ws = probe.urls["api"]["ws"]["spot"]
            finally:
                with contextlib.suppress(Exception):
                    await probe.close()
            depth_url = str(self._rest.urls["api"]["public"]).rstrip("/") + "/depth"

            def market_id(symbol: str) -> str | None:
                market = markets.get(symbol)
                return str(market["id"]) if market and market.get("spot", True) else None

            symbols = {s: mid for s in self.config.symbols if ":" not in s and (mid := market_id(s))}
            self._depth_feed = BinanceDepthFeed(
                self.name, spot_ws, depth_url, symbols,
                stale_after_s=self._stale_after_s, request_timeout_s=self._timeout_ms / 1000,
                rest_blocked=self._rest_blocked_s, on_rate_limit=self._native_rate_limited, market_ids=market_id,
            )  # fmt: skip
            return self._depth_feed

    def _rest_blocked_s(self) -> float:
        now = time.time()
        return max(0.0, (self.banned_until or 0.0) - now, (self.rate_limited_until or 0.0) - now)

    def _native_rate_limited(self, status: int, retry_after_s: float | None) -> None:
        """A 429 or 418 answering a depth snapshot: the IP's window, as for ccxt's requests."""
        now = time.time()
        if status == 418:
            self.banned_until = now + (retry_after_s if retry_after_s is not None else 120)
        else:
            self.rate_limited_until = now + (retry_after_s if retry_after_s is not None else 60)
        self._cancel_tried_in_window = False

    async def _watch_native(self, symbol: str, depth: int) -> BookSnapshot:
        feed = await self._native_feed()
        snapshot = await feed.watch(symbol, depth)
        self.last_feed_event = "websocket"
        return snapshot

    async def _watch_ws(self, symbol: str, depth: int) -> BookSnapshot:
        import ccxt

        backoff = self._backoff_s.get(symbol, 0.0)
        if backoff:
            await asyncio.sleep(backoff)
        client = await self._ws_client()
        error: VenueError | None
        try:
            ob = await self._watch_resyncing(client, symbol)
        except asyncio.TimeoutError:
            # A malformed frame silently kills ccxt.pro's receive loop: start over, resync by REST.
            await self._rebuild_ws(f"no book update for {self._stale_after_s:g} s")
            return await self._poll_rest(symbol, depth, respect_cadence=False)
        except (ccxt.BaseError, OSError) as exc:
            self._backoff_s[symbol] = min(MAX_BACKOFF_S, max(1.0, backoff * 2))
            await self._rebuild_ws(f"{type(exc).__name__}: {redact_error_text(str(exc))}")
            error = (
                self._error(exc)
                if isinstance(exc, ccxt.BaseError)
                else VenueUnavailable(f"{self.name}: websocket error: {redact_error_text(str(exc))}")
            )
        else:
            error = None
        if error is not None:
            raise error  # outside the handler: no ccxt frames (and their locals) attached
        self._backoff_s.pop(symbol, None)
        self._sequence += 1
        self.last_feed_event = "websocket"
        return book_from_ccxt(self.name, symbol, ob, depth, self._sequence)

    async def _watch_resyncing(self, client: Any, symbol: str) -> Any:
        """The next book from ccxt.pro; a sequence gap (ChecksumError: ccxt drops the
        subscription) is a resync, not a failure: the next watch resubscribes and ccxt
        fetches a fresh REST snapshot. Gaps in a row beyond MAX_RESYNCS_IN_A_ROW are raised."""
        import ccxt

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._stale_after_s
        for attempt in range(MAX_RESYNCS_IN_A_ROW + 1):
            try:
                return await wait_for_keeping_cancel(client.watch_order_book(symbol), max(0.01, deadline - loop.time()))
            except ccxt.ChecksumError:
                if attempt == MAX_RESYNCS_IN_A_ROW:
                    raise
                self._ccxt_resyncs += 1
                self.last_feed_event = f"resync: {symbol} sequence gap"
                log.info("%s: %s book sequence gap; resubscribing (resync %d)", self.name, symbol, self.resyncs)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _poll_rest(self, symbol: str, depth: int, *, respect_cadence: bool = True) -> BookSnapshot:
        loop = asyncio.get_running_loop()
        backoff = self._backoff_s.get(symbol, 0.0)
        last = self._last_poll.get(symbol)
        if respect_cadence and last is not None:
            wait = max(backoff, self._poll_interval_s - (loop.time() - last))
            if wait > 0:
                await asyncio.sleep(wait)
        elif backoff:
            await asyncio.sleep(backoff)
        self._last_poll[symbol] = loop.time()
        limit = self._rest_depth_limit(depth)
        try:
            ob = await self._call(lambda: self._rest.fetch_order_book(symbol, limit))
        except VenueError:
            self._backoff_s[symbol] = min(MAX_BACKOFF_S, max(1.0, backoff * 2))
            raise
        self._backoff_s.pop(symbol, None)
        self._sequence += 1
        self.last_feed_event = "rest"
        return book_from_ccxt(self.name, symbol, ob, depth, self._sequence)

    def _rest_depth_limit(self, depth: int) -> int | None:
        limits = self.quirks.book_limits
        if limits is None or not limits:
            return None if limits is None else depth
        # The venue accepts these limits only; the smallest covering the depth costs least (weight).
        return next((n for n in limits if n >= depth), limits[-1])

    # ---- account

    async def fetch_balances(self) -> Mapping[str, Balance]:
        self._require_keys()
        self._require("fetchBalance", "balances")
        raw = await self._call(lambda: self._rest.fetch_balance())
        free = raw.get("free") or {}
        used = raw.get("used") or {}
        balances: dict[str, Balance] = {}
        for asset in set(free) | set(used):
            f = to_decimal(free.get(asset), ZERO) or ZERO
            u = to_decimal(used.get(asset), ZERO) or ZERO
            if f or u:
                balances[asset] = Balance(asset=asset, free=f, used=u)
        return balances

    async def fetch_transfers(self, since: float | None = None) -> Sequence[Transfer]:
        """Deposits and withdrawals (ccxt's fetch_deposits and fetch_withdrawals, every
        currency) at or after ``since`` (withdrawals from a second before), oldest first; only where ``quirks.transfers`` says
        they are checked (binance), else FeatureUnavailable."""
        from aitbc_tui.venues.ccxt_convert import transfer_from_ccxt

        self._require_keys()
        if not self.quirks.transfers:
            raise FeatureUnavailable(f"{self.name}: deposits and withdrawals of {self.exchange_id} are not read yet")
        self._require("fetchDeposits", "deposits")
        self._require("fetchWithdrawals", "withdrawals")
        since_ms = int(since * 1000) if since is not None else None
        raw = list(await self._call(lambda: self._rest.fetch_deposits(None, since_ms)))
        # Binance states a withdrawal's time to the second (applyTime): ask from a second
        # earlier, or one made in the same second as ``since`` would be filtered out.
        early_ms = since_ms - 1000 if since_ms is not None else None
        raw += await self._call(lambda: self._rest.fetch_withdrawals(None, early_ms))
        found = (transfer_from_ccxt(self.name, t) for t in raw)
        return sorted((t for t in found if t is not None), key=lambda t: t.time)

    async def _orders_all_symbols(
        self, method: str, limit: int | None = None, params: dict | None = None
    ) -> list[dict]:
        import ccxt

        fetch = getattr(self._rest, method)
        try:
            return await fetch(None, None, limit, params or {})
        except ccxt.ArgumentsRequired:
            pass  # this exchange wants a symbol: ask per configured symbol
        results: list[dict] = []
        for symbol in self.config.symbols:
            results.extend(await fetch(symbol, None, limit, params or {}))
        return results

    async def fetch_open_orders(self) -> Sequence[Order]:
        self._require_keys()
        self._require("fetchOpenOrders", "listing open orders")
        raw = await self._call(lambda: self._orders_all_symbols("fetch_open_orders"))
        return [self._remember(order_from_ccxt(self.name, o)) for o in raw]

    async def fetch_closed_orders(self, limit: int = 100) -> Sequence[Order]:
        self._require_keys()
        # fetch_orders first: ccxt's fetch_closed_orders keeps only status "closed" on some
        # exchanges (binance), dropping cancelled orders the history pane needs.
        if self._rest.has.get("fetchOrders") is True:
            method = "fetch_orders"
        elif self._rest.has.get("fetchClosedOrders"):
            method = "fetch_closed_orders"
        else:
            raise FeatureUnavailable(f"{self.name}: {self.exchange_id} cannot list closed orders through ccxt")
        raw = await self._call(lambda: self._orders_all_symbols(method, limit))
        orders = [order_from_ccxt(self.name, o) for o in raw]
        orders = [o for o in orders if o.status.is_final]
        orders.sort(key=lambda o: o.updated_at, reverse=True)
        return orders[:limit]

    async def fetch_order_by_client_id(self, client_order_id: str, symbol: str) -> Order | None:
        self._require_keys()
        import ccxt

        async def lookup() -> dict | None:
            by_param = self.quirks.client_id_fetch_param
            if by_param:  # the venue looks an order up by client id itself (id unused then)
                try:
                    return await self._rest.fetch_order(None, symbol, {by_param: client_order_id})
                except ccxt.OrderNotFound:
                    return None
            # kraken filters open/closed orders by cl_ord_id; others are filtered here.
            params = {"clientOrderId": client_order_id} if self.quirks.client_id_list_filter else {}
            for method, feature in (
                ("fetch_open_orders", "fetchOpenOrders"),
                ("fetch_closed_orders", "fetchClosedOrders"),
            ):
                if not self._rest.has.get(feature):
                    continue
                found = await getattr(self._rest, method)(symbol, None, None, params)
                match = [o for o in found if o.get("clientOrderId") == client_order_id]
                if match:
                    return match[0]
            return None

        raw = await self._call(lookup)
        return self._remember(order_from_ccxt(self.name, raw)) if raw else None

    # ---- private push

    async def watch_order_updates(self) -> list[tuple[Order, tuple]] | None:
        """The next order updates from the venue's user-data stream (ccxt.pro
        ``watch_orders``), or None where there is none (paper, no keys, REST-only
        venues, no watchOrders in ccxt.pro): then account polling alone keeps orders
        current. Polling stays on either way and sees the same orders."""
        if self.mode is Mode.PAPER or self._credentials is None or not self.uses_websocket:
            return None
        client = await self._ws_client()
        if not client.has.get("watchOrders"):
            return None
        error: VenueError | None
        try:
            raw = await client.watch_orders()
        except Exception as exc:  # noqa: BLE001 - classified below, raised without ccxt's frames
            error = self._error(exc) if type(exc).__module__.startswith("ccxt") else VenueUnavailable(
                f"{self.name}: user stream: {redact_error_text(str(exc))}")  # fmt: skip
        else:
            error = None
        if error is not None:
            raise error
        return [(self._remember(self._pushed_order(item)), ()) for item in raw or ()]

    def _pushed_order(self, item: Mapping[str, Any]) -> Order:
        """One ccxt.pro order update as an Order, with what ccxt gets wrong on this venue
        (quirks: ws_order_*) taken from the raw frame or from what we know of the order."""
        raw = dict(item)
        info: dict[str, Any] = raw["info"] if isinstance(raw.get("info"), dict) else {}
        facts = self.quirks
        known = self._orders.get(str(raw.get("id") or ""))
        if facts.ws_order_client_id_field:
            raw["clientOrderId"] = info.get(facts.ws_order_client_id_field)
        if facts.ws_order_filled_field and raw.get("filled") is None:
            raw["filled"] = info.get(facts.ws_order_filled_field)
            if raw.get("status") == "closed":  # a fill frame ccxt could not merge
                raw["filled"] = None
        if not raw.get("symbol"):
            # kraken's final frames carry no symbol, so ccxt cannot merge them with the order
            raw["symbol"] = known.symbol if known else (self.config.symbols[0] if len(self.config.symbols) == 1 else "")
        if not facts.ws_order_amount_trusted:
            raw["amount"] = self._pushed_amount(raw, info, known)
        if raw.get("status") == "closed" and raw.get("filled") is None:
            raw["filled"] = raw["amount"]  # filled in full
        order = order_from_ccxt(self.name, raw)
        if known is not None and not order.client_order_id:
            order = replace(order, client_order_id=known.client_order_id)
        return order

    def _pushed_amount(self, raw: Mapping[str, Any], info: Mapping[str, Any], known: Order | None) -> Any:
        """The order's amount where ccxt.pro's is the filled amount: ours, the raw field, or
        filled + remaining while some remains (a final frame's remaining is 0: unknown)."""
        if known is not None and known.amount:
            return str(known.amount)
        field = self.quirks.ws_order_amount_field
        if field and info.get(field) is not None:
            return info[field]
        filled = to_decimal(raw.get("filled"), ZERO) or ZERO
        remaining = to_decimal(raw.get("remaining"))
        if remaining is not None and (remaining > 0 or raw.get("status") == "closed"):
            return str(filled + remaining)
        return None

    # ---- trading

    def _client_id_params(self, client_order_id: str) -> dict[str, Any]:
        if not client_order_id:
            return {}
        # binance newClientOrderId, kraken cl_ord_id; coinbase: ccxt drops the unified clientOrderId
        return {self.quirks.client_id_param: client_order_id}

    def _order_params(self, request: OrderRequest) -> dict[str, Any]:
        params = self._client_id_params(request.client_order_id)
        tif = request.time_in_force.value
        if tif != "gtc" and not self.supports(tif):
            raise FeatureUnavailable(f"{self.name}: {self.exchange_id} has no {tif.upper()} orders on spot")
        if request.post_only and not self.supports("post_only"):
            raise FeatureUnavailable(f"{self.name}: {self.exchange_id} has no post-only orders")
        if tif != "gtc":
            params["timeInForce"] = tif.upper()
        if request.post_only:
            params["postOnly"] = True
        return params

    async def place_order(self, request: OrderRequest) -> Order:
        self._require_writable()
        self._require("createOrder", "placing orders")
        if request.amount <= 0:
            raise OrderRejected(f"{self.name}: amount must be greater than 0")
        if request.type is OrderType.LIMIT and (request.price is None or request.price <= 0):
            raise OrderRejected(f"{self.name}: a limit order needs a price greater than 0")
        params = self._order_params(request)
        price: Any = str(request.price) if request.price is not None else None
        if request.type is OrderType.MARKET and request.side is Side.BUY and self.quirks.market_buy_needs_price:
            # Coinbase buys by quote amount: ccxt needs a price to turn the base amount into cost.
            book = self._last_book.get(request.symbol)
            if book is None or book.best_ask is None:
                raise OrderRejected(f"{self.name}: a market buy needs a live book to price it; wait for the book")
            price = str(book.best_ask)
        client = self._orders_client
        self._check_window("create")  # refused before the lane's wait: nothing is sent
        await self._lane.wait(request.symbol)
        client.aitbc_last_status = None
        try:
            raw = await self._call(
                lambda: client.create_order(
                    request.symbol, request.type.value, request.side.value, str(request.amount), price, params
                ),
                kind="create",
                client=client,
            )
        except (VenueUnavailable, FeatureUnavailable, OrderRejected):
            raise
        except VenueError as exc:
            if "authentication failed" in str(exc):
                raise
            status = getattr(client, "aitbc_last_status", None)
            if isinstance(status, int) and status < 500 and status not in (408, 425, 429):
                # The venue answered this create with an error body (coinbase: 200 with
                # success=false; others 4xx): an explicit refusal. 5xx or no answer: unknown.
                raise OrderRejected(str(exc)) from None
            # Not an explicit refusal (a server error, an unclear reply): the order may
            # exist. The caller looks it up by client order id; it is never resent.
            raise VenueUnavailable(f"{exc}; the venue's answer does not say whether the order was placed") from None
        order = order_from_ccxt(self.name, raw, request)
        if raw.get("status") is None:
            # A terse ack (coinbase, kraken): the order exists with this id. Its details come
            # with the next account refresh, which the service starts at once; reading it
            # back here would put the ack behind a throttled lookup.
            order = replace(order, status=OrderStatus.OPEN, time_in_force=request.time_in_force,
                            post_only=request.post_only, updated_at=time.time())  # fmt: skip
        return self._remember(order)

    async def cancel_order(self, order_id: str, symbol: str) -> Order:
        self._require_writable()
        self._require("cancelOrder", "cancelling orders")
        client = self._orders_client
        await self._lane.wait(symbol)

        async def cancel() -> Any:
            import ccxt

            for attempt in range(CANCEL_NONCE_RETRIES + 1):
                try:
                    return await client.cancel_order(order_id, symbol)
                except ccxt.InvalidNonce as exc:
                    # Signed requests sent at once (the kill switch sends every cancel
                    # together) can reach the venue out of nonce order. A refused nonce is
                    # a request not acted on, and a cancel may be sent again (a create never).
                    # Under quirks.serial_private (kraken) requests go in nonce order and
                    # this is left for a nonce the venue saw from elsewhere (the same key
                    # in another process); each attempt then takes a turn of its own, the
                    # one before having left it (the turn's lock is not reentrant).
                    if attempt == CANCEL_NONCE_RETRIES or _is_clock_skew(str(exc)):
                        raise
                    self.cancel_nonce_retries += 1
            raise AssertionError("unreachable")  # pragma: no cover

        try:
            raw = await self._call(cancel, kind="cancel", client=client)
        except OrderRejected as exc:
            # Some venues (coinbase) answer a cancel of an unknown or finished order with a
            # generic failure: look the order up to say which.
            if isinstance(exc, InsufficientFunds) or not self._rest.has.get("fetchOrder"):
                raise
            try:
                found = await self._call(lambda: self._rest.fetch_order(order_id, symbol))
            except OrderNotFound:
                raise OrderNotFound(f"{self.name}: no order {order_id} on {symbol}") from exc
            except VenueError as lookup:
                if "not found" in str(lookup).lower():
                    raise OrderNotFound(f"{self.name}: no order {order_id} on {symbol}") from exc
                raise exc from None
            found_order = order_from_ccxt(self.name, found)
            if found_order.status.is_final:
                return self._remember(found_order)
            raise
        order: Order | None = None
        if raw and raw.get("status") and raw.get("amount") is not None:
            order = order_from_ccxt(self.name, raw)
        elif order_id not in self._orders and self._rest.has.get("fetchOrder"):
            # Only for an order we never saw: a known one is confirmed at once below (its
            # fills since the last poll arrive with the refresh that follows every cancel).
            try:
                full = await self._call(lambda: self._rest.fetch_order(order_id, symbol))
                order = order_from_ccxt(self.name, full)
            except VenueError:
                log.debug("%s: read-back of cancelled order %s failed", self.name, order_id, exc_info=True)
        known = self._orders.get(order_id)
        if order is not None:
            # Binance answers a cancel with the cancel request's own client id.
            original = (
                (raw or {}).get("info", {}).get("origClientOrderId")
                if isinstance((raw or {}).get("info"), dict)
                else None
            )
            client_id = (known.client_order_id if known else "") or original or order.client_order_id
            order = replace(order, client_order_id=client_id)
        if order is None:
            if known is None:
                return Order(
                    venue=self.name,
                    id=order_id,
                    client_order_id="",
                    symbol=symbol,
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    price=None,
                    amount=ZERO,
                    filled=ZERO,
                    status=OrderStatus.CANCELED,
                    created_at=time.time(),
                    updated_at=time.time(),
                )
            order = replace(known, status=OrderStatus.CANCELED, updated_at=time.time())
        return self._remember(order)

    def _remember(self, order: Order) -> Order:
        if order.id:
            self._orders[order.id] = order
        return order

    # ---- health

    async def ping(self) -> float:
        if self._rest.has.get("fetchTime"):
            method = self._rest.fetch_time
        elif self._rest.has.get("fetchStatus"):
            method = self._rest.fetch_status
        else:
            raise FeatureUnavailable(f"{self.name}: {self.exchange_id} has neither fetchTime nor fetchStatus")
        # The round trip itself: time spent queued behind ccxt's client-side rate limiter
        # (kraken: 1 s a public call, 3 s a private one) is not network latency.
        times: list[float] = []
        token = _HTTP_TIMES_MS.set(times)
        started = time.perf_counter()
        try:
            await self._call(lambda: method())
        finally:
            _HTTP_TIMES_MS.reset(token)
        return times[-1] if times else (time.perf_counter() - started) * 1000

    async def authenticated_ping(self) -> float:
        """Latency of one authenticated request (fetch_balance): proves the keys work."""
        self._require_keys()
        # The signed request's own round trip, as ping() does: not the markets fetch that
        # ccxt runs first, nor the wait in ccxt's client-side rate limiter.
        times: list[float] = []
        token = _HTTP_TIMES_MS.set(times)
        started = time.perf_counter()
        try:
            await self._call(lambda: self._rest.fetch_balance())
        finally:
            _HTTP_TIMES_MS.reset(token)
        return times[-1] if times else (time.perf_counter() - started) * 1000

    # ---- public trades, candles, 24 h figures (venues.ccxt_market_data) ---------------------
    #
    # Trades stream by ccxt.pro ``watch_trades`` only where the venue's own websocket is used
    # (no api_url redirection: the emulators serve no trade streams), else by polling
    # ``fetch_trades`` at the book polling cadence, new trades told apart by id.

    async def fetch_trades(self, symbol: str, limit: int = 100, since: float | None = None) -> list[Trade]:
        from aitbc_tui.venues import ccxt_market_data as md

        self._require("fetchTrades", "public trades")
        return await self._call(lambda: md.fetch_trades(self._rest, symbol, limit, since, self.name))

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", limit: int = 100,
                          since: float | None = None) -> list[Candle]:  # fmt: skip
        from aitbc_tui.market_data import TIMEFRAMES
        from aitbc_tui.venues import ccxt_market_data as md

        self._require("fetchOHLCV", "candles")
        offered = getattr(self._rest, "timeframes", None) or {}
        if timeframe not in TIMEFRAMES or (offered and timeframe not in offered):
            choices = [tf for tf in TIMEFRAMES if not offered or tf in offered]
            raise FeatureUnavailable(f"{self.name} has no {timeframe!r} candles; timeframes: {', '.join(choices)}")
        return await self._call(lambda: md.fetch_ohlcv(self._rest, symbol, timeframe, limit, since))

    async def fetch_tickers(self, symbols: Sequence[str] | None = None) -> dict[str, Ticker24h]:
        from aitbc_tui.venues import ccxt_market_data as md

        if not (self._rest.has.get("fetchTickers") or self._rest.has.get("fetchTicker")):
            raise FeatureUnavailable(f"{self.name}: {self.exchange_id} does not support 24 h tickers through ccxt")
        wanted = list(symbols) if symbols is not None else list(self.config.symbols) or None
        return await self._call(lambda: md.fetch_tickers(self._rest, wanted, self.name))

    @property
    def trades_by_websocket(self) -> bool:
        """ccxt.pro's watch_trades, when the venue's websocket has it: the real venue's, or
        a redirected one (``ws_url``, e.g. the emulators); not for a REST-only redirect."""
        if self._trades_ws is None:
            if not self.uses_websocket or (self.config.api_url and not self.config.ws_url):
                self._trades_ws = False
            else:
                cls = exchange_class(self.exchange_id, pro=True)
                self._trades_ws = bool(cls is not None and cls().has.get("watchTrades"))
        return self._trades_ws

    async def watch_trades(self, symbol: str) -> list[Trade]:
        """The public trades made since the previous call, oldest first (the first call
        waits for the next new trade). ccxt does not backfill after a reconnect: the caller
        fetches the gap with ``fetch_trades``."""
        cursor = self._trade_cursors.get(symbol)
        if self.trades_by_websocket:
            try:
                fresh = await self._watch_trades_ws(symbol)
            except VenueUnavailable:
                raise  # the connection failed: the caller marks the gap, backfills, retries
            except VenueError as exc:
                if self._trades_ws_delivered:
                    raise
                # Refused before it ever delivered: this websocket has no trade channel for
                # us (a redirected venue that serves books only). Poll instead, for the session.
                log.info("%s: no trades over the websocket (%s); polling fetch_trades", self.name, exc)
                self._trades_ws = False
            else:
                if fresh:
                    self._trades_ws_delivered = True
                    return fresh
                if self._trades_ws_delivered:
                    return fresh  # a quiet market: nothing within the wait
                log.info("%s: no trade over the websocket before the first wait ran out; polling fetch_trades",
                         self.name)  # fmt: skip
                self._trades_ws = False
            cursor = self._trade_cursors.get(symbol)
        if cursor is None:  # where "new" starts: the newest trades now
            cursor = self._advance(symbol, await self.fetch_trades(symbol, limit=100), None)[1]
        while True:
            await asyncio.sleep(self._poll_interval_s)
            fresh, cursor = self._advance(symbol, await self.fetch_trades(symbol, limit=100), cursor)
            if fresh:
                return fresh

    def _advance(self, symbol: str, trades: Sequence[Trade],
                 cursor: tuple[float, frozenset[str]] | None) -> tuple[list[Trade], tuple[float, frozenset[str]]]:  # fmt: skip
        """The trades newer than ``cursor`` (time of the newest seen, ids seen at that time)."""
        last_time, seen = cursor if cursor is not None else (float("-inf"), frozenset())
        fresh = [t for t in trades if t.time > last_time or (t.time == last_time and t.id not in seen)]
        if trades:
            newest = max(t.time for t in trades)
            if newest >= last_time:
                ids = {t.id for t in trades if t.time == newest}
                seen = frozenset(ids | (set(seen) if newest == last_time else set()))
                last_time = newest
        self._trade_cursors[symbol] = (last_time, seen)
        return (fresh if cursor is not None else list(trades)), (last_time, seen)

    async def _watch_trades_ws(self, symbol: str) -> list[Trade]:
        import ccxt

        from aitbc_tui.venues.ccxt_market_data import trade_from_ccxt

        client = await self._ws_client()

        def fresh_in(raw: Any) -> list[Trade]:
            cursor = self._trade_cursors.get(symbol) or (float("-inf"), frozenset())
            # Only the raw trades at or after the cursor are converted: ccxt's cache holds up
            # to 1,000, and this runs once per watch.
            since_ms = cursor[0] * 1000
            recent = [t for t in raw or () if (t.get("timestamp") or 0) >= since_ms]
            trades = sorted((trade_from_ccxt(t, self.name) for t in recent), key=lambda t: t.time)
            return self._advance(symbol, trades, cursor)[0]

        def cache() -> list:
            return list((getattr(client, "trades", None) or {}).get(symbol) or ())

        # ccxt resolves a watch only with a message that arrives while it waits: trades that
        # came between two calls sit in its cache (exchange.trades) until the next message,
        # which in a quiet market may be minutes away. Take them from the cache first.
        cached = fresh_in(cache())
        if cached:
            return cached
        error: VenueError | None
        try:
            raw = await wait_for_keeping_cancel(client.watch_trades(symbol), self._stale_after_s * 4)
        except asyncio.TimeoutError:
            error = None
            raw = []
        except (ccxt.BaseError, OSError) as exc:
            error = self._error(exc) if isinstance(exc, ccxt.BaseError) else VenueUnavailable(
                f"{self.name}: websocket error: {redact_error_text(str(exc))}")  # fmt: skip
        else:
            error = None
        if error is not None:
            raise error
        return fresh_in(cache() or raw)  # the cache holds what the watch returned, and what came since
