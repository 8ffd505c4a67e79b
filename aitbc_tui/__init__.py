"""aitbc-tui: a keyboard-driven terminal trading dashboard."""

__version__ = "0.1.0"
