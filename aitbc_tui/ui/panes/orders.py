"""The orders pane: open orders (with their age) or the order history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text

from aitbc_tui.domain import Order, OrderStatus, Side
from aitbc_tui.formatting import decimals_of, fmt_age_coarse, fmt_fixed
from aitbc_tui.sanitize import plain_text
from aitbc_tui.ui.titles import set_title
from aitbc_tui.ui.widgets.row_table import RowTable

OPEN_COLUMNS = ("Venue", "Symbol", "Side", "Type", "Price", "Amount", "Filled", "Status", "Age")
HISTORY_COLUMNS = ("Venue", "Symbol", "Side", "Type", "Avg price", "Amount", "Filled", "Status",
                   "Fee", "Liq.", "Last fill")  # fmt: skip
OPEN_TITLE = "Open orders"
HISTORY_TITLE = "Order history (filled, cancelled, rejected)"


def _plain(text: object) -> str:
    return plain_text(str(text), limit=1000)


def order_key(order: Order) -> str:
    return f"{order.venue}:{order.client_order_id or order.id}"


@dataclass(frozen=True, slots=True)
class OrderLine:
    order: Order
    price_places: int
    quote: str | None  # None: the market is not known (any more)


@dataclass(frozen=True, slots=True)
class OrdersView:
    lines: tuple[OrderLine, ...]  # one per order (first seen wins), in the service's order
    history: bool
    now: float  # epoch seconds, for the open orders' age

    @classmethod
    def build(cls, service, *, history: bool, now: float) -> OrdersView:
        orders = service.closed_orders() if history else service.open_orders()
        unique: dict[str, Order] = {}
        for o in orders:
            unique.setdefault(order_key(o), o)
        lines = []
        for o in unique.values():
            market = service.market(o.venue, o.symbol)
            lines.append(OrderLine(o, decimals_of(market.tick_size) if market else 8, market.quote if market else None))
        return cls(tuple(lines), history, now)


def order_row(line: OrderLine, history: bool, now: float) -> tuple[Text, ...]:
    """One row; every cell is plain Text (a venue's symbol or message is never markup)."""
    order, places = line.order, line.price_places
    kind = order.type.value
    if order.time_in_force.value != "gtc":
        kind += f" {order.time_in_force.value.upper()}"
    if order.post_only:
        kind += " post"
    side = Text(order.side.value, style="bold green" if order.side is Side.BUY else "bold red")
    status = Text(order.status.value)
    if order.status is OrderStatus.UNKNOWN:
        status = Text("UNKNOWN", style="bold reverse")  # reply lost: being looked up, do not resend
    elif order.status is OrderStatus.PENDING:
        status = Text("sending…", style="italic")
    elif order.status is OrderStatus.REJECTED and order.message:
        status = Text(f"rejected: {_plain(order.message)[:60]}")
    if history:
        avg = "—" if order.average_price is None else fmt_fixed(order.average_price, places)
        if order.fee:
            fee_places = max(2, places) if line.quote is not None and order.fee_currency == line.quote else 8
            fee = f"{fmt_fixed(order.fee, fee_places, grouping=False)} {order.fee_currency}"
        else:
            fee = "—"
        last = "—"
        if order.last_fill_at:
            last = datetime.fromtimestamp(order.last_fill_at, tz=UTC).strftime("%H:%M:%S")
        cells: tuple[str | Text, ...] = (order.venue, order.symbol, side, kind, avg, str(order.amount), str(order.filled), status,
                 fee, order.liquidity or "—", last)  # fmt: skip
    else:
        price = "market" if order.price is None else fmt_fixed(order.price, places)
        cells = (order.venue, order.symbol, side, kind, price, str(order.amount), str(order.filled), status,
                 fmt_age_coarse(max(0.0, now - order.created_at)))  # fmt: skip
    return tuple(c if isinstance(c, Text) else Text(_plain(c)) for c in cells)


class OrdersPane(RowTable):
    """A DataTable (the cursor selects the order to cancel) that repaints only the rows that
    changed: the open orders' ages tick once a second (ui/widgets/row_table.py)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._history: bool | None = None  # which column set the table has
        self._column_keys: list = []
        self._keys: list[str] = []
        self._rows: list[tuple[Text, ...]] = []
        self._orders: list[Order] = []

    def on_mount(self) -> None:
        set_title(self, OPEN_TITLE)
        self._set_columns(history=False)

    def _set_columns(self, *, history: bool) -> None:
        if self._history is history:
            return
        self.clear(columns=True)
        self._column_keys = self.add_columns(*(HISTORY_COLUMNS if history else OPEN_COLUMNS))
        self._history = history
        self._keys, self._rows = [], []

    @property
    def orders(self) -> list[Order]:
        return self._orders

    def selected_order(self) -> Order | None:
        if not self._orders or self.cursor_row is None:
            return None
        if 0 <= self.cursor_row < len(self._orders):
            return self._orders[self.cursor_row]
        return None

    def show(self, view: OrdersView) -> None:
        """Rows are diffed: when the same orders are shown, only changed rows (usually the
        age) are updated and repainted, with no layout pass; a new or gone order rebuilds."""
        self._set_columns(history=view.history)
        title = HISTORY_TITLE if view.history else OPEN_TITLE
        set_title(self, title)
        orders = [line.order for line in view.lines]
        keys = [order_key(o) for o in orders]
        rows = [order_row(line, view.history, view.now) for line in view.lines]
        if keys == self._keys:
            for key, row, before in zip(keys, rows, self._rows, strict=True):
                if row != before:
                    self.update_row(key, row)
        else:
            selected = self.selected_order()
            self.clear()
            for key, row in zip(keys, rows, strict=True):
                self.add_row(*row, key=key)
            if selected is not None:
                for index, order in enumerate(orders):
                    if order_key(order) == order_key(selected):
                        self.move_cursor(row=index)
                        break
        self._keys, self._rows, self._orders = keys, rows, orders
