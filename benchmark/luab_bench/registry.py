"""A tiny named registry used for models, protocols, suites and saliency methods.

Registration is by decorator; lookup of an unknown name raises :class:`LuabError` with a
"did you mean" suggestion and the list of known names, so a typo on the command line is one readable
line. Adding a new suite/protocol family/metric is one new module that registers itself.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from luab_bench.errors import LuabError

T = TypeVar("T")


class Registry(Generic[T]):
    """Map names to objects (classes or factories) with helpful errors."""

    def __init__(self, kind: str, plugin_modules: Iterable[str] = ()) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._where: dict[str, str] = {}  # name -> "file:line" of its registration
        self._plugin_modules = tuple(plugin_modules)
        self._loaded = False

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@REG.register("name")``; the object's ``__name__`` is used if name is None.

        A name taken by another object is a :class:`LuabError` naming both registration sites (a
        silent "later one wins" would let a plugin replace a built-in without anyone noticing);
        registering the very same object again is a no-op.
        """

        def deco(obj: T) -> T:
            key = name or getattr(obj, "__name__", None)
            if not key:
                raise ValueError(f"cannot register an unnamed {self.kind}")
            caller = sys._getframe(1)
            where = f"{caller.f_code.co_filename}:{caller.f_lineno}"
            if key in self._items and self._items[key] is not obj:
                raise LuabError(
                    f"{self.kind} {key!r} is registered twice: at {self._where.get(key, '?')} "
                    f"and at {where}; rename one of them"
                )
            self._items[key] = obj
            self._where.setdefault(key, where)
            return obj

        return deco

    def _load_plugins(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for mod in self._plugin_modules:
            importlib.import_module(mod)

    def names(self) -> list[str]:
        """Sorted names of everything registered."""
        self._load_plugins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def get(self, name: str) -> T:
        """Return the object registered as ``name`` or raise a one-line :class:`LuabError`."""
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise LuabError(unknown_name_message(self.kind, name, self._items)) from None


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """Message like: unknown protocol 'lub'; did you mean 'luab'? Known protocols: baseline, luab, rand"""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return f"unknown {kind} {name!r}{hint} Known {kind}s: {', '.join(known) or '(none)'}"
