"""`webhook add URL --events fill,alert,order,health | list | remove ID | test ID [--json]`.

The hook's signing secret is made here, stored like an API key (the OS keyring when it is
a secure one, else the vault; under ``webhook-<id>``), printed once by `add` so the
receiver can be configured, and never written to the config or the queue.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys

from aitbc_tui.commands.journal import _OneLineParser
from aitbc_tui.sanitize import plain_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("webhook", help="add, list, remove or test webhooks (signed JSON POSTs)")
    p.__class__ = _OneLineParser
    p.add_argument("--store", choices=("auto", "keyring", "vault"), default="auto",
                   help="where the signing secret is kept (as for `keys`)")  # fmt: skip
    actions = p.add_subparsers(dest="webhook_command", metavar="add|list|remove|test", required=True)
    add = actions.add_parser("add", help="subscribe URL to events")
    add.add_argument("url", metavar="URL")
    add.add_argument("--events", required=True, help="comma list of fill, alert, order, health, price")
    add.set_defaults(func=run_add)
    lst = actions.add_parser("list", help="every webhook")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=run_list)
    for name, func in (("remove", run_remove), ("test", run_test)):
        one = actions.add_parser(name, help=f"{name} webhook ID")
        one.add_argument("hook_id", metavar="ID", type=int)
        one.set_defaults(func=func)
    for parser in actions.choices.values():
        parser.__class__ = _OneLineParser


def _store():
    from aitbc_tui.webhooks import WebhookStore

    return WebhookStore()


def _credentials(args):
    from aitbc_tui.credentials import CredentialStore

    return CredentialStore.open(args.store)


def run_add(args: argparse.Namespace) -> int:
    from aitbc_tui.credentials import Credentials
    from aitbc_tui.secret import Secret
    from aitbc_tui.webhooks import secret_name

    store = _store()
    hook = store.add(args.url, args.events)
    secret = "whsec_" + secrets.token_urlsafe(32)
    try:
        _credentials(args).set(secret_name(hook.id), Credentials(api_key=Secret("webhook"), secret=Secret(secret)))
    except BaseException:
        store.remove(hook.id)  # no hook without its secret
        store.close()
        raise
    store.close()
    print(f"added webhook {hook.id}: {plain_text(hook.url, 300)} ({', '.join(hook.events)})")
    print(f"signing secret (shown once; stored in the credential store as {secret_name(hook.id)}): {secret}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = _store()
    hooks = store.hooks()
    counts = store.queue_counts()
    errors = {h.id: store.last_error(h.id) for h in hooks}
    store.close()
    empty = {"delivered": 0, "pending": 0, "failed": 0}
    if args.json:
        json.dump([{"id": h.id, "url": h.url, "events": list(h.events), "queue": counts.get(h.id, empty),
                    "last_error": errors[h.id]} for h in hooks], sys.stdout, indent=2)  # fmt: skip
        sys.stdout.write("\n")
    elif not hooks:
        print("no webhooks")
    for h in hooks if not args.json else ():
        queue = counts.get(h.id, empty)
        said = f"delivered {queue['delivered']}, pending {queue['pending']}, failed {queue['failed']}"
        error = f"; last problem: {plain_text(errors[h.id], 200)}" if errors[h.id] else ""
        print(f"{h.id}  {plain_text(h.url, 300)}  {','.join(h.events)}  ({said}{error})")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from aitbc_tui.webhooks import secret_name

    store = _store()
    try:
        store.remove(args.hook_id)
    finally:
        store.close()
    _credentials(args).delete(secret_name(args.hook_id))
    print(f"removed webhook {args.hook_id}")
    return 0


def run_test(args: argparse.Namespace) -> int:
    """Queue a `test` event for the hook and try it once now; exit 0 delivered, 2 not."""
    import asyncio

    from aitbc_tui.webhooks import Deliverer, secret_name

    store = _store()
    creds = _credentials(args)
    try:
        store.hook(args.hook_id)
        store.enqueue("test", {"message": "aitbc-tui webhook test"}, hook_ids=[args.hook_id])

        def secret_for(hook_id: int):
            found = creds.get(secret_name(hook_id))
            return found.secret if found is not None else ""

        async def once():
            import aiohttp

            async with aiohttp.ClientSession() as session:
                return await Deliverer(store, secret_for).deliver_due(session)

        outcomes = [o for o in asyncio.run(once()) if o.hook_id == args.hook_id and o.event == "test"]
    finally:
        store.close()
    outcome = outcomes[-1] if outcomes else None
    print(f"webhook {args.hook_id}: {outcome.result}: {outcome.detail}" if outcome else "nothing was due")
    return 0 if outcome is not None and outcome.result == "delivered" else 2
