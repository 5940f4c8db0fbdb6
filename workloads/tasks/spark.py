"""Spark (plain and on Ray): the RDD idiom for tasks. An RDD with one partition per work item makes
one Spark task per item; results come back with collect()/sum(); broadcast variables carry shared
data; treeReduce gives the tree. Spark has no actors."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

from enginebench import EngineContext, Implementation, Params, cases_of
from enginebench.workloads.tasks import spec


def noop(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    n = params["n"]
    return ctx.handle.sparkContext.parallelize(range(n), n).map(spec.noop).collect()


def fanout(ctx: EngineContext, params: Params, inputs: Any) -> int:
    n, size, rounds = params["n"], params["size"], params["rounds"]
    rdd = ctx.handle.sparkContext.parallelize(range(n), n)
    return int(rdd.map(lambda i: spec.spin(i, size, rounds)).sum())


def tree_reduce(ctx: EngineContext, params: Params, inputs: Any, pairwise: bool = False) -> Any:
    """Spark's idiom: `treeReduce` at its default depth 2 (one shuffle stage to about sqrt(N) partial
    sums, then the driver). `pairwise` (a variant): depth log2(N), so it combines two at a time
    (scale = N^(1/depth) = 2), the tree the other engines build, one shuffle stage per level."""
    n, size = params["n"], params["size"]
    rdd = ctx.handle.sparkContext.parallelize(range(n), n).map(lambda i: spec.make_partial(i, size))
    if pairwise:
        return rdd.treeReduce(spec.combine, depth=max(1, math.ceil(math.log2(n))))
    return rdd.treeReduce(spec.combine)


def latency(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    sc = ctx.handle.sparkContext
    values, lat = [], []
    for i in range(params["rounds"]):
        t0 = time.perf_counter()
        values.extend(sc.parallelize([i], 1).map(spec.noop).collect())
        lat.append(time.perf_counter() - t0)
    return {"values": values, "latencies_s": lat}


def object_transfer(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    sc = ctx.handle.sparkContext
    readers = params["readers"]
    shared = sc.broadcast(inputs)
    try:
        return sc.parallelize(range(readers), readers).map(lambda _: spec.checksum(shared.value)).collect()
    finally:
        shared.destroy()


CASES: dict[str, Implementation] = cases_of(noop, fanout, tree_reduce, latency, object_transfer)

#: The daemon module of the `patched-worker` variant, and the worker environment entry that gives its
#: tasks a Python worker factory of their own (Spark keys factories by executable and environment, and
#: a factory reads `spark.python.daemon.module` when it is made).
PATCHED_DAEMON = "enginebench.workloads.tasks.spark_worker"
_PATCHED_ENV = ("ENGINEBENCH_PYSPARK_WORKER", "patched")
_DAEMON_KEY = "spark.python.daemon.module"


def _patched_marker(_: Any) -> str:
    import importlib

    return importlib.invalidate_caches.__name__


@contextlib.contextmanager
def patched_worker(ctx: EngineContext) -> Iterator[None]:
    """The block's Python tasks run in workers forked from `PATCHED_DAEMON` (spark_worker.py), the
    session's setting and environment restored after. Only where the driver's conf is the executors'
    (local mode, the `spark` engine); elsewhere the workers would stay stock, which is refused."""
    sc = ctx.handle.sparkContext
    conf = sc._jsc.sc().conf()
    before = conf.get(_DAEMON_KEY, "") if conf.contains(_DAEMON_KEY) else None
    conf.set(_DAEMON_KEY, PATCHED_DAEMON)
    sc.environment[_PATCHED_ENV[0]] = _PATCHED_ENV[1]
    try:
        if sc.parallelize([0], 1).map(_patched_marker).collect() != ["_no_invalidate"]:
            raise RuntimeError("the patched PySpark worker did not start: the executors read their own "
                               "spark.python.daemon.module (accepted: the spark engine in local mode)")
        yield
    finally:
        sc.environment.pop(_PATCHED_ENV[0], None)
        if before is None:
            conf.remove(_DAEMON_KEY)
        else:
            conf.set(_DAEMON_KEY, before)


def _patched(impl: Implementation) -> Implementation:
    def run(ctx: EngineContext, params: Params, inputs: Any) -> Any:
        with patched_worker(ctx):
            return impl(ctx, params, inputs)

    return run


DEFAULT_VARIANT = "stock"
VARIANTS: dict[str, dict[str, Implementation]] = {
    "pairwise": {"tree-reduce": partial(tree_reduce, pairwise=True)},
    "patched-worker": {case: _patched(impl) for case, impl in CASES.items()},
}
#: Measured, never the best the default is held to (enginebench.measure.variants): why.
OUTSIDE_RULE = {"patched-worker": "it patches PySpark's worker, not the case's code; stock Spark is what users run"}
VARIANT_NOTES = {"pairwise": "treeReduce(depth=log2 N): two at a time, the other engines' tree, one shuffle stage "
                             "per level (the default until 2026-11-29)",
                 "patched-worker": "stock Spark with PySpark's worker daemon replaced (spark_worker.py: no zip "
                                   "rescan per task, no gc.collect() per task, TCP_QUICKACK on the task socket); "
                                   "one probe task per call checks it is in use"}
UNSUPPORTED: dict[str, str] = {
    "actors": "Spark has no stateful actors: executors run stateless tasks, and accumulators are "
    "write-only from tasks, so a long-lived object answering calls cannot be expressed",
}

#: Shown beside every Spark figure of this workload (the report's implementation column): stock PySpark
#: 3.5's cost per Python task, which enginebench measures as users run it rather than patching it away
#: (the causes: docs/studies/2026-11-21-spark-python-task-cost.md; the `patched-worker` variant measures
#: the same cases without them: docs/studies/2026-11-29-variant-study.md).
STOCK_TASK_COST = ("stock PySpark 3.5: every Python task pays tens of milliseconds on a small machine (the "
                   "worker rescans zip imports after importlib.invalidate_caches(), Nagle + delayed ACK on the "
                   "task socket, gc.collect() after each task); `enginebench variants --workload tasks --engines "
                   "spark` measures a patched worker without them")

NOTES: dict[str, str] = {case: f"{how}; {STOCK_TASK_COST}" for case, how in {
    "noop": "RDD with one partition per task",
    "fanout": "RDD with one partition per task, RDD.sum()",
    "tree-reduce": "RDD.treeReduce at its default depth 2 (not the other engines' pairwise tree)",
    "latency": "one single-partition job per round trip",
    "object-transfer": "broadcast variable read by one task per partition",
}.items()}
