"""The package's shape, read from its source tree (no import of it): rooms in floors, no import circle, no
arrow up, the folder named as imported, engines that declare themselves. docs/extending.md describes it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "harness" / "enginebench"
#: The rooms, bottom floor first: a module may import its own room and the rooms below it, never above.
FLOORS = ("core", "contract", "engines", "results", "plan", "measure", "report", "cli")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(("enginebench", *parts)).removesuffix(".__init__")] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every enginebench module `name` imports: module level, inside functions and under TYPE_CHECKING
    alike (an arrow is an arrow, whenever it is followed)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {_known_prefix(a.name, known) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            # each name of `from x import a, b` may be a module of its own; else the names come from x
            modules = {f"{base}.{a.name}" for a in node.names} & known
            found |= modules or {_known_prefix(base, known)}
    return found - {"", name}


def _known_prefix(target: str, known: set[str]) -> str:
    """The longest enginebench module a dotted import name lies in ("" outside the package)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target


def _room(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


GRAPH = {name: _imports(name, path, set(_modules())) for name, path in _modules().items()}


def test_every_module_lives_in_a_room() -> None:
    loose = [m for m in GRAPH if m not in ("enginebench", "enginebench.__main__") and _room(m) not in FLOORS]
    assert not loose, f"modules outside the rooms {FLOORS}: {loose}"


def test_no_module_imports_the_package_facade() -> None:
    # `enginebench/__init__` is the public workload API that re-exports from the rooms; a room importing
    # it would close a circle through it.
    inward = [m for m, targets in GRAPH.items() if "enginebench" in targets and m != "enginebench.__main__"]
    assert not inward, f"import the room module, not the package: {inward}"


def test_no_arrow_points_up_a_floor() -> None:
    up = [f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets
          if _room(m) in FLOORS and _room(t) in FLOORS and FLOORS.index(_room(t)) > FLOORS.index(_room(m))]
    assert not up, "arrows up (a lower room importing a higher one):\n" + "\n".join(sorted(up))


def test_no_import_circle() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
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
                circles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_the_harness_imports_no_workload_module() -> None:
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [module or ""]
            found += [f"{name} -> {n}" for n in names if n and n.startswith("enginebench.workloads")]
    assert not found, f"the harness reaches workloads by name through the registry only: {found}"


@pytest.mark.parametrize("floor", FLOORS)
def test_each_room_says_what_it_holds(floor: str) -> None:
    init = PACKAGE / floor / "__init__.py"
    assert init.is_file() and ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), \
        f"{floor}/__init__.py needs a docstring saying what the room holds"


def test_the_checker_sees_arrows_it_should() -> None:
    # The graph is built from the tree: a known arrow must be in it, or the test reads nothing.
    assert "enginebench.plan.registry" in GRAPH["enginebench.measure.runner"]
    assert "enginebench.core.budget" in GRAPH["enginebench.engines.base"]


def test_an_engine_is_its_lifecycle_module_plus_its_workload_files() -> None:
    # docs/extending.md: adding an engine touches its module in engines/ (and, optionally, the starter file
    # `enginebench new` writes for it); the registry, the workload checks, the machine facts, the report and
    # the docs derive it. Daft was added that way: no other harness module names it.
    allowed = {PACKAGE / "engines" / "daft.py", PACKAGE / "cli" / "template.py"}
    naming = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
              if p not in allowed and "daft" in p.read_text(encoding="utf-8").lower()]
    assert not naming, f"harness modules that name the daft engine: {naming}"
    assert (ROOT / "workloads" / "etl" / "daft.py").is_file()


def test_no_dask_code_reads_the_workers_from_the_clients_cached_identity() -> None:
    # Client.scheduler_info() returns a cache that the client's periodic refresh (every 2 s, with no
    # per-worker part) replaces while the calling thread reads it: its "workers" came back empty 492 times
    # in 13,741 calls at a 5 ms refresh, and once in CI (a cnn rank list of none). nthreads() and
    # run_on_scheduler() ask the scheduler.
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "workloads").rglob("*.py")]
    reading = [str(p.relative_to(ROOT)) for p in sources for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "scheduler_info"]
    assert not reading, f"modules that read Client.scheduler_info(): {reading}"
