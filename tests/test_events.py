"""The event log: batched writes off the caller's path, retention, filters, the `events`
command, and the dashboard: every toast is an event, `e` shows them, `f`/`g` filter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aitbc_tui import paths
from aitbc_tui.cli import main
from aitbc_tui.domain import HealthStatus, VenueHealth
from aitbc_tui.events import EventLog, HealthWatcher, filter_events, read_events, severity_of
from aitbc_tui.ui.panes.events import EventsPane
from aitbc_tui.ui.screens.events import EventLogScreen
from tests.apptools import make_app, wait_ready

T0 = 1_795_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_log_returns_at_once_and_the_writer_commits_in_batches(tmp_path):
    log = EventLog(tmp_path / "ev.sqlite3", clock=Clock())
    for i in range(500):
        log.log(f"notice {i}", severity="warning" if i % 2 else "information", venue="sim-a")
    assert len(log.recent) == 500 and log.version == 500  # in memory before any commit
    assert log.flush()
    stored = read_events(tmp_path / "ev.sqlite3")
    assert [e.text for e in stored] == [f"notice {i}" for i in range(500)]
    assert [e.seq for e in stored] == list(range(1, 501))
    assert stored[0].iso == "2026-11-18T11:06:40.000Z"
    log.close()


def test_text_is_plain_and_registered_secrets_are_redacted(tmp_path):
    log = EventLog(tmp_path / "ev.sqlite3", clock=Clock())
    log.add_secret("whsec-0123456789")
    event = log.log("posted with whsec-0123456789\x1b[31m red\nline")
    assert event.text == "posted with **** red line"
    log.close()
    assert b"whsec-0123456789" not in (tmp_path / "ev.sqlite3").read_bytes()


def test_retention_drops_events_older_than_30_days_when_the_log_opens(tmp_path):
    clock = Clock()
    path = tmp_path / "ev.sqlite3"
    log = EventLog(path, clock=clock)
    log.log("old", at=T0 - 31 * 86400)
    log.log("29 days", at=T0 - 29 * 86400)
    log.log("now")
    log.close()
    again = EventLog(path, clock=clock)
    assert [e.text for e in again.recent] == ["29 days", "now"]
    again.close()
    assert [e.text for e in read_events(path)] == ["29 days", "now"]


def test_filters_by_severity_and_venue(tmp_path):
    log = EventLog(persist=False, clock=Clock())
    log.log("a", venue="sim-a")
    log.log("b", severity="warning", venue="sim-b")
    log.log("c", severity="error", venue="sim-a")
    assert [e.text for e in filter_events(log.recent, min_severity="warning")] == ["b", "c"]
    assert [e.text for e in filter_events(log.recent, min_severity="error")] == ["c"]
    assert [e.text for e in filter_events(log.recent, venue="sim-a")] == ["a", "c"]
    assert severity_of("WARN") == "warning"
    with pytest.raises(ValueError, match="unknown severity"):
        severity_of("loud")


def test_health_watcher_reports_status_changes_and_new_errors():
    watcher = HealthWatcher()

    def h(status, error=""):
        return [VenueHealth("sim-a", status, 10.0, 0.1, last_error=error)]

    assert watcher.observe(h(HealthStatus.CONNECTED)) == []  # first sight: recorded only
    assert watcher.observe(h(HealthStatus.DEGRADED, "BTC/USDT book: resync")) == [
        ("warning", "health", "sim-a", "sim-a: connected -> degraded"),
        ("warning", "venue", "sim-a", "sim-a: BTC/USDT book: resync"),
    ]
    assert watcher.observe(h(HealthStatus.DEGRADED, "BTC/USDT book: resync")) == []  # unchanged
    assert watcher.observe(h(HealthStatus.DOWN)) == [("error", "health", "sim-a", "sim-a: degraded -> down")]


def _write_sample() -> None:
    log = EventLog(clock=Clock())
    log.log("filled 0.1 BTC/USDT", kind="fill", venue="sim-a")
    log.log("sim-b: connected -> degraded", severity="warning", kind="health", venue="sim-b")
    log.log("late", at=T0 + 3600)
    log.close()


def test_events_command_prints_iso_utc_lines_and_ndjson(capsys):
    _write_sample()
    assert main(["events"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2026-11-18T11:06:40.000Z  info   fill      sim-a  filled 0.1 BTC/USDT")
    assert main(["events", "--json", "--severity", "warning"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        {
            "severity": "warning",
            "kind": "health",
            "venue": "sim-b",
            "text": "sim-b: connected -> degraded",
            "seq": 2,
            "time": "2026-11-18T11:06:40.000Z",
        }
    ]
    assert main(["events", "--json", "--since", "2026-11-18T11:30:00Z"]) == 0
    assert [json.loads(x)["text"] for x in capsys.readouterr().out.splitlines()] == ["late"]


def test_events_command_without_a_log_says_so_and_creates_nothing(capsys):
    assert main(["events"]) == 0
    assert "no event log" in capsys.readouterr().out
    assert not (paths.data_dir() / "events.sqlite3").exists()


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--severity", "loud"], ["--since"]])
def test_events_command_bad_arguments_exit_2_with_one_line(args):
    done = subprocess.run([sys.executable, "-m", "aitbc_tui", "events", *args], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("aitbc-tui: error: events:")


async def _wait(pilot, condition, timeout: float = 5.0) -> None:
    waited = 0.0
    while not condition():
        assert waited < timeout, "condition not met in time"
        await pilot.pause(0.02)
        waited += 0.02


async def test_every_toast_is_an_event_and_e_shows_them_filtered(tmp_path):
    app = make_app(tmp_path / "sandbox")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        app.notify("kraken: something odd", severity="warning")
        app.event_log.log("x", venue="zz")  # sorts after kraken: g picks kraken first
        app.notify("a plain notice")
        await pilot.press("t")  # the theme toast
        texts = [e.text for e in app.event_log.recent]
        assert "kraken: something odd" in texts and "a plain notice" in texts
        assert any(t.startswith("theme: ") for t in texts)
        odd = next(e for e in app.event_log.recent if e.text == "kraken: something odd")
        assert (odd.severity, odd.venue, odd.kind) == ("warning", "kraken", "order")
        await pilot.press("e")
        await _wait(pilot, lambda: isinstance(app.screen, EventLogScreen))
        pane = app.screen.query_one(EventsPane)
        await _wait(pilot, lambda: any(r[-1][0] == "a plain notice" for r in pane.rows))
        await pilot.press("f")  # warnings and above
        assert [r[-1][0] for r in pane.rows] == ["kraken: something odd"]
        assert "warn and above" in pane.border_title
        await pilot.press("f", "f", "g")  # all severities, then the first venue
        first = pane._view.venues[0]
        assert pane.venue_filter == first and pane.rows and all(r[3][0] == first for r in pane.rows)
        await pilot.press("escape")
        await _wait(pilot, lambda: not isinstance(app.screen, EventLogScreen))
    stored = [e.text for e in read_events()]
    assert "kraken: something odd" in stored  # committed by the time the app closed
