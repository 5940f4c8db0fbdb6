"""The tune workload: the same hyperparameter search on every engine, early-stopped by one halving rule.

Case `search`: K configurations drawn once from the scale's seed (learning rate and weight decay
log-uniform, momentum uniform, the width of the cnn workload's small net from {0.5, 1, 2}), each
trained by `trial.curve` (one thread, the seed's initial weights, test accuracy after every epoch),
scheduled by asynchronous successive halving (`asha.py`: rungs at min_epochs x 3^k, reduction
factor 3, at most max_epochs), with as many trials at once as the budget has CPUs (one CPU each).
Every engine runs it in its own idiom: Ray Tune's `Tuner` + `ASHAScheduler`; Optuna with the same
rule as a pruner on Dask (futures per trial, the study in `DaskStorage`), on Spark (a Spark task per
trial, the study behind a gRPC storage proxy in the driver) and in one process (local).

Headline: the search's wall time, from the call to the last trial's end. Beside it: time to the best
trial (when the trial with the best final accuracy reported it), trials per minute, epochs trained
(the full grid is K x max_epochs: what early stopping saved), `busy_share` (the trials' own training
seconds over wall time x CPUs: what the engine left of the budget to the work), the best accuracy,
and the trials stopped; the per-trial curves (accuracy against seconds since the search began) are
the record's series.

The check, and why: (1) every configuration started, once; (2) each trial reported epochs 1, 2, ...
in order, and each accuracy equals the reference's for that configuration and epoch exactly (one
thread, the same seed and code: training is bit-identical from process to process, so there is no
tolerance; the reference trains every configuration to max_epochs in the inputs phase, in parallel
processes, and is cached under the data root by a hash of the inputs, torch's version and the
training code); (3) every decision the scheduler made follows the halving rule given the
results it held, it held every result recorded before it read the rung, and every trial obeyed
(`asha.replay`); (4) the best trial reaches the scale's target accuracy. tests/test_tune.py plants a
trial that reports the wrong epoch and a trial that never stops, on every engine, and expects `wrong`.
This module imports neither torch nor numpy at import time.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from enginebench import Case, Metric, Params, Timed, Verdict, Workload, median_run

#: The search space (drawn once per scale from its seed; `configs`).
SPACE = {"lr": (1e-3, 0.3), "momentum": (0.5, 0.99), "weight_decay": (1e-5, 1e-2), "width": (0.5, 1.0, 2.0)}

_COMMON = {"seed": 0, "eta": 3, "min_epochs": 1, "batch": 64}
PARAMS: dict[str, dict[str, Any]] = {
    # tiny: 9 trials, rungs at 1 and 3 epochs, 9 at most: seconds per engine on 2 CPUs (what the tests run).
    "tiny": {**_COMMON, "data": "synthetic", "n_train": 1024, "n_test": 512, "trials": 9, "max_epochs": 9,
             "target_accuracy": 0.8},
    # small: 27 trials, rungs at 1, 3 and 9, 27 at most.
    "small": {**_COMMON, "data": "synthetic", "n_train": 2048, "n_test": 1024, "trials": 27, "max_epochs": 27,
              "target_accuracy": 0.9},
    # medium and large: the real CIFAR-10 (`enginebench data cifar10`); targets not yet measured here.
    "medium": {**_COMMON, "data": "cifar10", "n_train": 10000, "n_test": 2000, "trials": 81, "max_epochs": 27,
               "target_accuracy": 0.4},
    "large": {**_COMMON, "data": "cifar10", "n_train": 50000, "n_test": 10000, "trials": 243, "max_epochs": 27,
              "target_accuracy": 0.5},
}


def configs(params: Params) -> list[dict[str, Any]]:
    """The K configurations of a scale, from its seed: the same list for every engine and run."""
    import numpy as np

    rng = np.random.default_rng([params["seed"], 16])
    out = []
    for i in range(int(params["trials"])):
        (lr_lo, lr_hi), (m_lo, m_hi), (wd_lo, wd_hi) = SPACE["lr"], SPACE["momentum"], SPACE["weight_decay"]
        out.append({"id": i,
                    "lr": float(np.exp(rng.uniform(np.log(lr_lo), np.log(lr_hi)))),
                    "momentum": float(rng.uniform(m_lo, m_hi)),
                    "weight_decay": float(np.exp(rng.uniform(np.log(wd_lo), np.log(wd_hi)))),
                    "width": float(rng.choice(SPACE["width"]))})
    return out


def prepare(params: Params) -> dict[str, Any]:
    """The configurations and the data every trial trains on (uint8 rows as stored; each trial's
    process normalizes them once)."""
    import hashlib

    from enginebench.workloads.cnn import data

    if params["data"] == "synthetic":
        ds = data.ensure_synthetic(params["n_train"], params["n_test"], params["seed"])
    else:
        ds = data.ensure_real()
    n, n_test = min(params["n_train"], len(ds.train_y)), min(params["n_test"], len(ds.test_y))
    arrays = {"train_x": ds.train_x[:n], "train_y": ds.train_y[:n], "test_x": ds.test_x[:n_test],
              "test_y": ds.test_y[:n_test]}
    key = hashlib.sha256(b"".join(a.tobytes() for a in arrays.values())).hexdigest()[:16]
    return {"configs": configs(params), "data": {"key": key, **arrays}, "source": ds.source}


def _reference_curve(config: dict[str, Any], data: dict[str, Any], params: dict[str, Any]) -> list[float]:
    from enginebench.workloads.tune.trial import curve

    return [accuracy for _, accuracy, _ in curve(config, data, params)]


def _reference_file(params: dict[str, Any], inputs: dict[str, Any]) -> Path:
    """Where the reference curves of these inputs are cached: named by a hash of everything they
    depend on (parameters, configurations, data, torch's version and the training code's source), so
    a change to any of them computes them anew."""
    import hashlib
    import importlib.metadata
    import json

    from enginebench import data_root
    from enginebench.workloads.cnn import model
    from enginebench.workloads.tune import trial

    sources = [Path(m.__file__ or "").read_bytes() for m in (trial, model)]
    key = json.dumps({"params": params, "configs": inputs["configs"], "data": inputs["data"]["key"],
                      "torch": importlib.metadata.version("torch")}, sort_keys=True).encode()
    name = hashlib.sha256(b"".join([key, *sources])).hexdigest()[:16]
    return data_root() / "tune" / f"reference-{name}.json"


def reference(params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Every configuration trained to max_epochs (one thread each, in parallel processes: outside
    every engine's timers), or the curves cached by an earlier run of the same inputs and code. The
    curves stay in `inputs` for `check`; the record notes get a summary."""
    import json
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from enginebench import atomic_write_text

    plain = {k: v for k, v in params.items() if k != "plant"}
    cfgs = inputs["configs"]
    cache = _reference_file(plain, inputs)
    if cache.exists():
        curves = json.loads(cache.read_text())["curves"]
    else:
        workers = max(1, min(len(cfgs), os.cpu_count() or 1))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            curves = list(pool.map(_reference_curve, cfgs, [inputs["data"]] * len(cfgs), [plain] * len(cfgs)))
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache, json.dumps({"params": plain, "curves": curves}))
    inputs["reference_curves"] = curves
    finals = [c[-1] for c in curves]
    best = max(range(len(finals)), key=finals.__getitem__)
    return {"best_config": best, "best_accuracy": finals[best], "configs": len(cfgs),
            "reaching_target": sum(f >= params["target_accuracy"] for f in finals)}


def check(answer: dict[str, Any], params: Params, inputs: dict[str, Any], ref: Any) -> Verdict:
    from enginebench.workloads.tune import asha

    trials: dict[int, dict[str, Any]] = answer["trials"]
    k = len(inputs["configs"])
    missing = sorted(set(range(k)) - set(trials))
    if missing:
        return Verdict(False, f"{len(missing)} of {k} configurations never started (ids {missing[:8]})")
    extra = sorted(set(trials) - set(range(k)))
    if extra:
        return Verdict(False, f"trials with ids outside the {k} configurations: {extra[:8]}")
    curves = inputs["reference_curves"]
    for tid, trial in sorted(trials.items()):
        epochs = [int(h[0]) for h in trial["history"]]
        if epochs != list(range(1, len(epochs) + 1)) or not epochs:
            return Verdict(False, f"trial {tid} reported epochs {epochs[:6]}, expected 1, 2, 3, ...")
        if len(epochs) > params["max_epochs"]:
            return Verdict(False, f"trial {tid} trained {len(epochs)} epochs, the maximum is {params['max_epochs']}")
        for epoch, accuracy, *_ in trial["history"]:
            expected = curves[tid][int(epoch) - 1]
            if accuracy != expected:
                return Verdict(False, f"trial {tid} at epoch {int(epoch)}: accuracy {accuracy:.4f}, the reference "
                                      f"run of that configuration has {expected:.4f} (they must be identical)")
    problem = asha.replay({tid: t["history"] for tid, t in trials.items()}, answer["decisions"],
                          params["min_epochs"], params["max_epochs"], params["eta"])
    if problem:
        return Verdict(False, problem)
    best = max(t["history"][-1][1] for t in trials.values())
    if best < params["target_accuracy"]:
        return Verdict(False, f"the best trial reached {best:.4f}, the target is {params['target_accuracy']}")
    return Verdict(True)


def _best(answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The trial with the best final accuracy (the earlier to report it on a tie)."""
    return min(answer["trials"].items(), key=lambda kv: (-kv[1]["history"][-1][1], kv[1]["history"][-1][2]))


def _summary(params: Params, run: Timed, cpus: int) -> dict[str, float]:
    a = run.answer
    trials = a["trials"].values()
    epochs = sum(len(t["history"]) for t in trials)
    _, best = _best(a)
    return {"search_s": run.seconds, "time_to_best_s": best["history"][-1][2],
            "trials_per_min": len(a["trials"]) * 60.0 / run.seconds, "epochs": float(epochs),
            "epochs_saved": 1.0 - epochs / (len(a["trials"]) * params["max_epochs"]),
            "s_per_epoch": run.seconds / epochs,  # the search time per unit of work: engines train different epochs
            "busy_share": sum(t["busy_s"] for t in trials) / (run.seconds * cpus),
            "best_accuracy": best["history"][-1][1],
            # the job's start: until the first trial's first epoch began (its report, less its busy time)
            **({"job_start_s": min(t["history"][0][2] - t["history"][0][3] for t in trials)}
               if all(len(t["history"][0]) > 3 for t in trials) else {}),
            "stopped": float(sum(len(t["history"]) < params["max_epochs"] for t in trials))}


def summarize(params: Params, inputs: dict[str, Any], runs: Sequence[Timed], cpus: int) -> dict[str, float]:
    each = [_summary(params, r, cpus) for r in runs]
    return {name: statistics.median(s[name] for s in each) for name in each[0]}


def series(params: Params, inputs: dict[str, Any], runs: Sequence[Timed]) -> dict[str, list[list[float]]]:
    """Each trial's test accuracy against seconds since the search began (the median repetition),
    one curve per configuration: `accuracy/trial 07` (the report draws one panel per engine)."""
    width = len(str(len(inputs["configs"]) - 1))
    return {f"accuracy/trial {tid:0{width}d}": [[round(h[2], 3), h[1]] for h in t["history"]]
            for tid, t in sorted(median_run(runs).answer["trials"].items())}


def notes(params: Params, inputs: dict[str, Any], runs: Sequence[Timed]) -> dict[str, Any]:
    from enginebench.workloads.tune import asha

    a = median_run(runs).answer
    tid, best = _best(a)
    rungs = asha.rungs(params["min_epochs"], params["max_epochs"], params["eta"])
    stopped_at = {str(e): sum(1 for t in a["trials"].values() if len(t["history"]) == e) for e in rungs}
    return {"scheduler": a["scheduler"], "data": inputs["source"], "best_config": {**inputs["configs"][tid]},
            "best_epochs": len(best["history"]), "stopped_at_rung": stopped_at,
            "schedule": f"{params['trials']} trials, rungs at {rungs} epochs, "
                        f"reduction factor {params['eta']}, at most {params['max_epochs']} epochs"}


WORKLOAD = Workload(
    name="tune",
    title="Hyperparameter search (one CNN, K configurations, asynchronous successive halving)",
    category="hyperparameter search",
    package=__package__,
    cases=(
        Case(
            name="search",
            description="K configurations of the small CIFAR-10 net, one CPU each, as many at once as the budget "
                        "has CPUs, stopped early by asynchronous successive halving (reduction factor 3)",
            params=PARAMS,
            primary=Metric("search_s", "s", False),
            work="epochs",
            size_param="trials",
            size_unit="trial",
            make_inputs=prepare,
            reference=reference,
            check=check,
            summarize=summarize,
            series=series,
            notes=notes,
            timeout_s={"tiny": 240, "small": 900, "medium": 3600, "large": 4 * 3600},
        ),
    ),
)
