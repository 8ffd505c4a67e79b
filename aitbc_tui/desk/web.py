"""``aitbc-tui serve``: the dashboard in a browser through textual-serve.

textual-serve starts one dashboard process per browser tab and authenticates nobody, so:
it binds 127.0.0.1 only (put an authenticating reverse proxy in front for anyone else); a
random token, new at every start, must be in the URL (``/?token=…``) or in the cookie the
page gets from that URL; every other request is refused (403), and a websocket from
another origin too. The token never goes to a log (no access log). The page loads no
resource from the internet (textual-serve's page asks Google for a font: removed here).

Tabs are read-only (``--read-only``) unless ``--allow-orders``; live venues then still need
``--live`` and the live gate typed in the page. A read-only tab runs in a private data dir
of its own, so any number of tabs can watch; a tab that may trade uses the operator's.
"""

from __future__ import annotations

import hmac
import re
import secrets
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from aitbc_tui.errors import UserError

COOKIE = "aitbc_serve_token"
HOST = "127.0.0.1"
PRIVATE_DATA_ENV = "AITBC_SERVE_PRIVATE_DATA"
_EXTERNAL_LINK_RE = re.compile(r"<link[^>]*https?://[^>]*>\s*", re.S)


class ServeError(UserError):
    pass


def new_token() -> str:
    return secrets.token_urlsafe(24)


def tab_command(dashboard_args: Sequence[str]) -> str:
    """The shell command textual-serve runs per tab (``exec``: the dashboard is the shell's
    process itself, so stopping it stops the dashboard, not only a shell)."""
    return "exec " + shlex.join([sys.executable, "-m", "aitbc_tui.desk.tab", *dashboard_args])


def make_server(command: str, token: str, *, port: int, title: str = "aitbc-tui") -> Any:
    try:
        import aiohttp_jinja2
        import jinja2
        from aiohttp import web
        from textual_serve.server import Server
    except ImportError:
        raise ServeError("serve needs textual-serve: pip install 'aitbc-tui[desk]'") from None

    class TokenServer(Server):
        def token_ok(self, request: web.Request) -> bool:
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            return bool(given) and hmac.compare_digest(given.encode(), token.encode())

        @web.middleware
        async def require_token(self, request: web.Request, handler: Any) -> web.StreamResponse:
            if not self.token_ok(request):
                return web.Response(status=403, text="aitbc-tui serve: refused: open the URL with the token that "
                                    "`aitbc-tui serve` printed\n")  # fmt: skip
            origin = request.headers.get("Origin")
            if request.path == "/ws" and origin is not None and origin != self.public_url:
                return web.Response(status=403, text="aitbc-tui serve: refused: websocket from another origin\n")
            response = await handler(request)
            if request.path == "/" and request.query.get("token") and isinstance(response, web.Response):
                response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
            return response

        async def _make_app(self) -> web.Application:
            app = web.Application(middlewares=[self.require_token])
            page = (self.templates_path / "app_index.html").read_text(encoding="utf-8")
            page = _EXTERNAL_LINK_RE.sub("", page)
            aiohttp_jinja2.setup(app, loader=jinja2.DictLoader({"app_index.html": page}))
            app.add_routes(
                [
                    web.get("/", self.handle_index, name="index"),
                    web.get("/ws", self.handle_websocket, name="websocket"),
                    web.static("/static", self.statics_path, show_index=False, name="static"),
                ]
            )
            return app

    return TokenServer(command, host=HOST, port=port, title=title)


async def start(server: Any) -> tuple[Any, int]:
    """Bind 127.0.0.1 (port 0: a free one) without an access log; (runner, port)."""
    from aiohttp import web

    app = await server._make_app()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, server.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ServeError(f"cannot listen on {HOST}:{server.port}: {exc.strerror or exc}") from None
    port = int(runner.addresses[0][1])
    server.port = port
    server.public_url = f"http://{HOST}:{port}"
    return runner, port


__all__ = ["COOKIE", "HOST", "ServeError", "make_server", "new_token", "start", "tab_command"]
