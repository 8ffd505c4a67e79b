"""One browser tab of ``aitbc-tui serve``: the dashboard, in a private data dir of its own
when the tab is read-only (``AITBC_SERVE_PRIVATE_DATA=1``), so any number of tabs can watch."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time

from aitbc_tui.desk.web import PRIVATE_DATA_ENV

PARENT_CHECK_S = 1.0


def exit_with_parent(data_dir: str | None) -> None:
    """A tab outlives nothing: when `serve` is gone (killed, crashed), the tab ends too,
    instead of running on with nobody to talk to."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_S)
            if os.getppid() != parent:
                if data_dir is not None:
                    shutil.rmtree(data_dir, ignore_errors=True)
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-serve", daemon=True).start()


def main(argv: list[str]) -> int:
    private = os.environ.get(PRIVATE_DATA_ENV) == "1"
    data_dir = tempfile.mkdtemp(prefix="aitbc-tab-") if private else None
    exit_with_parent(data_dir)
    if data_dir is not None:
        os.environ["AITBC_DATA_DIR"] = data_dir
    try:
        from aitbc_tui.cli import main as cli_main

        return cli_main(argv)
    finally:
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
