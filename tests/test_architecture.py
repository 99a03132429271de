"""srmlib's modules depend on each other one way, and share no private names.

The import graph is read from the source (every ``import`` statement, including those inside
functions, which a test that only imports the modules would never run), so a cycle hidden behind
a function-level import fails here, not in a reader's notebook.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "srmlib"

# Private modules that exist to be shared: across srmlib, or inside one subpackage.
SHARED_PRIVATE = {"srmlib._validation", "srmlib._random", "srmlib._threads", "srmlib._io"}
PACKAGE_PRIVATE_PREFIXES = ("srmlib.plotting.", "srmlib.exercises.", "srmlib.runs.", "srmlib.sae.",
                            "srmlib.metrics.")



def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")[: len(importer.split(".")) - node.level + is_package]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str):
    """``(target module, imported name or None)`` for every import of srmlib in module ``name``."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "srmlib":
                    yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            source = resolve(name, node)
            if source.split(".")[0] != "srmlib":
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield (submodule, None) if submodule in MODULES else (source, alias.name)


def private_attributes(name: str):
    """``(module, attribute)`` for each ``alias._private`` where ``alias`` is an srmlib module."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if isinstance(node, ast.Import):
                    target = alias.name if alias.asname else alias.name.split(".")[0]
                else:
                    target = f"{resolve(name, node)}.{alias.name}"
                if target in MODULES:
                    aliases[alias.asname or alias.name.split(".")[0]] = target
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and is_private(node.attr)):
            yield aliases[node.value.id], node.attr


def graph() -> dict[str, set[str]]:
    """Edges between srmlib's modules; the top-level package, a facade over all, is left out."""
    edges = {}
    for name in MODULES:
        if name != "srmlib":
            edges[name] = {target for target, _ in imports(name)
                           if target in MODULES and target not in ("srmlib", name)}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def may_use_private(importer: str, target: str) -> bool:
    """A shared private module, or a private module of the importer's own subpackage."""
    return target in SHARED_PRIVATE or any(
        target.startswith(prefix) and f"{importer}.".startswith(prefix)
        for prefix in PACKAGE_PRIVATE_PREFIXES)


def test_the_module_graph_has_no_cycle():
    assert find_cycle(graph()) is None, f"import cycle: {' -> '.join(find_cycle(graph()))}"


def test_the_cycle_finder_finds_a_cycle_behind_a_function_level_import():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("srmlib.plotting")))
def test_plotting_never_imports_widgets_or_notebook_machinery(name):
    targets = {target for target, _ in imports(name)}
    assert not targets & {"srmlib.widgets", "srmlib.runs"}, f"{name} imports {targets}"
    assert not any(t.startswith("srmlib.runs.") for t in targets)


def test_no_module_imports_another_modules_private_names():
    found = []
    for name in MODULES:
        for target, imported in imports(name):
            private_module = any(is_private(part) for part in target.split("."))
            if private_module:
                if not may_use_private(name, target):
                    found.append(f"{name} imports the private module {target}")
            elif imported is not None and is_private(imported):
                found.append(f"{name} imports {target}.{imported}")
        for target, attribute in private_attributes(name):
            if target != name and not may_use_private(name, target):
                found.append(f"{name} uses {target}.{attribute}")
    assert not found, "\n".join(found)


def test_importing_plotting_loads_no_widgets():
    code = ("import sys, srmlib.plotting; "
            "assert 'srmlib.widgets' not in sys.modules and 'ipywidgets' not in sys.modules, "
            "sorted(m for m in sys.modules if 'widget' in m)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


def test_importing_srmlib_loads_no_metrics_libraries():
    """``import srmlib`` stays light (every chapter and run pays for it): scikit-learn and POT
    load only when a metric or an exercise that needs them runs."""
    heavy = ["sklearn", "ot", "srmlib.metrics", "srmlib.alignment"]
    code = "import sys, srmlib; print([m for m in sys.argv[1:] if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code, *heavy], capture_output=True, text=True,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
