"""The built-in themes: five of them, each readable in a 256-colour terminal (Rich turns
truecolor into the nearest of 256 with ``Color.downgrade``: a pale tint whose channels all
round to one level of the 6x6x6 cube comes out grey), the colour-blind one told apart
under protanopia and deuteranopia, and the package's copy the same as ``themes/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich._palettes import EIGHT_BIT_PALETTE
from rich.color import Color as RichColor, ColorSystem
from textual.color import Color

import aitbc_tui
from aitbc_tui.ui.panes.chart import VOLUME_ALPHA
from aitbc_tui.ui.themes import load_themes

PACKAGE = Path(aitbc_tui.__file__).resolve().parent
ROOT = PACKAGE.parent
BUILT_IN = ["aitbc-amber", "aitbc-colorblind", "aitbc-dark", "aitbc-high-contrast", "aitbc-light"]


@pytest.fixture(autouse=True)
def no_user_themes(tmp_path, monkeypatch):
    monkeypatch.setenv("AITBC_CONFIG_DIR", str(tmp_path / "config"))


def themes_by_name():
    loaded, problems = load_themes()
    assert problems == []
    return {t.name: t for t in loaded}


def in_256(colour: str | Color) -> tuple[int, int, int]:
    """What a 256-colour terminal shows for ``colour`` (Rich's own downgrade)."""
    hex_colour = colour if isinstance(colour, str) else colour.hex
    number = RichColor.parse(hex_colour).downgrade(ColorSystem.EIGHT_BIT).number
    assert number is not None
    return tuple(EIGHT_BIT_PALETTE[number])  # type: ignore[return-value]


def is_grey(rgb: tuple[int, int, int]) -> bool:
    return rgb[0] == rgb[1] == rgb[2]


def test_the_five_builtin_themes():
    assert sorted(themes_by_name()) == BUILT_IN


def test_the_light_bid_bar_was_grey_in_256_colours():
    # Why the old light theme lost its bid bars: #cfe9e5 is (207, 233, 229); each channel
    # rounds to cube level 4 (215), so the nearest of 256 is grey 188, (215, 215, 215).
    assert in_256("#cfe9e5") == (215, 215, 215)
    assert in_256(themes_by_name()["aitbc-light"].variables["bid-bar"]) == (175, 215, 215)


@pytest.mark.parametrize("name", BUILT_IN)
def test_bid_and_ask_stay_distinct_and_coloured_in_256_colours(name):
    theme = themes_by_name()[name]
    v = theme.variables
    background = Color.parse(theme.background or "#000000")
    colours = {key: in_256(v[key]) for key in ("bid", "ask", "bid-bar", "ask-bar")}
    # The chart's volume bars: bid / ask at 55 % over the background (PriceChart.VOLUME_ALPHA).
    colours["vol-bid"] = in_256(background.blend(Color.parse(v["bid"]), VOLUME_ALPHA))
    colours["vol-ask"] = in_256(background.blend(Color.parse(v["ask"]), VOLUME_ALPHA))
    for key, rgb in colours.items():
        assert not is_grey(rgb), f"{name}: {key} {v.get(key, '')} is grey {rgb} in 256 colours"
    for bid, ask in (("bid", "ask"), ("bid-bar", "ask-bar"), ("vol-bid", "vol-ask")):
        assert colours[bid] != colours[ask], f"{name}: {bid} and {ask} are one colour in 256 colours"
    bg = in_256(background)
    for side in ("bid", "ask"):
        assert colours[f"{side}-bar"] != bg, f"{name}: the {side} bar vanishes into the background"
        assert colours[f"{side}-bar"] != colours[side], f"{name}: {side} text on its bar is invisible"


# Machado, Oliveira and Fernandes (2009), severity 1, applied in linear RGB.
PROTANOPIA = ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998))
DEUTERANOPIA = ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881))


def seen_with(matrix, colour: str) -> tuple[float, ...]:
    def linear(c: int) -> float:
        x = c / 255
        return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4

    def encoded(x: float) -> float:
        x = min(1.0, max(0.0, x))
        return 255 * (12.92 * x if x <= 0.0031308 else 1.055 * x ** (1 / 2.4) - 0.055)

    c = Color.parse(colour)
    rgb = (linear(c.r), linear(c.g), linear(c.b))
    return tuple(encoded(sum(row[j] * rgb[j] for j in range(3))) for row in matrix)


def distance(a, b) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


def test_the_colour_blind_theme_is_blue_and_orange_and_survives_red_green_blindness():
    themes = themes_by_name()
    v = themes["aitbc-colorblind"].variables
    for rgb in (Color.parse(v["bid"]).rgb, in_256(v["bid"])):
        assert rgb[2] > rgb[0] and rgb[2] > rgb[1], f"bid {rgb} is not blue"
    for rgb in (Color.parse(v["ask"]).rgb, in_256(v["ask"])):
        assert rgb[0] > rgb[1] > rgb[2], f"ask {rgb} is not orange"
    for matrix in (PROTANOPIA, DEUTERANOPIA):
        assert distance(seen_with(matrix, v["bid"]), seen_with(matrix, v["ask"])) > 200
    # The check bites: the default green / red pair is much closer under both.
    dark = themes["aitbc-dark"].variables
    for matrix in (PROTANOPIA, DEUTERANOPIA):
        assert distance(seen_with(matrix, dark["bid"]), seen_with(matrix, dark["ask"])) < 100


def test_the_package_copy_is_themes_dir():
    top = ROOT / "themes"
    if not top.is_dir():
        pytest.skip("not a checkout")
    shipped = {p.name: p.read_bytes() for p in (PACKAGE / "themes").glob("*.toml")}
    source = {p.name: p.read_bytes() for p in top.glob("*.toml")}
    assert shipped == source and len(source) == 5
