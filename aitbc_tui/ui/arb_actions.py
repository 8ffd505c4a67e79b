"""The dashboard's arbitrage execution, kept out of app.py: `x` on the route at the top of
the arbitrage pane opens the two-leg confirmation; `y` there sends both legs through the
arbitrage desk (``aitbc_tui.arb_desk``); a banner stays while a group's leg risk is open,
and `x` then opens the choice for it (hedge / unwind / leave).

`I` opens the inventory (``ui/screens/inventory.py``): each asset per venue and the routes
the balances cut, with the arbitrage pane's fundable sizes.

A mixin for AitbcApp: it uses ``self.service``, ``self.notify``, ``self.risk``,
``self.config``, ``self.trading_armed``, ``self.read_only``, ``self.mode`` and the panes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work

from aitbc_tui.arb_desk import ArbDesk, ArbGroup
from aitbc_tui.arb_exec import ArbPlan, GroupState, PlanError
from aitbc_tui.domain import Mode

if TYPE_CHECKING:
    from textual.app import App

    from aitbc_tui.config import RiskConfig
    from aitbc_tui.service import MarketService
    from aitbc_tui.ui.panes.arbitrage import FundingCache

    _AppBase = App[None]
else:
    _AppBase = object


class ArbMixin(_AppBase):
    arb_desk: ArbDesk | None = None
    _arb_banner_version = -1
    # What the app this is mixed into provides (AitbcApp):
    service: MarketService
    config: Any
    risk: RiskConfig
    mode: Mode
    read_only: bool
    trading_armed: bool
    clock: Callable[[], float]
    _arb_funding: FundingCache
    if TYPE_CHECKING:

        def _order_actions_refused(self, venue: str | None) -> str | None: ...
        def _paint_orders(self) -> None: ...

    def _arb_ready(self) -> None:
        """The service started: the desk, and groups an earlier session left unresolved."""
        if self.arb_desk is not None:
            return
        arbitrage = getattr(self.config, "arbitrage", None)
        self.arb_desk = ArbDesk(
            self.service,
            risk=self.risk,
            on_leg_failure=getattr(arbitrage, "on_leg_failure", "ask"),
            armed=lambda: self.trading_armed and not self.read_only,
            clock=self.clock,
        )
        self.arb_desk.add_listener(lambda message: self.notify(message, title="Arbitrage", timeout=15))
        self.arb_desk.restore()
        self._paint_arb_banner()

    def _paint_arb_banner(self) -> None:
        from aitbc_tui.ui.screens.arbitrage import ArbBanner

        desk = self.arb_desk
        if desk is None or desk.version == self._arb_banner_version:
            return
        self._arb_banner_version = desk.version
        lines = [f"ARBITRAGE {group.group_id} {group.symbol} ({group.buy_venue} → {group.sell_venue}): "
                 f"{desk.exposure_text(group, outcome)}"
                 + (" · x: hedge / unwind / leave" if outcome.state is GroupState.UNHEDGED else "")
                 for group, outcome in desk.needs_attention()]  # fmt: skip
        self.screen_stack[0].query_one("#arb-banner", ArbBanner).show_groups(lines)

    def _top_route(self):
        from aitbc_tui.ui.panes.arbitrage import ArbitragePane

        return self.screen_stack[0].query_one("#arb", ArbitragePane).top_route()

    def action_arb_execute(self) -> None:
        refused = self._order_actions_refused(None)
        desk = self.arb_desk
        if refused or desk is None:
            self.notify(refused or "the venues are still starting", severity="warning")
            return
        attention = [(g, o) for g, o in desk.needs_attention() if o.state is GroupState.UNHEDGED]
        if attention:
            self._arb_resolve(*attention[0])
            return
        if desk.needs_attention():
            self.notify("an arbitrage group's leg is still UNKNOWN or open: wait until the venue has shown it",
                        severity="warning", timeout=8)  # fmt: skip
            return
        route = self._top_route()
        if route is None or route.net_bps <= 0:
            self.notify("no profitable route at the top of the arbitrage pane (↑/↓ scroll it)", severity="warning")
            return
        try:
            plan = desk.plan(route.symbol, route.buy_venue, route.sell_venue)
        except PlanError as exc:
            self.notify(f"arbitrage: {exc}", severity="warning", timeout=8)
            return
        from aitbc_tui.ui.screens.arbitrage import ArbConfirmScreen

        markets = {v: m for v in (route.buy_venue, route.sell_venue) if (m := self.service.market(v, route.symbol))}
        screen = ArbConfirmScreen(
            plan,
            markets,
            replan=lambda amount: desk.plan(route.symbol, route.buy_venue, route.sell_venue, amount),
            check=desk.check,
            live=self.mode is Mode.LIVE,
        )
        self.push_screen(screen, self._arb_confirmed)

    def action_inventory(self) -> None:
        """`I`: each asset per venue, and the profitable routes the balances cut."""
        from aitbc_tui.ui.screens.inventory import InventoryScreen

        self.push_screen(InventoryScreen(self.inventory_view))

    def inventory_view(self):
        from aitbc_tui.ui.screens.inventory import InventoryView

        return InventoryView.build(self.service, getattr(self, "_arb_index", None), self._arb_funding,
                                   self.risk.max_order_value)  # fmt: skip

    def _arb_confirmed(self, plan: ArbPlan | None) -> None:
        """`y`: the checks and both intents now (pending rows painted), then both sends."""
        if plan is None or self.arb_desk is None:
            return
        try:
            group = self.arb_desk.prepare(plan)
        except Exception as exc:  # noqa: BLE001 - refused before sending: the operator sees why
            from aitbc_tui.service import describe_error

            self.notify(f"arbitrage not sent: {describe_error(exc)}", severity="error", timeout=10)
            return
        self._paint_orders()
        self._arb_send_worker(group)

    @work(name="arb-send", group="orders", exit_on_error=False)
    async def _arb_send_worker(self, group: ArbGroup) -> None:
        desk = self.arb_desk
        assert desk is not None
        await desk.send(group)
        for error in group.errors:
            self.notify(f"arbitrage {group.group_id}: {error}", severity="error", timeout=15)
        self.notify(f"arbitrage {group.group_id}: both legs sent ({group.symbol} {group.amount:f})", timeout=6)
        self._paint_orders()
        self._paint_arb_banner()

    def _arb_resolve(self, group: ArbGroup, outcome) -> None:
        from aitbc_tui.ui.screens.arbitrage import ArbResolveScreen

        desk = self.arb_desk
        assert desk is not None
        body = f"{desk.exposure_text(group, outcome)}\n{desk._result_text(group, outcome)}"
        for error in group.errors[-3:]:
            body += f"\n{error}"

        def chosen(choice: str | None) -> None:
            if choice:
                self._arb_resolve_worker(group.group_id, choice)

        self.push_screen(ArbResolveScreen(f"Arbitrage {group.group_id} {group.symbol}: legs filled unequally",
                                          body, live=self.mode is Mode.LIVE), chosen)  # fmt: skip

    @work(name="arb-resolve", group="orders", exit_on_error=False)
    async def _arb_resolve_worker(self, group_id: str, choice: str) -> None:
        desk = self.arb_desk
        assert desk is not None
        try:
            if choice == "hedge":
                await desk.hedge(group_id)
            elif choice == "unwind":
                await desk.unwind(group_id)
            else:
                desk.leave(group_id)
        except Exception as exc:  # noqa: BLE001
            from aitbc_tui.service import describe_error

            self.notify(f"arbitrage {group_id}: {choice} failed: {describe_error(exc)}", severity="error", timeout=15)
        self._paint_orders()
        self._paint_arb_banner()
