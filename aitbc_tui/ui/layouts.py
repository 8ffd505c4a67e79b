"""Named layouts (keys 1-4), pane maximise (z), and the market panes they show, kept out of
app.py. A mixin for AitbcApp.

- ``default`` (1): the dashboard as it always was (ladder, health, balances, arbitrage, orders).
- ``trade`` (2): ladder (and health) | price chart over the trade tape. The chart is built
  from the tape's own trades after a ``fetch_ohlcv`` backfill (``MarketFeed.candles``);
  ``,`` / ``.`` on it change the timeframe.
- ``watch`` (3): watchlist over health and arbitrage.
- ``account`` (4): positions & P&L, balances & equity, open orders and the order history.

A layout is a class on the dashboard screen (``layout-<name>``, see layouts.tcss) that shows or
hides panes. Only the default layout's panes are composed at start; another layout's panes
(and their modules) are composed the first time it is shown (``_compose_layout``) and kept
from then on, so launch pays only for what it paints and a later switch only toggles classes.
Panes that are hidden are not painted and their feeds are not polled (the tape starts on
first show; tickers are polled only while the watchlist is on screen). The chosen layout and
the pane sizes (``>`` / ``<`` move each layout's one split, ``0`` resets it; see SPLITS) are
remembered per config in ``data_dir()/layouts.json``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.containers import Vertical
from textual.widget import Widget

from aitbc_tui.chart_feed import JournalFills
from aitbc_tui.market_data import TIMEFRAMES
from aitbc_tui.paths import data_dir, ensure_private_dir

if TYPE_CHECKING:
    from textual.app import App

    from aitbc_tui.service import MarketService
    from aitbc_tui.ui.panes.chart import ChartPane
    from aitbc_tui.ui.panes.positions import PositionsPane
    from aitbc_tui.ui.panes.tape import TapePane
    from aitbc_tui.ui.panes.watchlist import WatchlistPane

    _AppBase = App[None]
else:
    _AppBase = object

log = logging.getLogger(__name__)

LAYOUTS = ("default", "trade", "watch", "account")
TAPE_REPAINT_S = 0.1  # the tape repaints at most 10 times a second: nobody reads a faster tape
CHART_REPAINT_S = 0.1  # and so does the chart (its current candle moves with each trade)
STATE_FILE = "layouts.json"
STATE_LIMIT = 64 * 1024
# Which panes each layout shows: the others are not painted.
SHOWN: dict[str, frozenset[str]] = {
    "default": frozenset({"ladder", "health", "balances", "arb", "orders"}),
    "trade": frozenset({"ladder", "health", "chart", "tape"}),
    "watch": frozenset({"watchlist", "health", "arb"}),
    "account": frozenset({"positions", "equity", "orders", "account-history"}),
}
# Panes a layout may maximise, each with the containers on its way up to #main.
PANE_IDS = ("ladder", "health", "balances", "arb", "orders", "chart", "tape", "watchlist", "positions",
            "equity", "account-history")  # fmt: skip


def config_key(config: object) -> str:
    """Which config the layout belongs to: its file, or "sandbox" / "default" without one."""
    path = getattr(config, "path", None)
    if path:
        return str(Path(path).expanduser().resolve())
    return "sandbox" if getattr(config, "is_sandbox", True) else "default"


def state_path() -> Path:
    return data_dir() / STATE_FILE


@dataclass(frozen=True, slots=True)
class Split:
    """The one split of a layout the operator moves with the resize keys: ``first`` (a
    container id) takes ``size`` percent of the screen along ``axis``, the rest what is left.
    ``rest`` styles (selector, style, value) let the panes after it take the room it gives up."""

    axis: str  # "width": side by side; "height": stacked
    first: str
    first_panes: frozenset[str]  # a focused pane here grows ``first`` on `>`; any other shrinks it
    label: str  # what ``first`` is, in the operator's words
    min_first: int  # cells each side keeps, so its panes still read a header and some rows
    min_rest: int
    rest: tuple[tuple[str, str, str], ...] = ()


# While the watchlist is sized, arbitrage takes the rows it gives up (not only its 8 lines).
_WATCH_REST = (("right", "height", "1fr"), ("arb", "height", "1fr"), ("arb", "max_height", "100%"))
# Minimums: 28 columns is the "tiny" ladder and a table that still shows its first columns;
# 6 lines a table with 3 rows; positions (4 lines at least) sit over equity; the watch
# layout's rest holds health (7 lines) and arbitrage.
SPLITS: dict[str, Split] = {
    "default": Split("width", "left", frozenset({"ladder", "health"}), "the ladder column", 28, 28),
    "trade": Split("width", "left", frozenset({"ladder", "health"}), "the ladder column", 28, 28),
    "watch": Split("height", "watch-col", frozenset({"watchlist"}), "the watchlist", 6, 13, _WATCH_REST),
    "account": Split("height", "account-col", frozenset({"positions", "equity"}), "positions and equity", 10, 6),
}
SIZE_RANGE = (15, 85)  # percent of the screen the first region may take
SIZE_STEP = 5  # percent per key press


def clamp_split(size: int, total: int, min_first: int, min_rest: int) -> int:
    """``size`` (percent of ``total`` cells for the first region) moved just far enough that
    the first region keeps ``min_first`` cells and the rest ``min_rest``, within SIZE_RANGE.
    A screen too small for both minimums shares in proportion to them."""
    low, high = SIZE_RANGE
    if total > 0:
        low = max(low, math.ceil(min_first * 100 / total))
        high = min(high, math.floor((total - min_rest) * 100 / total))
    if low > high:
        return round(min_first * 100 / (min_first + min_rest))
    return max(low, min(high, size))


@dataclass
class LayoutState:
    """What layouts.json remembers for one config, and what was wrong with it (said once)."""

    layout: str = "default"
    sizes: dict[str, int] = field(default_factory=dict)  # layout -> percent (SPLITS)
    timeframe: str = "1m"  # the trade layout's chart
    problems: list[str] = field(default_factory=list)


def parse_sizes(raw: object, where: str) -> tuple[dict[str, int], list[str]]:
    """Sizes as stored; each bad one is left out (its layout keeps its default) and said."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [f"{where}: sizes must be a table of layout -> percent: using the default sizes"]
    sizes: dict[str, int] = {}
    problems: list[str] = []
    low, high = SIZE_RANGE
    for name, value in raw.items():
        if name not in SPLITS:
            problems.append(f"{where}: sizes: unknown layout {str(name)[:40]!r}: ignored")
        elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(f"{where}: sizes.{name} = {str(value)[:40]!r} is not a whole percent from {low} to "
                            f"{high}: layout {name} uses its default size")  # fmt: skip
        else:
            sizes[name] = value
    return sizes, problems


def _read_state_file(path: Path) -> tuple[dict[str, Any], str | None]:
    """The whole file as a dict, or {} and why it could not be used (None: no file)."""
    try:
        if not path.exists():
            return {}, None
        if path.stat().st_size > STATE_LIMIT:
            return {}, f"{path}: larger than {STATE_LIMIT // 1024} KiB"
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"{path}: unreadable ({type(exc).__name__})"
    if not isinstance(data, dict):
        return {}, f"{path}: not a JSON object"
    return data, None


def load_state(config: object, path: Path | None = None) -> LayoutState:
    """The layout and pane sizes last used with this config. A file or value that cannot be
    used falls back to the default, with the reason in ``problems``; never an exception."""
    path = path or state_path()
    data, problem = _read_state_file(path)
    if problem is not None:
        return LayoutState(problems=[f"{problem}: the default layout and sizes"])
    entry = data.get(config_key(config))
    if entry is None:
        return LayoutState()
    if not isinstance(entry, dict):
        return LayoutState(problems=[f"{path}: the entry for this config is not an object: the default layout"])
    state = LayoutState()
    layout = entry.get("layout", "default")
    if layout in LAYOUTS:
        state.layout = layout
    else:
        state.problems.append(f"{path}: unknown layout {str(layout)[:40]!r}: the default layout")
    state.sizes, problems = parse_sizes(entry.get("sizes"), str(path))
    state.problems += problems
    timeframe = entry.get("timeframe", "1m")
    if timeframe in TIMEFRAMES:
        state.timeframe = timeframe
    else:
        state.problems.append(f"{path}: unknown chart timeframe {str(timeframe)[:40]!r}: 1m")
    return state


def load_layout(config: object, path: Path | None = None) -> str:
    """The layout last chosen with this config ("default" when none, or the file is unreadable)."""
    return load_state(config, path).layout


def save_state(config: object, layout: str, sizes: dict[str, int], path: Path | None = None, *,
               timeframe: str = "1m") -> None:  # fmt: skip
    """Remember ``layout``, the pane ``sizes`` and the chart's ``timeframe`` for this config
    (written atomically, 0600)."""
    path = path or state_path()
    data, _problem = _read_state_file(path)  # an unusable file is replaced
    entry: dict[str, Any] = {"layout": layout}
    if sizes:
        entry["sizes"] = dict(sorted(sizes.items()))
    if timeframe != "1m":
        entry["timeframe"] = timeframe
    data[config_key(config)] = entry
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
        self._sizes: dict[str, int] = {}  # layout -> the first region's percent (SPLITS), as the operator set it
        self.maximised: str | None = None  # the id of the maximised pane
        self._tape_seen: tuple[str | None, str | None, int] | None = None
        self._chart_seen: tuple | None = None
        self._chart_painted_at = float("-inf")
        self.chart_timeframe = "1m"
        self._chart_journal = JournalFills()  # the operator's fills on the chart, from the journal
        self._watch_sort = ("symbol", False)
        self._pnl_seen = -1
        self._tape_filter_step = 0
        self._tape_painted_at = float("-inf")
        self._tape_min_amount: Decimal | None = None
        self._tape_filter_key: tuple[str | None, str | None] = (None, None)  # the filter is per symbol
        self._valuation = str(getattr(getattr(self.config, "ui", None), "valuation", "USDT") or "USDT")

    def _layouts_mounted(self) -> None:
        self.service.market_feed()  # from the start, so P&L sees every fill of the session
        state = load_state(self.config)
        self._sizes = dict(state.sizes)
        self.chart_timeframe = state.timeframe
        for problem in state.problems:
            self.notify(problem, severity="warning", timeout=10)
        if state.layout != "default":
            self.apply_layout(state.layout, remember=False)
        else:
            self._apply_pane_sizes()

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
            from aitbc_tui.ui.panes.chart import ChartPane
            from aitbc_tui.ui.panes.tape import TapePane

            column = Vertical(id="trade-col")
            main.mount(column)  # after #right: beside the ladder
            column.mount(ChartPane(id="chart"), TapePane(id="tape"))
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
        self._chart_seen = None
        self._pnl_seen = -1
        feed = self.service.market_feed()
        feed.want_tickers(name == "watch")
        if name != "trade":
            feed.stop_tapes()
        if remember:
            self._save_state()
        self._apply_pane_sizes()
        focused = self.focused
        if focused is None or focused.id not in SHOWN[name]:
            first = {"default": "#ladder", "trade": "#ladder", "watch": "#watchlist", "account": "#positions"}[name]
            try:
                dashboard.query_one(first).focus()
            except Exception:  # noqa: BLE001 - nothing to focus yet
                pass
        self._paint_market_panes(force=True)

    def _save_state(self) -> None:
        save_state(self.config, self.layout_name, self._sizes, timeframe=self.chart_timeframe)

    def action_layout(self, name: str) -> None:
        self.apply_layout(name)
        self.notify(f"layout: {name}", timeout=2)

    def shown(self, pane_id: str) -> bool:
        if self.maximised is not None:
            return pane_id == self.maximised
        return pane_id in SHOWN[self.layout_name]

    # ---- pane sizes (> / < / 0) -------------------------------------------------------------

    def _split_total(self, axis: str) -> int:
        """Cells of #main along ``axis``: the screen less its border, the status bar and the footer."""
        dashboard = self.screen_stack[0]
        gutter = dashboard.styles.gutter
        if axis == "width":
            return self.size.width - gutter.width
        return self.size.height - gutter.height - 2

    def _effective_size(self, name: str) -> int | None:
        size = self._sizes.get(name)
        if size is None:
            return None
        split = SPLITS[name]
        return clamp_split(size, self._split_total(split.axis), split.min_first, split.min_rest)

    def _apply_pane_sizes(self) -> None:
        """Inline styles for the shown layout's split (none while a pane is maximised: the
        maximise rules must win); every other layout's are cleared, so its CSS holds."""
        dashboard = self.screen_stack[0]

        def styles_of(widget_id: str):
            found = dashboard.query(f"#{widget_id}")
            return found.first().styles if found else None

        for split in SPLITS.values():
            for widget_id, style in ((split.first, split.axis), *((w, st) for w, st, _ in split.rest)):
                styles = styles_of(widget_id)
                if styles is not None and styles.has_rule(style):
                    setattr(styles, style, None)
        size = self._effective_size(self.layout_name)
        if size is None or self.maximised is not None:
            return
        split = SPLITS[self.layout_name]
        first = styles_of(split.first)
        if first is not None:
            setattr(first, split.axis, f"{size}%")
        for widget_id, style, value in split.rest:
            styles = styles_of(widget_id)
            if styles is not None:
                setattr(styles, style, value)

    def _focused_pane_id(self) -> str | None:
        pane = self.focused
        while pane is not None and getattr(pane, "id", None) not in PANE_IDS:
            pane = pane.parent if isinstance(pane.parent, Widget) else None
        return pane.id if pane is not None else None

    def _current_size(self, name: str) -> int:
        """The first region's share now: as set, or measured from the layout's CSS default."""
        effective = self._effective_size(name)
        if effective is not None:
            return effective
        split = SPLITS[name]
        found = self.screen_stack[0].query(f"#{split.first}")
        total = self._split_total(split.axis)
        if not found or total <= 0:
            return 50
        cells = getattr(found.first().outer_size, split.axis)
        return round(cells * 100 / total)

    def action_resize(self, step: int) -> None:
        """`>` grows the focused pane (its side of the layout's split), `<` shrinks it."""
        if self.maximised is not None:
            self.notify("a maximised pane fills the screen: z restores the layout first", timeout=3)
            return
        name = self.layout_name
        split = SPLITS[name]
        pane_id = self._focused_pane_id()
        if pane_id is None or pane_id not in SHOWN[name]:
            self.notify("focus a pane first (tab), then > or <", timeout=3)
            return
        grow_first = (pane_id in split.first_panes) == (step > 0)
        before = self._current_size(name)
        wanted = before + (SIZE_STEP if grow_first else -SIZE_STEP)
        after = clamp_split(wanted, self._split_total(split.axis), split.min_first, split.min_rest)
        if after == before:
            self.notify(f"{pane_id}: as {'large' if step > 0 else 'small'} as it goes at this size", timeout=2)
            return
        self._sizes[name] = after
        self._apply_pane_sizes()
        self._save_state()
        self.notify(f"layout {name}: {split.label} {after}% of the {split.axis} (0 resets)", timeout=2)

    def action_reset_size(self) -> None:
        """`0`: the shown layout's panes back to their default sizes."""
        if self._sizes.pop(self.layout_name, None) is None:
            self.notify(f"layout {self.layout_name}: default sizes already", timeout=2)
            return
        self._apply_pane_sizes()
        self._save_state()
        self.notify(f"layout {self.layout_name}: default sizes", timeout=2)

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
        self._apply_pane_sizes()  # the layout's sizes step aside while a pane fills the screen
        self.notify(f"{pane.border_title or pane.id}: maximised (z restores)", timeout=2)
        self._paint_market_panes(force=True)

    def _restore_maximised(self) -> None:
        dashboard = self.screen_stack[0]
        dashboard.remove_class("maximised")
        for widget in dashboard.query(".max-pane, .max-path"):
            widget.remove_class("max-pane", "max-path")
        self.maximised = None
        self._apply_pane_sizes()

    # ---- painting (from the app's repaint ticks) ---------------------------------------------

    def _paint_market_panes(self, force: bool = False) -> None:
        """The fast tick: the tape and the chart when their trades changed (or the focus
        moved), each at most every TAPE_REPAINT_S / CHART_REPAINT_S."""
        if self.venue is None or self.symbol is None:
            return
        tape_shown, chart_shown = self.shown("tape"), self.shown("chart")
        if not (tape_shown or chart_shown):
            return
        feed = self.service.market_feed()
        feed.watch_tape(self.venue, self.symbol)  # the chart's candles are built from the tape's trades
        now = time.monotonic()
        if chart_shown:
            self._paint_chart(feed, now, force)
        if not tape_shown:
            return
        seen = (self.venue, self.symbol, feed.tape_version(self.venue, self.symbol))
        if force or (seen != self._tape_seen and now - self._tape_painted_at >= TAPE_REPAINT_S):
            from aitbc_tui.ui.panes.tape import TapePane, TapeView

            self._tape_seen = seen
            self._tape_painted_at = now
            self._pane("#tape", TapePane).show(
                TapeView.build(self.service, self.venue, self.symbol, self._tape_filter_for(self.venue, self.symbol))
            )

    def _paint_chart(self, feed: Any, now: float, force: bool) -> None:
        from aitbc_tui.ui.panes.chart import ChartPane, ChartView

        venue, symbol, timeframe = str(self.venue), str(self.symbol), self.chart_timeframe
        candles = feed.candles(venue, symbol, timeframe)
        pane = self._pane("#chart", ChartPane)
        width = pane.size.width
        seen = (venue, symbol, timeframe, id(candles), getattr(candles, "version", -1),
                self.service.orders_version, width)  # fmt: skip
        if seen == self._chart_seen and not force:
            return
        if not force and now - self._chart_painted_at < CHART_REPAINT_S:
            return
        self._chart_seen, self._chart_painted_at = seen, now
        pane.show(ChartView.build(self.service, candles, venue, symbol, timeframe, width, self._chart_journal))

    def on_chart_pane_timeframe_changed(self, message: ChartPane.TimeframeChanged) -> None:
        """`,` / `.` on the trade layout's chart: the previous or next timeframe (backfilled again)."""
        names = list(TIMEFRAMES)
        self.chart_timeframe = names[(names.index(self.chart_timeframe) + message.step) % len(names)]
        self._save_state()  # remembered with the layout, per config
        self._paint_market_panes(force=True)
        self.notify(f"chart: {self.chart_timeframe} candles", timeout=2)

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
