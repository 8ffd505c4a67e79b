"""The one base class for errors an operator can fix (a bad config, a missing key, a
journal that cannot be opened): the CLI prints them as one line and exits 2; the app
shows them as one line. Classify by this type, never by message text or type name."""

from __future__ import annotations


class UserError(Exception):
    """A problem the operator can fix; printed as one line, exit 2. ``str()`` is the
    whole message: what is wrong, where, and what is allowed."""


__all__ = ["UserError"]
