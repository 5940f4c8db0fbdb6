"""spark: PySpark's `TorchDistributor` on plain Spark (`local_mode=False`: one barrier Spark task per
rank, each launching torchrun, which forms the process group and runs the training function).

`num_processes` = the world size (one per task slot of `local[N]`, or per executor GPU slot when
`spark.task.resource.gpu.amount` is set). The uint8 rows travel as arguments of the training
function (TorchDistributor pickles them once for all ranks); each rank normalizes its own shard
and the test slice it evaluates (inside the timed run: the Spark idiom hands ranks their data as
arguments; `load_s` ends when rank 0's shard is normalized in its process), then runs the shared
loop over gloo (NCCL on GPU). Rank 0's return value is the answer.

Variants (`enginebench variants`): `local-mode` (TorchDistributor's torchrun launched from the driver,
no Spark tasks), `dataframe-partitions` (the rows as a Spark DataFrame of one partition per rank,
each rank reading its partition: `TorchDistributor._train_on_dataframe`, the path Spark's own
`pyspark.ml.connect` estimators take) and `barrier-tasks` (no TorchDistributor, no torchrun: each
barrier task joins the process group itself, the rows a Spark broadcast variable).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np

from enginebench import EngineContext, Params, cases_of, use_gpu
from enginebench.workloads.cnn.model import Recipe, answer
from enginebench.workloads.cnn.spec import layout

#: How long the barrier-tasks variant's ranks wait for each other when the process group forms.
RENDEZVOUS_TIMEOUT_S = 120
#: The table of the dataframe-partitions variant: one row per training image, its position in the set.
ROWS_SCHEMA = "raw binary, label long, index long"


def _leave_without_teardown() -> None:
    """Make this torchrun child end with os._exit once Python is done (its answer already written).

    Measured: now and then a child aborted at interpreter teardown ("terminate called without an
    active exception", SIGABRT, from a C++ thread still alive while static destructors run). Its
    torchrun agent then leaves without the exit barrier and the other rank's agent waits there for
    torch's fixed 300 s before Spark retries the barrier stage: a 316 s repetition in 20, and the
    case timeout in CI. Exiting with os._exit after the atexit handlers skips that teardown; an
    uncaught error still exits non-zero."""
    import atexit
    import os
    import sys

    def leave() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1 if getattr(sys, "last_value", None) is not None else 0)

    atexit.register(leave)


def _partition_rows() -> tuple[np.ndarray, np.ndarray, int]:
    """In a torchrun child of `_train_on_dataframe`: this rank's Spark partition (the Arrow file
    TorchDistributor wrote for its barrier task) as (uint8 rows, labels, position of the first row).
    The partitions are the ranks' contiguous shards (`_rows_frame`), which this checks."""
    import os

    import pyarrow as pa
    from pyspark.ml.torch.distributor import SPARK_PARTITION_ARROW_DATA_FILE

    with pa.OSFile(os.environ[SPARK_PARTITION_ARROW_DATA_FILE], "rb") as f:
        table = pa.ipc.open_stream(f).read_all()
    index = table.column("index").to_numpy()
    first = int(index[0])
    if not np.array_equal(index, np.arange(first, first + len(index))):
        raise RuntimeError("this rank's Spark partition is not a contiguous shard of the training set")
    raw = np.frombuffer(b"".join(table.column("raw").to_pylist()), dtype=np.uint8).reshape(len(index), -1)
    return raw, table.column("label").to_numpy().astype(np.int64), first


def _train_fn(train_x: np.ndarray | None, train_y: np.ndarray | None, test_x: np.ndarray, test_y: np.ndarray,
              recipe_d: dict[str, Any], threads: int, gpu: bool, t0: float, n_train: int | None = None,
              one_output_file: bool = False) -> dict[str, Any] | None:
    """Runs in each torchrun process that TorchDistributor starts (RANK, WORLD_SIZE, MASTER_* set).
    train_x None (dataframe-partitions): the rank's shard is its Spark partition, of `n_train` rows in all.
    one_output_file (local-mode): the ranks share one output file, so only rank 0 may write it."""
    import os
    import time

    import torch.distributed as dist

    from enginebench.workloads.cnn.model import backend_for, device_for, normalize, set_threads, shard_rows, train_shard

    recipe = Recipe(**recipe_d)
    set_threads(threads)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    device = device_for(int(os.environ.get("LOCAL_RANK", "0")), gpu)
    backend = backend_for(device)
    dist.init_process_group(backend)
    try:
        if train_x is None or train_y is None:
            raw, y, lo = _partition_rows()
            n = int(n_train or 0)
        else:
            # planted (tests only): every rank takes rank 0's shard
            lo, hi = shard_rows(len(train_y), recipe, 0 if recipe.plant == "same-shard" else rank, world)
            raw, y, n = train_x[lo:hi], train_y[lo:hi], len(train_y)
        x, x_test = normalize(raw), normalize(test_x[rank::world])
        load_s = time.time() - t0
        result = train_shard(recipe, rank, world, device, x, y, x_test, test_y[rank::world], n, t0, lo)
    finally:
        dist.destroy_process_group()
    _leave_without_teardown()  # registered last, so it runs first at exit
    if rank != 0 and one_output_file:
        # In local mode every torchrun child of TorchDistributor's train script (pyspark 3.5.7) writes its
        # return value to the same output file, and the rank that ends last wins (measured 2026-12-07: rank 1's
        # None came back in 1 call of 4). The other ranks leave before writing.
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    if rank != 0:
        return None
    return {**result, "device": device.type, "backend": backend, "world": world, "load_s": load_s}


def spark_gpus(spark: Any) -> int:
    """GPU task slots Spark was configured with (0: train on CPU)."""
    conf = spark.sparkContext.getConf()
    return int(float(conf.get("spark.task.resource.gpu.amount", "0") or 0))


def _rows_frame(spark: Any, x: np.ndarray, y: np.ndarray, recipe: Recipe, world: int) -> Any:
    """The training rows every rank trains on as a Spark DataFrame of `world` partitions, partition r
    holding rank r's contiguous shard (`parallelize` cuts a list into equal consecutive slices; the
    rows past the last full global batch are left out, as `shard_rows` leaves them)."""
    from enginebench.workloads.cnn.model import shard_rows

    used = shard_rows(len(y), recipe, world - 1, world)[1]
    rows = [(bytes(x[i]), int(y[i]), i) for i in range(used)]
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, world), ROWS_SCHEMA)


def train(ctx: EngineContext, params: Params, inputs: Any, how: str = "arguments") -> dict[str, Any]:
    """how: "arguments" (the default: barrier tasks launch torchrun, the rows pickled arguments),
    "local-mode" (torchrun launched from the driver) or "dataframe" (the rows a Spark DataFrame, one
    partition per rank)."""
    from pyspark.ml.torch.distributor import TorchDistributor

    t0 = time.time()
    recipe = Recipe.from_params(params)
    gpu = use_gpu(params, spark_gpus(ctx.handle) > 0, "Spark's tasks (spark.task.resource.gpu.amount)")
    world, threads = layout(params, ctx.cpus, 1 if gpu else 0)
    distributor = TorchDistributor(num_processes=world, local_mode=how == "local-mode", use_gpu=gpu)
    rest = (inputs["test_x"], inputs["test_y"], recipe.to_dict(), threads, gpu, t0)
    if how in ("arguments", "local-mode"):
        got = distributor.run(_train_fn, inputs["train_x"], inputs["train_y"], *rest,
                              one_output_file=how == "local-mode")
    elif how == "dataframe":
        rows = _rows_frame(ctx.handle, inputs["train_x"], inputs["train_y"], recipe, world)
        got = distributor._train_on_dataframe(_train_fn, rows, None, None, *rest, n_train=len(inputs["train_y"]))
    else:
        raise ValueError(f"unknown how {how!r} (accepted: arguments, local-mode, dataframe)")
    if got is None:
        raise RuntimeError("TorchDistributor returned no answer: rank 0's return value did not come back")
    return answer(got, engine=ctx.engine, world=got["world"], threads=threads, device=got["device"],
                  backend=got["backend"], recipe=recipe, load_s=got["load_s"])


def _barrier_rank(_: Iterator[Any], data: Any, recipe_d: dict[str, Any], threads: int,
                  t0: float) -> Iterator[dict[str, Any]]:
    """One barrier task of the barrier-tasks variant, in Spark's Python worker: rank = partition; rank 0
    serves the TCPStore on its task's host (a port the OS assigns) and `allGather` tells the others;
    then the shared loop over gloo on this rank's shard of the broadcast rows. Rank 0 yields the answer."""
    import gc
    from datetime import timedelta

    import torch
    import torch.distributed as dist
    from pyspark import BarrierTaskContext

    from enginebench.workloads.cnn.model import normalize, set_threads, shard_rows, tcp_store, train_shard

    context = BarrierTaskContext.get()
    rank, world = context.partitionId(), len(context.getTaskInfos())
    host = context.getTaskInfos()[0].address.rsplit(":", 1)[0]
    recipe = Recipe(**recipe_d)
    set_threads(threads)
    store = tcp_store(host, world, None, RENDEZVOUS_TIMEOUT_S) if rank == 0 else None
    port = int(context.allGather(str(store.port) if store is not None else "")[0])
    store = store or tcp_store(host, world, port, RENDEZVOUS_TIMEOUT_S)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world,
                            timeout=timedelta(seconds=RENDEZVOUS_TIMEOUT_S))
    try:
        rows = data.value
        n = len(rows["train_y"])
        lo, hi = shard_rows(n, recipe, rank, world)
        x, x_test = normalize(rows["train_x"][lo:hi]), normalize(rows["test_x"][rank::world])
        load_s = time.time() - t0
        result = train_shard(recipe, rank, world, torch.device("cpu"), x, rows["train_y"][lo:hi], x_test,
                             rows["test_y"][rank::world], n, t0, lo)
        dist.barrier()  # every rank is done with the store before rank 0 closes it
    finally:
        dist.destroy_process_group()
        # Spark reuses this Python worker: the TCPStore server (rank 0) must not outlive the training.
        del store
        gc.collect()
    if rank == 0:
        yield {**result, "load_s": load_s}


def barrier_tasks(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    """The variant without TorchDistributor or torchrun: one barrier Spark task per rank
    (`rdd.barrier().mapPartitions`, Spark's barrier execution mode) forms the gloo group in Spark's own
    Python worker, the rows a broadcast variable (destroyed at the end). CPU only."""
    t0 = time.time()
    spark = ctx.handle
    recipe = Recipe.from_params(params)
    if use_gpu(params, spark_gpus(spark) > 0, "Spark's tasks (spark.task.resource.gpu.amount)"):
        raise RuntimeError("the barrier-tasks variant trains on CPUs only (accepted: --device cpu)")
    world, threads = layout(params, ctx.cpus)
    sc = spark.sparkContext
    data = sc.broadcast({k: inputs[k] for k in ("train_x", "train_y", "test_x", "test_y")})
    try:
        (got,) = sc.parallelize(range(world), world).barrier().mapPartitions(
            partial(_barrier_rank, data=data, recipe_d=recipe.to_dict(), threads=threads, t0=t0)).collect()
    finally:
        data.destroy()
    return answer(got, engine=ctx.engine, world=world, threads=threads, device="cpu", backend="gloo", recipe=recipe,
                  load_s=got["load_s"])


CASES = cases_of(train)
DEFAULT_VARIANT = "distributor"
VARIANTS = {"local-mode": {"train": partial(train, how="local-mode")},
            "dataframe-partitions": {"train": partial(train, how="dataframe")},
            "barrier-tasks": {"train": barrier_tasks}}
#: Measured, never the best the default is held to (enginebench.measure.variants): why.
OUTSIDE_RULE = {
    "local-mode": "it trains on the driver's machine only, outside Spark's task slots: it cannot use the executors "
                  "of a cluster (--spark-master), so it is no default for the spark engine",
    "barrier-tasks": "it drops TorchDistributor, the library the spark engine's cnn case measures; it separates "
                     "TorchDistributor's cost (torchrun per task) from Spark's",
}
VARIANT_NOTES = {
    "local-mode": "TorchDistributor(local_mode=True): torchrun launched from the driver process (the distributor's "
                  "own default), no Spark tasks",
    "dataframe-partitions": "the rows a Spark DataFrame of one partition per rank, which TorchDistributor writes to an "
                            "Arrow file per barrier task for its rank to read (_train_on_dataframe, the path Spark's "
                            "pyspark.ml.connect estimators take), instead of pickled arguments",
    "barrier-tasks": "no TorchDistributor, no torchrun: rdd.barrier().mapPartitions, each barrier task joins the gloo "
                     "group in Spark's Python worker (TCPStore address shared by allGather), the rows a broadcast",
}
NOTES = {"train": "pyspark.ml.torch.distributor.TorchDistributor(local_mode=False): barrier tasks + torchrun; "
                  "each rank normalizes its shard"}
