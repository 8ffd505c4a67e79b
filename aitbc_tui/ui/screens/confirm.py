"""Yes/no confirmation modals: placing an order, the kill switch."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """Shows what will happen; `y` confirms, `n` or Escape goes back."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n", "back", "No", id="confirm.no"),
        Binding("escape", "back", "Back", show=False, id="confirm.back"),
    ]

    def __init__(
        self,
        title: str,
        rows: list[tuple[str, str]],
        *,
        prompt: str = "y place · n / Esc back",
        live: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.title_text = title
        self.rows = rows
        self.prompt = prompt
        self.live = live

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="modal-box live" if self.live else "modal-box"):
            # Venue names, symbols and messages are plain text, never markup.
            yield Static(Text(self.title_text), classes="modal-title")
            width = max((len(label) for label, _ in self.rows), default=0)
            body = "\n".join(f"{label:<{width}}  {value}" for label, value in self.rows)
            yield Static(Text(body), id="confirm-body")
            yield Static(Text(self.prompt), classes="modal-hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)
