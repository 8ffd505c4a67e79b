"""Arbitrage screens: the two-leg confirmation (`x` on a route) and the leg-risk choice for
an unhedged group (hedge / unwind / leave), plus the banner that stays while one is open.

Everything shown is ``rich.text.Text`` built from plain strings: venue names, symbols and
messages are never markup. Money is formatted with ``aitbc_tui.formatting``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from aitbc_tui import validation
from aitbc_tui.arb_exec import ArbPlan, PlanError
from aitbc_tui.domain import Market
from aitbc_tui.formatting import decimals_of, fmt_bps, fmt_fixed, fmt_money, fmt_price


def plan_text(plan: ArbPlan, markets: dict[str, Market]) -> Text:
    """Both legs (venue, side, amount, limit, notional, fee) and the expected net."""
    text = Text()
    text.append(f"{plan.symbol}: buy on {plan.buy.venue}, sell on {plan.sell.venue} (IOC limits, sent at once)\n\n")
    width = max(len(leg.venue) for leg in plan.legs)
    places = min(decimals_of(m.lot_size) for m in markets.values())  # the amount is on both lot grids
    for leg in plan.legs:
        market = markets[leg.venue]
        amount = fmt_fixed(leg.amount, places)
        text.append(f"{leg.side.value.upper():<4} ", style="bold")
        text.append(f"{amount} {plan.base} on {leg.venue:<{width}}  limit {fmt_price(leg.limit_price, market)}  "
                    f"≈ {fmt_money(leg.expected_notional, plan.quote, market, unit=True)}  fee ≈ "
                    f"{fmt_money(leg.expected_fee, plan.quote, market, unit=True)} "
                    f"({fmt_fixed(leg.fee_rate * 100, 2)} % taker)\n")  # fmt: skip
    market = markets[plan.buy.venue]
    text.append("\nExpected net ")
    style = "bold green" if plan.expected_net_quote > 0 else "bold red"
    text.append(f"{fmt_money(plan.expected_net_quote, plan.quote, market, unit=True)} "
                f"({fmt_bps(plan.expected_net_bps, 2)} bps)", style=style)  # fmt: skip
    if plan.fundable is not None:
        limit = fmt_fixed(plan.fundable.amount, decimals_of(market.lot_size))
        text.append(f"\nLargest amount now {limit} {plan.base}, limited by {plan.fundable.text}")
    return text


class ArbConfirmScreen(ModalScreen[ArbPlan | None]):
    """`y` sends both legs; `a` edits the amount (Enter applies it); `n` / Esc goes back.

    ``replan(amount)`` plans the same route for another amount (raises PlanError);
    ``check(plan)`` lists why it may not go now (empty: it may).
    """

    BINDINGS = [
        Binding("y", "confirm", "Send both", id="arb.confirm"),
        Binding("a", "edit_amount", "Amount", id="arb.amount"),
        Binding("n", "back", "Back", id="arb.back"),
        Binding("escape", "back", "Back", show=False, id="arb.escape"),
    ]

    def __init__(
        self,
        plan: ArbPlan,
        markets: dict[str, Market],
        *,
        replan: Callable[[Decimal], ArbPlan],
        check: Callable[[ArbPlan], list[str]],
        live: bool = False,
    ) -> None:
        super().__init__()
        self.plan = plan
        self.markets = markets
        self._replan = replan
        self._check = check
        self.live = live
        self.error = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="arb-confirm-box", classes="modal-box live" if self.live else "modal-box"):
            yield Static(Text("Execute arbitrage?" + (" LIVE: real money" if self.live else "")), classes="modal-title")
            yield Static(plan_text(self.plan, self.markets), id="arb-plan")
            # Disabled until `a`: keys go to the screen (`y` sends), never into the field by accident.
            yield Input(self._amount_text(self.plan.amount), id="arb-amount", placeholder="amount (base)",
                        disabled=True)  # fmt: skip
            yield Static(Text(""), id="arb-error")
            yield Static(Text("y send both legs · a edit the amount (Enter applies) · n / Esc back"),
                         classes="modal-hint")  # fmt: skip

    def on_mount(self) -> None:
        self._show_problems(self._check(self.plan))

    def _amount_text(self, amount: Decimal) -> str:
        return fmt_fixed(amount, decimals_of(self.markets[self.plan.buy.venue].lot_size), grouping=False)

    def _show_problems(self, problems: list[str]) -> None:
        self.error = "; ".join(problems)
        self.query_one("#arb-error", Static).update(Text(self.error, style="bold red"))

    def action_edit_amount(self) -> None:
        field = self.query_one("#arb-amount", Input)
        field.disabled = False
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply_amount(event.value)
        event.input.disabled = True
        self.set_focus(None)

    def apply_amount(self, text: str) -> bool:
        """Re-plan for the typed amount; a bad one is one line here and changes nothing."""
        try:
            amount = validation.parse_decimal(text, "amount")
            if amount is None or amount <= 0:
                raise PlanError("amount must be greater than 0")
            plan = self._replan(amount)
        except validation.ValidationError as exc:
            self._show_problems([f"amount: {exc.message}"])
            return False
        except PlanError as exc:
            self._show_problems([str(exc)])
            return False
        self.plan = plan
        self.query_one("#arb-plan", Static).update(plan_text(plan, self.markets))
        self._show_problems(self._check(plan))
        return True

    def action_confirm(self) -> None:
        amount_input = self.query_one("#arb-amount", Input)
        if amount_input.value.strip() != self._amount_text(self.plan.amount) and not self.apply_amount(
            amount_input.value
        ):
            return
        problems = self._check(self.plan)
        if problems:
            self._show_problems(problems)
            return
        self.dismiss(self.plan)

    def action_back(self) -> None:
        self.dismiss(None)


class ArbResolveScreen(ModalScreen[str | None]):
    """An unhedged group: `h` hedge, `u` unwind, `l` leave it (recorded), Esc decide later."""

    BINDINGS = [
        Binding("h", "choose('hedge')", "Hedge", id="arb.hedge"),
        Binding("u", "choose('unwind')", "Unwind", id="arb.unwind"),
        Binding("l", "choose('leave')", "Leave", id="arb.leave"),
        Binding("escape", "choose('')", "Later", show=False, id="arb.later"),
    ]

    def __init__(self, title: str, body: str, *, live: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.live = live

    def compose(self) -> ComposeResult:
        with Vertical(id="arb-resolve-box", classes="modal-box live" if self.live else "modal-box"):
            yield Static(Text(self.title_text), classes="modal-title")
            yield Static(Text(self.body), id="arb-resolve-body")
            yield Static(Text("h hedge the difference at market on the better venue · u unwind the filled leg · "
                              "l leave it (recorded) · Esc later"), classes="modal-hint")  # fmt: skip

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)


class ArbBanner(Static):
    """One line per arbitrage group whose leg risk is open; hidden when there is none."""

    DEFAULT_CSS = """
    ArbBanner { display: none; height: auto; background: $warning 30%; color: $text; padding: 0 1; }
    ArbBanner.-shown { display: block; }
    """

    def show_groups(self, lines: list[str]) -> None:
        self.set_class(bool(lines), "-shown")
        self.update(Text("\n".join(lines)))


__all__ = ["ArbBanner", "ArbConfirmScreen", "ArbResolveScreen", "plan_text"]
