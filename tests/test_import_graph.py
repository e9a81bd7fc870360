"""No import cycles between revsim's modules.

The graph is read from the source (``ast``): every ``import`` of a revsim module, at the top of a module or
inside a function (an import deferred into a function still closes a cycle, only later), except those under
``if TYPE_CHECKING:``, which never run. A cycle is a strongly connected component of more than one module.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"


def module_files() -> dict[str, tuple[Path, bool]]:
    """Every revsim module: its file and whether it is a package's ``__init__``."""
    modules = {}
    for path in SOURCE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)
    return modules


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """module -> the revsim modules it imports (anywhere but under ``if TYPE_CHECKING:``)."""
    modules = module_files()
    graph = {}
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        never_run = {id(node) for branch in ast.walk(tree)
                     if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
                     for statement in branch.body for node in ast.walk(statement)}
        imported = set()
        for node in ast.walk(tree):
            if id(node) in never_run:
                continue
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package of this module
                    parents = name.split(".") if package else name.split(".")[:-1]
                    base = ".".join(parents[:len(parents) - node.level + 1] + ([base] if base else []))
                # `from revsim.engine import layout` imports the module revsim.engine.layout
                imported |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                             for alias in node.names}
        graph[name] = {other for other in imported if other in modules and other != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def test_the_graph_is_read():
    graph = import_graph()
    assert "revsim.engine.layout" in graph["revsim.engine.kernels"]  # a `from package import module`
    assert "revsim.results.dataset" in graph["revsim.pipeline"]  # an import inside a function


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    found = [sorted(cycle) for cycle in cycles(import_graph())]
    assert not found, f"import cycles: {found}"
