"""local: the same work without an engine. In-process calls, except fan-out, where parallelism is
meaningful and a concurrent.futures process pool (one item per submission, like the engines) runs it."""

from __future__ import annotations

import time
from typing import Any

from enginebench import EngineContext, Implementation, Params, cases_of
from enginebench.workloads.tasks import spec


def noop(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    return [spec.noop(i) for i in range(params["n"])]


def fanout(ctx: EngineContext, params: Params, inputs: Any) -> int:
    size, rounds = params["size"], params["rounds"]
    futures = [ctx.handle.pool.submit(spec.spin, i, size, rounds) for i in range(params["n"])]
    return sum(f.result() for f in futures)


def tree_reduce(ctx: EngineContext, params: Params, inputs: Any) -> Any:
    leaves = [spec.make_partial(i, params["size"]) for i in range(params["n"])]
    return spec.reduce_tree(leaves, spec.combine)


def actors(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    acc = spec.Accumulator()
    create_s = time.perf_counter() - t0
    acks = [acc.add(i) for i in range(params["calls"])]
    return {"acks": acks, "state": acc.state(), "create_s": create_s}


def latency(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    values, lat = [], []
    for i in range(params["rounds"]):
        t0 = time.perf_counter()
        values.append(spec.noop(i))
        lat.append(time.perf_counter() - t0)
    return {"values": values, "latencies_s": lat}


def object_transfer(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    return [spec.checksum(inputs) for _ in range(params["readers"])]


CASES: dict[str, Implementation] = cases_of(noop, fanout, tree_reduce, actors, latency, object_transfer)

NOTES: dict[str, str] = {
    "noop": "in-process function calls",
    "fanout": "concurrent.futures.ProcessPoolExecutor(spawn), one item per submit",
    "tree-reduce": "in-process numpy additions",
    "actors": "in-process method calls on a plain object",
    "latency": "in-process function call",
    "object-transfer": "in-process reads of the same array",
}
