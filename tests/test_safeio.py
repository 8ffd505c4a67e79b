"""Bounded reads: a FIFO, /dev/zero behind a symlink, a 2 MiB file, latin-1 bytes and a
deeply nested TOML each give one line, promptly, without reading more than the limit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import tomllib

import pytest

from aitbc_tui.errors import UserError
from aitbc_tui.safeio import SMALL_TEXT_LIMIT, UnreadableFile, loads_toml, read_small_text


def read_in_thread(path, **kw):
    """Run the read where a hang cannot hang the test: wait for it, with a generous bound."""
    outcome: dict[str, object] = {}

    def target():
        try:
            outcome["text"] = read_small_text(path, **kw)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "read_small_text blocked"
    return outcome


def refused(path, **kw) -> str:
    outcome = read_in_thread(path, **kw)
    error = outcome.get("error")
    assert isinstance(error, UnreadableFile), outcome
    assert "\n" not in str(error) and str(error) == f"{path}: {error.reason}"
    return error.reason


def test_a_small_utf8_file_is_read(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('name = "café ✓"\n', encoding="utf-8")
    assert read_small_text(path) == 'name = "café ✓"\n'


def test_the_error_is_a_user_error_and_a_value_error():
    assert issubclass(UnreadableFile, UserError) and issubclass(UnreadableFile, ValueError)


def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path):
    path = tmp_path / "config.toml"
    os.mkfifo(path)
    assert refused(path) == "is a FIFO, not a regular file"


def test_a_symlink_to_dev_zero_is_refused(tmp_path):
    path = tmp_path / "theme.toml"
    path.symlink_to("/dev/zero")
    assert refused(path) == "is a character device, not a regular file"


def test_a_symlink_to_a_regular_file_is_followed(tmp_path):
    (tmp_path / "real.toml").write_text("a = 1\n", encoding="utf-8")
    (tmp_path / "link.toml").symlink_to(tmp_path / "real.toml")
    assert read_small_text(tmp_path / "link.toml") == "a = 1\n"


def test_a_directory_is_refused(tmp_path):
    assert refused(tmp_path) == "is a directory, not a regular file"


def test_a_2_mib_file_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"#" * (2 << 20))
    assert refused(path) == "is larger than 1 MiB; not a config or theme file"


def test_the_limit_itself_is_allowed_one_byte_more_is_not(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b"a" * SMALL_TEXT_LIMIT)
    assert len(read_small_text(path)) == SMALL_TEXT_LIMIT
    path.write_bytes(b"a" * (SMALL_TEXT_LIMIT + 1))
    assert refused(path) == "is larger than 1 MiB; not a config or theme file"
    path.write_bytes(b"a" * 1025)
    assert refused(path, limit=1024) == "is larger than 1 KiB; not a config or theme file"


def test_a_file_whose_size_lies_is_still_bounded(tmp_path):
    # /proc files report size 0; reading stops at limit + 1 bytes whatever the size says.
    text = read_small_text("/proc/self/status")
    assert text.startswith("Name:")
    assert refused("/proc/self/status", limit=16) == "is larger than 16 bytes; not a config or theme file"


def test_latin1_bytes_are_refused_with_the_offset(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('name = "café"\n'.encode("latin-1"))
    assert refused(path) == "is not UTF-8 text (byte 0xe9 at offset 11)"


def test_a_missing_file(tmp_path):
    assert refused(tmp_path / "nope.toml") == "file not found"


def test_an_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = tmp_path / "c.toml"
    path.write_text("a = 1\n")
    path.chmod(0)
    assert refused(path) == "cannot read: Permission denied"


def test_a_symlink_loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert refused(tmp_path / "a") == "is a symlink loop"


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{x = ", "}")])
def test_deeply_nested_toml_is_one_line(tmp_path, opening, closing):
    depth = 100_000
    text = "a = " + opening * depth + closing * depth + "\n"
    with pytest.raises(UnreadableFile) as info:
        loads_toml(text, tmp_path / "c.toml")
    assert str(info.value) == f"{tmp_path / 'c.toml'}: is nested too deeply (arrays or tables inside each other)"


def test_loads_toml_parses_and_lets_decode_errors_through(tmp_path):
    assert loads_toml("a = [[1], {b = 2}]\n", "c.toml") == {"a": [[1], {"b": 2}]}
    with pytest.raises(tomllib.TOMLDecodeError):
        loads_toml("a = = 1\n", "c.toml")


def test_safeio_imports_neither_textual_nor_ccxt():
    code = "import aitbc_tui.safeio, sys; print(sorted(m for m in ('textual', 'ccxt') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
