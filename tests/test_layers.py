"""Dependencies point one way (DESIGN.md, "Architecture"): a module may import its own layer and the
layers below it, never a higher one, and no two modules import each other (directly or round a loop).

Imports are read from the source (``ast``), including imports inside functions, which run later but
are dependencies all the same, and ``import_module`` of a literal module name. The one sanctioned
reach upwards is by name: the case layer loads the plug-in packages that register asset, tariff and
market kinds (``case.KIND_PACKAGES``) without importing their code. A new top-level module or package under ``bidopt/`` needs a line in
``LAYERS``; the test names it until it has one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bidopt"

# Lowest first. Each entry: layer name -> module prefixes (a prefix covers the package below it).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # time and case, with the small helpers every layer uses (errors, number parsing, output files,
    # the plug-in registry, today's state, the Dask connection)
    ("base", ("bidopt.time", "bidopt.horizon", "bidopt.case", "bidopt.case_base", "bidopt.case_tables",
              "bidopt.state", "bidopt.errors", "bidopt.numbers", "bidopt.registry", "bidopt.output", "bidopt.cluster")),
    # the solver adapter sits beside the model and imports nothing above the base (it knows Pyomo and
    # highspy, not bidopt); who may call it is the next rule
    ("solver adapter", ("bidopt.solver", "bidopt.highs_direct", "bidopt.highs_tape", "bidopt.highs_persistent",
                        "bidopt.expr_value", "bidopt.params")),
    ("data", ("bidopt.data",)),
    ("parts", ("bidopt.assets", "bidopt.markets", "bidopt.tariffs")),
    ("model", ("bidopt.site", "bidopt.model", "bidopt.notes", "bidopt.replan", "bidopt.diagnose")),
    ("bids", ("bidopt.bids", "bidopt.forecast")),
    ("backtest", ("bidopt.backtest",)),
    ("cli", ("bidopt.cli", "bidopt.cli_fleet")),
]
# The root package sits at the bottom: every ``import bidopt.x`` runs it, and its own code imports
# nothing (its public names, ``bidopt.plan`` etc., load their modules lazily by name on first use).
ROOT = "bidopt"

# DESIGN: "only model calls it". Outside the model layer, modules may use the adapter's public
# interface only: the ``bidopt.solver`` package itself (assets, markets and tariffs write a day's
# numbers into their Params and read solved values through it) and the two modules kept for old
# imports, ``bidopt.params`` and ``bidopt.expr_value`` (assets still import ``expr_value``; the
# adapter work of issue 15 moves them to ``bidopt.solver``). Its inner modules only the model calls.
ADAPTER = LAYERS[1][1]
ADAPTER_PUBLIC = ("bidopt.solver", "bidopt.params", "bidopt.expr_value")
MODEL = LAYERS[4][1]

# (importer prefix, imported prefix) -> why it is allowed for now. Keep this short.
ALLOWED: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, module) for every bidopt import in the file; ``from a import b`` counts as ``a.b``
    when ``a.b`` is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "bidopt"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            if base.split(".")[0] != "bidopt":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((node.lineno, sub if sub in MODULES else base))
    return out


def _matches(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _layer(name: str) -> int | None:
    """Index of the layer of ``name`` (the longest matching prefix wins); None: no layer."""
    if name == ROOT:
        return 0
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if _matches(name, (p,)) and (best is None or len(p) > best[1]):
                best = (i, len(p))
    return None if best is None else best[0]


def _allowed(importer: str, imported: str) -> bool:
    return any(_matches(importer, (a,)) and _matches(imported, (b,)) for a, b in ALLOWED)


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if _layer(m) is None]
    assert not missing, f"modules without a layer (add them to LAYERS in {__file__}): {missing}"


def test_no_layer_reaches_a_higher_one():
    bad = []
    for name, path in MODULES.items():
        mine = _layer(name)
        for line, imported in _imports(name, path):
            if (_layer(imported) or 0) > (mine or 0) and not _allowed(name, imported):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} {name} ({LAYERS[mine][0]}) imports "
                           f"{imported} ({LAYERS[_layer(imported)][0]})")
    assert not bad, "imports that reach a higher layer:\n" + "\n".join(bad)


def test_only_the_model_calls_the_solver_adapter():
    bad = []
    for name, path in MODULES.items():
        if _matches(name, ADAPTER) or _matches(name, MODEL):
            continue
        for line, imported in _imports(name, path):
            if _matches(imported, ADAPTER) and imported not in ADAPTER_PUBLIC and not _allowed(name, imported):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} {name} imports {imported}")
    assert not bad, "the solver adapter is called from outside the model:\n" + "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycles():
    # a package's __init__ that only re-exports its own modules is not a dependency of them
    graph = {m: {i for _, i in _imports(m, p) if i in MODULES and i != m and not _matches(m, (i,))}
             for m, p in MODULES.items()}
    cycles = _cycles(graph)
    assert not cycles, "modules that import each other (round a loop): " + "; ".join(" <-> ".join(c) for c in cycles)


def test_assets_know_nothing_of_markets():
    """DESIGN: an asset knows nothing of markets; a market asks assets for headroom."""
    bad = [f"{p.relative_to(PACKAGE.parent)}:{line} {m} imports {i}" for m, p in MODULES.items()
           if _matches(m, ("bidopt.assets",)) for line, i in _imports(m, p) if _matches(i, ("bidopt.markets",))]
    assert not bad, "\n".join(bad)


def test_allowed_exceptions_are_still_needed():
    stale = [pair for pair in ALLOWED
             if not any(_matches(m, (pair[0],)) and _matches(i, (pair[1],))
                        for m, p in MODULES.items() for _, i in _imports(m, p))]
    assert not stale, f"ALLOWED entries no longer used (remove them): {stale}"


def test_loading_by_name_reaches_only_plug_ins():
    """A module named in a string and imported at run time is a dependency too. The case layer loads
    the packages that register asset, tariff and market kinds by name (``case.KIND_PACKAGES``: a
    plug-in list, so the case names them without importing their code); each must be a ``parts``
    package. Elsewhere a literal ``import_module("bidopt...")`` obeys the layers like an import (the
    root package's lazy public names excepted)."""
    from bidopt.case import KIND_PACKAGES

    parts = [i for i, (name, _) in enumerate(LAYERS) if name == "parts"][0]
    assert all(_layer(p) == parts for p in KIND_PACKAGES), KIND_PACKAGES
    bad = []
    for name, path in MODULES.items():
        if name == ROOT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                    and node.args[0].value.startswith("bidopt")
                    and (_layer(node.args[0].value) or 0) > (_layer(name) or 0)):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name} loads {node.args[0].value}")
    assert not bad, "\n".join(bad)
