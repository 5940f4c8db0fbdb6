"""Names -> workloads and engines. The only global state: a table of import paths, resolved lazily, and the
workloads a user brought in this process (a folder or a module, `enginebench.contract.discovery`).

Adding an engine is one lifecycle module in `enginebench.engines` (found by `_declared_engines`, or an
installed package's entry point); adding a shipped workload is one entry plus a `workloads/<name>/`
package; a user's workload needs no entry (`--workload ./myjob`, or an installed package's entry point).
Nothing else dispatches on names.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from enginebench.contract import discovery
from enginebench.contract.discovery import Source
from enginebench.contract.spec import Workload
from enginebench.contract.wellformed import checked
from enginebench.core.errors import UsageError, WorkloadError, unknown
from enginebench.engines.environment import MAIN, Environment

if TYPE_CHECKING:
    from enginebench.contract.commands import DataCommand
    from enginebench.engines.base import Engine

#: The shipped workloads: name -> spec module.
WORKLOADS: dict[str, str] = {
    "tasks": "enginebench.workloads.tasks.spec",
    "etl": "enginebench.workloads.etl.spec",
    "cnn": "enginebench.workloads.cnn.spec",
    "inference": "enginebench.workloads.inference.spec",
    "tune": "enginebench.workloads.tune.spec",
    "gbdt": "enginebench.workloads.gbdt.spec",
    "serve": "enginebench.workloads.serve.spec",
}

#: The entry-point group an installed package registers an engine in: name = "pkg.module:Class".
ENGINE_GROUP = "enginebench.engines"


def _declared_engines() -> dict[str, str]:
    """engine name -> "module:Class", in display order: every Engine subclass a module of
    `enginebench.engines` declares (its own `name`), then installed packages' entry points. Engine modules
    import no engine package at import time, so this stays cheap."""
    import importlib.metadata
    import inspect
    import pkgutil

    from enginebench import engines
    from enginebench.engines.base import Engine

    found: list[type[Engine]] = []
    for info in pkgutil.iter_modules(engines.__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{engines.__name__}.{info.name}")
        found += [obj for obj in vars(module).values() if isinstance(obj, type) and issubclass(obj, Engine)
                  and obj.__module__ == module.__name__ and not inspect.isabstract(obj) and "name" in vars(obj)]
    for ep in importlib.metadata.entry_points(group=ENGINE_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Engine)) or cls.name != ep.name:
            raise WorkloadError(f"entry point {ep.name} = {ep.value} in {ENGINE_GROUP} is not an Engine subclass "
                                f"named {ep.name!r} (accepted: a class with name = {ep.name!r})")
        found.append(cls)
    table: dict[str, str] = {}
    for cls in sorted(found, key=lambda c: (c.order, c.name)):
        if cls.name in table:
            raise WorkloadError(f"engine name {cls.name!r} is declared twice ({table[cls.name]} and "
                                f"{cls.__module__}:{cls.__qualname__}; accepted: one engine per name)")
        table[cls.name] = f"{cls.__module__}:{cls.__qualname__}"
    return table


#: engine name -> "module:Class", in display order: what the engine modules declare (`_declared_engines`).
ENGINES: dict[str, str] = _declared_engines()

#: Workloads loaded in this process, shipped or not: name -> (workload, where it came from).
_LOADED: dict[str, tuple[Workload, Source]] = {}


def workload(name: str) -> Workload:
    """The workload called `name`: shipped, brought in this process, or an installed package's entry point;
    unknown names raise a UsageError listing the accepted ones."""
    return _find(name)[0]


def source(name: str) -> Source:
    """Where the workload called `name` came from (recorded in every results file)."""
    return _find(name)[1]


def names() -> tuple[str, ...]:
    """Every workload `--workload` accepts by name: the shipped ones, then installed entry points, then any
    brought in this process."""
    return tuple(dict.fromkeys((*WORKLOADS, *discovery.entry_points(), *_LOADED)))


def resolve(ref: str) -> str:
    """A `--workload` item -> a workload name: a name is looked up; a folder (`./myjob`) or a dotted module
    (`mypkg.myjob`) is loaded, checked (one line per defect, `WorkloadError`) and registered under its name."""
    if ref in WORKLOADS or ref in _LOADED:
        return ref
    if ref in discovery.entry_points():
        _find(ref)
        return ref
    if discovery.looks_like_path(ref):
        picklers = engine_picklers()
        return add(*checked(lambda: discovery.load_folder(ref, picklers), tuple(WORKLOADS), engine_files()))
    if "." in ref:
        return add(*checked(lambda: discovery.load_module(ref), tuple(WORKLOADS), engine_files()))
    raise unknown("workload", ref, (*_typed(), "a folder with a spec.py", "a dotted module"))


def parse_workloads(text: str | None, every: bool = False) -> tuple[str, ...]:
    """--workload: names, folders and dotted modules, comma-separated (`resolve`); none or 'all': the
    shipped workloads (with `every`, installed packages' entry points too)."""
    if text is None or text.strip() in ("", "all"):
        return names() if every else tuple(WORKLOADS)
    return tuple(dict.fromkeys(resolve(item.strip()) for item in text.split(",") if item.strip()))


def add(wl: Workload, src: Source) -> str:
    """Register a checked workload; one name for two different sources is refused."""
    known = _LOADED.get(wl.name)
    if known is not None and known[1].where != src.where:
        raise WorkloadError(f"workload name {wl.name!r} is given twice: by {known[1].label} and by {src.label} "
                            "(accepted: one workload per name)")
    _LOADED[wl.name] = (wl, src)
    return wl.name


def restore(sources: Mapping[str, Mapping[str, Any]]) -> None:
    """Load the non-shipped workloads a results file names from where they came from (for `--resume` and
    reruns); a workload whose files changed since is refused, as the run would mix two versions."""
    for name, recorded in sources.items():
        want = Source.from_dict(recorded)
        if want.kind == "shipped" or name in _LOADED:
            continue
        if want.kind == "folder":
            resolve(want.where)
        elif want.kind == "entry-point":
            resolve(name)  # through the installed package's entry point again
        else:
            resolve(want.where.removesuffix(".spec"))
        have = source(name)
        if want.sha256 and have.sha256 != want.sha256:
            raise WorkloadError(f"workload {name!r} at {want.where} changed since the run began (files sha256 "
                                f"{want.sha256[:12]}, now {have.sha256[:12]}; accepted: the same files, or a new run)")


def _find(name: str) -> tuple[Workload, Source]:
    if name in _LOADED:
        return _LOADED[name]
    if name in WORKLOADS:
        found = discovery.shipped(name, WORKLOADS[name])
        _LOADED[name] = found
        return found
    eps = discovery.entry_points()
    if name in eps:
        return _LOADED.setdefault(name, checked(lambda: discovery.load_entry_point(eps[name]),
                                                          tuple(WORKLOADS), engine_files()))
    raise unknown("workload", name, _typed())


def _typed() -> tuple[str, ...]:
    """The workloads that can be typed by name: shipped and installed (a folder is typed as a path)."""
    return tuple(dict.fromkeys((*WORKLOADS, *discovery.entry_points())))


def engine_class(name: str) -> type[Engine]:
    """The lifecycle class of engine `name` (or of a release of it, `ray@2.55.1`). Its module imports no
    engine package at import time."""
    name = name.partition("@")[0]
    if name not in ENGINES:
        raise unknown("engine", name, tuple(ENGINES))
    module_name, _, cls_name = ENGINES[name].partition(":")
    cls: type[Engine] = getattr(importlib.import_module(module_name), cls_name)
    return cls


def engine_classes() -> list[type[Engine]]:
    """Every registered engine's lifecycle class, in display order."""
    return [engine_class(name) for name in ENGINES]


def engine_files() -> tuple[str, ...]:
    """The workload files an engine reads its cases from (`Engine.implementation_files`), every engine's:
    what a workload folder may hold beside its spec.py."""
    return tuple(dict.fromkeys(f for cls in engine_classes() for f in cls.implementation_files()))


def engine_picklers() -> tuple[str, ...]:
    """Every engine's copies of cloudpickle (`Engine.picklers`): a folder workload is registered with each."""
    return tuple(dict.fromkeys(p for cls in engine_classes() for p in cls.picklers))


def engine_packages() -> list[str]:
    """Every registered engine's packages, in display order (recorded with their versions in each run)."""
    return list(dict.fromkeys(pkg for cls in engine_classes() for pkg in cls.packages))


def data_commands() -> dict[str, DataCommand]:
    """Every workload's `enginebench data` subcommands, by name: `DATA_COMMANDS` of the optional
    `commands` module beside each workload's spec module (none there: the workload has none). Shipped
    workloads and those brought in this process; no spec module is imported for it."""
    out: dict[str, DataCommand] = {}
    packages = [m.rpartition(".")[0] for m in WORKLOADS.values()] + [wl.package for wl, _ in _LOADED.values()]
    for module_name in (f"{p}.commands" for p in dict.fromkeys(packages)):
        if importlib.util.find_spec(module_name) is None:
            continue
        for command in importlib.import_module(module_name).DATA_COMMANDS:
            if command.name in out:
                raise ValueError(f"data command {command.name!r} declared twice (again in {module_name})")
            out[command.name] = command
    return out


#: A release's version in `ENGINE@VERSION`, as pip spells one.
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!-]*")


def parse_engines(text: str | None) -> tuple[str, ...]:
    """`--engines`: a comma list of engines ('ray,dask' or 'all'), each optionally at a release of its own
    (`ray@2.55.1`: that version in an environment of its own, beside the engine's default)."""
    if text is None or text.strip() in ("", "all"):
        return tuple(ENGINES)
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    for n in names:
        name, at, version = n.partition("@")
        if name not in ENGINES:
            raise unknown("engine", name, tuple(ENGINES))
        if at and not _VERSION.fullmatch(version):
            raise UsageError(f"engine release {n!r} has no version after '@' (accepted: ENGINE@VERSION, a version "
                             f"pip can install, e.g. ray@2.55.1)")
    return names


def environment(engine: str) -> Environment:
    """The environment an engine's driver runs from: a release's (`ray@2.55.1`), the engine's own declared
    one (`spark` on PySpark 4), or the main one."""
    name, at, version = engine.partition("@")
    cls = engine_class(name)
    if at:
        return cls.release(version)
    return cls.environment or Environment(MAIN)


def parse_names(text: str | None, kind: str, accepted: tuple[str, ...]) -> tuple[str, ...]:
    """Split a comma list ('ray,dask' or 'all'); unknown names raise a UsageError."""
    if text is None or text.strip() in ("", "all"):
        return accepted
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    for n in names:
        if n not in accepted:
            raise unknown(kind, n, accepted)
    return names
