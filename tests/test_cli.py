"""The command line: light `list`, one-line errors with exit code 2, a full local run, doctor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent


def enginebench(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_list_shows_cases_engines_and_scale_parameters_without_importing_engines() -> None:
    code = ("import sys; from harness.cli import main; rc = main(['list']); "
            "heavy = [m for m in ('ray', 'pyspark', 'torch', 'dask', 'distributed', 'raydp') if m in sys.modules]; "
            "print('HEAVY', heavy); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
    for word in ("noop", "fanout", "tree-reduce", "actors", "latency", "object-transfer",
                 "ray", "dask", "spark-on-ray", "spark", "local", "tiny", "small", "medium", "large", "n=100"):
        assert word in out.stdout


def test_help_does_not_import_engines() -> None:
    code = ("import sys\nfrom harness.cli import main\n"
            "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', [m for m in ('ray', 'pyspark', 'torch', 'dask') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "HEAVY []" in out.stdout and "--engines" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--engines", "ray,flink"], "unknown engine 'flink' (accepted: ray, dask, spark-on-ray, spark, local)"),
        (["run", "--cases", "noop,sleep"], "unknown case of workload 'tasks' 'sleep' (accepted: noop, fanout,"),
        (["run", "--scale", "huge"], "unknown scale 'huge' (accepted: tiny, small, medium, large)"),
        (["run", "--workload", "graphs"], "unknown workload 'graphs' (accepted: tasks, etl, cnn)"),
        (["run", "--cpus", "0"], "invalid CPU count 0 (accepted: an integer from 1 to 4096)"),
        (["run", "--cpus", "many"], "invalid CPU count 'many'"),
        (["run", "--repeat", "-1"], "invalid repeat count -1"),
        (["run", "--repeat", "1000000"], "invalid repeat count 1000000"),
        (["run", "--warmup", "x"], "invalid warm-up count 'x'"),
        (["run", "--timeout", "0"], "invalid timeout '0'"),
        (["run", "--memory", "lots"], "invalid memory size 'lots'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_gets_one_line_error_and_exit_code_2(args: list[str], message: str, tmp_path: Path) -> None:
    out = enginebench(*args, "--out", str(tmp_path)) if args[0] == "run" else enginebench(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert not list(tmp_path.iterdir()), "nothing may be written on bad input"


def test_out_path_that_is_a_file_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "results"
    target.write_text("keep me")
    out = enginebench("run", "--engines", "local", "--out", str(target))
    assert out.returncode == 2 and "is a file" in out.stderr
    assert target.read_text() == "keep me"


def test_run_on_local_writes_a_results_file_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "--engines", "local", "--scale", "tiny", "--repeat", "2", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1
    out = capsys.readouterr().out
    assert f"results: {files[0]}" in out.replace("\n", "")
    assert "enginebench summary" in out and "engine start" in out
    doc = json.loads(files[0].read_text())
    assert [r["case"] for r in doc["records"]] == ["noop", "fanout", "tree-reduce", "actors", "latency",
                                                    "object-transfer"]
    assert all(r["status"] == "ok" for r in doc["records"])


def test_doctor_reports_every_engine_package_and_java() -> None:
    out = enginebench("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    for word in ("python", "java", "ray", "dask", "distributed", "pyspark", "raydp", "/dev/shm", "memory"):
        assert word in out.stdout
