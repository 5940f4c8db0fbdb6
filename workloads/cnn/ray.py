"""ray: Ray Data for the images, Ray Train (`TorchTrainer`, DDP) for the training.

The uint8 rows become a Ray Dataset (Arrow tensor column, one block per worker and CPU), normalized
with `map_batches` and materialized in the object store before `trainer.fit()`: on a small budget the
training workers hold every CPU, and streaming preprocessing would have no CPU to run on (it would
hang), so the conversion finishes before `trainer.fit()` starts (`load`, the answer's `load_s`,
inside each timed call like every engine's). Each worker calls `prepare_model`
(DDP over gloo on CPU, NCCL on GPU), reads its shard (`get_dataset_shard`, an equal split) once into
arrays and batches them in a seeded order per epoch, as the dask, spark and local ranks do, runs the
shared `model.fit`, and reports metrics and a checkpoint (weights + history) every epoch; `fit()` runs under
`engines.ray.train_settings` (the controller polls every 0.2 s, not 2 s, so a report does not wait up to
2 s; no preemption watcher: Ray's defaults are the `ray-train-defaults` variant). Streaming the
shard every epoch with `iter_torch_batches` and a local shuffle buffer (the `stream` variant, the
default until 2026-11-29) trained 4-8x slower per step on CPUs; see docs/workloads/cnn.md.
`Result.metrics` is not relied on (it came back None in this Ray version): the answer is read from
the last checkpoint, which `fit_on_ray` checks is there.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import ray
import ray.data

from enginebench import EngineContext, Params, use_gpu
from enginebench.workloads.cnn.model import Recipe, answer, normalize
from enginebench.workloads.cnn.spec import layout

HISTORY_FILE = "history.json"


def normalize_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """map_batches UDF: uint8 rows -> normalized float32 (B, 3, 32, 32); labels and indices kept."""
    return {"image": normalize(np.stack(batch["image"]) if batch["image"].dtype == object else batch["image"]),
            "label": batch["label"].astype(np.int64), "index": batch["index"].astype(np.int64)}


def images_dataset(x: np.ndarray, y: np.ndarray, blocks: int) -> ray.data.Dataset:
    """uint8 rows + labels as a Ray Dataset of `blocks` Arrow blocks (tensor column `image`, and each
    row's position in the set as `index`, for the check's coverage count)."""
    import pyarrow as pa
    from ray.data.extensions import ArrowTensorArray

    index = np.arange(len(y))
    tables = [pa.table({"image": ArrowTensorArray.from_numpy(np.ascontiguousarray(xc)), "label": pa.array(yc),
                        "index": pa.array(ic)})
              for xc, yc, ic in zip(np.array_split(x, blocks), np.array_split(y, blocks), np.array_split(index, blocks),
                                    strict=True)]
    return ray.data.from_arrow(tables)


def cluster_gpus() -> int:
    return int(ray.cluster_resources().get("GPU", 0))


def _train_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker."""
    import ray.train
    import ray.train.torch
    import torch

    from enginebench.workloads.cnn.model import array_batches, build_model, fit, set_threads, test_batches

    recipe = Recipe(**config["recipe"])
    set_threads(config["threads"])
    tctx = ray.train.get_context()
    rank, world = tctx.get_world_rank(), tctx.get_world_size()
    device = ray.train.torch.get_device()
    # planted (tests only): no DDP wrapper, so no gradient all-reduce
    model = ray.train.torch.prepare_model(build_model(recipe),
                                          parallel_strategy=None if recipe.plant == "no-allreduce" else "ddp")
    train_shard = ray.train.get_dataset_shard("train")
    test_shard = ray.train.get_dataset_shard("test")
    local_batch = recipe.local_batch(world)
    pin = device.type == "cuda"
    dtypes = {"image": torch.float32, "label": torch.int64, "index": torch.int64}

    loader = config.get("loader", "in-memory")
    shuffle = local_batch * 8 if loader == "stream" else None
    if loader == "in-memory":  # each shard read once into arrays, batched as the dask, spark and local ranks do
        train_arrays = _read_shard(train_shard)
        test_arrays = _read_shard(test_shard)
        if recipe.plant == "half-data":  # planted (tests only): the first half of the shard, twice
            half = len(train_arrays[0]) // 2
            train_arrays = tuple(np.concatenate([a[:half], a[:half]]) for a in train_arrays)  # type: ignore[assignment]

    def train_batches(epoch: int) -> Any:
        if loader == "in-memory":
            x, y, index = train_arrays
            return array_batches(x, y, index, recipe, epoch, rank, world, device)
        batches = ((b["image"], b["label"], b["index"].cpu().numpy()) for b in train_shard.iter_torch_batches(
            batch_size=local_batch, drop_last=True, dtypes=dtypes, device=device, pin_memory=pin,
            local_shuffle_buffer_size=shuffle, local_shuffle_seed=recipe.seed * 100_003 + epoch * 101 + rank))
        if recipe.plant == "half-data":  # planted (tests only): the first half of the epoch's batches, twice
            return list(itertools.islice(batches, recipe.steps_per_epoch(config["n_train"]) // 2)) * 2
        return batches

    def eval_batches() -> Any:
        if loader == "in-memory":
            yield from test_batches(test_arrays[0], test_arrays[1], 0, 1, 1024, device)
            return
        for b in test_shard.iter_torch_batches(batch_size=1024, dtypes=dtypes, device=device, pin_memory=pin):
            yield b["image"], b["label"]

    history: list[dict[str, Any]] = []

    def on_epoch(entry: dict[str, Any]) -> None:
        history.append(entry)
        metrics = {k: v for k, v in entry.items() if v is not None}
        if rank != 0:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory() as tmp:
            net = model.module if hasattr(model, "module") else model
            torch.save(net.state_dict(), os.path.join(tmp, "model.pt"))
            with open(os.path.join(tmp, HISTORY_FILE), "w") as f:
                json.dump({"history": history, "device": device.type, "world": world,
                           "backend": "nccl" if device.type == "cuda" else "gloo",
                           "train_s": sum(h["epoch_train_s"] for h in history),
                           "images": sum(h["images"] for h in history)}, f)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))

    fit(model, recipe, config["n_train"], rank, world, device, train_batches, eval_batches, config["t0"], on_epoch)


def _read_shard(shard: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A worker's whole dataset shard as arrays (images, labels, training-set indices)."""
    parts = list(shard.iter_batches(batch_size=None, batch_format="numpy"))
    return tuple(np.concatenate([p[k] for p in parts]) for k in ("image", "label", "index"))  # type: ignore[return-value]


def fit_on_ray(ctx: EngineContext, params: Params, data: dict[str, Any], t0: float, load_s: float,
               loader: str = "in-memory", train_settings: dict[str, str] | None = None) -> dict[str, Any]:
    """Ray Train over prepared (normalized, materialized) datasets; shared by `ray` and `spark-on-ray`.
    t0: the call's start (time.time()); load_s: seconds it took to prepare `data`. loader: how a
    worker reads its shard: "in-memory" (the default: read once into arrays, then batched in a seeded
    order per epoch, as the dask, spark and local ranks do), "stream" (iter_torch_batches with a local
    shuffle buffer, the default until 2026-11-29) or "stream-no-buffer" (no buffer: the blocks' order).
    train_settings: Ray Train's controller settings for the fit (None: enginebench's, `engines.ray.TRAIN_SETTINGS`:
    a poll every 0.2 s instead of 2 s, which each epoch's report waits for; {}: Ray's defaults)."""
    from ray.train import CheckpointConfig, DataConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from enginebench import train_settings as controller

    recipe = Recipe.from_params(params)
    gpus = cluster_gpus()
    gpus = gpus if use_gpu(params, gpus > 0, "the Ray cluster") else 0
    world, threads = layout(params, ctx.cpus, gpus)
    storage = tempfile.mkdtemp(prefix="enginebench-raytrain-")
    try:
        trainer = TorchTrainer(
            _train_loop,
            train_loop_config={"recipe": recipe.to_dict(), "threads": threads, "n_train": data["n_train"], "t0": t0,
                               "loader": loader},
            scaling_config=ScalingConfig(num_workers=world, use_gpu=gpus > 0,
                                         resources_per_worker={"CPU": threads, **({"GPU": 1} if gpus else {})}),
            datasets={"train": data["train"], "test": data["test"]},
            # planted (tests only): the training set not split, so every rank reads the same rows
            dataset_config=DataConfig(datasets_to_split=["test"] if recipe.plant == "same-shard" else "all"),
            run_config=RunConfig(name=f"cnn-{int(t0 * 1000)}", storage_path=storage,
                                 checkpoint_config=CheckpointConfig(num_to_keep=1)),
        )
        with controller(train_settings):
            result = trainer.fit()
        if result.error is not None:
            raise result.error
        if result.checkpoint is None:
            raise RuntimeError("Ray Train returned no checkpoint: the workers' epoch reports did not arrive")
        with result.checkpoint.as_directory() as d, open(os.path.join(d, HISTORY_FILE)) as f:
            got = json.load(f)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    history = got["history"]
    out = {"history": history, "train_s": got["train_s"], "images": got["images"],
           "final_accuracy": history[-1]["test_accuracy"] if history else 0.0}
    return answer(out, engine=ctx.engine, world=got["world"], threads=threads, device=got["device"],
                  backend=got["backend"], recipe=recipe, load_s=load_s)


def load(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    """The images into Ray's object store, normalized by Ray Data and materialized."""
    blocks = max(2, ctx.cpus * 2)
    train_ds = images_dataset(inputs["train_x"], inputs["train_y"], blocks).map_batches(
        normalize_batch, batch_format="numpy").materialize()
    test_ds = images_dataset(inputs["test_x"], inputs["test_y"], blocks).map_batches(
        normalize_batch, batch_format="numpy").materialize()
    return {"train": train_ds, "test": test_ds, "n_train": len(inputs["train_y"])}


def _items_to_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """map_batches UDF after `from_torch`: the Dataset's (image, label, index) items -> normalized columns."""
    items = batch["item"]
    return normalize_batch({"image": np.stack([it[0] for it in items]),
                            "label": np.array([it[1] for it in items]), "index": np.array([it[2] for it in items])})


def load_from_torch(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    """The seed's idiom (a variant): the images as a torch `Dataset`, `ray.data.from_torch` (one read task
    streams its items), `map_batches` to normalized columns, materialized."""
    import torch.utils.data

    class Images(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
            self.x, self.y = x, y

        def __len__(self) -> int:
            return len(self.y)

        def __getitem__(self, i: int) -> tuple[np.ndarray, int, int]:
            return self.x[i], int(self.y[i]), i

    def dataset(x: np.ndarray, y: np.ndarray) -> ray.data.Dataset:
        return ray.data.from_torch(Images(x, y)).map_batches(_items_to_batch, batch_format="numpy").materialize()

    return {"train": dataset(inputs["train_x"], inputs["train_y"]), "test": dataset(inputs["test_x"], inputs["test_y"]),
            "n_train": len(inputs["train_y"])}


def load_then_fit(ctx: EngineContext, params: Params, inputs: Any,
                  load_fn: Callable[[EngineContext, Params, Any], dict[str, Any]], **fit: Any) -> dict[str, Any]:
    """The call `ray` and `spark-on-ray` time: `load_fn` (its seconds are the answer's load_s), then Ray Train
    (`fit`: `fit_on_ray`'s options)."""
    t0 = time.time()
    data = load_fn(ctx, params, inputs)
    return fit_on_ray(ctx, params, data, t0, time.time() - t0, **fit)


def train(ctx: EngineContext, params: Params, inputs: Any, torch_dataset: bool = False, **fit: Any) -> dict[str, Any]:
    """`fit`: `fit_on_ray`'s options; `torch_dataset` (a variant): the data enter Ray Data through `from_torch`."""
    return load_then_fit(ctx, params, inputs, load_from_torch if torch_dataset else load, **fit)


class _Rank:
    """One rank of the `core-actors` variant: a Ray actor that joins a torch process group and runs the
    shared per-rank loop on its shard, as a Dask worker does; no Ray Train."""

    def __init__(self, rank: int, world: int, threads: int) -> None:
        self.rank, self.world, self.threads = rank, world, threads
        self.store: Any = None

    def serve(self) -> tuple[str, int]:
        """Rank 0: the process group's TCPStore on this node's address (`model.tcp_store`); its (host, port)."""
        from enginebench.workloads.cnn.model import tcp_store

        host = ray.util.get_node_ip_address()
        self.store = tcp_store(host, self.world, None, 120)
        return host, int(self.store.port)

    def train(self, host: str, port: int, x: np.ndarray, y: np.ndarray, first: int, test_x: np.ndarray,
              test_y: np.ndarray, recipe_d: dict[str, Any], n_train: int, t0: float) -> dict[str, Any] | None:
        from datetime import timedelta

        import torch
        import torch.distributed as dist

        from enginebench.workloads.cnn.model import set_threads, tcp_store, train_shard

        set_threads(self.threads)
        store = self.store or tcp_store(host, self.world, port, 120)
        dist.init_process_group("gloo", store=store, rank=self.rank, world_size=self.world,
                                timeout=timedelta(seconds=120))
        try:
            shard, test = normalize(x), normalize(test_x)
            load_s = time.time() - t0
            result = train_shard(Recipe(**recipe_d), self.rank, self.world, torch.device("cpu"), shard, y, test,
                                 test_y, n_train, t0, first)
            dist.barrier()
        finally:
            dist.destroy_process_group()
        return {**result, "load_s": load_s} if self.rank == 0 else None


def core_actors(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    """The variant without Ray Train or Ray Data: one Ray actor per rank, new in each call (as Ray Train's
    worker group is), each handed its uint8 shard as an argument, forming one gloo DDP group. CPU only."""
    from enginebench.workloads.cnn.model import shard_rows

    t0 = time.time()
    recipe = Recipe.from_params(params)
    if use_gpu(params, cluster_gpus() > 0, "the Ray cluster"):
        raise RuntimeError("the core-actors variant trains on CPUs only (accepted: --device cpu)")
    world, threads = layout(params, ctx.cpus)
    n = len(inputs["train_y"])
    ranks = [ray.remote(num_cpus=threads)(_Rank).remote(r, world, threads) for r in range(world)]
    try:
        host, port = ray.get(ranks[0].serve.remote())
        bounds = [shard_rows(n, recipe, r, world) for r in range(world)]
        got = ray.get([a.train.remote(host, port, inputs["train_x"][lo:hi], inputs["train_y"][lo:hi], lo,
                                      inputs["test_x"][r::world], inputs["test_y"][r::world], recipe.to_dict(), n, t0)
                       for r, (a, (lo, hi)) in enumerate(zip(ranks, bounds, strict=True))])[0]
    finally:
        for a in ranks:
            ray.kill(a)
    return answer(got, engine=ctx.engine, world=world, threads=threads, device="cpu", backend="gloo", recipe=recipe,
                  load_s=got["load_s"])


CASES = {"train": train}
DEFAULT_VARIANT = "in-memory"
VARIANTS = {"stream": {"train": partial(train, loader="stream")},
            "stream-no-buffer": {"train": partial(train, loader="stream-no-buffer")},
            "from-torch": {"train": partial(train, torch_dataset=True)},
            "ray-train-defaults": {"train": partial(train, train_settings={})},
            "core-actors": {"train": core_actors}}
#: Measured, never the best the default is held to (enginebench.measure.variants): why.
OUTSIDE_RULE = {"core-actors": "it drops Ray Train, the library the ray engine's cnn case measures; it separates "
                               "Ray Train's cost from Ray's"}
VARIANT_NOTES = {
    "stream": "iter_torch_batches with a local shuffle buffer of 8 batches, every epoch (the default until "
              "2026-11-29)",
    "stream-no-buffer": "iter_torch_batches without the shuffle buffer (each epoch in the shard's block order)",
    "from-torch": "the seed's idiom for the data: a torch Dataset through ray.data.from_torch (one read task) and "
                  "map_batches, then the default training",
    "ray-train-defaults": "Ray Train's controller as it comes: polls its workers every 2 s (each epoch's report "
                          "waits for a poll), a preemption watcher",
    "core-actors": "no Ray Train, no Ray Data: one Ray actor per rank (new in each call) forms a gloo DDP group "
                   "and trains its shard, handed over as an argument, as the Dask ranks do",
}
NOTES = {"train": "Ray Data (from_arrow, map_batches normalize, materialize) + Ray Train TorchTrainer "
                  "(prepare_model; get_dataset_shard read once per worker into arrays, batched in a seeded order "
                  "per epoch); checkpoint per epoch"}
