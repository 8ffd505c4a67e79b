"""`python -m aitbc_tui`: the same as the `aitbc-tui` command."""

from aitbc_tui.cli import main

raise SystemExit(main())
