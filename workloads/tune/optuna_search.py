"""The search as Optuna runs it (dask, spark, spark-on-ray and local): a study, the K configurations
enqueued in order, the halving rule as a pruner, and one objective that trains a trial.

Why Optuna: it is what Dask's and Spark's users reach for (Dask documents Optuna with `DaskStorage`;
for Spark, hyperopt's `SparkTrials` is unmaintained and scikit-learn's halving searches retrain from
scratch at each rung instead of stopping a running trial), and its storage-centred design lets trials
run wherever an engine puts them: each trial reads and writes the study through a storage every
process can reach.

Why `AshaPruner` and not Optuna's `SuccessiveHalvingPruner`: Optuna's keeps a trial only if it is in
the top 1/eta of *all* the results at a rung, itself included (with fewer than eta results only the
best goes on); Ray Tune's ASHA stops a trial below the (1 - 1/eta) percentile of the results
recorded *before* it. Same rungs, a stricter rule early on: different trials stopped, different work.
To compare engines on the same search, every engine applies Ray's rule (`asha.stops`); this pruner
is that rule in Optuna's pruner interface. Like Optuna's own pruners it records a trial's value at
the rung in the trial's system attributes, so concurrent trials see it, and it records what it held
when it decided (`asha:<epoch>`), which is how the check replays it.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import optuna

from enginebench.workloads.tune import asha, trial
from enginebench.workloads.tune.spec import SPACE

#: Optuna logs a line per trial at INFO; the harness reports the trials itself.
optuna.logging.set_verbosity(optuna.logging.WARNING)
#: DaskStorage and the gRPC storage proxy are marked experimental; the pinned versions are the ones tested.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

STUDY = "enginebench-tune"


class AshaPruner(optuna.pruners.BasePruner):
    """Ray Tune's ASHA rule (`asha.stops`) as an Optuna pruner, recording each decision in the study."""

    def __init__(self, min_epochs: int, max_epochs: int, eta: int) -> None:
        self.rungs = set(asha.rungs(min_epochs, max_epochs, eta))
        self.eta = eta

    def prune(self, study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> bool:
        epoch = frozen.last_step
        if epoch not in self.rungs:
            return False
        value = frozen.intermediate_values[epoch]
        key = f"asha:{epoch}"
        read = time.time()
        seen = {t.user_attrs["id"]: t.system_attrs[key]["accuracy"]
                for t in study.get_trials(deepcopy=False) if key in t.system_attrs and t.number != frozen.number}
        stop = asha.stops(value, list(seen.values()), self.eta)
        # Optuna's own pruners write to the storage this way (SuccessiveHalvingPruner records its rung value).
        decision = {"trial": frozen.user_attrs["id"], "epoch": epoch, "accuracy": value,
                    "seen": {str(k): v for k, v in seen.items()}, "stop": stop, "read": read}
        study._storage.set_trial_system_attr(frozen._trial_id, key, {**decision, "written": time.time()})
        return stop


def create_study(storage: Any, params: Any, configs: list[dict[str, Any]]) -> optuna.Study:
    """The study, with every configuration enqueued in order (trials take them first come, first served)."""
    study = optuna.create_study(study_name=STUDY, storage=storage, direction="maximize",
                                pruner=pruner(params), sampler=optuna.samplers.RandomSampler(seed=params["seed"]))
    for config in configs:
        study.enqueue_trial({k: config[k] for k in ("lr", "momentum", "weight_decay", "width")},
                            user_attrs={"id": config["id"]})
    return study


def pruner(params: Any) -> AshaPruner:
    return AshaPruner(params["min_epochs"], params["max_epochs"], params["eta"])


def objective(data: dict[str, Any], params: Any, t0: float, out: dict[int, Any]) -> Any:
    """Optuna's objective: one trial of `trial.run`, reporting each epoch and asking the pruner.
    The trial's history goes to `out` (by configuration id); a stopped trial raises TrialPruned."""
    never_stop = params.get("plant", "") == "never-stop"

    def run(t: optuna.Trial) -> float:
        if "id" not in t.user_attrs:  # the queue was empty when it asked: a loop lost the race for the last one
            t.study.stop()
            raise optuna.TrialPruned("no enqueued configuration was left")
        config = {"id": t.user_attrs["id"],
                  "lr": t.suggest_float("lr", *SPACE["lr"], log=True),
                  "momentum": t.suggest_float("momentum", *SPACE["momentum"]),
                  "weight_decay": t.suggest_float("weight_decay", *SPACE["weight_decay"], log=True),
                  "width": t.suggest_categorical("width", list(SPACE["width"]))}
        stopped = [False]

        def report(epoch: int, accuracy: float, elapsed_s: float, busy_s: float) -> bool:
            t.report(accuracy, epoch)
            if t.should_prune() and not never_stop:  # planted: trials train on after a stop
                stopped[0] = True
                return False
            return True

        result = trial.run(config, data, params, t0, report)
        out[config["id"]] = result
        if stopped[0]:
            raise optuna.TrialPruned()
        return float(result["history"][-1][1])

    return run


def one_trial(study: optuna.Study, data: dict[str, Any], params: Any, t0: float) -> dict[str, Any]:
    """Run the next enqueued configuration of `study` to its end (or its stop); its history."""
    out: dict[int, Any] = {}
    study.optimize(objective(data, params, t0, out), n_trials=1, catch=())
    ((_, result),) = out.items()
    return dict(result)


def trials_until_used_up(study: optuna.Study, data: dict[str, Any], params: Any, t0: float) -> list[dict[str, Any]]:
    """Run enqueued configurations of `study` one after another until none is left waiting: the loop of
    Optuna's distributed examples (a `study.optimize` in each worker; the Dask example submits one per
    future), each trial taking the next configuration first come, first served. The histories of the
    trials this loop ran. A loop that asks when another took the last configuration gets a fresh trial
    from the sampler, which the objective ends at once (pruned, with no history, no decision)."""
    out: dict[int, Any] = {}
    study.optimize(objective(data, params, t0, out), catch=(), callbacks=[_stop_when_none_waiting])
    return list(out.values())


def trials(study: optuna.Study, data: dict[str, Any], params: Any, t0: float,
           until_used_up: bool) -> list[dict[str, Any]]:
    """What one worker's task runs: one trial (`one_trial`), or trials until the configurations are used up
    (`trials_until_used_up`); their histories."""
    if until_used_up:
        return trials_until_used_up(study, data, params, t0)
    return [one_trial(study, data, params, t0)]


def _stop_when_none_waiting(study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> None:
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        study.stop()


def decisions(study: optuna.Study) -> list[dict[str, Any]]:
    """Every decision the pruner recorded, from the study's storage."""
    return [v for t in study.get_trials(deepcopy=False) for k, v in t.system_attrs.items() if k.startswith("asha:")]


def answer(study: optuna.Study, histories: list[dict[str, Any]], scheduler: str) -> dict[str, Any]:
    trials = {h["id"]: h for h in histories}
    if len(trials) != len(histories):
        raise RuntimeError(f"{len(histories)} trial results for {len(trials)} configurations")
    return {"trials": trials, "decisions": decisions(study), "scheduler": scheduler}
