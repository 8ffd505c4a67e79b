"""Webhooks against a real aiohttp receiver on 127.0.0.1: payload and HMAC signature,
retry with backoff on 500, none on 400, delivery after a restart from the persisted queue,
one idempotency key per delivery across retries, outcomes in the event log."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import aiohttp
import pytest
from aiohttp import web

from aitbc_tui.events import EventLog
from aitbc_tui.webhooks import Deliverer, WebhookError, WebhookStore, backoff_s, check_events, log_outcome

SECRET = "whsec-test-5f2a9c"


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def receiver():
    """Answers with the next status in ``statuses`` (then 200); records every request."""
    seen: list[dict] = []
    statuses: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append({"body": body, "headers": dict(request.headers)})
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/hook", seen, statuses
    await runner.cleanup()


async def test_payload_and_signature(receiver, tmp_path):
    url, seen, _ = receiver
    clock = Clock()
    store = WebhookStore(tmp_path / "wh.sqlite3", clock=clock)
    hook = store.add(url, "fill,alert")
    assert store.enqueue("order", {"x": 1}) == []  # not subscribed
    [delivery_id] = store.enqueue("fill", {"venue": "binance", "symbol": "BTC/USDT", "amount": "0.1"})
    log = EventLog(persist=False)
    deliverer = Deliverer(store, {hook.id: SECRET}.get, on_outcome=log_outcome(log, lambda i: url))
    async with aiohttp.ClientSession() as session:
        [outcome] = await deliverer.deliver_due(session)
    assert (outcome.result, outcome.detail) == ("delivered", "HTTP 200")
    [request] = seen
    assert json.loads(request["body"]) == {
        "event": "fill",
        "timestamp": "2026-11-18T11:06:40.000Z",
        "data": {"venue": "binance", "symbol": "BTC/USDT", "amount": "0.1"},
    }
    expected = "sha256=" + hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-AITBC-Signature"] == expected
    assert request["headers"]["X-AITBC-Event"] == "fill"
    assert store.status(delivery_id)[0] == "delivered"
    [event] = log.recent
    assert event.kind == "webhook" and "fill delivered: HTTP 200" in event.text and SECRET not in event.text
    store.close()


async def test_retry_with_backoff_on_500_then_delivered_with_one_idempotency_key(receiver, tmp_path):
    url, seen, statuses = receiver
    statuses += [500, 503]
    clock = Clock()
    store = WebhookStore(tmp_path / "wh.sqlite3", clock=clock)
    hook = store.add(url, ["alert"])
    [delivery_id] = store.enqueue("alert", {"text": "BTC above 100k"})
    deliverer = Deliverer(store, lambda _: SECRET, rng=random.Random(1))
    results = []
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            results += await deliverer.deliver_due(session)
            assert await deliverer.deliver_due(session) == []  # not due again before its backoff
            clock.now += 10
    assert [o.result for o in results] == ["retry", "retry", "delivered"]
    assert results[0].detail.startswith("HTTP 500, retry 1 in 0.")  # 0.5 s + up to 50 % jitter
    assert results[1].detail.startswith("HTTP 503, retry 2 in 1.")  # 1 s + jitter
    keys = {r["headers"]["Idempotency-Key"] for r in seen}
    assert len(seen) == 3 and len(keys) == 1
    assert store.status(delivery_id) == ("delivered", 3, "HTTP 200")
    assert hook.id == 1
    store.close()


async def test_no_retry_on_400(receiver, tmp_path):
    url, seen, statuses = receiver
    statuses.append(400)
    clock = Clock()
    store = WebhookStore(tmp_path / "wh.sqlite3", clock=clock)
    store.add(url, "order")
    [delivery_id] = store.enqueue("order", {"id": "x"})
    deliverer = Deliverer(store, lambda _: SECRET)
    async with aiohttp.ClientSession() as session:
        [outcome] = await deliverer.deliver_due(session)
        clock.now += 3600
        assert await deliverer.deliver_due(session) == []
    assert (outcome.result, outcome.detail) == ("failed", "HTTP 400, refused, not retried")
    assert len(seen) == 1 and store.status(delivery_id)[0] == "failed"
    assert store.queue_counts() == {1: {"delivered": 0, "pending": 0, "failed": 1}}  # `webhook list` shows them
    assert store.last_error(1) == "HTTP 400"
    store.close()


async def test_network_errors_are_retried(tmp_path):
    clock = Clock()
    store = WebhookStore(tmp_path / "wh.sqlite3", clock=clock)
    store.add("http://127.0.0.1:9/hook", "health")  # discard port: connection refused
    store.enqueue("health", {"venue": "kraken", "status": "down"})
    async with aiohttp.ClientSession() as session:
        [outcome] = await Deliverer(store, lambda _: SECRET).deliver_due(session)
    assert outcome.result == "retry" and outcome.detail.startswith("network error")
    store.close()


async def test_the_queue_survives_a_restart(receiver, tmp_path):
    url, seen, _ = receiver
    path = tmp_path / "wh.sqlite3"
    first = WebhookStore(path)
    first.add(url, "fill")
    first.enqueue("fill", {"n": 1})
    first.close()  # "crash" before any delivery
    again = WebhookStore(path)
    assert again.pending() == 1
    async with aiohttp.ClientSession() as session:
        [outcome] = await Deliverer(again, lambda _: SECRET).deliver_due(session)
    assert outcome.result == "delivered" and json.loads(seen[0]["body"])["data"] == {"n": 1}
    assert again.pending() == 0
    again.close()


def test_only_http_urls_and_known_events(tmp_path):
    store = WebhookStore(tmp_path / "wh.sqlite3")
    for bad in ("ftp://127.0.0.1/x", "file:///etc/passwd", "127.0.0.1:8000", "http://"):
        with pytest.raises(WebhookError, match="not allowed: use an http:// or https:// URL"):
            store.add(bad, "fill")
    with pytest.raises(WebhookError, match="events: trade not allowed"):
        check_events("fill,trade")
    store.close()


def test_backoff_doubles_with_jitter_up_to_a_cap():
    rng = random.Random(0)
    for attempt, base in ((1, 0.5), (2, 1.0), (3, 2.0), (20, 300.0)):
        delay = backoff_s(attempt, rng)
        assert base <= delay <= base * 1.5


async def test_cli_add_list_test_remove_keeps_the_secret_in_the_vault(receiver, monkeypatch, capsys):
    import asyncio

    from aitbc_tui import paths
    from aitbc_tui.cli import main
    from aitbc_tui.credentials import CredentialStore

    url, seen, _ = receiver
    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "webhook-test-passphrase")
    real_open = CredentialStore.open
    monkeypatch.setattr(
        CredentialStore,
        "open",
        classmethod(lambda cls, prefer="auto", *a, **k: real_open.__func__(cls, "vault", insecure_test_scrypt_n=2**4)),
    )
    assert main(["webhook", "add", url, "--events", "fill,alert"]) == 0
    out = capsys.readouterr().out
    secret = out.rsplit(": ", 1)[1].strip()
    assert out.startswith(f"added webhook 1: {url} (fill, alert)") and secret.startswith("whsec_")
    assert main(["webhook", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"id": 1, "url": url, "events": ["fill", "alert"],
                                                    "queue": {"delivered": 0, "pending": 0, "failed": 0},
                                                    "last_error": ""}]  # fmt: skip

    async def in_thread():  # `webhook test` runs its own event loop; the receiver runs in this one
        return await asyncio.to_thread(main, ["webhook", "test", "1"])

    assert await in_thread() == 0
    body = seen[-1]["body"]
    assert json.loads(body)["event"] == "test"
    assert (
        seen[-1]["headers"]["X-AITBC-Signature"]
        == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    )
    for path in paths.data_dir().rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path  # the vault holds it encrypted
    assert capsys.readouterr().out == "webhook 1: delivered: HTTP 200\n"  # `webhook test`
    assert main(["webhook", "list"]) == 0
    assert capsys.readouterr().out == f"1  {url}  fill,alert  (delivered 1, pending 0, failed 0)\n"
    assert main(["webhook", "add", "ftp://127.0.0.1/x", "--events", "fill"]) == 2
    assert "not allowed: use an http:// or https:// URL" in capsys.readouterr().err
    assert main(["webhook", "remove", "1"]) == 0 and main(["webhook", "remove", "1"]) == 2
