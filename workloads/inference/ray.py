"""ray: Ray Data. `read_parquet`, then `map_batches` with a callable class on an actor pool: up
to one actor per CPU of the budget (one per GPU when the cluster has GPUs), each loading the model once in
its constructor and scoring `batch_size` images per call; the labels come back with
`take_all`-style materialization into the driver. Ray Data's own pool starts with the job, so every
call pays its actors' start and model load (reported as `loads_in_call`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from harness.engines.base import EngineContext
from harness.spec import Params, use_gpu
from workloads.inference import model as m


class Scorer:
    """The callable class of `map_batches`: the model is loaded once, in the constructor."""

    def __init__(self, ckpt: m.Checkpoint, batch: int, device: str) -> None:
        self.ckpt, self.batch, self.device = ckpt, batch, device
        m.loaded_model(ckpt, device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return m.score(batch["id"], batch["image"], self.ckpt, self.batch, self.device)


def score_dataset(ds: Any, ctx: EngineContext, params: Params, inputs: Any, t0: float) -> dict[str, Any]:
    """Score a Ray Dataset with columns id and image (shared with spark-on-ray)."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    gpu = use_gpu(params, gpus > 0, "the Ray cluster")
    actors = gpus if gpu else ctx.cpus
    # On CPUs the pool grows from 1 actor to one per CPU: a fixed pool of one actor per CPU would hold
    # every CPU of a small budget before the read tasks get one (it hangs); with GPUs the actors hold
    # no CPU and the pool is one actor per GPU from the start.
    pool = ray.data.ActorPoolStrategy(min_size=actors if gpu else 1, max_size=actors)
    out = ds.map_batches(Scorer, fn_constructor_args=(inputs["checkpoint"], params["batch_size"],
                                                       "cuda" if gpu else "cpu"),
                         batch_size=params["batch_size"], batch_format="numpy", compute=pool,
                         num_cpus=0 if gpu else 1, num_gpus=1 if gpu else 0)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in m.COLUMNS}
    for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
        for k in cols:
            cols[k].append(batch[k])
    return m.answer({k: np.concatenate(v) for k, v in cols.items()}, t0, "cuda" if gpu else "cpu", actors)


def score(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    import ray.data

    from workloads.etl.ray import tune_data_context

    tune_data_context()  # progress bars and per-operator INFO lines off, as in the etl workload
    t0 = time.time()
    return score_dataset(ray.data.read_parquet(inputs["path"]), ctx, params, inputs, t0)


CASES = {"score": score}
NOTES = {"score": "ray.data.read_parquet + map_batches(callable class) on an actor pool of 1 to one actor per CPU "
                  "(per GPU with GPUs), model loaded in each actor's constructor"}
