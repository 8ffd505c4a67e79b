"""Alert channels beyond the app: desktop notifications and apprise (chat and push).

- Desktop: a command run per alert, from an argv template (never a shell): by default
  ``notify-send`` where the desktop offers it (``desktop = "auto"``: the command is on the
  PATH and a desktop session is there); absent on a headless machine, said once in the
  event log. ``notify_command`` sets another template (placeholders ``{title}``,
  ``{text}``, ``{severity}``, ``{urgency}``, ``{venue}``, ``{symbol}``, ``{rule}``).
- apprise: ``apprise_urls`` (ntfy, Telegram, Slack, Discord, email, json://...) through the
  optional ``apprise`` package (``pip install 'aitbc-tui[notify]'``); without it, said once.

Both run in a thread of their own (``Notifier``): an alert is handed over and the caller
never waits for a command or a service. Problems (a command that fails, apprise missing)
are said once per channel through ``on_problem``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import string
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PLACEHOLDERS = ("title", "text", "severity", "urgency", "venue", "symbol", "rule")
# "--" ends notify-send's options: an alert text that starts with "-" is text, not an option.
DEFAULT_DESKTOP = ("notify-send", "--app-name=aitbc-tui", "--urgency={urgency}", "--", "{title}", "{text}")
COMMAND_TIMEOUT_S = 5.0
URGENCY = {"information": "low", "warning": "normal", "error": "critical"}


class NotifyConfigError(ValueError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    desktop: str = "auto"  # "auto", "on" or "off"
    command: tuple[str, ...] = ()  # argv template; () = DEFAULT_DESKTOP
    apprise_urls: tuple[str, ...] = ()

    @property
    def template(self) -> tuple[str, ...]:
        return self.command or DEFAULT_DESKTOP


def parse_command(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise NotifyConfigError(key, 'must be a list of strings, e.g. ["notify-send", "{title}", "{text}"]')
    for part in value:
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(part) if name is not None]
        except ValueError as exc:
            raise NotifyConfigError(key, f"{part!r}: {exc}") from None
        bad = [name for name in fields if name not in PLACEHOLDERS]
        if bad:
            raise NotifyConfigError(key, f"{part!r}: unknown placeholder {{{bad[0]}}}; use {', '.join(PLACEHOLDERS)}")
    return tuple(value)


def parse_notify(table: Mapping[str, Any], prefix: str = "alerts") -> NotifyConfig:
    desktop = table.get("desktop", "auto")
    if desktop is True or desktop is False:
        desktop = "on" if desktop else "off"
    if desktop not in ("auto", "on", "off"):
        raise NotifyConfigError(f"{prefix}.desktop", f'{desktop!r} is not allowed; use "auto", true or false')
    command = parse_command(table["notify_command"], f"{prefix}.notify_command") if "notify_command" in table else ()
    urls = table.get("apprise_urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) and "://" in u for u in urls):
        raise NotifyConfigError(f"{prefix}.apprise_urls", 'must be a list of apprise URLs, e.g. ["ntfy://topic"]')
    return NotifyConfig(desktop, command, tuple(urls))


def desktop_available(environ: Mapping[str, str] | None = None) -> str:
    """Why the default desktop command cannot run here, or "" when it can."""
    environ = os.environ if environ is None else environ
    if not shutil.which(DEFAULT_DESKTOP[0], path=environ.get("PATH")):
        return "notify-send is not installed (Debian: libnotify-bin)"
    if not any(environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")):
        return "no desktop session (no DISPLAY, WAYLAND_DISPLAY or DBUS_SESSION_BUS_ADDRESS)"
    return ""


def fill_template(template: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The argv for one alert: each placeholder replaced by its value, as one argument
    each (nothing is parsed by a shell; a value's own braces stay as they are)."""
    return [part.format_map(values) for part in template]


def alert_values(alert: Any) -> dict[str, str]:
    from aitbc_tui.sanitize import plain_text

    return {
        "title": f"aitbc-tui alert: {alert.rule_id}",
        "text": plain_text(alert.text, 1000),
        "severity": alert.severity,
        "urgency": URGENCY.get(alert.severity, "normal"),
        "venue": alert.venue,
        "symbol": alert.symbol,
        "rule": alert.rule_id,
    }


class Notifier:
    """Hands each alert to the configured channels in a thread of its own."""

    def __init__(self, config: NotifyConfig, *, on_problem: Callable[[str], None] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.config = config
        self.on_problem = on_problem
        self.sent: dict[str, int] = {"desktop": 0, "apprise": 0}
        self.handled = 0  # alerts the thread has been through (sent or not)
        self.startup_notes: list[tuple[str, str]] = []  # (severity, text): the caller says them once
        self._said: set[str] = set()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._apprise: Any = None
        self.desktop: tuple[str, ...] = ()
        if config.command:
            self.desktop = config.template
        elif config.desktop != "off":
            why = desktop_available(environ)
            if not why:
                self.desktop = config.template
            elif config.desktop == "on":
                self.startup_notes.append(
                    ("warning", f"desktop notifications are on in the config but cannot run: {why}")
                )
            else:
                self.startup_notes.append(("information", f"desktop notifications not used: {why}"))

    @property
    def channels(self) -> list[str]:
        return (["desktop"] if self.desktop else []) + (["apprise"] if self.config.apprise_urls else [])

    def _say(self, text: str, once: str | None = None) -> None:
        if once is not None:
            if once in self._said:
                return
            self._said.add(once)
        if self.on_problem is not None:
            with contextlib.suppress(Exception):
                self.on_problem(text)

    def alert(self, alert: Any, apprise_urls: Sequence[str] = ()) -> None:
        """Hand ``alert`` over (never waits); ``apprise_urls``: its rule's own, beside the config's."""
        urls = tuple(dict.fromkeys((*self.config.apprise_urls, *apprise_urls)))
        if not self.desktop and not urls:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alert-notifier", daemon=True)
            self._thread.start()
        self._queue.put((alert_values(alert), urls))

    def stop(self, timeout: float = COMMAND_TIMEOUT_S) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            values, urls = item
            if self.desktop:
                self._desktop(values)
            if urls:
                self._apprise_notify(values, urls)
            self.handled += 1

    def _desktop(self, values: Mapping[str, str]) -> None:
        argv = fill_template(self.desktop, values)
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  timeout=COMMAND_TIMEOUT_S, check=False)  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            self._say(f"desktop notification failed: {argv[0]}: {type(exc).__name__}: {exc}", once="desktop")
            return
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            self._say(f"desktop notification failed: {argv[0]} exited {done.returncode}"
                      + (f": {err[-1][:200]}" if err else ""), once="desktop")  # fmt: skip
            return
        self.sent["desktop"] += 1

    def _apprise_notify(self, values: Mapping[str, str], urls: tuple[str, ...]) -> None:
        if self._apprise is None:
            try:
                import apprise  # type: ignore[import-not-found, unused-ignore]
            except ImportError:
                self._say("apprise_urls are set but apprise is not installed: pip install 'aitbc-tui[notify]'",
                          once="apprise")  # fmt: skip
                self._apprise = False
                return
            self._apprise = apprise
            self._clients: dict[tuple[str, ...], Any] = {}
        if self._apprise is False:
            return
        client = self._clients.get(urls)
        if client is None:
            client = self._clients[urls] = self._apprise.Apprise()
            for number, url in enumerate(urls, 1):
                if not client.add(url):  # the URL itself is never said: it may hold a token
                    self._say(f"apprise refused an apprise URL (number {number} of this alert's)", once=f"url-{url}")
        try:
            ok = client.notify(title=values["title"], body=values["text"])
        except Exception as exc:  # noqa: BLE001 - a channel's failure never stops the others
            ok = False
            self._say(f"apprise notification failed: {type(exc).__name__}", once="apprise-send")
        if ok:
            self.sent["apprise"] += 1
        else:
            self._say("apprise notification failed (see apprise's log)", once="apprise-send")
