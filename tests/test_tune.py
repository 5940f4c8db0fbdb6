"""The tune workload: the halving rule against Ray Tune's own, the replay that checks every scheduler
decision, the check (with planted bugs in every engine's real search) and the search on every engine
at tiny scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import engines_for, implementation, prepared_case, run_plan

from enginebench.measure.attempt import Session
from enginebench.workloads.tune import asha
from enginebench.workloads.tune.spec import WORKLOAD, check, configs

CASE = WORKLOAD.case("search")
PARAMS = CASE.params_for("tiny")


@pytest.fixture(scope="module")
def prepared(data_root: Path) -> Any:
    """Tiny inputs and the reference curves (every configuration to max_epochs), made once per module."""
    yield from prepared_case(CASE, PARAMS)


def test_the_halving_rule_decides_as_ray_tunes_asha_bracket() -> None:
    """Thousands of random results, fed in the same order to Ray Tune's own bracket and to asha.stops."""
    from ray.tune.schedulers.async_hyperband import _Bracket

    class T:
        def __init__(self, trial_id: int) -> None:
            self.trial_id = trial_id

    rng = np.random.default_rng(1)
    decisions = 0
    for _ in range(200):
        bracket = _Bracket(min_t=1, max_t=27, reduction_factor=3, s=0)
        recorded: dict[int, list[float]] = {}
        for tid in rng.permutation(12):
            for epoch in (1, 3, 9):
                value = float(rng.choice([0.1, 0.25, 0.5, rng.random()]))  # ties and repeats too
                ray_says = bracket.on_result(T(int(tid)), epoch, value)
                ours = asha.stops(value, recorded.get(epoch, []), 3)
                assert (ray_says == "STOP") == ours, (epoch, value, recorded.get(epoch))
                recorded.setdefault(epoch, []).append(value)
                decisions += 1
                if ours:
                    break
    assert decisions > 2000
    assert asha.rungs(1, 9, 3) == [1, 3] and asha.rungs(1, 27, 3) == [1, 3, 9] and asha.rungs(2, 18, 3) == [2, 6]


def _decision(tid: int, epoch: int, accuracy: float, seen: dict[int, float], stop: bool, at: float) -> dict[str, Any]:
    return {"trial": tid, "epoch": epoch, "accuracy": accuracy, "seen": {str(k): v for k, v in seen.items()},
            "stop": stop, "read": at, "written": at}


def test_the_replay_names_a_wrong_decision_an_ignored_result_and_a_trial_that_trained_on() -> None:
    # Trials 0, 1, 2 at max 9 epochs (rungs 1 and 3): 0 goes first and on; 1 is below 0 and stops;
    # 2 is above the cutoff of (0, 1) and goes on; at epoch 3, 0 goes first, 2 is below it and stops.
    trials = {0: [[e, 0.5 + e / 100, e] for e in range(1, 10)], 1: [[1, 0.2, 1.1]],
              2: [[1, 0.6, 1.2], [2, 0.61, 2.2], [3, 0.4, 3.2]]}
    right = [_decision(0, 1, 0.51, {}, False, 1), _decision(1, 1, 0.2, {0: 0.51}, True, 2),
             _decision(2, 1, 0.6, {0: 0.51, 1: 0.2}, False, 3), _decision(0, 3, 0.53, {}, False, 4),
             _decision(2, 3, 0.4, {0: 0.53}, True, 5)]
    assert asha.replay(trials, right, 1, 9, 3) == ""
    wrong = [*right[:1], {**right[1], "stop": False}, *right[2:]]
    assert asha.replay(trials, wrong, 1, 9, 3) == (
        "trial 1 at epoch 1: accuracy 0.2000, cutoff 0.5100 from 1 earlier results: the rule stops it, "
        "the scheduler let it continue")
    blind = [*right[:2], _decision(2, 1, 0.6, {}, False, 3), *right[3:]]
    assert "ignored trial 0's accuracy there, recorded before it read the rung" in asha.replay(trials, blind, 1, 9, 3)
    trained_on = {**trials, 1: [[1, 0.2, 1.1], [2, 0.3, 2.1]]}
    assert asha.replay(trained_on, right, 1, 9, 3) == "trial 1 was stopped at epoch 1 but trained on to epoch 2"
    gave_up = {**trials, 0: trials[0][:5]}
    assert "trial 0 ended at epoch 5: neither stopped at a rung nor at the 9 epochs maximum" in asha.replay(
        gave_up, right, 1, 9, 3)
    assert "passed the rung at epoch 3 without a decision" in asha.replay(trials, right[:4], 1, 9, 3)
    lied = [*right[:1], _decision(1, 1, 0.2, {0: 0.9}, True, 2), *right[2:]]
    assert "held 0.9 for trial 0, which recorded 0.51 there" in asha.replay(trials, lied, 1, 9, 3)


def test_the_configurations_come_from_the_seed_and_the_reference_reaches_the_target(prepared: Any) -> None:
    assert configs(PARAMS) == configs(PARAMS) == prepared.inputs["configs"]
    assert len({(c["lr"], c["width"]) for c in prepared.inputs["configs"]}) == PARAMS["trials"]
    curves = prepared.inputs["reference_curves"]
    assert len(curves) == PARAMS["trials"] and {len(c) for c in curves} == {PARAMS["max_epochs"]}
    assert prepared.reference["best_accuracy"] >= PARAMS["target_accuracy"]
    assert 0 < prepared.reference["reaching_target"] < PARAMS["trials"]  # a search with something to find


@pytest.mark.engine
@pytest.mark.parametrize("started", engines_for("tune"), indirect=True, scope="session")
def test_every_engine_runs_the_search_and_planted_bugs_are_wrong(started: Session, prepared: Any,
                                                                 tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, "tune", (started.name,), repeat=1, warmup=0, session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"{started.name}: {rec.status} {rec.reason}\n{rec.detail}"
    m = rec.metrics
    assert m["search_s"] > 0 and 0 < m["time_to_best_s"] <= m["search_s"] and m["best_accuracy"] >= 0.8
    assert PARAMS["trials"] <= m["epochs"] < PARAMS["trials"] * PARAMS["max_epochs"] and m["stopped"] >= 1
    assert 0 < m["busy_share"] <= 1.0
    assert 0 < m["job_start_s"] < m["time_to_best_s"]  # the first trial's first epoch began inside the search
    assert len([n for n in rec.series if n.startswith("accuracy/trial ")]) == PARAMS["trials"]
    impl = implementation(started, WORKLOAD, "search")
    inputs, ref = prepared.inputs, prepared.reference
    late = impl(started.ctx, {**PARAMS, "plant": "wrong-epoch"}, inputs)
    verdict = check(late, PARAMS, inputs, ref)
    assert not verdict.ok and verdict.reason.startswith("trial 0 reported epochs [2, 3"), verdict.reason
    on = impl(started.ctx, {**PARAMS, "plant": "never-stop"}, inputs)
    verdict = check(on, PARAMS, inputs, ref)
    assert not verdict.ok and "but trained on to epoch 9" in verdict.reason, verdict.reason
    if started.name == "dask":  # every search's study was dropped from the scheduler afterwards
        kept = started.ctx.handle.run_on_scheduler(lambda dask_scheduler: len(
            dask_scheduler.extensions["optuna"].storages))
        assert kept == 0


@pytest.mark.engine
@pytest.mark.parametrize("started", ("ray",), indirect=True, scope="session")
def test_ray_trial_histories_are_the_trials_own_so_a_scheduler_that_misreads_or_skips_a_result_is_wrong(
        started: Session, prepared: Any) -> None:
    """Ray's answer takes the histories from the trials' own records and the decisions from the
    scheduler's log: a scheduler that decided on another accuracy than the trial reported, or let a
    trial's results through undecided, is caught (with both from the scheduler's log, neither could be)."""
    if started.ctx is None:
        assert started.start() is not None, started.info.reason
    impl = implementation(started, WORKLOAD, "search")
    inputs, ref = prepared.inputs, prepared.reference
    answer = impl(started.ctx, PARAMS, inputs)
    assert check(answer, PARAMS, inputs, ref).ok
    misread = impl(started.ctx, {**PARAMS, "plant": "scheduler-misread"}, inputs)
    verdict = check(misread, PARAMS, inputs, ref)
    reported = inputs["reference_curves"][0][0]
    assert not verdict.ok and verdict.reason == (
        f"the scheduler decided trial 0 at epoch 1 on accuracy {reported / 2}, the trial reported {reported}"), \
        verdict.reason
    skipped = impl(started.ctx, {**PARAMS, "plant": "scheduler-skip"}, inputs)
    verdict = check(skipped, PARAMS, inputs, ref)
    assert not verdict.ok and verdict.reason == "trial 0 passed the rung at epoch 1 without a decision", verdict.reason
    assert len(skipped["trials"][0]["history"]) >= 1 and not any(
        d["trial"] == 0 and d["epoch"] == 1 for d in skipped["decisions"])


#: The variants each engine's module adds beside its default (spark-on-ray runs the spark module's, like spark).
NEW_VARIANTS = {"dask": ("worker-loops",), "spark": ("task-per-trial",),
                "ray": ("half-cpu-trials", "unbounded-concurrency")}


@pytest.mark.engine
@pytest.mark.parametrize("started", tuple(NEW_VARIANTS), indirect=True, scope="session")
def test_the_trial_loop_and_trial_resource_variants_search_and_pass_the_check(started: Session, prepared: Any) -> None:
    """Each variant once: loops that take configurations until none is left (Dask, Spark) start every
    configuration exactly once and collect every history; Ray's other trial resources change only how many
    trials run at once. The check replays each one's own halving decisions."""
    if started.ctx is None:
        assert started.start() is not None, started.info.reason
    found = WORKLOAD.variants(started.cls.api, "search", started.name)
    inputs, ref = prepared.inputs, prepared.reference
    for name in NEW_VARIANTS[started.name]:
        answer = found[name].implementation(started.ctx, PARAMS, inputs)  # type: ignore[operator,misc]
        verdict = check(answer, PARAMS, inputs, ref)
        assert verdict.ok, f"{started.name}:{name}: {verdict.reason}"
        assert ("until the configurations are used up" in answer["scheduler"]) == (name == "worker-loops"), answer
    if started.name == "dask":  # the loops' study was dropped from the scheduler too
        assert started.ctx.handle.run_on_scheduler(
            lambda dask_scheduler: len(dask_scheduler.extensions["optuna"].storages)) == 0
