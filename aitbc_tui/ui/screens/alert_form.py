"""`!`: a new alert rule, prefilled with the focused venue, symbol and last price.

Fields are plain inputs parsed by the same strict parser as the config (aitbc_tui.alerts);
a bad field is said in one line under the form. Enter saves, Esc goes back.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from aitbc_tui.alerts import FIELDS, RULE_KINDS

# Form field -> rule field (the number field means level, bps or threshold by kind).
NUMBER_FIELD = {"price_above": "level", "price_below": "level", "spread_above": "bps", "arbitrage_above": "bps",
                "balance_below": "threshold", "fill": "min_notional", "pnl_below": "threshold",
                "resync_storm": "count"}  # fmt: skip
# The "For (s)" field: how long the condition holds; for a resync storm, the window.
SECONDS_FIELD = {"resync_storm": "within_s"}


class AlertForm(ModalScreen[dict | None]):
    """Dismisses with a rule table (for AlertStore.add) or None; ``check`` validates it
    and returns an error text, so a bad rule keeps the form open."""

    BINDINGS = [Binding("escape", "back", "Back", id="alert_form.back")]

    def __init__(self, *, venue: str, symbol: str, last: str, check) -> None:
        super().__init__(id="alert-form")
        self.prefill = {"kind": "price_above", "venue": venue, "symbol": symbol, "price": "last", "number": last,
                        "for_s": ""}  # fmt: skip
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="alert-form-box"):
            yield Static(Text("New alert rule"), classes="modal-title")
            rows = [("kind", "Kind"), ("venue", "Venue"), ("symbol", "Symbol"), ("price", "Price (last/bid/ask/mid)"),
                    ("number", "Level / bps / min"), ("for_s", "For (s)")]  # fmt: skip
            for name, label in rows:
                with Horizontal(classes="form-row"):
                    yield Static(Text(label), classes="form-label")
                    yield Input(self.prefill[name], id=f"alert-{name}")
            yield Static(Text(""), classes="form-error", id="alert-error")
            yield Static(Text(f"kinds: {', '.join(RULE_KINDS)}"), classes="modal-hint")
            yield Static(Text("Enter save · Esc back"), classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one("#alert-number", Input).focus()

    def table(self) -> dict:
        value = {name: self.query_one(f"#alert-{name}", Input).value.strip()
                 for name in ("kind", "venue", "symbol", "price", "number", "for_s")}  # fmt: skip
        kind = value["kind"]
        allowed = FIELDS.get(kind, ())
        table: dict = {"kind": kind}
        for name in ("venue", "symbol", "price", "for_s"):
            if name in allowed and value[name]:
                table[name] = value[name]
        number = NUMBER_FIELD.get(kind)
        if number and value["number"]:
            table[number] = value["number"]
        seconds = SECONDS_FIELD.get(kind)
        if seconds and value["for_s"]:
            table[seconds] = value["for_s"]
        return table

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        table = self.table()
        problem = self.check(table)
        if problem:
            self.query_one("#alert-error", Static).update(Text(problem))
            return
        self.dismiss(table)

    def action_back(self) -> None:
        self.dismiss(None)
