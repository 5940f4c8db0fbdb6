"""ray: Ray Tune. A function trainable (`trial.run`, `tune.report` after each epoch) with one CPU per
trial (`tune.with_resources`), the data put in the object store once (`tune.with_parameters`), the K
configurations as a `grid_search` over the list (every one exactly once, in order), `ASHAScheduler`
(one bracket, grace period min_epochs, max_t max_epochs, reduction factor 3) and
`max_concurrent_trials` = the budget's CPUs. `reuse_actors=True`: the trials are short and alike, and
Tune's docs recommend it when actors start and stop often (each trial still runs in a fresh thread
with a fresh model; only the process is kept). Results go to a temporary `storage_path`, removed
afterwards.

The answer comes from two independent sides, so the check can hold one against the other:

* `trials` (histories and busy seconds) from the trials themselves: each trial, in its own worker
  process, records every epoch it reports (just before `tune.report`) to a small recorder actor made
  for this search (`_TrialRecords`, no CPU, its handle passed through `tune.with_parameters`, killed
  afterwards; an actor rather than a file, so it works on a cluster without a shared file system);
* `decisions` from the scheduler: `ASHAScheduler` itself, subclassed only to write down what it was
  given and what it answered (in the controller's order: the controller decides one result at a time).

Were both built from the scheduler's log, a result the trial reported that the scheduler never saw,
or saw with another value, could not show: `asha.replay` compares each decision's accuracy with the
trial's own report and requires a decision at every rung a trial passed. The planted bugs:
"never-stop" answers CONTINUE where ASHA said STOP; "scheduler-misread" has the scheduler read (and
decide on) half the accuracy trial 0 reported at the first rung; "scheduler-skip" has it let all of
trial 0's results through without deciding or logging them. (Dropping only trial 0's first-rung result
would not do: ASHA decides a rung at the first result at or past it, so it would decide it one epoch
late, and the replay would fault a later trial's decision instead.)

Variants (`enginebench variants`): `new-actors` (Tune's default reuse_actors=False), `no-auto-loggers`,
and the trial resources Tune's parallelism guide offers: `half-cpu-trials` ({"cpu": 0.5}, twice as many
trials at once, each still training on one torch thread) and `unbounded-concurrency` (no
max_concurrent_trials: the CPUs alone bound the trials at once, Tune's default).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time
from functools import partial
from typing import Any
from unittest import mock

from enginebench import EngineContext, Params
from enginebench.workloads.tune import asha

#: Scheduler logs by search token: Tune's controller runs in the driver, in this process.
_LOGS: dict[str, list[dict[str, Any]]] = {}
_TOKENS = itertools.count()

#: Bugs planted in this engine's scheduler only (tests/test_tune.py), beside `trial.PLANTS`.
SCHEDULER_PLANTS = ("scheduler-misread", "scheduler-skip")


class _TrialRecords:
    """What the trials reported, as they reported it: one per search, run as a Ray actor with no
    CPU (wherever the cluster puts it); each trial calls `add` (and waits for it) before reporting."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        self._records.append(record)

    def records(self) -> list[dict[str, Any]]:
        return self._records


def _scheduler(params: Params, token: str) -> Any:
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    plant = params.get("plant", "")
    never_stop = plant == "never-stop"

    class LoggedASHA(ASHAScheduler):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
            if plant == "scheduler-skip" and result["id"] == 0:
                return str(TrialScheduler.CONTINUE)  # planted: trial 0's results are neither decided nor logged
            first_rung = result["training_iteration"] == params["min_epochs"]
            if plant == "scheduler-misread" and result["id"] == 0 and first_rung:
                result = {**result, "accuracy": result["accuracy"] / 2}  # planted: decides on a wrong value
            action = super().on_trial_result(tune_controller, trial, result)
            _LOGS[token].append({"id": result["id"], "iteration": result["training_iteration"],
                                 "accuracy": result["accuracy"], "stop": action == TrialScheduler.STOP})
            if never_stop and action == TrialScheduler.STOP and result["training_iteration"] < params["max_epochs"]:
                return str(TrialScheduler.CONTINUE)  # planted: the trial trains on
            return str(action)

    return LoggedASHA(time_attr="training_iteration", metric="accuracy", mode="max", max_t=params["max_epochs"],
                      grace_period=params["min_epochs"], reduction_factor=params["eta"], brackets=1)


def _trainable(config: dict[str, Any], data: dict[str, Any], params: dict[str, Any], t0: float,
               recorder: Any) -> None:
    import ray
    from ray import tune

    from enginebench.workloads.tune import trial

    tid = config["config"]["id"]

    def report(epoch: int, accuracy: float, elapsed_s: float, busy_s: float) -> bool:
        record = {"id": tid, "epoch": epoch, "accuracy": accuracy, "elapsed_s": elapsed_s, "busy_s": busy_s}
        ray.get(recorder.add.remote(record))  # recorded before the scheduler can see it (or stop the trial)
        tune.report(record)
        return True

    trial.run(config["config"], data, params, t0, report)


def answer_from_log(log: list[dict[str, Any]], records: list[dict[str, Any]], params: Params,
                    scheduler: str) -> dict[str, Any]:
    """Histories from the trials' own records (in the order each trial reported them); decisions from
    the scheduler's log: at a rung, what ASHA held were the results it logged there before (its
    controller decides one result at a time, in this order), with the accuracy it saw."""
    rungs = set(asha.rungs(params["min_epochs"], params["max_epochs"], params["eta"]))
    trials: dict[int, dict[str, Any]] = {}
    for r in sorted(records, key=lambda r: r["id"]):  # stable: each trial's epochs stay in report order
        t = trials.setdefault(r["id"], {"id": r["id"], "history": [], "busy_s": 0.0})
        t["history"].append([r["epoch"], r["accuracy"], r["elapsed_s"], r["busy_s"]])
        t["busy_s"] = r["busy_s"]
    decisions: list[dict[str, Any]] = []
    recorded: dict[int, dict[int, float]] = {}
    for seq, r in enumerate(log):
        if r["iteration"] in rungs:
            at = recorded.setdefault(r["iteration"], {})
            decisions.append({"trial": r["id"], "epoch": r["iteration"], "accuracy": r["accuracy"],
                              "seen": {str(k): v for k, v in at.items()}, "stop": r["stop"], "read": seq,
                              "written": seq})
            at[r["id"]] = r["accuracy"]
    return {"trials": trials, "decisions": decisions, "scheduler": scheduler}


def search(ctx: EngineContext, params: Params, inputs: Any, reuse_actors: bool = True,
           auto_loggers: bool = True, trial_cpus: float = 1.0, trials_per_cpu: float | None = 1.0) -> dict[str, Any]:
    """`reuse_actors`, `auto_loggers` (Tune's default CSV, JSON and TensorBoard result loggers; off:
    TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1 for this call), `trial_cpus` (each trial's CPU request) and
    `trials_per_cpu` (max_concurrent_trials = that x the budget's CPUs; None: no limit but the CPUs) are
    what the variants change."""
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
    recorder: Any = None
    try:
        recorder = ray.remote(num_cpus=0)(_TrialRecords).remote()
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, data=inputs["data"], params=dict(params), t0=t0, recorder=recorder),
            {"cpu": trial_cpus})
        concurrent = None if trials_per_cpu is None else max(1, round(ctx.cpus * trials_per_cpu))
        tuner = tune.Tuner(
            trainable,
            param_space={"config": tune.grid_search(inputs["configs"])},
            tune_config=tune.TuneConfig(scheduler=_scheduler(params, token), max_concurrent_trials=concurrent,
                                        reuse_actors=reuse_actors),
            run_config=tune.RunConfig(storage_path=storage, name="search", verbose=0),
        )
        # Tune reads its switches from the driver's environment; patch.dict restores it after the call
        with mock.patch.dict(os.environ, {} if auto_loggers else {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}):
            grid = tuner.fit()
        errors = [str(grid[i].error) for i in range(len(grid)) if grid[i].error is not None]
        if errors:
            raise RuntimeError(f"{len(errors)} trials failed: {errors[0][:300]}")
        how = (f"{trial_cpus:g} CPU per trial, max_concurrent_trials {concurrent or 'unset'}"
               f"{', reuse_actors' if reuse_actors else ''}")
        return answer_from_log(_LOGS[token], ray.get(recorder.records.remote()), params,
                               f"Ray Tune Tuner + ASHAScheduler (one bracket), {how}")
    finally:
        _LOGS.pop(token, None)
        if recorder is not None:
            ray.kill(recorder)
        shutil.rmtree(storage, ignore_errors=True)


CASES = {"search": search}
DEFAULT_VARIANT = "reuse-actors"
VARIANTS = {"new-actors": {"search": partial(search, reuse_actors=False)},
            "no-auto-loggers": {"search": partial(search, auto_loggers=False)},
            "half-cpu-trials": {"search": partial(search, trial_cpus=0.5, trials_per_cpu=2.0)},
            "unbounded-concurrency": {"search": partial(search, trials_per_cpu=None)}}
VARIANT_NOTES = {"new-actors": "reuse_actors=False: a new trial actor (process) per trial, Tune's default",
                 "no-auto-loggers": "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1: no CSV, JSON or TensorBoard result "
                                    "files written by the driver",
                 "half-cpu-trials": "{\"cpu\": 0.5} per trial and max_concurrent_trials = 2 x CPUs: twice the trials "
                                    "at once, each still on one torch thread (busy_share counts their wall seconds, "
                                    "so it can pass 1)",
                 "unbounded-concurrency": "max_concurrent_trials unset (Tune's default): only the CPUs bound the "
                                          "trials at once; Tune requests the placement groups of up to 200 pending "
                                          "trials ahead of free CPUs"}
NOTES = {"search": "Ray Tune Tuner, function trainable with tune.report per epoch, ASHAScheduler, one CPU per trial, "
                   "max_concurrent_trials = CPUs, reuse_actors=True, data via tune.with_parameters, each trial's "
                   "reports also recorded trial-side (a recorder actor per search) for the check"}
