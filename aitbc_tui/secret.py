"""A string that never shows itself: repr, str and format are redacted.

Textual's crash screen and Rich tracebacks print local variables, and log lines
format whatever they are given; wrapping every API key, secret and passphrase in
``Secret`` keeps them out of all of those. The value comes out only through an
explicit ``reveal()``. (Named ``secret`` so it cannot shadow the stdlib ``secrets``.)
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

REDACTED = "Secret('****')"


class Secret:
    """An immutable, redacted string. ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The plain value. Call it only where the value is handed to its consumer."""
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time, so comparing a guess does not leak how much of it matched.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    # A hash of the value would be a cheap oracle for it; secrets are not dict keys.
    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    # Pickling would write the plain value to wherever the pickle goes (a cache, a
    # multiprocessing queue, a crash dump). Make that an explicit decision instead.
    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("Secret cannot be pickled; pass secret.reveal() explicitly if you must")

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret cannot be pickled; pass secret.reveal() explicitly if you must")

    def __getstate__(self) -> NoReturn:
        raise TypeError("Secret cannot be pickled; pass secret.reveal() explicitly if you must")

    # Immutable, so copies may share it (copy would otherwise go through __reduce_ex__).
    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self
