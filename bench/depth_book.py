"""The depth book lives in the package again (``aitbc_tui/book.py``, issue 14): this name is
kept for the benches and scripts that import it from here."""

from aitbc_tui.book import OrderBook

__all__ = ["OrderBook"]
