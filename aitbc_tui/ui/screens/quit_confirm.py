"""Quitting with open live orders: cancel them all and quit, leave them, or stay."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class QuitConfirm(ModalScreen[str]):
    """Dismisses with "cancel" (cancel every order, then quit), "leave" or "stay"."""

    BINDINGS = [
        Binding("c", "choose('cancel')", "Cancel all and quit", id="quit.cancel_all"),
        Binding("l", "choose('leave')", "Quit and leave them", id="quit.leave"),
        Binding("s,escape", "choose('stay')", "Stay", id="quit.stay"),
    ]

    def __init__(self, count: int, venues: list[str]) -> None:
        super().__init__(id="quit-confirm")
        self.count = count
        self.venues = venues

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="modal-box live"):
            yield Static(
                Text(f"{self.count} LIVE order(s) still open on {', '.join(self.venues)}"), classes="modal-title"
            )
            yield Static(Text("They keep working at the venue after the dashboard quits."), id="confirm-body")
            yield Static(Text("c cancel all and quit · l quit and leave them · s / Esc stay"), classes="modal-hint")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
