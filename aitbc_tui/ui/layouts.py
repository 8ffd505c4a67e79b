"""Named layouts (keys 1-4), pane maximise (z), and the market panes they show, kept out of
app.py. A mixin for AitbcApp.

- ``default`` (1): the dashboard as it always was (ladder, health, balances, arbitrage, orders).
- ``trade`` (2): ladder + trade tape (``#trade-col`` has room for a chart beside the tape).
- ``watch`` (3): watchlist over health and arbitrage.
- ``account`` (4): positions & P&L, balances & equity, open orders and the order history.

A layout is a class on the dashboard screen (``layout-<name>``, see layouts.tcss) that shows or
hides panes. Only the default layout's panes are composed at start; another layout's panes
(and their modules) are composed the first time it is shown (``_compose_layout``) and kept
from then on, so launch pays only for what it paints and a later switch only toggles classes.
Panes that are hidden are not painted and their feeds are not polled (the tape starts on
first show; tickers are polled only while the watchlist is on screen). The chosen layout is
remembered per config in ``data_dir()/layouts.json``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.containers import Vertical
from textual.widget import Widget

from aitbc_tui.paths import data_dir, ensure_private_dir

if TYPE_CHECKING:
    from textual.app import App

    from aitbc_tui.service import MarketService
    from aitbc_tui.ui.panes.positions import PositionsPane
    from aitbc_tui.ui.panes.tape import TapePane
    from aitbc_tui.ui.panes.watchlist import WatchlistPane

    _AppBase = App[None]
else:
    _AppBase = object

log = logging.getLogger(__name__)

LAYOUTS = ("default", "trade", "watch", "account")
TAPE_REPAINT_S = 0.1  # the tape repaints at most 10 times a second: nobody reads a faster tape
STATE_FILE = "layouts.json"
STATE_LIMIT = 64 * 1024
# Which panes each layout shows: the others are not painted.
SHOWN: dict[str, frozenset[str]] = {
    "default": frozenset({"ladder", "health", "balances", "arb", "orders"}),
    "trade": frozenset({"ladder", "health", "tape"}),
    "watch": frozenset({"watchlist", "health", "arb"}),
    "account": frozenset({"positions", "equity", "orders", "account-history"}),
}
# Panes a layout may maximise, each with the containers on its way up to #main.
PANE_IDS = ("ladder", "health", "balances", "arb", "orders", "tape", "watchlist", "positions", "equity",
            "account-history")  # fmt: skip


def config_key(config: object) -> str:
    """Which config the layout belongs to: its file, or "sandbox" / "default" without one."""
    path = getattr(config, "path", None)
    if path:
        return str(Path(path).expanduser().resolve())
    return "sandbox" if getattr(config, "is_sandbox", True) else "default"


def state_path() -> Path:
    return data_dir() / STATE_FILE


def load_layout(config: object, path: Path | None = None) -> str:
    """The layout last chosen with this config ("default" when none, or the file is unreadable)."""
    path = path or state_path()
    try:
        if not path.exists() or path.stat().st_size > STATE_LIMIT:
            return "default"
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "default"
    entry = data.get(config_key(config)) if isinstance(data, dict) else None
    layout = entry.get("layout") if isinstance(entry, dict) else None
    return layout if layout in LAYOUTS else "default"


def save_layout(config: object, layout: str, path: Path | None = None) -> None:
    """Remember ``layout`` for this config (written atomically, 0600)."""
    path = path or state_path()
    data: dict[str, Any] = {}
    try:
        if path.exists() and path.stat().st_size <= STATE_LIMIT:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            data = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[config_key(config)] = {"layout": layout}
    try:
        ensure_private_dir(path.parent)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(temp, path)
    except OSError as exc:  # the layout still switches; it is just not remembered
        log.warning("could not remember the layout in %s: %s", path, exc)


class LayoutsMixin(_AppBase):
    service: MarketService
    config: Any
    clock: Callable[[], float]
    venue: str | None
    symbol: str | None
    show_history: bool
    if TYPE_CHECKING:

        def _pane(self, selector: str, expect_type: type[Any]) -> Any: ...
        def _set_focus(self, venue: str, symbol: str | None = None) -> None: ...

    def _init_layouts(self) -> None:
        self.layout_name = "default"
        self._layouts_composed = {"default"}  # layouts whose panes are in the DOM
        self.maximised: str | None = None  # the id of the maximised pane
        self._tape_seen: tuple[str | None, str | None, int] | None = None
        self._watch_sort = ("symbol", False)
        self._pnl_seen = -1
        self._tape_filter_step = 0
        self._tape_painted_at = float("-inf")
        self._tape_min_amount: Decimal | None = None
        self._tape_filter_key: tuple[str | None, str | None] = (None, None)  # the filter is per symbol
        self._valuation = str(getattr(getattr(self.config, "ui", None), "valuation", "USDT") or "USDT")

    def _layouts_mounted(self) -> None:
        self.service.market_feed()  # from the start, so P&L sees every fill of the session
        wanted = load_layout(self.config)
        if wanted != "default":
            self.apply_layout(wanted, remember=False)

    # ---- switching ------------------------------------------------------------------------

    def _compose_layout(self, name: str) -> None:
        """Mount the panes ``name`` shows beyond the default layout's, on its first use.

        Registered in the DOM at once (``mount`` registers synchronously), so the paint that
        follows the switch finds them; they are composed and styled before the next frame."""
        if name in self._layouts_composed:
            return
        self._layouts_composed.add(name)
        main = self.screen_stack[0].query_one("#main")
        if name == "trade":
            from aitbc_tui.ui.panes.tape import TapePane

            column = Vertical(id="trade-col")
            main.mount(column)  # after #right: beside the ladder
            column.mount(TapePane(id="tape"))
        elif name == "watch":
            from aitbc_tui.ui.panes.watchlist import WatchlistPane

            column = Vertical(id="watch-col")
            main.mount(column, before="#left")  # the watch layout stacks #main: the watchlist on top
            column.mount(WatchlistPane(id="watchlist"))
        elif name == "account":
            from aitbc_tui.ui.panes.orders import OrdersPane
            from aitbc_tui.ui.panes.positions import EquityPane, PositionsPane

            column = Vertical(id="account-col")
            main.mount(column, before="#left")
            column.mount(PositionsPane(id="positions"), EquityPane(id="equity"))
            main.query_one("#right").mount(OrdersPane(id="account-history"), after="#orders")

    def apply_layout(self, name: str, *, remember: bool = True) -> None:
        if name not in LAYOUTS:
            return
        if self.maximised is not None:
            self._restore_maximised()
        self._compose_layout(name)
        dashboard = self.screen_stack[0]
        for other in LAYOUTS:
            dashboard.set_class(other == name, f"layout-{other}")
        self.layout_name = name
        self._tape_seen = None
        self._pnl_seen = -1
        feed = self.service.market_feed()
        feed.want_tickers(name == "watch")
        if name != "trade":
            feed.stop_tapes()
        if remember:
            save_layout(self.config, name)
        focused = self.focused
        if focused is None or focused.id not in SHOWN[name]:
            first = {"default": "#ladder", "trade": "#ladder", "watch": "#watchlist", "account": "#positions"}[name]
            try:
                dashboard.query_one(first).focus()
            except Exception:  # noqa: BLE001 - nothing to focus yet
                pass
        self._paint_market_panes(force=True)

    def action_layout(self, name: str) -> None:
        self.apply_layout(name)
        self.notify(f"layout: {name}", timeout=2)

    def shown(self, pane_id: str) -> bool:
        if self.maximised is not None:
            return pane_id == self.maximised
        return pane_id in SHOWN[self.layout_name]

    # ---- maximise ---------------------------------------------------------------------------

    def action_maximise(self) -> None:
        """The focused pane fills the screen (z); z again restores the layout."""
        if self.maximised is not None:
            self._restore_maximised()
            self._paint_market_panes(force=True)
            return
        focused = self.focused
        pane = focused
        while pane is not None and getattr(pane, "id", None) not in PANE_IDS:
            pane = pane.parent if isinstance(pane.parent, Widget) else None
        if pane is None or pane.id is None:
            self.notify("focus a pane first (tab), then z", timeout=3)
            return
        dashboard = self.screen_stack[0]
        dashboard.add_class("maximised")
        pane.add_class("max-pane")
        for ancestor in pane.ancestors:
            if isinstance(ancestor, Widget) and ancestor is not dashboard:
                ancestor.add_class("max-path")
        self.maximised = pane.id
        self.notify(f"{pane.border_title or pane.id}: maximised (z restores)", timeout=2)
        self._paint_market_panes(force=True)

    def _restore_maximised(self) -> None:
        dashboard = self.screen_stack[0]
        dashboard.remove_class("maximised")
        for widget in dashboard.query(".max-pane, .max-path"):
            widget.remove_class("max-pane", "max-path")
        self.maximised = None

    # ---- painting (from the app's repaint ticks) ---------------------------------------------

    def _paint_market_panes(self, force: bool = False) -> None:
        """The fast tick: the tape when its trades changed (or the focus moved)."""
        if not self.shown("tape") or self.venue is None or self.symbol is None:
            return
        feed = self.service.market_feed()
        feed.watch_tape(self.venue, self.symbol)
        seen = (self.venue, self.symbol, feed.tape_version(self.venue, self.symbol))
        now = time.monotonic()
        if force or (seen != self._tape_seen and now - self._tape_painted_at >= TAPE_REPAINT_S):
            from aitbc_tui.ui.panes.tape import TapePane, TapeView

            self._tape_seen = seen
            self._tape_painted_at = now
            self._pane("#tape", TapePane).show(
                TapeView.build(self.service, self.venue, self.symbol, self._tape_filter_for(self.venue, self.symbol))
            )

    def _paint_market_panes_slow(self, force: bool = False) -> None:
        """The 2 Hz tick: watchlist (spreads and ages move all the time), positions (marks)."""
        if self.shown("watchlist"):
            from aitbc_tui.ui.panes.watchlist import WatchlistPane, WatchlistView

            sort, descending = self._watch_sort
            self._pane("#watchlist", WatchlistPane).show(
                WatchlistView.build(self.service, self.clock(), sort, descending)
            )
        if self.shown("positions") or self.shown("equity"):
            from aitbc_tui.ui.panes.positions import EquityPane, PositionsPane, PositionsView

            view = PositionsView.build(self.service, self._valuation)
            if self.shown("positions"):
                self._pane("#positions", PositionsPane).show(view)
            if self.shown("equity"):
                self._pane("#equity", EquityPane).show(view.report)
        if self.shown("account-history"):
            from aitbc_tui.ui.panes.orders import OrdersPane, OrdersView

            self._pane("#account-history", OrdersPane).show(
                OrdersView.build(self.service, history=True, now=self.clock())
            )

    def _paint_market_now(self) -> None:
        self._paint_market_panes(force=True)
        self._paint_market_panes_slow(force=True)

    # ---- pane messages -----------------------------------------------------------------

    def _tape_filter_for(self, venue: str | None, symbol: str | None) -> Decimal | None:
        return self._tape_min_amount if (venue, symbol) == self._tape_filter_key else None

    def on_tape_pane_filter_changed(self, message: TapePane.FilterChanged) -> None:
        from aitbc_tui.ui.panes.tape import TapeView, size_filter

        view = TapeView.build(self.service, self.venue, self.symbol)
        self._tape_min_amount = size_filter(view, message.step)
        self._tape_filter_key = (self.venue, self.symbol)
        self._paint_market_panes(force=True)

    def on_positions_pane_method_toggled(self, _message: PositionsPane.MethodToggled) -> None:
        feed = self.service.market_feed()
        feed.set_method("fifo" if feed.tracker.method.value == "average" else "average")
        self._paint_market_panes_slow(force=True)

    # ---- watchlist messages ------------------------------------------------------------------

    def on_watchlist_pane_selected(self, message: WatchlistPane.Selected) -> None:
        self._set_focus(message.venue, message.symbol)
        self.notify(f"focus: {message.venue} {message.symbol}", timeout=2)

    def on_watchlist_pane_sort_changed(self, message: WatchlistPane.SortChanged) -> None:
        self._watch_sort = (message.sort, message.descending)
        self._paint_market_panes_slow(force=True)
