"""Imports point one way (docs/architecture.md, "Layers"): no cycle, and no module imports a layer above it.

Every ``import`` of ``audit``, ``attacks`` and ``reports`` is read from the source (function-level
imports included; ``if TYPE_CHECKING:`` blocks excluded, they never run), so a lazy import cannot
hide an upward edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("audit", "attacks", "reports")

#: (module prefix, layer), most specific first; a module may import its own layer and those below
LAYERS: tuple[tuple[str, int], ...] = (
    ("attacks", 0),
    ("audit.shared", 1),
    ("audit.core.case_file", 4), ("audit.core.case", 4), ("audit.lm.case", 4),
    ("audit.lm.loader", 2), ("audit.lm.text_data", 2), ("audit.lm.cache", 2), ("audit.lm.tokenizer", 2),
    ("audit.lm.ragged", 2), ("audit.lm.sweep", 2), ("audit.lm.case_view", 2),
    ("audit.core.split_table", 2), ("audit.core", 2),
    ("audit.training.mlp_ensemble", 3), ("audit.training", 3), ("audit.lm.train", 3), ("audit.lm.unlearn", 3), ("audit.lm.generate", 3),
    ("audit.lm.bios", 3), ("audit.lm.tail", 3),
    ("audit.checks", 5),
    ("audit.engine", 6),
    ("audit.lab", 7), ("audit.lm.point_scores", 7),
    ("audit.scenarios", 8), ("audit.calibration", 8), ("audit.lm.compare", 8), ("audit.lm.real", 8),
    ("audit.cli", 9),
    ("audit.lm", 2),  # the package itself (its modules are placed above)
)
NAMES = {0: "attacks", 1: "shared", 2: "core", 3: "training", 4: "case", 5: "checks", 6: "engine", 7: "lab",
         8: "scenarios", 9: "cli"}
#: audit modules that may import reports: writing the pack (the engine's edge) and the command line
PACK_EDGE = ("audit.engine.runner", "audit.engine.result_api", "audit.cli")


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    hidden = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
              for stmt in node.body for n in ast.walk(stmt)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    out.discard(name)
    return out


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def layer(name: str) -> int | None:
    """The layer of module ``name`` (None: ``reports`` and the ``audit`` facade)."""
    for prefix, rank in LAYERS:
        if name == prefix or name.startswith(prefix + "."):
            return rank
    return None


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Edges from a module to a layer above it."""
    return [f"{m} ({NAMES[layer(m)]}) -> {t} ({NAMES[layer(t)]})" for m, targets in graph.items()
            for t in targets if layer(m) is not None and layer(t) is not None and layer(t) > layer(m)]


def crossings(graph: dict[str, set[str]]) -> list[str]:
    """Edges between the packages that break the rules: reports into audit beyond the shared
    contracts, audit into reports outside the pack edge, attacks into anything else."""
    bad = []
    for m, targets in graph.items():
        for t in targets:
            if (m.startswith("reports") and t.startswith("audit") and not t.startswith("audit.shared")
                    or m.startswith("audit") and t.startswith("reports") and not m.startswith(PACK_EDGE)
                    or m.startswith("attacks") and not t.startswith("attacks")):
                bad.append(f"{m} -> {t}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_audit_module_has_a_layer() -> None:
    assert [m for m in GRAPH if m.startswith("audit.") and layer(m) is None] == []


def test_no_module_imports_a_layer_above_it() -> None:
    assert upward(GRAPH) == []


def test_reports_attacks_and_audit_cross_only_at_their_edges() -> None:
    """``reports`` imports from ``audit`` only the shared contracts (errors, digest, commitment,
    process liveness); ``audit`` imports ``reports`` only where it writes the pack; ``attacks`` is
    self-contained."""
    assert crossings(GRAPH) == []


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("src, dst, rule", [
    ("audit.checks.utility", "audit.engine.runner", upward),
    ("reports.render", "audit.core.case", crossings),
    ("audit.core.cache", "reports.destination", crossings),
    ("attacks.metrics", "audit.core.stats", crossings),
    ("audit.core.stats", "audit.core.decision", cycles),
])
def test_the_rules_catch_a_planted_edge(src: str, dst: str, rule) -> None:  # noqa: ANN001
    """The rules are not vacuous: an edge planted in a copy of the graph is reported."""
    planted = {m: set(ts) for m, ts in GRAPH.items()}
    planted[src].add(dst)
    assert rule(planted) != []
