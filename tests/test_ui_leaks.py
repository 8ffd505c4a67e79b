"""Opening and closing the order form must not leak: every open and close used to keep
~20 dead footer keys (textual's Footer binds each new key with data_bind and never drops
the watcher), about 1.5 MB a cycle. The soak (scripts/soak) watches RSS; this test
watches the cause, deterministically."""

from __future__ import annotations

import gc

from textual.widgets._footer import FooterKey

from aitbc_tui.ui.screens.order_form import OrderForm
from aitbc_tui.ui.widgets.footer import DeskFooter
from tests.apptools import make_app

SIZE = (160, 45)


async def _until(pilot, condition, timeout=20.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        await pilot.pause(0.01)


def _dead_footer_keys() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, FooterKey) and not o.is_attached)


async def test_order_form_open_and_close_keeps_no_dead_widgets(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.venue is not None)
        footer = app.query_one(DeskFooter)

        async def cycle() -> None:
            await pilot.press("b")
            await _until(pilot, lambda: isinstance(app.screen, OrderForm))
            await pilot.press("escape")
            await _until(pilot, lambda: not isinstance(app.screen, OrderForm))
            await pilot.pause()  # the footer recomposes after the next refresh
            await pilot.pause()

        for _ in range(3):
            await cycle()
        watchers, dead = footer.watcher_count(), _dead_footer_keys()
        for _ in range(12):
            await cycle()
        assert footer.watcher_count() == watchers  # one watcher per key on screen, not per key ever made
        assert _dead_footer_keys() <= dead + len(footer.query(FooterKey))  # a cache may hold one generation


async def test_the_footer_recomposes_once_per_burst_and_still_shows_the_current_keys(tmp_path):
    from textual.widgets._footer import FooterKey

    from tests.apptools import make_app, wait_ready, wait_until

    app = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_ready(pilot)
        footer = app.query_one(DeskFooter)
        assert footer.recomposes <= 2  # start-up's eight binding changes (focus, screen, layout)

        def shown() -> set[str]:
            return {key.description for key in footer.query(FooterKey)}

        assert {"Buy", "Sell", "Quit"} <= shown()
        await pilot.press("question_mark")  # b / s are off while a modal is up: the footer says so
        await wait_until(pilot, lambda: "Buy" not in shown() and "Help" in shown())
        await pilot.press("escape")
        await wait_until(pilot, lambda: {"Buy", "Sell"} <= shown())
