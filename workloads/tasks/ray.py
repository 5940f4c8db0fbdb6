"""Ray Core: remote functions and an actor class; ObjectRefs passed between tasks, no driver hops."""

from __future__ import annotations

import time
from typing import Any

import ray

from enginebench import EngineContext, Implementation, Params, cases_of
from enginebench.workloads.tasks import spec

noop_task = ray.remote(spec.noop)
spin_task = ray.remote(spec.spin)
make_partial_task = ray.remote(spec.make_partial)
combine_task = ray.remote(spec.combine)
checksum_task = ray.remote(spec.checksum)
AccumulatorActor = ray.remote(spec.Accumulator)


def noop(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    return ray.get([noop_task.remote(i) for i in range(params["n"])])


def fanout(ctx: EngineContext, params: Params, inputs: Any) -> int:
    size, rounds = params["size"], params["rounds"]
    return sum(ray.get([spin_task.remote(i, size, rounds) for i in range(params["n"])]))


def tree_reduce(ctx: EngineContext, params: Params, inputs: Any) -> Any:
    # ObjectRefs as arguments: each combine waits on its two inputs inside Ray, and the partial
    # arrays move worker-to-worker through the object store, never through the driver.
    leaves = [make_partial_task.remote(i, params["size"]) for i in range(params["n"])]
    return ray.get(spec.reduce_tree(leaves, combine_task.remote))


def actors(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    acc = AccumulatorActor.remote()
    ray.get(acc.state.remote())  # the actor is up: creation ends here
    create_s = time.perf_counter() - t0
    acks = ray.get([acc.add.remote(i) for i in range(params["calls"])])
    state = ray.get(acc.state.remote())
    ray.kill(acc)
    return {"acks": acks, "state": state, "create_s": create_s}


def latency(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    values, lat = [], []
    for i in range(params["rounds"]):
        t0 = time.perf_counter()
        values.append(ray.get(noop_task.remote(i)))
        lat.append(time.perf_counter() - t0)
    return {"values": values, "latencies_s": lat}


def object_transfer(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    ref = ray.put(inputs)  # one copy into the object store; readers map it zero-copy
    return ray.get([checksum_task.remote(ref) for _ in range(params["readers"])])


CASES: dict[str, Implementation] = cases_of(noop, fanout, tree_reduce, actors, latency, object_transfer)
