"""The buy / sell form: type, time in force, post-only, amount, price; live estimates.

Every figure on the form comes from one book snapshot, taken again as the book moves
(5 times a second): the estimate, the maker/taker call, the validation and the
confirmation agree. A market order is sent as a marketable IOC limit at the slippage cap
(``[risk] max_slippage_bps``); at `y` it is re-quoted on the live book and nothing is
sent if the market has moved beyond the cap. A limit further than ``[risk]
price_band_pct`` from the mid needs a second confirmation naming the distance. Nothing
typed is ever parsed as markup. The form dismisses with the OrderRequest, or None.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from decimal import ROUND_FLOOR, Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from aitbc_tui import validation
from aitbc_tui.domain import Balance, BookSnapshot, Market, Mode, OrderRequest, OrderType, Side, TimeInForce
from aitbc_tui.formatting import decimals_of, fmt_balance, fmt_fixed, fmt_price
from aitbc_tui.ui.screens.confirm import ConfirmScreen

DEFAULT_OPTIONS = frozenset({"gtc", "ioc", "fok", "post_only"})
PRESETS = {"f2": Decimal("0.25"), "f3": Decimal("0.5"), "f4": Decimal("1")}


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
        Binding("ctrl+o", "cycle_tif", "Time in force", id="form.tif"),
        Binding("ctrl+g", "toggle_post_only", "Post-only", id="form.post_only"),
        Binding("f2", "preset('0.25')", "25 %", id="form.preset_25"),
        Binding("f3", "preset('0.5')", "50 %", id="form.preset_50"),
        Binding("f4", "preset('1')", "100 %", id="form.preset_100"),
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
        max_slippage_bps: Decimal = Decimal(50),
        price_band_pct: Decimal = Decimal(5),
        options: Collection[str] = DEFAULT_OPTIONS,
        submit: Callable[[OrderRequest], None] | None = None,
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
        self.max_slippage_bps = max_slippage_bps
        self.price_band_pct = price_band_pct
        self.options = frozenset(options)
        # Called with the request at `y`, before the form closes: the pending row is in the
        # orders table in the same frame the form disappears (a dismiss result travels
        # through the app's message queue behind the screen pops, ~125 ms measured).
        self._submit = submit
        self.order_type = OrderType.LIMIT
        self.time_in_force = TimeInForce.GTC
        self.post_only = False
        self._initial_amount = amount
        self._valid: validation.ValidatedOrder | None = None
        self._snapshot: BookSnapshot | None = None
        if self.is_mounted:
            self._fill()
        return self

    # ---- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="order-form", classes="modal-box"):
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
            yield Static(
                "Enter review · ctrl+t limit/market · ctrl+o GTC/IOC/FOK · ctrl+g post-only · "
                "F2/F3/F4 25/50/100 % · Esc close",
                classes="modal-hint",
            )

    def on_mount(self) -> None:
        self.set_interval(0.2, self._refresh_live, name="form-market")
        try:
            self._fill()
        except NoMatches:  # mounted off screen as the app shuts down; `configure` fills it
            pass

    def _take_snapshot(self) -> BookSnapshot | None:
        self._snapshot = self._book()
        return self._snapshot

    def _refresh_live(self) -> None:
        """The live top of book and the estimates on it (the dashboard behind holds still)."""
        if not self.is_current:
            return
        before = self._snapshot
        self._take_snapshot()
        self._show_market()
        if self._snapshot is not before:
            self._update_estimate(clear_error=False)

    def _show_market(self) -> None:
        book = self._snapshot
        places = decimals_of(self.market.tick_size)
        text = Text()
        if book is None or book.best_bid is None or book.best_ask is None:
            text.append("no two-sided book", style="dim")
        else:
            mid = (book.best_bid + book.best_ask) / 2
            bps = (book.best_ask - book.best_bid) / mid * 10000
            text.append("bid ")
            text.append(fmt_fixed(book.best_bid, places), style="bold")
            text.append(" · ask ")
            text.append(fmt_fixed(book.best_ask, places), style="bold")
            text.append(f" · spread {fmt_fixed(bps, 2, grouping=False)} bps")
        self.query_one("#form-market", Static).update(text)

    def on_screen_resume(self) -> None:
        # _fill focused the amount when `b` was read, and the keys typed behind `b` may
        # already have moved on (Tab to the price): a late focus() here would pull them
        # back into the amount ("b1.5<Tab>64000" gave amount 000, price 64). Back from the
        # confirmation, the field the operator was in keeps the focus.
        if self.focused is None:
            self.set_focus(self.query_one("#amount", Input))

    def _fill(self) -> None:
        market = self.market
        box = self.query_one("#order-form")
        box.set_class(self.side is Side.BUY, "buy")
        box.set_class(self.side is Side.SELL, "sell")
        self.query_one("#form-title", Static).update(Text(self._title()))
        self.query_one("#form-type", Static).update(self._type_text())
        self.query_one("#amount-label", Label).update(Text(f"Amount ({market.base})"))
        self.query_one("#price-label", Label).update(Text(f"Price ({market.quote})"))
        self._take_snapshot()
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
        # At once, not through widget.focus() (deferred a message round): keys typed right
        # behind `b` are handed to whatever this screen has focused when the app reads them.
        self.set_focus(amount)
        self._show_market()
        self._update_estimate()

    def _title(self) -> str:
        verb = "Buy" if self.side is Side.BUY else "Sell"
        return f"{verb} {self.market.symbol} on {self.venue} · {self.mode.value.upper()}"

    def _type_text(self) -> Text:
        text = Text()
        for kind in (OrderType.LIMIT, OrderType.MARKET):
            chosen = self.order_type is kind
            text.append(("◉ " if chosen else "○ ") + kind.value, style="bold" if chosen else "")
            text.append("   ")
        if self.order_type is OrderType.LIMIT:
            text.append("│ ")
            text.append(self.time_in_force.value.upper(), style="bold")
            if self.post_only:
                text.append(" · post-only", style="bold")
        else:
            text.append(f"│ IOC limit, cap {self.max_slippage_bps:f} bps", style="dim")
        return text

    def _default_price(self) -> str:
        # Prefill on the passive side so a limit order rests by default.
        book = self._snapshot
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

    def _update_estimate(self, clear_error: bool = True) -> None:
        amount_text, price_text = self._texts()
        self.query_one("#form-estimate", Static).update(self._estimate_text(amount_text, price_text))
        if clear_error:
            self.query_one("#form-error", Static).update("")

    def _estimate_text(self, amount_text: str, price_text: str | None) -> Text:
        market = self.market
        book = self._snapshot
        amount = _quiet_parse(amount_text)
        price = _quiet_parse(price_text) if price_text is not None else None
        places = max(2, decimals_of(market.tick_size))
        notional, fee = validation.estimate(market, self.side, self.order_type, amount, price, book)
        rate = validation.fee_rate(market, self.order_type, self.side, price, book)
        text = Text()
        approx = "≈ " if self.order_type is OrderType.MARKET else ""
        text.append(
            f"Notional  {'—' if notional is None else approx + fmt_fixed(notional, places) + ' ' + market.quote}\n"
        )
        if self.order_type is OrderType.LIMIT:
            cross = validation.crosses(self.side, price, book)
            liquidity = ("crosses now: taker" if cross else "rests: maker") if cross is not None else "maker or taker"
        else:
            liquidity = "taker"
        fee_text = "—" if fee is None else f"≈ {fmt_fixed(fee, places)} {market.quote}"
        text.append(f"Fee       {fee_text} ({rate * 100:f} %, {liquidity})\n")
        if self.order_type is OrderType.MARKET and amount is not None and amount > 0:
            cap = validation.slippage_cap_price(market, self.side, book, self.max_slippage_bps)
            walk, problem = validation.market_quote(market, self.side, amount, book, cap)
            if walk is not None and walk.average_price is not None:
                text.append(f"Expected  avg {fmt_fixed(walk.average_price, places)} · worst "
                            f"{fmt_fixed(walk.worst_price, places)} · cap "
                            f"{'—' if cap is None else fmt_fixed(cap, places)} {market.quote}\n")  # fmt: skip
            if problem:
                text.append(problem + "\n", style="bold")
        spend = market.quote if self.side is Side.BUY else market.base
        available = self._balances().get(spend)
        free = Decimal(0) if available is None else available.free
        text.append(f"Available {fmt_balance(free, spend, market)} {spend}")
        return text

    def action_toggle_type(self) -> None:
        self.order_type = OrderType.MARKET if self.order_type is OrderType.LIMIT else OrderType.LIMIT
        self.query_one("#form-type", Static).update(self._type_text())
        self.query_one("#price-row").display = self.order_type is OrderType.LIMIT
        self.query_one("#price-error").display = self.order_type is OrderType.LIMIT
        self._update_estimate()

    def _say(self, message: str) -> None:
        self.query_one("#form-error", Static).update(Text(message))

    def action_cycle_tif(self) -> None:
        if self.order_type is OrderType.MARKET:
            self._say("a market order is always IOC (sent as an IOC limit at the slippage cap)")
            return
        order = [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]
        start = order.index(self.time_in_force)
        for step in range(1, 4):
            candidate = order[(start + step) % 3]
            if candidate.value in self.options:
                break
            self._say(f"{self.venue} has no {candidate.value.upper()} orders on spot")
        else:
            return
        if candidate is not TimeInForce.GTC and self.post_only:
            self.post_only = False
        self.time_in_force = candidate
        self.query_one("#form-type", Static).update(self._type_text())

    def action_toggle_post_only(self) -> None:
        if "post_only" not in self.options:
            self._say(f"{self.venue} has no post-only orders")
            return
        if self.order_type is OrderType.MARKET:
            self._say("post-only needs a limit order")
            return
        self.post_only = not self.post_only
        if self.post_only:
            self.time_in_force = TimeInForce.GTC
        self.query_one("#form-type", Static).update(self._type_text())

    def action_preset(self, fraction: str) -> None:
        """Amount = a share of what is available (rounded down to the lot; fees included on a buy)."""
        share = Decimal(fraction)
        market = self.market
        balances = self._balances()
        book = self._snapshot
        if self.side is Side.SELL:
            free = balances.get(market.base)
            amount = (free.free if free else Decimal(0)) * share
        else:
            free = balances.get(market.quote)
            _amount, price_text = self._texts()
            price = _quiet_parse(price_text) if price_text is not None else None
            if price is None:
                price = validation.slippage_cap_price(market, Side.BUY, book, self.max_slippage_bps) if (
                    self.order_type is OrderType.MARKET) else (book.best_ask if book else None)  # fmt: skip
            if not price:
                self._say("no price to size the order by: type a price first")
                return
            rate = validation.fee_rate(market, self.order_type, self.side, price, book)
            amount = (free.free if free else Decimal(0)) * share / (price * (1 + rate))
        lots = (amount / market.lot_size).to_integral_value(rounding=ROUND_FLOOR)
        amount = lots * market.lot_size
        self.query_one("#amount", Input).value = fmt_fixed(amount, decimals_of(market.lot_size), grouping=False)
        self.query_one("#amount", Input).focus()

    # ---- submit -----------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_review()

    def _validate(self, book: BookSnapshot | None):
        amount_text, price_text = self._texts()
        return validation.validate_order(
            self.market,
            self.side,
            self.order_type,
            amount_text,
            price_text,
            self._balances(),
            book,
            max_slippage_bps=self.max_slippage_bps,
        )

    def action_review(self) -> None:
        book = self._take_snapshot()
        self._show_market()  # the form's bid / ask line is the book the review is judged on
        result = self._validate(book)
        errors = {"amount": "", "price": "", "": ""}
        if isinstance(result, list):
            for error in result:
                key = error.field if error.field in errors else ""
                errors[key] = (errors[key] + "\n" if errors[key] else "") + error.message
        self.query_one("#amount-error", Static).update(Text(errors["amount"]))
        self.query_one("#price-error", Static).update(Text(errors["price"]))
        self.query_one("#form-error", Static).update(Text(errors[""]))
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
        money = max(2, places)
        if order.price is None:
            kind = f"market · sent as IOC limit at {fmt_price(order.limit_price, self.market)} {quote} (slippage cap {self.max_slippage_bps:f} bps)"
            price = (f"≈ {fmt_price(order.average_price, self.market)} avg · worst {fmt_price(order.worst_price, self.market)} {quote}"
                     " (re-quoted at y)")  # fmt: skip
        else:
            options = self.time_in_force.value.upper() + (" · post-only" if self.post_only else "")
            kind = f"limit · {options} · {'crosses now: taker' if order.crosses else 'rests: maker'}"
            price = f"{fmt_fixed(order.price, places)} {quote}"
        rows = [
            ("Venue", self.venue),
            ("Mode", self.mode.value.upper()),
            ("Side", self.side.value.upper()),
            ("Type", kind),
            ("Amount", f"{order.amount} {self.market.base}"),
            ("Price", price),
            ("Notional", f"{'≈ ' if order.price is None else ''}{fmt_fixed(order.notional, money)} {quote}"),
            ("Fee (est.)", f"{fmt_fixed(order.fee, money)} {quote} ({order.fee_rate * 100:f} %)"),
        ]
        verb = "BUY" if self.side is Side.BUY else "SELL"
        return ConfirmScreen(
            f"{verb} {self.market.symbol} on {self.venue}?",
            rows,
            live=self.mode is Mode.LIVE,
            id="order-confirm",
        )

    def _request(self, order: validation.ValidatedOrder) -> OrderRequest:
        if order.price is None:  # market: a marketable limit at the cap, immediate or cancel
            return OrderRequest(venue=self.venue, symbol=self.market.symbol, side=self.side, type=OrderType.LIMIT,
                                amount=order.amount, price=order.limit_price, time_in_force=TimeInForce.IOC)  # fmt: skip
        return OrderRequest(venue=self.venue, symbol=self.market.symbol, side=self.side, type=OrderType.LIMIT,
                            amount=order.amount, price=order.price, time_in_force=self.time_in_force,
                            post_only=self.post_only)  # fmt: skip

    def _band_distance_pct(self, order: validation.ValidatedOrder) -> Decimal | None:
        book = self._book()
        if order.price is None or book is None or book.mid is None:
            return None
        distance = abs(order.price - book.mid) / book.mid * 100
        return distance if distance > self.price_band_pct else None

    def _confirmed(self, yes: bool | None) -> None:
        if not yes or self._valid is None:
            self.query_one("#amount", Input).focus()
            return
        order = self._valid
        if order.price is None:
            # Re-quote on the live book: the market may have moved while the confirmation was open.
            book = self._take_snapshot()
            _walk, problem = validation.market_quote(self.market, self.side, order.amount, book, order.limit_price)
            if problem:
                self._say(f"not sent: the market moved: {problem}")
                self.query_one("#amount", Input).focus()
                return
        distance = self._band_distance_pct(order)
        if distance is not None:

            def second(yes_again: bool | None) -> None:
                if yes_again:
                    self._send(self._request(order))
                else:
                    self.query_one("#price", Input).focus()

            self.app.push_screen(
                ConfirmScreen(
                    f"Price {fmt_price(order.price, self.market)} is {fmt_fixed(distance, 2, grouping=False)} % from the mid",
                    [
                        ("Band", f"{self.price_band_pct:f} % (risk.price_band_pct)"),
                        (
                            "Mid",
                            f"{fmt_price(book.mid if (book := self._book()) else None, self.market)} {self.market.quote}",
                        ),
                    ],  # fmt: skip
                    prompt="y send it anyway · n / Esc back to the form",
                    live=self.mode is Mode.LIVE,
                    id="price-band-confirm",
                ),
                second,
            )
            return
        self._send(self._request(order))

    def _send(self, request: OrderRequest) -> None:
        if self._submit is not None:
            self._submit(request)
            self.dismiss(None)
        else:
            self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
