"""What limits an arbitrage route's size, as the pane and the inventory show it. The books are
test_arb_exec's, worked out by hand there and again here:

venue a's asks 1 ETH @ 100, 2 @ 101 (taker 0.1 %); venue b's bids 1.5 @ 103, 5 @ 102 (taker
0.2 %); lot 0.01 on both. Every slice nets > 0 until a's asks run out: 3 ETH on the books.
"""

from __future__ import annotations

from decimal import Decimal as D
from types import MappingProxyType

from aitbc_tui.analysis import ArbitrageIndex
from aitbc_tui.domain import Balance, BookSnapshot, Market
from aitbc_tui.ui.panes.arbitrage import ArbitragePane, ArbitrageView, FundingCache, limit_text
from aitbc_tui.ui.screens.inventory import InventoryView, blocked_rows, holding_rows
from aitbc_tui.ui.widgets.linetable import fit

SYMBOL = "ETH/USDT"


def market(taker: str) -> Market:
    return Market(SYMBOL, "ETH", "USDT", D("0.01"), D("0.01"), D("0.01"), D("1"), D("0.0005"), D(taker))


MARKETS = {"a": market("0.001"), "b": market("0.002")}
BOOKS = {
    "a": BookSnapshot("a", SYMBOL, ((D("99"), D("5")),), ((D("100"), D("1")), (D("101"), D("2"))), 0.0),
    "b": BookSnapshot("b", SYMBOL, ((D("103"), D("1.5")), (D("102"), D("5"))), ((D("104"), D("5")),), 0.0),
}
PLENTY = {
    "a": {"USDT": Balance("USDT", D("100000")), "ETH": Balance("ETH", D("0"))},
    "b": {"USDT": Balance("USDT", D("0")), "ETH": Balance("ETH", D("10"))},
}


class Service:
    """What the pane and the inventory read of the market service."""

    def __init__(self, balances) -> None:
        self.venue_names = ["a", "b"]
        self._balances = balances

    def market(self, venue, symbol):
        return MARKETS[venue] if symbol == SYMBOL else None

    def markets(self, venue):
        return {SYMBOL: MARKETS[venue]}

    def balances(self, venue):
        return self._balances[venue]

    def set_balances(self, venue, balances) -> None:
        self._balances = {**self._balances, venue: balances}  # replaced, as the service does


def index_for(service: Service) -> ArbitrageIndex:
    index = ArbitrageIndex({(v, SYMBOL): m.taker_fee for v, m in MARKETS.items()})
    for book in BOOKS.values():
        index.update(book)
    for venue in service.venue_names:
        index.set_balances(venue, service.balances(venue))
    return index


def route_row(balances, limits=None) -> dict[str, str]:
    """The a → b row of the pane, by column title."""
    service = Service(balances)
    view = ArbitrageView.build(service, index_for(service), None, max_order_value=MappingProxyType(limits or {}))
    pane = ArbitragePane()
    pane.show(view)
    [row] = pane.rows
    return {str(column.title): str(cell[0]) for column, cell in zip(pane.columns, row, strict=True)}


def test_the_books_limit_the_size_and_the_profit_is_for_that_size():
    row = route_row(PLENTY)
    # Buy 3: 100 + 2 × 101 = 302 + fee 0.302; sell 3: 1.5 × 103 + 1.5 × 102 = 307.5 − fee 0.615.
    # Net 306.885 − 302.302 = 4.583 USDT.
    assert (row["Buy at"], row["Sell at"], row["Size"], row["Limited by"]) == ("a", "b", "3.00 ETH", "book")
    assert row["Est. profit"] == "4.58 USDT"


def test_quote_on_the_buying_venue_limits_it():
    # 200 USDT on a: 1 @ 100 costs 100.1, 0.5 @ 101 costs 50.5505, 49.3495 left buys
    # 49.3495 / 101.101 = 0.48812 more: 1.98812 ETH, 1.98 on the lot grid.
    row = route_row({**PLENTY, "a": {"USDT": Balance("USDT", D("200"))}})
    assert (row["Size"], row["Limited by"]) == ("1.98 ETH", "bal a USDT")
    # Buy 1 @ 100 + 0.98 @ 101 = 198.98 + fee 0.19898; sell 1.5 @ 103 + 0.48 @ 102 = 203.46 − 0.40692.
    # Net 203.05308 − 199.17898 = 3.8741.
    assert row["Est. profit"] == "3.87 USDT"


def test_base_on_the_selling_venue_limits_it_free_only():
    row = route_row({**PLENTY, "b": {"ETH": Balance("ETH", D("1.234"), D("5"))}})
    assert (row["Size"], row["Limited by"]) == ("1.23 ETH", "bal b ETH")


def test_nothing_held_is_a_route_with_nothing_fundable():
    row = route_row({**PLENTY, "b": {}})
    assert (row["Size"], row["Limited by"], row["Est. profit"]) == ("0.00 ETH", "bal b ETH", "—")


def test_the_risk_limit_limits_it():
    # 150 USDT per order on a: 1 ETH at its limit 100, then at 101: 150 / 101 = 1.4851, 1.48 ETH.
    row = route_row(PLENTY, {"a": D("150")})
    assert (row["Size"], row["Limited by"]) == ("1.48 ETH", "risk a")


def test_the_limit_shortens_in_a_narrow_column():
    service = Service({**PLENTY, "a": {"USDT": Balance("USDT", D("200"))}})
    [line] = ArbitrageView.build(service, index_for(service), None).lines
    assert line.funding is not None
    text = limit_text(line.funding.fundable)
    assert [fit(text, width) for width in (20, 10, 8, 4)] == ["bal a USDT", "bal a USDT", "bal USDT", "bal"]
    risk = ArbitrageView.build(service, index_for(service), None, max_order_value={"b": D("50")}).lines[0]
    assert risk.funding is not None and [fit(limit_text(risk.funding.fundable), w) for w in (9, 4)] == [
        "risk b",
        "risk",
    ]


def test_fundable_sizes_are_worked_out_again_only_when_an_input_changed():
    service = Service(PLENTY)
    index = index_for(service)
    cache = FundingCache()
    limits = MappingProxyType({})
    for _ in range(5):  # five frames, nothing changed
        ArbitrageView.build(service, index, None, funding=cache, max_order_value=limits)
    assert cache.computed == 1
    service.set_balances("a", {"USDT": Balance("USDT", D("200"))})
    index.set_balances("a", service.balances("a"))
    [line] = ArbitrageView.build(service, index, None, funding=cache, max_order_value=limits).lines
    assert cache.computed == 2 and line.funding is not None and line.funding.fundable.amount == D("1.98")
    index.update(BookSnapshot("a", SYMBOL, BOOKS["a"].bids, ((D("100"), D("0.5")),), 1.0))  # a new book
    [line] = ArbitrageView.build(service, index, None, funding=cache, max_order_value=limits).lines
    assert cache.computed == 3 and line.funding is not None and line.funding.fundable.amount == D("0.5")


def test_the_inventory_shows_each_venue_exactly_and_the_route_the_balances_cut():
    balances = {
        "a": {"USDT": Balance("USDT", D("200.125"), D("50"))},
        "b": {"ETH": Balance("ETH", D("10")), "USDT": Balance("USDT", D("0"))},
    }
    service = Service(balances)
    index = index_for(service)
    view = InventoryView.build(service, index, FundingCache(), {})
    holdings = [[str(text) for text, _ in row] for row in holding_rows(view)]
    # ETH at its 6 decimals: a reports none (—), b 10; USDT at 3 decimals on every row: a holds 200.125 (not rounded).
    assert holdings == [
        ["ETH", "a", "—", "—", "—", "0.0 %"],
        ["", "b", "10.000000", "0.000000", "10.000000", "100.0 %"],
        ["", "all", "10.000000", "0.000000", "10.000000", ""],
        ["USDT", "a", "200.125", "50.000", "250.125", "100.0 %"],
        ["", "b", "0.000", "0.000", "0.000", "0.0 %"],
        ["", "all", "200.125", "50.000", "250.125", ""],
    ]
    [route] = view.blocked
    # 200.125 USDT free on a: 1 @ 100 costs 100.1, 0.5 @ 101 50.5505, 49.4745 left buys
    # 49.4745 / 101.101 = 0.48935 more: 1.98935, 1.98 ETH. The books' 3 ETH cost
    # 302 × 1.001 = 302.302 USDT on a: 102.177 more.
    assert (route.short_venue, route.short_asset, route.book_amount, route.fundable_amount) == ("a", "USDT", D("3"),
                                                                                               D("1.98"))  # fmt: skip
    assert route.missing == D("102.177")
    [row] = blocked_rows(view)
    # Net at the top of the books: (103 × 0.998 − 100 × 1.001) / 100.1 × 10,000 = 269.13 bps.
    assert [str(text) for text, _ in row] == ["ETH/USDT a → b", "269.1", "3.000000 ETH", "1.980000 ETH",
                                              "a lacks USDT: 200.125 · +102.177"]  # fmt: skip


def test_a_route_the_books_limit_is_not_listed_as_cut():
    service = Service(PLENTY)
    assert InventoryView.build(service, index_for(service), FundingCache(), {}).blocked == ()


def test_an_empty_pane_under_the_threshold_says_so_and_names_the_best_route():
    """min_arb_net_bps hides routes under it; the pane then must not say there are no books."""
    service = Service(PLENTY)
    index = index_for(service)
    [best] = index.opportunities(None)
    pane = ArbitragePane()
    pane.show(ArbitrageView.build(service, index, D("1000"), max_order_value=MappingProxyType({})))
    assert pane.rows == []
    assert pane.empty_text == (
        f"no route at or above 1000.0 bps net (ui.min_arb_net_bps) · best ETH/USDT {best.net_bps:.1f}"
    )
    # At a threshold the route clears, it is a row again and the note is gone.
    pane.show(ArbitrageView.build(service, index, best.net_bps, max_order_value=MappingProxyType({})))
    assert len(pane.rows) == 1 and pane._footer == []
