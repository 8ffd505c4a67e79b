"""Shared fixtures. Every test runs with its own data and config directories, so no
test reads or writes the operator's real sandbox, journal, vault or config."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    data = tmp_path / "data"
    config = tmp_path / "config"
    monkeypatch.setenv("AITBC_DATA_DIR", str(data))
    monkeypatch.setenv("AITBC_CONFIG_DIR", str(config))
    monkeypatch.delenv("AITBC_VAULT_PASSPHRASE", raising=False)
    monkeypatch.delenv("AITBC_TEST_CRASH_AT", raising=False)  # crash points are for crash tests only
    return data, config
