"""A fault-injecting HTTP reverse proxy on 127.0.0.1, between a real ccxt client and an
emulator: the faults happen on the wire, where the product cannot tell them from a real
network, and the proxy records what it forwarded, so a test can say whether the venue saw
a request.

    proxy = await start_proxy(emu.url)          # point the venue's api_url at proxy.url
    proxy.add_fault("lost_reply", "/api/v3/order", method="POST")
    ...
    assert proxy.saw("POST", "/api/v3/order") == 1
    await proxy.stop()

A rule matches a request by ``method`` ("" any) and ``path`` (a substring of the path,
query string excluded; "" any) and fires ``count`` times (None: until cleared). Kinds:

``drop_request``   the connection is closed before anything is forwarded: the venue never
                   sees the request; the client gets a connection error.
``lost_reply``     forwarded, the venue acts and answers, then the connection is closed
                   instead of the answer: the client gets a connection error.
``hold_reply``     forwarded, the venue acts; the answer is held ``hold_s`` seconds (default
                   60, released at stop) so the client's timeout fires first.
``http_5xx``       forwarded, the venue acts; the client gets ``status`` (default 502) with
                   an nginx-style HTML body instead of the venue's answer.
``delay_request``  held ``delay_s`` seconds (default 3) before it is forwarded: past a short
                   client timeout the request lands after the client gave up.
``reset_mid_body`` forwarded, the venue acts; the status, headers and half of the body are
                   sent, then the connection is reset.

Forwarding runs in its own task: a client that gives up does not stop a request that is
already on its way (it lands, as over a real network). ``in_flight`` counts requests
received and not yet answered by the venue (a held reply is not in flight: the venue has
acted). Websockets are not proxied (the fault matrix polls over REST).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl
from aiohttp import web

KINDS = ("drop_request", "lost_reply", "hold_reply", "http_5xx", "delay_request", "reset_mid_body")
# Hop-by-hop headers (RFC 9110 7.6.1) and those aiohttp sets itself.
_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length"}  # fmt: skip
_HTML = ("<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}"
         "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")  # fmt: skip
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable",
            504: "Gateway Time-out"}  # fmt: skip


@dataclass
class ProxyFault:
    kind: str
    path: str = ""
    method: str = ""
    count: int | None = 1
    params: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path in path


@dataclass(frozen=True)
class Exchange:
    """One request the proxy handled."""

    method: str
    path: str
    query: str
    forwarded: bool  # reached the venue
    status: int | None  # the venue's status (None: not forwarded or the venue failed)
    fault: str  # the fault applied, "" for none
    at: float  # time.monotonic() when the proxy received it


class FaultProxy:
    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        self.upstream = upstream.rstrip("/")
        self.host = host
        self.url = ""
        self.faults: list[ProxyFault] = []
        self.log: list[Exchange] = []  # each request once it is done with
        self.arrivals: list[tuple[str, str]] = []  # (method, path) as each request arrives
        self.in_flight = 0
        self._tasks: set[asyncio.Task] = set()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # ---- control -----------------------------------------------------------------------

    def add_fault(
        self, kind: str, path: str = "", method: str = "", count: int | None = 1, **params: Any
    ) -> ProxyFault:
        if kind not in KINDS:
            raise ValueError(f"unknown proxy fault {kind!r}; one of {', '.join(KINDS)}")
        rule = ProxyFault(kind, path, method, count, dict(params))
        self.faults.append(rule)
        return rule

    def clear(self) -> None:
        self.faults.clear()

    def saw(self, method: str = "", path: str = "") -> int:
        """How many requests matching ``method`` / path substring reached the venue."""
        return sum(1 for e in self.log if e.forwarded and (not method or e.method == method.upper()) and path in e.path)

    def received(self, method: str = "", path: str = "") -> int:
        """How many matching requests reached the proxy (forwarded, on their way, or dropped)."""
        return sum(1 for m, p in self.arrivals if (not method or m == method.upper()) and path in p)

    @property
    def idle(self) -> bool:
        """No request is on its way to the venue (a held reply does not count: it acted)."""
        return self.in_flight == 0

    def fired(self, kind: str | None = None) -> int:
        """How many times rules (of ``kind``) fired."""
        return sum(r.hits for r in self.faults if kind is None or r.kind == kind)

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self, port: int = 0) -> FaultProxy:
        self._session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.05)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        self.url = f"http://{self.host}:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        self._release.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()  # first: the venue then has no connection to wait for
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- the proxy ---------------------------------------------------------------------

    def _take(self, method: str, path: str) -> ProxyFault | None:
        for rule in self.faults:
            if rule.matches(method, path):
                rule.hits += 1
                if rule.count is not None:
                    rule.count -= 1
                return rule
        return None

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self._session is not None
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        url = yarl.URL(self.upstream + request.raw_path, encoded=True)  # the signed query, byte for byte
        async with self._session.request(request.method, url, headers=headers, data=body or None,
                                         allow_redirects=False) as reply:  # fmt: skip
            payload = await reply.read()
            return reply.status, [(k, v) for k, v in reply.headers.items() if k.lower() not in _HOP], payload

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send_upstream(self, request: web.Request, body: bytes, delay_s: float, record: dict) -> tuple:
        self.in_flight += 1
        try:
            if delay_s:
                await asyncio.sleep(delay_s)
            result = await self._forward(request, body)
            record.update(forwarded=True, status=result[0])
            return result
        except Exception:
            record.update(forwarded=True, status=None)  # sent; the venue's side failed
            raise
        finally:
            self.in_flight -= 1
            self.log.append(Exchange(record["method"], record["path"], record["query"], record["forwarded"],
                                     record["status"], record["fault"], record["at"]))  # fmt: skip

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        received = time.monotonic()
        self.arrivals.append((request.method.upper(), request.path))
        body = await request.read()
        rule = self._take(request.method, request.path)
        kind = rule.kind if rule else ""
        params = rule.params if rule else {}
        record = {"method": request.method.upper(), "path": request.path, "query": request.query_string,
                  "forwarded": False, "status": None, "fault": kind, "at": received}  # fmt: skip
        if kind == "drop_request":
            self.log.append(Exchange(record["method"], request.path, request.query_string, False, None, kind, received))
            return self._drop(request)
        delay = float(params.get("delay_s", 3.0)) if kind == "delay_request" else 0.0
        # Its own task: the client giving up (a timeout) does not stop a request on its way.
        upstream = self._spawn(self._send_upstream(request, body, delay, record))
        try:
            status, headers, payload = await asyncio.shield(upstream)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the venue failed: a gateway error, as a proxy says
            return web.Response(status=502, text=_HTML.format(status=502, reason=f"Bad Gateway ({type(exc).__name__})"),
                                content_type="text/html")  # fmt: skip
        if kind == "lost_reply":
            return self._drop(request)
        if kind == "hold_reply":
            try:
                await asyncio.wait_for(self._release.wait(), float(params.get("hold_s", 60.0)))
            except TimeoutError:
                pass
        if kind == "http_5xx":
            code = int(params.get("status", 502))
            return web.Response(status=code, text=_HTML.format(status=code, reason=_REASONS.get(code, "Error")),
                                content_type="text/html")  # fmt: skip
        if kind == "reset_mid_body":
            response = web.StreamResponse(status=status, headers=headers)
            response.content_length = len(payload)
            await response.prepare(request)
            await response.write(payload[: max(1, len(payload) // 2)])
            if request.transport is not None:
                request.transport.abort()
            return response
        return web.Response(status=status, headers=headers, body=payload)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Close the client's connection without a byte of answer."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499)  # never reaches the client


async def start_proxy(upstream: str, port: int = 0) -> FaultProxy:
    """A running proxy in front of ``upstream`` (``http://127.0.0.1:port`` of an emulator)."""
    return await FaultProxy(upstream).start(port)
