"""Market context for the desk: the trade tape, the watchlist's 24 h figures, positions and P&L.

Owned by the service (``MarketService.market_feed()``), so its tasks are supervised and stop
with it; panes read frozen snapshots from it and never call a venue. No textual, no ccxt.

- Tape: one per (venue, symbol) the operator focuses (``watch_tape``): backfilled with
  ``fetch_trades``, then fed by ``watch_trades``. When the feed fails and later answers again,
  a ``TapeGap`` is put on the tape where the feed was lost and the trades missed meanwhile are
  fetched (``fetch_trades(since=...)``): ccxt does not backfill by itself.
- Chart: the trade layout's candles (``candles``) for one venue, symbol and timeframe,
  backfilled with ``fetch_ohlcv`` and then built from the same symbol's tape: every trade the
  tape takes (a gap's backfill too) moves the current candle. When the tape stops, the chart
  is dropped with it and starts again from a fresh backfill: candles that missed trades
  would state a wrong volume.
- Tickers: every venue's 24 h figures (``fetch_tickers``), polled while someone wants them
  (``want_tickers``): the watchlist pane only while it is on screen.
- P&L: a ``pnl.PnlTracker`` fed with the journal's fills at start and each new fill as the
  service reports it (deduplicated by trade id); ``pnl_report`` values it at the books' mids.
- Transfers: every venue's deposits and withdrawals (``fetch_transfers``), polled from the
  first ``pnl_report`` on and every ``TRANSFERS_INTERVAL_S`` (since the newest seen; from the
  oldest one not yet applied while one is pending), deduplicated by (venue, id) and applied
  once, each at its price (``transfer_price``); one older than its position's newest fill
  rebuilds that position in time order. A venue without them is skipped (logged once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from aitbc_tui import pnl
from aitbc_tui.chart_feed import BACKFILL_CANDLES, CandleFeed
from aitbc_tui.domain import Balance, BookSnapshot, FeatureUnavailable, Transfer
from aitbc_tui.market_data import Ticker24h, Trade
from aitbc_tui.venues.base import fetch_ohlcv, fetch_tickers, fetch_trades, fetch_transfers

log = logging.getLogger(__name__)

TAPE_SIZE = 200  # trades kept per tape (the pane shows the newest that fit)
TICKERS_INTERVAL_S = 5.0
TAPE_RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0)
TAPE_POLL_S = 1.0  # a venue without watch_trades
TRANSFERS_INTERVAL_S = 30.0  # deposits and withdrawals are rare; venues weigh the calls

# A completed transfer and what it moved: the position and price, None for no position.
TransferLine = tuple[Transfer, "pnl.PnlTransfer | None"]


@dataclass(frozen=True, slots=True)
class TapeGap:
    """The feed was lost from ``since`` (the newest trade before it) to ``until`` (when it
    answered again); ``backfilled`` trades of that span were fetched afterwards."""

    since: float
    until: float
    backfilled: int
    reason: str = ""


TapeEntry = Trade | TapeGap


@dataclass(frozen=True, slots=True)
class TapeSnapshot:
    venue: str
    symbol: str
    entries: tuple[TapeEntry, ...]  # oldest first
    version: int
    error: str = ""  # the feed's last failure while it is failing ("" when it runs)


class _Tape:
    def __init__(self, venue: str, symbol: str) -> None:
        self.venue, self.symbol = venue, symbol
        self.entries: deque[TapeEntry] = deque(maxlen=TAPE_SIZE)
        self.ids: set[str] = set()
        self.version = 0
        self.error = ""
        self.task_started = False
        self.chart: CandleFeed | None = None  # fed every trade the tape takes

    def add(self, trades: Iterable[Trade], own_ids: set[tuple[str, str]] | frozenset = frozenset()) -> int:
        added = 0
        taken: list[Trade] = []
        for trade in sorted(trades, key=lambda t: t.time):
            if trade.id and trade.id in self.ids:
                continue
            if not trade.own and (self.venue, trade.id) in own_ids:
                trade = replace(trade, own=True)  # one of the operator's fills (same trade id)
            if len(self.entries) == self.entries.maxlen:
                gone = self.entries[0]
                if isinstance(gone, Trade):
                    self.ids.discard(gone.id)
            self.entries.append(trade)
            self.ids.add(trade.id)
            taken.append(trade)
            added += 1
        if added:
            self.version += 1
            if self.chart is not None:
                self.chart.offer(taken)
        return added

    def mark_own(self, trade_id: str) -> None:
        if trade_id not in self.ids:
            return
        for index, entry in enumerate(self.entries):
            if isinstance(entry, Trade) and entry.id == trade_id and not entry.own:
                self.entries[index] = replace(entry, own=True)
                self.version += 1

    def add_gap(self, gap: TapeGap) -> None:
        self.entries.append(gap)
        self.version += 1

    @property
    def newest_time(self) -> float | None:
        for entry in reversed(self.entries):
            if isinstance(entry, Trade):
                return entry.time
        return None

    def snapshot(self) -> TapeSnapshot:
        return TapeSnapshot(self.venue, self.symbol, tuple(self.entries), self.version, self.error)


def venue_fills(journal: Any, modes: Mapping[str, str], before: float | None = None) -> list[pnl.PnlFill]:
    """The journal's fills of the venues in ``modes`` (name -> mode), each only from orders
    of that mode: a sandbox "binance" and a live "binance" share a name, never a position.
    ``before``: only fills journalled before that time (epoch s)."""
    mode_of = {o.client_order_id: o.mode for o in journal.orders() if o.venue in modes}
    return [pnl.PnlFill.from_journal_event(e) for e in journal.events()
            if e.kind.value == "fill" and e.price is not None and e.amount and e.venue in modes
            and (before is None or e.at < before)
            and mode_of.get(e.client_order_id) == modes[e.venue]]  # fmt: skip


def service_modes(service: Any) -> dict[str, str]:
    """venue name -> mode value, for ``venue_fills``."""
    out = {}
    for name in service.venue_names:
        mode = getattr(service.venue(name), "mode", "")
        out[name] = str(getattr(mode, "value", mode))
    return out


async def transfer_price(venue: Any, symbol: str, at: float,
                         book: BookSnapshot | None) -> tuple[Decimal, str] | None:  # fmt: skip
    """A transfer's cost: the close of the venue's 1m candle holding ``at`` where it serves one,
    else ``book``'s mid (the book when the transfer is first seen); None without either."""
    bucket = int(at // 60) * 60
    if hasattr(venue, "fetch_ohlcv"):
        try:
            candles = await fetch_ohlcv(venue, symbol, "1m", limit=1, since=bucket)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the book's mid instead
            log.info("%s %s: no candle for a transfer's price", getattr(venue, "name", ""), symbol, exc_info=True)
            candles = []
        for candle in candles:
            if candle.open_time == bucket:
                return candle.close, "1m candle close"
    mid = book.mid if book is not None else None
    return (mid, "book mid when first seen") if mid is not None and mid > 0 else None


async def price_transfers(venue: Any, transfers: Iterable[Transfer], symbols: Iterable[str],
                          books: Mapping[tuple[str, str], BookSnapshot], valuation: str = "USDT",
                          ) -> tuple[list[TransferLine], list[Transfer]]:  # fmt: skip
    """The completed ``transfers`` of one venue as (ready: each with the position it moves, None
    for an asset no listed symbol has as base; unpriced: no candle and no mid yet). A price the
    venue states for the transfer (``Transfer.price``, in the position's quote) comes first,
    then ``transfer_price``."""
    symbols = list(symbols)
    ready: list[TransferLine] = []
    unpriced: list[Transfer] = []
    for transfer in transfers:
        if not transfer.completed:
            continue
        symbol = pnl.transfer_symbol(transfer.asset, symbols, valuation)
        if symbol is None:
            ready.append((transfer, None))
            continue
        found: tuple[Decimal, str] | None = None
        if transfer.price is not None and transfer.price > 0 and symbol.partition("/")[2] == transfer.price_quote:
            found = transfer.price, "the venue's price at the transfer"
        else:
            found = await transfer_price(venue, symbol, transfer.time, books.get((transfer.venue, symbol)))
        if found is None:
            unpriced.append(transfer)
        else:
            ready.append((transfer, pnl.PnlTransfer.from_transfer(transfer, symbol, *found)))
    return ready, unpriced


async def collect_transfers(service: Any, valuation: str = "USDT", venue: str | None = None,
                            ) -> list[TransferLine]:  # fmt: skip
    """Every completed transfer of the service's venues (``venue`` only, if given) once, priced
    (see ``price_transfers``; one without a price yet is left out), for a one-off report.
    A venue without transfers, or failing, gives none."""
    ready: dict[tuple[str, str], TransferLine] = {}
    for name in service.venue_names:
        if venue not in (None, name):
            continue
        try:
            found = await fetch_transfers(service.venue(name), None)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - positions from fills only for this venue
            log.info("%s: no deposits and withdrawals", name, exc_info=True)
            continue
        priced, _unpriced = await price_transfers(service.venue(name), found, service.markets(name),
                                                  service.books(), valuation)  # fmt: skip
        for transfer, moved in priced:
            ready.setdefault((name, transfer.id), (transfer, moved))
    return list(ready.values())


class MarketFeed:
    def __init__(self, service: Any, *, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.clock = clock
        self._tapes: dict[tuple[str, str], _Tape] = {}
        self._chart: CandleFeed | None = None
        self._chart_key: tuple[str, str, str] | None = None
        self._tickers: dict[str, dict[str, Ticker24h]] = {}
        self.tickers_version = 0
        self._tickers_wanted = False
        self._tickers_task = False
        self._tickers_wake = asyncio.Event()
        self.tracker = pnl.PnlTracker(clock=clock)
        self._fill_ids: set[tuple[str, str]] = set()
        self._fills: list[pnl.PnlFill] = []  # every fill applied, to recompute with another method
        self.pnl_version = 0
        # The journal's earlier fills are read on first use (the account layout), not at start;
        # fills from now on come from the service's events.
        self._journal_before = time.time()  # the journal's clock
        self._journal_loaded = getattr(service, "journal", None) is None
        service.add_event_listener(self._on_order_event)
        # Deposits and withdrawals: every completed one seen (moving a position or not), the
        # applied ones (to recompute), ids, and per venue the ``since`` of the next poll.
        self.transfers_valuation = "USDT"  # picks the position a transfer moves (pnl.transfer_symbol)
        self._transfers: list[TransferLine] = []
        self._pnl_transfers: list[pnl.PnlTransfer] = []
        self._transfer_ids: set[tuple[str, str]] = set()
        self._transfers_since: dict[str, float] = {}
        self._no_transfers: set[str] = set()
        self._transfers_task = False
        self.transfers_ready = False  # a poll has seen every venue and priced every transfer

    def load_journal(self) -> None:
        """Apply the journal's fills from before this feed existed, ahead of this session's
        (the tracker is rebuilt so the cost basis follows the fills' order)."""
        if self._journal_loaded:
            return
        self._journal_loaded = True
        journal = getattr(self.service, "journal", None)
        try:
            earlier = venue_fills(journal, service_modes(self.service), before=self._journal_before)
        except Exception:  # noqa: BLE001 - the journal's own errors surface on its order path
            log.warning("P&L: reading the journal's fills failed", exc_info=True)
            return
        session, self._fills, self._fill_ids = self._fills, [], set()
        self.tracker = pnl.PnlTracker(self.tracker.method, session_start=self.tracker.session_start, clock=self.clock)
        self._apply_fills(earlier + session)
        if self._pnl_transfers:
            self._rebuild(self.tracker.method)

    # ---- P&L ------------------------------------------------------------------------------

    def _apply_fills(self, fills: Iterable[pnl.PnlFill]) -> None:
        for fill in fills:
            key = (fill.venue, fill.trade_id)
            if fill.trade_id and key in self._fill_ids:
                continue
            self._fill_ids.add(key)
            self._fills.append(fill)
            self.tracker.apply(fill)
            self.pnl_version += 1

    def _on_order_event(self, event: Any) -> None:
        fill = getattr(event, "fill", None)
        if getattr(event, "kind", "") == "fill" and fill is not None:
            self._apply_fills([pnl.PnlFill.from_fill(fill)])
            tape = self._tapes.get((fill.venue, fill.symbol))
            if tape is not None and fill.trade_id:
                tape.mark_own(fill.trade_id)

    def set_method(self, method: pnl.CostMethod | str) -> None:
        """Recompute every position with another cost-basis method (from the same fills)."""
        method = pnl.CostMethod(method)
        self.load_journal()
        if method is self.tracker.method:
            return
        self._rebuild(method)

    def _rebuild(self, method: pnl.CostMethod) -> None:
        """Every position again from the fills and transfers, in time order."""
        self.tracker = pnl.PnlTracker(method, session_start=self.tracker.session_start, clock=self.clock)
        self.tracker.apply_many(pnl.replay(self._fills, self._pnl_transfers))
        self.pnl_version += 1

    # ---- transfers ------------------------------------------------------------------------

    def apply_transfers(self, ready: Iterable[TransferLine]) -> int:
        """Apply each transfer once (by venue and id; None: it moves no position); one older
        than what its position has applied rebuilds that position in time order. Returns how
        many were new."""
        new = 0
        rebuild: set[tuple[str, str]] = set()
        for transfer, moved in ready:
            key = (transfer.venue, transfer.id)
            if key in self._transfer_ids:
                continue
            self._transfer_ids.add(key)
            self._transfers.append((transfer, moved))
            new += 1
            if moved is None:
                continue
            self._pnl_transfers.append(moved)
            key = (moved.venue, moved.symbol)
            if key in rebuild or not self.tracker.in_order(moved):
                rebuild.add(key)
            else:
                self.tracker.apply_transfer(moved)
        for venue, symbol in sorted(rebuild):  # that position only: the others are in order
            self.tracker.rebuild(venue, symbol, self._fills, self._pnl_transfers)
        if new:
            self.pnl_version += 1
        return new

    def transfers(self) -> tuple[TransferLine, ...]:
        """Every completed transfer seen with what it moved (None: no position), oldest first."""
        return tuple(sorted(self._transfers, key=lambda line: line[0].time))

    def want_transfers(self) -> None:
        """Start polling the venues' deposits and withdrawals (once; the P&L is in use)."""
        if not self._transfers_task:
            self._transfers_task = True
            self.service._spawn(self._poll_transfers, "transfers")

    async def refresh_transfers(self) -> bool:
        """One poll of every started venue; False while one still has no markets or a
        transfer waits for a price."""
        complete = True
        for name in self.service.venue_names:
            if name in self._no_transfers:
                continue
            markets = self.service.markets(name)
            if not markets:
                complete = False
                continue
            venue = self.service.venue(name)
            try:
                found = list(await fetch_transfers(venue, self._transfers_since.get(name)))
            except asyncio.CancelledError:
                raise
            except FeatureUnavailable as exc:
                log.info("%s: %s; its positions count fills only", name, exc)
                self._no_transfers.add(name)
                continue
            except Exception:  # noqa: BLE001 - the positions keep what they have; retried
                log.info("%s: deposits and withdrawals failed", name, exc_info=True)
                continue
            fresh = [t for t in found if (name, t.id) not in self._transfer_ids]
            ready, unpriced = await price_transfers(venue, fresh, markets, self.service.books(),
                                                    self.transfers_valuation)  # fmt: skip
            self.apply_transfers(ready)
            # The next poll from the oldest one still to apply (pending at the venue, or no
            # price yet), else from the newest seen.
            waiting = [t.time for t in fresh if t.status == "pending"] + [t.time for t in unpriced]
            if waiting:
                self._transfers_since[name] = min(waiting)
            elif found:
                self._transfers_since[name] = max(t.time for t in found)
            complete = complete and not unpriced
        return complete

    async def _poll_transfers(self) -> None:
        while True:
            complete = await self.refresh_transfers()
            self.transfers_ready = self.transfers_ready or complete
            await asyncio.sleep(TRANSFERS_INTERVAL_S if complete else 1.0)

    # ---- tape -----------------------------------------------------------------------------

    def watch_tape(self, venue: str, symbol: str) -> None:
        """Run the tape of ``venue``/``symbol`` and no other: one tape feeds the pane, and a
        polled venue spends its request budget on one symbol only. A tape started again
        begins afresh from ``fetch_trades`` (what it missed while stopped is not a gap)."""
        key = (venue, symbol)
        tape = self._tapes.get(key)
        if tape is None:
            tape = self._tapes[key] = _Tape(venue, symbol)
        if tape.task_started:
            return
        self.stop_tapes()  # the chart too: one that missed trades meanwhile is not kept
        if venue in self.service.venue_names:
            tape.entries.clear()
            tape.ids.clear()
            tape.error = ""
            tape.version += 1
            tape.task_started = True
            self.service._spawn(lambda: self._run_tape(tape), f"tape:{venue}:{symbol}")

    def stop_tapes(self) -> None:
        """Stop every tape's feed (the tape pane is off the screen); their entries stay.
        The chart fed by a tape is dropped."""
        self.stop_candles()
        names = set()
        for (venue, symbol), tape in self._tapes.items():
            if tape.task_started:
                tape.task_started = False
                names.add(f"tape:{venue}:{symbol}")
        self._cancel_tasks(names)

    def _cancel_tasks(self, names: set[str]) -> None:
        """Cancel the service's running tasks with these names (the feed's own: tapes, chart)."""
        for task in getattr(self.service, "_tasks", ()):
            if task.get_name() in names and not task.done():
                task.cancel()

    # ---- chart ----------------------------------------------------------------------------

    def candles(self, venue: str, symbol: str, timeframe: str) -> CandleFeed | None:
        """The trade layout's candles of ``venue``/``symbol`` at ``timeframe`` (one chart at a
        time): backfilled once, then fed by that symbol's tape, so ``watch_tape`` must run
        for it. None for a venue the service does not have."""
        key = (venue, symbol, timeframe)
        if key == self._chart_key:
            return self._chart
        self.stop_candles()
        if venue not in self.service.venue_names:
            return None
        chart = CandleFeed(self.service.venue(venue), symbol, timeframe, backfill=BACKFILL_CANDLES)
        tape = self._tapes.get((venue, symbol))
        if tape is not None:
            chart.offer([e for e in tape.entries if isinstance(e, Trade)])
            tape.chart = chart
        self._chart, self._chart_key = chart, key
        self.service._spawn(chart.backfill_once, f"candles:{venue}:{symbol}:{timeframe}")
        return chart

    def stop_candles(self) -> None:
        if self._chart_key is None:
            return
        venue, symbol, timeframe = self._chart_key
        tape = self._tapes.get((venue, symbol))
        if tape is not None and tape.chart is self._chart:
            tape.chart = None
        self._chart, self._chart_key = None, None
        self._cancel_tasks({f"candles:{venue}:{symbol}:{timeframe}"})

    def tape(self, venue: str | None, symbol: str | None) -> TapeSnapshot | None:
        tape = self._tapes.get((venue or "", symbol or ""))
        return tape.snapshot() if tape is not None else None

    def tape_version(self, venue: str | None, symbol: str | None) -> int:
        tape = self._tapes.get((venue or "", symbol or ""))
        return -1 if tape is None else tape.version

    async def _run_tape(self, tape: _Tape) -> None:
        venue = self.service.venue(tape.venue)
        if not hasattr(venue, "fetch_trades"):
            tape.error = f"{tape.venue} serves no public trades"
            tape.version += 1
            return

        async def poll(symbol: str) -> list[Trade]:  # a venue with fetch_trades only: new trades by id
            await asyncio.sleep(TAPE_POLL_S)
            return [t for t in await fetch_trades(venue, symbol, limit=TAPE_SIZE) if t.id not in tape.ids]

        lost_at: float | None = None  # the newest trade's time when the feed was lost
        lost_reason = ""
        failures = 0
        backfilled = False
        while True:
            try:
                if not backfilled:
                    tape.add(await fetch_trades(venue, tape.symbol, limit=TAPE_SIZE), self._fill_ids)
                    backfilled = True
                    continue
                if lost_at is not None and (caught := await self._backfill(venue, tape, lost_at)) is not None:
                    # The trades since the loss, as soon as the venue answers REST: a
                    # websocket that reconnected may stay silent until the next trade.
                    tape.add_gap(TapeGap(lost_at, self.clock(), len(caught), lost_reason))
                    tape.add(caught, self._fill_ids)
                    lost_at, lost_reason, failures = None, "", 0
                    tape.error = ""
                    tape.version += 1
                    continue
                watch = getattr(venue, "watch_trades", None) or poll
                fresh = await watch(tape.symbol)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - shown on the tape, retried
                from aitbc_tui.service import describe_error

                if lost_at is None:
                    newest = tape.newest_time
                    lost_at = newest if newest is not None else self.clock()
                    lost_reason = describe_error(exc)
                tape.error = describe_error(exc)
                tape.version += 1
                await asyncio.sleep(TAPE_RETRY_S[min(failures, len(TAPE_RETRY_S) - 1)])
                failures += 1
                continue
            if lost_at is not None:
                missed: list[Trade] = []
                try:
                    missed = list(await fetch_trades(venue, tape.symbol, limit=TAPE_SIZE, since=lost_at))
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the gap stays marked, with 0 backfilled
                    log.info("%s %s: backfill after a gap failed", tape.venue, tape.symbol, exc_info=True)
                new = [t for t in missed + list(fresh) if t.id not in tape.ids]
                tape.add_gap(TapeGap(lost_at, self.clock(), sum(1 for t in missed if t.id not in tape.ids),
                                     lost_reason))  # fmt: skip
                tape.add(new, self._fill_ids)
                lost_at, lost_reason, failures = None, "", 0
                tape.error = ""
                continue
            failures = 0
            if tape.error:
                tape.error = ""
                tape.version += 1
            if not fresh:
                await asyncio.sleep(TAPE_RETRY_S[0])  # a closed venue answers [] at once
                continue
            tape.add(fresh, self._fill_ids)

    async def _backfill(self, venue: Any, tape: Any, since: float) -> list[Trade] | None:
        """The trades since ``since`` not on the tape yet, or None when the venue does not
        answer (the gap is then closed when the watch answers)."""
        try:
            missed = await fetch_trades(venue, tape.symbol, limit=TAPE_SIZE, since=since)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - retried through the watch
            log.info("%s %s: backfill after a gap failed", tape.venue, tape.symbol, exc_info=True)
            return None
        return [t for t in missed if t.id not in tape.ids]

    # ---- tickers --------------------------------------------------------------------------

    def want_tickers(self, wanted: bool) -> None:
        """Poll the 24 h tickers while ``wanted`` (the watchlist is on screen)."""
        self._tickers_wanted = wanted
        if wanted:
            self._tickers_wake.set()
            if not self._tickers_task:
                self._tickers_task = True
                self.service._spawn(self._poll_tickers, "tickers")

    async def refresh_tickers(self) -> bool:
        """Every started venue's tickers; False while a venue has no markets yet (starting)."""
        complete = True
        for name in self.service.venue_names:
            if not self.service.markets(name):
                complete = False
                continue
            try:
                found = await fetch_tickers(self.service.venue(name), list(self.service.markets(name)))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the watchlist shows the last figures, or —
                log.info("%s: tickers failed", name, exc_info=True)
                continue
            self._tickers[name] = dict(found)
        self.tickers_version += 1
        return complete

    async def _poll_tickers(self) -> None:
        while True:
            if not self._tickers_wanted:
                self._tickers_wake.clear()
                await self._tickers_wake.wait()
            complete = await self.refresh_tickers()
            self._tickers_wake.clear()
            try:  # soon again while venues are still starting
                async with asyncio.timeout(TICKERS_INTERVAL_S if complete else 0.5):
                    await self._tickers_wake.wait()
            except TimeoutError:
                pass

    def tickers(self) -> Mapping[str, Mapping[str, Ticker24h]]:
        return self._tickers

    # ---- the positions pane's and `pnl`'s figures ------------------------------------------

    def pnl_report(self, valuation: str = "USDT", venue: str | None = None, since: float | None = None) -> PnlReport:
        self.load_journal()
        if not self._transfers_task:
            self.transfers_valuation = valuation
            self.want_transfers()
        books = list(self.service.books().values())
        balances = {v: dict(self.service.balances(v)) for v in self.service.venue_names if venue in (None, v)}
        transfers = [line for line in self._transfers if venue in (None, line[0].venue)]
        return build_pnl_report(self.tracker, balances, books, valuation, venue=venue, since=since,
                                transfers=transfers)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PositionLine:
    position: pnl.Position
    session: pnl.PeriodPnl
    today: pnl.PeriodPnl
    since: pnl.PeriodPnl | None


@dataclass(frozen=True, slots=True)
class PnlReport:
    """Everything the positions pane and ``aitbc-tui pnl`` show, valued at one moment."""

    valuation: str
    method: pnl.CostMethod
    positions: tuple[PositionLine, ...]
    summary: pnl.PnlSummary
    equity: pnl.Equity
    rates: Mapping[str, pnl.Rate] = field(default_factory=dict)
    transfers: tuple[TransferLine, ...] = ()  # completed deposits and withdrawals seen, oldest first


def build_pnl_report(tracker: pnl.PnlTracker, balances: Mapping[str, Mapping[str, Balance]],
                     books: Iterable[BookSnapshot], valuation: str = "USDT", *, venue: str | None = None,
                     since: float | None = None, transfers: Sequence[TransferLine] = ()) -> PnlReport:  # fmt: skip
    books = list(books)
    tracker.set_marks(books)
    rates = pnl.valuation_rates(books, valuation)
    lines = []
    for position in tracker.positions(venue):
        v, s = position.venue, position.symbol
        lines.append(PositionLine(position, tracker.session(v, s), tracker.today(v, s),
                                  tracker.period(v, s, since) if since is not None else None))  # fmt: skip
    return PnlReport(valuation, tracker.method, tuple(lines), tracker.summary(valuation, rates, venue, since),
                     pnl.equity(balances, rates, valuation), rates,
                     tuple(sorted(transfers, key=lambda line: line[0].time)))  # fmt: skip


__all__ = [
    "MarketFeed",
    "PnlReport",
    "PositionLine",
    "TapeGap",
    "TapeSnapshot",
    "build_pnl_report",
    "collect_transfers",
    "price_transfers",
    "transfer_price",
]
