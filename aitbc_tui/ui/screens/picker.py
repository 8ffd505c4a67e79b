"""Symbol picker: type to filter, Enter to choose."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option


class SymbolPicker(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "dismiss_none", "Close", id="picker.close"),
        Binding("down", "cursor_down", "Down", show=False, id="picker.down"),
        Binding("up", "cursor_up", "Up", show=False, id="picker.up"),
    ]

    def __init__(self, symbols: list[tuple[str, str]], current: str | None = None) -> None:
        """``symbols``: (symbol, venues listing it) pairs."""
        super().__init__()
        self.symbols = symbols
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box", classes="modal-box"):
            yield Static("Symbol", classes="modal-title")
            yield Input(placeholder="type to filter, Enter to choose", id="picker-filter")
            yield OptionList(id="picker-options")
            yield Static("↑/↓ move · Enter choose · Esc close", classes="modal-hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        needle = text.strip().upper()
        matches = [(s, v) for s, v in self.symbols if needle in s.upper()]
        options.add_options([Option(f"{s:<12} {v}", id=s) for s, v in matches])
        if matches:
            index = next((i for i, (s, _) in enumerate(matches) if s == self.current), 0)
            options.highlighted = index

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
