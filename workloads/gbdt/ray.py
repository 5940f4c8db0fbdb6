"""ray: Ray Data reads the parquet table, Ray Train's `XGBoostTrainer` trains, as Ray's docs write it.

`ray.data.read_parquet` for the training rows, materialized in the object store before
`trainer.fit()` (on a small budget the training workers hold every CPU, and streaming reads would have none
to run on; the read is inside the timed call, the answer's `load_s`). One Ray Train worker per CPU of the
budget (`ScalingConfig(num_workers=CPUs)`, one CPU and `nthread=1` each); Ray Train starts XGBoost's
collective (the rabit tracker) around the training function. Each worker, as in the `XGBoostTrainer`
docstring: its shard (`get_dataset_shard(...)`, read whole into pandas), a `QuantileDMatrix`, `xgboost.train`
with `RayTrainReportCallback` reporting once, the model as a checkpoint at the end
(`RayTrainReportCallback.get_model` reads it back; its every-round metric report is the `report-every-round`
variant). XGBoost all-reduces the histograms across the workers every round; like every engine's default,
nothing is evaluated inside the training (the held-out AUC curve is computed from the model afterwards; the
`held-out-auc` variant evaluates it every round). `fit()` runs under `engines.ray.train_settings`: the
controller polls its workers every 0.2 s instead of 2 s, without a preemption watcher (Ray's defaults: the
`ray-train-defaults` variant).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import ray
import ray.data

from enginebench import EngineContext, Params
from enginebench.workloads.gbdt.model import answer, booster_params, device, plant_frame, rounds


def _train_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker, inside XGBoost's collective."""
    import ray.train
    import xgboost
    from ray.train.xgboost import RayTrainReportCallback

    from enginebench.workloads.gbdt.data import FEATURES, LABEL
    from enginebench.workloads.gbdt.model import EVAL_NAME, clock

    params = config["params"]
    rank, world = ray.train.get_context().get_world_rank(), ray.train.get_context().get_world_size()
    train_df = _read_shard("train")
    if params.get("plant") == "drop-shard" and rank == world - 1:  # planted (tests only): this shard lost but a row
        train_df = train_df.iloc[:1]
    if config["quantile"]:
        dtrain = xgboost.QuantileDMatrix(train_df[list(FEATURES)], train_df[LABEL], max_bin=params["max_bin"])
    else:
        dtrain = xgboost.DMatrix(train_df[list(FEATURES)], train_df[LABEL])
    evals, metrics = [], None
    if config["evaluate"]:
        test_df = _read_shard("test")
        dtest = (xgboost.QuantileDMatrix(test_df[list(FEATURES)], test_df[LABEL], ref=dtrain) if config["quantile"]
                 else xgboost.DMatrix(test_df[list(FEATURES)], test_df[LABEL]))
        evals, metrics = [(dtest, EVAL_NAME)], {"test_auc": f"{EVAL_NAME}-auc"}
    callback = RayTrainReportCallback if config["report_every_round"] else _model_at_end()
    xgboost.train(config["booster"], dtrain, config["rounds"], evals=evals, verbose_eval=False,
                  callbacks=[clock(config["t0"]), callback(metrics=metrics)])


def _model_at_end() -> type:
    """RayTrainReportCallback that reports once, with the model, when training ends: its every-round metric
    report (a `ray.train.report`, which waits for the controller to take it) cost about 2 s a round with
    Ray's 2 s polling (measured: docs/workloads/gbdt.md), 100x a round's training at tiny; the per-round
    record travels in the model."""
    from ray.train.xgboost import RayTrainReportCallback

    class ModelAtEnd(RayTrainReportCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            self._evals_log = evals_log
            return False

    return ModelAtEnd


def _read_shard(name: str) -> Any:
    """This worker's shard of a dataset as one pandas frame (read once, whole blocks)."""
    import pandas as pd
    import ray.train

    shard = ray.train.get_dataset_shard(name)
    return pd.concat(list(shard.iter_batches(batch_size=None, batch_format="pandas")), ignore_index=True)


def fit_on_ray(ctx: EngineContext, params: Params, datasets: dict[str, ray.data.Dataset], t0: float,
               load_s: float, quantile: bool = True, report_every_round: bool = False, evaluate: bool = False,
               train_settings: dict[str, str] | None = None) -> dict[str, Any]:
    """Ray Train's XGBoostTrainer over prepared datasets ("train", and "test" when `evaluate`); shared by ray
    and spark-on-ray. report_every_round: RayTrainReportCallback as it comes (the held-out AUC reported every
    round; needs `evaluate`) instead of the model reported once at the end. evaluate: the held-out AUC after
    every round. train_settings: Ray Train's controller settings for the fit (None: enginebench's,
    `engines.ray.TRAIN_SETTINGS`; {}: Ray's defaults)."""
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.xgboost import RayTrainReportCallback, XGBoostTrainer

    from enginebench import train_settings as controller

    gpus = int(ray.cluster_resources().get("GPU", 0))
    dev = device(params, gpus > 0, "the Ray cluster")
    world = ctx.cpus if dev == "cpu" else gpus
    storage = tempfile.mkdtemp(prefix="enginebench-raytrain-")
    try:
        trainer = XGBoostTrainer(
            _train_loop,
            train_loop_config={"params": dict(params), "booster": booster_params(params, 1, dev), "t0": t0,
                               "rounds": rounds(params), "quantile": quantile,
                               "report_every_round": report_every_round, "evaluate": evaluate},
            scaling_config=ScalingConfig(num_workers=world, use_gpu=dev == "cuda", resources_per_worker={"CPU": 1}),
            datasets=datasets,
            run_config=RunConfig(name=f"gbdt-{int(t0 * 1000)}", storage_path=storage,
                                 checkpoint_config=CheckpointConfig(num_to_keep=1)),
        )
        with controller(train_settings):
            result = trainer.fit()
        if result.error is not None:
            raise result.error
        if result.checkpoint is None:
            raise RuntimeError("Ray Train returned no checkpoint: the model did not come back from rank 0")
        booster = RayTrainReportCallback.get_model(result.checkpoint)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return answer(booster, t0=t0, load_s=load_s, workers=world, threads=1, dev=dev, api="XGBoostTrainer")


def load(ctx: EngineContext, params: Params, inputs: Any, parts: tuple[str, ...]) -> dict[str, ray.data.Dataset]:
    """The table's `parts` ("train", "test") into Ray's object store: read_parquet, materialized."""
    out = {}
    for part in parts:
        ds = ray.data.read_parquet(str(inputs["folder"] / part))
        if part == "train" and params.get("plant") == "shuffle-labels":  # planted (tests only)
            ds = ds.map_batches(partial(plant_frame, params=dict(params)), batch_format="pandas")
        out[part] = ds.materialize()
    return out


def load_then_fit(ctx: EngineContext, params: Params, inputs: Any,
                  load_fn: Callable[[EngineContext, Params, Any, tuple[str, ...]], dict[str, ray.data.Dataset]],
                  **fit: Any) -> dict[str, Any]:
    """The call ray and spark-on-ray time: `load_fn` (its seconds are the answer's load_s; the test rows only
    when the fit evaluates them), then Ray Train."""
    t0 = time.time()
    datasets = load_fn(ctx, params, inputs, ("train", "test") if fit.get("evaluate") else ("train",))
    return fit_on_ray(ctx, params, datasets, t0, time.time() - t0, **fit)


def train(ctx: EngineContext, params: Params, inputs: Any, **fit: Any) -> dict[str, Any]:
    return load_then_fit(ctx, params, inputs, load, **fit)


CASES = {"train": train}
DEFAULT_VARIANT = "quantile-dmatrix"
VARIANTS = {"ray-train-defaults": {"train": partial(train, train_settings={})},
            "dmatrix": {"train": partial(train, quantile=False)},
            "held-out-auc": {"train": partial(train, evaluate=True)},
            "report-every-round": {"train": partial(train, evaluate=True, report_every_round=True)}}
VARIANT_NOTES = {"ray-train-defaults": "Ray Train's controller as it comes: polls every 2 s, a preemption watcher",
                 "dmatrix": "a plain DMatrix per worker, as the XGBoostTrainer docstring writes it",
                 "held-out-auc": "the held-out rows' AUC evaluated after every round inside the training, "
                                 "all-reduced across the workers",
                 "report-every-round": "RayTrainReportCallback as it comes: the held-out AUC evaluated and reported "
                                       "to Ray Train (ray.train.report) every round, the model at the end"}
NOTES = {"train": "ray.data.read_parquet (materialized) -> XGBoostTrainer, one worker per CPU: shard -> "
                  "QuantileDMatrix -> xgboost.train + RayTrainReportCallback; controller polls every 0.2 s"}
