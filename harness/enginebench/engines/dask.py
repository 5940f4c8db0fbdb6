"""dask: a dask.distributed LocalCluster of worker processes sized to the budget, or an existing
scheduler (`--dask-scheduler`)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from enginebench.engines.base import REMOTE_CAPS, Endpoint, Engine


@contextlib.contextmanager
def _environ_kept(names: Iterable[str]) -> Iterator[None]:
    """Give these environment variables back their values in this process afterwards. The nanny sets its
    pre-spawn variables (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1) in the *driver's*
    os.environ before it spawns a worker, so OpenMP started later in the driver, and every process the
    driver starts later, ran with one thread: the local XGBoost baseline trained at half speed after Dask
    had run (measured: 0.51 of 2 CPUs busy instead of 0.78, 2026-11-29). A worker the nanny restarts
    later sets them again."""
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class DaskEngine(Engine):
    name = "dask"
    api = "dask"
    description = "dask.distributed: LocalCluster of worker processes (or --dask-scheduler)"
    order = 20
    packages = ("dask", "distributed")
    picklers = ("cloudpickle",)
    distributions = {"distributed": "dask"}  # dask[distributed] pins it
    release_pins = ("dask=={version}", "distributed=={version}")
    endpoint = Endpoint("dask_scheduler", "use an existing Dask scheduler, e.g. tcp://host:8786")

    #: One single-threaded worker process per CPU: like Ray's one worker process per CPU, and the
    #: layout Dask recommends for GIL-holding Python tasks.
    threads_per_worker = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cluster: Any = None

    def _start(self) -> Any:
        from distributed import Client, LocalCluster

        address = self.remote_address()
        if address:
            client = Client(address, timeout="10s")
            try:
                client.wait_for_workers(1, timeout=30)  # a scheduler without workers is an error, not a hang
            except Exception:
                client.close()
                raise
            return client
        import dask

        n_workers = self.budget.cpus
        # The workers' statistical profiler samples every thread's stack every 10 ms, competing for
        # the GIL with Python-bound tasks (measured: a one-worker cnn run went from 0.52x to 0.65x of
        # the local loop without it). It is a diagnostic; a tuned deployment turns it off. Each
        # nanny copies the config when it is created, so the setting reaches the worker processes.
        # The nanny also starts each worker with MALLOC_TRIM_THRESHOLD_=65536 (Dask's remedy for
        # "unmanaged memory"). Any explicit trim threshold also turns off glibc's dynamic mmap
        # threshold, so every large allocation becomes a fresh mmap and page faults: PyTorch training
        # in a Dask worker ran at 0.50x of the same loop in the driver with it and 0.95x without
        # (tiny, one worker, 2026-11-24). Every other engine's processes run with glibc's defaults;
        # Dask's workers get them too, and keep the nanny's one-thread settings for OpenMP and BLAS.
        environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              "distributed.nanny.pre-spawn-environ": environ}), _environ_kept(environ):
            self._cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=self.threads_per_worker,
                processes=True,
                host="127.0.0.1",
                # The scheduler always serves its small HTTP API (health, metrics) where the dashboard
                # would be, by default on the fixed port 8787: a free port instead, and no dashboard.
                dashboard_address="127.0.0.1:0",
                scheduler_kwargs={"dashboard": False},
                memory_limit=self.budget.memory_bytes // n_workers,
                silence_logs=logging.ERROR,
            )
            client = Client(self._cluster)
            client.wait_for_workers(n_workers, timeout=60)
        return client

    def ship(self, archive: Path) -> None:
        # Dask's way to bring local code to the workers, present and future: `upload_file`, which also
        # imports it on the scheduler (it unpickles graphs). A LocalCluster's scheduler lives in this
        # process, which has the package already and must keep its own copy: the workers' plugin only.
        if self.remote_address() is not None:
            self._handle.upload_file(str(archive))
        else:
            from distributed.diagnostics.plugin import UploadFile

            self._handle.register_plugin(UploadFile(str(archive)), name=f"enginebench-ship-{archive.name}")

    def _stop(self) -> None:
        try:
            if self._handle is not None:
                self._handle.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None

    def worker_pid(self) -> int | None:
        import os

        pids: dict[str, int] = self._handle.run(os.getpid)
        return sorted(pids.values())[0] if pids else None

    def budget_caps(self) -> dict[str, str]:
        if self.remote_address():
            return dict(REMOTE_CAPS)
        return {
            "capped": f"CPUs: {self.budget.cpus} single-threaded worker processes; memory: memory_limit of "
                      f"1/{self.budget.cpus} of the budget per worker (workers spill at 60%, pause at 80%, "
                      f"are restarted at 95% of it)",
            "not capped": "the scheduler process",
        }

    def config(self) -> dict[str, Any]:
        if self._handle is None:
            return {}
        nthreads: dict[str, int] = self._handle.nthreads()
        return {
            "mode": "existing scheduler" if self.remote_address() else "LocalCluster",
            "scheduler": self._handle.scheduler.address,
            "workers": len(nthreads),
            "threads_per_worker": sorted(set(nthreads.values())),
            "memory_limit_per_worker": self.budget.memory_bytes // max(1, len(nthreads)),
            **({} if self.remote_address() else {"worker_profiler": "off",
                                                  "worker_malloc_trim_threshold": "glibc default"}),
        }
