"""One writer per data dir: ``fcntl.flock`` on ``<data_dir>/lock``.

Two dashboards on one data dir would each keep their own sandbox balances in memory and
the last writer would win. The dashboard takes the lock without waiting and refuses to
start when another process holds it, naming that process (its PID and command line are
written into the lock file); short writers such as ``exchange add-liquidity`` wait for
it briefly (``acquire(wait_s=...)``).

The kernel drops a flock when its holder exits, however it exits (SIGKILL included), so
a lock is never stale. The file itself stays: deleting a lock file races with a process
that has just opened it. Nothing here imports textual or ccxt.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from aitbc_tui import paths
from aitbc_tui.errors import UserError

LOCK_FILENAME = "lock"
_POLL_S = 0.05  # the kernel offers no timed flock: poll while waiting


class DataDirLocked(UserError):
    """Another process holds the data dir; str() names it and what to do."""

    def __init__(self, message: str, *, pid: int | None, command: str) -> None:
        super().__init__(message)
        self.pid = pid
        self.command = command


def _this_command() -> str:
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    return shlex.join(argv)[:500]


class DataDirLock:
    """``with DataDirLock(data_dir).acquire(): ...``; ``data_dir`` defaults to the app's."""

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
        self.path = self.data_dir / LOCK_FILENAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait_s: float = 0.0) -> DataDirLock:
        """Take the lock, waiting up to ``wait_s`` seconds for its holder; DataDirLocked
        if it is still held. Returns self (for ``with``)."""
        if self._fd is not None:
            return self
        paths.ensure_private_dir(self.data_dir)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise UserError(f"cannot open the data dir lock {self.path}: {exc.strerror or exc}") from None
        deadline = time.monotonic() + max(wait_s, 0.0)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise self._locked(fd, wait_s) from None
                    time.sleep(_POLL_S)
            record = json.dumps(
                {
                    "pid": os.getpid(),
                    "command": _this_command(),
                    "since": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                }
            )
            os.ftruncate(fd, 0)
            os.pwrite(fd, (record + "\n").encode("utf-8"), 0)
        except BaseException:
            os.close(fd)  # closing drops the flock, if it was taken
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # nobody is named as the holder once it is gone
        except OSError:
            pass
        os.close(fd)

    def holder(self) -> tuple[int | None, str] | None:
        """(pid, command) written by the current holder, or None when nobody holds it."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def _locked(self, fd: int, wait_s: float) -> DataDirLocked:
        pid, command = _read_holder(fd)
        who = f"process {pid} ({command})" if pid is not None else "another process"
        waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
        return DataDirLocked(
            f"data dir {self.data_dir} is in use by {who}{waited}: quit that aitbc-tui first"
            " (two writers on one data dir would lose balances)",
            pid=pid,
            command=command,
        )

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


def _read_holder(fd: int) -> tuple[int | None, str]:
    from aitbc_tui.sanitize import plain_text

    try:
        raw = os.pread(fd, 4096, 0)
        record = json.loads(raw.decode("utf-8"))
        pid = record.get("pid")
        command = plain_text(str(record.get("command", "")), 200)
        return (pid if type(pid) is int else None), command or "command unknown"
    except (OSError, ValueError, AttributeError):
        # Just taken and not written yet, or not ours: the holder is unnamed, still refused.
        return None, "command unknown"
