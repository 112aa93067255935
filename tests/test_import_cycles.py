"""No import cycles among the modules of mediasrv and workers (`make cycles` prints them)."""

from __future__ import annotations

import grimp

from tests.import_cycles import PACKAGES, cycles, report


def test_no_import_cycles_among_the_modules() -> None:
    found = report(grimp.build_graph(*PACKAGES, cache_dir=None))
    assert not found, f"import cycles (break each at one of the imports listed):\n{found}"


def _graph(imports: dict[str, list[str]]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports.items():
        graph.add_module(importer)
        for module in imported:
            graph.add_import(
                importer=importer, imported=module, line_number=3, line_contents=f"import {module}"
            )
    return graph


def test_the_check_finds_every_cycle_and_the_imports_that_close_it() -> None:
    graph = _graph(
        {
            "p.a": ["p.b"],
            "p.b": ["p.c", "p.lib"],
            "p.c": ["p.a"],  # a -> b -> c -> a
            "p.d": ["p.e", "p.a"],
            "p.e": ["p.d"],  # d <-> e, above the first cycle, not part of it
            "p.lib": [],
        }
    )
    assert cycles(graph) == [["p.a", "p.b", "p.c"], ["p.d", "p.e"]]
    assert report(graph).splitlines() == [
        "cycle among p.a, p.b, p.c:",
        "    p.a -> p.b (line 3: import p.b)",
        "    p.b -> p.c (line 3: import p.c)",
        "    p.c -> p.a (line 3: import p.a)",
        "cycle among p.d, p.e:",
        "    p.d -> p.e (line 3: import p.e)",
        "    p.e -> p.d (line 3: import p.d)",
    ]
    assert report(_graph({"p.a": ["p.b"], "p.b": []})) == ""
