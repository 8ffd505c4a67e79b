"""The buy / sell form: type, amount, price; live notional and fee; inline errors.

Enter validates everything at once (Decimal, the venue's market rules, balances,
liquidity) and opens the confirmation; nothing is sent until the operator presses
`y` there. The form dismisses with the OrderRequest to place, or None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from aitbc_tui import validation
from aitbc_tui.domain import Balance, BookSnapshot, Market, Mode, OrderRequest, OrderType, Side
from aitbc_tui.formatting import decimals_of, fmt_fixed
from aitbc_tui.ui.screens.confirm import ConfirmScreen


def _quiet_parse(text: str | None):
    """The number typed so far, or None while it is not (yet) a valid one."""
    try:
        return validation.parse_decimal(text, "value")
    except validation.ValidationError:
        return None


class OrderForm(ModalScreen[OrderRequest | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Close", id="form.close"),
        Binding("ctrl+t", "toggle_type", "Limit/market", id="form.toggle_type"),
        Binding("enter", "review", "Review", id="form.review", show=False, priority=False),
    ]

    def __init__(self, **settings) -> None:
        """``settings``: the keyword arguments of ``configure``."""
        super().__init__()
        self.configure(**settings)

    def configure(
        self,
        *,
        venue: str,
        mode: Mode,
        market: Market,
        side: Side,
        book: Callable[[], BookSnapshot | None],
        balances: Callable[[], Mapping[str, Balance]],
        amount: str = "",
    ) -> OrderForm:
        """Point the form at a venue, market and side, with fresh fields.

        The app builds one form and reconfigures it for every `b` / `s`: composing a
        modal with inputs costs ~60 ms of CSS work, reusing it costs almost nothing.
        """
        self.venue = venue
        self.mode = mode
        self.market = market
        self.side = side
        self._book = book
        self._balances = balances
        self.order_type = OrderType.LIMIT
        self._initial_amount = amount
        self._valid: validation.ValidatedOrder | None = None
        if self.is_mounted:
            self._fill()
        return self

    # ---- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="order-form", classes="modal-box"):
            yield Static("", id="form-title", classes="modal-title")
            yield Static("", id="form-market")
            with Horizontal(classes="form-row"):
                yield Label("Type", classes="form-label")
                yield Static("", id="form-type")
            with Horizontal(classes="form-row"):
                yield Label("Amount", classes="form-label", id="amount-label")
                yield Input(id="amount")
            yield Static("", id="amount-error", classes="form-error")
            with Horizontal(classes="form-row", id="price-row"):
                yield Label("Price", classes="form-label", id="price-label")
                yield Input(id="price")
            yield Static("", id="price-error", classes="form-error")
            yield Static("", id="form-estimate")
            yield Static("", id="form-error", classes="form-error")
            yield Static("Enter review · ctrl+t limit/market · Esc close", classes="modal-hint")

    def on_mount(self) -> None:
        self.set_interval(0.2, self._show_market, name="form-market")
        try:
            self._fill()
        except NoMatches:  # mounted off screen as the app shuts down; `configure` fills it
            pass

    def _show_market(self) -> None:
        """The live top of book, since the dashboard behind holds still while the form is open."""
        if not self.is_current:
            return
        book = self._book()
        places = decimals_of(self.market.tick_size)
        if book is None or book.best_bid is None or book.best_ask is None:
            text = "[dim]no two-sided book[/dim]"
        else:
            mid = (book.best_bid + book.best_ask) / 2
            bps = (book.best_ask - book.best_bid) / mid * 10000
            text = (
                f"bid [b]{fmt_fixed(book.best_bid, places)}[/b] · ask [b]{fmt_fixed(book.best_ask, places)}[/b]"
                f" · spread {fmt_fixed(bps, 2, grouping=False)} bps"
            )
        self.query_one("#form-market", Static).update(text)

    def on_screen_resume(self) -> None:
        self.query_one("#amount", Input).focus()

    def _fill(self) -> None:
        market = self.market
        box = self.query_one("#order-form")
        box.set_class(self.side is Side.BUY, "buy")
        box.set_class(self.side is Side.SELL, "sell")
        self.query_one("#form-title", Static).update(self._title())
        self.query_one("#form-type", Static).update(self._type_text())
        self.query_one("#amount-label", Label).update(f"Amount ({market.base})")
        self.query_one("#price-label", Label).update(f"Price ({market.quote})")
        amount = self.query_one("#amount", Input)
        amount.placeholder = f"lot {market.lot_size}"
        amount.value = self._initial_amount
        price = self.query_one("#price", Input)
        price.placeholder = f"tick {market.tick_size}"
        price.value = self._default_price()
        for error in ("#amount-error", "#price-error", "#form-error"):
            self.query_one(error, Static).update("")
        self.query_one("#price-row").display = True
        self.query_one("#price-error").display = True
        amount.focus()
        self._show_market()
        self._update_estimate()

    def _title(self) -> str:
        verb = "Buy" if self.side is Side.BUY else "Sell"
        return f"{verb} {self.market.symbol} on {self.venue} · {self.mode.value.upper()}"

    def _type_text(self) -> str:
        if self.order_type is OrderType.LIMIT:
            return "[b]◉ limit[/b]   ○ market    (ctrl+t)"
        return "○ limit   [b]◉ market[/b]    (ctrl+t)"

    def _default_price(self) -> str:
        # Prefill on the passive side so a limit order rests by default.
        book = self._book()
        if book is None:
            return ""
        price = book.best_bid if self.side is Side.BUY else book.best_ask
        if price is None:
            return ""
        return fmt_fixed(price, decimals_of(self.market.tick_size), grouping=False)

    # ---- live feedback ------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        self._update_estimate()

    def _texts(self) -> tuple[str, str | None]:
        amount = self.query_one("#amount", Input).value
        price = self.query_one("#price", Input).value if self.order_type is OrderType.LIMIT else None
        return amount, price

    def _update_estimate(self) -> None:
        amount_text, price_text = self._texts()
        self.query_one("#form-estimate", Static).update(self._estimate_text(amount_text, price_text))
        self.query_one("#form-error", Static).update("")

    def _estimate_text(self, amount_text: str, price_text: str | None) -> str:
        market = self.market
        amount = _quiet_parse(amount_text)
        price = _quiet_parse(price_text) if price_text is not None else None
        notional, fee = validation.estimate(market, self.side, self.order_type, amount, price, self._book())
        places = max(2, decimals_of(market.tick_size))
        rate = validation.fee_rate(market, self.order_type)
        approx = "≈ " if self.order_type is OrderType.MARKET else ""
        notional_text = "—" if notional is None else f"{approx}{fmt_fixed(notional, places)} {market.quote}"
        fee_text = "—" if fee is None else f"≈ {fmt_fixed(fee, places)} {market.quote}"
        spend = market.quote if self.side is Side.BUY else market.base
        available = self._balances().get(spend)
        free = "0" if available is None else str(available.free)
        return (
            f"Notional  {notional_text}\n"
            f"Fee       {fee_text} ({rate * 100:f}%)\n"
            f"Available {free} {spend}"
        )

    def action_toggle_type(self) -> None:
        self.order_type = OrderType.MARKET if self.order_type is OrderType.LIMIT else OrderType.LIMIT
        self.query_one("#form-type", Static).update(self._type_text())
        self.query_one("#price-row").display = self.order_type is OrderType.LIMIT
        self.query_one("#price-error").display = self.order_type is OrderType.LIMIT
        self._update_estimate()

    # ---- submit -----------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_review()

    def action_review(self) -> None:
        amount_text, price_text = self._texts()
        result = validation.validate_order(
            self.market,
            self.side,
            self.order_type,
            amount_text,
            price_text,
            self._balances(),
            self._book(),
        )
        errors = {"amount": "", "price": "", "": ""}
        if isinstance(result, list):
            for error in result:
                key = error.field if error.field in errors else ""
                errors[key] = (errors[key] + "\n" if errors[key] else "") + error.message
        self.query_one("#amount-error", Static).update(errors["amount"])
        self.query_one("#price-error", Static).update(errors["price"])
        self.query_one("#form-error", Static).update(errors[""])
        if isinstance(result, list):
            first = "amount" if errors["amount"] else ("price" if errors["price"] else None)
            if first:
                self.query_one(f"#{first}", Input).focus()
            return
        self._valid = result
        self.app.push_screen(self._confirm_screen(result), self._confirmed)

    def _confirm_screen(self, order: validation.ValidatedOrder) -> ConfirmScreen:
        places = decimals_of(self.market.tick_size)
        quote = self.market.quote
        price = "market (best available)" if order.price is None else f"{fmt_fixed(order.price, places)} {quote}"
        rows = [
            ("Venue", self.venue),
            ("Mode", self.mode.value.upper()),
            ("Side", self.side.value.upper()),
            ("Type", self.order_type.value),
            ("Amount", f"{order.amount} {self.market.base}"),
            ("Price", price),
            ("Notional", f"{'≈ ' if order.price is None else ''}{fmt_fixed(order.notional, max(2, places))} {quote}"),
            ("Fee (est.)", f"{fmt_fixed(order.fee, max(2, places))} {quote}"),
        ]
        verb = "BUY" if self.side is Side.BUY else "SELL"
        return ConfirmScreen(
            f"{verb} {self.market.symbol} on {self.venue}?",
            rows,
            live=self.mode is Mode.LIVE,
            id="order-confirm",
        )

    def _confirmed(self, yes: bool | None) -> None:
        if not yes or self._valid is None:
            self.query_one("#amount", Input).focus()
            return
        order = self._valid
        self.dismiss(
            OrderRequest(
                venue=self.venue,
                symbol=self.market.symbol,
                side=self.side,
                type=self.order_type,
                amount=order.amount,
                price=order.price,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
