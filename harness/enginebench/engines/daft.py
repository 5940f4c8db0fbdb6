"""daft: Daft's native runner (Swordfish, streaming and multi-threaded) in this process, its compute
threads set to the budget's CPUs with `daft.set_runner_native(num_threads=...)`.

Daft keeps its runner, and the size of its compute thread pool, once per process: both are Rust
`OnceLock`s (`DAFT_RUNNER` in daft-runners, `COMPUTE_RUNTIME_NUM_WORKER_THREADS` in common-runtime), so a
second `set_runner_native` raises "Cannot set runner more than once" and nothing unsets or resizes them.
So the first start sets the runner and every later start in the process reuses it when the budget is the
same, and refuses with one line (a fresh process is the remedy) when it is not, rather than run under a
budget it cannot honour. `_stop` has nothing to end: the native runner starts no process that outlives a
query (a UDF run with `use_process=True` gets worker processes that Daft tears down at the query's end),
and the runner left set in the process touches no other engine. A query left running by a timed-out case
cannot be cancelled from outside; it finishes on Daft's threads.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enginebench.engines.base import Engine, EngineUnavailable

#: Daft's own admission limit for UDFs that declare a memory request (read once per process, when its
#: memory manager is made at the first query).
MEMORY_LIMIT_VAR = "DAFT_MEMORY_LIMIT"
#: Daft's switch for its usage telemetry (Scarf), on unless set to 0.
ANALYTICS_VAR = "DAFT_ANALYTICS_ENABLED"
# Off from the moment the engine is known (the registry imports this module before any workload's daft.py,
# whose `import daft` would send its import ping), as Ray's usage stats are; a user's own setting is kept.
os.environ.setdefault(ANALYTICS_VAR, "0")
#: Daft's I/O runtime (reads and their decoding) has min(8, this machine's CPUs) threads, whatever the budget.
IO_THREADS_MAX = 8


@dataclass(frozen=True)
class DaftProcess:
    """What this process's Daft runner was set to by enginebench (none of it can change afterwards)."""

    runner: str
    threads: int
    memory_limit_bytes: int


#: The settings of the runner enginebench set in this process (None: not set yet). Daft has no getter for
#: its compute thread count, so what was asked for is kept here, beside Daft's own process-wide state.
_process: DaftProcess | None = None


@dataclass(frozen=True)
class DaftHandle:
    """What Daft implementations get: the budget's CPUs (the native runner's compute threads), the runner's
    name ("native") and the memory limit given to Daft's UDF admission. Daft needs no client object: a
    DataFrame runs on the process's runner when it is collected."""

    cpus: int
    runner: str
    memory_bytes: int


class DaftEngine(Engine):
    name = "daft"
    api = "daft"
    order = 50
    description = "Daft's native runner (Swordfish): one process, compute threads = the budget's CPUs"
    packages = ("daft",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: folder workloads registered with Daft's pickler by `ship`, forgotten again at stop
        self._shipped: list[str] = []

    def _start(self) -> DaftHandle:
        global _process
        # Daft reports its import and every query's runner to Scarf from a thread of its own (an HTTPS request
        # per query, read from the environment at each query): off, as Ray's usage stats are.
        os.environ.setdefault(ANALYTICS_VAR, "0")
        import daft

        wanted = DaftProcess("native", self.budget.cpus, self.budget.memory_bytes)
        if _process is not None:
            if _process != wanted:
                have = _process
                raise EngineUnavailable(
                    f"Daft's runner is set once per process and this one already runs with {have.threads} "
                    f"threads and a UDF memory limit of {have.memory_limit_bytes} bytes; the budget asks for "
                    f"{wanted.threads} and {wanted.memory_limit_bytes} (accepted: the same budget, or a new process)")
        else:
            try:
                daft.set_runner_native(num_threads=self.budget.cpus)
            except Exception as exc:  # noqa: BLE001 - Daft raises DaftCoreException (a plain Exception)
                raise EngineUnavailable(
                    f"Daft's runner was already set in this process by something other than enginebench ({exc}); "
                    "its threads are unknown, so the budget cannot be honoured (accepted: a new process)") from None
            # Read when Daft makes its memory manager, at the process's first query (none has run yet: a query
            # sets the runner). Kept for the process's life, as Daft keeps the limit.
            os.environ[MEMORY_LIMIT_VAR] = str(self.budget.memory_bytes)
            _process = wanted
        return DaftHandle(cpus=self.budget.cpus, runner="native", memory_bytes=self.budget.memory_bytes)

    def ship(self, archive: Path) -> None:
        # A UDF that runs in a process of its own (use_process=True, or a @daft.cls with max_concurrency) is
        # pickled with Daft's own copy of cloudpickle and unpickled in `python -m daft.execution.udf_worker`,
        # which has no folder workload on its path ("No module named ..."): its package travels by value, as
        # Ray's does. UDFs on the runner's threads need nothing. The archive is `<package>.zip`.
        package = archive.stem
        if package in sys.modules and package not in self._shipped:
            _daft_cloudpickle().register_pickle_by_value(sys.modules[package])
            self._shipped.append(package)

    def _stop(self) -> None:
        # Nothing was started that a stop could end (see the module's doc); the runner stays set for the
        # process, as Daft requires. What `ship` registered is unregistered.
        for package in self._shipped:
            if package in sys.modules:
                _daft_cloudpickle().unregister_pickle_by_value(sys.modules[package])
        self._shipped = []

    def budget_caps(self) -> dict[str, str]:
        return {
            "capped": f"CPUs: the native runner's compute threads = {self.budget.cpus} (operators, joins, "
                      "aggregations and UDF instances are sized from them); memory: only the admission of UDFs "
                      f"that declare a memory request ({MEMORY_LIMIT_VAR} = the budget)",
            "not capped": f"memory: the native runner has no memory limit for its operators (joins, aggregations "
                          f"and sorts hold their state in memory); reads: Daft's I/O runtime of min({IO_THREADS_MAX}, "
                          "this machine's CPUs) threads and up to scantask_max_parallel (8) scan tasks at once; "
                          "all of it runs in the driver process",
        }

    def config(self) -> dict[str, Any]:
        if self._handle is None:
            return {}
        import daft

        execution = daft.context.get_context().daft_execution_config
        process = _process or DaftProcess("?", 0, 0)
        return {
            "runner": f"{daft.runners.get_or_infer_runner_type()} (Swordfish)",
            "compute_threads": process.threads,
            "io_threads": min(IO_THREADS_MAX, _machine_cpus()),
            "udf_memory_limit_bytes": process.memory_limit_bytes,
            "scantask_max_parallel": execution.scantask_max_parallel,
            "default_morsel_size": execution.default_morsel_size,
            "maintain_order": execution.maintain_order,
            "telemetry": "off" if os.environ.get(ANALYTICS_VAR) in ("0", "false") else "on",
        }


def _machine_cpus() -> int:
    """The CPUs this process may run on, as Rust's available_parallelism (Daft's count) sees them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _daft_cloudpickle() -> Any:
    """Daft's own copy of cloudpickle (daft.pickle.cloudpickle), which pickles its UDFs."""
    return importlib.import_module("daft.pickle.cloudpickle")
