"""A venue imports only its own exchange from ccxt (aitbc_tui.venues.ccxt_import).

``import ccxt.pro`` imports all of ccxt's ~110 exchanges three times over (about 330
modules, 1.0-1.3 s of CPU here); three venues need six of those modules' classes. Each
check runs in a fresh interpreter, since this test process may have imported ccxt whole.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_three_configured_venues_import_three_exchanges_not_all_of_ccxt(tmp_path):
    config = tmp_path / "venues.toml"
    config.write_text(
        "\n".join(
            f'[venues.{v}]\nexchange = "{v}"\nmode = "paper"\nsymbols = ["BTC/USDT"]\n'
            f'api_url = "http://127.0.0.1:9"\nws_url = "ws://127.0.0.1:9"\n'
            for v in ("binance", "kraken", "coinbase")
        ),
        encoding="utf-8",
    )
    got = _run(
        f"""
        import json, sys
        from aitbc_tui.config import load_config
        from aitbc_tui.venues.factory import build_venues
        venues = build_venues(load_config({str(config)!r}))
        inner = [v.inner for v in venues]
        assert all(v.uses_websocket for v in inner)  # asks ccxt.pro's class of each
        import ccxt, ccxt.pro, ccxt.async_support
        loaded = sorted(m for m in sys.modules if m.startswith(("ccxt.async_support.", "ccxt.pro.")) and
                        m.count(".") == 2 and not m.endswith(".base"))
        print(json.dumps({{
            "loaded": loaded,
            "rest": [type(v._rest).__module__ for v in inner],
            "pro_is_rest_subclass": issubclass(ccxt.pro.kraken, ccxt.async_support.kraken),
            "errors": ccxt.NetworkError is sys.modules["ccxt.base.errors"].NetworkError and ccxt.pro.NetworkError is ccxt.NetworkError,
            "version": ccxt.__version__,
            "listed": "okx" in ccxt.exchanges,
        }}))
        """
    )
    assert got["loaded"] == [
        "ccxt.async_support.binance",
        "ccxt.async_support.coinbase",
        "ccxt.async_support.kraken",
        "ccxt.pro.binance",
        "ccxt.pro.coinbase",
        "ccxt.pro.kraken",
    ]
    assert got["rest"] == ["ccxt.async_support.binance", "ccxt.async_support.kraken", "ccxt.async_support.coinbase"]
    assert got["pro_is_rest_subclass"] and got["errors"] and got["listed"]
    assert got["version"]


def test_every_other_exchange_is_still_there_on_first_use():
    got = _run(
        """
        import json
        from aitbc_tui.venues.ccxt_import import exchange_class
        binance = exchange_class("binance", pro=True)
        import ccxt, ccxt.pro, ccxt.async_support
        okx = ccxt.pro.okx  # never configured: imported now, the class (not the module)
        from ccxt.async_support import bybit
        print(json.dumps({
            "okx": isinstance(okx, type) and issubclass(okx, ccxt.async_support.okx),
            "sync": ccxt.kraken.__name__ == "kraken" and isinstance(ccxt.kraken, type),
            "bybit": isinstance(bybit, type),
            "binance": ccxt.pro.binance is binance,
            "unknown": exchange_class("no-such-exchange", pro=False) is None
                       and exchange_class("nosuchexchange", pro=True) is None,
        }))
        """
    )
    assert got == {"okx": True, "sync": True, "bybit": True, "binance": True, "unknown": True}
