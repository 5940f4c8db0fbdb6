"""The gbdt workload: the HIGGS-like table (reproducible, the shape it promises), the rows a model saw read
from the model, the check's clauses, and XGBoost training on every engine at tiny scale, right and with
each planted bug (a dropped shard, shuffled labels, rounds cut short) reported `wrong` and named."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import engines_for, run_plan

from enginebench.measure.attempt import Session
from enginebench.workloads.gbdt import data, local
from enginebench.workloads.gbdt.model import PLANTS, answer, rows_seen
from enginebench.workloads.gbdt.spec import (
    PARAMS,
    TOLERANCE,
    WORKLOAD,
    check,
    curve,
    held_out_auc,
    reference,
    time_to_target,
)

#: Small enough for a check per engine and plant: seconds of training.
FEW = {**PARAMS["tiny"], "n_train": 20_000, "n_test": 5_000, "rounds": 20, "target_auc": 0.78}


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*.parquet")):
        h.update(f.relative_to(folder).as_posix().encode() + f.read_bytes())
    return h.hexdigest()


# -- the table -------------------------------------------------------------------------------------
def test_the_table_is_reproducible_and_has_the_promised_shape(tmp_path: Path) -> None:
    a = data.ensure(30_000, 4_000, 3, tmp_path / "a")
    b = data.ensure(30_000, 4_000, 3, tmp_path / "b")
    assert _digest(a) == _digest(b)  # the same bytes wherever it is written
    assert _digest(data.ensure(30_000, 4_000, 4, tmp_path / "c")) != _digest(a)
    meta = data.meta(a)
    assert (meta["n_train"], meta["n_test"], meta["train_files"]) == (30_000, 4_000, 8)
    assert len(list((a / "train").glob("*.parquet"))) == 8 and len(list((a / "test").glob("*.parquet"))) == 1
    x, y = data.read_numpy(a, "train")
    assert x.shape == (30_000, 28) and x.dtype == np.float32 and set(np.unique(y)) == {0, 1}
    assert int(y.sum()) == meta["train_positives"] and 0.4 < y.mean() < 0.6
    # a known signal: the true probabilities' AUC is the ceiling, well above chance and below 1
    assert 0.8 < meta["bayes_auc"] < 0.9
    informative, noise = np.corrcoef(x[:, 0], y)[0, 1], np.corrcoef(x[:, 10], y)[0, 1]
    assert abs(informative) > 0.15 and abs(noise) < 0.03
    assert data.ensure(30_000, 4_000, 3, tmp_path / "a") == a  # reused, not rewritten


def test_the_model_says_how_many_rows_it_saw_and_the_check_names_each_bug(tmp_path: Path) -> None:
    folder = data.ensure(FEW["n_train"], FEW["n_test"], 0, tmp_path)
    x, y = data.read_numpy(folder, "test")
    inputs = {"folder": folder, "meta": data.meta(folder), "test_x": x, "test_y": y}
    ref = reference(FEW, inputs)
    assert ref["trees"] == FEW["rounds"] and FEW["target_auc"] < ref["auc"] < ref["bayes_auc"]
    verdicts, answers = {}, {}
    for plant in ("", *PLANTS):
        params = {**FEW, "plant": plant}
        t0 = time.time()
        booster, load_s = local.fit(params, folder, 2, t0)
        got = answer(booster, t0=t0, load_s=load_s, workers=1, threads=2, dev="cpu", api="xgboost.train")
        assert 0 < got["job_start_s"] <= got["history"][0][0] <= got["history"][-1][0] <= got["seconds"]
        if plant != "drop-shard":
            assert round(rows_seen(booster)) == FEW["n_train"]
        verdicts[plant], answers[plant] = check(got, FEW, inputs, ref), got
    assert verdicts[""].ok, verdicts[""].reason
    assert "the model saw 10,000 training rows, the table has 20,000: rows were lost" in verdicts["drop-shard"].reason
    assert "does not learn what the labels say" in verdicts["shuffle-labels"].reason
    assert "the model has 10 trees, expected 20" in verdicts["short-rounds"].reason
    points = curve(answers[""], inputs)  # per round: the clock's seconds, the model's own held-out AUC
    assert [p[0] for p in points] == [round(h[0], 3) for h in answers[""]["history"]]
    assert abs(points[-1][1] - held_out_auc(answers[""]["model"], inputs)) < 1e-4 and points[0][1] < points[-1][1]
    far = check(answers[""], FEW, inputs, {**ref, "auc": ref["auc"] + 2 * TOLERANCE})
    assert not far.ok and f"(allowed {TOLERANCE})" in far.reason
    short = check({**answers[""], "history": answers[""]["history"][:-1]}, FEW, inputs, ref)
    assert short.reason == "19 rounds recorded, expected 20"


def test_time_to_target_is_the_first_round_that_reaches_it() -> None:
    history = [[1.0, 0.70], [1.5, 0.80], [2.0, 0.79], [2.5, 0.85]]  # [seconds, held-out AUC]
    assert time_to_target(history, 0.8) == 1.5
    assert time_to_target(history, 0.9) is None


# -- every engine ----------------------------------------------------------------------------------
@pytest.mark.engine
@pytest.mark.parametrize("started", engines_for("gbdt"), indirect=True, scope="session")
def test_every_engine_trains_the_same_model_and_the_check_holds(started: Session, data_root: Path,
                                                                tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, "gbdt", (started.name,), repeat=1, warmup=0, session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"{started.name}: {rec.status} {rec.reason}\n{rec.detail}"
    m, ref = rec.metrics, rec.notes["reference"]
    assert rec.headline == m["seconds"] and not rec.higher_is_better
    assert abs(m["final_auc"] - ref["auc"]) <= TOLERANCE and m["final_auc"] >= PARAMS["tiny"]["target_auc"]
    assert 0 < m["job_start_s"] < m["time_to_target_s"] <= m["seconds"]
    assert m["train_s"] < m["seconds"] and m["rows_per_s"] > 0
    curve = rec.series["held_out_auc"]
    assert len(curve) == PARAMS["tiny"]["rounds"] and curve[-1][1] > curve[0][1]
    assert rec.notes["workers"] == (1 if started.name == "local" else 2) and rec.notes["device"] == "cpu"
    assert rec.size == PARAMS["tiny"]["n_train"]


@pytest.mark.engine
@pytest.mark.parametrize("started", engines_for("gbdt"), indirect=True, scope="session")
def test_a_planted_bug_in_every_engine_path_is_reported_wrong_and_named(started: Session, data_root: Path,
                                                                        tmp_path: Path) -> None:
    case = WORKLOAD.case("train")
    words = {"drop-shard": "rows were lost", "shuffle-labels": "does not learn what the labels say",
             "short-rounds": "training stopped before the last round"}
    for plant in PLANTS:
        params = {**case.params, "tiny": {**FEW, "plant": plant}}
        wl = dataclasses.replace(WORKLOAD, cases=(dataclasses.replace(case, params=params),))
        (tmp_path / plant).mkdir()
        runner, _ = run_plan(tmp_path / plant, wl, (started.name,), repeat=1, warmup=0, session=started)
        (rec,) = runner.records
        assert rec.status == "wrong", f"{started.name}/{plant}: {rec.status} {rec.reason}\n{rec.detail}"
        assert words[plant] in rec.reason, f"{started.name}/{plant}: {rec.reason}"


@pytest.mark.engine
@pytest.mark.parametrize("started", engines_for("gbdt"), indirect=True, scope="session")
def test_the_default_evaluates_nothing_inside_training_and_the_variant_reads_the_held_out_rows(
        started: Session, tmp_path: Path) -> None:
    """Every engine's default does the same training work: no eval set. The `held-out-auc` variant evaluates the
    held-out rows every round, and the clock records their AUC (picked by name: xgboost.spark evaluates the
    training rows first), which agrees with the model's own AUC on those rows."""
    folder = data.ensure(FEW["n_train"], FEW["n_test"], 0, tmp_path)
    x, y = data.read_numpy(folder, "test")
    inputs = {"folder": folder, "meta": data.meta(folder), "test_x": x, "test_y": y}
    if started.ctx is None:
        assert started.start() is not None, started.info.reason
    found = WORKLOAD.variants(started.cls.api, "train", started.name)
    assert started.ctx is not None and "held-out-auc" in found, list(found)
    default = next(iter(found.values())).implementation
    plain = default(started.ctx, FEW, inputs)  # type: ignore[operator,misc]
    assert all(np.isnan(auc) for _, auc in plain["history"]) and len(plain["history"]) == FEW["rounds"]
    got = found["held-out-auc"].implementation(started.ctx, FEW, inputs)  # type: ignore[operator,misc]
    model_auc = held_out_auc(got["model"], inputs)
    assert abs(got["history"][-1][1] - model_auc) < 0.005, (started.name, got["history"][-1][1], model_auc)


def test_the_data_command_writes_the_table_once_and_refuses_bad_sizes(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from enginebench.cli.main import main

    args = ["data", "higgs-like", "--rows", "5000", "--test-rows", "1000", "--root", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "5,000 training rows in 8 files + 1,000 held-out rows, 28 features" in out and "written in" in out
    folder = data.table_dir(5000, 1000, 0, tmp_path)
    before = _digest(folder)
    assert main(args) == 0 and "already present; not rewritten" in capsys.readouterr().out
    assert _digest(folder) == before
    with pytest.raises(SystemExit) as info:
        main(["data", "higgs-like", "--rows", "10", "--test-rows", "1000", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count("\n") == 1 and "invalid training row count 10 (accepted: an integer from 1000" in err
