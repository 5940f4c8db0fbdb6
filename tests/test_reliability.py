"""Interrupts, resume, sweeps and unreachable clusters: the run survives and says what happened."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_plan

from enginebench.engines.base import Endpoints

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "enginebench", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize(
    ("endpoints", "engine", "what"),
    [(Endpoints(dask_scheduler="tcp://127.0.0.1:9"), "dask", "dask cluster at tcp://127.0.0.1:9"),
     (Endpoints(ray_address="127.0.0.1:9"), "ray", "ray cluster at 127.0.0.1:9"),
     (Endpoints(spark_master="spark://127.0.0.1:9"), "spark", "spark cluster at spark://127.0.0.1:9")],
)
def test_unreachable_cluster_fails_within_seconds_with_the_address(tmp_path: Path, endpoints: Endpoints, engine: str,
                                                                   what: str) -> None:
    t0 = time.monotonic()
    runner, path = run_plan(tmp_path, "tasks", (engine,), ("noop",), endpoints=endpoints)
    assert time.monotonic() - t0 < 20
    (rec,) = runner.records
    assert rec.status == "error" and f"cannot reach the {what}" in rec.reason
    assert json.loads(path.read_text())["engines"][engine]["status"] == "error"


@pytest.mark.parametrize("engine", ["local", pytest.param("ray", marks=pytest.mark.engine)])
def test_sigterm_keeps_finished_records_and_resume_completes_the_plan(tmp_path: Path, engine: str) -> None:
    # ray: ray.init replaces the process's SIGTERM handler with a plain exit; the session puts ours back.
    out = tmp_path / "results"
    proc = cli("run", "--engines", engine, "--scale", "small", "--cases", "noop,fanout", "--repeat", "1",
               "--out", str(out), "--no-report", "--quiet")
    deadline = time.monotonic() + 120
    path = None
    while time.monotonic() < deadline:  # wait until the first case is on disk, then interrupt
        files = list(out.glob("*.json"))
        if files and json.loads(files[0].read_text())["records"]:
            path = files[0]
            break
        time.sleep(0.2)
    assert path is not None, "no record was written"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    doc = json.loads(path.read_text())
    assert doc["status"] == "interrupted"
    statuses = [r["status"] for r in doc["records"]]
    assert statuses == ["ok", "skipped"]
    first = doc["records"][0]
    assert f"--resume {doc['run_id']}" in stdout

    resumed = cli("run", "--resume", doc["run_id"], "--out", str(out), "--no-report", "--quiet")
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stdout + stderr
    done = json.loads(path.read_text())
    assert done["status"] == "complete" and done["run_id"] == doc["run_id"]
    assert [r["status"] for r in done["records"]] == ["ok"] * 2
    assert done["records"][0] == first  # finished work is kept, not redone
    assert len(list(out.glob("*.json"))) == 1


def test_resume_refuses_a_missing_run_and_plan_options() -> None:
    out = subprocess.run([sys.executable, "-m", "enginebench", "run", "--resume", "no-such-run"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no results file results/no-such-run.json to resume" in out.stderr
    out = subprocess.run([sys.executable, "-m", "enginebench", "run", "--resume", "x", "--engines", "ray"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--resume takes its plan from the results file; drop --engines" in out.stderr


def test_cpu_sweep_writes_one_run_per_budget_and_a_scaling_report(tmp_path: Path) -> None:
    out, reports = tmp_path / "results", tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "enginebench", "run", "--engines", "local", "--cases", "noop,fanout",
                           "--cpus", "1,2", "--repeat", "2", "--out", str(out), "--report-dir", str(reports),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    assert sorted(d["plan"]["budget"]["cpus"] for d in docs) == [1, 2]
    (sweep,) = reports.glob("sweep-*/index.html")
    html = sweep.read_text()
    assert 'id="scaling"' in html and "1 CPUs" in html and "2 CPUs" in html
    assert {d["records"][0]["params"]["n"] for d in docs} == {100}  # strong scaling: the same work


def test_weak_scaling_grows_the_work_with_the_cpus(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "enginebench", "run", "--engines", "local", "--cases", "noop,latency",
                           "--cpus", "1,2", "--scaling", "weak", "--repeat", "1", "--out", str(out), "--no-report",
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by_cpus = {d["plan"]["budget"]["cpus"]: d for d in (json.loads(p.read_text()) for p in out.glob("*.json"))}
    assert by_cpus[1]["records"][0]["params"] == {"n": 100} and by_cpus[2]["records"][0]["params"] == {"n": 200}
    assert by_cpus[2]["records"][1]["params"] == {"rounds": 30}  # latency has no work size to grow
    assert by_cpus[2]["plan"]["scaling"] == "weak" and by_cpus[2]["records"][0]["status"] == "ok"


@pytest.mark.parametrize(
    ("java_says", "message"),
    [(None, "needs Java 17 (java not found on PATH or JAVA_HOME)"),
     ('java version "1.7.0_80"', "needs Java 8 or newer (Spark 3.5), found 1.7.0_80")],
)
def test_missing_or_too_old_java_makes_spark_engines_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 java_says: str | None, message: str) -> None:
    from enginebench.core.machine import java_version
    from enginebench.engines.base import EngineUnavailable
    from enginebench.engines.spark import SparkEngine

    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    if java_says is not None:  # a real executable that answers like an old JVM
        java = home / "bin" / "java"
        java.write_text(f"#!/bin/sh\necho '{java_says}' >&2\n")
        java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(home))
    java_version.cache_clear()
    try:
        with pytest.raises(EngineUnavailable, match=re.escape(message)):
            SparkEngine.check_available()
    finally:
        monkeypatch.undo()
        java_version.cache_clear()


@pytest.mark.engine
def test_killed_worker_is_recorded_with_how_the_engine_coped_and_the_plan_goes_on(tmp_path: Path) -> None:
    from enginebench.core.budget import Budget
    from enginebench.measure.runner import Runner, make_header
    from enginebench.results.records import Plan, ResultsWriter

    plan = Plan(cases={"tasks": ("fanout", "noop")}, engines=("ray", "dask", "local"),
                scale="tiny", budget=Budget(cpus=2, memory_bytes=4 * 2**30), repeat=1, warmup=1,
                fault="kill-worker")
    path = tmp_path / "run.json"
    runner = Runner(plan, ResultsWriter(path, make_header(plan, "fault-run")))
    runner.run()
    recs = {(r.engine, r.case): r for r in runner.records}
    for engine in ("ray", "dask"):  # both retry the lost tasks and still give the right answer
        rec = recs[(engine, "fanout")]
        fault = rec.notes["fault"]
        assert fault["kind"] == "kill-worker" and fault["pid"] > 0
        if fault["killed"]:
            assert rec.status == "ok" and fault["outcome"] == "recovered", (engine, fault)
            assert rec.metrics["recovery_s"] >= 0 and fault["faulted_run_s"] > 0
        else:
            assert fault["outcome"].startswith("not injected")
    local = recs[("local", "fanout")]
    if local.notes["fault"]["killed"]:  # a process pool does not survive a dead worker
        assert local.status == "error" and "after kill-worker: failed: BrokenProcessPool" in local.reason
    # after each fault the engine is restarted, so the next case runs on a healthy one
    assert all(recs[(e, "noop")].notes["fault"]["kind"] == "kill-worker" for e in ("ray", "dask", "local"))
    assert all(recs[(e, "noop")].timings_s for e in ("ray", "dask", "local"))
    assert load_run_engines(path)["ray"]["restarts"] >= 1


def load_run_engines(path: Path) -> dict:
    return json.loads(path.read_text())["engines"]


@pytest.mark.engine
def test_a_killed_engine_driver_leaves_an_error_record_and_the_other_engines_finish(tmp_path: Path) -> None:
    """Each engine runs in a driver process of its own. SIGKILL to Dask's driver in the middle of its second
    case: that case is an `error` record saying so, the driver's Dask workers are stopped by PID, Dask's
    next case runs in a fresh driver, and the local engine after it runs as if nothing happened."""
    import os

    import psutil

    from enginebench.core.budget import Budget
    from enginebench.measure.attempt import Observer
    from enginebench.measure.runner import Runner, make_header
    from enginebench.results.records import Plan, ResultsWriter

    killed: dict[str, object] = {}

    class KillDaskDriver(Observer):
        def case_phase(self, engine: str, case: str, phase: str) -> None:
            if engine != "dask" or case != "fanout" or not phase.startswith("run ") or killed:
                return
            drivers = [p for p in psutil.Process().children() if "enginebench.measure.driver" in " ".join(p.cmdline())]
            (driver,) = drivers
            killed["family"] = driver.children(recursive=True)
            killed["pid"] = driver.pid
            os.kill(driver.pid, signal.SIGKILL)

    plan = Plan(cases={"tasks": ("noop", "fanout", "latency")}, engines=("dask", "local"), scale="tiny",
                budget=Budget(cpus=2, memory_bytes=4 * 2**30), repeat=2, warmup=1)
    path = tmp_path / "run.json"
    runner = Runner(plan, ResultsWriter(path, make_header(plan, "killed-driver")), observer=KillDaskDriver())
    assert runner.drivers
    runner.run()
    recs = {(r.engine, r.case): r for r in runner.records}
    assert killed and killed["family"], "Dask's driver had started its workers"
    dead = recs[("dask", "fanout")]
    assert dead.status == "error"
    assert f"the dask driver process (pid {killed['pid']}) died during fanout: killed by SIGKILL" in dead.reason
    assert recs[("dask", "noop")].status == "ok" and recs[("dask", "latency")].status == "ok"
    assert all(recs[("local", c)].status == "ok" for c in ("noop", "fanout", "latency"))
    assert [r["status"] for r in json.loads(path.read_text())["records"]].count("ok") == 5
    family = killed["family"]
    assert isinstance(family, list)
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    engines = load_run_engines(path)
    assert engines["dask"]["status"] == "ok" and engines["dask"]["restarts"] == 1  # the fresh driver's start
    assert "died during fanout: killed by SIGKILL" in engines["dask"]["stop_error"]
