"""A real webhook receiver on 127.0.0.1 (aiohttp), as a system consuming aitbc-tui's
webhooks would run one: it checks the HMAC signature, answers with the next status a test
queued (then 200), and accepts each idempotency key once (a repeat is answered 200 and
dropped), so ``accepted`` is what the receiving system acted on."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Receiver:
    secret: str
    url: str = ""
    statuses: list[int] = field(default_factory=list)  # answers to the next requests, then 200
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request, as received
    accepted: list[dict[str, Any]] = field(default_factory=list)  # bodies acted on (signed, new key)
    bad_signatures: int = 0
    _keys: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None

    def signature_ok(self, body: bytes, header: str) -> bool:
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, header)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append({"body": body, "headers": dict(request.headers), "path": request.path})
        if self.statuses:
            return web.Response(status=self.statuses.pop(0))
        if not self.signature_ok(body, request.headers.get("X-AITBC-Signature", "")):
            self.bad_signatures += 1
            return web.Response(status=401)
        key = request.headers.get("Idempotency-Key", "")
        if key not in self._keys:
            self._keys.add(key)
            self.accepted.append(json.loads(body))
        return web.Response(status=200)

    async def start(self, port: int = 0) -> Receiver:
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
