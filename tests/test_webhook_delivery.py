"""Webhook delivery in the background (aitbc_tui.delivery) against a real aiohttp receiver
on 127.0.0.1: the dashboard's events reach it signed and exactly once (idempotency key)
through a 500, the queue survives a restart, nothing is sent unsigned, and failures show
in the event log and as a toast. The dashboard tests run the real sandbox app."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from aitbc_tui.alert_store import AlertStore
from aitbc_tui.delivery import WebhookDispatcher, order_event_payload
from aitbc_tui.domain import Fill, Order, OrderStatus, OrderType, Side
from aitbc_tui.events import iso_utc
from aitbc_tui.orders import OrderEvent
from aitbc_tui.webhooks import WebhookStore
from tests.apptools import FROZEN_NOW, make_app, wait_ready, wait_until
from tests.webhook_receiver import Receiver

SECRET = "whsec_delivery-test-7c41e9"


@pytest.fixture
async def receiver(loopback_only):
    found = await Receiver(SECRET).start()
    yield found
    await found.stop()


def _dispatcher(path, outcomes: list, **kwargs) -> WebhookDispatcher:
    return WebhookDispatcher({1: SECRET, 2: SECRET}.get, path=path, on_outcome=outcomes.append,
                             rng=random.Random(3), **kwargs)  # fmt: skip


async def test_a_submitted_event_is_delivered_signed_once_through_a_500(receiver, tmp_path):
    path = tmp_path / "wh.sqlite3"
    store = WebhookStore(path)
    store.add(receiver.url, "fill")
    store.close()
    receiver.statuses.append(500)
    outcomes: list = []
    dispatcher = _dispatcher(path, outcomes)
    try:
        assert dispatcher.submit("fill", {"venue": "binance", "amount": "0.1"}, at=FROZEN_NOW)
        await wait_until(lambda: [o.result for o in outcomes] == ["retry", "delivered"])
    finally:
        dispatcher.stop()
    assert len(receiver.requests) == 2
    keys = {r["headers"]["Idempotency-Key"] for r in receiver.requests}
    assert len(keys) == 1  # the retry is the same delivery
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    assert receiver.accepted == [{"event": "fill", "data": {"venue": "binance", "amount": "0.1"},
                                  "timestamp": "2026-11-18T11:06:40.000Z"}]  # fmt: skip
    assert receiver.bad_signatures == 0
    assert outcomes[0].detail.startswith("HTTP 500, retry 1 in ")
    assert not dispatcher.running


async def test_events_nobody_subscribed_to_are_not_sent_and_no_queue_means_no_thread(receiver, tmp_path):
    outcomes: list = []
    absent = _dispatcher(tmp_path / "none.sqlite3", outcomes)
    assert absent.submit("fill", {"n": 1}, at=FROZEN_NOW) is False  # no `webhook add` ever: nothing runs
    assert not absent.running and not (tmp_path / "none.sqlite3").exists()
    path = tmp_path / "wh.sqlite3"
    store = WebhookStore(path)
    store.add(receiver.url, "alert")
    store.close()
    dispatcher = _dispatcher(path, outcomes)
    try:
        dispatcher.submit("fill", {"n": 1}, at=FROZEN_NOW)  # not subscribed
        dispatcher.submit("alert", {"n": 2}, at=FROZEN_NOW)
        await wait_until(lambda: outcomes)
    finally:
        dispatcher.stop()
    assert [a["data"] for a in receiver.accepted] == [{"n": 2}]
    assert dispatcher.subscribed == {"alert"} and dispatcher.hook_urls == {1: receiver.url}


async def test_the_queue_survives_a_restart_with_the_same_idempotency_key(receiver, tmp_path):
    path = tmp_path / "wh.sqlite3"
    store = WebhookStore(path)
    store.add(receiver.url, "alert")
    store.close()
    receiver.statuses += [503] * 8  # the receiver is down while the first dashboard runs
    outcomes: list = []
    first = _dispatcher(path, outcomes)
    first.submit("alert", {"text": "BTC above 100k"}, at=FROZEN_NOW)
    await wait_until(lambda: outcomes)
    first.stop(timeout=60)  # the app quits with the delivery still pending
    assert not first.running
    assert {o.result for o in outcomes} == {"retry"}
    again = WebhookStore(path)
    assert again.pending() == 1
    again.close()
    receiver.statuses.clear()  # the receiver is back
    second = _dispatcher(path, outcomes)
    second.start()
    try:
        await wait_until(lambda: outcomes[-1].result == "delivered")
    finally:
        second.stop()
    assert len({r["headers"]["Idempotency-Key"] for r in receiver.requests}) == 1  # one delivery throughout
    assert [a["data"] for a in receiver.accepted] == [{"text": "BTC above 100k"}]


async def test_events_submitted_just_before_stop_are_queued_not_lost(tmp_path):
    path = tmp_path / "wh.sqlite3"
    store = WebhookStore(path)
    store.add("http://127.0.0.1:9/hook", "order")  # nobody listens: every attempt is a retry
    store.close()
    dispatcher = _dispatcher(path, [])
    for n in range(50):
        dispatcher.submit("order", {"n": n}, at=FROZEN_NOW)
    dispatcher.stop(timeout=60)  # a bound for a busy machine: it returns as soon as the thread ends
    assert not dispatcher.running
    again = WebhookStore(path)
    assert again.pending() == 50
    again.close()


async def test_never_sent_unsigned_when_the_secret_is_missing(receiver, tmp_path):
    path = tmp_path / "wh.sqlite3"
    store = WebhookStore(path)
    store.add(receiver.url, "alert")
    store.close()
    outcomes: list = []
    dispatcher = WebhookDispatcher(lambda hook_id: None, path=path, on_outcome=outcomes.append)
    try:
        dispatcher.submit("alert", {"n": 1}, at=FROZEN_NOW)
        await wait_until(lambda: outcomes)
    finally:
        dispatcher.stop()
    assert outcomes[0].result == "retry"
    assert outcomes[0].detail.startswith("no signing secret webhook-1 in the credential store, retry 1 in ")
    assert receiver.requests == []


def test_order_and_fill_payloads_carry_exact_decimals():
    order = Order("kraken", "O-1", "c-1", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("64000.5"),
                  Decimal("0.25"), Decimal("0.1"), OrderStatus.OPEN, 1.0, 2.0)  # fmt: skip
    fill = Fill("kraken", "O-1", "BTC/USDT", Side.BUY, Decimal("64000.5"), Decimal("0.1"), Decimal("1.6"),
                "USDT", 2.0, False, "T-9")  # fmt: skip
    event, data = order_event_payload(OrderEvent("fill", order, fill=fill))
    assert event == "fill"
    assert (data["fill_price"], data["fill_amount"], data["notional"]) == ("64000.5", "0.1", "6400.05")
    assert (data["fee"], data["liquidity"], data["trade_id"], data["amount"]) == ("1.6", "taker", "T-9", "0.25")
    event, data = order_event_payload(OrderEvent("canceled", order, by="kill switch"))
    assert event == "order" and data["kind"] == "canceled" and data["by"] == "kill switch"


# ---- the dashboard ------------------------------------------------------------------------


def _vault_factory(monkeypatch):
    from aitbc_tui.credentials import Credentials, CredentialStore
    from aitbc_tui.secret import Secret

    monkeypatch.setenv("AITBC_VAULT_PASSPHRASE", "delivery-test-passphrase")

    def factory(provider):
        return CredentialStore.open("vault", provider, insecure_test_scrypt_n=2**4)

    factory(None).set("webhook-1", Credentials(api_key=Secret("webhook"), secret=Secret(SECRET)))
    return factory


async def test_dashboard_alert_reaches_the_receiver_signed_exactly_once_through_a_500(receiver, tmp_path, monkeypatch):
    factory = _vault_factory(monkeypatch)
    store = WebhookStore()
    store.add(receiver.url, "alert")
    store.close()
    rules = AlertStore()
    rules.add({"kind": "spread_above", "venue": "binance", "symbol": "BTC/USDT", "bps": "0"})
    rules.close()
    receiver.statuses.append(500)
    app = make_app(tmp_path / "sandbox", credential_store_factory=factory)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        await wait_until(pilot, lambda: receiver.accepted, what=lambda: f"a delivery; got {receiver.requests}")
        await wait_until(pilot, lambda: any("delivered" in e.text for e in app.event_log.recent if e.kind == "webhook"))
        book = app.service.book("binance", "BTC/USDT")
        texts = [e.text for e in app.event_log.recent if e.kind == "webhook"]
    [alert] = [a for a in app.alerts_fired if a.rule_id == "r1"]
    mid = (book.best_bid + book.best_ask) / 2
    spread_bps = round((book.best_ask - book.best_bid) / mid * 10000, 2)
    assert receiver.accepted == [{
        "event": "alert",
        "timestamp": iso_utc(FROZEN_NOW),
        "data": {"rule": "r1", "kind": "spread_above", "venue": "binance", "symbol": "BTC/USDT",
                 "spread_bps": str(spread_bps), "bid": str(book.best_bid), "ask": str(book.best_ask),
                 "severity": "warning", "text": alert.text},
    }]  # fmt: skip
    assert len(receiver.requests) == 2 and receiver.bad_signatures == 0
    assert len({r["headers"]["Idempotency-Key"] for r in receiver.requests}) == 1
    assert texts[0].startswith(f"webhook 1 ({receiver.url}): alert retry: HTTP 500, retry 1 in ")
    assert texts[-1] == f"webhook 1 ({receiver.url}): alert delivered: HTTP 200"
    check = WebhookStore()
    assert check.pending() == 0  # nothing left to send: it stays delivered once
    check.close()
    for event in app.event_log.recent:
        assert SECRET not in event.text
    assert not app.webhooks.running  # the delivery thread ended with the app


async def test_dashboard_fill_is_a_webhook_and_a_refused_delivery_is_a_toast(receiver, tmp_path, monkeypatch):
    from aitbc_tui.domain import OrderRequest

    factory = _vault_factory(monkeypatch)
    store = WebhookStore()
    store.add(receiver.url, "fill,order")
    store.close()
    app = make_app(tmp_path / "sandbox", credential_store_factory=factory)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        book = app.service.book("binance", "BTC/USDT")
        receiver.statuses.append(400)  # the receiver refuses the first one (the ack): never retried
        request = OrderRequest("binance", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), price=book.best_ask)
        tracked = app.service.prepare_order(request)
        await app.service.send_order(tracked)
        await wait_until(pilot, lambda: any(a["event"] == "fill" for a in receiver.accepted),
                         what=lambda: f"a fill delivery; got {receiver.accepted}")  # fmt: skip
        await wait_until(pilot, lambda: any(n.severity == "error" and "refused" in n.message for n in app.notices))
    [fill] = [a["data"] for a in receiver.accepted if a["event"] == "fill"]
    assert (fill["venue"], fill["symbol"], fill["side"], fill["amount"]) == ("binance", "BTC/USDT", "buy", "0.001")
    assert Decimal(fill["fill_amount"]) * Decimal(fill["fill_price"]) == Decimal(fill["notional"])
    [refused] = [n for n in app.notices if "refused" in n.message]
    assert refused.message.startswith(f"webhook 1 ({receiver.url}): order failed: HTTP 400, refused, not retried")
    assert any(e.kind == "webhook" and e.severity == "error" for e in app.event_log.recent)


async def test_dashboard_publishes_price_events_with_a_confidence(receiver, tmp_path, monkeypatch):
    factory = _vault_factory(monkeypatch)
    store = WebhookStore()
    store.add(receiver.url, "price")
    store.close()
    app = make_app(tmp_path / "sandbox", credential_store_factory=factory)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        count = len(app.service.books())
        await wait_until(pilot, lambda: len(receiver.accepted) >= count, what=lambda: f"{receiver.accepted}")
        book = app.service.book("binance", "BTC/USDT")
    prices = {(a["data"]["venue"], a["data"]["symbol"]): a for a in receiver.accepted}
    assert len(prices) == count  # every book once (the next round is 10 s later)
    sent = prices[("binance", "BTC/USDT")]
    mid = (book.best_bid + book.best_ask) / 2
    spread_bps = (book.best_ask - book.best_bid) / mid * 10000
    # The frozen service clock: book age 0, so freshness 1 and the confidence is 10 / (10 + spread).
    confidence = (Decimal(10) / (10 + spread_bps)).quantize(Decimal("0.001"), rounding="ROUND_DOWN")
    assert sent["event"] == "price" and sent["timestamp"] == iso_utc(FROZEN_NOW)
    assert sent["data"] == {"venue": "binance", "symbol": "BTC/USDT", "last": str(mid), "bid": str(book.best_bid),
                            "ask": str(book.best_ask), "mid": str(mid),
                            "spread_bps": str(spread_bps.quantize(Decimal("0.01"))), "book_age_s": 0.0,
                            "confidence": str(confidence), "source": "aitbc-tui binance",
                            "timestamp": iso_utc(FROZEN_NOW)}  # fmt: skip


async def test_dashboard_pnl_rule_fires_after_a_losing_round_trip(tmp_path):
    from aitbc_tui.domain import OrderRequest

    app = make_app(tmp_path / "sandbox")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        book = app.service.book("binance", "BTC/USDT")
        fee_rate = app.service.market("binance", "BTC/USDT").taker_fee
        # The buy alone costs its fee (amount x ask x fee rate); the round trip costs both fees
        # and the spread: a threshold at 1.5 fees fires on the round trip only.
        threshold = -(Decimal("0.01") * book.best_ask * fee_rate * 3 / 2).quantize(Decimal("0.000001"))
        app.alert_store.add({"id": "loss", "kind": "pnl_below", "threshold": str(threshold), "period": "session",
                             "venue": "binance"})  # fmt: skip
        app._reload_rules()
        await wait_until(pilot, lambda: app.alert_runner._pnl is not None, what="the P&L tracker for the rule")
        fills: list = []
        app.service.add_event_listener(lambda e: fills.append(e.fill) if e.kind == "fill" else None)
        for side, price in ((Side.BUY, book.best_ask), (Side.SELL, book.best_bid)):  # crosses the spread twice
            tracked = app.service.prepare_order(OrderRequest("binance", "BTC/USDT", side, OrderType.LIMIT,
                                                             Decimal("0.01"), price=price))  # fmt: skip
            await app.service.send_order(tracked)
        await wait_until(pilot, lambda: any(a.kind == "pnl_below" for a in app.alerts_fired),
                         what=lambda: f"a P&L alert; fills {fills}")  # fmt: skip
    [alert] = [a for a in app.alerts_fired if a.kind == "pnl_below"]
    bought = sum((f.price * f.amount for f in fills if f.side is Side.BUY), Decimal(0))
    sold = sum((f.price * f.amount for f in fills if f.side is Side.SELL), Decimal(0))
    fees = sum((f.fee for f in fills), Decimal(0))  # in USDT on the sandbox
    assert {f.fee_currency for f in fills} == {"USDT"} and len(fills) == 2
    assert alert.data["pnl"] == str(sold - bought - fees) and Decimal(alert.data["pnl"]) < threshold
    assert alert.text.startswith("binance: session P&L -")


async def test_a_dispatcher_whose_thread_ended_takes_no_more_events(tmp_path):
    path = tmp_path / "wh.sqlite3"
    path.write_bytes(b"not a database at all, " * 100)  # the queue cannot be opened
    problems: list[str] = []
    dispatcher = WebhookDispatcher(lambda _: SECRET, path=path, on_problem=problems.append)
    dispatcher.submit("alert", {"n": 1}, at=FROZEN_NOW)
    await wait_until(lambda: problems and not dispatcher.running)
    assert problems[0].startswith(f"{path}: cannot open the webhook queue: ")
    assert dispatcher.submit("alert", {"n": 2}, at=FROZEN_NOW) is False
    assert len(dispatcher._inbox) <= 1  # nothing piles up behind a dead thread


async def test_the_dashboard_never_waits_for_a_receiver_that_hangs(tmp_path, monkeypatch, loopback_only):
    """The receiver holds the first POST open until the test lets it go; meanwhile the
    dashboard answers keys and fires more alerts: nothing on the UI's side waits for it."""
    import asyncio

    from aiohttp import web

    from aitbc_tui.ui.screens.help import HelpScreen

    release = asyncio.Event()
    held: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        held.append(await request.read())
        await release.wait()
        return web.Response(status=200)

    server = web.Application()
    server.router.add_post("/hook", handle)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"
    factory = _vault_factory(monkeypatch)
    store = WebhookStore()
    store.add(url, "alert")
    store.close()
    rules = AlertStore()
    rules.add({"kind": "spread_above", "venue": "binance", "symbol": "BTC/USDT", "bps": "0"})
    rules.close()
    app = make_app(tmp_path / "sandbox", credential_store_factory=factory)
    app.webhooks.timeout_s = 300  # the POST hangs as long as the test holds it, on any machine
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_ready(pilot)
            await wait_until(pilot, lambda: held, what="the receiver holding the first POST")
            await pilot.press("question_mark")  # answered while the POST hangs
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
            app.alert_store.add({"kind": "spread_above", "venue": "kraken", "symbol": "BTC/USDT", "bps": "0"})
            app._reload_rules()
            app.world.run_steps(3, 0.1)
            await wait_until(pilot, lambda: any(a.venue == "kraken" for a in app.alerts_fired))
            assert not release.is_set() and len(held) == 1  # still hanging: the first POST holds the thread
            assert app.webhooks.submitted >= 2  # both alerts handed over (health changes may be too)
            release.set()
            await wait_until(pilot, lambda: len(held) == 2, what="the second alert after the first POST ended")
    finally:
        release.set()
        await runner.cleanup()
    assert [json.loads(body)["data"]["venue"] for body in held] == ["binance", "kraken"]


async def test_the_kill_switch_is_one_order_event_beside_each_cancel(receiver, tmp_path, monkeypatch):
    from textual.widgets import Input

    from aitbc_tui.ui.screens.confirm import ConfirmScreen
    from aitbc_tui.ui.screens.order_form import OrderForm

    factory = _vault_factory(monkeypatch)
    store = WebhookStore()
    store.add(receiver.url, "order")
    store.close()
    app = make_app(tmp_path / "sandbox", credential_store_factory=factory)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        await pilot.press("b")  # a limit buy at the best bid: it rests
        await wait_until(pilot, lambda: isinstance(app.screen, OrderForm))
        app.screen.query_one("#amount", Input).value = "0.01"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: len(app.service.open_orders()) == 1)
        await pilot.press("ctrl+k")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: any(a["data"].get("kind") == "kill_switch" for a in receiver.accepted),
                         what=lambda: f"the kill switch event; got {[a['data'].get('kind') for a in receiver.accepted]}")  # fmt: skip
        await wait_until(pilot, lambda: any(a["data"].get("by") == "kill switch" for a in receiver.accepted))
    kinds = [a["data"]["kind"] for a in receiver.accepted]
    assert kinds.index("ack") < kinds.index("kill_switch")
    [switch] = [a["data"] for a in receiver.accepted if a["data"]["kind"] == "kill_switch"]
    assert (switch["cancelled"], switch["failed"], switch["venues"]) == (1, 0, ["binance", "kraken", "coinbase"])
    [cancel] = [a["data"] for a in receiver.accepted if a["data"].get("by") == "kill switch"]
    assert (cancel["kind"], cancel["venue"], cancel["side"], cancel["amount"]) == ("canceled", "binance", "buy", "0.01")
