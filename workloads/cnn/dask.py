"""dask: one PyTorch DDP process group across the Dask workers, each training on its shard of a
Dask array.

The uint8 rows become a Dask array chunked into one contiguous shard per rank (the shared shard
rule), normalized with `map_blocks` and persisted on the cluster, and the test set is scattered to
every worker (`load`, the answer's `load_s`, inside each timed call like every engine's). Ranks are
the first `world` workers in address order (world size from the worker set and the budget); each
gets one pinned task (`workers=[address]`, no stealing) holding its shard's future. Rendezvous goes
through the scheduler: rank 0 opens torch's TCPStore on a port the OS assigns (no free-port race)
and publishes host and port in a Dask `Variable`; the other ranks read it there and join. gloo on
CPU, NCCL on GPU. Rank 0 returns the answer; every rank tears the group down so the next
repetition can form a new one.

Variants (`enginebench variants`): `scatter-shards` normalizes each rank's shard in the driver and
`client.scatter`s it to its worker (Dask's way to place local data, no array graph); `scatter-raw`
scatters the uint8 shards and each rank normalizes its own inside its training task (the Spark
ranks' idiom; `load_s` then ends when rank 0's shard is normalized in its worker).
"""

from __future__ import annotations

import gc
import time
import uuid
from functools import partial
from typing import Any

import dask.array as da
import numpy as np
from distributed import Variable

from enginebench import EngineContext, Params, use_gpu
from enginebench.workloads.cnn.model import Recipe, answer, normalize, shard_rows
from enginebench.workloads.cnn.spec import layout

#: How long ranks wait for each other when the process group forms.
RENDEZVOUS_TIMEOUT_S = 120


def _rendezvous(name: str, rank: int, world: int, host: str) -> Any:
    """A TCPStore for the process group (`model.tcp_store`): rank 0 serves it on the worker's own
    address and publishes the address through the scheduler (a Dask Variable); the other ranks look
    it up and connect."""
    from distributed import Variable, get_client

    from enginebench.workloads.cnn.model import tcp_store

    address = Variable(name, client=get_client())
    if rank == 0:
        store = tcp_store(host, world, None, RENDEZVOUS_TIMEOUT_S)
        address.set(f"{host}:{store.port}")
        return store
    master, port = str(address.get(timeout=RENDEZVOUS_TIMEOUT_S)).rsplit(":", 1)
    return tcp_store(master, world, int(port), RENDEZVOUS_TIMEOUT_S)


def _gpu_count() -> int:
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def _normalize_flat(block: np.ndarray) -> np.ndarray:
    return normalize(block).reshape(len(block), -1)


def _train_rank(rank: int, world: int, rendezvous: str, host: str, x_shard: np.ndarray, y_shard: np.ndarray,
                first: int, test_x: np.ndarray, test_y: np.ndarray, recipe_d: dict[str, Any], n_train: int,
                threads: int, gpu: bool, t0: float) -> dict[str, Any] | None:
    """Runs inside a Dask worker: join the process group, train with the shared loop, leave."""
    from datetime import timedelta

    import torch.distributed as dist

    from enginebench.workloads.cnn.model import backend_for, device_for, set_threads, train_shard

    recipe = Recipe(**recipe_d)
    set_threads(threads)
    device = device_for(rank, gpu)
    backend = backend_for(device)
    store = _rendezvous(rendezvous, rank, world, host)
    dist.init_process_group(backend, store=store, rank=rank, world_size=world,
                            timeout=timedelta(seconds=RENDEZVOUS_TIMEOUT_S))
    try:
        # uint8 rows (the scatter-raw variant): the rank normalizes its shard, the end of its load
        raw = x_shard.dtype == np.uint8
        x = normalize(x_shard) if raw else x_shard.reshape(-1, 3, 32, 32)
        loaded = {"load_s": time.time() - t0} if raw else {}
        result = train_shard(recipe, rank, world, device, x, y_shard, normalize(test_x[rank::world]),
                             test_y[rank::world], n_train, t0, first)
        dist.barrier()  # every rank is done with the store before rank 0 closes it
    finally:
        dist.destroy_process_group()
        # The TCPStore server (rank 0) listens on every interface while it lives: it must not outlive
        # the training in this long-lived worker process.
        del store
        gc.collect()
    return {**result, **loaded, "device": device.type, "backend": backend} if rank == 0 else None


def load(ctx: EngineContext, params: Params, inputs: Any, shards: str = "array") -> dict[str, Any]:
    """Each rank's shard resident on its worker; the test set on every worker. shards: "array" (a Dask
    array normalized with map_blocks and persisted, the default), "scatter" (normalized in the driver and
    scattered) or "raw" (the uint8 rows scattered, normalized by the rank)."""
    client = ctx.handle
    recipe = Recipe.from_params(params)
    # nthreads() asks the scheduler; scheduler_info()'s "workers" is a cache the client's periodic
    # refresh (every 2 s) empties while this thread reads it (distributed 2026.8)
    workers = sorted(client.nthreads())
    counts = client.run(_gpu_count, workers=workers)
    gpu = use_gpu(params, all(c > 0 for c in counts.values()), "every Dask worker")
    # One rank per worker, rank r on GPU r % count: more GPUs than workers leaves GPUs idle, more
    # workers than GPUs uses one worker per GPU (NCCL wants one rank per device).
    gpus = min(max(counts.values()), len(workers)) if gpu else 0
    world, threads = layout(params, min(ctx.cpus, len(workers)), gpus)
    ranks = workers[:world]
    n = len(inputs["train_y"])
    bounds = [shard_rows(n, recipe, r, world) for r in range(world)]
    used = bounds[-1][1]
    if shards == "array":
        x = da.from_array(inputs["train_x"][:used], chunks=(used // world, inputs["train_x"].shape[1]))
        x = client.persist(x.map_blocks(_normalize_flat, dtype=np.float32))
        futures = [client.compute(block, workers=[w]) for block, w in zip(x.to_delayed().ravel(), ranks, strict=True)]
        for f in futures:
            f.result()  # resident on the ranks' workers: the end of load_s
    elif shards in ("scatter", "raw"):
        prepare = _normalize_flat if shards == "scatter" else np.ascontiguousarray
        # scatter returns once the data is on the worker; hash=False: no tokenizing of the shard
        futures = [client.scatter(prepare(inputs["train_x"][lo:hi]), workers=[w], hash=False)
                   for (lo, hi), w in zip(bounds, ranks, strict=True)]
    else:
        raise ValueError(f"unknown shards {shards!r} (accepted: array, scatter, raw)")
    test_x, test_y = client.scatter([inputs["test_x"], inputs["test_y"]], broadcast=True)
    return {"ranks": ranks, "shards": futures, "labels": [inputs["train_y"][lo:hi] for lo, hi in bounds],
            "first": [lo for lo, _ in bounds], "test": (test_x, test_y), "n_train": n, "world": world,
            "threads": threads, "gpu": gpu}


def train(ctx: EngineContext, params: Params, inputs: Any, shards: str = "array") -> dict[str, Any]:
    """shards: how the shards reach the ranks' workers (`load`)."""
    t0 = time.time()
    client = ctx.handle
    recipe = Recipe.from_params(params)
    data = load(ctx, params, inputs, shards)
    load_s = time.time() - t0
    ranks, world, threads = data["ranks"], data["world"], data["threads"]
    # planted (tests only): every rank handed rank 0's shard
    shard_of = [0 if recipe.plant == "same-shard" else r for r in range(world)]
    host = ranks[0].split("://")[-1].rsplit(":", 1)[0]
    rendezvous = f"enginebench-cnn-{uuid.uuid4().hex}"
    test_x, test_y = data["test"]
    futures = [
        client.submit(_train_rank, r, world, rendezvous, host, data["shards"][shard_of[r]], data["labels"][shard_of[r]],
                      data["first"][shard_of[r]], test_x, test_y, recipe.to_dict(), data["n_train"], threads,
                      data["gpu"], t0, workers=[w], allow_other_workers=False, pure=False)
        for r, w in enumerate(ranks)
    ]
    try:
        results = client.gather(futures)
    finally:
        Variable(rendezvous, client=client).delete()
    got = results[0]
    return answer(got, engine=ctx.engine, world=world, threads=threads, device=got["device"],
                  backend=got["backend"], recipe=recipe, load_s=got.get("load_s", load_s))


CASES = {"train": train}
DEFAULT_VARIANT = "array-persist"
VARIANTS = {"scatter-shards": {"train": partial(train, shards="scatter")},
            "scatter-raw": {"train": partial(train, shards="raw")}}
VARIANT_NOTES = {
    "scatter-shards": "each rank's shard normalized in the driver and client.scatter'ed as numpy to its worker "
                      "(Dask's docs: scatter local data to workers), instead of a dask.array + map_blocks + persist",
    "scatter-raw": "the uint8 shards client.scatter'ed to the ranks' workers and normalized by each rank inside its "
                   "training task (4x fewer bytes moved; the Spark ranks' idiom), instead of a dask.array normalized "
                   "on the cluster",
}
NOTES = {"train": "dask.array shards (map_blocks normalize, persisted) + one torch DDP group across the Dask "
                  "workers, rendezvous through the scheduler (a Variable holding rank 0's TCPStore address)"}
