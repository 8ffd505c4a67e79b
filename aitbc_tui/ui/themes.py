"""Themes are data: TOML files in ``themes/`` (shipped as ``aitbc_tui/themes``) and the
user's config dir, turned into ``textual.theme.Theme`` objects. Trading colours are theme
variables."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

from aitbc_tui import paths

# Trading colours every pane uses; a theme may override any of them.
TRADING_VARIABLE_DEFAULTS: dict[str, str] = {
    "bid": "#26a69a",
    "ask": "#ef5350",
    "bid-bar": "#12443f",
    "ask-bar": "#4a1f22",
    "dim": "#8b95a5",  # labels and headers in Line-API panes (an opaque colour: no alpha)
    "stale": "#6b7280",
    "warning": "#f0b429",
    "live": "#ff2bd6",
    "mode-sandbox": "#4aa3df",
    "mode-paper": "#8b7fd4",
    "mode-testnet": "#f0b429",
}

_THEME_KEYS = {
    "name",
    "dark",
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "variables",
}
_COLOUR_KEYS = _THEME_KEYS - {"name", "dark", "variables"}


@dataclass(frozen=True)
class ThemeProblem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def builtin_theme_dir() -> Path:
    """The themes the package carries: ``aitbc_tui/themes`` (in a checkout a symlink to the
    top-level ``themes/``; in a wheel a real directory, filled from package-data). Never a
    path outside the package, so a checkout cannot hide a wheel that lacks the themes."""
    return Path(__file__).resolve().parent.parent / "themes"


def theme_dirs() -> list[Path]:
    """Built-in themes first, then the user's (a user theme of the same name wins)."""
    candidates = [builtin_theme_dir(), paths.config_dir() / "themes"]
    seen: list[Path] = []
    for candidate in candidates:
        if candidate.is_dir() and candidate not in seen:
            seen.append(candidate)
    return seen


def load_theme_file(path: Path) -> Theme:
    """Parse one theme file; raise ValueError naming the key on any problem."""
    from aitbc_tui.safeio import UnreadableFile, loads_toml, read_small_text

    try:
        data = loads_toml(read_small_text(path), path)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    except UnreadableFile as exc:
        raise ValueError(exc.reason) from None
    unknown = sorted(set(data) - _THEME_KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_THEME_KEYS))}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise ValueError("key 'name' must be a non-empty string")
    if "primary" not in data:
        raise ValueError("key 'primary' is required")
    for key in _COLOUR_KEYS & set(data):
        _check_colour(key, data[key])
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("[variables] must be a table of colour strings")
    for key, value in variables.items():
        _check_colour(f"variables.{key}", value)
    merged = {**TRADING_VARIABLE_DEFAULTS, **variables}
    kwargs = {k: v for k, v in data.items() if k in _COLOUR_KEYS}
    return Theme(name=data["name"], dark=bool(data.get("dark", True)), variables=merged, **kwargs)


def _check_colour(key: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f'key {key!r} must be a colour string like "#26a69a"')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"key {key!r}: {value!r} is not a colour") from None


def load_themes() -> tuple[list[Theme], list[ThemeProblem]]:
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    for directory in theme_dirs():
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except (OSError, ValueError) as exc:
                problems.append(ThemeProblem(path, str(exc)))
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
