"""local: no engine. The single-process baseline, plus a process pool where parallelism is meaningful."""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enginebench.engines.base import Engine


def _ready(_: int) -> int:
    return 0


@dataclass(frozen=True)
class LocalHandle:
    """What local implementations get: the CPU count, a warm spawn-based process pool, a scratch
    directory, and DuckDB held to the budget (`duckdb()`)."""

    cpus: int
    pool: ProcessPoolExecutor
    scratch: Path | None = None
    memory_bytes: int | None = None

    def duckdb(self) -> Any:
        """A new in-process DuckDB connection with threads = the budget's CPUs and memory_limit = its
        memory, spilling to the scratch directory beyond it (the caller closes it)."""
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET threads = {self.cpus}")
        if self.memory_bytes is not None:
            con.execute(f"SET memory_limit = '{self.memory_bytes // 2**20}MiB'")
        if self.scratch is not None:
            con.execute(f"SET temp_directory = '{self.scratch}'")
        return con


class LocalEngine(Engine):
    name = "local"
    api = "local"
    order = 90
    description = "no engine: plain Python in one process (a concurrent.futures pool where meaningful)"
    baseline = True

    def _start(self) -> LocalHandle:
        # spawn, not fork: the driver has threads (sampler, earlier engines' clients) that fork
        # would copy in an unknown state. Start-up cost is paid here, not inside the first case.
        pool = ProcessPoolExecutor(max_workers=self.budget.cpus, mp_context=multiprocessing.get_context("spawn"))
        list(pool.map(_ready, range(self.budget.cpus)))
        scratch = Path(tempfile.mkdtemp(prefix="enginebench-local-"))
        return LocalHandle(cpus=self.budget.cpus, pool=pool, scratch=scratch, memory_bytes=self.budget.memory_bytes)

    def _stop(self) -> None:
        if self._handle is None:
            return
        pool = self._handle.pool
        # Do not wait for running work (a timed-out case may never finish): cancel what is queued,
        # then end the pool's worker processes by handle.
        workers = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in workers:
            if proc.is_alive():
                proc.terminate()
        for proc in workers:
            proc.join(timeout=10)
        if self._handle.scratch is not None:
            shutil.rmtree(self._handle.scratch, ignore_errors=True)

    def worker_pid(self) -> int | None:
        import os

        pid: int = self._handle.pool.submit(os.getpid).result()
        return pid

    def budget_caps(self) -> dict[str, str]:
        return {
            "capped": f"CPUs: DuckDB threads={self.budget.cpus}, a process pool of {self.budget.cpus} for fan-out; "
                      "memory: DuckDB memory_limit = the budget (it spills to a scratch directory beyond it)",
            "not capped": "the memory of plain Python code in the driver and the pool's processes",
        }

    def config(self) -> dict[str, Any]:
        return {"pool": "concurrent.futures.ProcessPoolExecutor(spawn)", "pool_workers": self.budget.cpus}
