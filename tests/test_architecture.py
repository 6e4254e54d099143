"""The import rule between the layers (ARCHITECTURE.md), read from the source: every `import` and `from ...
import` at any depth (function-level ones too, which run when the function does), resolved to the project's
modules by infra/assets/imports.py, the reader the asset builders ship closures with.

    golive/                 the core: imports nothing else of the project
    training/               golive
    functions/common/       golive
    functions/api/, functions/endpoint/, functions/rotation/, functions/retrain_trigger/,
    functions/feedback_export/
                            golive and functions/common (functions/lambda_handler.py is the API's Lambda entry)
    infra/                  golive (training/ and functions/ only by path, in infra/assets, to package them)
    cli/                    anything; nothing imports it

tests/ and benchmarks/ drive every layer (the CLI included) and no layer imports them. No cycle between the
layers, and none between modules. The checker is also run on planted trees, to show it fails on each kind of
violation it is meant to catch.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from infra.assets.imports import PROJECT_PACKAGES, ROOT, imports_of, module_name, project_modules

# each layer and what it may import besides itself; a module belongs to the longest layer name it starts with
ALLOWED = {
    "golive": set(),
    "training": {"golive"},
    "functions": set(),  # the package's own __init__
    "functions.common": {"golive"},
    "functions.api": {"golive", "functions.common"},
    "functions.endpoint": {"golive", "functions.common"},
    "functions.rotation": {"golive", "functions.common"},
    "functions.retrain_trigger": {"golive", "functions.common"},
    "functions.feedback_export": {"golive", "functions.common"},
    "infra": {"golive"},
    "cli": {
        "golive",
        "training",
        "functions",
        "functions.common",
        "functions.api",
        "functions.endpoint",
        "functions.rotation",
        "functions.retrain_trigger",
        "functions.feedback_export",
        "infra",
    },
}
ENTRY_POINTS = {"functions.lambda_handler": "functions.api"}  # modules that belong to a layer outside its folder
SCANNED = (*PROJECT_PACKAGES, "tests", "benchmarks")  # imports of these count; tests and benchmarks are no layer


def layer_of(module: str) -> str:
    if module in ENTRY_POINTS:
        return ENTRY_POINTS[module]
    candidates = [layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")]
    return max(candidates, key=len) if candidates else module.split(".")[0]


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {imported project module: line of the first such import}, for every module of the layers."""
    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for path in project_modules(root):
        graph[module_name(path, root)]  # a module that imports nothing is still a node
        for found in imports_of(path, root, SCANNED):
            if found.target != found.module:
                graph[found.module].setdefault(found.target, found.line)
    return graph


def violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """`module:line imports target (layer -> layer)` for every import the rule forbids."""
    found = []
    for module, targets in sorted(graph.items()):
        source = layer_of(module)
        for target, line in sorted(targets.items()):
            layer = layer_of(target)
            if layer != source and layer not in ALLOWED[source]:
                found.append(f"{module}:{line} imports {target} ({source} -> {layer})")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
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


def module_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    return cycles({module: set(targets) for module, targets in graph.items()})


def layer_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            if layer_of(module) != layer_of(target):
                edges[layer_of(module)].add(layer_of(target))
    return cycles(edges)


# --- the project ------------------------------------------------------------------------------------------------


def test_every_import_follows_the_layer_rule():
    graph = import_graph(ROOT)
    assert {module.split(".")[0] for module in graph} == set(PROJECT_PACKAGES)  # every layer was read
    assert sum(len(targets) for targets in graph.values()) > 200  # and their imports: the reader found them
    assert violations(graph) == []


def test_no_import_cycle_between_layers_or_modules():
    graph = import_graph(ROOT)
    assert layer_cycles(graph) == []
    assert module_cycles(graph) == []


def test_nothing_imports_the_cli_and_the_core_imports_only_itself():
    graph = import_graph(ROOT)
    into_cli = [m for m, targets in graph.items() if layer_of(m) != "cli" and any(t.startswith("cli") for t in targets)]
    assert into_cli == []
    core = {t for m, targets in graph.items() if m.startswith("golive") for t in targets}
    assert core and all(t == "golive" or t.startswith("golive.") for t in core)


# --- the checker on planted trees ---------------------------------------------------------------------------------


def plant(root: Path, files: dict[str, str]) -> Path:
    """A tree with every layer's package, plus `files` (path -> source)."""
    for package in (
        "golive",
        "training",
        "functions",
        "functions/common",
        "functions/api",
        "functions/endpoint",
        "functions/rotation",
        "infra",
        "cli",
    ):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    for path, source in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(source)
    return root


def test_the_checker_finds_each_kind_of_violation(tmp_path):
    root = plant(
        tmp_path,
        {
            "golive/core.py": "def load():\n    from training import loop  # function-level: still an import\n",
            "training/loop.py": "import numpy\n\nimport cli.main\n",
            "cli/main.py": "from training import loop\n",
            "functions/api/routes.py": "TOP = 1\n",
            "functions/endpoint/app.py": "from functions.api.routes import TOP\nfrom functions.common import http\n",
            "functions/common/http.py": "from golive import core\n",
            "infra/stack.py": "from functions.rotation.handler import KEY\nfrom golive.core import load\n",
            "functions/rotation/handler.py": "KEY = 64\n",
        },
    )
    graph = import_graph(root)
    assert violations(graph) == [
        "functions.endpoint.app:1 imports functions.api.routes (functions.endpoint -> functions.api)",
        "golive.core:2 imports training (golive -> training)",
        "golive.core:2 imports training.loop (golive -> training)",
        "infra.stack:1 imports functions.rotation.handler (infra -> functions.rotation)",
        "training.loop:3 imports cli.main (training -> cli)",
    ]
    # training -> cli -> training is a cycle of layers, and of the modules training.loop and cli.main
    assert layer_cycles(graph) == [["cli", "training"]]
    assert module_cycles(graph) == [["cli.main", "training.loop"]]


def test_the_checker_finds_a_cycle_inside_one_layer_and_an_import_of_the_tests(tmp_path):
    root = plant(
        tmp_path,
        {
            "golive/a.py": "from golive import b\n",
            "golive/b.py": "def later():\n    import golive.a\n",
            "golive/c.py": "from tests.helpers import fixture\n",
            "tests/__init__.py": "",
            "tests/helpers.py": "fixture = 1\n",
        },
    )
    graph = import_graph(root)
    assert violations(graph) == ["golive.c:1 imports tests.helpers (golive -> tests)"]
    assert module_cycles(graph) == [["golive.a", "golive.b"]]
    assert layer_cycles(graph) == []
