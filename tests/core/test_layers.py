"""The structure stays as issue #11 left it: no import cycles (function-level imports
included), and no module outside a provider's own package names a provider."""

from __future__ import annotations

import ast
from pathlib import Path

from mlx import providers

MLX = Path(__file__).resolve().parents[2] / "mlx"


def _module(path: Path) -> str:
    parts = path.relative_to(MLX.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (never imported at run time)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(sub) for sub in ast.walk(node))
    return [node for node in ast.walk(tree) if id(node) not in hidden]


def import_graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in MLX.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for node in _runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_not_even_inside_functions() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_can_fail() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_only_a_providers_own_package_names_it() -> None:
    names = set(providers.names())
    found = []
    for path in sorted(MLX.rglob("*.py")):
        parts = path.relative_to(MLX).parts
        if parts[0] == "backends" and len(parts) > 2 and parts[1] in names:
            continue  # a provider's own package names itself
        if parts == ("runtime", "compat_sagemaker.py"):
            continue  # SageMaker's container layout, which `compat:` names on every provider
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.relative_to(MLX)}:{node.lineno}: {node.value!r}")
    assert found == []
