"""`enginebench export`: one CSV row per record and metric, exact round trip, and the report's data link."""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import json
import math
import re
from pathlib import Path

import pytest

from enginebench.cli.main import main
from enginebench.core.stats import describe
from enginebench.report.html import render
from enginebench.results.export import COLUMNS, csv_rows, read_csv, to_csv
from enginebench.results.records import EngineSession, Record, Run, load_run

FIXTURE = Path(__file__).parent / "fixtures" / "tasks-tiny-run.json"
PRIMARY = {"name": "tasks_per_s", "unit": "tasks/s", "higher_is_better": True}


def record(engine: str, case: str = "noop", status: str = "ok", **fields: object) -> Record:
    base: dict = dict(workload="tasks", case=case, engine=engine, api=engine, scale="tiny", status=status,
                      category="task parallelism", params={"n": 100}, budget={"cpus": 2, "memory_bytes": 2**30},
                      warmup=1, repeat=3, primary=PRIMARY, started_utc="2026-11-21T00:00:00Z",
                      resources={"peak_rss_bytes": 2**20, "cpu_utilisation": 0.5})
    if status == "ok":
        seconds = (0.1, 0.3, 0.7)
        base.update(timings_s=seconds, stats=describe(seconds), samples=tuple(100 / t for t in seconds),
                    metrics={"tasks_per_s": 100 / 0.3, "task_ms": 0.1 + 0.2, "tiny": 1e-300, "huge": math.inf,
                             "count": 7})
    base.update(fields)
    return Record(**base)


def make_run(records: list[Record], run_id: str = "r1") -> Run:
    """A run with the fixture's header (plan, machine), our run id, git commit and engine versions."""
    header = load_run(FIXTURE).header
    engines = {e: EngineSession(api=e, status="ok", versions={e: "1.2.3", "numpy": "2.0.1"} if e != "local" else {})
               for e in dict.fromkeys(r.engine for r in records)}
    return Run(header=dataclasses.replace(header, run_id=run_id, engines=engines, git={"commit": "abc123"}),
               records=records)


def sample_runs() -> list[Run]:
    first = make_run([
        record("ray"),
        record("dask", reason='odd "quoted", text\nsecond line; ünïcode'),
        record("spark", status="wrong", reason="task results: got [1], expected [0]", timings_s=(0.5, 0.6)),
        record("spark-on-ray", status="error", reason="RuntimeError: boom"),
        record("local", status="timeout", reason="exceeded the 120 s case timeout"),
        record("ray", case="latency", status="unsupported", reason="no such thing"),
        record("dask", case="latency", status="skipped", reason="interrupted"),
        # built by hand: a summary value but no per-repetition samples
        record("local", case="fanout", metrics={"tasks_per_s": 12.5, "parallel_efficiency": 0.25}, samples=()),
    ])
    second = make_run([record("ray", metrics={"tasks_per_s": 99.0}, samples=(98.0, 99.0, 100.0, 101.5))], "r2")
    return [first, second]


def rows_by_record(rows: list[dict[str, str]]) -> dict[tuple[str, ...], list[dict[str, str]]]:
    out: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for row in rows:
        out.setdefault((row["run_id"], row["workload"], row["case"], row["engine"], row["scale"]), []).append(row)
    return out


def assert_round_trip(runs: list[Run], text: str) -> None:
    """Every record is in `text` (read with csv.DictReader) with its status and exact figures."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    grouped = rows_by_record(list(reader))
    assert len(grouped) == sum(len(run.records) for run in runs)
    for run in runs:
        for rec in run.records:
            rows = grouped[(run.run_id, *rec.key[:2], rec.engine, rec.scale)]
            assert {row["status"] for row in rows} == {rec.status.value}
            assert {row["reason"] for row in rows} == {rec.reason}
            assert {row["repetitions"] for row in rows} == {str(len(rec.timings_s))}
            if not rec.metrics:
                (row,) = rows
                assert row["metric"] == row["value"] == row["median"] == "" and row["headline"] == "no"
                continue
            assert [row["metric"] for row in rows] == [rec.metric, *(m for m in rec.metrics if m != rec.metric)]
            for row in rows:
                assert float(row["value"]) == rec.metrics[row["metric"]]
            headline, *others = rows
            assert headline["headline"] == "yes" and headline["unit"] == rec.primary["unit"]
            assert headline["higher_is_better"] == ("yes" if rec.higher_is_better else "no")
            assert float(headline["median"]) == rec.headline
            assert [float(x) for x in headline["samples"].split(";") if x] == list(rec.samples)
            if rec.samples:
                assert float(headline["iqr"]) == describe(rec.samples)["iqr"]
            for row in others:
                assert row["headline"] == "no"
                assert row["median"] == row["iqr"] == row["samples"] == row["unit"] == ""


def test_every_record_appears_with_exact_figures() -> None:
    runs = sample_runs()
    text = to_csv(runs)
    assert_round_trip(runs, text)
    assert read_csv(text) == csv_rows(runs)
    rows = csv_rows(runs)
    assert len(rows) == sum(max(1, len(r.metrics)) for run in runs for r in run.records) == 18
    ray = rows[0]
    assert (ray["run_id"], ray["cpus"], ray["memory_bytes"], ray["git_commit"], ray["started_utc"]) == (
        "r1", "2", str(2**30), "abc123", "2026-11-21T00:00:00Z")
    assert ray["versions"] == "ray=1.2.3;numpy=2.0.1"
    assert ray["median"] == repr(100 / 0.3) and ray["samples"] == ";".join(repr(100 / t) for t in (0.1, 0.3, 0.7))
    by_metric = {r["metric"]: r["value"] for r in rows[:5]}
    assert by_metric == {"tasks_per_s": repr(100 / 0.3), "task_ms": "0.30000000000000004", "tiny": "1e-300",
                         "huge": "inf", "count": "7"}
    local = [r for r in rows if r["engine"] == "local"]
    assert local[0]["versions"] == "" and local[0]["status"] == "timeout"
    fanout = [r for r in local if r["case"] == "fanout"]
    assert fanout[0]["median"] == "12.5" and fanout[0]["iqr"] == fanout[0]["samples"] == ""


def test_a_recorded_run_round_trips() -> None:
    run = load_run(FIXTURE)
    text = to_csv([run])
    assert_round_trip([run], text)
    assert len(read_csv(text)) == sum(max(1, len(r.metrics)) for r in run.records)


def test_read_csv_refuses_other_files() -> None:
    with pytest.raises(ValueError, match="not an enginebench export"):
        read_csv("a,b\n1,2\n")


def test_export_command_writes_refuses_to_overwrite_and_reports_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = sample_runs()
    paths = []
    for run in runs:
        paths.append(tmp_path / f"{run.run_id}.json")
        paths[-1].write_text(json.dumps(run.to_dict()))
    out = tmp_path / "out" / "all.csv"
    assert main(["export", *map(str, paths), "--csv", str(out)]) == 0
    loaded = [load_run(p) for p in paths]
    assert out.read_text(encoding="utf-8") == to_csv(loaded)
    assert_round_trip(runs, out.read_text(encoding="utf-8"))
    assert capsys.readouterr().out == f"export: 18 rows from 9 records -> {out}\n"

    before = out.read_bytes()
    assert main(["export", str(FIXTURE), "--csv", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and err.count("\n") == 1
    assert out.read_bytes() == before
    assert main(["export", str(FIXTURE), "--csv", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8") == to_csv([load_run(FIXTURE)])
    capsys.readouterr()

    missing = tmp_path / "nope.json"
    assert main(["export", str(missing), "--csv", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1
    assert not (tmp_path / "x.csv").exists()


def test_export_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(FIXTURE), "--csv", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.out == to_csv([load_run(FIXTURE)])
    assert captured.err.startswith("export: ") and captured.err.endswith("records -> -\n")


def test_report_embeds_the_same_csv_as_a_download_link() -> None:
    runs = sample_runs()
    runs[0] = dataclasses.replace(runs[0], header=dataclasses.replace(runs[0].header, run_id='r"1<x>'))
    page = render(runs)
    links = re.findall(r'<a download="([^"]*)" href="data:text/csv;base64,([A-Za-z0-9+/=]*)">', page)
    assert len(links) == 1
    name, data = links[0]
    assert html.unescape(name) == "enginebench-combined-r2.csv"
    assert base64.b64decode(data).decode("utf-8") == to_csv(runs)
    single = render([runs[0]])
    (name,) = re.findall(r'<a download="([^"]*)"', single)
    assert name == "enginebench-r&#34;1&lt;x&gt;.csv" and html.unescape(name) == 'enginebench-r"1<x>.csv'
