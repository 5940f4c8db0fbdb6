"""Records and results files: statistics, JSON round trip, atomic incremental writes, schema checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enginebench.core.budget import Budget
from enginebench.core.errors import UsageError
from enginebench.core.stats import describe, percentile
from enginebench.results.records import SCHEMA_VERSION, Header, Plan, Record, ResultsWriter, load_run


def make_record(**overrides: object) -> Record:
    fields: dict = dict(workload="tasks", case="noop", engine="ray", api="ray", scale="tiny", status="ok",
                        params={"n": 10}, budget={"cpus": 2, "memory_bytes": 2**30}, warmup=1, repeat=3,
                        warmup_s=(0.5,), timings_s=(0.3, 0.1, 0.2), stats=describe([0.3, 0.1, 0.2]),
                        phases={"engine_start": 2.0, "run": 0.2}, metrics={"tasks_per_s": 50.0},
                        primary={"name": "tasks_per_s", "unit": "tasks/s", "higher_is_better": True},
                        resources={"peak_rss_bytes": 123}, started_utc="2026-11-21T00:00:00Z")
    fields.update(overrides)
    return Record(**fields)


def header(run_id: str = "x") -> Header:
    plan = Plan(cases={"tasks": ("noop",)}, engines=("ray",), scale="tiny",
                budget=Budget(cpus=2, memory_bytes=2**30))
    return Header(run_id=run_id, plan=plan)


def test_describe_gives_median_quartiles_and_iqr() -> None:
    s = describe([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (s["median"], s["min"], s["max"], s["mean"]) == (3.0, 1.0, 5.0, 3.0)
    assert (s["q1"], s["q3"], s["iqr"]) == (2.0, 4.0, 2.0)
    assert s["stdev"] == pytest.approx(1.5811388)
    one = describe([7.0])
    assert one["median"] == 7.0 and one["iqr"] == 0.0 and one["stdev"] == 0.0
    assert describe([]) == {}


def test_percentile_interpolates_like_numpy() -> None:
    xs = [float(i) for i in range(1, 101)]
    assert percentile(xs, 50) == pytest.approx(50.5)
    assert percentile(xs, 99) == pytest.approx(99.01)
    assert percentile([3.0], 95) == 3.0


def test_record_round_trips_through_json(tmp_path: Path) -> None:
    rec = make_record()
    path = tmp_path / "r.json"
    writer = ResultsWriter(path, header())
    writer.add(rec)
    loaded = load_run(path)
    assert loaded.records == [rec]
    assert loaded.header == header() and json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_results_file_is_valid_after_every_record(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    writer = ResultsWriter(path, header())
    assert load_run(path).records == []
    for i in range(3):
        writer.add(make_record(case=f"c{i}"))
        assert [r.case for r in load_run(path).records] == [f"c{j}" for j in range(i + 1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_writer_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("precious")
    with pytest.raises(UsageError, match="already exists"):
        ResultsWriter(path, header())
    assert path.read_text() == "precious"


def test_invalid_status_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid status 'fast'"):
        make_record(status="fast")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not readable JSON"),
        ('{"hello": 1}', "is not an enginebench results file"),
        (json.dumps({"schema_version": 99, "records": []}), "has schema version 99"),
        (json.dumps({"schema_version": 1, "records": [{"case": "x"}]}), "has a malformed header or record"),
    ],
)
def test_bad_results_files_give_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message) as info:
        load_run(path)
    assert "\n" not in str(info.value)


def test_missing_results_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_run(tmp_path / "nope.json")


def test_a_schema_v1_file_loads_reports_and_compares(tmp_path: Path) -> None:
    from enginebench.report.compare import compare
    from enginebench.report.html import render

    fixture = Path(__file__).parent / "fixtures" / "tasks-tiny-run.json"
    assert json.loads(fixture.read_text())["schema_version"] == 1
    run = load_run(fixture)
    assert run.header.plan.workload == "tasks" and run.header.budget.cpus == 2
    assert run.header.engines["ray"].start_s and run.header.engines["local"].api == "local"
    assert {r.category for r in run.records} == {"task parallelism"}
    assert "Task parallelism:" in render([run])
    assert {c.verdict for c in compare(run, run)} <= {"too few repetitions", "too short to time", "not comparable"}
    # Headline samples are derived from the wall times of schema 1-2 records, and say so.
    ray_noop = next(r for r in run.records if (r.engine, r.case) == ("ray", "noop"))
    assert ray_noop.samples == pytest.approx([100 / t for t in ray_noop.timings_s])
    assert ray_noop.headline == pytest.approx(ray_noop.metrics["tasks_per_s"])
    assert "derived from wall times" in ray_noop.notes["samples"]
    # ... and a current file written from it reads back the same.
    path = tmp_path / "v3.json"
    ResultsWriter(path, run.header, run.records)
    again = load_run(path)
    assert again.header == run.header and again.records == run.records


def test_plan_round_trips_for_resume() -> None:
    plan = Plan(cases={"etl": ("q1", "q3")}, engines=("dask", "local"), scale="small",
                budget=Budget(cpus=4, memory_bytes=8 * 2**30), repeat=5, warmup=0, timeout_s=90.0,
                endpoints={"dask_scheduler": "tcp://10.0.0.5:8786"}, fault="kill-worker", scaling="weak")
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_a_second_stop_keeps_the_sampler_window() -> None:
    import time

    from enginebench.measure.metrics import ProcessTreeSampler

    sampler = ProcessTreeSampler(0.01).start()
    sampler.stop()
    window, samples = sampler.wall_s, sampler.samples
    time.sleep(0.1)
    sampler.stop()  # e.g. an attempt's summary, after the repetitions closed the window
    assert (sampler.wall_s, sampler.samples) == (window, samples)
