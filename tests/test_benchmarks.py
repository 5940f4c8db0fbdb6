"""The pytest-benchmark suites: they collect with the expected ids, run every case on every engine,
fail on wrong answers, and their JSON turns into the same report as a CLI run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from enginebench.cli.main import main
from enginebench.results.records import load_run

ROOT = Path(__file__).resolve().parent.parent


def pytest_run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=1800, env=env)


def test_collection_ids_read_case_engine_scale() -> None:
    out = pytest_run("benchmarks/", "--collect-only", "-q", "--engines", "ray,local", "--cases", "noop,latency")
    assert out.returncode == 0, out.stdout + out.stderr
    ids = sorted(line.split("::")[1] for line in out.stdout.splitlines() if "::" in line)
    assert ids == ["test_latency[local-tiny]", "test_latency[ray-tiny]", "test_noop[local-tiny]",
                   "test_noop[ray-tiny]"]


@pytest.mark.engine
def test_etl_benchmarks_run_and_check_answers(tmp_path: Path) -> None:
    env = {**os.environ, "ENGINEBENCH_DATA": str(tmp_path / "data")}
    bench_json = tmp_path / "etl.json"
    out = pytest_run("benchmarks/", "--benchmark-only", "--workloads", "etl", "--engines", "local,dask",
                     "--rounds", "1", "--warmup-rounds", "0", f"--benchmark-json={bench_json}", "-q", env=env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    names = sorted(b["name"] for b in json.loads(bench_json.read_text())["benchmarks"])
    # spark-to-ray is spark-on-ray only: skipped with its reason on these engines.
    assert names == sorted(f"test_{c}[{e}-tiny]" for c in ("q1", "q3", "q5", "q6", "q10", "pipeline")
                           for e in ("dask", "local"))


def test_unknown_engine_is_a_usage_error() -> None:
    out = pytest_run("benchmarks/", "--collect-only", "-q", "--engines", "flink")
    assert out.returncode == 4
    from enginebench.plan import registry

    assert f"unknown engine 'flink' (accepted: {', '.join(registry.ENGINES)})" in out.stdout + out.stderr


@pytest.mark.engine
def test_every_case_runs_on_the_suites_engines_and_the_json_becomes_a_report(tmp_path: Path) -> None:
    # Two engines, one of them without actors, two cases: the adapter is engine-neutral (the same
    # attempt core as `enginebench run`, whose tests run every case on every engine), so this pins the
    # suite's plumbing: ids, groups, extra_info, skips, the JSON as a report.
    engines, cases = ("dask", "spark"), ("noop", "actors")
    bench_json = tmp_path / "bench.json"
    out = pytest_run("benchmarks/", "--benchmark-only", "--workloads", "tasks", "--engines", ",".join(engines),
                     "--cases", ",".join(cases), "--rounds", "2", "--warmup-rounds", "0",
                     f"--benchmark-json={bench_json}", "-q")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    doc = json.loads(bench_json.read_text())
    expected = {(c, e) for c in cases for e in engines} - {("actors", "spark")}
    seen = set()
    for bench in doc["benchmarks"]:
        record = bench["extra_info"]["enginebench"]["record"]
        seen.add((record["case"], record["engine"]))
        assert record["status"] == "ok" and len(record["timings_s"]) == 2 and record["checks"] == 2
        assert bench["group"] == f"tasks/{record['case']}"
        assert bench["name"] == f"test_{record['case'].replace('-', '_')}[{record['engine']}-tiny]"
        assert bench["extra_info"]["engine_start_s"] > 0
        assert bench["extra_info"]["budget"]["cpus"] >= 1
        assert bench["extra_info"][record["primary"]["name"]] > 0
        assert bench["stats"]["rounds"] == 2
    assert seen == expected
    assert "1 skipped" in out.stdout  # Spark's actors: unsupported, with the reason
    run = load_run(bench_json)
    assert len(run.records) == len(expected) and run.header.source == "pytest-benchmark"
    html = tmp_path / "report.html"
    assert main(["report", str(bench_json), "-o", str(html)]) == 0
    assert "Task parallelism:" in html.read_text()


SAMPLE_BENCH = """
import pytest
from enginebench.measure.attempt import CaseInputs, Session
from enginebench.measure.bench import run_case
from enginebench.core.budget import Budget
from sample_workload.spec import WORKLOAD

@pytest.mark.parametrize("case", {cases!r})
def test_sample(benchmark, case):
    session = Session("local", Budget(cpus=2, memory_bytes=4 * 2**30))
    session.start()
    try:
        with CaseInputs() as inputs:
            run_case(benchmark, session, inputs, WORKLOAD, WORKLOAD.case(case), "tiny",
                     rounds={rounds}, warmup={warmup})
    finally:
        session.stop()
"""


def run_sample_benchmarks(tmp_path: Path, cases: tuple[str, ...], rounds: int, warmup: int,
                          *args: str) -> subprocess.CompletedProcess[str]:
    """pytest-benchmark over sample cases on the local engine, in a fresh pytest process."""
    (tmp_path / "test_sample_bench.py").write_text(SAMPLE_BENCH.format(cases=list(cases), rounds=rounds,
                                                                       warmup=warmup))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    return pytest_run(str(tmp_path / "test_sample_bench.py"), "-q", "--rootdir", str(tmp_path), *args,
                      cwd=tmp_path, env=env)


def test_a_wrong_answer_fails_the_benchmark(tmp_path: Path) -> None:
    out = run_sample_benchmarks(tmp_path, ("wrong",), rounds=2, warmup=0)
    assert out.returncode == 1
    assert "local/wrong: wrong: run 1/2: doubled value: got 43, expected 42" in out.stdout


def test_cli_and_pytest_benchmark_produce_the_same_record(tmp_path: Path) -> None:
    from conftest import run_plan
    from sample_workload.spec import WORKLOAD

    bench_json = tmp_path / "bench.json"
    out = run_sample_benchmarks(tmp_path, ("good", "staged"), 3, 2, f"--benchmark-json={bench_json}")
    assert out.returncode == 0, out.stdout[-3000:]
    via_bench = {r.case: r for r in load_run(bench_json).records}
    runner, _ = run_plan(tmp_path, WORKLOAD, ("local",), ("good", "staged"), repeat=3, warmup=2)
    timing = {"warmup_s", "timings_s", "samples", "warmup_samples", "stats", "phases", "resources", "started_utc",
              "metrics"}
    for rec in runner.records:
        other = via_bench[rec.case]
        assert {k: v for k, v in rec.to_dict().items() if k not in timing} == \
            {k: v for k, v in other.to_dict().items() if k not in timing}
        assert len(other.warmup_s) == 2 and len(other.timings_s) == 3 and other.checks == 5, "cold times recorded"
        assert set(other.phases) == set(rec.phases) and set(other.metrics) == set(rec.metrics)


def test_pipeline_benchmark_checks_every_rounds_output(tmp_path: Path) -> None:
    env = {**os.environ, "ENGINEBENCH_DATA": str(tmp_path / "data")}
    bench_json = tmp_path / "etl.json"
    out = pytest_run("benchmarks/", "--benchmark-only", "--workloads", "etl", "--cases", "pipeline", "--engines",
                     "local", "--rounds", "3", "--warmup-rounds", "1", f"--benchmark-json={bench_json}", "-q", env=env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    (record,) = load_run(bench_json).records
    assert record.status == "ok" and record.checks == 4 and len(record.warmup_s) == 1 and len(record.timings_s) == 3
    assert not list((tmp_path / "data" / "scratch").glob("*")), "the pipeline's scratch outputs are torn down"
