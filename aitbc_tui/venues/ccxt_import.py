"""Import one ccxt exchange class without importing every exchange ccxt ships.

``import ccxt.pro`` runs three package ``__init__`` modules (``ccxt``,
``ccxt.async_support``, ``ccxt.pro``) that import each of ccxt's ~110 exchanges: about
330 modules and 1.0-1.3 s on this project's 2-core machine, before the first venue can
connect. A dashboard with three venues needs six of them.

:func:`exchange_class` loads each of those packages with its per-exchange lines
(``from ccxt.binance import binance``) deferred: everything else in the ``__init__``
runs as written (errors, ``Exchange``, ``__version__``, the ``exchanges`` list), and an
exchange is imported the first time it is asked for, by attribute, ``from ... import``
or ``getattr``. Code that does ``import ccxt; ccxt.kraken`` still gets the class.
If ccxt is already imported the usual way, that is used as it is.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_lock = threading.RLock()


class _DeferredExchanges(types.ModuleType):
    """A ccxt package module whose exchange classes are imported on first use."""

    _deferred: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        target = self.__dict__.get("_deferred", {}).get(name)
        if target is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        with _lock:
            if name not in self.__dict__ or isinstance(self.__dict__[name], types.ModuleType):
                submodule = importlib.import_module(target)
                # Importing the submodule bound the *module* to this name; the package's
                # own ``from x.binance import binance`` binds the class, so do the same.
                self.__dict__[name] = getattr(submodule, name)
            return self.__dict__[name]

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_deferred", {})))


def _load_deferred(name: str) -> types.ModuleType:
    existing = sys.modules.get(name)
    if existing is not None:
        return existing
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.origin is None:
        raise ImportError(f"no module named {name!r}")
    source = spec.loader.get_source(name)  # type: ignore[attr-defined]
    tree = ast.parse(source, spec.origin)
    deferred: dict[str, str] = {}
    body: list[ast.stmt] = []
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module is not None
            and node.module.startswith(name + ".")
            and len(node.names) == 1
        ):
            child = node.module[len(name) + 1 :]
            alias = node.names[0]
            if "." not in child and alias.name == child and alias.asname is None:
                deferred[child] = node.module
                continue
        body.append(node)
    module = _DeferredExchanges(name)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    module.__path__ = list(spec.submodule_search_locations or [])
    module.__package__ = name
    module.__dict__["_deferred"] = deferred
    sys.modules[name] = module
    parent, _, child_name = name.rpartition(".")
    try:
        exec(compile(ast.Module(body=body, type_ignores=[]), spec.origin, "exec"), module.__dict__)  # noqa: S102
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if parent:
        setattr(sys.modules[parent], child_name, module)
    return module


def ccxt_package(name: str = "ccxt") -> types.ModuleType:
    """``ccxt``, ``ccxt.async_support`` or ``ccxt.pro``, with exchanges imported on use."""
    with _lock:
        # All three, parents first (ccxt.pro's __init__ imports from ccxt.async_support):
        # a later plain ``import ccxt.pro`` then finds the deferred one, not a full import.
        for package in ("ccxt", "ccxt.async_support", "ccxt.pro"):
            _load_deferred(package)
        return sys.modules[name]


def exchange_class(exchange_id: str, *, pro: bool) -> type | None:
    """ccxt's REST (``ccxt.async_support``) or websocket (``ccxt.pro``) class for an
    exchange id, or None when ccxt has none."""
    package = ccxt_package("ccxt.pro" if pro else "ccxt.async_support")
    if not exchange_id.isidentifier():
        return None
    try:
        cls = getattr(package, exchange_id)
    except AttributeError:
        return None
    return cls if isinstance(cls, type) else None
