"""The simulation: matching engines, simulated market, sandbox persistence (no textual, no ccxt)."""

from aitbc_tui.sim.engine import BalancesChanged, BookDelta, MatchingEngine, OrderUpdated, TradeExecuted
from aitbc_tui.sim.store import SandboxStore, reset_sandbox, sandbox_path
from aitbc_tui.sim.world import (
    SandboxAdminError,
    SandboxWorld,
    add_liquidity,
    create_pair,
    open_world,
)

__all__ = [
    "BalancesChanged",
    "BookDelta",
    "MatchingEngine",
    "OrderUpdated",
    "TradeExecuted",
    "SandboxAdminError",
    "SandboxStore",
    "SandboxWorld",
    "add_liquidity",
    "create_pair",
    "open_world",
    "reset_sandbox",
    "sandbox_path",
]
