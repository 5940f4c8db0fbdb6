"""The size ladder: the fit, its intervals and held-out check, the crossover rule, the refusal to
extrapolate a bad line (on hand-built records whose true costs are known), the CLI's ladder and
--at options, and one real ladder on local and dask."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import TEST_BUDGET, run_plan

from enginebench.cli.main import main
from enginebench.core.budget import Budget
from enginebench.core.stats import describe
from enginebench.measure.runner import Runner, make_header
from enginebench.plan.plan import count, rungs, steps
from enginebench.report.content import Ask
from enginebench.report.markdown import document
from enginebench.report.model import build_model
from enginebench.results import fit as ladder
from enginebench.results.fit import EXTRAPOLATION_CAP, Fit, crossing, fit_records, parse_sizes
from enginebench.results.records import EngineSession, Header, Plan, Record, ResultsWriter, Run, load_run

#: Relative noise on hand-built repetitions: deterministic, about 2%.
JITTER = (1.0, 1.02, 0.98)


def lrec(engine: str, n: int, seconds: tuple[float, ...], case: str = "noop") -> Record:
    """A checked record of `case` at n tasks whose repetitions took `seconds`."""
    return Record(workload="tasks", case=case, engine=engine, api=engine, scale="tiny", status="ok",
                  category="task parallelism", params={"n": n}, budget={"cpus": 2, "memory_bytes": 2**30},
                  warmup=1, repeat=len(seconds), timings_s=seconds, stats=describe(seconds),
                  samples=tuple(n / t for t in seconds), resources={"cpu_utilisation": 0.5},
                  metrics={"tasks_per_s": n / sorted(seconds)[len(seconds) // 2]},
                  primary={"name": "tasks_per_s", "unit": "tasks/s", "higher_is_better": True},
                  size_param="n", size_unit="task")


def line(engine: str, fixed: float, per_unit: float, sizes: tuple[int, ...] = (1000, 2000, 4000, 8000),
         curve: float = 0.0, case: str = "noop") -> list[Record]:
    """Records on the line fixed + per_unit x n (+ curve x n^2), with JITTER."""
    return [lrec(engine, n, tuple((fixed + per_unit * n + curve * n * n) * j for j in JITTER), case) for n in sizes]


def run_of(records: list[Record]) -> Run:
    engines = sorted({r.engine for r in records})
    plan = Plan(cases={"tasks": ("noop",)}, engines=tuple(engines), scale="tiny",
                budget=Budget(cpus=2, memory_bytes=2**30), ladder=(1.0, 2.0, 4.0, 8.0))
    return Run(Header(run_id="ladder", plan=plan, created_utc="2026-11-29T00:00:00Z", status="complete",
                      engines={e: EngineSession(api=e, status="ok", start_s=1.0, baseline=e == "local")
                               for e in engines}), records)


def fitted(records: list[Record]) -> Fit:
    found = fit_records(records)
    assert found is not None
    return found


def test_the_fit_recovers_fixed_and_per_unit_cost_with_intervals_and_passes_its_held_out_check() -> None:
    f = fitted(line("ray", fixed=2.0, per_unit=1e-3))
    assert f.fixed.value == pytest.approx(2.0, rel=0.05) and f.fixed.low < 2.0 < f.fixed.high
    assert f.per_unit.value == pytest.approx(1e-3, rel=0.05) and f.per_unit.low < 1e-3 < f.per_unit.high
    assert f.points == 12 and f.sizes == (1000, 2000, 4000, 8000) and f.unit == "task"
    assert f.linear and f.r2 > 0.99 and f.max_residual < 0.05
    assert f.holdout is not None and f.holdout.size == 8000 and abs(f.holdout.error.value) < 0.05
    assert f.holdout.error.low <= f.holdout.error.value <= f.holdout.error.high
    assert f.extrapolates and f.why_not_extrapolate() == ""
    # At 8,000 tasks the call is 2 s fixed + 8 s per-unit: per-unit cost dominates; at 1,000 fixed does.
    assert f.regime(8000) == "per-unit cost" and f.regime(1000) == "fixed cost"
    p = f.predict(200_000)  # 25x beyond: as far as the cap lets a line speak
    assert p.seconds is not None and p.seconds.value == pytest.approx(202, rel=0.05) and p.factor == 25
    assert p.seconds.low < p.seconds.value < p.seconds.high


def test_a_curved_line_is_not_extrapolated_and_says_why() -> None:
    f = fitted(line("dask", fixed=0.1, per_unit=0.0, curve=1e-7))  # seconds grow with n squared
    assert not f.linear and not f.extrapolates
    refused = f.predict(80_000)
    assert refused.seconds is None and "the line does not fit" in refused.refused
    assert f.predict(3000).seconds is None  # not even inside the ladder: the line is wrong there too


def test_a_line_that_misses_its_held_out_size_may_interpolate_but_not_extrapolate() -> None:
    # The largest size flattens: 10.5 s where the smaller three's line says 13 s; the whole line still fits.
    records = line("spark", fixed=5.0, per_unit=1e-3, sizes=(1000, 2000, 4000)) + \
        [lrec("spark", 8000, tuple(10.5 * j for j in JITTER))]
    f = fitted(records)
    assert f.linear and f.holdout is not None and not f.holdout.ok
    assert f.holdout.error.value > ladder.HOLDOUT_BOUND  # the smaller sizes' line predicted too much
    assert f.predict(5000).seconds is not None
    beyond = f.predict(100_000)
    assert beyond.seconds is None and "held-out size was predicted" in beyond.refused


def test_a_per_unit_cost_hidden_in_start_up_noise_is_not_resolved_and_not_carried_beyond_the_ladder() -> None:
    # Ray Train's shape: 24 s to start, give or take a second, one repetition per size, and the
    # training itself 0.34 ms per image: across 2,048 to 16,384 images the time grows by less than the
    # start-up's noise, and the measured order at the largest size cannot say where it flips.
    noise = {2048: 0.8, 4096: -0.6, 8192: 0.5, 16384: -0.7}
    ray = fitted([lrec("ray", n, (24 + 3.4e-4 * n + e,)) for n, e in noise.items()])
    dask = fitted([lrec("dask", n, tuple((0.3 + 3.4e-4 * n) * j for j in JITTER)) for n in noise])
    assert ray.linear and not ray.resolved and dask.resolved
    assert "per-unit cost is not resolved" in ray.why_not_extrapolate()
    assert ray.predict(1_000_000).seconds is None and ray.predict(10_000).seconds is not None  # inside: yes
    x = crossing(ray, dask)
    assert x is None or (not x.named and "ray's per-unit cost is not resolved" in x.why)


def test_a_ladder_needs_four_sizes_and_no_prediction_passes_the_cap() -> None:
    assert fit_records(line("ray", 1.0, 1e-3, sizes=(1000, 2000, 4000))) is None
    f = fitted(line("ray", 1.0, 1e-3))
    far = f.predict(8000 * EXTRAPOLATION_CAP * 2)
    assert far.seconds is None and "cap" in far.refused
    assert f.predict(8000 * EXTRAPOLATION_CAP).seconds is not None


def test_crossovers_are_named_measured_or_extrapolated_and_refused_beyond_the_cap() -> None:
    # ray: 10 s fixed, 1 ms per task; local: 0.1 s fixed, 3 ms per task: they cross at 4,950 tasks.
    ray, local = fitted(line("ray", 10.0, 1e-3)), fitted(line("local", 0.1, 3e-3))
    x = crossing(ray, local)
    assert x is not None and x.named and x.measured and x.leader == "ray" and x.other == "local"
    assert x.size.value == pytest.approx(4950, rel=0.1) and x.size.low < 4950 < x.size.high
    assert "ray overtakes local on noop from about n" in x.text() and "inside the sizes measured" in x.text()
    # Measured at 100 to 800 tasks: the same lines cross 6.2x beyond the ladder.
    small = (100, 200, 400, 800)
    x = crossing(fitted(line("ray", 10.0, 1e-3, small)), fitted(line("local", 0.1, 3e-3, small)))
    assert x is not None and x.named and not x.measured and x.factor == pytest.approx(6.2, rel=0.1)
    assert "extrapolated 6.2x beyond the largest size measured" in x.text()
    # Per-unit costs 1.0 and 1.001 ms: they would cross at about 10 million tasks, beyond the cap.
    x = crossing(fitted(line("ray", 10.0, 1.0e-3)), fitted(line("local", 0.1, 1.001e-3)))
    assert x is not None and not x.named and "cap" in x.why
    # One engine cheaper on both terms: no crossing at all.
    assert crossing(fitted(line("ray", 1.0, 1e-3)), fitted(line("local", 0.1, 1e-4))) is None


def test_a_line_with_a_fixed_cost_below_zero_says_nothing_below_its_ladder() -> None:
    # Ray's noop to 10^5 tasks (docs/results/ladder-tasks-100k.json): its time grows a little faster than the
    # size, the line's fixed cost is -3 s, and carried down it meets the one process's line at about 3,000
    # tasks, 4x below the smallest size measured, where Ray's line says 0 seconds. Neither is said.
    big = (12_500, 25_000, 50_000, 100_000)
    ray, local = fitted(line("ray", -3.0, 1e-3, big)), fitted(line("local", 1e-3, 4e-8, big))
    assert ray.extrapolates and ray.fixed.high < 0 and not ray.carries_below and local.carries_below
    below = ray.predict(6_000)
    assert below.seconds is None and "fixed cost is below zero" in below.refused
    assert ray.predict(20_000).seconds is not None and ray.predict(400_000).seconds is not None
    assert local.predict(6_000).seconds is not None
    x = crossing(ray, local)
    assert x is not None and x.size.value == pytest.approx(3_000, rel=0.1) and not x.named
    assert "below the sizes measured, and ray: its fixed cost is below zero" in x.why


def test_a_crossover_is_not_named_when_the_order_of_the_costs_is_not_resolved() -> None:
    # Per-unit costs differ by 2%, well inside 30% noise: the bootstrap pairs disagree about crossing.
    noisy = (1.0, 1.3, 0.7)
    a = [lrec("ray", n, tuple((1.0 + 1.00e-3 * n) * j for j in noisy)) for n in (1000, 2000, 4000, 8000)]
    b = [lrec("dask", n, tuple((0.9 + 1.02e-3 * n) * j for j in noisy)) for n in (1000, 2000, 4000, 8000)]
    fa, fb = fitted(a), fitted(b)
    x = crossing(fa, fb)
    assert x is None or not x.named


def test_the_report_names_the_regime_and_answers_a_size_the_user_asks_for() -> None:
    run = run_of(line("ray", 10.0, 1e-3) + line("dask", 1.0, 2e-3) + line("local", 0.01, 1e-2))
    model = build_model([run], ask=Ask(at=parse_sizes("n=200000")))
    assert {f.engine for f in model.fits} == {"ray", "dask", "local"}
    verdict = model.verdicts["task parallelism"]
    assert "at the largest size measured fixed cost is most of the time on 1 of 3" in verdict
    assert "ray on noop: 10 s fixed" in verdict
    (asked,) = model.asked
    assert asked.size == 200_000 and [f.engine for f, _ in asked.order] == ["ray", "dask", "local"]
    # 25x out, every prediction carries the far-out band (50%): ray's 210 s and dask's 401 s are 1.9x apart,
    # not enough to tell apart ([140 s, 420 s] against [267 s, 802 s]); dask and local (5x) are.
    assert not asked.separated(0) and asked.separated(1)
    text = document([run], ask=Ask(at=parse_sizes("25x")))
    assert "## Size ladder" in text and "## At your size" in text and "n 200,000" in text
    assert "ray overtakes dask on noop from about n 9,000" in text


@pytest.mark.parametrize(("text", "message"), [
    ("1x,2x,4x", "3 distinct sizes"),
    ("1,2,4,8", "'1' is not a factor"),
    ("1x,2x,-4x,8x", "'-4x' is not a positive number"),
])
def test_bad_ladders_get_one_line_errors(text: str, message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--workload", "tasks", "--ladder", text, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("args", "message"), [
    (["--workload", "tasks", "--ladder", "sf=0.01,0.02,0.05,0.1"], "tasks/noop (n), tasks/fanout (n)"),
    (["--workload", "tasks", "--ladder", "1x,2x,4x,8x", "--scale", "tiny,small"], "--ladder runs at one scale"),
    (["--workload", "tasks", "--cases", "noop", "--ladder", "1x,1.001x,1.002x,1.003x"],
     "tasks/noop has 1 distinct sizes of n once rounded"),
])
def test_ladders_the_plan_cannot_run_get_one_line_errors(args: list[str], message: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_report_at_prints_predictions_and_refuses_files_without_a_ladder(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ladder.json"
    path.write_text(json.dumps(run_of(line("ray", 10.0, 1e-3) + line("dask", 1.0, 2e-3)).to_dict()))
    assert main(["report", str(path), "-o", str(tmp_path / "r.html"), "--at", "n=2e5"]) == 0
    out = capsys.readouterr().out
    assert "tasks noop at n 200,000, predicted seconds per call, core-seconds; fastest first:" in out
    assert out.index("  ray ") < out.index("  dask ")
    html = (tmp_path / "r.html").read_text()
    assert 'id="ladder"' in html and 'id="at-your-size"' in html
    # a workload's own size wins over the plain parameter (cnn and gbdt both size by n_train)
    assert main(["report", str(path), "-o", str(tmp_path / "q.html"), "--at", "n=1e3,tasks.n=3e5,etl.n=5"]) == 0
    assert "tasks noop at n 300,000, predicted" in capsys.readouterr().out
    assert main(["report", str(path), "-o", str(tmp_path / "s.html"), "--at", "sf=100"]) == 2
    assert "no laddered case has a size parameter among sf (accepted: n, tasks.n, or" in capsys.readouterr().err
    assert not (tmp_path / "s.html").exists(), "a refused --at writes no report"
    with pytest.raises(SystemExit):
        main(["report", str(path), "--at", "lots"])
    assert "needs a parameter or an x" in capsys.readouterr().err


def test_rungs_scale_the_size_parameter_and_keep_whole_numbers_whole() -> None:
    assert [p["n"] for p in rungs({"n": 100, "size": 7}, "n", (1, 2.5, 4, 8))] == [100, 250, 400, 800]
    assert [p["sf"] for p in rungs({"sf": 0.01}, "sf", (1, 2, 5, 10))] == [0.01, 0.02, 0.05, 0.1]
    assert [p["sf"] for p in rungs({"sf": 0.01}, "sf", (0.02, 0.05, 0.1, 0.2), "sf")] == [0.02, 0.05, 0.1, 0.2]
    assert rungs({"rounds": 30}, "n", (1, 2, 4, 8)) == [{"rounds": 30}]  # no such parameter: run once
    assert rungs({"n": 100}, "n", ()) == [{"n": 100}]


def test_a_real_ladder_on_local_and_dask_fits_lines_and_resumes_without_rerunning(tmp_path: Path) -> None:
    runner, path = run_plan(tmp_path, "tasks", ("local", "dask"), cases=("noop", "latency"), repeat=2,
                            ladder=(1.0, 2.0, 4.0, 8.0))
    records = runner.records
    assert len(records) == 16 and all(r.status == "ok" for r in records), [r.reason for r in records]
    assert sorted({r.params["n"] for r in records if r.case == "noop"}) == [100, 200, 400, 800]
    assert sorted({r.params["rounds"] for r in records if r.case == "latency"}) == [30, 60, 120, 240]
    model = build_model([load_run(path)], allow_noisy=True)
    lines = {(f.engine, f.case): f for f in model.fits}
    dask = lines[("dask", "latency")]
    # Each round trip is one dask task submitted and awaited: its per-unit cost is that latency.
    p50 = sorted(r.metrics["p50_ms"] for r in records if r.engine == "dask" and r.case == "latency")
    assert p50[0] / 2 <= dask.per_unit.value * 1e3 <= p50[-1] * 2
    assert dask.per_unit.low > 0 and dask.holdout is not None and dask.unit == "round trip"
    assert math.isfinite(lines[("dask", "noop")].per_unit.value) and lines[("dask", "noop")].per_unit.low > 0
    assert "Size ladder" in document([load_run(path)], allow_noisy=True)
    # Resumed: every (engine, case, size) is in the file, so nothing runs again.
    writer = ResultsWriter.resume(path)
    again = Runner(writer.run.header.plan, writer, workloads=None).run()
    assert again == [] and len(load_run(path).records) == 16


def test_plan_attempts_count_every_rung() -> None:
    plan = Plan(cases={"tasks": ("noop", "latency")}, engines=("local", "dask"), scale="tiny", budget=TEST_BUDGET,
                ladder=(1.0, 2.0, 4.0, 8.0))
    assert count(plan) == 16
    assert len({s.size for s in steps(plan) if s.case == "noop"}) == 4
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))).ladder == (1.0, 2.0, 4.0, 8.0)
    assert make_header(plan, "x").plan.ladder == (1.0, 2.0, 4.0, 8.0)


def test_a_cpu_sweep_gets_the_same_treatment_serial_and_parallel_work_with_a_held_out_budget() -> None:
    import dataclasses

    records = []
    for engine, serial, work in (("ray", 0.5, 8.0), ("dask", 4.0, 2.0)):
        for cpus in (1, 2, 4, 8):
            r = lrec(engine, 1000, tuple((serial + work / cpus) * j for j in JITTER))
            records.append(dataclasses.replace(r, budget={"cpus": cpus, "memory_bytes": 2**30}))
    model = build_model([run_of(records)])
    lines = {a.line.engine: a for a in model.amdahl}
    ray, dask = lines["ray"], lines["dask"]
    assert ray.cpus == (1, 2, 4, 8) and ray.serial.value == pytest.approx(0.5, rel=0.2)
    assert ray.work.value == pytest.approx(8.0, rel=0.05) and ray.line.holdout is not None
    assert ray.line.holdout.size == pytest.approx(1 / 8)  # the largest budget, predicted from 1, 2 and 4 CPUs
    assert ray.predict(16).seconds is not None and ray.predict(16).seconds.value == pytest.approx(1.0, rel=0.1)
    assert dask.speedup_limit() == pytest.approx(1.5, rel=0.1) and dask.serial_share(8) > 0.5
    verdict = model.verdicts["task parallelism"]
    assert "By CPUs (serial + work / CPUs, 2 engine lines): at the largest budget the serial part is most of " \
           "the time on 1 of 2" in verdict
    assert "dask on noop has 4" in verdict and "more than 1.5x faster than on one" in verdict


def test_a_docs_ladder_block_renders_from_a_ladder_and_refuses_a_file_without_one(tmp_path: Path) -> None:
    import shutil

    from enginebench.core.errors import UsageError
    from enginebench.report import docs

    (tmp_path / "ladder.json").write_text(json.dumps(run_of(line("ray", 10.0, 1e-3) + line("dask", 1.0, 2e-3))
                                                     .to_dict()))
    shutil.copy(Path(__file__).parents[1] / "docs" / "results" / "quick-tiny.json", tmp_path / "quick.json")
    page = tmp_path / "page.md"
    page.write_text("<!-- enginebench:generate ladder from=ladder.json workload=tasks -->\n<!-- enginebench:end -->\n")
    docs.stale([page], write=True)
    text = page.read_text()
    assert "| ray | 4 (12 reps) |" in text and "ray overtakes dask on noop from about n 9," in text
    assert "Generated from [`ladder.json`](ladder.json)" in text
    page.write_text("<!-- enginebench:generate ladder from=quick.json -->\n<!-- enginebench:end -->\n")
    with pytest.raises(UsageError, match="no ladder"):
        docs.stale([page], write=True)
