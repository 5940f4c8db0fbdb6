"""The gbdt workload: the same XGBoost training on every engine, each through its first-party integration.

Case `train`: read a HIGGS-like table (data.py: parquet, written once under the data root, training and
held-out rows) and train one binary classifier, `tree_method="hist"`, with the same depth, learning rate,
rounds, bins, seed and CPU budget on every engine: Ray Train's `XGBoostTrainer` over Ray Data, `xgboost.dask`,
`xgboost.spark.SparkXGBClassifier`, Spark preparing the data for Ray Train (RayDP's idiom), and plain
`xgboost.train` in one process. Every engine evaluates XGBoost's AUC on the held-out rows after every
round inside the training (the same work everywhere); the curve the report draws is computed afterwards from
the returned model (`curve`), the same way for every engine.

Headline: `seconds`, the call's wall time from the parquet files on disk to the trained model of `rounds`
rounds in the driver (reading, workers and collective starting, quantile sketches, every round). Beside it,
MLPerf-style, `time_to_target_s`: from the call's start to the end of the first round whose held-out AUC
reaches the scale's target; `job_start_s` (from the call's start until the first round begins: data read,
workers started, DMatrix built; the job's start, apart from the engine's), `train_s` (the rounds only),
`rows_per_s` (training rows over the headline seconds) and `row_rounds_per_s` (rows x rounds over `train_s`).

The check reads the returned model itself (answers carry XGBoost's UBJSON bytes):
(1) it has `rounds` trees (training cut short, or an early stop, shows here);
(2) the rows it saw equal the table's training rows (model.rows_seen: the first tree's root cover; a dropped
    or duplicated partition shows here);
(3) its held-out AUC, computed here from the model's predictions on the test rows (scikit-learn's
    roc_auc_score, not the engine's own metric), lies within TOLERANCE of the *reference*: plain
    `xgboost.train` on the same table and parameters, trained once per run outside every engine's timers;
    different workers sketch different quantiles, so a correct distributed model differs a little
    (measured: docs/workloads/gbdt.md);
(4) it reaches the scale's target AUC, and every round was recorded.
tests/test_gbdt.py plants a bug in every engine's real path (one worker's shard dropped, the labels
shuffled, the rounds cut to half) and expects `wrong` with the reason naming it.
"""

from __future__ import annotations

import hashlib
import math
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from enginebench import Case, Metric, Params, Timed, Verdict, Workload, median_run

#: Allowed distance of an engine's held-out AUC from the local reference's (absolute).
TOLERANCE = 0.005

_COMMON = {"seed": 0, "max_depth": 6, "eta": 0.1, "max_bin": 256, "min_child_weight": 1.0, "device": "auto"}
PARAMS: dict[str, dict[str, Any]] = {
    # tiny: seconds per engine on 2 CPUs (what the tests run); target_auc below what the reference reaches by
    # about a third of the rounds, so time to target and the full rounds differ.
    "tiny": {**_COMMON, "n_train": 100_000, "n_test": 20_000, "rounds": 100, "target_auc": 0.83},
    "small": {**_COMMON, "n_train": 1_000_000, "n_test": 100_000, "rounds": 200, "target_auc": 0.84},
    "medium": {**_COMMON, "n_train": 10_000_000, "n_test": 500_000, "rounds": 300, "max_depth": 8,
               "target_auc": 0.845},
    "large": {**_COMMON, "n_train": 40_000_000, "n_test": 1_000_000, "rounds": 500, "max_depth": 8,
              "target_auc": 0.845},
}


def prepare(params: Params) -> dict[str, Any]:
    """The table (written on first use) and its held-out rows as arrays, for the check."""
    from enginebench.workloads.gbdt import data

    folder = data.ensure(params["n_train"], params["n_test"], params["seed"])
    test_x, test_y = data.read_numpy(folder, "test")
    return {"folder": folder, "meta": data.meta(folder), "test_x": test_x, "test_y": test_y}


def held_out_auc(raw_model: bytes, inputs: dict[str, Any]) -> float:
    """A model's AUC on the held-out rows, from its own predictions."""
    import xgboost
    from sklearn.metrics import roc_auc_score

    from enginebench.workloads.gbdt.model import load_booster

    booster = load_booster(raw_model)
    booster.set_param({"device": "cpu", "nthread": os.cpu_count() or 1})
    test = xgboost.DMatrix(inputs["test_x"], feature_names=booster.feature_names)
    return float(roc_auc_score(inputs["test_y"], booster.predict(test)))


def reference(params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Plain xgboost.train on the same table and parameters (never with a planted bug, on the CPU): its
    held-out AUC and trees."""
    from enginebench.workloads.gbdt.local import fit

    clean = {**params, "plant": "", "device": "cpu"}
    booster, _ = fit(clean, inputs["folder"], os.cpu_count() or 1, time.time())
    return {"auc": held_out_auc(bytes(booster.save_raw("ubj")), inputs), "trees": booster.num_boosted_rounds(),
            "bayes_auc": inputs["meta"]["bayes_auc"]}


def check(answer: Any, params: Params, inputs: Any, ref: Any) -> Verdict:
    """The model's trees, the rows it saw, its held-out AUC against the reference's and the target."""
    from enginebench.workloads.gbdt.model import load_booster, rows_seen

    booster = load_booster(answer["model"])
    trees, want = booster.num_boosted_rounds(), int(params["rounds"])
    if trees != want:
        return Verdict(False, f"the model has {trees} trees, expected {want} (one per round): training stopped "
                              "before the last round")
    rows, n = rows_seen(booster), int(params["n_train"])
    if abs(rows - n) > max(1.0, n * 1e-4):
        what = "rows were lost (a partition or a worker's shard dropped)" if rows < n else \
            "rows were trained on twice (a partition duplicated)"
        return Verdict(False, f"the model saw {rows:,.0f} training rows, the table has {n:,}: {what}")
    if len(answer["history"]) != want:
        return Verdict(False, f"{len(answer['history'])} rounds recorded, expected {want}")
    auc = held_out_auc(answer["model"], inputs)
    if abs(auc - ref["auc"]) > TOLERANCE:
        return Verdict(False, f"held-out AUC {auc:.4f} is {abs(auc - ref['auc']):.4f} from the local reference's "
                              f"{ref['auc']:.4f} under the same parameters (allowed {TOLERANCE}): the model does not "
                              "learn what the labels say")
    if auc < params["target_auc"]:
        return Verdict(False, f"held-out AUC {auc:.4f} below the scale's target {params['target_auc']}")
    return Verdict(True)


#: Curves computed in this process, by (the model's sha256, the held-out rows): `summarize` computes each
#: repetition's and `series` reads the median one's again (a curve takes seconds at small). The model's bytes
#: hold its round times, so the digest fixes the whole curve. Only digests and points are kept.
_CURVES: dict[tuple[bytes, int], list[list[float]]] = {}


def curve(answer: dict[str, Any], inputs: dict[str, Any]) -> list[list[float]]:
    """[seconds since the call's start at the end of round k, held-out AUC of the model after round k]: the
    times from the clock inside the training, the AUC computed here from the returned model
    (model.auc_by_round), the same way for every engine."""
    from enginebench.workloads.gbdt.model import auc_by_round

    key = (hashlib.sha256(answer["model"]).digest(), id(inputs["test_y"]))
    if key not in _CURVES:
        if len(_CURVES) >= 64:
            _CURVES.clear()
        times = answer["history"]
        _CURVES[key] = [[round(times[k - 1][0], 3), round(auc, 5)]
                        for k, auc in auc_by_round(answer["model"], inputs["test_x"], inputs["test_y"])]
    return [list(point) for point in _CURVES[key]]


def time_to_target(points: Sequence[Sequence[float]], target: float) -> float | None:
    """Seconds from the call's start to the end of the first round whose held-out AUC reaches `target`."""
    return next((float(t) for t, auc in points if auc >= target), None)


def summarize(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    """Medians over the timed repetitions."""
    answers = [t.answer for t in timed]
    curves = [curve(a, inputs) for a in answers]
    seconds = statistics.median(t.seconds for t in timed)
    train_s = statistics.median(a["history"][-1][0] - a["job_start_s"] for a in answers)
    out = {"seconds": seconds, "rows_per_s": params["n_train"] / seconds,
           "job_start_s": statistics.median(a["job_start_s"] for a in answers),
           "load_s": statistics.median(a["load_s"] for a in answers), "train_s": train_s,
           "row_rounds_per_s": params["n_train"] * params["rounds"] / train_s,
           "final_auc": statistics.median(c[-1][1] for c in curves),
           "workers": float(answers[0]["workers"])}
    reached = [time_to_target(c, params["target_auc"]) for c in curves]
    if all(r is not None for r in reached):
        out["time_to_target_s"] = statistics.median(r for r in reached if r is not None)
    return out


def series(params: Params, inputs: Any, timed: Sequence[Timed]) -> dict[str, list[list[float]]]:
    """Held-out AUC after each round against seconds since the call's start (the median repetition)."""
    return {"held_out_auc": curve(median_run(timed).answer, inputs)}


def notes(params: Params, inputs: Any, timed: Sequence[Timed]) -> dict[str, Any]:
    """How the engine trained, and, where it evaluated the held-out rows inside the training (the `held-out-auc`
    variants), the final AUC XGBoost's own eval metric reported (distributed: as the engine's workers computed
    it; the curve and the check use the model's)."""
    a = median_run(timed).answer
    last = a["history"][-1][1] if a["history"] else math.nan
    return {"api": a["api"], "device": a["device"], "workers": a["workers"], "threads_per_worker":
            a["threads_per_worker"], "bayes_auc": round(inputs["meta"]["bayes_auc"], 4),
            "eval_metric_final_auc": None if math.isnan(last) else round(last, 5)}


WORKLOAD = Workload(
    name="gbdt",
    title="Gradient-boosted trees (XGBoost, a HIGGS-like table)",
    category="tabular training",
    package=__package__,
    cases=(
        Case(
            name="train",
            description="XGBoost hist training of one binary classifier, the same parameters on every engine",
            params=PARAMS,
            primary=Metric("seconds", "s", False),
            size_param="n_train",
            size_unit="training row",
            make_inputs=prepare,
            reference=reference,
            check=check,
            summarize=summarize,
            series=series,
            notes=notes,
            timeout_s={"tiny": 300, "small": 900, "medium": 3600, "large": 4 * 3600},
        ),
    ),
)
