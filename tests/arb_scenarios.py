"""Arbitrage routes made by hand on the frozen sandbox, shared by the inventory Pilot tests,
the snapshots and the bench: a whale sweeps kraken's asks for a symbol and leaves exactly
``size`` bid at ``price``, well above every other venue's ask; the operator's balances are
set on a venue's engine and its account re-read."""

from __future__ import annotations

from decimal import Decimal as D

from aitbc_tui.domain import OrderType, Side
from aitbc_tui.sim.specs import OPERATOR


def kraken_bid(app, symbol: str, price: D, size: D) -> None:
    """kraken's best bid becomes ``size`` at ``price`` (its asks swept): every other venue's
    ask is then a route into kraken."""
    kraken = app.world.engine("kraken")
    kraken.set_unlimited("whale")
    asks = kraken.book(symbol, 500).asks
    kraken.place("whale", symbol, Side.BUY, OrderType.LIMIT, sum((s for _, s in asks), D(0)) + size, price)
    _, resting = kraken.book(symbol, 1).bids[0]
    if resting > size:  # the market maker had more behind its visible asks: leave exactly ``size``
        kraken.set_unlimited("seller")
        kraken.place("seller", symbol, Side.SELL, OrderType.LIMIT, resting - size, price)
    assert kraken.book(symbol, 1).bids[0] == (price, size)


async def set_operator_balance(app, venue: str, asset: str, free: D, used: D = D(0)) -> None:
    """The operator's ``asset`` on ``venue`` becomes ``free`` + ``used``, and the service reads it."""
    app.world.engine(venue).set_balance(OPERATOR, asset, free, used)
    await app.service.refresh_account(venue)


def arb_cells(app) -> list[list[str]]:
    """The arbitrage pane's rows as the operator reads them (cell texts, untruncated)."""
    return [[str(text) for text, _ in row] for row in app.screen_stack[0].query_one("#arb").rows]


def painted_lines(widget) -> list[str]:
    """The lines a Line-API widget paints now (what the terminal shows of it)."""
    return [widget.render_line(y).text for y in range(widget.size.height)]
