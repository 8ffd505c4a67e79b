"""Help: every key, the modes, and how health is judged.

The key table is built from the live bindings (the app's ``BINDINGS`` with the keymap from
the config applied the way Textual applies it), so a remap, a clash or read-only mode
never makes it lie. Everything is ``rich.text.Text``: nothing here is parsed as markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from aitbc_tui.service import HEALTH_RULE
from aitbc_tui.ui.screens.order_form import OrderForm

# What each dashboard action does, by binding id; a binding missing here shows its own
# description, so a new binding is never left out of the help.
ACTION_HELP: dict[str, str] = {
    "order.buy": "buy form (focused venue and symbol; focus in Amount)",
    "order.sell": "sell form (focused venue and symbol; focus in Amount)",
    "order.cancel": "cancel the selected open order (after a confirmation)",
    "order.kill": "kill switch: cancel every open order on every venue (confirmed first)",
    "order.arbitrage": "execute the route at the top of the arbitrage pane: both legs shown, amount editable (a), "
    "y sends both as IOC limits; with an unhedged group: hedge / unwind / leave it",
    "inventory.show": "inventory: each asset's free and used amount per venue, and the profitable routes the "
    "balances cut (which venue lacks what)",
    "venue.next": "next venue",
    "venue.previous": "previous venue",
    "symbol.pick": "symbol picker (type to filter)",
    "orders.history": "open orders / order history",
    "theme.next": "next theme",
    "app.credentials": "credentials: where each venue's keys are stored (masked); set, delete, test",
    "events.show": "event log: every notice, alert and health change (f severity, g venue filter)",
    "alerts.new": "new alert rule for the focused venue and symbol (prefilled with the last price)",
    "app.help": "this help",
    "app.quit": "quit",
    "focus.next": "next pane",
    "focus.previous": "previous pane",
    "chart.show": "price chart: candles, volume, last price, your fills (, . timeframe; Esc back)",
    "depth.show": "depth chart: cumulative bids and asks around the mid (Esc back)",
    "ladder.group": "ladder grouping: 1, 5, 10, 50 ticks (bids round down, asks up)",
    "layout.default": "layout 1: the default dashboard (ladder, health, balances, arbitrage, orders)",
    "layout.trade": "layout 2 trade: ladder + candle chart (, . timeframe) over the trade tape",
    "layout.watch": "layout 3 watch: watchlist (o sort, O reverse, Enter focus) + health + arbitrage",
    "layout.account": "layout 4 account: positions & P&L, balances and value, orders, history",
    "pane.maximise": "maximise the focused pane; again to restore",
    "pane.grow": "grow the focused pane's column or row (remembered per layout and config)",
    "pane.shrink": "shrink the focused pane's column or row",
    "pane.size_reset": "this layout's panes back to their default sizes",
}

# Keys inside the order form, by its binding ids.
FORM_HELP: dict[str, str] = {
    "form.toggle_type": "in the order form: limit / market (market: IOC limit at the slippage cap)",
    "form.tif": "in the order form: time in force GTC / IOC / FOK (what the venue offers)",
    "form.post_only": "in the order form: post-only (refused if it would take liquidity)",
    "form.preset_25": "in the order form: amount = 25 % of what is free",
    "form.preset_50": "in the order form: amount = 50 % of what is free",
    "form.preset_100": "in the order form: amount = 100 % of what is free (fees included on a buy)",
    "form.review": "in the order form: review; then y places, n or Esc goes back",
}

ORDER_ACTION_PREFIX = "order."  # what read-only mode and the live gate switch off

NO_KEY = "(no key)"

MODES: list[tuple[str, str]] = [
    ("SANDBOX", "simulated venues and matching engine; no network, no keys (default)"),
    ("PAPER", "a real venue's public feed; orders fill locally against it"),
    ("TESTNET", "the venue's test network, with testnet keys"),
    ("LIVE", "real keys, real orders: needs --live and typing the word shown at start"),
]


def live_keys(bindings: Iterable[BindingType], keymap: Mapping[str, str]) -> dict[str, list[str]]:
    """Binding id -> the keys that trigger it now, in order: ``bindings`` with ``keymap``
    applied by Textual's own ``BindingsMap.apply_keymap`` (a key a remap took from another
    action is gone from that action, as it is in the app)."""
    made = list(Binding.make_bindings(bindings))
    chain = BindingsMap(made)
    if keymap:
        chain.apply_keymap(keymap)
    found: dict[str, list[str]] = {b.id: [] for b in made if b.id}
    for key, binding in chain:
        if binding.id in found and key not in found[binding.id]:
            found[binding.id].append(key)
    return found


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="modal-box"):
            yield Static(Text("aitbc-tui help"), classes="modal-title")
            yield Static(self.help_text(), id="help-body")
            yield Static(Text(f"{self._keys_display(self._own_close_keys())} close"), classes="modal-hint")

    def action_close(self) -> None:
        self.dismiss(None)

    # ---- content ------------------------------------------------------------------------

    def _keys_display(self, keys: list[str]) -> str:
        return " / ".join(self.app.get_key_display(Binding(key, "")) for key in keys) if keys else NO_KEY

    def _own_close_keys(self) -> list[str]:
        return live_keys(self.BINDINGS, {}).get("help.close", [])

    def _off_reason(self) -> str | None:
        """Why order actions do nothing now, or None (read from the app: its flags)."""
        if getattr(self.app, "read_only", False):
            return "read-only"
        if not getattr(self.app, "trading_armed", True):
            return "live trading locked"
        return None

    def key_rows(self) -> list[tuple[str, str, str | None]]:
        """(keys as shown, what they do, why it is off or None), from the live bindings."""
        app = self.app
        keymap = dict(getattr(app, "_keymap", None) or {})
        off = self._off_reason()
        rows: list[tuple[str, str, str | None]] = []
        app_bindings = list(Binding.make_bindings(type(app).BINDINGS))
        app_keys = live_keys(app_bindings, keymap)
        form_keys = live_keys(OrderForm.BINDINGS, keymap)
        form_bindings = {b.id: b for b in Binding.make_bindings(OrderForm.BINDINGS) if b.id}
        seen: set[str] = set()
        for binding in app_bindings:  # one Binding per key: "v,]" is two with one id
            if not binding.id or binding.id in seen:
                continue
            seen.add(binding.id)
            what = ACTION_HELP.get(binding.id, binding.description or binding.action)
            reason = off if binding.id.startswith(ORDER_ACTION_PREFIX) else None
            rows.append((self._keys_display(app_keys.get(binding.id, [])), what, reason))
            if binding.id == "order.sell":
                for form_id, form_what in FORM_HELP.items():
                    if form_id in form_bindings:
                        rows.append(("  " + self._keys_display(form_keys.get(form_id, [])), form_what, reason))
        rows.append(("↑ / ↓", "scroll the focused pane (also PgUp PgDn Home End); orders: move the selection", None))
        if getattr(app, "ENABLE_COMMAND_PALETTE", False):
            palette = getattr(app, "COMMAND_PALETTE_BINDING", "")
            rows.append(
                (
                    self._keys_display([k.strip() for k in palette.split(",") if k.strip()]),
                    "command palette: every action by name",
                    None,
                )
            )
        return rows

    def help_text(self) -> Text:
        text = Text()

        def heading(title: str) -> None:
            if text:
                text.append("\n\n")
            text.append(title, style="bold")

        def line(content: str = "", style: str = "") -> None:
            text.append("\n")
            text.append(content, style=style)

        heading("Keys")
        off = self._off_reason()
        if off == "read-only":
            line("  READ-ONLY (--read-only): the order actions marked (off) do nothing", style="bold")
        elif off is not None:
            line(
                "  LIVE trading is locked until the word shown at start is typed: (off) actions do nothing",
                style="bold",
            )
        rows = self.key_rows()
        width = max(len(keys) for keys, _, _ in rows)
        for keys, what, reason in rows:
            text.append("\n  ")
            text.append(keys.ljust(width), style="bold")
            text.append(f"  {what}")
            if reason:
                text.append("  (off)", style="italic")

        heading("Modes")
        for mode, what in MODES:
            text.append("\n  ")
            text.append(f"{mode:<8}", style="bold")
            text.append(f"  {what}")

        heading("Health")
        for part in HEALTH_RULE.split(";"):
            line(f"  {part.strip()}")
        line("  latency: round trip of the venue's lightweight request (the probe named in the pane)")
        line("  book age: time since the newest order-book update from that venue")

        heading("Arbitrage")
        line("  buy at one venue's best ask, sell at another's best bid; net = after both taker fees:")
        line("  net bps = (bid x (1 - sell fee) - ask x (1 + buy fee)) / (ask x (1 + buy fee)) x 10,000")
        line("  size = what both books can fill while each slice stays profitable net of fees,")
        line("  capped by what you hold: quote on the buying venue (fee included), base on the selling one,")
        line("  and by [risk] max_order_value; 'Limited by' says which: book, bal VENUE ASSET, risk VENUE.")
        return text
