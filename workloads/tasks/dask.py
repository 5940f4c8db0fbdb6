"""dask.distributed: futures from `client.submit`/`client.map`, futures passed as task arguments,
`client.scatter` for shared data, and Dask actors (`actor=True`).

Variants (`enginebench variants`): `delayed-graph` (noop, fanout, tree-reduce written with `dask.delayed` and
sent as one graph by `client.compute`, the fan-in sum and the tree inside it), `batches-1000` (noop, actors:
1,000 at a time, submitted and gathered, as Ray's microbenchmark batches) and `async-actor` (the accumulator
behind `async def` methods, which a Dask worker runs on its event loop instead of its actor thread)."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from distributed import Client

from enginebench import EngineContext, Implementation, Params, cases_of
from enginebench.workloads.tasks import spec


def noop(ctx: EngineContext, params: Params, inputs: Any, graph: bool = False, batch: int | None = None) -> list[int]:
    client: Client = ctx.handle
    n = params["n"]
    if graph:
        from dask import delayed

        return list(client.gather(client.compute([delayed(spec.noop, pure=False)(i) for i in range(n)])))
    # pure=False: every run submits fresh tasks instead of reusing results cached by key.
    return [x for chunk in spec.batches(n, batch) for x in client.gather(client.map(spec.noop, chunk, pure=False))]


def fanout(ctx: EngineContext, params: Params, inputs: Any, graph: bool = False) -> int:
    client: Client = ctx.handle
    if graph:
        from dask import delayed

        spin = delayed(spec.spin, pure=False)
        parts = [spin(i, params["size"], params["rounds"]) for i in range(params["n"])]
        return int(client.compute(delayed(sum, pure=False)(parts)).result())
    futures = client.map(spec.spin, range(params["n"]), size=params["size"], rounds=params["rounds"], pure=False)
    return sum(client.gather(futures))


def tree_reduce(ctx: EngineContext, params: Params, inputs: Any, graph: bool = False) -> Any:
    client: Client = ctx.handle
    if graph:
        from dask import delayed

        leaves = [delayed(spec.make_partial, pure=False)(i, params["size"]) for i in range(params["n"])]
        return client.compute(spec.reduce_tree(leaves, delayed(spec.combine, pure=False))).result()
    leaves = client.map(spec.make_partial, range(params["n"]), size=params["size"], pure=False)
    # Futures as arguments: the scheduler runs each combine once both inputs exist, moving the
    # arrays between workers directly.
    root = spec.reduce_tree(leaves, lambda a, b: client.submit(spec.combine, a, b, pure=False))
    return root.result()


def actors(ctx: EngineContext, params: Params, inputs: Any, batch: int | None = None,
           actor_class: type = spec.Accumulator) -> dict[str, Any]:
    client: Client = ctx.handle
    t0 = time.perf_counter()
    future = client.submit(actor_class, actor=True, pure=False)
    acc = future.result()
    acc.state().result()
    create_s = time.perf_counter() - t0
    acks: list[int] = []
    for chunk in spec.batches(params["calls"], batch):
        calls = [acc.add(i) for i in chunk]
        acks += [c.result() for c in calls]
    state = acc.state().result()
    del acc, future  # releases the actor on its worker
    return {"acks": acks, "state": state, "create_s": create_s}


def latency(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    client: Client = ctx.handle
    values, lat = [], []
    for i in range(params["rounds"]):
        t0 = time.perf_counter()
        values.append(client.submit(spec.noop, i, pure=False).result())
        lat.append(time.perf_counter() - t0)
    return {"values": values, "latencies_s": lat}


def object_transfer(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    client: Client = ctx.handle
    # broadcast=True: Dask's documented idiom for data that many tasks on all workers read;
    # hash=False skips tokenizing (hashing) the whole array, which only serves deduplication.
    data = client.scatter(inputs, broadcast=True, hash=False)
    futures = [client.submit(spec.checksum, data, pure=False) for _ in range(params["readers"])]
    out = client.gather(futures)
    client.cancel(data)
    return out


CASES: dict[str, Implementation] = cases_of(noop, fanout, tree_reduce, actors, latency, object_transfer)
DEFAULT_VARIANT = "futures"
VARIANTS: dict[str, dict[str, Implementation]] = {
    "delayed-graph": {"noop": partial(noop, graph=True), "fanout": partial(fanout, graph=True),
                      "tree-reduce": partial(tree_reduce, graph=True)},
    "batches-1000": {"noop": partial(noop, batch=1000), "actors": partial(actors, batch=1000)},
    "async-actor": {"actors": partial(actors, actor_class=spec.AsyncAccumulator)},
}
VARIANT_NOTES = {"delayed-graph": "dask.delayed tasks sent as one graph by client.compute (the fan-in sum and the "
                                  "tree's combines inside it) instead of futures from client.map/client.submit",
                 "batches-1000": "1,000 tasks or actor calls at a time, each batch gathered before the next (ray "
                                 "microbenchmark's batches) instead of all N at once",
                 "async-actor": "the accumulator behind async def methods, run on the worker's event loop instead "
                                "of its actor thread (Dask runs an actor's coroutine methods there)"}
