"""A lock per data dir, held by a real child process: a second taker is refused naming
the holder's PID and command, a waiting taker gets it when the holder lets go, and a
SIGKILLed holder leaves no stale lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from aitbc_tui.datalock import DataDirLock, DataDirLocked
from aitbc_tui.errors import UserError

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import sys
from aitbc_tui.datalock import DataDirLock
lock = DataDirLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.readline()  # hold until the test says so
lock.release()
print("released", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path):
    """A child process holding the lock on tmp_path/data (waited for, not slept on)."""
    data = tmp_path / "data"
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    child = subprocess.Popen(
        [sys.executable, str(script), str(data), "--marker-arg"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout.readline().strip() == "locked"
    yield child, data
    if child.poll() is None:
        child.kill()
    child.wait(timeout=30)


def test_data_dir_locked_is_a_user_error():
    assert issubclass(DataDirLocked, UserError)


def test_a_second_taker_is_refused_naming_the_holder(holder):
    child, data = holder
    with pytest.raises(DataDirLocked) as info:
        DataDirLock(data).acquire()
    error = info.value
    assert error.pid == child.pid and "--marker-arg" in error.command
    message = str(error)
    assert message.startswith(f"data dir {data} is in use by process {child.pid} (")
    assert "quit that aitbc-tui first" in message and "\n" not in message
    assert DataDirLock(data).holder() == (child.pid, error.command)


def test_the_lock_file_records_pid_and_command_privately(holder):
    child, data = holder
    record = json.loads((data / "lock").read_text())
    assert record["pid"] == child.pid and "--marker-arg" in record["command"] and record["since"].endswith("Z")
    assert oct((data / "lock").stat().st_mode & 0o777) == "0o600"
    assert oct(data.stat().st_mode & 0o777) == "0o700"


def test_a_short_wait_that_is_not_enough_says_so(holder):
    child, data = holder
    with pytest.raises(DataDirLocked, match=r"after waiting 0\.2 s"):
        DataDirLock(data).acquire(wait_s=0.2)


def test_a_waiting_taker_gets_the_lock_when_the_holder_lets_go(holder):
    child, data = holder
    taken = threading.Event()
    errors: list[BaseException] = []
    lock = DataDirLock(data)

    def wait_for_it():
        try:
            lock.acquire(wait_s=60)
            taken.set()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    waiter = threading.Thread(target=wait_for_it, daemon=True)
    waiter.start()
    assert not taken.is_set()  # the child still holds it
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "released"
    assert taken.wait(timeout=60) and not errors
    waiter.join(timeout=60)
    assert json.loads((data / "lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert (data / "lock").read_text() == ""  # released: nobody named as holder
    assert DataDirLock(data).holder() is None


def test_a_killed_holder_leaves_no_stale_lock(holder):
    child, data = holder
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    with DataDirLock(data).acquire(wait_s=30) as lock:  # the kernel dropped the flock
        assert lock.held


def test_acquire_release_and_reacquire_in_one_process(tmp_path):
    lock = DataDirLock(tmp_path / "d")
    with lock.acquire():
        assert lock.acquire() is lock  # already held by this object
        with pytest.raises(DataDirLocked, match=f"process {os.getpid()} "):
            DataDirLock(tmp_path / "d").acquire()
    assert not lock.held
    with DataDirLock(tmp_path / "d") as again:
        assert again.held


def test_a_symlinked_lock_file_is_refused(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UserError, match="cannot open the data dir lock"):
        DataDirLock(data).acquire()
    assert not (tmp_path / "elsewhere").exists()


def test_a_hostile_lock_file_cannot_drive_the_terminal(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "lock").write_text(json.dumps({"pid": 1, "command": "evil\x1b[2J\nforged"}))
    import fcntl

    fd = os.open(data / "lock", os.O_RDONLY)
    try:
        # Hold it through another open file description: flock conflicts even in-process.
        fcntl.flock(fd, fcntl.LOCK_SH)
        with pytest.raises(DataDirLocked) as info:
            DataDirLock(data).acquire()
    finally:
        os.close(fd)
    assert info.value.command == "evil forged" and "\x1b" not in str(info.value)


def test_datalock_imports_neither_textual_nor_ccxt():
    code = "import aitbc_tui.datalock, sys; print(sorted(m for m in ('textual', 'ccxt') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
