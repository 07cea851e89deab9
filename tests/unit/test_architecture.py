"""The package's folders are its architecture: no module imports another in a cycle, and the
pure layers (what a Service is, the builders, the documented API) never reach into the
operator process or the front doors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "dockercloud_operator"
ROOT = Path(__file__).resolve().parents[2] / "operator" / PACKAGE
PURE = ("schema", "resources", "documented")
OUTER = ("controller", "cli", "rest")

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = ROOT) -> Graph:
    """Every module of the package -> the package's modules it imports, wherever the import
    stands (at the top, in a function, under TYPE_CHECKING: a cycle of types is a cycle)."""
    modules = {module_name(path, root): path for path in root.rglob("*.py")}
    graph: Graph = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # `from pkg import module` imports the module
                    child = f"{node.module}.{alias.name}"
                    targets.add(child if child in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def crossings(graph: Graph) -> list[str]:
    """Imports from a pure layer into the operator process or a front door."""
    return sorted(
        f"{source} imports {target}"
        for source, targets in graph.items()
        if layer(source) in PURE
        for target in targets
        if layer(target) in OUTER
    )


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_pure_layers_import_nothing_from_the_controller_or_the_front_doors() -> None:
    assert crossings(import_graph()) == []


def test_every_layer_is_a_folder() -> None:
    graph = import_graph()
    flat = [m for m in graph if m.count(".") == 1 and layer(m) not in ("__main__",)]
    assert sorted(layer(m) for m in flat) == sorted(
        p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()
    )


# The checks themselves, on small graphs: they find what they are for.


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_cycles_are_found(graph: Graph, expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_an_import_from_a_pure_layer_into_the_controller_is_found() -> None:
    graph = {
        f"{PACKAGE}.schema.model": {f"{PACKAGE}.controller.store"},
        f"{PACKAGE}.controller.store": {f"{PACKAGE}.schema.model"},
        f"{PACKAGE}.cli.dcs": {f"{PACKAGE}.documented.view"},
    }
    assert crossings(graph) == [f"{PACKAGE}.schema.model imports {PACKAGE}.controller.store"]


def test_imports_in_functions_and_for_types_count(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    (package / "controller").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "controller" / "__init__.py").write_text("")
    (package / "controller" / "metrics.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        f"    from {PACKAGE}.controller.reconciler import Reconciler\n"
    )
    (package / "controller" / "reconciler.py").write_text(
        f"def run() -> None:\n    from {PACKAGE}.controller import metrics\n"
    )
    assert cycles(import_graph(package)) == [
        [f"{PACKAGE}.controller.metrics", f"{PACKAGE}.controller.reconciler"]
    ]
