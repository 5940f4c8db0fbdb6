"""local: plain `xgboost.train` in one process, `nthread` = the budget's CPUs: the baseline every engine is
compared to, and what the check's reference is trained with.

The parquet files are read with pyarrow into one float32 array and handed to a `QuantileDMatrix` (the hist
method's own input: quantile sketches built while the data is read in, without a second copy; the test rows
use the training sketch as `ref`), as XGBoost's docs recommend for `tree_method="hist"`. The plain `DMatrix`
is the `dmatrix` variant.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from enginebench import EngineContext, Params
from enginebench.workloads.gbdt.data import read_numpy
from enginebench.workloads.gbdt.model import (
    EVAL_NAME,
    answer,
    booster_params,
    clock,
    device,
    rounds,
    shuffle_labels,
    trained_on,
)


def _dropped_shard(x: np.ndarray, y: np.ndarray, cpus: int) -> tuple[np.ndarray, np.ndarray]:
    """The `drop-shard` plant in one process: the rows a last worker of `cpus` would hold are left out."""
    keep = len(y) - len(y) // max(2, cpus)
    return x[:keep], y[:keep]


def fit(params: Params, folder: Path, nthread: int, t0: float, quantile: bool = True,
        evaluate: bool = False) -> tuple[Any, float]:
    """(booster, load seconds): read the table, train `rounds` rounds; evaluate: the held-out AUC after each
    round as well (the `held-out-auc` variant; the test rows are only read for it)."""
    import xgboost

    dev = device(params, _gpus(), "this process")
    x, y = read_numpy(folder, "train")
    if params.get("plant") == "drop-shard":
        x, y = _dropped_shard(x, y, nthread)
    if params.get("plant") == "shuffle-labels":
        y = shuffle_labels(y, params["seed"])
    if quantile:
        dtrain = xgboost.QuantileDMatrix(x, y, max_bin=params["max_bin"], nthread=nthread)
    else:
        dtrain = xgboost.DMatrix(x, y, nthread=nthread)
    evals = []
    if evaluate:
        xt, yt = read_numpy(folder, "test")
        dtest = (xgboost.QuantileDMatrix(xt, yt, ref=dtrain, nthread=nthread) if quantile
                 else xgboost.DMatrix(xt, yt, nthread=nthread))
        evals = [(dtest, EVAL_NAME)]
    load_s = time.time() - t0
    booster = xgboost.train(booster_params(params, nthread, dev), dtrain, rounds(params),
                            evals=evals, verbose_eval=False, callbacks=[clock(t0)])
    return booster, load_s


def _gpus() -> bool:
    """Whether this process sees a CUDA GPU (asked through torch, which the suite installs)."""
    import torch

    return bool(torch.cuda.is_available())


def train(ctx: EngineContext, params: Params, inputs: Any, quantile: bool = True,
          evaluate: bool = False) -> dict[str, Any]:
    t0 = time.time()
    booster, load_s = fit(params, inputs["folder"], ctx.cpus, t0, quantile, evaluate)
    return answer(booster, t0=t0, load_s=load_s, workers=1, threads=ctx.cpus, dev=trained_on(booster),
                  api="xgboost.train")


CASES = {"train": train}
DEFAULT_VARIANT = "quantile-dmatrix"
VARIANTS = {"dmatrix": {"train": partial(train, quantile=False)},
            "held-out-auc": {"train": partial(train, evaluate=True)}}
VARIANT_NOTES = {"dmatrix": "a plain DMatrix (the quantile sketch built from it afterwards) instead of QuantileDMatrix",
                 "held-out-auc": "the held-out rows' AUC evaluated after every round inside the training "
                                 "(evals=[(test, 'test')], eval_metric auc)"}
NOTES = {"train": "pyarrow -> numpy -> xgboost.QuantileDMatrix, xgboost.train(nthread = CPUs)"}
