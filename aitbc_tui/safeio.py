"""Bounded reads of small text files (config, themes): never hang, never eat memory.

``read_small_text`` opens without blocking (a FIFO with no writer would block a plain
``open``), accepts only a regular file (a symlink to ``/dev/zero`` is a character
device), reads at most ``limit + 1`` bytes and decodes strict UTF-8. ``loads_toml``
turns a document nested too deeply for the parser into the same one-line error.

Nothing here imports textual or ccxt.
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from aitbc_tui.errors import UserError

SMALL_TEXT_LIMIT = 1 << 20  # 1 MiB: a config or theme is a few KiB

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UnreadableFile(UserError, ValueError):
    """A small text file that cannot be used; str() is ``<path>: <reason>`` on one line,
    ``reason`` the part after the path (for callers that name the file themselves). A
    ValueError too, so a loader that reports ValueError (the theme loader) needs no new
    except clause."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def _size(limit: int) -> str:
    if limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    if limit % (1 << 10) == 0:
        return f"{limit >> 10} KiB"
    return f"{limit} bytes"


def read_small_text(path: Path | str, limit: int = SMALL_TEXT_LIMIT) -> str:
    """The UTF-8 text of the regular file at ``path``, at most ``limit`` bytes; otherwise
    UnreadableFile (missing, not a regular file, too large, not UTF-8, unreadable)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnreadableFile(path, "file not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile(path, "is a symlink loop") from None
        raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
            raise UnreadableFile(path, f"is {kind}, not a regular file")
        too_big = UnreadableFile(path, f"is larger than {_size(limit)}; not a config or theme file")
        if st.st_size > limit:
            raise too_big
        # The size can lie (a file that grows, /proc): never read more than limit + 1.
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            try:
                chunk = os.read(fd, min(remaining, 1 << 16))
            except BlockingIOError:  # pragma: no cover - a regular file never blocks
                continue
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        if remaining <= 0:
            raise too_big
    except OSError as exc:
        raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def loads_toml(text: str, path: Path | str) -> dict[str, Any]:
    """``tomllib.loads``; a document nested too deeply for the parser's recursion is an
    UnreadableFile (a TOMLDecodeError passes through, for the caller's own message)."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise UnreadableFile(path, "is nested too deeply (arrays or tables inside each other)") from None
