"""Import cycles among the modules of mediasrv and workers, found on grimp's import graph (the one
import-linter checks its contracts on: function-level and TYPE_CHECKING imports count too).

`make cycles` (python -m tests.import_cycles) prints them; tests/test_import_cycles.py fails on them.
"""

from __future__ import annotations

import sys

import grimp

PACKAGES = ("mediasrv", "workers")


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module, each sorted (Tarjan's algorithm,
    iterative: a chain of imports may be deeper than Python's recursion limit)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in order:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                order[node] = low[node] = len(order)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in order:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], order[nxt])
                continue
            if work:  # done with node: its parent learns how far back node reaches
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == order[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def closing_imports(graph: grimp.ImportGraph, component: list[str]) -> list[str]:
    """Every import between two modules of the component, where it is written: each closes a cycle
    (within a strongly connected component the imported module leads back to the importer)."""
    members = set(component)
    lines = []
    for importer in component:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            for detail in graph.get_import_details(importer=importer, imported=imported):
                lines.append(
                    f"{importer} -> {imported} (line {detail['line_number']}: {detail['line_contents']})"
                )
    return lines


def report(graph: grimp.ImportGraph) -> str:
    """The cycles and the imports that close them; empty when there are none."""
    parts = []
    for component in cycles(graph):
        parts.append(f"cycle among {', '.join(component)}:")
        parts.extend(f"    {line}" for line in closing_imports(graph, component))
    return "\n".join(parts)


def main() -> int:
    found = report(grimp.build_graph(*PACKAGES, cache_dir=None))
    print(found or f"no import cycles among the modules of {' and '.join(PACKAGES)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
