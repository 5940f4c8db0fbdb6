"""ray: Ray Tune. A function trainable (`trial.run`, `tune.report` after each epoch) with one CPU per
trial (`tune.with_resources`), the data put in the object store once (`tune.with_parameters`), the K
configurations as a `grid_search` over the list (every one exactly once, in order), `ASHAScheduler`
(one bracket, grace period min_epochs, max_t max_epochs, reduction factor 3) and
`max_concurrent_trials` = the budget's CPUs. `reuse_actors=True`: the trials are short and alike, and
Tune's docs recommend it when actors start and stop often (each trial still runs in a fresh thread
with a fresh model; only the process is kept). Results go to a temporary `storage_path`, removed
afterwards.

The scheduler is `ASHAScheduler` itself, subclassed only to write down what it was given and what it
answered (in the controller's order: the controller decides one result at a time), so the check can
replay the rule; the planted never-stop bug answers CONTINUE where ASHA said STOP.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from typing import Any

from harness.engines.base import EngineContext
from harness.spec import Params
from workloads.tune import asha

#: Scheduler logs by search token: Tune's controller runs in the driver, in this process.
_LOGS: dict[str, list[dict[str, Any]]] = {}
_TOKENS = itertools.count()


def _scheduler(params: Params, token: str) -> Any:
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    never_stop = params.get("plant", "") == "never-stop"

    class LoggedASHA(ASHAScheduler):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
            action = super().on_trial_result(tune_controller, trial, result)
            _LOGS[token].append({"id": result["id"], "iteration": result["training_iteration"],
                                 "epoch": result["epoch"], "accuracy": result["accuracy"],
                                 "elapsed_s": result["elapsed_s"], "busy_s": result["busy_s"],
                                 "stop": action == TrialScheduler.STOP})
            if never_stop and action == TrialScheduler.STOP and result["training_iteration"] < params["max_epochs"]:
                return str(TrialScheduler.CONTINUE)  # planted: the trial trains on
            return str(action)

    return LoggedASHA(time_attr="training_iteration", metric="accuracy", mode="max", max_t=params["max_epochs"],
                      grace_period=params["min_epochs"], reduction_factor=params["eta"], brackets=1)


def _trainable(config: dict[str, Any], data: dict[str, Any], params: dict[str, Any], t0: float) -> None:
    from ray import tune

    from workloads.tune import trial

    def report(epoch: int, accuracy: float, elapsed_s: float, busy_s: float) -> bool:
        tune.report({"id": config["config"]["id"], "epoch": epoch, "accuracy": accuracy, "elapsed_s": elapsed_s,
                     "busy_s": busy_s})
        return True

    trial.run(config["config"], data, params, t0, report)


def answer_from_log(log: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """Histories and decisions from the scheduler's log: at a rung, what ASHA held were the results
    recorded there before (its controller decides one result at a time, in this order)."""
    rungs = set(asha.rungs(params["min_epochs"], params["max_epochs"], params["eta"]))
    trials: dict[int, dict[str, Any]] = {}
    decisions: list[dict[str, Any]] = []
    recorded: dict[int, dict[str, float]] = {}
    for seq, r in enumerate(log):
        t = trials.setdefault(r["id"], {"id": r["id"], "history": [], "busy_s": 0.0})
        t["history"].append([r["epoch"], r["accuracy"], r["elapsed_s"]])
        t["busy_s"] = r["busy_s"]
        if r["iteration"] in rungs:
            at = recorded.setdefault(r["iteration"], {})
            decisions.append({"trial": r["id"], "epoch": r["iteration"], "accuracy": r["accuracy"],
                              "seen": {str(k): v for k, v in at.items()}, "stop": r["stop"], "read": seq,
                              "written": seq})
            at[r["id"]] = r["accuracy"]
    return {"trials": trials, "decisions": decisions,
            "scheduler": "Ray Tune Tuner + ASHAScheduler (one bracket), one CPU per trial, reuse_actors"}


def search(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    import ray
    from ray import tune

    if ray.util.client.ray.is_connected():
        raise RuntimeError("through Ray Client (a ray:// address) Tune's controller runs on the cluster, where this "
                           "driver cannot read its scheduler's decisions back: give --ray-address the GCS address "
                           "(host:6379) instead")
    t0 = time.time()
    token = f"search-{next(_TOKENS)}"
    _LOGS[token] = []
    storage = tempfile.mkdtemp(prefix="enginebench-tune-")
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, data=inputs["data"], params=dict(params), t0=t0), {"cpu": 1})
        tuner = tune.Tuner(
            trainable,
            param_space={"config": tune.grid_search(inputs["configs"])},
            tune_config=tune.TuneConfig(scheduler=_scheduler(params, token), max_concurrent_trials=ctx.cpus,
                                        reuse_actors=True),
            run_config=tune.RunConfig(storage_path=storage, name="search", verbose=0),
        )
        grid = tuner.fit()
        errors = [str(grid[i].error) for i in range(len(grid)) if grid[i].error is not None]
        if errors:
            raise RuntimeError(f"{len(errors)} trials failed: {errors[0][:300]}")
        return answer_from_log(_LOGS[token], params)
    finally:
        _LOGS.pop(token, None)
        shutil.rmtree(storage, ignore_errors=True)


CASES = {"search": search}
NOTES = {"search": "Ray Tune Tuner, function trainable with tune.report per epoch, ASHAScheduler, one CPU per trial, "
                   "max_concurrent_trials = CPUs, reuse_actors=True, data via tune.with_parameters"}
