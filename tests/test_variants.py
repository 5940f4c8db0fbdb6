"""Variant studies (`enginebench variants`): each way an engine's module writes a case, alternated in one
run, every answer checked, one results file that the report, compare and the docs read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE_DIR

from enginebench.cli.main import main
from enginebench.measure.variants import block_sizes, join, split_label, verdicts
from enginebench.plan import registry
from enginebench.report import markdown
from enginebench.results.records import Record, Status, load_run


def _record(engine: str, samples: tuple[float, ...], default: bool = False, status: str = "ok",
            **fields: object) -> Record:
    values: dict[str, object] = {"metrics": {"seconds": 1.0, "load_s": 2.0}, **fields}
    return Record(workload="w", case="c", engine=engine, api="ray", scale="tiny", status=Status(status),
                  samples=samples, timings_s=samples, warmup_s=(9.0,), warmup=1, repeat=len(samples),
                  checks=1 + len(samples), primary={"name": "seconds", "unit": "s", "higher_is_better": False},
                  budget={"cpus": 2}, notes={"variant": split_label(engine)[1], "default": default},
                  **values)  # type: ignore[arg-type]


def test_variants_of_a_case_list_the_default_first_then_the_modules_variants() -> None:
    tasks, inference = registry.workload("tasks"), registry.workload("inference")
    assert list(tasks.variants("spark", "tree-reduce", "spark")) == ["stock", "pairwise", "patched-worker"]
    assert list(tasks.variants("spark", "noop", "spark")) == ["stock", "patched-worker"]  # pairwise: tree-reduce only
    assert tasks.variants("spark", "noop", "spark")["patched-worker"].outside_rule.startswith("it patches")
    assert list(tasks.variants("spark", "actors", "spark")) == []  # unsupported: nothing to study
    assert list(inference.variants("ray", "score", "ray")) == ["tasks-4-batches", "actors", "tasks-1-batch",
                                                                "cold-start-budget"]
    # spark-on-ray has its own module for score: its variants, not the spark module's
    assert list(inference.variants("spark", "score", "spark-on-ray")) == ["file-partitions", "repartition"]
    assert list(inference.variants("local", "score", "local")) == ["default"]
    cnn = registry.workload("cnn")
    assert list(cnn.variants("ray", "train", "ray")) == ["in-memory", "stream", "stream-no-buffer", "from-torch",
                                                        "ray-train-defaults", "core-actors"]
    assert list(cnn.variants("spark", "train", "spark")) == ["distributor", "local-mode", "dataframe-partitions",
                                                            "barrier-tasks"]
    assert "drops Ray Train" in cnn.variants("ray", "train", "ray")["core-actors"].outside_rule
    # its own module, its own variants
    assert list(cnn.variants("spark", "train", "spark-on-ray")) == ["normalize-in-spark", "normalize-in-ray",
                                                                   "parquet-handoff", "ray-default-shuffle"]
    assert inference.variants("ray", "score", "ray")["actors"].note.startswith("Ray's batch-inference guide")


def test_two_blocks_join_into_one_record_with_every_repetition() -> None:
    assert block_sizes(5) == (3, 2) and block_sizes(1) == (1, 0)
    a = _record("ray:x", (1.0, 3.0), resources={"peak_rss_bytes": 10, "cpu_seconds": 2.0, "foreign_cpu_s": 0.0,
                                               "wall_s": 4.0, "samples": 20})
    b = _record("ray:x", (2.0,), metrics={"seconds": 2.0, "load_s": 4.0},
                resources={"peak_rss_bytes": 30, "cpu_seconds": 2.0, "foreign_cpu_s": 1.2, "wall_s": 2.0,
                           "samples": 10})
    got = join(a, b)
    assert got.samples == (1.0, 3.0, 2.0) and got.repeat == 3 and got.warmup == 2 and got.checks == 5
    assert got.metrics == {"seconds": 2.0, "load_s": 3.0}  # the headline from all samples, the rest averaged
    assert got.stats["median"] == 2.0
    assert got.resources["peak_rss_bytes"] == 30 and got.resources["wall_s"] == 6.0
    assert got.resources["cpu_utilisation"] == round(4.0 / 12, 4) and got.resources["foreign_cpu_share"] == 0.1
    wrong = _record("ray:x", (), status="wrong", reason="run 1/1: bad")
    assert join(a, wrong) is wrong and join(wrong, a) is wrong and join(a, None) is a


def test_a_default_slower_than_its_best_variant_by_more_than_the_bound_is_named() -> None:
    recs = [_record("ray:plain", (1.30, 1.32, 1.31), default=True), _record("ray:fast", (1.0, 1.01, 0.99)),
            _record("ray:broken", (), status="error", reason="boom"), _record("dask:plain", (2.0,), default=True)]
    groups = {g.engine: g for g in verdicts(recs)}
    assert not groups["ray"].default_within and groups["dask"].default_within
    ratios = {row.variant: row.ratio for row in groups["ray"].rows}
    assert ratios == {"plain": pytest.approx(1.31), "fast": 1.0, "broken": None}
    text = markdown.variants(recs)
    assert "| w c | ray | **plain** (default) | 1.31 s | 3 | 1.31x | ok |" in text
    assert "| w c | ray | broken |  | 0 |  | error |" in text
    assert "Defaults beyond 1.25x of their engine's best variant: ray on c (default 1.31x of fast)." in text
    patched = _record("ray:patched", (0.5, 0.5, 0.5))
    patched.notes["outside_rule"] = "it patches the engine"
    [group] = [g for g in verdicts([*recs[:2], patched]) if g.engine == "ray"]
    assert group.best is not None and group.best.variant == "fast"  # a patch is never the best the default is held to
    text = markdown.variants([*recs[:2], patched])
    assert "| w c | ray | patched (outside the rule) | 0.5 s | 3 | 2.00x faster | ok |" in text
    assert "never the best a default is held to: `ray:patched` (it patches the engine)." in text
    with pytest.raises(ValueError, match="no variant records of other"):
        markdown.variants(recs, workload="other")


def test_a_study_alternates_the_variants_checks_every_answer_and_writes_one_results_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], sample_registered: str) -> None:
    code = main(["variants", "--workload", str(SAMPLE_DIR), "--engines", "local", "--cases", "paced,good",
                 "--repeat", "3", "--cpus", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1  # a variant answered wrong: the study says so in its exit code
    [path] = tmp_path.glob("*-variants-sample-tiny-*.json")
    run = load_run(path)
    assert run.header.source == "enginebench variants" and run.header.status == "complete"
    by = {(r.case, r.engine): r for r in run.records}
    assert set(by) == {("paced", "local:plain"), ("paced", "local:slower"), ("good", "local:plain"),
                       ("good", "local:off-by-one")}
    plain, slower = by["paced", "local:plain"], by["paced", "local:slower"]
    assert plain.status == slower.status == Status.OK and plain.api == "local"
    assert len(plain.samples) == 3 and plain.warmup == 2 and plain.checks == 5  # two blocks: 1+2 and 1+1
    assert plain.notes["default"] and not slower.notes["default"] and slower.notes["variant"] == "slower"
    assert slower.notes["implementation"] == "sleeps twice as long"
    assert min(slower.timings_s) > max(plain.timings_s) * 1.5  # the slower variant is measured slower
    wrong = by["good", "local:off-by-one"]
    assert wrong.status == Status.WRONG and "doubled value" in wrong.reason
    assert set(run.header.engines) == {"local:plain", "local:slower", "local:off-by-one"}
    assert "default within 1.25x of the best variant: yes" in out and f"results: {path}" in out
    text = markdown.variants(run.records)
    assert "Every default is within 1.25x of its engine's best variant (2 engine-case pairs" in text
    assert "a variant study: per variant two blocks in A B, B A order" in markdown.provenance([run], "x.json")
    json.loads(path.read_text())  # a plain results file: report, compare and export read it as any run


def test_a_study_of_several_workloads_or_scales_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["variants", "--workload", "tasks,etl"]) == 2
    assert "a study is of one workload" in capsys.readouterr().err
    assert main(["variants", "--workload", "tasks", "--scale", "tiny,small"]) == 2
    assert "a study runs at one scale" in capsys.readouterr().err
    assert main(["variants", "--workload", "gbdt", "--engines", "local,dask", "--variants", "dmatrix,nope"]) == 2
    err = capsys.readouterr().err
    assert "nope is no variant of the plan's engines and cases (accepted: dmatrix, held-out-auc, " in err, err


def test_a_study_can_run_the_defaults_beside_named_variants_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], sample_registered: str) -> None:
    code = main(["variants", "--workload", str(SAMPLE_DIR), "--engines", "local", "--cases", "paced,good",
                 "--variants", "slower", "--repeat", "1", "--warmup", "0", "--cpus", "1", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr()
    [path] = tmp_path.glob("*-variants-sample-tiny-*.json")
    assert {(r.case, r.engine) for r in load_run(path).records} == {("paced", "local:plain"), ("paced", "local:slower"),
                                                                     ("good", "local:plain")}


def test_an_interrupted_study_keeps_its_finished_cases_and_resume_runs_the_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], sample_registered: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import threading

    from sample_workload import local as sample_local

    # `good` takes milliseconds, `paced` about 0.5 s a call (2 variants x 2 blocks x 2 calls): SIGTERM lands in paced.
    monkeypatch.setitem(sample_local.PACE, "seconds", 0.5)
    study = ["variants", "--workload", str(SAMPLE_DIR), "--engines", "local", "--cases", "good,paced",
             "--repeat", "2", "--warmup", "1", "--cpus", "1", "--out", str(tmp_path)]
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        assert main(study) == 130
    finally:
        timer.cancel()
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    [path] = tmp_path.glob("*-variants-sample-tiny-*.json")
    interrupted = load_run(path)
    assert interrupted.header.status == "interrupted" and interrupted.header.plan.variants == ()
    assert {r.case for r in interrupted.records} == {"good"}  # a case's variants are written when it ends
    assert f"enginebench variants --resume {interrupted.run_id} --out {tmp_path}" in out
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back

    assert main(["variants", "--resume", interrupted.run_id, "--workload", "tasks", "--out", str(tmp_path)]) == 2
    assert "--resume takes its plan from the results file; drop --workload" in capsys.readouterr().err
    monkeypatch.setitem(sample_local.PACE, "seconds", 0.02)
    assert main(["variants", "--resume", interrupted.run_id, "--out", str(tmp_path)]) == 1  # off-by-one is wrong
    done = load_run(path)
    assert done.header.status == "complete" and done.header.resumed_utc
    assert sorted((r.case, r.engine) for r in done.records) == [
        ("good", "local:off-by-one"), ("good", "local:plain"), ("paced", "local:plain"), ("paced", "local:slower")]
    assert "resumed with 2 variant records kept" in " ".join(capsys.readouterr().out.split())
