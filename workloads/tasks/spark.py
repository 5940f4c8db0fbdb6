"""Spark (plain and on Ray): the RDD idiom for tasks. An RDD with one partition per work item makes
one Spark task per item; results come back with collect()/sum(); broadcast variables carry shared
data; treeReduce gives the tree. Spark has no actors."""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any

from harness.engines.base import EngineContext
from harness.spec import Implementation, Params, cases_of
from workloads.tasks import spec


def noop(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    n = params["n"]
    return ctx.handle.sparkContext.parallelize(range(n), n).map(spec.noop).collect()


def fanout(ctx: EngineContext, params: Params, inputs: Any) -> int:
    n, size, rounds = params["n"], params["size"], params["rounds"]
    rdd = ctx.handle.sparkContext.parallelize(range(n), n)
    return int(rdd.map(lambda i: spec.spin(i, size, rounds)).sum())


def tree_reduce(ctx: EngineContext, params: Params, inputs: Any, depth: int | None = None) -> Any:
    """depth None: log2(N), so treeReduce combines pairwise (scale = N^(1/depth) = 2), the tree the case
    names and the other engines build; the variant `depth-2` is Spark's default depth."""
    n, size = params["n"], params["size"]
    rdd = ctx.handle.sparkContext.parallelize(range(n), n).map(lambda i: spec.make_partial(i, size))
    return rdd.treeReduce(spec.combine, depth=depth or max(1, math.ceil(math.log2(n))))


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

DEFAULT_VARIANT = "stock"
VARIANTS = {"depth-2": {"tree-reduce": partial(tree_reduce, depth=2)}}
VARIANT_NOTES = {"depth-2": "treeReduce at Spark's default depth 2 (one shuffle fewer per level than pairwise; "
                            "not the case's pairwise tree)"}
UNSUPPORTED: dict[str, str] = {
    "actors": "Spark has no stateful actors: executors run stateless tasks, and accumulators are "
    "write-only from tasks, so a long-lived object answering calls cannot be expressed",
}

#: Shown beside every Spark figure of this workload (the report's implementation column): stock PySpark
#: 3.5's cost per Python task, which enginebench measures as users run it rather than patching it away
#: (the causes and a patched worker: docs/studies/2026-11-21-spark-python-task-cost.md).
STOCK_TASK_COST = ("stock PySpark 3.5: every Python task pays tens of milliseconds on a small machine (the "
                   "worker rescans zip imports after importlib.invalidate_caches(), Nagle + delayed ACK on the "
                   "task socket, gc.collect() after each task)")

NOTES: dict[str, str] = {case: f"{how}; {STOCK_TASK_COST}" for case, how in {
    "noop": "RDD with one partition per task",
    "fanout": "RDD with one partition per task, RDD.sum()",
    "tree-reduce": "RDD.treeReduce(depth=log2 N)",
    "latency": "one single-partition job per round trip",
    "object-transfer": "broadcast variable read by one task per partition",
}.items()}
