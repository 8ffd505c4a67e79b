"""The desk modules import neither textual nor ccxt (the collector imports ccxt only when a
ccxt venue is configured, inside ``collector_venues``)."""

from __future__ import annotations

import pytest

from tests.test_layers import _loaded_after


@pytest.mark.parametrize(
    "module",
    [
        "aitbc_tui.desk.wire",
        "aitbc_tui.desk.bus",
        "aitbc_tui.desk.collector",
        "aitbc_tui.desk.feed_venue",
        "aitbc_tui.commands.desk",
    ],  # fmt: skip
)
def test_desk_module_imports_neither_textual_nor_ccxt(module):
    assert _loaded_after(f"import {module}") == {"textual": False, "ccxt": False}, module
