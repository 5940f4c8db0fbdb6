"""A PySpark worker daemon with stock PySpark 3.5's per-task costs worked around: the `patched-worker`
variant of the Spark tasks cases (stock Spark stays the default; see STOCK_TASK_COST in spark.py).

Spark starts it as `python -m workloads.tasks.spark_worker` in place of `pyspark.daemon` (the
`spark.python.daemon.module` setting, for Python worker factories made after it is set). It runs the
stock daemon with three changes, each a cause measured in docs/studies/2026-11-21-spark-python-task-cost.md:
- `importlib.invalidate_caches()`, which the worker calls per task, no longer rescans the zip imports;
- no `gc.collect()` after each task;
- the task socket acknowledges at once (TCP_QUICKACK before each task is read), so the JVM's second
  small write is not held by Nagle's algorithm waiting on a delayed ACK.
"""

from __future__ import annotations

import gc
import importlib
import socket
import types
from typing import Any

import pyspark.daemon as daemon

QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def _no_invalidate() -> None:
    """Nothing is added to sys.path between tasks of a reused worker that a rescan would find."""


def _worker(sock: socket.socket, authenticated: bool) -> Any:
    if QUICKACK is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        except OSError:
            pass
    return _stock_worker(sock, authenticated)


_stock_worker = daemon.worker
importlib.invalidate_caches = _no_invalidate
daemon.worker = _worker
daemon.gc = types.SimpleNamespace(collect=lambda *a: 0, **{k: getattr(gc, k) for k in ("enable", "disable")})

if __name__ == "__main__":
    daemon.manager()
