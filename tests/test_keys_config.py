"""The config's ``[keys]`` table (action id -> key): only the dashboard's action ids, and
never one key for two actions; the known ids are data in config.py, kept equal to the
app's bindings by a test here."""

from __future__ import annotations

import pytest
from textual.keys import _character_to_key

from aitbc_tui import config as config_module
from aitbc_tui.config import ConfigError, parse_config
from aitbc_tui.ui.app import AitbcApp

PATH = "/home/op/.config/aitbc-tui/config.toml"


def keys_of(text: str) -> dict[str, str]:
    return dict(parse_config("[keys]\n" + text, PATH).keys)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config("[keys]\n" + text, PATH)
    return str(info.value)


def test_the_known_action_ids_are_the_apps_binding_ids():
    app_ids = [b.id for b in AitbcApp.BINDINGS]
    assert None not in app_ids, "every dashboard binding needs an id to be remappable"
    assert list(config_module.KEY_ACTIONS) == app_ids


def test_the_default_keys_are_the_apps_binding_keys():
    for binding in AitbcApp.BINDINGS:
        keys = tuple(k.strip() for k in binding.key.split(","))
        assert config_module.KEY_ACTIONS[binding.id] == keys, binding.id


def test_every_known_action_id_can_be_remapped():
    ids = list(config_module.KEY_ACTIONS)
    assert set(ids) == {
        "order.buy",
        "order.sell",
        "order.cancel",
        "order.kill",
        "order.arbitrage",
        "inventory.show",
        "venue.next",
        "venue.previous",
        "symbol.pick",
        "orders.history",
        "theme.next",
        "app.help",
        "app.credentials",
        "app.quit",
        "focus.next",
        "focus.previous",
        "events.show",
        "alerts.new",
        "chart.show",
        "depth.show",
        "ladder.group",
        "layout.default",
        "layout.trade",
        "layout.watch",
        "layout.account",
        "pane.maximise",
        "pane.grow",
        "pane.shrink",
        "pane.size_reset",
    }
    # Each to a key nobody else uses: accepted as written.
    table = "".join(f'"{action}" = "f{n}"\n' for n, action in enumerate(ids, start=1))
    assert keys_of(table) == {action: f"f{n}" for n, action in enumerate(ids, start=1)}


def test_a_remap_with_several_keys_and_a_swap_are_accepted():
    assert keys_of('"order.buy" = ["f2", "ctrl+b"]\n') == {"order.buy": "f2,ctrl+b"}
    # b and s swapped: each key still does one action.
    assert keys_of('"order.buy" = "s"\n"order.sell" = "b"\n') == {"order.buy": "s", "order.sell": "b"}


@pytest.mark.parametrize("action", ["order.buyy", "quit", "help.close", "Order.Buy"])
def test_an_unknown_action_id_is_refused_naming_file_key_and_the_allowed_ids(action):
    message = error_of(f'"{action}" = "f2"\n')
    assert message.startswith(f"{PATH}: keys.{action}: unknown action id")
    assert "order.buy" in message and "focus.previous" in message


def test_two_actions_on_one_key_are_refused_naming_both_and_the_key():
    message = error_of('"order.buy" = "f2"\n"order.sell" = ["f3", "f2"]\n')
    assert message.startswith(f"{PATH}: keys.")
    assert "order.buy" in message and "order.sell" in message and '"f2"' in message


def test_a_key_taken_by_an_action_left_on_its_default_is_refused():
    # s is order.sell's default: mapping buy to s would silently take it from sell.
    message = error_of('"order.buy" = "s"\n')
    assert message.startswith(f"{PATH}: keys.order.buy: ")
    assert "order.sell" in message and '"s"' in message


@pytest.mark.parametrize(
    "table, taken_from",
    [
        ('"app.quit" = "?"\n', "app.help"),  # "?" is question_mark, app.help's default
        ('"app.quit" = "/"\n', "symbol.pick"),  # "/" is slash
        ('"app.quit" = "["\n', "venue.previous"),  # "[" is left_square_bracket
        ('"order.buy" = "tab"\n', "focus.next"),
    ],
)
def test_conflicts_are_found_whichever_way_a_key_is_written(table, taken_from):
    assert taken_from in error_of(table)


@pytest.mark.parametrize("character", list("-+@_%;#*~") + ["\\"])
def test_key_names_are_compared_the_way_textual_names_them(character):
    """One character and Textual's long name for it (``_character_to_key``) are one key."""
    written = character.replace("\\", "\\\\")
    message = error_of(f'"app.help" = "{written}"\n"app.quit" = "{_character_to_key(character)}"\n')
    assert "app.help" in message and "app.quit" in message


def test_the_shape_checks_still_come_first():
    assert "action ids are letters" in error_of('"order buy" = "f2"\n')
    assert 'a key such as "ctrl+b"' in error_of('"order.buy" = 3\n')
