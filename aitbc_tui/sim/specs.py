"""Static description of the sandbox venues: fees, market rules, reference prices.

Fees are each exchange's published entry tier (binance spot 0.1 %/0.1 %, kraken
0.25 % maker / 0.40 % taker, coinbase advanced 0.40 % / 0.60 %). Tick, lot and
minimum values follow each exchange's style: binance LOT_SIZE/PRICE_FILTER with a
5 USDT NOTIONAL filter, kraken ``ordermin``/``costmin``, coinbase
``base_increment``/``quote_increment``/``quote_min_size``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aitbc_tui.domain import Market

D = Decimal

# Engine accounts. The market maker and the taker flow have unlimited balances and are
# never persisted; the liquidity provider (admin ``add_liquidity``) is persisted.
OPERATOR = "operator"
MARKET_MAKER = "mm"
TAKER_FLOW = "flow"
LIQUIDITY_PROVIDER = "liquidity"

# Starting price of each asset in USDT (AITBC is the fictional token).
REFERENCE_PRICES_USDT: dict[str, Decimal] = {
    "USDT": D(1),
    "BTC": D("65000"),
    "ETH": D("3400"),
    "AITBC": D("0.85"),
}

# Annualised volatility of each asset's USDT price, in the range of real markets (BTC has
# realised 50-70 % a year in most recent years, ETH somewhat more, a small token far more).
# It used to be 225 % for BTC (4e-4 per sqrt second): 10-20 bps every second.
ANNUAL_VOLATILITY: dict[str, float] = {"BTC": 0.55, "ETH": 0.70, "AITBC": 1.10}
SECONDS_PER_YEAR = 365 * 24 * 3600
VOLATILITY_PER_SQRT_S: dict[str, float] = {a: v / SECONDS_PER_YEAR**0.5 for a, v in ANNUAL_VOLATILITY.items()}

OPERATOR_START_BALANCES: dict[str, Decimal] = {
    "USDT": D("100000"),
    "BTC": D("2"),
    "ETH": D("30"),
    "AITBC": D("50000"),
}


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market's rules plus how the simulated market maker quotes it."""

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_amount: Decimal
    min_notional: Decimal
    level_step_bps: float = 1.0  # distance between market-maker levels
    half_spread_bps: float = 1.0
    level_notional_usdt: float = 20_000.0  # typical size of one level near the top

    def market(self, venue: VenueSpec) -> Market:
        base, quote = self.symbol.split("/")
        return Market(
            symbol=self.symbol,
            base=base,
            quote=quote,
            tick_size=self.tick_size,
            lot_size=self.lot_size,
            min_amount=self.min_amount,
            min_notional=self.min_notional,
            maker_fee=venue.maker_fee,
            taker_fee=venue.taker_fee,
        )


@dataclass(frozen=True, slots=True)
class VenueSpec:
    name: str
    maker_fee: Decimal
    taker_fee: Decimal
    markets: tuple[MarketSpec, ...]
    latency_base_ms: float  # simulated network round trip
    latency_jitter_ms: float
    spread_factor: float = 1.0  # multiplies every market's half spread


M = MarketSpec

BINANCE = VenueSpec(
    name="binance",
    maker_fee=D("0.001"),
    taker_fee=D("0.001"),
    latency_base_ms=8.0,
    latency_jitter_ms=12.0,
    spread_factor=0.6,
    markets=(
        M("BTC/USDT", D("0.01"), D("0.00001"), D("0.00001"), D("5"), 1.0, 0.5, 60_000),
        M("ETH/USDT", D("0.01"), D("0.0001"), D("0.0001"), D("5"), 1.5, 0.8, 40_000),
        M("ETH/BTC", D("0.00001"), D("0.0001"), D("0.0001"), D("0.0001"), 2.0, 1.5, 20_000),
        M("AITBC/USDT", D("0.0001"), D("0.1"), D("0.1"), D("5"), 4.0, 6.0, 4_000),
        M("AITBC/BTC", D("0.00000001"), D("1"), D("1"), D("0.0001"), 8.0, 8.0, 2_000),
    ),
)

KRAKEN = VenueSpec(
    name="kraken",
    maker_fee=D("0.0025"),
    taker_fee=D("0.004"),
    latency_base_ms=20.0,
    latency_jitter_ms=25.0,
    spread_factor=1.2,
    markets=(
        M("BTC/USDT", D("0.1"), D("0.00000001"), D("0.00005"), D("0.5"), 1.0, 1.0, 30_000),
        M("ETH/USDT", D("0.01"), D("0.00000001"), D("0.002"), D("0.5"), 1.5, 1.2, 20_000),
        M("ETH/BTC", D("0.00001"), D("0.00000001"), D("0.002"), D("0.00001"), 2.0, 2.0, 10_000),
        M("AITBC/USDT", D("0.0001"), D("0.00001"), D("5"), D("0.5"), 4.0, 8.0, 3_000),
        M("AITBC/ETH", D("0.0000001"), D("0.00001"), D("5"), D("0.0002"), 5.0, 10.0, 1_500),
    ),
)

COINBASE = VenueSpec(
    name="coinbase",
    maker_fee=D("0.004"),
    taker_fee=D("0.006"),
    latency_base_ms=14.0,
    latency_jitter_ms=20.0,
    spread_factor=1.0,
    markets=(
        M("BTC/USDT", D("0.01"), D("0.00000001"), D("0.00000001"), D("1"), 1.0, 0.8, 40_000),
        M("ETH/USDT", D("0.01"), D("0.00000001"), D("0.00000001"), D("1"), 1.5, 1.0, 25_000),
        M("ETH/BTC", D("0.00001"), D("0.00000001"), D("0.00000001"), D("0.00001"), 2.0, 2.0, 12_000),
        M("AITBC/USDT", D("0.0001"), D("0.1"), D("0.1"), D("1"), 4.0, 7.0, 3_000),
        M("AITBC/BTC", D("0.00000001"), D("1"), D("1"), D("0.00001"), 8.0, 10.0, 1_500),
        M("AITBC/ETH", D("0.0000001"), D("0.1"), D("0.1"), D("0.0001"), 5.0, 10.0, 1_500),
    ),
)

DEFAULT_VENUES: tuple[VenueSpec, ...] = (BINANCE, KRAKEN, COINBASE)


def venue_spec(name: str) -> VenueSpec | None:
    for spec in DEFAULT_VENUES:
        if spec.name == name:
            return spec
    return None
