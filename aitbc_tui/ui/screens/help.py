"""Help: every key, the modes, and how health is judged."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from aitbc_tui.service import HEALTH_RULE

KEYS: list[tuple[str, str]] = [
    ("b / s", "buy / sell form for the focused venue and symbol (focus in Amount)"),
    ("  ctrl+t", "in the form: switch limit / market"),
    ("  Enter", "in the form: review; then y places, n or Esc goes back"),
    ("c", "cancel the selected open order (after a confirmation)"),
    ("ctrl+k", "kill switch: cancel every open order on every venue"),
    ("v / ]", "next venue"),
    ("V / [", "previous venue"),
    ("/", "symbol picker (type to filter)"),
    ("h", "open orders / order history"),
    ("tab / shift+tab", "move between panes"),
    ("↑ / ↓", "move the selection in the orders pane"),
    ("t", "next theme"),
    ("K", "credentials: where each venue's keys are stored (masked); set, delete, test"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q", "quit"),
]

MODES: list[tuple[str, str]] = [
    ("SANDBOX", "simulated venues and matching engine; no network, no keys (default)"),
    ("PAPER", "a real venue's public feed; orders fill locally against it"),
    ("TESTNET", "the venue's test network, with testnet keys"),
    ("LIVE", "real keys, real orders: needs --live and typing the word shown at start"),
]


def help_text() -> str:
    width = max(len(k) for k, _ in KEYS)
    lines = ["[b]Keys[/b]"]
    lines += [f"  [b]{key:<{width}}[/b]  {what}" for key, what in KEYS]
    lines += ["", "[b]Modes[/b]"]
    lines += [f"  [b]{mode:<8}[/b]  {what}" for mode, what in MODES]
    lines += ["", "[b]Health[/b]"]
    lines += [f"  {part.strip()}" for part in HEALTH_RULE.split(";")]
    lines += [
        "  latency: round trip of the venue's lightweight request (the probe named in the pane)",
        "  book age: time since the newest order-book update from that venue",
        "",
        "[b]Arbitrage[/b]",
        "  buy at one venue's best ask, sell at another's best bid; net = after both taker fees;",
        "  size = what both books can fill while each slice stays profitable net of fees.",
    ]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="modal-box"):
            yield Static("aitbc-tui help", classes="modal-title")
            yield Static(help_text(), id="help-body")
            yield Static("Esc / ? / q close", classes="modal-hint")

    def action_close(self) -> None:
        self.dismiss(None)
