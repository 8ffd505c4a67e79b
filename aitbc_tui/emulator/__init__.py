"""Exchange emulator: real exchange protocols (Binance, Kraken, Coinbase) in front of the
sandbox matching engine, so an unmodified ccxt client can trade against it.

The framework and the protocol plug-in contract live in ``server``; importing this package
imports neither ccxt nor textual.
"""

from aitbc_tui.emulator.server import PROTOCOLS, EmulatorContext, RunningEmulator, start_emulator

__all__ = ["PROTOCOLS", "EmulatorContext", "RunningEmulator", "start_emulator"]
