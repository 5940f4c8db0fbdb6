"""Ray Core: remote functions and an actor class; ObjectRefs passed between tasks, no driver hops.

Variants (`enginebench variants`), measured against the shape of `ray microbenchmark` (ray/_private/ray_perf.py;
docs/studies/2026-11-23-actors-vs-ray-microbenchmark.md): `batches-1000` (noop, actors: submit and `ray.get`
1,000 at a time, as its "single client tasks async" and "1:1 actor calls async" lines do) and `async-actor`
(actors: the accumulator behind `async def` methods, as its "1:1 async-actor calls async" lines)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
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
AsyncAccumulatorActor = ray.remote(spec.AsyncAccumulator)


def _get(submit: Callable[[int], Any], n: int, batch: int | None) -> list[Any]:
    """`submit(i)` for i in range(n), gathered with `ray.get`: all at once, or `batch` at a time."""
    return [x for chunk in spec.batches(n, batch) for x in ray.get([submit(i) for i in chunk])]


def noop(ctx: EngineContext, params: Params, inputs: Any, batch: int | None = None) -> list[int]:
    return _get(noop_task.remote, params["n"], batch)


def fanout(ctx: EngineContext, params: Params, inputs: Any) -> int:
    size, rounds = params["size"], params["rounds"]
    return sum(ray.get([spin_task.remote(i, size, rounds) for i in range(params["n"])]))


def tree_reduce(ctx: EngineContext, params: Params, inputs: Any) -> Any:
    # ObjectRefs as arguments: each combine waits on its two inputs inside Ray, and the partial
    # arrays move worker-to-worker through the object store, never through the driver.
    leaves = [make_partial_task.remote(i, params["size"]) for i in range(params["n"])]
    return ray.get(spec.reduce_tree(leaves, combine_task.remote))


def actors(ctx: EngineContext, params: Params, inputs: Any, batch: int | None = None,
           actor_class: Any = AccumulatorActor) -> dict[str, Any]:
    t0 = time.perf_counter()
    acc = actor_class.remote()
    try:
        ray.get(acc.state.remote())  # the actor is up: creation ends here
        create_s = time.perf_counter() - t0
        acks = _get(acc.add.remote, params["calls"], batch)
        state = ray.get(acc.state.remote())
    finally:
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
DEFAULT_VARIANT = "one-batch"
VARIANTS: dict[str, dict[str, Implementation]] = {
    "batches-1000": {"noop": partial(noop, batch=1000), "actors": partial(actors, batch=1000)},
    "async-actor": {"actors": partial(actors, actor_class=AsyncAccumulatorActor)},
}
VARIANT_NOTES = {"batches-1000": "submit and ray.get 1,000 calls at a time (ray microbenchmark's batches) instead of "
                                 "all N in one batch",
                 "async-actor": "the accumulator behind async def methods (a Ray async actor: calls run on its event "
                                "loop), as ray microbenchmark's async-actor lines"}
