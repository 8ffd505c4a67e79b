"""`aitbc-tui emulate`: fixed default ports, port errors in one line (exit 2), --log-requests."""

from __future__ import annotations

import asyncio
import io
import re
import socket

import ccxt.async_support as ccxt
import pytest

from aitbc_tui import cli
from aitbc_tui.commands.emulate import DEFAULT_PORTS, serve
from tests.emulator_helpers import wait_for


def test_default_ports():
    assert DEFAULT_PORTS == {"binance": 18081, "kraken": 18082, "coinbase": 18083}


def test_port_out_of_range_is_one_line_exit_2(capsys):
    assert cli.main(["emulate", "--venue", "binance", "--port", "99999"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("aitbc-tui: error: --port 99999 is not a port")


@pytest.mark.parametrize("explicit", [False, True])
def test_port_in_use_says_so_and_exits_2(capsys, explicit):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        if explicit:
            holder.bind(("127.0.0.1", 0))
            port = holder.getsockname()[1]
        else:
            port = DEFAULT_PORTS["kraken"]
            try:
                holder.bind(("127.0.0.1", port))
            except OSError:
                pass  # someone else holds it already: just as taken
        holder.listen()
        argv = ["emulate", "--venue", "kraken"] + (["--port", str(port)] if explicit else [])
        assert cli.main(argv) == 2
    finally:
        holder.close()
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and f"{port} on 127.0.0.1 is already in use" in err
    assert ("default port" in err) is not explicit


async def test_log_requests_prints_each_request_without_secrets():
    args = cli.build_parser().parse_args(
        [
            "emulate",
            "--venue",
            "binance",
            "--port",
            "0",
            "--api-key",
            "log-key",
            "--secret",
            "s3cr3t" * 8,
            "--log-requests",
        ]
    )
    out, stop = io.StringIO(), asyncio.Event()
    server = asyncio.create_task(serve(args, out, stop))
    try:
        await wait_for(lambda: "Ctrl-C" in out.getvalue())
        url = re.search(r"REST\s+(http://127\.0\.0\.1:\d+)", out.getvalue()).group(1)
        exchange = ccxt.binance({"apiKey": "log-key", "secret": "s3cr3t" * 8,
                                 "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                                             "fetchMargins": False}})  # fmt: skip
        exchange.urls["api"] = {"public": f"{url}/api/v3", "private": f"{url}/api/v3"}
        try:
            await exchange.fetch_balance()
            signature = exchange.last_request_url.rsplit("signature=", 1)[1]
            with pytest.raises(ccxt.OrderNotFound):
                await exchange.fetch_order("12345", "BTC/USDT")
        finally:
            await exchange.close()
        log = out.getvalue().split("Ctrl-C stops the emulator.\n", 1)[1]
        lines = log.strip().splitlines()
        assert re.fullmatch(r"GET /api/v3/exchangeInfo 200 \d+\.\d ms", lines[0])
        account = next(line for line in lines if line.startswith("GET /api/v3/account"))
        assert re.fullmatch(
            r"GET /api/v3/account\?timestamp=\d+&recvWindow=10000&signature=\*\*\* 200 \d+\.\d ms", account
        )
        assert re.search(r"GET /api/v3/order\?timestamp=\d+&symbol=BTCUSDT&orderId=12345&.*signature=\*\*\* 400 ", log)
        assert signature not in log and "log-key" not in log.split("API key", 1)[-1] and "s3cr3t" not in log
        assert "X-MBX-APIKEY" not in log
    finally:
        stop.set()
        assert await asyncio.wait_for(server, 10) == 0
