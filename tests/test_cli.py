"""The command line: light `list`, one-line errors with exit code 2, a full local run, doctor, and the
options and subcommands that engines and workloads declare for themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from enginebench.cli.main import main
from enginebench.plan import registry
from enginebench.results.records import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent


def enginebench(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "enginebench", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_list_shows_cases_engines_and_scale_parameters_without_importing_engines() -> None:
    code = ("import sys; from enginebench.cli.main import main; rc = main(['list']); "
            "heavy = [m for m in ('ray', 'pyspark', 'torch', 'dask', 'distributed', 'raydp') if m in sys.modules]; "
            "print('HEAVY', heavy); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
    for word in ("noop", "fanout", "tree-reduce", "actors", "latency", "object-transfer",
                 "ray", "dask", "spark-on-ray", "spark", "local", "tiny", "small", "medium", "large", "n=100"):
        assert word in out.stdout
    # Piped, a long description stays on one line (it used to wrap at 80 columns mid-sentence).
    fanout = registry.workload("tasks").case("fanout").description
    assert any(line.strip().startswith(f"fanout: {fanout} (headline") for line in out.stdout.splitlines())


def test_help_does_not_import_engines_and_offers_each_engines_endpoint_option() -> None:
    code = ("import sys\nfrom enginebench.cli.main import main\n"
            "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', [m for m in ('ray', 'pyspark', 'torch', 'dask') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "HEAVY []" in out.stdout and "--engines" in out.stdout
    flags = {cls.endpoint.flag for cls in registry.engine_classes() if cls.endpoint}
    assert flags == {"--ray-address", "--dask-scheduler", "--spark-master"}  # spark-on-ray shares --ray-address
    for flag in flags:
        assert f"{flag} {flag[2:].replace('-', '_').upper()}" in out.stdout


def test_data_commands_are_found_beside_each_workloads_spec(capsys: pytest.CaptureFixture[str],
                                                            request: pytest.FixtureRequest) -> None:
    assert list(registry.data_commands()) == ["tpch", "cifar10", "higgs-like"]  # etl, cnn and gbdt one each
    request.getfixturevalue("sample_registered")  # a user's folder may declare data commands too
    assert main(["data", "sample", "--rows", "3"]) == 0
    assert capsys.readouterr().out == "sample data: 3 rows\n"
    with pytest.raises(SystemExit) as info:
        main(["data", "sample", "--sf", "1"])  # another data set's flag: argparse's one-line error
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --sf 1" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--engines", "ray,flink"],
         "unknown engine 'flink' (accepted: ray, dask, spark-on-ray, spark, daft, local)"),
        (["run", "--engines", "ray@"], "engine release 'ray@' has no version after '@' (accepted: ENGINE@VERSION"),
        (["run", "--engines", "flink@1.0"], "unknown engine 'flink' (accepted: ray, dask,"),
        (["run", "--workload", "tasks", "--cases", "noop,sleep"],
         "unknown case of workload 'tasks' 'sleep' (accepted: noop, fanout,"),
        (["run", "--cases", "noop,sleep"], "unknown case 'sleep' (accepted: tasks/noop, tasks/fanout,"),
        (["run", "--workload", "tasks,sql"], "unknown workload 'sql' (accepted: tasks, etl, cnn, inference, tune, "
         "gbdt, serve, a folder with a spec.py, a dotted module)"),
        (["run", "--scale", "tiny,huge"], "unknown scale 'huge' (accepted: tiny, small, medium, large)"),
        (["run", "--scale", "huge"], "unknown scale 'huge' (accepted: tiny, small, medium, large)"),
        (["run", "--workload", "graphs"], "unknown workload 'graphs' (accepted: tasks, etl, cnn, inference, "
         "tune, gbdt, serve, a folder with a spec.py, a dotted module)"),
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
def test_bad_input_gets_one_line_error_and_exit_code_2(args: list[str], message: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*args, "--out", str(tmp_path)] if args[0] == "run" else args
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's errors
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir()), "nothing may be written on bad input"


def test_bad_input_from_the_shell_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    out = enginebench("run", "--engines", "ray,flink", "--out", str(tmp_path))
    assert out.returncode == 2 and "unknown engine 'flink'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_out_path_that_is_a_file_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "results"
    target.write_text("keep me")
    out = enginebench("run", "--engines", "local", "--out", str(target))
    assert out.returncode == 2 and "is a file" in out.stderr
    assert target.read_text() == "keep me"


def test_run_on_local_writes_a_results_file_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "--workload", "tasks", "--engines", "local", "--scale", "tiny", "--repeat", "2",
               "--out", str(tmp_path), "--quiet", "--report-dir", str(tmp_path / "reports")])
    assert rc == 0
    assert len(list((tmp_path / "reports").glob("*/index.html"))) == 1
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1
    out = capsys.readouterr().out
    assert f"results: {files[0]}" in out.replace("\n", "")
    assert f"engine output: {files[0].with_suffix('.log')}" in out.replace("\n", "")
    assert files[0].with_suffix(".log").exists()
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


def test_doctor_asks_every_engine_for_its_checks_and_reports_each_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from enginebench.cli import doctor
    from enginebench.engines.base import Finding
    from enginebench.engines.local import LocalEngine

    class Missing(LocalEngine):
        packages = ("enginebench_no_such_package", "numpy")

    class Gadget(Missing):
        @classmethod
        def doctor_checks(cls, import_packages: bool = True) -> list[Finding]:
            return [*super().doctor_checks(import_packages), Finding("warn", "gadget", "older than tested")]

    monkeypatch.setattr(doctor.registry, "engine_classes", lambda: [Missing, Gadget])
    findings = doctor.diagnose(import_engines=False)
    whats = [f.what for f in findings]
    assert whats[0] == "python" and whats[1:4] == ["enginebench_no_such_package", "numpy", "gadget"]
    assert whats[4] == "memory" and whats[-1] == "disk"
    missing = findings[1]
    assert missing.level == "fail" and missing.detail == "not installed: pip install 'enginebench_no_such_package'"
    assert findings[3] == Finding("warn", "gadget", "older than tested")


def test_one_run_covers_several_workloads_and_a_scale_list_makes_a_size_sweep(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], data_root: Path) -> None:
    rc = main(["run", "--workload", "tasks,etl", "--cases", "noop,etl/q6", "--engines", "local",
               "--scale", "small,tiny", "--repeat", "1", "--warmup", "0", "--out", str(tmp_path / "res"),
               "--report-dir", str(tmp_path / "rep"), "--allow-noisy"])
    assert rc == 0
    out = capsys.readouterr().out
    files = sorted((tmp_path / "res").glob("*.json"))
    assert len(files) == 2 and "sweep 1 of 2: scale tiny" in out and "sweep 2 of 2: scale small" in out
    for path, scale in zip(files, ("tiny", "small"), strict=True):
        doc = json.loads(path.read_text())
        assert doc["schema_version"] == SCHEMA_VERSION and doc["plan"]["scale"] == scale
        assert doc["plan"]["cases"] == {"tasks": ["noop"], "etl": ["q6"]}
        assert [(r["workload"], r["case"], r["status"]) for r in doc["records"]] == [("tasks", "noop", "ok"),
                                                                                     ("etl", "q6", "ok")]
        assert {r["size_param"] for r in doc["records"]} == {"n", "sf"}
        assert path.with_suffix(".log").exists()
    report = next((tmp_path / "rep").glob("sweep-*/index.html")).read_text()
    assert 'id="sizes"' in report and "etl q6" in report


#: Lines engines print on their own: none of them may reach the terminal of a run.
ENGINE_CHATTER = ("Setting default log level", "StatusConsoleListener", "gcs_client", "log4j", "WARN ", " INFO ",
                  "WARNING", "Warning", "setLogLevel", "NativeCodeLoader")


@pytest.mark.engine
def test_engine_output_goes_to_the_run_log_not_the_terminal(tmp_path: Path) -> None:
    out = enginebench("run", "--workload", "tasks", "--cases", "noop", "--engines", "spark,ray", "--repeat", "1",
                      "--warmup", "0", "--out", str(tmp_path), "--no-report")
    assert out.returncode == 0, out.stdout + out.stderr
    terminal = [line for line in (out.stdout + out.stderr).splitlines()
                if not line.startswith("warning: the machine is busy")]  # ours, when the test machine is busy
    chatter = [line for line in terminal if any(word in line for word in ENGINE_CHATTER)]
    assert not chatter, chatter
    (log,) = tmp_path.glob("*.log")
    assert f"engine output: {log}" in out.stdout.replace("\n", "")
    assert "Setting default log level" in log.read_text()  # Spark's JVM wrote there, through the inherited fd
