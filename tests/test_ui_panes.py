"""Pilot tests of the panes: scrolling by keyboard, hidden rows said, focus shown."""

from __future__ import annotations

from decimal import Decimal

from aitbc_tui.domain import Balance
from aitbc_tui.ui.panes.balances import BalancesPane, BalancesView
from tests.apptools import wait_ready, wait_until

SIZE = (160, 45)


def line_text(widget, y: int) -> str:
    return "".join(segment.text for segment in widget.render_line(y))


async def test_twenty_balances_in_a_six_row_pane_scroll_to_the_last(sandbox_app):
    app = sandbox_app
    many = {f"A{i:02d}": Balance(f"A{i:02d}", Decimal(i + 1)) for i in range(20)}
    app.service.balances = lambda venue: many  # what every venue holds, as the pane reads it
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        pane = app.query_one("#balances", BalancesPane)
        pane.styles.height = 9  # border, header, six rows
        await wait_until(pilot, lambda: pane.size.height == 7)
        pane.show(BalancesView.build(app.service))  # what the app's 2 Hz repaint does
        await wait_until(pilot, lambda: pane.visible_rows == 6, what="the pane laid out for six rows")
        assert len(pane.rows) == 20 and pane.visible_rows == 6
        assert pane.border_subtitle == "+14 more ↓"
        assert "A19" not in "".join(line_text(pane, y) for y in range(pane.size.height))

        await pilot.press("tab")  # from the ladder to the next pane ...
        while app.focused is not pane:
            await pilot.press("tab")
        assert pane.has_focus and pane.styles.border_top[0] == "heavy"  # focus is visible

        await pilot.press("down")
        assert pane.shown_rows == range(1, 7) and pane.border_subtitle == "↑1 more · +13 more ↓"
        await pilot.press("pagedown", "pagedown", "pagedown")
        assert pane.shown_rows == range(14, 20)
        await pilot.press("home")
        assert pane.shown_rows == range(0, 6)
        await pilot.press("end")
        await pilot.pause()
        assert pane.shown_rows == range(14, 20)
        assert pane.border_subtitle == "↑14 more"
        rendered = [line_text(pane, y) for y in range(pane.size.height)]
        assert rendered[-1].lstrip().startswith("A19"), rendered
        # ... and in what the terminal shows.
        assert "A19" in app.export_screenshot()
        await pilot.press("up")
        assert pane.shown_rows == range(13, 19)


def test_arbitrage_columns_drop_by_priority_and_keep_where_to_buy_and_sell():
    from aitbc_tui.ui.panes.arbitrage import arb_columns
    from aitbc_tui.ui.widgets.linetable import fit, layout_columns

    columns = arb_columns(len("binance-emulator"))
    titles = lambda width: [str(columns[i].title) for i, _ in layout_columns(columns, width)]  # noqa: E731
    assert titles(200) == ["Symbol", "Net bps", "Buy at", "Ask", "Sell at", "Bid", "Gross", "Size", "Limited by",
                           "Est. profit"]  # fmt: skip
    # Gross, then bid, then ask, then the profit estimate: what limits the size stays.
    assert titles(130) == ["Symbol", "Net bps", "Buy at", "Ask", "Sell at", "Size", "Limited by", "Est. profit"]
    assert titles(100) == ["Symbol", "Net bps", "Buy at", "Sell at", "Size", "Limited by"]
    for width in (80, 60, 46, 40):
        assert {"Symbol", "Net bps", "Buy at", "Sell at", "Size", "Limited by"} <= set(titles(width)), width
    # Long venue names are whole while there is room, then cut with … (never silently).
    shown = dict(layout_columns(columns, 100))
    assert shown[2] == len("binance-emulator")
    narrow = dict(layout_columns(columns, 46))
    assert fit("binance-emulator", narrow[2]).endswith("…")


async def test_clock_ticks_behind_the_help_screen_and_panes_say_paused(sandbox_app):
    from textual.widgets import Static

    from aitbc_tui.ui.screens.help import HelpScreen
    from tests.apptools import FROZEN_NOW

    app = sandbox_app
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        bar = app.query_one("#status-bar", Static)
        assert "11:06:40" in str(bar.render()) and "paused" not in str(bar.render())
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        app.clock = lambda: FROZEN_NOW + 65  # a minute and five seconds later
        await wait_until(pilot, lambda: "11:07:45" in str(bar.render()))
        assert "panes paused" in str(bar.render())
        await wait_until(
            pilot, lambda: "11:07:45" in app.export_screenshot()
        )  # on the terminal, not only in the widget
        await pilot.press("escape")
        await wait_until(pilot, lambda: "paused" not in str(bar.render()))


def test_balances_read_at_each_assets_precision_the_same_in_every_column():
    """'Available' and the balances used to show 100000, 99344.0797350 and 100000.0 for one
    currency: now USDT is always to the cent, rounded down (never more than there is)."""
    from decimal import Decimal

    from aitbc_tui.ui.panes.balances import balance_text

    assert balance_text(Decimal("100000"), 2) == "100,000.00"
    assert balance_text(Decimal("99344.0797350"), 2) == "99,344.07"
    assert balance_text(Decimal("100000.0"), 2) == "100,000.00"
    assert balance_text(Decimal("30"), 6) == "30.000000"
    assert balance_text(Decimal("0.123456789"), 8) == "0.12345678"
    assert balance_text(Decimal("100000"), 2, compact=True) == "100.00k"
