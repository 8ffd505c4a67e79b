"""aitbc-tui benchmark suite (not part of the package). Run: python -m bench [--quick] [--json FILE]."""
