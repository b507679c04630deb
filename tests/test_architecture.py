"""The package's import graph, read statically with ``ast``: no cycle among module-level imports.

An import cycle means two modules cannot be read, tested or replaced one without the other (issue 15).
Imports inside functions are how heavy or late dependencies are deferred; a cycle through one does not
break import order but still ties the modules together, so it fails too (one deliberate entry-point
edge aside). Imports under ``if TYPE_CHECKING:`` are annotations only and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "benchmark" / "luab_bench"
PACKAGE = "luab_bench"


def module_files(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the package."""
    out: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_graph(modules: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, function-level edges) between the package's own modules.

    ``from a.b import c`` counts as an import of ``a.b.c`` when that is a module, else of ``a.b``;
    importing ``a.b`` also runs every package ``__init__`` above it, which counts as an edge too.
    """
    top: dict[str, set[str]] = {m: set() for m in modules}
    late: dict[str, set[str]] = {m: set() for m in modules}

    def resolve(name: str) -> list[str]:
        found = []
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in modules:
                found.append(prefix)
        return found

    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]

        def visit(node: ast.AST, in_function: bool, mod: str = mod, package: str = package) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child.test):
                    for sub in child.orelse:
                        visit(sub, in_function)
                    continue
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                targets: list[str] = []
                if isinstance(child, ast.Import):
                    targets = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                        base = ".".join([*anchor, base] if base else anchor)
                    targets = [f"{base}.{alias.name}" for alias in child.names]
                for target in targets:
                    if target.split(".")[0] != PACKAGE:
                        continue
                    for dep in resolve(target):
                        if dep != mod and dep != PACKAGE:
                            (late if nested else top)[mod].add(dep)
                visit(child, nested)

        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False)
    return top, late


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(out)


def test_graph_reader_sees_a_cycle_it_is_given(tmp_path: Path) -> None:
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from luab_bench.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from .. import c\n")
    (pkg / "c.py").write_text(
        "import typing\nif typing.TYPE_CHECKING:\n    import luab_bench.d\n"
        "def f():\n    from luab_bench import a\n"
    )
    (pkg / "d.py").write_text("from . import c\n")
    top, late = import_graph(module_files(pkg))
    assert top["luab_bench.a"] == {"luab_bench.sub", "luab_bench.sub.b"}
    assert top["luab_bench.sub.b"] == {"luab_bench.c"}
    assert top["luab_bench.c"] == set() and late["luab_bench.c"] == {"luab_bench.a"}
    assert cycles(top) == []
    both = {m: top[m] | late[m] for m in top}
    assert cycles(both) == [["luab_bench.a", "luab_bench.c", "luab_bench.sub.b"]]
    (pkg / "d.py").write_text("from . import c\n")
    (pkg / "c.py").write_text("from luab_bench import d\n")
    assert cycles(import_graph(module_files(pkg))[0]) == [["luab_bench.c", "luab_bench.d"]]


def test_no_module_level_import_cycle() -> None:
    top, _ = import_graph(module_files())
    found = cycles(top)
    assert not found, "module-level import cycles: " + "; ".join(" <-> ".join(c) for c in found)


#: Deliberate call-time edges up to the pipeline: ``luab_bench.train`` is both the training package and
#: the public API's ``train`` (its ``__call__`` is ``pipeline.train_one``; see train/__init__.py).
ENTRY_POINT_EDGES = {(f"{PACKAGE}.train", f"{PACKAGE}.pipeline")}


def test_no_function_level_import_cycle(capsys: pytest.CaptureFixture[str]) -> None:
    """No cycle even through imports inside functions (every ``import`` in every function body counts),
    apart from the public entry point's edge in ``ENTRY_POINT_EDGES``. Cycles closed only by that
    edge are listed (``-s``); any other cycle fails, with its modules."""
    top, late = import_graph(module_files())
    both = {m: top[m] | late[m] for m in top}
    with capsys.disabled():
        for comp in cycles(both):
            print(f"\nfunction-level import cycle ({len(comp)} modules): {', '.join(comp)}")
    for src, dst in ENTRY_POINT_EDGES:
        assert dst in late[src], f"stale exemption {src} -> {dst}"
        both[src] = both[src] - {dst}
    found = cycles(both)
    assert not found, "function-level import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def module_map(doc: str) -> list[str]:
    """The module paths of docs/ARCHITECTURE.md's module map: the first word of each line of the code
    block that starts with ``benchmark/luab_bench/``."""
    import re

    block = re.search(r"```\nbenchmark/luab_bench/\n(.*?)```", doc, re.S)
    assert block is not None, "docs/ARCHITECTURE.md lost its module map"
    return [line.split()[0] for line in block[1].splitlines() if line.strip()]


def test_module_map_has_one_line_per_module() -> None:
    """Every .py module under benchmark/luab_bench is named on exactly one line of the module map, and
    the map names no module that does not exist (so the map cannot rot)."""
    doc = (PACKAGE_DIR.parents[1] / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = module_map(doc)
    actual = sorted(p.relative_to(PACKAGE_DIR).as_posix() for p in PACKAGE_DIR.rglob("*.py"))
    twice = sorted({m for m in named if named.count(m) > 1})
    assert not twice, f"named on more than one line: {twice}"
    assert not sorted(set(actual) - set(named)), (
        f"missing from the module map: {sorted(set(actual) - set(named))}"
    )
    assert not sorted(set(named) - set(actual)), (
        f"in the map but not a module: {sorted(set(named) - set(actual))}"
    )


def test_module_map_reader_sees_a_missing_and_a_repeated_module() -> None:
    doc = "text\n```\nbenchmark/luab_bench/\n  a.py   one\n  sub/b.py  two\n  a.py  again\n```\n"
    assert module_map(doc) == ["a.py", "sub/b.py", "a.py"]


def defined_names(path: Path) -> set[str]:
    """Every name a module defines: functions, classes, arguments, assigned names and attributes."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return names


def british_spellings(names: set[str]) -> set[str]:
    """The identifiers among ``names`` spelt with -ise/-isation where the code says -ize (issue 15)."""
    return {n for n in names if "normalis" in n.lower()}


def test_one_spelling_of_normalize_in_identifiers() -> None:
    """Identifiers say ``normalize`` (torchvision's ``Normalize``, timm's configs); prose may differ."""
    found = {
        f"{path.relative_to(PACKAGE_DIR)}: {name}"
        for path in module_files().values()
        for name in british_spellings(defined_names(path))
    }
    assert not found, sorted(found)


def test_spelling_check_sees_a_british_identifier(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_text("def normalise_maps(x, normalised=True):\n    y_normalisation = x\n    return x\n")
    assert british_spellings(defined_names(p)) == {"normalise_maps", "normalised", "y_normalisation"}
