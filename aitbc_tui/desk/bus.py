"""Connecting to the desk's NATS server (nats-py), the same way everywhere.

A URL is ``nats://host:port`` (or ``tls://host:port``). A secret never goes in the URL (it
would show in logs and process lists): a token is passed separately, from the credential
store. Reconnects are forever; ``on_reconnect`` runs after each one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aitbc_tui.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
URL_SCHEMES = ("nats", "tls")
CONNECT_RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)


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


async def connect(
    url: str,
    *,
    name: str,
    token: str | None = None,
    tls: Any = None,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    on_disconnect: Callable[[], Awaitable[None]] | None = None,
    reconnect_wait_s: float = 0.5,
    retry_first: bool = True,
) -> Any:
    """A connected nats-py client. With ``retry_first`` the first connection is retried with
    backoff until it succeeds (a collector started before its server waits for it)."""
    nats = _nats()

    async def reconnected() -> None:
        log.info("%s: reconnected to %s", name, url)
        if on_reconnect is not None:
            await on_reconnect()

    async def disconnected() -> None:
        log.warning("%s: disconnected from %s", name, url)
        if on_disconnect is not None:
            await on_disconnect()

    async def error(exc: Exception) -> None:
        log.warning("%s: bus error: %s", name, type(exc).__name__)

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
    if tls is not None:
        options["tls"] = tls
    attempt = 0
    while True:
        try:
            return await nats.connect(**options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - NoServersError, OSError, timeouts
            if not retry_first:
                raise BusError(f"cannot reach the bus at {url}: {type(exc).__name__}") from None
            wait = CONNECT_RETRY_S[min(attempt, len(CONNECT_RETRY_S) - 1)]
            log.warning("%s: cannot reach %s (%s); retry in %g s", name, url, type(exc).__name__, wait)
            attempt += 1
            await asyncio.sleep(wait)


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


__all__ = ["BusError", "DEFAULT_NATS_URL", "check_nats_url", "connect", "ensure_stream"]
