"""Importing user code (``module:callable`` model factories) only on an explicit opt-in.

A model spec ``"package.module:callable"`` imports and calls Python code. Reading one from a file
(``checkpoint.json``, a result's ``model.name``, a ``submission.yaml``) must never run it by itself
(issue 17, item 5): the caller opts in, either for every module (``--allow-code`` on the command line,
:func:`allow_code` in a library) or for named modules only (``--trust-factory MODULE``, repeatable, or
the environment variable ``LUAB_BENCH_TRUSTED_FACTORIES=mod1,mod2``).

With the opt-in, the import also sees the working directory (the ``luab-bench`` console script does not
put it on ``sys.path``; ``python -m luab_bench`` no longer does either, see ``__main__.py``), so a factory
module next to the user's files can be named without installing it. The import's identity (module file
SHA-256 and the distribution version, when there is one) is recorded in the result
(:func:`factory_provenance`).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError

TRUST_ENV = "LUAB_BENCH_TRUSTED_FACTORIES"

# (allow every module, the set of trusted top-level or full module names)
_TRUST: contextvars.ContextVar[tuple[bool, frozenset[str]]] = contextvars.ContextVar(
    "luab_code_trust", default=(False, frozenset())
)


class UntrustedCodeError(LuabError):
    """A ``module:callable`` would have been imported without the caller's opt-in."""


@contextlib.contextmanager
def allow_code(enabled: bool = True, modules: Iterable[str] = ()) -> Iterator[None]:
    """Within the block, import factories: any module (``enabled``) or just ``modules``."""
    all_ok, trusted = _TRUST.get()
    token = _TRUST.set((all_ok or bool(enabled), trusted | frozenset(m for m in modules if m)))
    try:
        yield
    finally:
        _TRUST.reset(token)


def _env_trusted() -> frozenset[str]:
    raw = os.environ.get(TRUST_ENV, "")
    return frozenset(p.strip() for p in raw.split(",") if p.strip())


def is_trusted(module_name: str) -> bool:
    """True when ``module_name`` (or a package above it) may be imported as a model factory."""
    all_ok, trusted = _TRUST.get()
    if all_ok:
        return True
    names = trusted | _env_trusted()
    parts = module_name.split(".")
    return any(".".join(parts[:i]) in names for i in range(1, len(parts) + 1))


def import_factory_module(module_name: str, spec: str) -> Any:
    """Import ``module_name`` for the factory ``spec`` if trusted (else :class:`UntrustedCodeError`).

    The working directory is searched first for the duration of the import only.
    """
    if not is_trusted(module_name):
        raise UntrustedCodeError(
            f"model {spec!r} is Python code ({module_name!r} would be imported and run); pass "
            f"--allow-code (or --trust-factory {module_name.split('.')[0]}, or set {TRUST_ENV}) "
            "if you trust it"
        )
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise LuabError(
            f"model factory {spec!r}: cannot import {module_name!r} ({err}); install it, or run from "
            "the directory holding it"
        ) from None
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def factory_provenance(module_name: str) -> dict[str, Any]:
    """``{module, file, sha256, version}`` of an imported factory module (what reproduces it)."""
    module = sys.modules.get(module_name)
    if module is None:
        raise LuabError(f"factory module {module_name!r} is not imported")
    out: dict[str, Any] = {"module": module_name, "file": None, "sha256": None, "version": None}
    file = getattr(module, "__file__", None)
    if file and Path(file).is_file():
        out["file"] = Path(file).name
        out["sha256"] = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    version = getattr(module, "__version__", None)
    if version is None:
        from importlib import metadata

        top = module_name.split(".")[0]
        try:
            dists = metadata.packages_distributions().get(top) or []
            version = metadata.version(dists[0]) if dists else None
        except metadata.PackageNotFoundError:
            version = None
    out["version"] = None if version is None else str(version)
    return out
