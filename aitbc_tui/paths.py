"""Where aitbc-tui keeps its files (platformdirs), overridable for tests."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "aitbc-tui"


def data_dir() -> Path:
    """User data directory: sandbox state, journal, vault. ``AITBC_DATA_DIR`` overrides."""
    override = os.environ.get("AITBC_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))
    return path


def config_dir() -> Path:
    """User config directory: config.toml, themes/. ``AITBC_CONFIG_DIR`` overrides."""
    override = os.environ.get("AITBC_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 if missing."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
