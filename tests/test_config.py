"""Config: strict validation (every error names file, key and what is allowed), aliases,
sandbox when there is no file, and no ccxt import at parse time."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from aitbc_tui.config import ConfigError, load_config
from aitbc_tui.domain import Mode

GOOD = """
[venues.binance]
exchange = "binance"
mode = "paper"
symbols = ["BTC/USDT", "ETH/USDT"]
api_url = "http://127.0.0.1:8901"
ws_url = "ws://127.0.0.1:8901"
read_only = false

[venues.kraken]
exchange = "kraken"
mode = "live"
symbols = ["BTC/USD"]

[risk]
max_order_value = { binance = "1000", kraken = 500 }
max_open_orders = 20
daily_traded_value = "10000"

[ui]
theme = "dark"
impact_size = { default = "2", "BTC/USDT" = "0.5" }
min_arb_net_bps = "-50"

[keys]
"app.quit" = "ctrl+q"
"orders.history" = ["f5", "ctrl+r"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_good_config_parses(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert not config.is_sandbox
    binance = config.venue("binance")
    assert binance.exchange == "binance" and binance.mode is Mode.PAPER
    assert binance.symbols == ("BTC/USDT", "ETH/USDT")
    assert binance.api_url == "http://127.0.0.1:8901" and binance.ws_url == "ws://127.0.0.1:8901"
    assert config.venue("kraken").mode is Mode.LIVE
    assert config.risk.max_order_value_for("binance") == Decimal("1000")
    assert config.risk.max_order_value_for("kraken") == Decimal("500")
    assert config.risk.max_open_orders == 20
    assert config.risk.daily_traded_value == Decimal("10000")
    assert config.ui.impact_size_for("BTC/USDT") == Decimal("0.5")
    assert config.ui.impact_size_for("ETH/USDT") == Decimal("2")
    assert config.ui.min_arb_net_bps == Decimal("-50")
    assert dict(config.keys) == {"app.quit": "ctrl+q", "orders.history": "f5,ctrl+r"}
    assert config.notices == ()


def test_no_file_means_sandbox():
    config = load_config()  # AITBC_CONFIG_DIR points at an empty temp dir (conftest)
    assert config.is_sandbox and config.path is None and config.venues == ()


def test_default_path_is_read(isolated_dirs):
    _, config_dir = isolated_dirs
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text('[ui]\ntheme = "light"\n')
    config = load_config()
    assert config.is_sandbox and config.ui.theme == "light" and config.path == config_dir / "config.toml"


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found") as info:
        load_config(tmp_path / "nope.toml")
    assert str(tmp_path / "nope.toml") in str(info.value)


def test_coinbasepro_alias_maps_to_coinbaseexchange_with_notice(tmp_path):
    config = load_config(
        write(tmp_path, '[venues.cb]\nexchange = "coinbasepro"\nmode = "paper"\nsymbols = ["BTC/USD"]\n')
    )
    assert config.venue("cb").exchange == "coinbaseexchange"
    assert len(config.notices) == 1
    notice = config.notices[0]
    assert "venues.cb.exchange" in notice and "coinbaseexchange" in notice and "coinbase" in notice


def test_untested_exchange_is_accepted_with_notice(tmp_path):
    config = load_config(write(tmp_path, '[venues.o]\nexchange = "okx"\nmode = "paper"\nsymbols = ["BTC/USDT"]\n'))
    assert config.venue("o").exchange == "okx"
    assert any("not one of the tested" in n for n in config.notices)


VENUE = '[venues.binance]\nexchange = "binance"\nmode = "paper"\nsymbols = ["BTC/USDT"]\n'

# (toml, dotted key named in the error, text naming what is allowed)
BAD = [
    ("[venue]\n", "venue", "allowed keys: venues, risk, ui, keys"),
    (VENUE + "colour = 1\n", "venues.binance.colour", "allowed keys: exchange, mode, symbols"),
    (VENUE.replace('"paper"', '"papr"'), "venues.binance.mode", "paper, testnet, live"),
    (VENUE.replace('"paper"', '"sandbox"'), "venues.binance.mode", "paper, testnet, live"),
    (
        VENUE.replace('exchange = "binance"', 'exchange = "binanse"'),
        "venues.binance.exchange",
        "not a ccxt exchange id",
    ),
    (VENUE.replace('exchange = "binance"', "exchange = 3"), "venues.binance.exchange", "ccxt exchange id"),
    (VENUE.replace('exchange = "binance"\n', ""), "venues.binance.exchange", "is required"),
    (VENUE.replace('["BTC/USDT"]', "[]"), "venues.binance.symbols", "non-empty array"),
    (VENUE.replace('["BTC/USDT"]', '["BTCUSDT"]'), "venues.binance.symbols[0]", "BASE/QUOTE"),
    (VENUE.replace('["BTC/USDT"]', '["BTC/USDT", "BTC/USDT"]'), "venues.binance.symbols[1]", "twice"),
    (VENUE + 'api_url = "ftp://x"\n', "venues.binance.api_url", "http://host[:port] or https://host[:port]"),
    (VENUE + 'ws_url = "http://127.0.0.1:1"\n', "venues.binance.ws_url", "ws://host[:port] or wss://host[:port]"),
    (VENUE + 'ws_url = "ws://127.0.0.1:1"\n', "venues.binance.ws_url", "needs api_url as well"),
    (VENUE + 'read_only = "yes"\n', "venues.binance.read_only", "true or false"),
    (
        '[venues."bad name"]\nexchange="binance"\nmode="paper"\nsymbols=["BTC/USDT"]\n',
        "venues.bad name",
        "letters, digits",
    ),
    (
        VENUE + '[risk]\nmax_order_value = { kraken = "1" }\n',
        "risk.max_order_value.kraken",
        "configured venues: binance",
    ),
    (
        VENUE + "[risk]\nmax_order_value = { binance = 1000.5 }\n",
        "risk.max_order_value.binance",
        "decimal number written as a string",
    ),
    (VENUE + '[risk]\nmax_order_value = { binance = "-1" }\n', "risk.max_order_value.binance", "greater than 0"),
    (VENUE + "[risk]\nmax_open_orders = 0\n", "risk.max_open_orders", "whole number >= 1"),
    (VENUE + '[risk]\ndaily_traded_value = "lots"\n', "risk.daily_traded_value", "decimal number"),
    (VENUE + "[risk]\nstop_loss = 1\n", "risk.stop_loss", "max_order_value, max_open_orders, daily_traded_value"),
    ('[ui]\nimpact_size = "NaN"\n', "ui.impact_size", "not finite"),
    ('[ui]\nimpact_size = { BTCUSDT = "1" }\n', "ui.impact_size.BTCUSDT", "symbols like"),
    ("[ui]\nmin_arb_net_bps = 1.5\n", "ui.min_arb_net_bps", "decimal number written as a string"),
    ('[ui]\ntheme = ""\n', "ui.theme", "theme name"),
    ('[ui]\nfont = "x"\n', "ui.font", "theme, impact_size, min_arb_net_bps"),
    ('[keys]\n"app.quit" = 3\n', "keys.app.quit", 'a key such as "ctrl+b"'),
    ('[keys]\n"app.quit" = []\n', "keys.app.quit", "array of keys"),
    ("keys = 3\n", "keys", "must be a table"),
]


@pytest.mark.parametrize(("text", "key", "allowed"), BAD, ids=[b[1] for b in BAD])
def test_errors_name_file_key_and_allowed(tmp_path, text, key, allowed):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert f": {key}:" in message
    assert allowed in message
    assert info.value.key == key


def test_invalid_toml_names_file_and_position(tmp_path):
    path = write(tmp_path, "[ui\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_parse_config_without_ccxt_import():
    """Parsing a config with venues reads ccxt's exchange list without importing ccxt."""
    code = (
        "import sys\n"
        "from aitbc_tui.config import parse_config\n"
        "from aitbc_tui.venues import factory\n"
        'c = parse_config(\'[venues.b]\\nexchange="binance"\\nmode="paper"\\nsymbols=["BTC/USDT"]\\n\')\n'
        "assert c.venues[0].exchange == 'binance'\n"
        "bad = [m for m in sys.modules if m == 'ccxt' or m.startswith('ccxt.') or m.startswith('textual')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_exchange_ids_come_from_ccxt_source():
    from aitbc_tui.config import ccxt_exchange_ids

    ids = ccxt_exchange_ids()
    assert {"binance", "kraken", "coinbase", "coinbaseexchange"} <= ids
    assert "coinbasepro" not in ids
