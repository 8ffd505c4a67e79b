"""The canary, extended to webhooks: the live session of test_canary (canary API key and
secret in the vault, DEBUG logging, a crash screen, screenshots) runs with a webhook
subscribed to every event and a canary signing secret. Neither the API canary nor the
webhook secret may appear in a webhook body or header, the event log, a notice, a log line,
a screenshot or any file of the data dir (the queue included); the bodies are signed with
the secret all the same."""

from __future__ import annotations

import json

import pytest

from aitbc_tui.credentials import Credentials, CredentialStore
from aitbc_tui.events import read_events
from aitbc_tui.secret import Secret
from aitbc_tui.webhooks import WebhookStore
from tests.test_canary import CANARY_KEY, CANARY_SECRET, assert_no_canary, debug_log, failing_live_session, leaks
from tests.webhook_receiver import Receiver

WEBHOOK_CANARY = "whsec_CANARYHOOK3d5f7a9b1c3e5d7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d"

__all__ = ["debug_log"]  # the fixture, shared with test_canary


@pytest.fixture
async def receiver():
    found = await Receiver(WEBHOOK_CANARY).start()
    yield found
    await found.stop()


async def test_no_canary_in_webhook_bodies_or_anywhere_else(
    emulator_factory, receiver, tmp_path, monkeypatch, capfd, debug_log
):
    emu = await emulator_factory("binance", api_key=CANARY_KEY, secret=CANARY_SECRET, simulate=False, seed=9)
    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "canary-vault-passphrase")
    store = CredentialStore.open("vault", insecure_test_scrypt_n=2**4)
    store.set("emu", Credentials(api_key=CANARY_KEY, secret=CANARY_SECRET))
    hooks = WebhookStore()
    hook = hooks.add(receiver.url, "fill,alert,order,health,price")
    hooks.close()
    store.set(f"webhook-{hook.id}", Credentials(api_key=Secret("webhook"), secret=Secret(WEBHOOK_CANARY)))
    monkeypatch.delenv("AITBC_VAULT_PASSPHRASE")  # the app gets the store, not the environment

    outputs = await failing_live_session(store, "emu", emu, tmp_path)
    files = assert_no_canary(outputs, capfd, debug_log, tmp_path)
    assert any(p.name == "webhooks.sqlite3" for p in files)

    assert receiver.requests, "no webhook reached the receiver during the session"
    events = {json.loads(r["body"])["event"] for r in receiver.requests}
    assert "price" in events and "order" in events, events
    assert receiver.bad_signatures == 0 and receiver.accepted  # signed with the secret, which is not sent
    for request in receiver.requests:
        text = request["body"].decode() + json.dumps(request["headers"])
        assert leaks(text) == [] and WEBHOOK_CANARY not in text
    for e in read_events():
        assert WEBHOOK_CANARY not in e.text and not leaks(e.text)
    for text in outputs:
        assert WEBHOOK_CANARY not in text
    for path in files:
        assert WEBHOOK_CANARY.encode() not in path.read_bytes(), path
    assert WEBHOOK_CANARY not in debug_log.read_text(errors="replace")
