"""What every engine's gbdt path shares: the booster parameters, the clock callback that records each
round inside the training (on whichever worker trains), the planted bugs, and the answer.

The answer carries the trained model itself (XGBoost's UBJSON bytes), so the check reads the trees, the
rows the model saw and the held-out AUC from the model, not from what the engine path says about it.

Rows seen, from the model: at round 0 every row has the same prediction (the model's `base_score`, a
probability p0), so every row's hessian under the logistic loss is p0 (1 - p0), and the root of the first
tree covers (sums the hessians of) every training row the workers held, all-reduced across workers.
rows = root cover / (p0 (1 - p0)). A dropped or duplicated partition changes it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from enginebench import Params, use_gpu
from enginebench.workloads.gbdt.data import LABEL

#: Booster attribute the clock writes its per-round record into (saved with the model).
HISTORY_ATTR = "enginebench_history"
#: planted bugs (tests only): one worker's shard dropped, the training labels shuffled, training stopped at half
#: the rounds
PLANTS = ("drop-shard", "shuffle-labels", "short-rounds")


def has_cuda_build() -> bool:
    """Whether the installed XGBoost was built with CUDA (the `xgboost-cpu` wheel is not)."""
    import xgboost

    return bool(xgboost.build_info().get("USE_CUDA"))


def device(params: Params, gpus_visible: bool, where: str) -> str:
    """The device XGBoost trains on ("cuda" or "cpu") for a case's `device` parameter; --device cuda with no
    GPU, or with the CPU-only XGBoost build, is one line, never a silent fall-back."""
    if params.get("device") == "cuda" and gpus_visible and not has_cuda_build():
        raise RuntimeError("--device cuda, but the installed XGBoost is the CPU-only build (xgboost-cpu); "
                           "accepted: --device cpu, or `pip install xgboost==<same version>` for CUDA")
    return "cuda" if use_gpu(params, gpus_visible and has_cuda_build(), where) else "cpu"


#: The name every engine gives the held-out rows when it evaluates them inside the training (the `held-out-auc`
#: variants; xgboost.spark names them "validation" itself).
EVAL_NAME = "test"


def booster_params(params: Params, nthread: int, dev: str = "cpu") -> dict[str, Any]:
    """The one set of XGBoost parameters every engine trains with (rounds apart: `rounds`). `eval_metric` is
    only computed where an engine evaluates a set inside the training (the `held-out-auc` variants)."""
    return {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist", "device": dev,
            "max_depth": params["max_depth"], "eta": params["eta"], "max_bin": params["max_bin"],
            "min_child_weight": params["min_child_weight"], "seed": params["seed"], "nthread": nthread}


def rounds(params: Params) -> int:
    """Boosting rounds to run; the `short-rounds` plant stops at half."""
    return int(params["rounds"]) // (2 if params.get("plant") == "short-rounds" else 1)


def shuffle_labels(labels: np.ndarray, seed: int) -> np.ndarray:
    """The `shuffle-labels` plant: the labels of a partition permuted, so they no longer match the rows."""
    return np.random.default_rng(seed).permutation(labels)


def plant_frame(df: Any, params: Params, part: int = 0) -> Any:
    """A pandas partition with the `shuffle-labels` plant applied when it is planted (else unchanged)."""
    if params.get("plant") != "shuffle-labels":
        return df
    return df.assign(**{LABEL: shuffle_labels(df[LABEL].to_numpy(), params["seed"] * 7919 + part)})


def clock(t0: float, eval_name: str = EVAL_NAME) -> Any:
    """An XGBoost callback that records, on the worker that trains, when training began and when each round
    ended with the AUC of the eval set named `eval_name` (NaN when the training evaluates no such set: the
    defaults evaluate nothing inside the training), as seconds since `t0` (the call's start, time.time());
    written into the booster's attributes at the end, so it travels home with the model. The set is picked by
    name: xgboost.spark evaluates its training rows first."""
    import xgboost

    class Clock(xgboost.callback.TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.began = 0.0
            self.rounds: list[list[float]] = []

        def before_training(self, model: Any) -> Any:
            self.began = time.time() - t0
            return model

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            auc = float((evals_log.get(eval_name) or {}).get("auc", [float("nan")])[-1])
            self.rounds.append([round(time.time() - t0, 4), auc])
            return False

        def after_training(self, model: Any) -> Any:
            model.set_attr(**{HISTORY_ATTR: json.dumps({"began": round(self.began, 4), "rounds": self.rounds})})
            return model

    return Clock()


def answer(booster: Any, *, t0: float, load_s: float, workers: int, threads: int, dev: str,
           api: str) -> dict[str, Any]:
    """An engine path's answer: the model (UBJSON bytes) and its per-round record, the seconds the call spent
    loading the data (`load_s`), the layout it trained with."""
    history = json.loads(booster.attr(HISTORY_ATTR) or '{"began": null, "rounds": []}')
    return {"model": bytes(booster.save_raw("ubj")), "history": history["rounds"], "job_start_s": history["began"],
            "load_s": load_s, "seconds": time.time() - t0, "workers": workers, "threads_per_worker": threads,
            "device": dev, "api": api}


def trained_on(booster: Any) -> str:
    """The device a booster was trained on, from its saved configuration."""
    return str(json.loads(booster.save_config())["learner"]["generic_param"].get("device", "cpu"))


def load_booster(raw: bytes) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return booster


def base_score(booster: Any) -> float:
    """The model's starting prediction, a probability (XGBoost estimates it from the training labels)."""
    config = json.loads(booster.save_config())["learner"]["learner_model_param"]
    return float(str(config["base_score"]).strip("[]"))


def rows_seen(booster: Any) -> float:
    """Training rows the model saw: the first tree's root cover over one row's hessian at round 0."""
    p0 = base_score(booster)
    root = json.loads(booster.get_dump(dump_format="json", with_stats=True)[0])
    return float(root["cover"]) / (p0 * (1.0 - p0))


#: The most rounds a held-out AUC curve is computed at (evenly spaced, the last round always among them).
CURVE_POINTS = 200


def auc_by_round(raw: bytes, x: np.ndarray, y: np.ndarray, points: int = CURVE_POINTS) -> list[tuple[int, float]]:
    """(round, held-out AUC of the model after that round), from the model itself: each tree's margin on the
    held-out rows once (`iteration_range`), summed round by round. The same computation for every engine, after
    the call: no engine evaluates anything inside its training by default, so every engine does the same
    training work (xgboost.spark cannot evaluate held-out rows without its training rows as well)."""
    import xgboost
    from sklearn.metrics import roc_auc_score

    booster = load_booster(raw)
    booster.set_param({"device": "cpu"})
    data = xgboost.DMatrix(x, feature_names=booster.feature_names)
    n = booster.num_boosted_rounds()
    p0 = base_score(booster)
    base = np.log(p0 / (1.0 - p0))  # every tree's margin includes the model's base margin once
    wanted = set(np.unique(np.linspace(1, n, min(n, points)).round().astype(int)).tolist())
    margin, out = np.zeros(len(y)), []
    for k in range(n):
        margin += booster.predict(data, output_margin=True, iteration_range=(k, k + 1)) - base
        if k + 1 in wanted:
            out.append((k + 1, float(roc_auc_score(y, margin))))
    return out
