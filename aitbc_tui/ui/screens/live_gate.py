"""The live-trading gate: shown at start when a venue trades real money.

The operator must type the word shown (``LIVE`` and the live venues' names) before any
order action works; Escape quits the dashboard instead.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class LiveGateScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "quit_app", "Quit", id="live_gate.quit", priority=True)]

    def __init__(self, word: str, venues: list[str]) -> None:
        super().__init__(id="live-gate")
        self.word = word
        self.venues = venues

    def compose(self) -> ComposeResult:
        with Vertical(id="live-gate-box", classes="modal-box live"):
            yield Static("LIVE TRADING · REAL MONEY", classes="modal-title")
            yield Static(
                f"Orders on {', '.join(self.venues)} go to the exchange with your funds.\n"
                f"Type  [b]{self.word}[/b]  and press Enter to enable order actions.",
                id="live-gate-text",
            )
            yield Input(placeholder=self.word, id="live-gate-input")
            yield Static("", id="live-gate-error", classes="form-error")
            yield Static("Enter confirm · Esc quit", classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.word:
            self.dismiss(True)
            return
        event.input.value = ""
        self.query_one("#live-gate-error", Static).update(f"that is not {self.word!r}; type it exactly, or Esc to quit")

    def action_quit_app(self) -> None:
        self.dismiss(False)
