"""The trade tape (time and sales) of the focused venue and symbol: newest on top.

Price and side in the aggressor's colour (a buy lifted an ask: bid colour), the operator's own
trades marked ``◆``, and a gap marker where the feed was lost (with how many trades were
backfilled). A Line-API table: a row's strip is rebuilt only when the row changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip

from aitbc_tui.domain import Market, Side
from aitbc_tui.formatting import decimals_of, fmt_fixed
from aitbc_tui.market_data import Trade
from aitbc_tui.market_feed import TapeGap, TapeSnapshot
from aitbc_tui.sanitize import plain_text
from aitbc_tui.ui.titles import set_title
from aitbc_tui.ui.widgets.linetable import Cell, Column, LineTable

OWN_MARK = "◆"
FILTER_STEPS = (None, 1, 5, 20)  # f: off, then trades of at least 1x / 5x / 20x the median amount
TAPE_ROWS = 120  # rows built at most (more never fit a screen)


def _hms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


@dataclass(frozen=True, slots=True)
class TapeView:
    venue: str | None
    symbol: str | None
    tape: TapeSnapshot | None
    market: Market | None
    min_amount: Decimal | None = None  # size filter: smaller trades are left out

    @classmethod
    def build(cls, service, venue: str | None, symbol: str | None, min_amount: Decimal | None = None) -> TapeView:
        feed = service.market_feed()
        market = service.market(venue, symbol) if venue and symbol else None
        return cls(venue, symbol, feed.tape(venue, symbol), market, min_amount)


def tape_columns() -> list[Column]:
    return [
        Column("Time", 8, "<"),
        Column("Side", 4, "<", priority=2),
        Column("Price", 12, min_width=8),
        Column("Amount", 12, min_width=7),
        Column("", 1, "<", priority=1),
    ]


def gap_text(gap: TapeGap) -> str:
    """The reason goes last: on a narrow tape it is what gets cut."""
    why = f" · {plain_text(gap.reason, 60)}" if gap.reason else ""
    plural = "" if gap.backfilled == 1 else "s"
    return f"── gap {_hms(gap.since)}–{_hms(gap.until)}: {gap.backfilled} trade{plural} backfilled{why}"


def trade_cells(trade: Trade, price_places: int, amount_places: int) -> tuple[Cell, ...]:
    colour = "linetable--bid" if trade.side is Side.BUY else "linetable--ask"
    return (
        (_hms(trade.time), "linetable--dim"),
        (trade.side.value, colour),
        (fmt_fixed(trade.price, price_places), colour),
        (fmt_fixed(trade.amount, amount_places), ""),
        (OWN_MARK if trade.own else "", "linetable--live"),
    )


def tape_rows(
    view: TapeView, memo: dict[tuple[int, int, int], tuple[Trade, tuple[Cell, ...]]] | None = None
) -> list[tuple[Cell, ...]]:
    """The rows, newest first. ``memo`` (kept by the pane) holds each trade's formatted cells,
    so a repaint after one new trade formats one row, not 120."""
    if view.tape is None:
        return []
    price_places = decimals_of(view.market.tick_size) if view.market else 8
    amount_places = decimals_of(view.market.lot_size) if view.market else 8
    rows: list[tuple[Cell, ...]] = []
    for entry in reversed(view.tape.entries):
        if len(rows) >= TAPE_ROWS:
            break
        if isinstance(entry, TapeGap):
            rows.append(((gap_text(entry), "linetable--warn"),))
            continue
        trade: Trade = entry
        if view.min_amount is not None and trade.amount < view.min_amount:
            continue
        if memo is None:
            rows.append(trade_cells(trade, price_places, amount_places))
            continue
        key = (id(trade), price_places, amount_places)
        known = memo.get(key)
        if known is None or known[0] is not trade:  # an id is reused only once its trade is gone
            known = memo[key] = (trade, trade_cells(trade, price_places, amount_places))
        rows.append(known[1])
    return rows


def size_filter(view: TapeView, step: int) -> Decimal | None:
    """The minimum amount of FILTER_STEPS[step]: a multiple of the tape's median trade amount
    (fixed when chosen, so the tape does not re-filter as trades come)."""
    factor = FILTER_STEPS[step % len(FILTER_STEPS)]
    if factor is None or view.tape is None:
        return None
    amounts = sorted(e.amount for e in view.tape.entries if isinstance(e, Trade))
    if not amounts:
        return None
    minimum = amounts[len(amounts) // 2] * factor
    return minimum.quantize(view.market.lot_size) if view.market is not None else minimum


class TapePane(LineTable):
    """Newest on top: a new trade moves every row down one, so strips are memoised by what a
    row shows (not by its index, as LineTable does) and shifting rows costs no rebuild."""

    BINDINGS = [Binding("f", "cycle_filter", "Size filter", show=False)]
    MEMO_SIZE = 512

    class FilterChanged(Message):
        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(tape_columns(), empty_text="no trades yet", id=id, classes=classes)
        self.filter_step = 0
        self._memo: dict[tuple, Strip] = {}
        self._cells_memo: dict[tuple[int, int, int], tuple[Trade, tuple[Cell, ...]]] = {}

    def _line(self, cells, width: int) -> Strip:
        key = (tuple(cells), width)
        strip = self._memo.get(key)
        if strip is None:
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            strip = self._memo[key] = super()._line(cells, width)
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._memo = {}  # a theme change: every colour again

    def action_cycle_filter(self) -> None:
        self.filter_step = (self.filter_step + 1) % len(FILTER_STEPS)
        self.post_message(self.FilterChanged(self.filter_step))

    def show(self, view: TapeView) -> None:
        title = f"Trades · {view.venue} {view.symbol}" if view.venue and view.symbol else "Trades"
        if view.min_amount is not None:
            title += f" · ≥ {view.min_amount}"
        set_title(self, title)
        footer = None
        if view.tape is not None and view.tape.error:
            footer = [((f"⚠ {plain_text(view.tape.error, 200)}", "linetable--warn"),)]
        elif view.tape is not None:
            footer = [((f"side = aggressor · {OWN_MARK} your fill · f size filter", "linetable--dim"),)]
        if len(self._cells_memo) > 4 * TAPE_ROWS:
            self._cells_memo.clear()
        self.set_rows(tape_rows(view, self._cells_memo), footer)
