"""Layering: nothing below the UI imports textual; the sandbox path never imports ccxt."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

NON_UI_MODULES = [
    "aitbc_tui.domain",
    "aitbc_tui.book",
    "aitbc_tui.venues.binance_depth",
    "aitbc_tui.analysis",
    "aitbc_tui.validation",
    "aitbc_tui.formatting",
    "aitbc_tui.service",
    "aitbc_tui.sim.engine",
    "aitbc_tui.sim.market",
    "aitbc_tui.sim.world",
    "aitbc_tui.venues.sim",
    "aitbc_tui.venues.factory",
    "aitbc_tui.config",
    "aitbc_tui.journal",
    "aitbc_tui.credentials",
    "aitbc_tui.cli",
]


def _loaded_after(code: str, env: dict[str, str] | None = None) -> dict[str, bool]:
    probe = code + "\nimport json, sys\nprint(json.dumps({m: m in sys.modules for m in ('textual', 'ccxt')}))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("module", NON_UI_MODULES)
def test_non_ui_module_imports_neither_textual_nor_ccxt(module):
    loaded = _loaded_after(f"import {module}")
    assert loaded == {"textual": False, "ccxt": False}, module


def test_headless_sandbox_command_imports_neither_textual_nor_ccxt(tmp_path):
    code = (
        "import contextlib, io\n"
        "from aitbc_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--seed', '7', 'health', '--json']) == 0\n"
    )
    loaded = _loaded_after(code, {"AITBC_DATA_DIR": str(tmp_path / "d"), "AITBC_CONFIG_DIR": str(tmp_path / "c")})
    assert loaded == {"textual": False, "ccxt": False}
