"""dask.distributed: futures from `client.submit`/`client.map`, futures passed as task arguments,
`client.scatter` for shared data, and Dask actors (`actor=True`)."""

from __future__ import annotations

import time
from typing import Any

from distributed import Client

from enginebench import EngineContext, Implementation, Params, cases_of
from enginebench.workloads.tasks import spec


def noop(ctx: EngineContext, params: Params, inputs: Any) -> list[int]:
    client: Client = ctx.handle
    # pure=False: every run submits fresh tasks instead of reusing results cached by key.
    return client.gather(client.map(spec.noop, range(params["n"]), pure=False))


def fanout(ctx: EngineContext, params: Params, inputs: Any) -> int:
    client: Client = ctx.handle
    futures = client.map(spec.spin, range(params["n"]), size=params["size"], rounds=params["rounds"], pure=False)
    return sum(client.gather(futures))


def tree_reduce(ctx: EngineContext, params: Params, inputs: Any) -> Any:
    client: Client = ctx.handle
    leaves = client.map(spec.make_partial, range(params["n"]), size=params["size"], pure=False)
    # Futures as arguments: the scheduler runs each combine once both inputs exist, moving the
    # arrays between workers directly.
    root = spec.reduce_tree(leaves, lambda a, b: client.submit(spec.combine, a, b, pure=False))
    return root.result()


def actors(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    client: Client = ctx.handle
    t0 = time.perf_counter()
    future = client.submit(spec.Accumulator, actor=True, pure=False)
    acc = future.result()
    acc.state().result()
    create_s = time.perf_counter() - t0
    calls = [acc.add(i) for i in range(params["calls"])]
    acks = [c.result() for c in calls]
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
