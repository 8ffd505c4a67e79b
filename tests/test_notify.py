"""Desktop notifications and apprise (aitbc_tui.notify): the command template (pointed at a
script that records its argv, as notify-send would get it), absent on a headless machine
with one event-log notice and no toast, failures said once, the config strict; and the
dashboard running the command when an alert fires in the sandbox."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from aitbc_tui.alerts import Alert, RuleError, parse_alerts
from aitbc_tui.notify import DEFAULT_DESKTOP, Notifier, NotifyConfig, desktop_available, parse_notify
from tests.apptools import make_app, wait_ready, wait_until

RECORDER = "import json, sys\nwith open(sys.argv[1], 'a') as f:\n    f.write(json.dumps(sys.argv[2:]) + '\\n')\n"


@pytest.fixture
def recorder(tmp_path):
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    out = tmp_path / "argv.ndjson"

    def calls() -> list[list[str]]:
        return [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []

    return [sys.executable, str(script), str(out)], calls


def alert(text: str, severity: str = "warning") -> Alert:
    return Alert("btc-100k", 0.0, "price_above", "binance", "BTC/USDT", text, severity)


async def test_the_command_gets_each_value_as_one_argument_never_through_a_shell(recorder):
    command, calls = recorder
    notifier = Notifier(NotifyConfig(command=(*command, "{title}", "{text}", "{urgency}", "{venue}/{symbol}")))
    assert notifier.channels == ["desktop"]
    notifier.alert(alert("-u critical $(touch /tmp/x) {level} `id`; done", "error"))
    notifier.alert(alert("second"))
    await wait_until(lambda: len(calls()) == 2)
    notifier.stop()
    assert calls() == [
        ["aitbc-tui alert: btc-100k", "-u critical $(touch /tmp/x) {level} `id`; done", "critical", "binance/BTC/USDT"],
        ["aitbc-tui alert: btc-100k", "second", "normal", "binance/BTC/USDT"],
    ]
    assert notifier.sent["desktop"] == 2


async def test_a_failing_command_is_said_once(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import sys\nsys.stderr.write('no bus\\n')\nsys.exit(3)\n")
    problems: list[str] = []
    notifier = Notifier(NotifyConfig(command=(sys.executable, str(script), "{text}")), on_problem=problems.append)
    for n in range(3):
        notifier.alert(alert(f"a{n}"))
    await wait_until(lambda: notifier.handled == 3, what="the three commands")
    notifier.stop()
    assert problems == [f"desktop notification failed: {sys.executable} exited 3: no bus"]
    assert notifier.sent["desktop"] == 0


def test_desktop_auto_needs_the_command_and_a_desktop_session(tmp_path):
    assert desktop_available({"PATH": str(tmp_path)}) == "notify-send is not installed (Debian: libnotify-bin)"
    fake = tmp_path / "notify-send"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert desktop_available({"PATH": str(tmp_path)}).startswith("no desktop session")
    assert desktop_available({"PATH": str(tmp_path), "WAYLAND_DISPLAY": "wayland-0"}) == ""
    headless = Notifier(NotifyConfig(), environ={"PATH": str(tmp_path)})
    assert headless.channels == [] and headless.startup_notes == [
        ("information", "desktop notifications not used: no desktop session (no DISPLAY, WAYLAND_DISPLAY or "
                        "DBUS_SESSION_BUS_ADDRESS)")]  # fmt: skip
    asked = Notifier(NotifyConfig(desktop="on"), environ={"PATH": str(tmp_path)})
    assert asked.startup_notes[0][0] == "warning"
    desk = Notifier(NotifyConfig(), environ={"PATH": str(tmp_path), "DISPLAY": ":0"})
    assert desk.desktop == DEFAULT_DESKTOP and "--" in DEFAULT_DESKTOP  # a text starting with "-" is not an option
    assert Notifier(NotifyConfig(desktop="off"), environ={"PATH": str(tmp_path), "DISPLAY": ":0"}).channels == []


async def test_apprise_missing_is_said_once(monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)  # as where the [notify] extra is not installed
    problems: list[str] = []
    notifier = Notifier(NotifyConfig(desktop="off", apprise_urls=("json://127.0.0.1:9/x",)),
                        on_problem=problems.append)  # fmt: skip
    notifier.alert(alert("one"))
    notifier.alert(alert("two"))
    await wait_until(lambda: notifier.handled == 2)
    notifier.stop()
    assert problems == ["apprise_urls are set but apprise is not installed: pip install 'aitbc-tui[notify]'"]


@pytest.mark.parametrize(
    "table, message",
    [
        ({"desktop": "yes"}, "alerts.desktop: 'yes' is not allowed"),
        ({"notify_command": "notify-send"}, "alerts.notify_command: must be a list of strings"),
        ({"notify_command": ["x", "{body}"]}, "alerts.notify_command: '{body}': unknown placeholder {body}"),
        ({"notify_command": ["x", "{text"]}, "alerts.notify_command: '{text':"),
        ({"apprise_urls": ["not a url"]}, "alerts.apprise_urls: must be a list of apprise URLs"),
    ],
)
def test_the_notify_settings_are_strict(table, message):
    with pytest.raises(RuleError) as info:
        parse_alerts(table)
    assert str(info.value).startswith(message)


def test_notify_settings_parse():
    config = parse_notify({"desktop": False, "notify_command": ["notify-send", "{title}", "{text}"]})
    assert config == NotifyConfig("off", ("notify-send", "{title}", "{text}"), ())
    assert parse_alerts({"apprise_urls": ["ntfy://alerts"]}).notify.apprise_urls == ("ntfy://alerts",)


async def test_the_dashboard_runs_the_command_when_an_alert_fires(tmp_path, recorder):
    command, calls = recorder
    alerts = parse_alerts({"notify_command": [*command, "{title}", "{text}", "{severity}"],
                           "rules": [{"id": "wide", "kind": "spread_above", "venue": "binance", "symbol": "BTC/USDT",
                                      "bps": "0"}]})  # fmt: skip
    app = make_app(tmp_path / "sandbox", config=SimpleNamespace(alerts=alerts))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: calls(), what="the notification command")
        [fired] = [a for a in app.alerts_fired if a.rule_id == "wide"]
    assert calls() == [["aitbc-tui alert: wide", fired.text, "warning"]]


async def test_a_headless_dashboard_says_it_once_in_the_event_log_not_as_a_toast(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no notify-send here
    monkeypatch.delenv("DISPLAY", raising=False)
    app = make_app(tmp_path / "sandbox")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        notes = [e.text for e in app.event_log.recent if "desktop notifications" in e.text]
        assert notes == ["desktop notifications not used: notify-send is not installed (Debian: libnotify-bin)"]
        assert not any("desktop" in n.message for n in app.notices)


async def test_apprise_posts_the_alert_to_a_json_url_on_loopback(loopback_only):
    pytest.importorskip("apprise")  # the [notify] extra (in the test extra too)
    from aiohttp import web

    received: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/notify", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    problems: list[str] = []
    notifier = Notifier(NotifyConfig(desktop="off", apprise_urls=(f"json://127.0.0.1:{port}/notify",)),
                        on_problem=problems.append)  # fmt: skip
    try:
        notifier.alert(alert("binance BTC/USDT: mid 100000 crossed above 100000", "error"))
        await wait_until(lambda: received or problems, what="apprise's POST")
        # A rule's own URL, beside the config's: both get the next one.
        notifier.alert(alert("second"), (f"json://127.0.0.1:{port}/notify?rule=1",))
        await wait_until(lambda: len(received) == 3 or problems, what="apprise's POSTs to both URLs")
    finally:
        notifier.stop()
        await runner.cleanup()
    assert problems == []
    body = received[0]
    assert (body["title"], body["message"]) == ("aitbc-tui alert: btc-100k",
                                                "binance BTC/USDT: mid 100000 crossed above 100000")  # fmt: skip
    assert [b["message"] for b in received[1:]] == ["second", "second"]
    assert notifier.sent["apprise"] == 2  # one notify call per alert


def test_per_rule_channels_parse_store_and_list_without_the_url(capsys):
    from aitbc_tui.alerts import parse_rule
    from aitbc_tui.cli import main

    rule = parse_rule({"kind": "fill", "notify": False, "apprise_urls": ["ntfy://desk"]}, default_id="f")
    assert (rule.notify, rule.apprise_urls) == (False, ("ntfy://desk",))
    with pytest.raises(RuleError, match=r"^notify: 'no' is not allowed; use true or false"):
        parse_rule({"kind": "fill", "notify": "no"}, default_id="f")
    with pytest.raises(RuleError, match=r"^apprise_urls: must be a list of apprise URLs"):
        parse_rule({"kind": "fill", "apprise_urls": "ntfy://desk"}, default_id="f")
    assert main(["alerts", "add", "--kind", "fill", "--no-notify", "--apprise-url", "tgram://123:SECRETTOKEN/456",
                 "--json"]) == 0  # fmt: skip
    row = json.loads(capsys.readouterr().out)
    assert (row["notify"], row["apprise_urls"]) == (False, ["tgram://…"])  # the token is not printed
    from aitbc_tui.alert_store import AlertStore

    store = AlertStore()
    [stored] = store.runtime_rules()
    store.close()
    assert stored.apprise_urls == ("tgram://123:SECRETTOKEN/456",) and stored.notify is False


async def test_a_rule_with_notify_false_is_not_sent_to_the_desktop(tmp_path, recorder):
    from aitbc_tui.alert_runner import AlertRunner
    from aitbc_tui.alerts import AlertsConfig, parse_rule
    from aitbc_tui.delivery import WebhookDispatcher

    command, calls = recorder
    rules = [parse_rule({"kind": "fill"}, default_id="loud"), parse_rule({"kind": "fill", "notify": False},
                                                                          default_id="quiet")]  # fmt: skip
    notifier = Notifier(NotifyConfig(command=(*command, "{rule}")))
    runner = AlertRunner(None, AlertsConfig(), rules, clock=lambda: 0.0, notifier=notifier,
                         webhooks=WebhookDispatcher(lambda _: None, path=tmp_path / "none.sqlite3"))  # fmt: skip
    runner.deliver([Alert("quiet", 0.0, "fill", "binance", "BTC/USDT", "q"),
                    Alert("loud", 0.0, "fill", "binance", "BTC/USDT", "l")])  # fmt: skip
    await wait_until(lambda: notifier.handled == 1, what="the one alert the notifier got")
    notifier.stop()
    assert calls() == [["loud"]]
