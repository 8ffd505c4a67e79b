"""``aitbc-tui serve``: the dashboard through textual-serve on 127.0.0.1 with a per-start token.

The served command is started for real (a subprocess); the browser side is aiohttp's client
speaking textual-serve's websocket protocol, and Debian's headless chromium when installed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys

import aiohttp
import pytest

from tests.apptools import DEFAULT_TIMEOUT_S


@pytest.fixture
async def served(isolated_dirs):
    """``await served(*dashboard_args, *serve_args)`` -> (url with token, base url)."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> tuple[str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aitbc_tui", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ},
        )  # fmt: skip
        procs.append(proc)
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        found = re.search(rb"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        assert found, (line, await proc.stderr.read())
        url = found.group(0).decode()
        return url, url.split("/?", 1)[0]

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def read_screen(ws, until: list[bytes], timeout: float = 40.0) -> int:
    """Read the terminal bytes the served dashboard sends until every one of ``until`` was
    seen; the byte count read. Each frame is searched once (with the previous frame's tail,
    for a word cut between two frames): the dashboard sends megabytes a minute, and
    re-searching everything read so far made this quadratic and slow on a busy machine."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    remaining = set(until)
    longest = max(len(word) for word in until)
    tail = b""
    count = 0
    while remaining:
        left = deadline - loop.time()
        assert left > 0, f"the page never showed {sorted(remaining)!r}; read {count} bytes"
        msg = await ws.receive(timeout=left)
        if msg.type == aiohttp.WSMsgType.BINARY:
            data = msg.data
        elif msg.type == aiohttp.WSMsgType.TEXT:
            data = msg.data.encode()
        else:
            raise AssertionError(f"the websocket closed ({msg.type}) after {count} bytes")
        count += len(data)
        chunk = tail + data
        remaining = {word for word in remaining if word not in chunk}
        tail = chunk[-longest:]
    return count


async def test_serve_refuses_without_the_token_and_serves_the_dashboard_with_it(served):
    url, base = await served("--seed", "3", "serve", "--port", "0")
    token = url.split("token=", 1)[1]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as plain:
        for path in ("/", "/?token=wrong", f"/?token={token[:-1]}", "/static/js/textual.js", "/ws"):
            async with plain.get(base + path) as response:
                assert response.status == 403, path
                assert "refused" in await response.text()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(url) as response:
            assert response.status == 200
            page = await response.text()
        assert "googleapis" not in page and "https://" not in page  # nothing loaded from the internet
        assert f'data-session-websocket-url="{base.replace("http", "ws")}/ws"' in page
        async with browser.get(base + "/static/js/textual.js") as response:
            assert response.status == 200  # the cookie from the page's URL carries the token
        # A websocket from another origin is refused even with the cookie.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await browser.ws_connect(base.replace("http", "ws") + "/ws", headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403
        async with browser.ws_connect(base.replace("http", "ws") + "/ws?width=160&height=45",
                                      headers={"Origin": base}) as ws:  # fmt: skip
            await ws.send_json(["resize", {"width": 160, "height": 45}])
            await read_screen(ws, [b"SANDBOX", b"READ-ONLY", b"Order book", b"Health", b"binance"])
            await ws.send_json(["stdin", "?"])  # the help screen opens in the page
            await read_screen(ws, [b"aitbc-tui help", b"Keys", b"buy form"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--port", "70000"), "is not a port"),
        (("--config", "missing.toml", "serve"), "file not found"),
    ],
)
def test_serve_arguments_are_refused_in_one_line(args, message, tmp_path):
    done = subprocess.run([sys.executable, "-m", "aitbc_tui", *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
async def test_headless_chromium_opens_the_page_with_the_token_only(served, tmp_path):
    url, base = await served("--seed", "3", "serve", "--port", "0")

    async def dump(address: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'chromium'}",
            "--timeout=10000", "--dump-dom", address, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), DEFAULT_TIMEOUT_S * 6)
        return out.decode(errors="replace")

    refused = await dump(base + "/")
    assert "refused" in refused and "xterm" not in refused
    page = await dump(url)
    # The page's own script (served only with the token's cookie) ran and built the terminal;
    # the terminal draws on a canvas, so the dashboard's text is asserted on the websocket above.
    assert "data-session-websocket-url" in page and 'class="terminal xterm' in page and "xterm-screen" in page


def test_allow_orders_on_a_live_config_needs_the_live_gate(tmp_path):
    config = tmp_path / "desk.toml"
    config.write_text('[venues.binance]\nexchange = "binance"\nmode = "live"\nsymbols = ["BTC/USDT"]\n')
    done = subprocess.run([sys.executable, "-m", "aitbc_tui", "--config", str(config), "serve", "--allow-orders"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and 'configured with mode = "live"' in done.stderr and "--live" in done.stderr


@pytest.mark.parametrize(
    ("argv", "tab"),
    [
        (["serve"], ["--read-only"]),
        (
            ["--config", "d.toml", "--theme", "aitbc-light", "serve"],
            ["--config", "d.toml", "--theme", "aitbc-light", "--read-only"],
        ),
        (["serve", "--allow-orders"], []),
        (["--live", "serve", "--allow-orders"], ["--live"]),
        (["--read-only", "serve", "--allow-orders"], ["--read-only"]),
        (["--replay", "s.gz", "--speed", "5", "serve"], ["--replay", "s.gz", "--speed", "5", "--read-only"]),
    ],
)
def test_each_tab_runs_the_dashboard_read_only_unless_orders_are_allowed(argv, tab):
    from aitbc_tui.cli import build_parser
    from aitbc_tui.commands.desk import dashboard_args

    assert dashboard_args(build_parser().parse_args(argv)) == tab


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()  # a zombie has ended
    except OSError:
        return False


async def test_a_tab_ends_when_serve_is_killed(isolated_dirs):
    from tests.apptools import wait_until

    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "aitbc_tui", "--seed", "3", "serve", "--port",
                                                "0", stdout=asyncio.subprocess.PIPE, env={**os.environ})  # fmt: skip
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        url = re.search(rb"http://127\.0\.0\.1:\d+/\?token=\S+", line).group(0).decode()
        base = url.split("/?", 1)[0]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(url) as response:
                assert response.status == 200
            ws = await browser.ws_connect(base.replace("http", "ws") + "/ws?width=120&height=40")
            await read_screen(ws, [b"SANDBOX"])
            tabs = _children(proc.pid)
            assert len(tabs) == 1 and _alive(tabs[0])  # the dashboard itself (exec), no shell in between
            proc.kill()  # serve dies without cleaning up
            await proc.wait()
            await wait_until(lambda: not _alive(tabs[0]), timeout=30)
            await ws.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
