"""Names -> workloads and engines. The only global state: a table of import paths, resolved lazily.

Adding an engine is one entry here plus one lifecycle module; adding a workload is one entry plus a
`workloads/<name>/` package. Nothing else dispatches on names.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from enginebench.errors import unknown
from enginebench.spec import Workload

if TYPE_CHECKING:
    from enginebench.commands import DataCommand
    from enginebench.engines.base import Engine

WORKLOADS: dict[str, str] = {
    "tasks": "enginebench.workloads.tasks.spec",
    "etl": "enginebench.workloads.etl.spec",
    "cnn": "enginebench.workloads.cnn.spec",
    "inference": "enginebench.workloads.inference.spec",
    "tune": "enginebench.workloads.tune.spec",
}

#: engine name -> "module:Class". Order is the display order.
ENGINES: dict[str, str] = {
    "ray": "enginebench.engines.ray:RayEngine",
    "dask": "enginebench.engines.dask:DaskEngine",
    "spark-on-ray": "enginebench.engines.spark_on_ray:SparkOnRayEngine",
    "spark": "enginebench.engines.spark:SparkEngine",
    "local": "enginebench.engines.local:LocalEngine",
}


def workload(name: str) -> Workload:
    """The workload called `name`; unknown names raise a UsageError listing the accepted ones."""
    if name not in WORKLOADS:
        raise unknown("workload", name, tuple(WORKLOADS))
    wl: Workload = importlib.import_module(WORKLOADS[name]).WORKLOAD
    return wl


def engine_class(name: str) -> type[Engine]:
    """The lifecycle class of engine `name`. Its module imports no engine package at import time."""
    if name not in ENGINES:
        raise unknown("engine", name, tuple(ENGINES))
    module_name, _, cls_name = ENGINES[name].partition(":")
    cls: type[Engine] = getattr(importlib.import_module(module_name), cls_name)
    return cls


def engine_classes() -> list[type[Engine]]:
    """Every registered engine's lifecycle class, in display order."""
    return [engine_class(name) for name in ENGINES]


def data_commands() -> dict[str, DataCommand]:
    """Every workload's `enginebench data` subcommands, by name: `DATA_COMMANDS` of the optional
    `commands` module beside each workload's spec module (none there: the workload has none)."""
    out: dict[str, DataCommand] = {}
    for spec_module in WORKLOADS.values():
        module_name = spec_module.rpartition(".")[0] + ".commands"
        if importlib.util.find_spec(module_name) is None:
            continue
        for command in importlib.import_module(module_name).DATA_COMMANDS:
            if command.name in out:
                raise ValueError(f"data command {command.name!r} declared twice (again in {module_name})")
            out[command.name] = command
    return out


def parse_names(text: str | None, kind: str, accepted: tuple[str, ...]) -> tuple[str, ...]:
    """Split a comma list ('ray,dask' or 'all'); unknown names raise a UsageError."""
    if text is None or text.strip() in ("", "all"):
        return accepted
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    for n in names:
        if n not in accepted:
            raise unknown(kind, n, accepted)
    return names
