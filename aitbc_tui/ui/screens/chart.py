"""Charts of the focused venue and symbol on their own screen: the price chart (``C``) and
the depth chart (``D``), one at a time over the whole terminal; ``,`` / ``.`` change the
timeframe, ``C`` / ``D`` switch chart, Esc goes back; the dashboard's ``v`` and ``/`` move
the charts to another venue or symbol.

The dashboard holds still while this screen is up (as behind any screen). The candles come
from a CandleFeed run in a worker; the depth chart reads the service's book. A timer at
CHART_HZ repaints a chart only when its data changed, however fast trades arrive.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from aitbc_tui.chart_feed import CandleFeed, JournalFills
from aitbc_tui.domain import Mode
from aitbc_tui.formatting import decimals_of
from aitbc_tui.market_data import TIMEFRAMES
from aitbc_tui.ui.panes.chart import ChartView, PriceChart
from aitbc_tui.ui.panes.depth_chart import DepthChart, DepthView

CHART_HZ = 10  # repaints per second at most (people cannot read faster)
VISIBLE_CANDLES = 500  # backfilled: more than the widest terminal shows


class ChartScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back", id="chart.close"),
        Binding("full_stop", "timeframe(1)", "Next timeframe", id="chart.timeframe.next"),
        Binding("comma", "timeframe(-1)", "Prev timeframe", id="chart.timeframe.previous"),
        Binding("C", "show_chart('price')", "Price chart", id="chart.price"),
        Binding("D", "show_chart('depth')", "Depth chart", id="chart.depth"),
    ]

    def __init__(self, service, venue: str, symbol: str, *, timeframe: str = "1m", chart: str = "price",
                 poll_s: float | None = None) -> None:  # fmt: skip
        super().__init__(id="chart-screen")
        self.service = service
        self.venue = venue
        self.symbol = symbol
        self.timeframe = timeframe
        self.chart = chart
        venue_obj = service.venue(venue)
        if poll_s is None:
            # A venue's trades endpoint costs request weight (binance: 25 of 6,000 a minute).
            poll_s = 0.25 if getattr(venue_obj, "mode", None) is Mode.SANDBOX else 2.0
        self.poll_s = poll_s
        self.feed: CandleFeed | None = None
        self._seen: object = None
        self._worker: Worker[None] | None = None
        self._book_shown: object = None  # the book snapshot the depth chart shows
        self._journal = JournalFills()

    def compose(self) -> ComposeResult:
        yield PriceChart(id="price-chart")
        yield DepthChart(id="depth-chart")
        yield Static(id="chart-hint", classes="modal-hint")

    def on_mount(self) -> None:
        self._switch(self.chart)  # the candle feed starts with the price chart, not before
        self.set_interval(1 / CHART_HZ, self._tick, name="chart-repaint")

    # ---- data ---------------------------------------------------------------------------

    def _stop_feed(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self.feed = None

    def _start_feed(self) -> None:
        self._stop_feed()
        self.feed = CandleFeed(self.service.venue(self.venue), self.symbol, self.timeframe,
                               backfill=VISIBLE_CANDLES, poll_s=self.poll_s)  # fmt: skip
        self._seen = None
        self._worker = self.run_worker(self.feed.run(), name="chart-feed", group="chart", exclusive=True,
                                       exit_on_error=False)  # fmt: skip
        chart = self.query_one(PriceChart)
        chart.show(self._view())

    def _view(self) -> ChartView:
        width = self.query_one(PriceChart).size.width
        return ChartView.build(self.service, self.feed, self.venue, self.symbol, self.timeframe, width, self._journal)

    def _depth_view(self) -> DepthView:
        market = self.service.market(self.venue, self.symbol)
        price_places = decimals_of(market.tick_size) if market else 2
        amount_places = min(4, decimals_of(market.lot_size)) if market else 4
        book = self.service.book(self.venue, self.symbol)
        return DepthView(self.venue, self.symbol, book, price_places, amount_places,
                         "" if book is not None else f"waiting for {self.venue} {self.symbol}…")  # fmt: skip

    def _tick(self) -> None:
        """Only the chart on screen is repainted, and only when its data changed. The
        dashboard's venue and symbol keys (v, /) work here too: the charts follow them."""
        venue, symbol = getattr(self.app, "venue", None), getattr(self.app, "symbol", None)
        if venue is not None and symbol is not None and (venue, symbol) != (self.venue, self.symbol):
            self.venue, self.symbol = str(venue), str(symbol)
            self._book_shown = None
            self._stop_feed()
            if self.chart == "price":
                self._start_feed()
        if self.chart == "depth":
            book = self.service.book(self.venue, self.symbol)
            if book is not self._book_shown:
                self._book_shown = book
                self.query_one(DepthChart).show(self._depth_view())
            return
        feed = self.feed
        if feed is None or (feed.version, self.service.orders_version) == self._seen:
            return
        self._seen = (feed.version, self.service.orders_version)
        self.query_one(PriceChart).show(self._view())

    def _show_hint(self) -> None:
        parts = Text(" ")
        for tf in TIMEFRAMES:
            parts.append(f" {tf} ", style="reverse bold" if tf == self.timeframe else "")
        if self.chart == "depth":
            parts = Text(
                "  depth chart: cumulative size around the mid · C price chart · v venue · / symbol · Esc back"
            )
        else:
            parts.append("   , . timeframe · C price · D depth · v venue · / symbol · Esc back")
        self.query_one("#chart-hint", Static).update(parts)

    # ---- actions ------------------------------------------------------------------------

    def action_timeframe(self, step: int) -> None:
        names = list(TIMEFRAMES)
        self.timeframe = names[(names.index(self.timeframe) + step) % len(names)]
        self._stop_feed()
        self._switch("price")

    def action_show_chart(self, which: str) -> None:
        self._switch(which)

    def _switch(self, which: str) -> None:
        self.chart = which
        price, depth = self.query_one(PriceChart), self.query_one(DepthChart)
        price.display = which == "price"
        depth.display = which == "depth"
        self._show_hint()
        self._book_shown = None
        self._seen = None
        if which == "price" and self.feed is None:
            self._start_feed()
        (depth if which == "depth" else price).focus()
        self._tick()

    def action_close(self) -> None:
        self._stop_feed()
        self.dismiss(None)
