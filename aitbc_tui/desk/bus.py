"""Connecting to the desk's NATS server (nats-py), the same way everywhere.

A URL is ``nats://host:port`` (or ``tls://host:port``). A secret never goes in the URL (it
would show in logs and process lists): a token is passed separately, from the credential
store. Reconnects are forever; ``on_reconnect`` runs after each one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aitbc_tui.errors import UserError
from aitbc_tui.secret import Secret

log = logging.getLogger(__name__)

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
URL_SCHEMES = ("nats", "tls")


class BusError(UserError):
    """The bus cannot be used as asked (a bad URL, no nats-py); one line for the operator."""


def check_nats_url(url: str, what: str = "--nats") -> str:
    parts = urlsplit(url.strip())
    allowed = "nats://HOST:PORT or tls://HOST:PORT"
    if parts.scheme not in URL_SCHEMES or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise BusError(f"{what}: {url!r} is not allowed; use {allowed}")
    if parts.username or parts.password:
        raise BusError(
            f"{what}: put no user, password or token in the URL; store a token with `aitbc-tui keys` instead"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise BusError(f"{what}: {url!r} has an invalid port; use {allowed}") from None
    return url.strip().rstrip("/")


def _nats() -> Any:
    try:
        import nats
    except ImportError:
        raise BusError("the desk feed needs nats-py: pip install 'aitbc-tui[desk]'") from None
    return nats


LOGIN_PREFIX = "bus:"  # credential store entries of bus logins: "bus:<name>"


@dataclass(frozen=True, slots=True, repr=False)
class BusLogin:
    """A NATS user and password from the credential store; repr never shows the password."""

    name: str
    user: str
    password: Secret

    def __repr__(self) -> str:
        return f"BusLogin(name={self.name!r}, user={self.user!r}, password=<redacted>)"


def login_entry(name: str) -> str:
    return f"{LOGIN_PREFIX}{name}"


def store_login(store: Any, name: str, user: str, password: str) -> None:
    """Keep a bus login in the credential store (keyring or vault), like an API key."""
    from aitbc_tui.credentials import Credentials

    if not user or not password:
        raise BusError("a bus login needs a user and a password")
    store.set(login_entry(name), Credentials(api_key=Secret(user), secret=Secret(password)))


def load_login(name: str, store: Any = None) -> BusLogin:
    """The bus login ``name`` from the credential store; BusError (one line) if there is none."""
    from aitbc_tui.credentials import CredentialStore

    try:
        found = (store or CredentialStore.open()).get(login_entry(name))
    except Exception as exc:  # noqa: BLE001 - CredentialError, VaultError, KeyringUnavailable: readable
        raise BusError(f"cannot read bus login {name!r}: {exc}") from None
    if found is None:
        raise BusError(f"no bus login {name!r} stored; store one with `aitbc-tui bus-login set {name}`")
    return BusLogin(name, found.api_key.reveal(), found.secret)


async def connect(
    url: str,
    *,
    name: str,
    login: BusLogin | None = None,
    token: str | None = None,
    tls: Any = None,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    on_disconnect: Callable[[], Awaitable[None]] | None = None,
    reconnect_wait_s: float = 0.5,
    retry_first: bool = True,
) -> Any:
    """A connected nats-py client. With ``retry_first`` the first connection is retried with
    backoff until it succeeds (a collector started before its server waits for it)."""
    _nats()  # a clear BusError when nats-py is not installed

    async def reconnected() -> None:
        log.info("%s: reconnected to %s", name, url)
        if on_reconnect is not None:
            await on_reconnect()

    async def disconnected() -> None:
        log.warning("%s: disconnected from %s", name, url)
        if on_disconnect is not None:
            await on_disconnect()

    connecting = True
    give_up = asyncio.Event()
    why: list[BaseException] = []

    async def error(exc: Exception) -> None:
        log.warning("%s: bus error: %s", name, type(exc).__name__)
        # nats-py retries a first connection forever inside connect(), even a refused login:
        # decide here whether that is what the caller wants.
        if connecting and (_refused(exc) or not retry_first):
            why.append(exc)
            give_up.set()

    options: dict[str, Any] = dict(
        servers=[url],
        name=name,
        reconnected_cb=reconnected,
        disconnected_cb=disconnected,
        error_cb=error,
        max_reconnect_attempts=-1,
        reconnect_time_wait=reconnect_wait_s,
        connect_timeout=2,
        ping_interval=5,
        max_outstanding_pings=2,
        allow_reconnect=True,
    )
    if token is not None:
        options["token"] = token
    if login is not None:
        options["user"] = login.user
        options["password"] = login.password.reveal()
    if tls is not None:
        options["tls"] = tls
    from nats.aio.client import Client

    nc = Client()
    task = asyncio.ensure_future(nc.connect(**options))
    stop = asyncio.ensure_future(give_up.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stop.cancel()
    connecting = False
    if task.done() and not task.cancelled() and task.exception() is None:
        return nc
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    with contextlib.suppress(Exception):
        await nc.close()
    if task.done() and not task.cancelled() and task.exception() is not None and not why:
        why.append(task.exception())  # type: ignore[arg-type]
    if any(_refused(e) for e in why):
        raise BusError(f"cannot use the bus at {url}: the server refused the login")
    raise BusError(f"cannot reach the bus at {url}: {type(why[0]).__name__ if why else 'no answer'}")


def _refused(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "authorization" in text or "authentication" in text


async def ensure_stream(js: Any) -> None:
    """The stream of last values (one message per subject) exists with our subjects."""
    from nats.js.api import StorageType, StreamConfig

    from aitbc_tui.desk.wire import STREAM, STREAM_SUBJECTS

    config = StreamConfig(
        name=STREAM,
        subjects=list(STREAM_SUBJECTS),
        max_msgs_per_subject=1,
        storage=StorageType.MEMORY,
        num_replicas=1,
    )
    try:
        await js.add_stream(config)
    except Exception:  # noqa: BLE001 - exists with another config: bring it to ours
        await js.update_stream(config)


__all__ = [
    "BusError",
    "BusLogin",
    "load_login",
    "store_login",
    "DEFAULT_NATS_URL",
    "check_nats_url",
    "connect",
    "ensure_stream",
]
