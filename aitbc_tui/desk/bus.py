"""Connecting to the desk's NATS server (nats-py), the same way everywhere.

A URL is ``nats://host:port`` (or ``tls://host:port``). A secret never goes in the URL (it
would show in logs and process lists): a token is passed separately, from the credential
store. Reconnects are forever; ``on_reconnect`` runs after each one.

TLS: a ``tls://`` URL or TLS options (``BusTls``: the desk's CA file, a client certificate and
key for servers that verify clients) make the connection TLS-only: a server that does not
require TLS is refused before the CONNECT (which carries the login) is sent, and so is a
server whose certificate the CA (or, without one, the system's CAs) does not vouch for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
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


@dataclass(frozen=True, slots=True)
class BusTls:
    """TLS options for the bus: ``ca_file`` (PEM) the desk's CA (default: the system's CAs);
    ``cert_file`` and ``key_file`` (PEM, both or neither) a client certificate for a server
    that verifies its clients (``verify: true``)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def given(self) -> bool:
        return any(f is not None for f in (self.ca_file, self.cert_file, self.key_file))


class TlsFileError(BusError):
    """A TLS option names a file that is missing or is not what it should be; ``option`` is
    which one: "ca", "cert" or "key"; ``problem`` the message without the option's name."""

    def __init__(self, what: str, option: str, problem: str) -> None:
        super().__init__(f"{what}-{option}: {problem}")
        self.option = option
        self.problem = problem


def tls_context(tls: BusTls, what: str = "--tls") -> ssl.SSLContext:
    """A client SSL context for ``tls``; TlsFileError (one line, naming the file) when a file
    is missing, unreadable or not PEM of the right kind."""
    if (tls.cert_file is None) != (tls.key_file is None):
        missing = "key" if tls.key_file is None else "cert"
        raise TlsFileError(what, missing, "a client certificate needs both its certificate and its key file")
    for option, f in (("ca", tls.ca_file), ("cert", tls.cert_file), ("key", tls.key_file)):
        if f is not None and not Path(f).is_file():
            raise TlsFileError(what, option, f"{f}: no such file")
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file is not None else None)
    except (ssl.SSLError, OSError) as exc:
        raise TlsFileError(what, "ca", f"{tls.ca_file}: not a CA certificate file (PEM): {_ssl_reason(exc)}") from None
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        except (ssl.SSLError, OSError) as exc:
            raise TlsFileError(
                what,
                "cert",
                f"{tls.cert_file} with {tls.key_file}: not a certificate and its key (PEM): {_ssl_reason(exc)}",
            ) from None
    return context


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    return str(reason or type(exc).__name__)


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
    tls: BusTls | ssl.SSLContext | None = None,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    on_disconnect: Callable[[], Awaitable[None]] | None = None,
    reconnect_wait_s: float = 0.5,
    retry_first: bool = True,
) -> Any:
    """A connected nats-py client. With ``retry_first`` the first connection is retried with
    backoff until it succeeds (a collector started before its server waits for it); a refused
    login or a TLS failure is never retried."""
    _nats()  # a clear BusError when nats-py is not installed
    if isinstance(tls, BusTls):
        context = tls_context(tls) if tls.given else None
    else:
        context = tls
    secure = context is not None or url.startswith("tls://")
    if secure and context is None:
        context = ssl.create_default_context()  # the system's CAs

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

    resets = 0

    async def error(exc: Exception) -> None:
        nonlocal resets
        if connecting and secure and isinstance(exc, ConnectionResetError | BrokenPipeError) and resets < 3:
            # A server that refuses our certificate may drop the connection before its TLS
            # alert is read: try again to read the alert (three times at most).
            resets += 1
            log.debug("%s: connection dropped during TLS setup (%s)", name, type(exc).__name__)
            return
        # nats-py retries a first connection forever inside connect(), even a refused login:
        # decide here whether that is what the caller wants.
        if connecting and (_refused(exc) or _tls_failed(exc) or not retry_first):
            log.debug("%s: bus error: %s", name, type(exc).__name__)  # the BusError raised says it
            why.append(exc)
            give_up.set()
        else:
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
    if login is not None:
        options["user"] = login.user
        options["password"] = login.password.reveal()
    if context is not None:
        options["tls"] = context
    nc = _client(secure)
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
        why.append(task.exception())
    if any(_refused(e) for e in why):
        raise BusError(f"cannot use the bus at {url}: the server refused the login")
    failed = next((e for e in why if _tls_failed(e)), None)
    if failed is not None:
        raise BusError(f"cannot use the bus at {url}: {_tls_problem(failed)}")
    what = type(why[0]).__name__ if why else "no answer"
    if secure and why and isinstance(why[0], ConnectionResetError | BrokenPipeError):
        raise BusError(
            f"cannot use the bus at {url}: the server dropped the TLS connection ({what}); a server that verifies "
            "clients needs a client certificate (--tls-cert and --tls-key, or tls_cert and tls_key in a feed "
            "venue's config)"
        )
    raise BusError(f"cannot reach the bus at {url}: {what}")


def _client(secure: bool) -> Any:
    """A nats-py client; ``secure``: one that refuses a server not requiring TLS.

    nats-py upgrades to TLS only when the server's INFO says ``tls_required``, whatever the
    URL's scheme: a plain server (or anything posing as the desk's) would get the CONNECT,
    login included, in clear text. The check sits where nats-py reads INFO, before CONNECT."""
    from nats.aio.client import Client
    from nats.errors import SecureConnWantedError

    if not secure:
        return Client()

    class _TlsOnlyClient(Client):
        async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
            if initial_connection and not info.get("tls_required"):
                raise SecureConnWantedError()
            await super()._process_info(info, initial_connection=initial_connection)

    return _TlsOnlyClient()


def _tls_failed(exc: BaseException) -> bool:
    from nats.errors import SecureConnWantedError

    return isinstance(exc, ssl.SSLError | SecureConnWantedError)


def _tls_problem(exc: BaseException) -> str:
    from nats.errors import SecureConnWantedError

    if isinstance(exc, SecureConnWantedError):
        return "the server does not require TLS (asked for with a tls:// URL or TLS options); nothing was sent"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the server's TLS certificate is not trusted ({_ssl_reason(exc)}); "
            "name the desk's CA file (--tls-ca FILE, or tls_ca in a feed venue's config)"
        )
    return (
        f"the TLS handshake failed ({_ssl_reason(exc)}); a server that verifies clients needs a client "
        "certificate (--tls-cert and --tls-key, or tls_cert and tls_key in a feed venue's config)"
    )


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
    "BusTls",
    "TlsFileError",
    "tls_context",
    "load_login",
    "store_login",
    "DEFAULT_NATS_URL",
    "check_nats_url",
    "connect",
    "ensure_stream",
]
