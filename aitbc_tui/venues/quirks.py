"""Per-exchange facts, kept as data (freqtrade keeps an ``_ft_has`` table per exchange the
same way) instead of branches through the client: one frozen ``ExchangeQuirks`` per
exchange id, a family entry for ids that share a prefix (``binanceus`` streams like
``binance``), and a default for every other exchange. ``quirks(exchange_id)`` looks it up.

Order lane (``order_lane``): the venue's own limit on order actions (create / cancel),
which our order lane enforces itself so it never waits in ccxt's throttle behind
market-data and account polling:
- binance: 50 orders per 10 s per account (and one IP weight budget of 6,000 a minute,
  of which an order costs 1): a burst of 50, refilled at 5 a second;
- kraken: the trading-engine counter, per pair: threshold 60 (starter tier), decaying 1
  a second; AddOrder and CancelOrder do not spend the REST call counter that Balance and
  OpenOrders use;
- coinbase: 30 private requests a second;
- any other exchange: 10 a second.

``order_options``: which of GTC / IOC / FOK and post-only the venue supports on spot.

``native_book_feed``: binance spot books come from ``venues/binance_depth.py`` (on 200
symbols the collector's ccxt.pro path never settles; the native one has every book live in
2 s at 1.6x the frames per core: BENCHMARKS.md, desk ingest); a venue's ``book_feed = "ccxt"``
keeps ccxt.pro.

Nothing here imports textual or ccxt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class LaneLimit:
    burst: float  # actions that may go at once
    per_second: float  # refill rate
    per_symbol: bool = False  # kraken's counter is per pair


DEFAULT_LANE = LaneLimit(burst=10, per_second=10)
ALL_ORDER_OPTIONS = frozenset({"gtc", "ioc", "fok", "post_only"})  # post-only: a flag on a GTC limit
DEFAULT_TIME_IN_FORCE = frozenset({"gtc", "ioc", "post_only"})


@dataclass(frozen=True, slots=True)
class ExchangeQuirks:
    """What one exchange does differently through ccxt 4.5.90; the defaults are the common case."""

    order_lane: LaneLimit = DEFAULT_LANE
    order_options: frozenset[str] = DEFAULT_TIME_IN_FORCE
    # The request behind fetch_time, named in the health pane ("" : the method alone).
    probe_path: str = ""
    # ccxt options that keep load_markets to one or two requests (DESIGN: ccxt facts).
    ccxt_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # False: has['fetchCurrencies'] switched off; currencies cost requests we do not need.
    fetch_currencies: bool = True
    # REST book depth: () sends the depth asked, None sends no limit, a tuple the smallest
    # of its sizes that covers the depth (the only ones the venue accepts).
    book_limits: tuple[int, ...] | None = ()
    # Response header with the IP weight used this minute, and the minute's budget.
    weight_header: str = ""
    weight_per_minute: int = 0
    # Websocket URL redirection: binance resolves spot symbols only on a path with /stream;
    # kraken's private websocket is another host (ws-auth.), kept apart under this path.
    ws_spot_stream_path: bool = False
    ws_private_host: str = ""
    ws_private_path: str = ""
    # How long after sending an order can still appear at the venue (s): binance refuses
    # a request once its recvWindow (ccxt: 10 s) has passed; others have none: a minute.
    validity_window_s: float = 60.0
    # Client order ids: the create parameter (coinbase drops the unified clientOrderId),
    # the fetch_order parameter that looks one up (none: open/closed lists searched), and
    # whether those lists take the id as a filter (kraken: cl_ord_id).
    client_id_param: str = "clientOrderId"
    client_id_fetch_param: str = ""
    client_id_list_filter: bool = False
    # Deposits and withdrawals (fetch_transfers) through ccxt's fetch_deposits / fetch_withdrawals
    # where has[] says so: only where we have served and checked them (binance, on its emulator);
    # elsewhere FeatureUnavailable, so positions count fills only.
    transfers: bool = False
    market_buy_needs_price: bool = False  # coinbase buys by quote amount: ccxt prices it
    # ccxt.pro watch_orders (4.5.90): whether its ``amount`` is the order's amount (coinbase
    # sets it from cumulative_quantity, kraken from cum_qty on frames it cannot merge), the
    # raw field that is (kraken order_qty), the raw field with the filled amount where ccxt
    # leaves ``filled`` None (kraken cum_qty), and the raw field with our client order id
    # where ccxt reads another (kraken: order_userref, but we send cl_ord_id).
    ws_order_amount_trusted: bool = True
    ws_order_amount_field: str = ""
    ws_order_filled_field: str = ""
    ws_order_client_id_field: str = ""
    needs_passphrase: bool = False  # named in the authentication-failed hint
    # Books from the product's own diff-depth client instead of ccxt.pro's (venues/
    # binance_depth.py: one combined-stream socket, REST snapshot, U/u sequencing): the
    # protocol's name, "" for none. Used on the websocket path of spot symbols unless the
    # venue's config says book_feed = "ccxt".
    native_book_feed: str = ""
    # Private requests carry a nonce the venue wants strictly increasing per key: sent
    # concurrently (account poll beside an order) they can arrive out of order and be
    # refused, so they are sent one at a time, each nonce taken as its turn comes.
    serial_private: bool = False


DEFAULT_QUIRKS = ExchangeQuirks()

# Shared by every exchange id with the prefix (binanceus, krakenfutures, coinbaseinternational).
FAMILY_QUIRKS: dict[str, ExchangeQuirks] = {
    "binance": ExchangeQuirks(
        validity_window_s=10.0,
        ws_spot_stream_path=True,
        weight_header="x-mbx-used-weight-1m",
        weight_per_minute=6000,
    ),
    "kraken": ExchangeQuirks(validity_window_s=60.0),
    "coinbase": ExchangeQuirks(book_limits=None, validity_window_s=60.0),
    "sim": ExchangeQuirks(validity_window_s=0.0),  # in process: nothing is ever in flight
}

EXCHANGE_QUIRKS: dict[str, ExchangeQuirks] = {
    "binance": replace(
        FAMILY_QUIRKS["binance"],
        order_lane=LaneLimit(burst=50, per_second=5),
        order_options=ALL_ORDER_OPTIONS,
        probe_path="GET /api/v3/time",
        ccxt_options=MappingProxyType(
            {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
                # We ask for all open orders at once on purpose (one call instead of one per symbol).
                "warnOnFetchOpenOrdersWithoutSymbol": False,
                "fetchOpenOrders": {"warnWithoutSymbol": False},
            }
        ),
        book_limits=(5, 10, 20, 50, 100, 500, 1000, 5000),
        client_id_fetch_param="origClientOrderId",
        native_book_feed="binance_spot",
        transfers=True,
    ),
    "kraken": replace(
        FAMILY_QUIRKS["kraken"],
        order_lane=LaneLimit(burst=60, per_second=1, per_symbol=True),
        order_options=frozenset({"gtc", "ioc", "post_only"}),  # spot has no fill-or-kill
        probe_path="GET /0/public/Time",
        fetch_currencies=False,  # /Assets
        ws_private_host="ws-auth.",
        ws_private_path="/auth",
        client_id_list_filter=True,
        ws_order_amount_trusted=False,
        ws_order_amount_field="order_qty",
        ws_order_filled_field="cum_qty",
        ws_order_client_id_field="cl_ord_id",
        serial_private=True,
    ),
    "coinbase": replace(
        FAMILY_QUIRKS["coinbase"],
        order_lane=LaneLimit(burst=30, per_second=30),
        order_options=ALL_ORDER_OPTIONS,
        probe_path="GET /v2/time",
        fetch_currencies=False,  # /v2/currencies and exchange-rates
        client_id_param="client_order_id",
        market_buy_needs_price=True,
        ws_order_amount_trusted=False,
    ),
    "coinbaseexchange": replace(
        FAMILY_QUIRKS["coinbase"],
        order_lane=LaneLimit(burst=15, per_second=15),
        order_options=ALL_ORDER_OPTIONS,
        probe_path="GET /time",
        fetch_currencies=False,
        client_id_fetch_param="clientOrderId",
        needs_passphrase=True,
    ),
    "sim": replace(FAMILY_QUIRKS["sim"], order_options=ALL_ORDER_OPTIONS),
}


def quirks(exchange_id: str) -> ExchangeQuirks:
    """The exchange's own entry, else its family's (by prefix), else the default."""
    exact = EXCHANGE_QUIRKS.get(exchange_id)
    if exact is not None:
        return exact
    lowered = exchange_id.lower()
    return next((q for prefix, q in FAMILY_QUIRKS.items() if lowered.startswith(prefix)), DEFAULT_QUIRKS)


def lane_limit(exchange_id: str) -> LaneLimit:
    return quirks(exchange_id).order_lane


def order_options(exchange_id: str) -> frozenset[str]:
    return quirks(exchange_id).order_options


def validity_window_s(exchange_id: str) -> float:
    return quirks(exchange_id).validity_window_s


class TokenBucket:
    """The order lane's own limiter: ``burst`` actions at once, refilled continuously."""

    def __init__(self, limit: LaneLimit, monotonic=time.monotonic) -> None:
        self.limit = limit
        self._monotonic = monotonic
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}

    def delay_s(self, key: str = "") -> float:
        """Take one token for ``key``; return how long to wait before acting (0: now)."""
        key = key if self.limit.per_symbol else ""
        now = self._monotonic()
        tokens = self._tokens.get(key, self.limit.burst)
        tokens = min(self.limit.burst, tokens + (now - self._stamp.get(key, now)) * self.limit.per_second)
        self._stamp[key] = now
        tokens -= 1
        self._tokens[key] = tokens
        return 0.0 if tokens >= 0 else -tokens / self.limit.per_second

    async def wait(self, key: str = "") -> None:
        delay = self.delay_s(key)
        if delay > 0:
            await asyncio.sleep(delay)
