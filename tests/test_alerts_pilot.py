"""Pilot: `!` opens the rule form prefilled with the focused venue, symbol and mid; the
saved rule fires in the sandbox; the toast, the bell, the status-bar badge and the event
log all show it; `e` marks alerts read."""

from __future__ import annotations

from textual.widgets import Input

from aitbc_tui.alert_store import AlertStore
from aitbc_tui.ui.panes.status import StatusBar
from aitbc_tui.ui.screens.alert_form import AlertForm
from aitbc_tui.ui.screens.events import EventLogScreen
from tests.apptools import make_app, wait_ready


async def _wait(pilot, condition, timeout: float = 5.0) -> None:
    waited = 0.0
    while not condition():
        assert waited < timeout, "condition not met in time"
        await pilot.pause(0.02)
        waited += 0.02


async def test_bang_creates_a_rule_that_fires_with_toast_bell_badge_and_event(tmp_path):
    app = make_app(tmp_path / "sandbox")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        status = app.query_one(StatusBar)
        assert "alert" not in str(status._shown)  # no badge at 0
        await pilot.press("exclamation_mark")
        await _wait(pilot, lambda: isinstance(app.screen, AlertForm))
        form = app.screen
        book = app.service.book(app.venue, app.symbol)
        mid = (book.best_bid + book.best_ask) / 2
        assert form.query_one("#alert-venue", Input).value == app.venue
        assert form.query_one("#alert-symbol", Input).value == app.symbol
        assert abs(float(form.query_one("#alert-number", Input).value) - float(mid)) < 0.01
        # A bad field keeps the form open and says which one.
        form.query_one("#alert-kind", Input).value = "spread_abov"
        await pilot.press("enter")
        assert isinstance(app.screen, AlertForm)
        assert "kind: 'spread_abov' is not a rule kind" in str(form.query_one("#alert-error").render())
        # The sandbox's spread is always wider than 0 bps: fires at once.
        form.query_one("#alert-kind", Input).value = "spread_above"
        form.query_one("#alert-number", Input).value = "0"
        bells = app.bells
        await pilot.press("enter")
        await _wait(pilot, lambda: not isinstance(app.screen, AlertForm) and app.alerts_fired)
        alert = app.alerts_fired[0]
        assert alert.kind == "spread_above" and alert.venue == app.venue and alert.symbol == app.symbol
        assert app.bells > bells
        assert any(n.title == "Alert" and app.symbol in n.message for n in app.notices)
        logged = [e for e in app.event_log.recent if e.kind == "alert"]
        assert logged and "wider than 0 bps" in logged[-1].text and logged[-1].venue == app.venue
        await _wait(pilot, lambda: "! 1 alert" in str(status._shown))
        await pilot.press("e")
        await _wait(pilot, lambda: isinstance(app.screen, EventLogScreen))
        await pilot.press("escape")
        await _wait(pilot, lambda: not isinstance(app.screen, EventLogScreen) and "alert" not in str(status._shown))
    # Saved in the data dir: the CLI and the next start see the same rule.
    store = AlertStore()
    assert [(r.id, r.kind, r.symbol) for r in store.runtime_rules()] == [("r1", "spread_above", app.symbol)]
    store.close()


async def test_alerts_keep_evaluating_while_a_modal_is_open_and_the_panes_catch_up_after(tmp_path):
    from aitbc_tui.ui.panes.book import BookPane
    from aitbc_tui.ui.screens.help import HelpScreen
    from tests.apptools import wait_until

    app = make_app(tmp_path / "sandbox")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        ladder = app.query_one("#ladder", BookPane)
        shown = ladder._snapshot.sequence
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        # A rule saved meanwhile (as `aitbc-tui alerts add` or a second form would), then the
        # market moves while the help screen is open.
        app.alert_store.add({"kind": "spread_above", "venue": app.venue, "symbol": app.symbol, "bps": "0"})
        app._reload_rules()
        bells = app.bells
        app.world.run_steps(5, 0.1)
        await wait_until(pilot, lambda: app.alerts_fired, what="an alert behind the help screen")
        assert isinstance(app.screen, HelpScreen)  # it fired behind the modal
        [alert] = app.alerts_fired
        assert (alert.kind, alert.venue, alert.symbol) == ("spread_above", app.venue, app.symbol)
        assert app.bells == bells + 1
        assert any(e.kind == "alert" for e in app.event_log.recent)
        status = app.query_one(StatusBar)
        await wait_until(pilot, lambda: "! 1 alert" in str(status._shown) and "paused" in str(status._shown))
        assert ladder._snapshot.sequence == shown  # the panes held still meanwhile
        await pilot.press("escape")
        moved = app.service.book(app.venue, app.symbol).sequence
        assert moved != shown
        await wait_until(pilot, lambda: ladder._snapshot.sequence == moved, what="the ladder catching up")
