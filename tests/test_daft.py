"""The daft engine: listed without being imported, its runner set once per process and reused (a different
budget refused with one line), every etl case, inference and the clickstream example answered right at tiny,
each of its variants right on one case, and the workloads it cannot express recorded `unsupported` with why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, TEST_BUDGET, run_plan

from enginebench.core.budget import Budget
from enginebench.engines.base import EngineUnavailable
from enginebench.engines.daft import DaftEngine, DaftHandle
from enginebench.measure.attempt import CaseInputs, Session
from enginebench.plan import registry
from enginebench.results.records import load_run

#: The workloads Daft cannot express: every case is `unsupported`, each with its reason.
UNSUPPORTED_WORKLOADS = ("tasks", "cnn", "tune", "gbdt", "serve")


def test_list_shows_daft_and_imports_no_engine() -> None:
    listed = subprocess.run([str(ROOT / "enginebench"), "list"], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    assert listed.returncode == 0, listed.stderr
    (line,) = [ln for ln in listed.stdout.splitlines() if ln.strip().startswith("daft ")]
    assert "Daft's native runner" in line and "workloads/*/daft.py" in line
    code = ("import sys; from enginebench.cli.main import main; rc = main(['list']); "
            "print('HEAVY', [m for m in ('daft', 'ray', 'pyspark', 'torch') if m in sys.modules]); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0 and "HEAVY []" in out.stdout, out.stdout[-500:] + out.stderr


@pytest.mark.engine
def test_the_runner_is_set_once_reused_for_the_same_budget_and_a_different_budget_is_refused() -> None:
    first = DaftEngine(TEST_BUDGET)
    ctx = first.start()
    assert ctx.handle == DaftHandle(cpus=2, runner="native", memory_bytes=TEST_BUDGET.memory_bytes)
    config = first.config()
    assert config["runner"] == "native (Swordfish)" and config["compute_threads"] == 2
    assert config["udf_memory_limit_bytes"] == TEST_BUDGET.memory_bytes
    caps = first.budget_caps()
    assert "compute threads = 2" in caps["capped"] and "no memory limit" in caps["not capped"]
    first.stop()
    first.stop()  # safe twice
    again = DaftEngine(TEST_BUDGET)  # a restart in the same process: the runner Daft keeps is reused
    assert again.start().handle.cpus == 2
    again.stop()
    with pytest.raises(EngineUnavailable, match=r"Daft's runner is set once per process and this one already runs "
                                                 r"with 2 threads .* the budget asks for 1 .*a new process"):
        DaftEngine(Budget(cpus=1, memory_bytes=TEST_BUDGET.memory_bytes)).start()


@pytest.mark.engine
@pytest.mark.parametrize("started", ("daft",), indirect=True, scope="session")
def test_every_etl_case_on_daft_answers_right(started: Session, data_root: Path, tmp_path: Path) -> None:
    runner, path = run_plan(tmp_path, "etl", ("daft",), repeat=1, warmup=0, session=started)
    notes = registry.workload("etl").module("daft").NOTES
    by_case = {rec.case: rec for rec in runner.records}
    assert set(by_case) == {"q1", "q3", "q5", "q6", "q10", "pipeline", "spark-to-ray"}
    for rec in runner.records:
        if rec.case == "spark-to-ray":
            assert rec.status == "unsupported" and "spark-on-ray" in rec.reason
            continue
        assert rec.status == "ok", f"daft/{rec.case}: {rec.status} {rec.reason}\n{rec.detail}"
        assert rec.metrics["rows_per_s"] > 0 and rec.notes["implementation"] == notes[rec.case]
    pipe = by_case["pipeline"].metrics
    assert pipe["malformed_rows"] == 117 + 31 and pipe["partitions_written"] == 25  # hive layout, one per nation
    session = load_run(path).header.engines["daft"]
    assert session.status == "ok" and session.config["compute_threads"] == 2 and session.caps["not capped"]


def _variant_answers(started: Session, workload: str, case_name: str | None = None) -> dict[str, tuple[str, Any]]:
    """Each variant of the daft module, called once on the first case it covers (or `case_name`) at tiny:
    variant -> (case, verdict)."""
    if started.ctx is None:
        assert started.start() is not None, started.info.reason
    wl = registry.workload(workload)
    module = wl.module("daft")
    verdicts: dict[str, tuple[str, Any]] = {}
    with CaseInputs() as made:
        for variant, cases in module.VARIANTS.items():
            name = case_name or next(iter(cases))
            if name not in cases:
                continue
            case = wl.case(name)
            params = case.params_for("tiny")
            prepared = made.get(case, params)
            assert not prepared.error, prepared.error
            found = wl.variants(started.cls.api, name, started.name)[variant]
            answer = found.implementation(started.ctx, params, prepared.inputs)  # type: ignore[operator,misc]
            verdicts[variant] = (name, case.check(answer, params, prepared.inputs, prepared.reference))
    return verdicts


@pytest.mark.engine
@pytest.mark.parametrize("started", ("daft",), indirect=True, scope="session")
def test_each_etl_variant_of_daft_answers_right(started: Session, data_root: Path) -> None:
    verdicts = _variant_answers(started, "etl")
    assert {v: case for v, (case, _) in verdicts.items()} == {"sql": "q1", "unordered": "q1", "broadcast-joins": "q3"}
    wrong = {v: verdict.reason for v, (_, verdict) in verdicts.items() if not verdict.ok}
    assert not wrong, wrong
    # the sql variant on the joins, too: q5's six-way join is where a SQL front end can go wrong
    assert _variant_answers(started, "etl", "q5")["sql"][1].ok


@pytest.mark.engine
@pytest.mark.parametrize("started", ("daft",), indirect=True, scope="session")
def test_inference_on_daft_scores_every_image_with_the_model_loaded_once_per_process(
        started: Session, data_root: Path, tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, "inference", ("daft",), repeat=1, warmup=1, session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"daft: {rec.status} {rec.reason}\n{rec.detail}"
    # threads of this process (Daft's default for a class UDF): one scoring process, its model kept from the
    # warm-up, so the timed call loads nothing
    assert rec.metrics["processes"] == 1 and rec.metrics["loads_in_call"] == 0 and rec.notes["device"] == "cpu"
    # the `processes` variant: one UDF worker process per thread, each loading the model inside the call
    (case, verdict), = _variant_answers(started, "inference").values()
    assert case == "score" and verdict.ok, verdict.reason


@pytest.mark.engine
@pytest.mark.parametrize("started", ("daft",), indirect=True, scope="session")
def test_clickstream_example_on_daft_answers_right(started: Session, data_root: Path, tmp_path: Path) -> None:
    name = registry.resolve(str(ROOT / "docs" / "examples" / "clickstream"))
    runner, _ = run_plan(tmp_path, name, ("daft",), ("sessionize",), repeat=1, warmup=0, session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"daft: {rec.status} {rec.reason}\n{rec.detail}"
    assert rec.notes["reference"]["sessions"] == 3_418 and "no Python UDF" in rec.notes["implementation"]


@pytest.mark.engine
@pytest.mark.parametrize("started", ("daft",), indirect=True, scope="session")
@pytest.mark.parametrize("workload", UNSUPPORTED_WORKLOADS)
def test_cases_daft_cannot_express_are_unsupported_with_their_reason(started: Session, workload: str,
                                                                     tmp_path: Path) -> None:
    wl = registry.workload(workload)
    declared = wl.module("daft").UNSUPPORTED
    assert set(declared) == set(wl.case_names)  # every case says why
    runner, _ = run_plan(tmp_path, workload, ("daft",), repeat=1, warmup=0, session=started)
    assert [rec.case for rec in runner.records] == list(wl.case_names)
    for rec in runner.records:
        assert rec.status == "unsupported", f"daft/{rec.case}: {rec.status} {rec.reason}"
        # daft.py's reason, also for a case limited to some engines (serve's `only`): the engine's file says why
        assert rec.reason == declared[rec.case]


SHIP_SPEC = '''
from enginebench import Case, Metric, Verdict, Workload


def make(params):
    return list(range(params["n"]))


def check(answer, params, inputs, reference):
    return Verdict.expect("values", answer, [x * 10 for x in inputs])


def summarize(params, inputs, timed, cpus):
    return {"seconds": min(t.seconds for t in timed)}


WORKLOAD = Workload("daftship", "a UDF in a process of its own, from a folder", "test", package=__package__,
                    cases=(Case("times10", "x * 10 in a UDF worker process", {"tiny": {"n": 5}},
                                Metric("seconds", "s", False), make, check, summarize),))
'''
SHIP_DAFT = '''
import daft


def helper(x):
    return x * 10  # found by the UDF worker only if this module travels by value


@daft.func(use_process=True)
def times10(x: int) -> int:
    return helper(x)


def run(ctx, params, inputs):
    df = daft.from_pydict({"x": inputs})
    return df.select(times10(df["x"]).alias("y")).sort("y").to_pydict()["y"]


CASES = {"times10": run}
'''


@pytest.mark.engine
@pytest.mark.parametrize("started", ("daft",), indirect=True, scope="session")
def test_a_folder_workloads_process_udf_reaches_daft_udf_workers_by_value(started: Session, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A UDF run in a worker process (use_process=True) is unpickled where the folder is not on the path: the
    engine's `ship` registers the folder's package with Daft's own cloudpickle, so it travels by value (the
    worker otherwise fails with "No module named 'daftship'"); a daft.py alone is a well-formed workload."""
    folder = tmp_path / "daftship"
    folder.mkdir()
    (folder / "spec.py").write_text(SHIP_SPEC)
    (folder / "daft.py").write_text(SHIP_DAFT)
    monkeypatch.setattr(registry, "_LOADED", dict(registry._LOADED))
    name = registry.resolve(str(folder))
    runner, _ = run_plan(tmp_path, name, ("daft",), repeat=1, warmup=0, session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"daft: {rec.status} {rec.reason}\n{rec.detail}"
    assert started.engine is not None and "daftship" in started.engine._shipped  # type: ignore[attr-defined]
