"""Engine environments and releases side by side: `spark` runs PySpark 4 from an overlay environment built on
first use while `spark-on-ray` runs RayDP's PySpark 3.5 from the main one, both recorded; `ENGINE@VERSION`
runs a second release of an engine in the same comparison, labelled everywhere; a release pip cannot
install is one line, with nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from enginebench.cli.doctor import environment_findings
from enginebench.cli.main import main
from enginebench.core.budget import Budget
from enginebench.engines import environment
from enginebench.engines.environment import Environment
from enginebench.plan import registry
from enginebench.results.records import Plan, load_run

#: The previous Ray release the side-by-side test runs (its overlay holds Ray alone: about 220 MB).
RAY_BEFORE = "2.55.1"


def test_each_engine_names_its_environment_and_a_release_its_own() -> None:
    spark = registry.environment("spark")
    assert spark.name.startswith("spark-4.") and spark.pins == (f"pyspark=={spark.name.removeprefix('spark-')}",)
    assert not spark.main, "the main environment keeps RayDP's PySpark 3.5"
    assert registry.environment("spark-on-ray").main and registry.environment("ray").main
    assert registry.environment("spark@3.5.7").main, "the main environment already has PySpark 3.5.7"
    assert registry.environment(f"ray@{RAY_BEFORE}") == Environment(f"ray-{RAY_BEFORE}",
                                                                      (f"ray[data,train]=={RAY_BEFORE}",))
    assert registry.environment("dask@2025.12.0").pins == ("dask==2025.12.0", "distributed==2025.12.0")
    assert registry.parse_engines(f"ray,ray@{RAY_BEFORE},spark@3.5.7") == ("ray", f"ray@{RAY_BEFORE}", "spark@3.5.7")
    assert registry.engine_class(f"ray@{RAY_BEFORE}") is registry.engine_class("ray")
    etl = registry.workload("etl")
    assert etl.resolve("spark", "q1", "spark@3.5.7").implementation is not None  # a release runs the engine's files


def test_a_release_pip_cannot_install_is_one_line_and_nothing_is_written(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    envs, out = tmp_path / "envs", tmp_path / "out"
    monkeypatch.setenv("ENGINEBENCH_ENVS", str(envs))
    code = main(["run", "--engines", "local,dask@1999.1.1", "--workload", "tasks", "--cases", "noop",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "could not build the dask-1999.1.1 environment (dask==1999.1.1, distributed==1999.1.1)" in err
    assert not out.exists() or not list(out.iterdir())
    assert not (envs / "dask-1999.1.1").exists(), "a failed build leaves no half environment"


def test_variant_studies_of_engines_from_different_environments_are_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["variants", "--workload", "etl", "--engines", "spark,dask", "--cases", "q6", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "study them one at a time" in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


@pytest.mark.engine
def test_spark_runs_pyspark_4_from_its_own_environment_beside_pyspark_3_5_each_recorded(tmp_path: Path,
                                                                                       data_root: Path) -> None:
    """Spark's etl pipeline (the case Spark 4's ANSI mode broke) on the current PySpark in its own environment
    and on PySpark 3.5.7 (RayDP's, the main environment's, as spark-on-ray runs it), every answer checked (the
    quick comparison runs every workload on both: docs/results/versions-quick-tiny.json); the results file
    and the report say which ran where."""
    from enginebench.measure.runner import Runner, make_header
    from enginebench.report.markdown import document
    from enginebench.results.records import ResultsWriter

    def run_file(name: str, cases: dict[str, tuple[str, ...]], engines: tuple[str, ...]) -> Path:
        plan = Plan(cases=cases, engines=engines, scale="tiny", budget=Budget(cpus=2, memory_bytes=6 * 2**30),
                    repeat=1, warmup=0)
        path = tmp_path / f"{name}.json"
        runner = Runner(plan, ResultsWriter(path, make_header(plan, name)))
        runner.run()
        assert all(r.status == "ok" for r in runner.records), {(r.engine, r.case): r.reason for r in runner.records}
        assert {r.engine for r in runner.records} == set(engines)
        return path

    run = load_run(run_file("spark-4", {"etl": ("pipeline",)}, ("spark", "spark@3.5.7")))
    spark = run.header.engines["spark"]
    assert spark.versions["pyspark"].startswith("4.")
    assert spark.environment["name"] == registry.environment("spark").name
    assert spark.environment["overlay"] == [f"pyspark=={spark.versions['pyspark']}"]
    old = run.header.engines["spark@3.5.7"]  # the main environment has that release: no environment of its own
    assert old.versions["pyspark"] == "3.5.7" and old.environment["name"] == "main" and old.environment["overlay"] == []
    assert len(spark.environment["lock_sha256"]) == 64 and spark.environment["lock_sha256"] != \
        old.environment["lock_sha256"]
    report = document([run])
    assert f"pyspark differs between this run's engines: spark on {spark.versions['pyspark']}; spark@3.5.7 on 3.5.7" \
        in report


@pytest.mark.engine
def test_two_ray_releases_in_one_run_make_one_report_with_both(tmp_path: Path) -> None:
    """`--engines ray,ray@<previous>`: the previous release is built into its own environment on first use,
    both run the same cases with their answers checked, and every table labels them apart."""
    out = tmp_path / "out"
    code = main(["run", "--engines", f"ray,ray@{RAY_BEFORE}", "--workload", "tasks", "--cases", "noop,fanout",
                 "--preset", "quick", "--out", str(out), "--no-report"])
    assert code == 0
    (path,) = out.glob("*.json")
    run = load_run(path)
    assert {(r.engine, r.case, r.status) for r in run.records} == {
        (e, c, "ok") for e in ("ray", f"ray@{RAY_BEFORE}") for c in ("noop", "fanout")}
    assert run.header.engines[f"ray@{RAY_BEFORE}"].versions["ray"] == RAY_BEFORE
    assert run.header.engines["ray"].versions["ray"] != RAY_BEFORE
    assert run.header.engines[f"ray@{RAY_BEFORE}"].environment["overlay"] == [f"ray=={RAY_BEFORE}"]
    assert environment.built(registry.environment(f"ray@{RAY_BEFORE}"))
    page = tmp_path / "report.md"
    assert main(["report", str(path), "-o", str(page), "--format", "markdown"]) == 0
    text = page.read_text()
    assert f"| case | headline | ray | ray@{RAY_BEFORE} |" in text
    assert f"ray differs between this run's engines: ray on {run.header.engines['ray'].versions['ray']}; " \
           f"ray@{RAY_BEFORE} on {RAY_BEFORE}" in text
    found = {f.what: f for f in environment_findings()}
    assert found[f"environment ray-{RAY_BEFORE}"].detail.startswith(f"ray=={RAY_BEFORE} in ")
    assert found["environment of spark-on-ray"].detail.startswith("main (")
    assert found["environment of spark"].detail.startswith(f"{registry.environment('spark').name} (pyspark==4.")
