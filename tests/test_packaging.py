"""The built-in themes ship inside the package, found by the lookup the app uses.

A checkout keeps them in the top-level ``themes/`` (``aitbc_tui/themes`` is a symlink to
it); a wheel carries them as ``aitbc_tui/themes/*.toml``. The lookup must never reach
outside the package, or a checkout hides a wheel without themes (``scripts/check_wheel``
proves the wheel itself).
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

import aitbc_tui
from aitbc_tui import paths
from aitbc_tui.ui import themes

PACKAGE = Path(aitbc_tui.__file__).resolve().parent
ROOT = PACKAGE.parent
BUILT_IN = {"aitbc-dark", "aitbc-light", "aitbc-amber", "aitbc-colorblind", "aitbc-high-contrast"}


@pytest.fixture(autouse=True)
def empty_config_dir(tmp_path, monkeypatch):
    # No user themes: only what the package carries.
    monkeypatch.setenv("AITBC_CONFIG_DIR", str(tmp_path / "config"))


def test_the_builtin_theme_dir_is_inside_the_package():
    dirs = themes.theme_dirs()
    assert dirs, "no theme directory found"
    assert dirs[0] == PACKAGE / "themes"
    outside = [d for d in dirs if not d.is_relative_to(PACKAGE)]
    assert outside == [], f"theme lookup reaches outside the package: {outside}"


def test_user_themes_come_after_the_builtin_ones():
    user = paths.config_dir() / "themes"
    user.mkdir(parents=True)
    assert themes.theme_dirs() == [PACKAGE / "themes", user]


def test_the_builtin_themes_load_with_no_problems():
    loaded, problems = themes.load_themes()
    assert problems == []
    assert BUILT_IN <= {t.name for t in loaded}


def test_package_data_globs_cover_every_builtin_theme_file():
    """What setuptools packs (pyproject's package-data) is what the lookup reads."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["aitbc_tui"]
    files = sorted((PACKAGE / "themes").glob("*.toml"))
    assert len(files) >= 3
    for path in files:
        relative = path.relative_to(PACKAGE).as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs), f"{relative} is not in package-data {globs}"


def test_the_package_themes_are_the_top_level_themes():
    """One copy of each theme: ``aitbc_tui/themes`` is the top-level ``themes/``."""
    top = ROOT / "themes"
    if not top.is_dir():
        pytest.skip("not a checkout")
    assert (PACKAGE / "themes").resolve() == top.resolve()
