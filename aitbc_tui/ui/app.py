"""The dashboard: one screen of panes over the market service.

The app owns the service lifecycle (start on mount, stop on unmount). Panes never
call a venue: a 20 Hz timer drains the service's dirty books, so however fast the
feeds run, each pane repaints at most 20 times a second, and only when its data
changed. Actions (place, cancel, kill switch) run in named workers; failures are
turned into notifications in one place.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widget import Widget
from aitbc_tui.ui.widgets.footer import DeskFooter
from aitbc_tui.ui import strip_cycles

from aitbc_tui import analysis

from aitbc_tui.config import RiskConfig
from aitbc_tui.domain import HealthStatus, Mode, Order, OrderRequest, OrderStatus, Side, VenueUnavailable
from aitbc_tui.orders import OrderEvent
from aitbc_tui.venues.quirks import order_options
from aitbc_tui.service import MarketService, describe_error
from aitbc_tui.formatting import decimals_of, fmt_fixed
from aitbc_tui.ui.screens.confirm import ConfirmScreen
from aitbc_tui.ui.screens.credentials import CredentialsScreen
from aitbc_tui.ui.screens.live_gate import LiveGateScreen
from aitbc_tui.ui.screens.help import HelpScreen
from aitbc_tui.ui.screens.order_form import OrderForm
from aitbc_tui.ui.screens.picker import SymbolPicker
from aitbc_tui.ui.screens.quit_confirm import QuitConfirm
from aitbc_tui.ui.themes import TRADING_VARIABLE_DEFAULTS, ThemeProblem, load_themes
from aitbc_tui.ui.alerting import EventsMixin
from aitbc_tui.ui.layouts import LayoutsMixin
from aitbc_tui.ui.arb_actions import ArbMixin
from aitbc_tui.ui.screens.arbitrage import ArbBanner
from aitbc_tui.ui.panes.arbitrage import ArbitragePane, ArbitrageView, FundingCache
from aitbc_tui.ui.panes.balances import BalancesPane, BalancesView
from aitbc_tui.ui.panes.book import BookPane, BookView
from aitbc_tui.ui.panes.health import HealthPane, HealthView
from aitbc_tui.ui.panes.orders import OrdersPane, OrdersView
from aitbc_tui.ui.panes.status import StatusBar, StatusView

W = TypeVar("W", bound=Widget)

REPAINT_HZ = 20
FULL_GC_EVERY = 100  # middle-generation collections per full one (Python's default: 10)
HEALTH_HZ = 2

NARROW_WIDTH = 140  # below this many columns the ladder narrows (screen class "narrow")
SHORT_HEIGHT = 30  # below this many lines, modals use one-line fields (app class "short")
TINY_WIDTH = 100  # below this the ladder is narrowest and speaks briefly (screen class "tiny")


@dataclass(frozen=True, slots=True)
class Notice:
    """A toast as the operator saw it (plain text)."""

    title: str
    message: str
    severity: str


class AitbcApp(EventsMixin, LayoutsMixin, ArbMixin, App[None]):
    CSS_PATH = ["app.tcss", "layouts.tcss"]
    TITLE = "aitbc-tui"

    BINDINGS = [
        # Priority (checked when the app reads the key) so the keys typed right behind `b`
        # reach the form's amount field: "b1.5" in one read gave amount ".5" when `b`
        # waited its turn behind the pane that had focus. check_action turns them off
        # while any other screen is up, where `b` and `s` are text.
        Binding("b", "order('buy')", "Buy", priority=True, id="order.buy"),
        Binding("s", "order('sell')", "Sell", priority=True, id="order.sell"),
        Binding("c", "cancel_selected", "Cancel", id="order.cancel"),
        # Not a priority binding: inside a text field ctrl+k is the field's own edit
        # (delete to the end), so the kill switch is never reachable from typing.
        Binding("ctrl+k", "kill_switch", "Kill switch", id="order.kill"),
        Binding("x", "arb_execute", "Arbitrage", show=False, id="order.arbitrage"),
        Binding("I", "inventory", "Inventory", show=False, id="inventory.show"),
        Binding("v,right_square_bracket", "next_venue", "Venue", id="venue.next"),
        Binding("V,left_square_bracket", "previous_venue", "Prev venue", show=False, id="venue.previous"),
        Binding("slash", "pick_symbol", "Symbol", id="symbol.pick"),
        Binding("h", "toggle_history", "History", id="orders.history"),
        Binding("t", "next_theme", "Theme", id="theme.next"),
        Binding("K", "credentials", "Keys", show=False, id="app.credentials"),
        Binding("e", "events", "Events", show=False, id="events.show"),
        Binding("exclamation_mark", "new_alert", "Alert", show=False, id="alerts.new"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        # Priority: focus moves when the app reads the key, before the keys typed after it
        # are handed to a widget. Without it a burst ("0.01<Tab>64000" from a fast typist or
        # a paste-like read) put "64000" into the field Tab was leaving: amount 0.0164000.
        Binding("tab", "app.focus_next", "Next pane", show=False, priority=True, id="focus.next"),
        Binding("shift+tab", "app.focus_previous", "Prev pane", show=False, priority=True, id="focus.previous"),
        # Charts and ladder grouping (aitbc_tui/ui/screens/chart.py, panes/book.py).
        Binding("C", "chart('price')", "Chart", show=False, id="chart.show"),
        Binding("D", "chart('depth')", "Depth chart", show=False, id="depth.show"),
        Binding("g", "cycle_grouping", "Group", show=False, id="ladder.group"),
        Binding("1", "layout('default')", "Layout: default", show=False, id="layout.default"),
        Binding("2", "layout('trade')", "Layout: trade", show=False, id="layout.trade"),
        Binding("3", "layout('watch')", "Layout: watch", show=False, id="layout.watch"),
        Binding("4", "layout('account')", "Layout: account", show=False, id="layout.account"),
        Binding("z", "maximise", "Maximise pane", show=False, id="pane.maximise"),
        # Pane sizes (ui/layouts.py SPLITS). Not + / -: the replay dashboard (ui/replay_app.py,
        # a subclass) has them for its speed, and one key does one action.
        Binding("greater_than_sign", "resize(1)", "Grow pane", show=False, id="pane.grow"),
        Binding("less_than_sign", "resize(-1)", "Shrink pane", show=False, id="pane.shrink"),
        Binding("0", "reset_size", "Default sizes", show=False, id="pane.size_reset"),
    ]

    def __init__(
        self,
        service: MarketService,
        *,
        mode: Mode = Mode.SANDBOX,
        clock: Callable[[], float] = time.time,
        theme: str | None = None,
        impact_size: Decimal | None = None,
        impact_sizes: Mapping[str, Decimal] | None = None,
        impact_value: Decimal = Decimal(10000),
        impact_value_currency: str = "USDT",
        min_arb_net_bps: Decimal | None = None,
        keymap: dict[str, str] | None = None,
        start_service: bool = True,
        read_only: bool = False,
        live_gate: str | None = None,
        config: object = None,
        credential_store_factory: Callable | None = None,
        event_log=None,
    ) -> None:
        """``live_gate``: the word the operator must type before any order action (live
        mode); None: no gate. ``config``: for the credentials screen (venues, ``keys test``)."""
        super().__init__()
        strip_cycles.install()  # painted lines freed by refcount, not by a 90 ms full collection
        self.service = service
        self.mode = mode
        self.clock = clock
        self.impact_size = impact_size
        self.impact_sizes = dict(impact_sizes or {})  # per symbol, from [ui] impact_size
        # Without a size in base units, impact is measured for an order worth impact_value.
        self.impact_value = impact_value
        self.notices: deque[Notice] = deque(maxlen=500)  # every toast of the session, newest last
        self.impact_value_currency = impact_value_currency
        self._rates: dict[str, Decimal] = {}  # asset -> price in impact_value_currency
        self._rates_at = float("-inf")
        self.min_arb_net_bps = min_arb_net_bps
        self.read_only = read_only
        self.live_gate = live_gate
        self.trading_armed = live_gate is None  # order actions work only once the gate is passed
        self.config = config
        self._credential_store_factory = credential_store_factory
        self._start_service = start_service
        self._keymap = keymap or {}
        themes, problems = load_themes()
        self._theme_problems: list[ThemeProblem | str] = list(problems)
        for item in themes:
            self.register_theme(item)
        self._theme_names = [t.name for t in themes] or ["textual-dark"]
        self.theme = self._resolve_theme(theme or "aitbc-dark")
        self.venue: str | None = None
        self.symbol: str | None = None
        self.show_history = False
        self._orders_seen = -1
        self._arb_index: analysis.ArbitrageIndex | None = None
        self._arb_funding = FundingCache()  # fundable size per route, only recomputed when its inputs change
        self._repaint_timers: list = []
        self._gc_thresholds: tuple[int, int, int] | None = None  # the process's, restored at unmount
        self._width_class = ""  # "", "narrow" or "tiny": the screen's class for its width
        self._order_form: OrderForm | None = None
        self._orders_second = 0
        self._arb_excluded: set[str] = set()  # venues whose books arbitrage ignores now
        self._hint_text: str | None = None
        self._wanted_symbol: str | None = None  # the symbol last chosen with `/`
        risk = getattr(config, "risk", None)
        self.risk = risk if isinstance(risk, RiskConfig) else RiskConfig()
        ui = getattr(config, "ui", None)
        self.bell_on_fill = bool(getattr(ui, "bell", True))
        self.bells = 0  # rung so far (the tests read it)
        self._init_events(event_log)  # every notice also goes to the event log (`e`)
        self._init_layouts()  # layouts 1-4, z maximise, the market panes (ui/layouts.py)

    def on_resize(self, event: events.Resize) -> None:
        """Each pane fits itself to its width (columns dropped by priority); the app
        only picks the ladder's width class."""
        self.set_class(event.size.height < SHORT_HEIGHT, "short")  # modals close up on a short terminal
        if self.screen_stack:
            self._apply_pane_sizes()  # each side of a split keeps its minimum at the new size
        width = event.size.width
        width_class = "tiny" if width < TINY_WIDTH else "narrow" if width < NARROW_WIDTH else ""
        if width_class == self._width_class or not self.screen_stack:
            return
        self._width_class = width_class
        dashboard = self.screen_stack[0]
        dashboard.set_class(width < NARROW_WIDTH, "narrow")
        dashboard.set_class(width_class == "tiny", "tiny")
        self._repaint(force=True)
        self._repaint_slow(force=True)

    def _pane(self, selector: str, expect_type: type[W]) -> W:
        """A widget of the dashboard screen, even while a modal is on top (App.query_one
        would search the modal and miss it)."""
        return self.screen_stack[0].query_one(selector, expect_type)

    def get_system_commands(self, screen):
        """Every dashboard action in the command palette (ctrl+p), beside Textual's own."""
        yield from super().get_system_commands(screen)
        commands = [
            ("Buy", "open the buy form for the focused venue and symbol", lambda: self.action_order("buy")),
            ("Sell", "open the sell form for the focused venue and symbol", lambda: self.action_order("sell")),
            ("Cancel selected order", "cancel the order selected in the orders pane", self.action_cancel_selected),
            ("Kill switch", "cancel every open order on every venue", self.action_kill_switch),
            ("Next venue", "focus the next venue", self.action_next_venue),
            ("Previous venue", "focus the previous venue", self.action_previous_venue),
            ("Pick symbol", "choose the symbol shown in the order book", self.action_pick_symbol),
            ("Open orders / history", "switch the orders pane", self.action_toggle_history),
            ("Inventory", "each asset per venue (free / used) and the routes the balances cut", self.action_inventory),
            ("Next theme", "cycle the themes", self.action_next_theme),
            ("Help", "keys, modes and the health rule", self.action_help),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)

    def _resolve_theme(self, wanted: str) -> str:
        """A theme by name; "dark" means "aitbc-dark"; an unknown name falls back with a notice."""
        for name in (wanted, f"aitbc-{wanted}"):
            if name in self._theme_names or name in self.available_themes:
                return name
        fallback = "aitbc-dark" if "aitbc-dark" in self._theme_names else self._theme_names[0]
        self._theme_problems.append(f"unknown theme {wanted!r}; using {fallback}")
        return fallback

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # Trading colours for any theme, Textual's built-in ones included.
        return {**super().get_theme_variable_defaults(), **TRADING_VARIABLE_DEFAULTS}

    # ---- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        # The default layout's panes only: the other layouts' are composed on their first
        # use (LayoutsMixin._compose_layout), so launch does not pay for what is not shown.
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield BookPane(id="ladder")
                yield HealthPane(id="health")
            with Vertical(id="right"):
                yield BalancesPane(id="balances")
                yield ArbitragePane(id="arb")
                yield OrdersPane(id="orders")
        yield ArbBanner(id="arb-banner")
        yield DeskFooter()

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        self.query_one("#ladder").border_title = "Order book"
        self.query_one("#health").border_title = "Health"
        self.query_one("#balances").border_title = "Balances (free)"
        self.query_one("#arb").border_title = "Arbitrage · net of both taker fees"
        self.query_one("#status-bar").add_class(f"mode-{self.mode.value}")
        if self.mode is Mode.LIVE:
            # The whole screen carries the LIVE marker, in a colour no other mode uses.
            self.screen.add_class("mode-live")
            self.screen.border_title = "LIVE · real money"
        # The status bar says "panes paused" from the frame a modal opens to the one it closes.
        self.screen_change_signal.subscribe(self, self._on_screen_change)
        self.service.add_listener(self._service_notice)
        self.service.add_event_listener(self._order_event)
        if self.live_gate is not None:
            self.push_screen(LiveGateScreen(self.live_gate, self._live_venues()), self._live_gate_passed)
        self._events_mounted()
        for problem in self._theme_problems:
            self.notify(f"theme skipped: {problem}", severity="warning", timeout=8)
        self._update_status()
        self._repaint_timers = [
            self.set_interval(1 / REPAINT_HZ, self._repaint, name="repaint"),
            self.set_interval(1 / HEALTH_HZ, self._repaint_slow, name="repaint-slow"),
        ]
        self.query_one("#ladder").focus()
        self._layouts_mounted()
        if self._start_service:
            self.run_worker(self._start(), name="service-start", exit_on_error=False)
        else:
            self._on_service_ready()

    def _on_screen_change(self, _screen) -> None:
        try:
            self._update_status()
        except (NoMatches, IndexError):  # the last screens going as the app exits
            pass

    async def _start(self) -> None:
        await self.service.start()
        self._on_service_ready()

    def _live_venues(self) -> list[str]:
        return [n for n in self.service.venue_names if getattr(self.service.venue(n), "mode", None) is Mode.LIVE]

    def _live_gate_passed(self, typed: bool | None) -> None:
        if not typed:
            self.exit(return_code=0, message="live gate not confirmed: nothing was sent")
            return
        self.trading_armed = True
        self._hint_text = None
        self.notify("LIVE trading enabled: orders use real money", severity="warning", timeout=6)
        self._update_status()

    def _service_notice(self, message: str) -> None:
        """Reconciliation and UNKNOWN-order outcomes from the service."""
        self.notify(_plain(message), severity="warning", timeout=15, markup=False)
        self._orders_seen = -1

    def ring_bell(self) -> None:
        self.bells += 1
        self.bell()

    def _order_event(self, event: OrderEvent) -> None:
        """Fills of every order (resting ones included), cancels the operator did not ask
        for, and journal failures: a toast each, and the bell on a fill."""
        order = event.order
        market = self.service.market(order.venue, order.symbol)
        places = decimals_of(market.tick_size) if market else 8
        if event.kind == "fill" and event.fill is not None:
            fill = event.fill
            fee = f"{fmt_fixed(fill.fee, max(2, places) if fill.fee_currency == (market.quote if market else '') else 8, grouping=False)} {fill.fee_currency}"
            done = "filled" if order.filled >= order.amount else f"partly filled ({order.filled} of {order.amount})"
            text = (f"{order.venue}: {done}: {order.side.value} {fill.amount} {order.symbol} at "
                    f"{fmt_fixed(fill.price, places)} · fee {fee} ({'maker' if fill.is_maker else 'taker'})")  # fmt: skip
            self.notify(_plain(text), title="Fill", timeout=10, markup=False)
            if self.bell_on_fill:
                self.ring_bell()
        elif event.kind == "canceled" and event.by not in ("operator", "kill switch"):
            why = f": {event.message}" if event.message else ""
            self.notify(_plain(f"{order.venue}: {order.side.value} {order.amount} {order.symbol} canceled by {event.by}{why}"),
                        severity="warning", timeout=10, markup=False)  # fmt: skip
        elif event.kind == "journal":
            self.notify(_plain(event.message), severity="error", timeout=30, markup=False)
        self._orders_seen = -1

    def _order_actions_refused(self, venue: str | None) -> str | None:
        """Why order actions on ``venue`` are refused now, or None."""
        if not self.trading_armed:
            return "live trading is locked: type the word shown at start"
        if self.read_only:
            return "read-only (--read-only): order actions are disabled"
        if venue is not None and self.service.is_read_only(venue):
            return f"{venue} is read-only (its config or its keys): order actions are disabled"
        if not self.service.accepting_orders:
            return "reconciling the journal with the venues: orders are accepted when that finishes"
        return None

    def _on_service_ready(self) -> None:
        names = self.service.venue_names
        if self.venue is None and names:
            self.venue = names[0]
            symbols = list(self.service.markets(self.venue))
            self.symbol = symbols[0] if symbols else None
        self._arb_index = analysis.ArbitrageIndex(self.service.taker_fees())
        for book in self.service.books().values():
            self._arb_index.update(book)
        self._refresh_rates(force=True)
        self._cap_arbitrage_by_balances()
        self._arb_ready()
        self._repaint(force=True)
        self._repaint_slow(force=True)
        # Everything built so far lives for the session: move it out of the collector's
        # reach, so full collections during a busy market scan only what is new.
        gc.freeze()
        # A full collection now finds next to no garbage (painted strips are freed by
        # refcount, ui/strip_cycles.py) but still walks every live object, ~25-45 ms with the
        # market panes up: at most one per 100 middle-generation collections, not per 10.
        if self._gc_thresholds is None:
            self._gc_thresholds = gc.get_threshold()
            young, middle, _old = self._gc_thresholds
            gc.set_threshold(young, middle, FULL_GC_EVERY)
        # Compose the order form once the first frames are out, while nobody waits for
        # it, so `b` only has to show it.
        self.set_timer(0.3, self._prepare_order_form, name="prepare-order-form")

    def _order_settings(self, venue: str, symbol: str, side: Side) -> dict | None:
        market = self.service.market(venue, symbol)
        if market is None:
            return None
        return dict(
            venue=venue,
            mode=self.mode,
            market=market,
            side=side,
            book=lambda: self.service.book(venue, symbol),
            balances=lambda: self.service.balances(venue),
            max_slippage_bps=self.risk.max_slippage_bps,
            price_band_pct=self.risk.price_band_pct,
            options=self._venue_options(venue),
            submit=self._place,
        )

    def _venue_options(self, venue: str) -> frozenset[str]:
        from aitbc_tui.service import exchange_id_of

        return order_options(exchange_id_of(self.service.venue(venue)))

    def _prepare_order_form(self) -> None:
        """Build, install and mount (compose + CSS) the one order form off screen.

        Mounting is what `push_screen` does for a screen that is not running yet
        (`App._get_screen`); here it happens after the first frame, not after a keypress.
        The form stays off the screen stack, so nothing is shown."""
        if self._order_form is not None or self.venue is None or self.symbol is None:
            return
        settings = self._order_settings(self.venue, self.symbol, Side.BUY)
        if settings is None or self._order_form is not None:
            return
        self._order_form = OrderForm(**settings)
        self.install_screen(self._order_form, name="order-form")
        try:
            self._get_screen("order-form")  # register + mount without pushing
        except Exception:  # noqa: BLE001 - a private Textual API: fall back to composing on `b`
            pass

    async def on_unmount(self) -> None:
        for timer in self._repaint_timers:
            timer.stop()
        if self._gc_thresholds is not None:
            gc.set_threshold(*self._gc_thresholds)
            self._gc_thresholds = None
        await self.service.stop()
        self._events_unmounted()

    # ---- repaint (bounded rate, only what changed) ------------------------------------

    def _behind_modal(self) -> bool:
        # Textual composites the dashboard under a modal only partly: rows under the
        # modal's span kept showing old prices beside fresh ones. So the dashboard holds
        # one consistent picture while a modal is open (the order form shows the live
        # top of book itself), and catches up in one repaint when the modal closes.
        return len(self.screen_stack) > 1

    def _repaint(self, force: bool = False) -> None:
        if self._behind_modal() and not force:
            self._alerts_behind_modal()  # alerts never pause: the books are evaluated, not painted
            return
        try:
            self._repaint_fast(force)
        except (NoMatches, IndexError):  # a tick that lands while the app is shutting down
            pass

    def _repaint_fast(self, force: bool = False) -> None:
        dirty = self.service.drain_dirty_books()
        if dirty:
            self._alerts_on_books(dirty)  # only the changed symbols' rules
        dirty |= self._take_books_held()  # changed behind a modal: evaluated then, painted now
        orders_changed = force or self.service.orders_version != self._orders_seen
        if orders_changed:
            self._orders_seen = self.service.orders_version
            self._cap_arbitrage_by_balances()  # before the arbitrage pane: its fundable sizes follow them
        if self._arb_index is not None and (dirty or orders_changed):
            books = self.service.books()
            for key in dirty:
                book = books.get(key)
                if book is None or key[0] in self._arb_excluded:
                    self._arb_index.remove(*key)  # refused as bad data, or its venue is not healthy
                else:
                    self._arb_index.update(book)
            self._paint_arbitrage()
        if force or (self.venue, self.symbol) in dirty:
            self._paint_ladder()
        if orders_changed:
            self._paint_orders()
            self._paint_balances()
        self._paint_market_panes(force)

    def _repaint_slow(self, force: bool = False) -> None:
        if self._behind_modal() and not force:
            try:
                self._watch_health_events()  # health events, webhooks and alert rules go on
                self._update_status()  # the clock stays live; the panes say they are paused
            except (NoMatches, IndexError):
                pass
            return
        try:
            self._watch_health_events()
            self._paint_health()
            self._refresh_rates()
            self._exclude_unhealthy_venues()
            self._paint_arb_banner()
            self._update_status()
            second = int(self.clock())
            if second != self._orders_second:  # ages tick once a second; only changed cells are touched
                self._orders_second = second
                self._paint_orders()
            self._paint_market_panes_slow(force)
        except (NoMatches, IndexError):  # a tick that lands while the app is shutting down
            pass

    def _exclude_unhealthy_venues(self) -> None:
        """Arbitrage only from books that are fresh by the health rule on connected venues:
        a venue that turns degraded or down leaves the index until it is healthy again."""
        if self._arb_index is None:
            return
        excluded = {h.venue for h in self.service.health() if h.status is not HealthStatus.CONNECTED}
        if excluded == self._arb_excluded:
            return
        books = self.service.books()
        for (venue, symbol), book in books.items():
            if venue in excluded:
                self._arb_index.remove(venue, symbol)
            elif venue in self._arb_excluded:
                self._arb_index.update(book)
        self._arb_excluded = excluded
        self._paint_arbitrage()

    RATES_EVERY_S = 5.0

    def _refresh_rates(self, force: bool = False) -> None:
        """Asset prices in the valuation currency from the venues' mids, for the impact
        size and the arbitrage profit's equivalent; refreshed every few seconds (a rate
        that moves 0.1 % does not change which size the impact line is for)."""
        now = time.monotonic()
        if not force and now - self._rates_at < self.RATES_EVERY_S:
            return
        self._rates_at = now
        self._rates = analysis.valuation_rates(self.service.books().values(), self.impact_value_currency)
        if self._arb_index is not None:
            self._arb_index.set_rates(self._rates, self.impact_value_currency)

    def _cap_arbitrage_by_balances(self) -> None:
        """Arbitrage sizes are capped by what the operator holds on both legs."""
        if self._arb_index is None:
            return
        for venue in self.service.venue_names:
            self._arb_index.set_balances(venue, self.service.balances(venue))

    def _impact_size(self) -> Decimal | None:
        size = self.impact_sizes.get(self.symbol or "", self.impact_size)
        if size is not None or self.venue is None or self.symbol is None:
            return size
        book = self.service.books().get((self.venue, self.symbol))
        if book is None:
            return None
        market = self.service.market(self.venue, self.symbol)
        return analysis.impact_size_for_value(book, self.impact_value, self._rates, self.impact_value_currency,
                                              market.lot_size if market is not None else None)  # fmt: skip

    def _paint_ladder(self) -> None:
        by_value = self.impact_sizes.get(self.symbol or "", self.impact_size) is None
        places = 0 if self.impact_value == self.impact_value.to_integral_value() else decimals_of(self.impact_value)
        label = f"{fmt_fixed(self.impact_value, places)} {self.impact_value_currency}" if by_value else ""
        view = BookView.build(self.service, self.venue, self.symbol, self._impact_size(),
                              brief=self._width_class == "tiny", impact_label=label)  # fmt: skip
        self._pane("#ladder", BookPane).show(view)

    def _paint_arbitrage(self) -> None:
        if self._arb_index is None:
            return
        view = ArbitrageView.build(self.service, self._arb_index, self.min_arb_net_bps, funding=self._arb_funding,
                                   max_order_value=self.risk.max_order_value)  # fmt: skip
        self._pane("#arb", ArbitragePane).show(view)

    def _paint_health(self) -> None:
        self._pane("#health", HealthPane).show(HealthView.build(self.service))

    def _paint_balances(self) -> None:
        self._pane("#balances", BalancesPane).show(BalancesView.build(self.service))

    def _paint_orders(self) -> None:
        view = OrdersView.build(self.service, history=self.show_history, now=self.clock())
        self._pane("#orders", OrdersPane).show(view)

    STATUS_HINTS = (("order.buy", "buy"), ("order.sell", "sell"), ("order.cancel", "cancel"),
                    ("symbol.pick", "symbol"), ("venue.next", "venue"), ("app.help", "help"))  # fmt: skip

    def _hints(self) -> str:
        """Key hints from the live bindings (after the config's remap); order actions are
        left out while they would do nothing (read-only, live gate locked)."""
        if self._hint_text is None:
            from aitbc_tui.ui.screens.help import live_keys

            keys = live_keys(type(self).BINDINGS, self._keymap)
            off = self.read_only or not self.trading_armed
            parts = []
            for action, label in self.STATUS_HINTS:
                if off and action.startswith("order."):
                    continue
                found = keys.get(action) or []
                if found:
                    parts.append(f"{self.get_key_display(Binding(found[0], ''))} {label}")
            self._hint_text = " · ".join(parts)
        return self._hint_text

    def _update_status(self) -> None:
        view = StatusView(
            mode=self.mode,
            venue=self.venue,
            symbol=self.symbol,
            now=self.clock(),
            read_only=self.read_only,
            locked=self.mode is Mode.LIVE and not self.trading_armed,
            hints=self._hints(),
            paused=self._behind_modal(),
            alerts=self.unread_alerts,
        )
        self._pane("#status-bar", StatusBar).show(view)

    # ---- actions ----------------------------------------------------------------------

    def _selected_order(self) -> Order | None:
        return self._pane("#orders", OrdersPane).selected_order()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "order" and len(self.screen_stack) > 1:
            return False  # a form, picker or confirmation is up: `b` / `s` are its keys
        if action in ("resize", "reset_size") and len(self.screen_stack) > 1:
            return False  # the dashboard's panes are behind the modal
        return True

    def action_order(self, side: str) -> None:
        refused = self._order_actions_refused(self.venue)
        if refused:
            self.notify(refused, severity="warning")
            return
        blocked = self.service.blocked_reason(self.venue) if self.venue else None
        if blocked:
            self.notify(_plain(blocked), severity="error", timeout=10, markup=False)
            return
        if self.venue is None or self.symbol is None:
            self.notify("no venue is running", severity="error")
            return
        market = self.service.market(self.venue, self.symbol)
        if market is None:
            self.notify(f"{self.symbol} is not listed on {self.venue}", severity="error")
            return
        settings = self._order_settings(self.venue, self.symbol, Side(side))
        if settings is None:  # the market is listed (checked above): unreachable, but never a crash
            return
        # One form for the whole session, composed after start-up (_prepare_order_form)
        # and reconfigured per keypress: composing it between `b` and the form on screen
        # would cost ~60 ms of CSS work.
        if self._order_form is None:
            self._order_form = OrderForm(**settings)
            self.install_screen(self._order_form, name="order-form")
        else:
            self._order_form.configure(**settings)
        self.push_screen("order-form", self._place)

    def _place(self, request: OrderRequest | None) -> None:
        """`y` on the confirmation: checks and the journal's intent happen now, so the
        pending row ("sending…") is painted before anything goes out."""
        if request is None:
            return
        try:
            tracked = self.service.prepare_order(request)
        except Exception as exc:  # noqa: BLE001 - refused before sending: the operator sees why
            self.notify(_plain(f"{request.venue}: order not sent: {describe_error(exc)}"), severity="error",
                        timeout=10, markup=False)  # fmt: skip
            return
        self._paint_orders()
        self._send_worker(tracked)

    @work(name="place-order", group="orders", exit_on_error=False)
    async def _send_worker(self, tracked) -> None:
        request = tracked.request
        try:
            order = await self.service.send_order(tracked)
        except VenueUnavailable as exc:
            # Sent, reply lost: the service looks it up; the open orders pane shows it UNKNOWN.
            self.notify(_plain(describe_error(exc)), severity="error", timeout=20, markup=False)
            self._paint_orders()
            return
        except Exception as exc:  # noqa: BLE001 - the operator sees a message, not a traceback
            self.notify(_plain(f"{request.venue}: order rejected: {describe_error(exc)}"), severity="error",
                        timeout=10, markup=False)  # fmt: skip
            self._paint_orders()
            return
        status = "acknowledged, open" if order.status is OrderStatus.OPEN else order.status.value
        kind = order.type.value + (
            "" if order.time_in_force.value == "gtc" else f" {order.time_in_force.value.upper()}"
        )
        self.notify(_plain(f"{order.venue}: {order.side.value} {order.amount} {order.symbol} {kind}: {status}"),
                    markup=False)  # fmt: skip
        self._paint_orders()

    def action_cancel_selected(self) -> None:
        selected = self._selected_order()
        refused = self._order_actions_refused(selected.venue if selected else None)
        if refused:
            self.notify(refused, severity="warning")
            return
        if self.show_history:
            self.notify("switch to open orders (h) to cancel", severity="warning")
            return
        order = self._selected_order()
        if order is None:
            self.notify("no open order selected", severity="warning")
            return
        if order.status is OrderStatus.UNKNOWN:
            self.notify(f"{order.venue}: order {order.client_order_id} is UNKNOWN: being looked up", severity="warning")
            return
        if order.status is OrderStatus.PENDING:
            self.notify(f"{order.venue}: order {order.client_order_id} is still being sent", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._cancel_worker(order)

        rows = [
            ("Venue", order.venue),
            ("Order", order.id),
            ("Side", order.side.value),
            ("Amount", str(order.amount)),
            ("Price", "market" if order.price is None else str(order.price)),
        ]
        self.push_screen(
            ConfirmScreen(f"Cancel {order.symbol} order?", rows, prompt="y cancel it · n / Esc back"), confirmed
        )

    @work(name="cancel-order", group="orders", exit_on_error=False)
    async def _cancel_worker(self, order: Order) -> None:
        try:
            result = await self.service.cancel_order(order, by="operator")
        except Exception as exc:  # noqa: BLE001
            self.notify(_plain(f"{order.venue}: cancel failed: {describe_error(exc)}"), severity="error", timeout=8,
                        markup=False)  # fmt: skip
            return
        self.notify(_plain(f"{order.venue}: {order.side.value} {order.amount} {order.symbol} {result.status.value}"),
                    markup=False)  # fmt: skip
        self._paint_orders()

    def action_kill_switch(self) -> None:
        if not self.trading_armed or self.read_only:
            self.notify(self._order_actions_refused(None) or "order actions are disabled", severity="warning")
            return
        count = len(self.service.open_orders())

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._kill_worker()

        self.push_screen(
            ConfirmScreen(
                "KILL SWITCH: cancel every open order on every venue?",
                [("Open orders", str(count)), ("Venues", ", ".join(self.service.venue_names))],
                prompt="y cancel them all · n / Esc back",
                live=self.mode is Mode.LIVE,
            ),
            confirmed,
        )

    @work(name="kill-switch", group="orders", exit_on_error=False)
    async def _kill_worker(self) -> None:
        # The report comes as soon as every cancel was answered; the accounts' refresh and a
        # sweep for orders placed since the last poll follow on their own (a notice if any).
        report = await self.service.cancel_all(by="kill switch", wait_sweep=False)
        self._webhook_kill_switch(report)  # one `order` webhook event for the whole switch
        per_venue = []
        for venue in self.service.venue_names:
            done = sum(1 for o in report.cancelled if o.venue == venue)
            bad = [(o, why) for o, why in report.failed if o.venue == venue]
            if done or bad:
                per_venue.append(
                    f"{venue}: {done} cancelled" + (f", {len(bad)} NOT ({_plain(bad[0][1])[:80]})" if bad else "")
                )
        summary = "; ".join(per_venue) or "no open orders"
        self.notify(f"kill switch: {summary}", severity="error" if report.failed else "information",
                    timeout=20 if report.failed else 8, markup=False)  # fmt: skip
        self._paint_orders()

    def _set_focus(self, venue: str, symbol: str | None = None) -> None:
        """Focus ``venue``; the symbol the operator chose is kept wherever the venue lists
        it, and remembered across venues that do not (said, never silently switched)."""
        self.venue = venue
        markets = self.service.markets(venue)
        if symbol is not None:
            self._wanted_symbol = symbol
        wanted = self._wanted_symbol or self.symbol
        if wanted in markets:
            self.symbol = wanted
        else:
            self.symbol = next(iter(markets), None)
            if wanted is not None and self.symbol is not None:
                self.notify(f"{venue} does not list {wanted}: showing {self.symbol} "
                            f"(back to {wanted} on a venue that lists it)", timeout=4)  # fmt: skip
        self._paint_ladder()
        self._update_status()

    def _cycle_venue(self, step: int) -> None:
        names = self.service.venue_names
        if not names:
            return
        index = names.index(self.venue) if self.venue in names else -step
        self._set_focus(names[(index + step) % len(names)])

    def action_next_venue(self) -> None:
        self._cycle_venue(1)

    def action_previous_venue(self) -> None:
        self._cycle_venue(-1)

    def action_pick_symbol(self) -> None:
        symbols = [(s, ", ".join(self.service.venues_for(s))) for s in self.service.all_symbols()]

        def chosen(symbol: str | None) -> None:
            if not symbol:
                return
            venue = (
                self.venue
                if self.venue and symbol in self.service.markets(self.venue)
                else self.service.venues_for(symbol)[0]
            )
            self._set_focus(venue, symbol)

        self.push_screen(SymbolPicker(symbols, self.symbol), chosen)

    def action_toggle_history(self) -> None:
        self.show_history = not self.show_history
        self._paint_orders()

    def action_next_theme(self) -> None:
        names = self._theme_names
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:  # fmt: skip
        """Every toast is plain text: a venue's message or a typed value is never markup.
        Every toast is also an event in the event log (`e`)."""
        self._record_notice(_plain(message), title, str(severity))
        self.notices.append(Notice(title, _plain(message), str(severity)))
        super().notify(_plain(message) if not markup else message, title=title, severity=severity,
                       timeout=timeout, markup=markup)  # fmt: skip

    def repaint_now(self) -> None:
        """Paint every pane from the service's state now, not at the next tick."""
        self._repaint(force=True)
        self._repaint_slow()

    def _live_open_orders(self) -> list[Order]:
        live = set(self._live_venues())
        return [o for o in self.service.open_orders() if o.venue in live]

    async def action_quit(self) -> None:
        """With open live orders, ask: cancel them all and quit, leave them, or stay."""
        orders = self._live_open_orders()
        if not orders or self.read_only:
            self.exit()
            return

        def chosen(choice: str | None) -> None:
            if choice == "cancel":
                self._cancel_all_then_quit()
            elif choice == "leave":
                self.exit(message=f"quit with {len(orders)} live order(s) left open at the venues")

        self.push_screen(QuitConfirm(len(orders), sorted({o.venue for o in orders})), chosen)

    @work(name="kill-switch-quit", group="orders", exit_on_error=False)
    async def _cancel_all_then_quit(self) -> None:
        report = await self.service.cancel_all(by="operator at quit")
        if report.failed:
            failures = "; ".join(f"{o.venue} {o.id or o.client_order_id}: {why}" for o, why in report.failed[:5])
            self.notify(f"quit stopped: {len(report.failed)} order(s) NOT cancelled: {failures}", severity="error",
                        timeout=20)  # fmt: skip
            return
        self.exit(message=f"cancelled {len(report.cancelled)} live order(s), then quit")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_chart(self, which: str = "price") -> None:
        """The price (``C``) or depth (``D``) chart of the focused venue and symbol."""
        from aitbc_tui.ui.screens.chart import ChartScreen

        if self.venue is None or self.symbol is None:
            self.notify("no venue is running", severity="error")
            return
        self.push_screen(ChartScreen(self.service, self.venue, self.symbol, chart=which),
                         lambda _: self._repaint(force=True))  # fmt: skip

    def action_cycle_grouping(self) -> None:
        """`g`: the ladder groups its levels by the next increment (1, 5, 10, 50 ticks)."""
        pane = self._pane("#ladder", BookPane)
        pane.cycle_grouping()
        self._paint_ladder()

    def action_credentials(self) -> None:
        kwargs = {}
        if self._credential_store_factory is not None:
            kwargs["store_factory"] = self._credential_store_factory
        self.push_screen(CredentialsScreen(self.config, **kwargs))


def _plain(text: object) -> str:
    """Venue or operator text for the screen: no control characters, never markup."""
    try:
        from aitbc_tui.sanitize import plain_text
    except ImportError:  # pragma: no cover
        return str(text)
    return plain_text(str(text), limit=1000)


def tcss_path() -> Path:
    return Path(__file__).with_name("app.tcss")
