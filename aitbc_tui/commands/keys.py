"""`keys set|list|delete|test`: manage exchange API credentials.

Keys go to the OS keyring when it is a secure one, else to the encrypted vault (see
``aitbc_tui.credentials``). Values are read with echo off and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import inspect
import sys
from collections.abc import Awaitable
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser(
        "keys",
        help="store, list, delete and test exchange API keys (OS keyring or encrypted vault)",
        description="Exchange API keys live in the OS keyring when it is a secure one "
        "(Secret Service, Keychain, Windows Credential Locker, KWallet), otherwise in an "
        "encrypted vault file protected by a passphrase (AITBC_VAULT_PASSPHRASE, weaker, "
        "skips the prompt).",
    )
    actions = keys.add_subparsers(dest="keys_action", metavar="ACTION", required=True)

    def store_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--store",
            choices=("auto", "keyring", "vault"),
            default="auto",
            help="where keys live: auto (secure OS keyring, else vault; default), keyring or vault",
        )

    set_ = actions.add_parser("set", help="store a venue's API key (prompts without echo)")
    set_.add_argument("venue", help="venue name as in the config, e.g. binance")
    set_.add_argument("--read-only", action="store_true", help="mark the key as read-only (no trading)")
    set_.add_argument(
        "--exchange",
        metavar="ID",
        help="ccxt exchange id when the venue name is not one (decides whether a passphrase is asked for)",
    )
    store_option(set_)

    list_ = actions.add_parser("list", help="list stored keys (masked)")
    store_option(list_)

    delete = actions.add_parser("delete", help="delete a venue's stored key")
    delete.add_argument("venue")
    store_option(delete)

    test = actions.add_parser("test", help="make one authenticated call with a venue's key")
    test.add_argument("venue")
    # SUPPRESS: do not overwrite a --config given before the subcommand.
    test.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="venues config (TOML)")
    store_option(test)

    keys.set_defaults(func=run)


def _error(message: str, code: int = EXIT_FAILED) -> int:
    print(f"aitbc-tui keys: error: {message}", file=sys.stderr)
    return code


def _open_store(args: argparse.Namespace) -> Any:
    from aitbc_tui.credentials import CredentialStore

    return CredentialStore.open(args.store)


def _exchange_for(args: argparse.Namespace) -> str:
    if getattr(args, "exchange", None):
        return args.exchange
    try:
        from aitbc_tui.config import load_config

        venue = load_config(getattr(args, "config", None)).venue(args.venue)
    except Exception:  # no usable config: the venue name is the exchange id
        venue = None
    return venue.exchange if venue is not None else args.venue


def _ask(prompt: str) -> str:
    return getpass.getpass(prompt).strip()


def run(args: argparse.Namespace) -> int:
    from aitbc_tui.credentials import CredentialError, validate_venue_name

    action = args.keys_action
    try:
        if action != "list":
            try:
                validate_venue_name(args.venue)
            except CredentialError as exc:
                return _error(str(exc), EXIT_USAGE)
        if action == "set":
            return _set(args)
        if action == "list":
            return _list(args)
        if action == "delete":
            return _delete(args)
        if action == "test":
            return _test(args)
        return _error(f"unknown action {action!r}", EXIT_USAGE)
    except CredentialError as exc:
        return _error(str(exc))
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return _error("cancelled; nothing was stored")


def _set(args: argparse.Namespace) -> int:
    from aitbc_tui.credentials import Credentials, needs_passphrase
    from aitbc_tui.secret import Secret

    exchange = _exchange_for(args)
    store = _open_store(args)  # before the prompts: a refused keyring fails fast
    api_key = Secret(_ask(f"{args.venue} API key: "))
    if not api_key:
        return _error("the API key must not be empty", EXIT_USAGE)
    secret = Secret(_ask(f"{args.venue} API secret: "))
    if not secret:
        return _error("the API secret must not be empty", EXIT_USAGE)
    passphrase = None
    if needs_passphrase(exchange):
        passphrase = Secret(_ask(f"{args.venue} API passphrase ({exchange} keys have one): "))
        if not passphrase:
            return _error(f"{exchange} API keys need their passphrase", EXIT_USAGE)
    creds = Credentials(api_key, secret, passphrase, read_only=args.read_only)
    replaced = store.get(args.venue) is not None
    store.set(args.venue, creds)
    verb = "replaced" if replaced else "stored"
    access = "read-only" if args.read_only else "trading"
    print(f"{verb} {access} key {creds.masked_key()} for {args.venue} in {store.description}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    store = _open_store(args)
    entries = store.list()
    if not entries:
        print(f"no keys stored in {store.description}")
        return EXIT_OK
    rows = [("VENUE", "STORE", "KEY", "ACCESS")]
    rows += [(e.venue, e.store_name, e.masked_key, "read-only" if e.read_only else "trading") for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    store = _open_store(args)
    if not store.delete(args.venue):
        return _error(f"no key stored for {args.venue}")
    print(f"deleted the key for {args.venue}")
    return EXIT_OK


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    """asyncio.run takes a coroutine; the probe may return any awaitable."""
    return await awaitable


def _load_probe() -> Any:
    try:
        from aitbc_tui.venues import factory
    except ImportError:
        return None
    return getattr(factory, "authenticated_probe", None)


def _test(args: argparse.Namespace) -> int:
    probe = _load_probe()
    if probe is None:
        return _error("keys test needs a configured exchange venue", EXIT_USAGE)
    store = _open_store(args)
    creds = store.get(args.venue)
    if creds is None:
        return _error(f"no key stored for {args.venue}; run: aitbc-tui keys set {args.venue}", EXIT_USAGE)
    kwargs: dict[str, Any] = {}
    try:
        wants_config = "config" in inspect.signature(probe).parameters
    except (TypeError, ValueError):
        wants_config = False
    if wants_config:
        # The probe gets the loaded config (--config FILE, else the default file).
        from aitbc_tui.config import ConfigError, load_config

        try:
            kwargs["config"] = load_config(getattr(args, "config", None))
        except ConfigError as exc:
            return _error(str(exc), EXIT_USAGE)
    try:
        result = probe(args.venue, creds, **kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
    except Exception as exc:  # the probe's message is for the operator; no traceback
        if type(exc).__name__ == "ConfigError":  # venue not configured: a usage problem
            return _error(str(exc), EXIT_USAGE)
        message = str(exc)
        if message.startswith(f"{args.venue}: "):  # venue errors name the venue already
            message = message[len(args.venue) + 2 :]
        return _error(f"{args.venue}: authenticated call failed: {message}")
    print(f"{args.venue}: key {creds.masked_key()} works ({float(result):.0f} ms)")
    return EXIT_OK
