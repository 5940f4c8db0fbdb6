"""dask: `xgboost.dask` on the cluster's workers, as XGBoost's Dask tutorial writes it.

`dask.dataframe.read_parquet` (one partition per file), persisted on the workers (the read is inside the
timed call, the answer's `load_s`), then `xgboost.dask.DaskQuantileDMatrix` (the test rows sketched against
it) and `xgboost.dask.train`: one XGBoost worker per Dask worker, each training on the partitions it holds,
with `nthread` = that worker's threads; XGBoost's collective is started by `xgboost.dask` through the
scheduler. The model comes back to the client as a Booster.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import dask.dataframe as dd

from enginebench import EngineContext, Params
from enginebench.workloads.gbdt.data import FEATURES, LABEL
from enginebench.workloads.gbdt.model import EVAL_NAME, answer, booster_params, clock, device, plant_frame, rounds


def _worker_resources(dask_scheduler: Any) -> list[dict[str, float]]:
    return [dict(ws.resources) for ws in dask_scheduler.workers.values()]


def _gpus(client: Any) -> bool:
    # asked of the scheduler, as in cnn/dask.py (Client.scheduler_info() is a racy cache)
    return any(r.get("GPU") for r in client.run_on_scheduler(_worker_resources))


def train(ctx: EngineContext, params: Params, inputs: Any, quantile: bool = True,
          partitions_per_worker: int = 0, evaluate: bool = False) -> dict[str, Any]:
    """partitions_per_worker: repartition the training rows to that many per worker (0: one per file);
    evaluate: the held-out AUC after every round as well (the test rows are only read for it)."""
    import xgboost.dask as dxgb

    t0 = time.time()
    client = ctx.handle
    workers = client.nthreads()
    threads = min(workers.values())
    dev = device(params, _gpus(client), "the Dask workers")
    train_df = dd.read_parquet(str(inputs["folder"] / "train"))
    if partitions_per_worker:
        train_df = train_df.repartition(npartitions=partitions_per_worker * len(workers))
    if params.get("plant") == "drop-shard":  # planted (tests only): the last partition lost
        train_df = train_df.partitions[:-1]
    if params.get("plant") == "shuffle-labels":  # planted (tests only)
        train_df = train_df.map_partitions(partial(plant_frame, params=dict(params)))
    train_df = client.persist(train_df)
    x, y = train_df[list(FEATURES)], train_df[LABEL]
    dtrain = (dxgb.DaskQuantileDMatrix(client, x, y, max_bin=params["max_bin"]) if quantile
              else dxgb.DaskDMatrix(client, x, y))
    evals = []
    if evaluate:
        test_df = client.persist(dd.read_parquet(str(inputs["folder"] / "test")))
        xt, yt = test_df[list(FEATURES)], test_df[LABEL]
        dtest = dxgb.DaskQuantileDMatrix(client, xt, yt, ref=dtrain) if quantile else dxgb.DaskDMatrix(client, xt, yt)
        evals = [(dtest, EVAL_NAME)]
    load_s = time.time() - t0
    out = dxgb.train(client, booster_params(params, threads, dev), dtrain, rounds(params),
                     evals=evals, verbose_eval=False, callbacks=[clock(t0)])
    return answer(out["booster"], t0=t0, load_s=load_s, workers=len(workers), threads=threads, dev=dev,
                  api="xgboost.dask")


CASES = {"train": train}
DEFAULT_VARIANT = "quantile-dmatrix"
VARIANTS = {"dmatrix": {"train": partial(train, quantile=False)},
            "one-partition-per-worker": {"train": partial(train, partitions_per_worker=1)},
            "held-out-auc": {"train": partial(train, evaluate=True)}}
VARIANT_NOTES = {"dmatrix": "DaskDMatrix instead of DaskQuantileDMatrix",
                 "one-partition-per-worker": "the training rows repartitioned to one partition per worker",
                 "held-out-auc": "the held-out rows' AUC evaluated after every round inside the training "
                                 "(evals=[(test, 'test')], eval_metric auc, all-reduced across the workers)"}
NOTES = {"train": "dd.read_parquet (persisted) -> xgboost.dask.DaskQuantileDMatrix -> xgboost.dask.train, one "
                  "XGBoost worker per Dask worker"}
