"""ray: Ray Data. `read_parquet`, then `map_batches` scoring four of the scale's batches per call (the
model scores one batch at a time), the labels back into the driver with `iter_batches`.

On CPUs the scoring function runs as Ray tasks on Ray's reused worker processes, the model cached once
per process (`model.loaded_model`), so from the second call on no process loads it again: the same
warm workers Dask and Spark score with. The other form, Ray's guide's callable class on an actor pool
(1 to one actor per CPU), builds a new pool in every call and pays its start and a model load inside
each call; it measured slower on CPUs (`VARIANTS`, measured by `enginebench variants`; the figures:
docs/workloads/inference.md). With GPUs it is the actor pool, one actor per GPU.

Each call runs with Ray Data's resource-budget backpressure off (`without_cold_start_budget`): in Ray
2.60 every execution starts with a budget of zero CPUs for about a second, so a call shorter than that
ran its read and scoring tasks one at a time on one worker, and which of the two prestarted workers had
loaded the model in the warm-up decided whether a timed call paid torch's import (the 3x run-to-run
spread of issue #37; docs/studies/2026-12-06-repeatability.md). The stock behaviour is the variant
`cold-start-budget`."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import numpy as np

from enginebench import EngineContext, Params, ray_data_settings, use_gpu
from enginebench.workloads.inference import model as m


def score_batch(batch: dict[str, np.ndarray], ckpt: m.Checkpoint, size: int, device: str) -> dict[str, np.ndarray]:
    """The task form of `map_batches`: the model comes from this worker process's cache (`m.loaded_model`),
    so a reused Ray worker keeps it across tasks and calls, as Dask's and Spark's workers do."""
    return m.score(batch["id"], batch["image"], ckpt, size, device)


class Scorer:
    """The callable class of `map_batches`: the model is loaded once, in the constructor."""

    def __init__(self, ckpt: m.Checkpoint, batch: int, device: str) -> None:
        self.ckpt, self.batch, self.device = ckpt, batch, device
        m.loaded_model(ckpt, device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return score_batch(batch, self.ckpt, self.batch, self.device)


#: Batches of the scale's size per `map_batches` call: fewer, larger Ray Data tasks (one batch per call
#: measured 1.33x slower at tiny and 1.08x at small; docs/studies/2026-11-29-variant-study.md).
BATCHES_PER_CALL = 4
#: Ray Data's settings for the call, set and restored by `ray_data_settings`: progress bars and per-operation
#: INFO lines off, the V1 parquet datasource for the one small image file, and the cold-start budget off
#: (`without_cold_start_budget`; on in the `cold-start-budget` variant). Set before the read: see there.
DATA_CONTEXT = {"use_datasource_v2": False, "cold_start_budget": False}


def score_dataset(ds: Any, ctx: EngineContext, params: Params, inputs: Any, t0: float,
                  strategy: str = "tasks", batches_per_call: int = BATCHES_PER_CALL) -> dict[str, Any]:
    """Score a Ray Dataset with columns id and image (shared with spark-on-ray). On CPUs `strategy`
    "tasks" (the default) or "actors" (see the module's doc); `map_batches` hands each call
    `batches_per_call` of the scale's batches (the model scores them one batch at a time)."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    gpu = use_gpu(params, gpus > 0, "the Ray cluster")
    actors = gpus if gpu else ctx.cpus
    args = (inputs["checkpoint"], params["batch_size"], "cuda" if gpu else "cpu")
    rows = batches_per_call * params["batch_size"]
    if not gpu and strategy == "tasks":
        out = ds.map_batches(score_batch, fn_args=args, batch_size=rows, batch_format="numpy", num_cpus=1)
    else:
        # On CPUs the pool grows from 1 actor to one per CPU: a fixed pool of one actor per CPU would
        # hold every CPU of a small budget before the read tasks get one (it hangs); with GPUs the
        # actors hold no CPU and the pool is one actor per GPU from the start.
        pool = ray.data.ActorPoolStrategy(min_size=actors if gpu else 1, max_size=actors)
        out = ds.map_batches(Scorer, fn_constructor_args=args, batch_size=rows, batch_format="numpy", compute=pool,
                             num_cpus=0 if gpu else 1, num_gpus=1 if gpu else 0)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in m.COLUMNS}
    for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
        for k in cols:
            cols[k].append(batch[k])
    return m.answer({k: np.concatenate(v) for k, v in cols.items()}, t0, "cuda" if gpu else "cpu", actors)


def score(ctx: EngineContext, params: Params, inputs: Any, strategy: str = "tasks",
          batches_per_call: int = BATCHES_PER_CALL, cold_start_budget: bool = False) -> dict[str, Any]:
    """`cold_start_budget` (a variant): Ray Data's stock backpressure, with its zero budget for the
    first second of each call (`without_cold_start_budget`)."""
    import ray.data

    t0 = time.time()
    with ray_data_settings(**{**DATA_CONTEXT, "cold_start_budget": cold_start_budget}):
        return score_dataset(ray.data.read_parquet(inputs["path"]), ctx, params, inputs, t0, strategy,
                             batches_per_call)


CASES = {"score": score}
DEFAULT_VARIANT = "tasks-4-batches"
#: `enginebench variants --workload inference --engines ray`: what an expert of Ray Data might write instead.
VARIANTS = {
    "actors": {"score": partial(score, strategy="actors")},
    "tasks-1-batch": {"score": partial(score, batches_per_call=1)},
    "cold-start-budget": {"score": partial(score, cold_start_budget=True)},
}
VARIANT_NOTES = {
    "actors": "Ray's batch-inference guide: a callable class on an actor pool growing from 1 to one actor per CPU, "
              "new in each call, the model loaded in each actor's constructor",
    "tasks-1-batch": "the default with map_batches(batch_size=the scale's batch): one batch per call (the default "
                     "until 2026-11-29)",
    "cold-start-budget": "Ray Data 2.60's stock backpressure: every execution starts with a resource budget of zero "
                         "for about 1 s, so a call under a second runs its tasks one at a time on one worker (the "
                         "default until 2026-12-06)",
}
NOTES = {"score": "ray.data.read_parquet + map_batches(function, 4 batches a call) as tasks on reused workers, the "
                  "model cached per worker process (with GPUs: a callable class on one actor per GPU); Ray Data's "
                  "resource-budget backpressure off for the call (its zero budget in each execution's first second "
                  "ran the tasks one at a time)"}
