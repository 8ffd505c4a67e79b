"""A nats-server on this machine (Debian's ``nats-server`` package): for the tests, the
benchmarks and a one-machine desk. Binds 127.0.0.1 only; JetStream on, its store in a
directory of its own. The server is a real process, started and stopped here."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NATS_SERVER = "nats-server"


class NatsServerMissing(RuntimeError):
    """No nats-server binary on PATH."""


def nats_server_binary() -> str | None:
    return shutil.which(NATS_SERVER)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def desk_authorization(collector: tuple[str, str], dashboards: tuple[str, str]) -> str:
    """nats-server configuration for a desk: the collector may publish market data (and run
    JetStream's API); dashboards may only read it and the stream's last values: a dashboard
    that publishes on ``md.>`` is refused by the server. (user, password) pairs."""

    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return f"""authorization {{
  users = [
    {{ user: {quoted(collector[0])}, password: {quoted(collector[1])},
       permissions: {{ publish: {{ allow: ["md.>", "$JS.API.>", "_INBOX.>"] }},
                       subscribe: {{ allow: ["_INBOX.>"] }} }} }}
    {{ user: {quoted(dashboards[0])}, password: {quoted(dashboards[1])},
       permissions: {{ publish: {{ allow: ["$JS.API.INFO", "$JS.API.STREAM.INFO.AITBC_MD", "$JS.API.STREAM.MSG.GET.AITBC_MD"],
                                  deny: ["md.>"] }},
                       subscribe: {{ allow: ["md.>", "_INBOX.>"] }} }} }}
  ]
}}
"""


class LocalNatsServer:
    """``await server.start()``; ``server.url``; ``await server.stop()``; ``await server.restart()``
    keeps the port (clients reconnect to the same URL). ``config`` is extra nats-server
    configuration text (authorization blocks, for the permission tests)."""

    def __init__(self, *, port: int | None = None, store_dir: Path | None = None, config: str = "") -> None:
        binary = nats_server_binary()
        if binary is None:
            raise NatsServerMissing("nats-server is not installed (Debian: apt-get install -y nats-server)")
        self.binary = binary
        self.port = port or free_port()
        self._own_dir = store_dir is None
        self.store_dir = Path(store_dir) if store_dir is not None else Path(tempfile.mkdtemp(prefix="aitbc-nats-"))
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        path = self.store_dir / "server.conf"
        store = str(self.store_dir / "js").replace("\\", "/")
        path.write_text(
            f'listen: "127.0.0.1:{self.port}"\n'
            f'jetstream {{ store_dir: "{store}", max_memory_store: 256MB, max_file_store: 1GB }}\n'
            f"{self.config}\n",
            encoding="utf-8",
        )
        return path

    async def start(self, timeout_s: float = 15.0) -> None:
        conf = self._write_config()
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server did not listen on {self.port}: {self.log_tail()}") from None
                await asyncio.sleep(0.02)
                continue
            try:
                line = await asyncio.wait_for(reader.readline(), timeout_s)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            if line.startswith(b"INFO"):
                return

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, process.wait), 10)
        except TimeoutError:
            process.kill()
            await loop.run_in_executor(None, process.wait)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def close(self) -> None:
        await self.stop()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)


__all__ = ["LocalNatsServer", "desk_authorization", "NatsServerMissing", "free_port", "nats_server_binary"]
