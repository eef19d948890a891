"""No import cycles in the package: `python -m tests.import_cycles` (run by `./dev lint`) fails listing each one.

import-linter has no contract for cycles in general, so this reads the same graph it reads (grimp's). Every
import counts, including one inside a function (a cycle hidden from import time is still a cycle between
the two modules), except those under `if TYPE_CHECKING:`. The package must be importable as one tree:
`./dev lint` puts the .cache/typing link tree on PYTHONPATH (the editable install's finder shows grimp no
files under the `conveyor` namespace).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping

import grimp

PACKAGE = "conveyor"

# Known cycles, each as the modules it runs through, to be removed by their owners; nothing else may be added.
ALLOWED: set[frozenset[str]] = set()


def import_graph(package: str = PACKAGE) -> dict[str, set[str]]:
    """Each module of `package` -> the modules of `package` it imports."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)
    modules = graph.modules
    if len(modules) < 2:
        raise SystemExit(f"{package}: no modules found; is the .cache/typing link tree on PYTHONPATH?")
    return {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Each group of modules that import one another in a circle (a strongly connected component of more than
    one module, or a module importing itself), as its sorted module names."""
    return _Components(graph).circular()


class _Components:
    """Tarjan's strongly connected components, iterative (a deep import chain would overflow recursion)."""

    def __init__(self, graph: Mapping[str, Iterable[str]]) -> None:
        self.graph = {module: sorted(imported) for module, imported in graph.items()}
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.found: list[list[str]] = []

    def circular(self) -> list[list[str]]:
        for module in sorted(self.graph):
            if module not in self.index:
                self._visit(module)
        return sorted(self.found)

    def _enter(self, module: str) -> tuple[str, Iterator[str]]:
        self.index[module] = self.low[module] = len(self.index)
        self.stack.append(module)
        return module, iter(self.graph[module])

    def _visit(self, start: str) -> None:
        work = [self._enter(start)]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    self.low[parent] = min(self.low[parent], self.low[node])
                self._close(node)
            elif child not in self.index:
                work.append(self._enter(child))
            elif child in self.stack:
                self.low[node] = min(self.low[node], self.index[child])

    def _close(self, node: str) -> None:
        """`node` is done: when it is the root of its component, take the component off the stack."""
        if self.low[node] != self.index[node]:
            return
        at = self.stack.index(node)
        component, self.stack[at:] = self.stack[at:], []
        if len(component) > 1 or node in self.graph[node]:
            self.found.append(sorted(component))


def main() -> int:
    graph = import_graph()
    found = cycles(graph)
    new = [c for c in found if frozenset(c) not in ALLOWED]
    for component in new:
        print(f"import cycle through {len(component)} modules:", file=sys.stderr)
        for module in component:
            inside = sorted(set(graph[module]) & set(component))
            print(f"  {module} imports {', '.join(inside)}", file=sys.stderr)
    gone = [sorted(c) for c in ALLOWED if c not in {frozenset(f) for f in found}]
    for component in gone:
        print(f"allowed cycle no longer exists, delete it from ALLOWED: {', '.join(component)}", file=sys.stderr)
    if not new and not gone:
        print(f"no import cycles in {PACKAGE} ({len(graph)} modules, {len(ALLOWED)} allowed)")
    return 1 if new or gone else 0


if __name__ == "__main__":
    raise SystemExit(main())
