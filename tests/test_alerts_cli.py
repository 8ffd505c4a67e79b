"""`aitbc-tui alerts list|add|remove|pause|resume [--json]` on the data dir's rules and the
config's [alerts]; bad input is one line and exit 2."""

from __future__ import annotations

import json

from aitbc_tui.cli import main


def test_add_list_pause_resume_remove(capsys):
    assert main(["alerts", "add", "--kind", "price_above", "--symbol", "BTC/USDT", "--level", "100000"]) == 0
    assert capsys.readouterr().out == "added r1: BTC/USDT last above 100000 (any venue)\n"
    assert main(["alerts", "add", "--kind", "fill", "--min-notional", "500", "--venue", "kraken", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "r2"
    assert main(["alerts", "pause", "r1"]) == 0
    capsys.readouterr()
    assert main(["alerts", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["kind"], r["paused"], r["source"]) for r in rows] == [
        ("r1", "price_above", True, "runtime"),
        ("r2", "fill", False, "runtime"),
    ]
    assert rows[0]["level"] == "100000"
    assert main(["alerts", "resume", "r1"]) == 0 and main(["alerts", "remove", "r2"]) == 0
    capsys.readouterr()
    assert main(["alerts", "list"]) == 0
    assert capsys.readouterr().out == "r1  active  runtime  BTC/USDT last above 100000 (any venue)\n"


def test_config_rules_are_listed_and_paused_but_not_removed(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[[alerts.rules]]\nid = "wide"\nkind = "spread_above"\nsymbol = "ETH/USDT"\nbps = "25"\n')
    assert main(["--config", str(config), "alerts", "pause", "wide"]) == 0
    assert main(["--config", str(config), "alerts", "remove", "wide"]) == 2
    captured = capsys.readouterr()
    assert "'wide' is defined in the config's [alerts]: remove it there" in captured.err
    assert main(["--config", str(config), "alerts", "list"]) == 0
    assert capsys.readouterr().out == "wide  paused  config   ETH/USDT spread wider than 25 bps (any venue)\n"


def test_bad_rules_and_unknown_ids_exit_2_with_one_line(capsys):
    assert main(["alerts", "add", "--kind", "price_above", "--symbol", "BTC/USDT", "--level", "-3"]) == 2
    err = capsys.readouterr().err
    assert err == "aitbc-tui: error: level: '-3' must be greater than 0\n"
    assert main(["alerts", "add", "--kind", "spread_above", "--symbol", "BTC/USDT", "--bps", "5", "--asset", "X"]) == 2
    assert "asset: unknown field for a spread_above rule" in capsys.readouterr().err
    assert main(["alerts", "pause", "r9"]) == 2
    assert capsys.readouterr().err == "aitbc-tui: error: no alert rule 'r9'; `aitbc-tui alerts list` shows them\n"


def test_add_the_resync_storm_and_pnl_rules(capsys):
    assert (
        main(["alerts", "add", "--kind", "resync_storm", "--venue", "binance", "--count", "5", "--within", "60"]) == 0
    )
    assert capsys.readouterr().out == "added r1: binance: more than 5 book resyncs within 60 s\n"
    assert main(["alerts", "add", "--kind", "pnl_below", "--threshold", "-250", "--period", "today"]) == 0
    assert capsys.readouterr().out == "added r2: today P&L below -250 USDT (any venue)\n"
    assert main(["alerts", "add", "--kind", "pnl_below", "--threshold", "-1", "--period", "week"]) == 2
    assert "period: 'week' is not allowed; use one of session, today, total" in capsys.readouterr().err
    assert main(["alerts", "add", "--kind", "resync_storm", "--count", "x", "--within", "60"]) == 2
    assert "count: 'x' is not allowed" in capsys.readouterr().err
