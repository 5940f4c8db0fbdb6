"""The runner: every attempt yields one record; failures, timeouts and wrong answers are isolated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_plan
from sample_workload import local as sample_local
from sample_workload.spec import WORKLOAD as SAMPLE

from enginebench.contract.spec import Staged
from enginebench.core.budget import Budget
from enginebench.engines.base import Engine, EngineUnavailable
from enginebench.plan import registry
from enginebench.results.records import SCHEMA_VERSION, load_run


def by_case(runner: object) -> dict:
    return {r.case: r for r in runner.records}  # type: ignore[attr-defined]


def test_repetitions_and_warmup_are_counted_and_timed_apart(tmp_path: Path) -> None:
    sample_local.CALLS.clear()
    runner, _ = run_plan(tmp_path, SAMPLE, ("local",), ("good",), repeat=3, warmup=2)
    rec = by_case(runner)["good"]
    assert rec.status == "ok", rec.reason
    assert sample_local.CALLS["good"] == 5
    assert len(rec.warmup_s) == 2 and len(rec.timings_s) == 3
    assert rec.stats["n"] == 3 and rec.stats["median"] == sorted(rec.timings_s)[1]
    assert rec.phases["run"] == rec.stats["median"]
    assert set(rec.phases) >= {"engine_start", "inputs", "run", "check"}
    assert rec.metrics["per_s"] == pytest.approx(1 / rec.stats["median"])
    assert rec.resources["peak_rss_bytes"] > 0 and rec.resources["samples"] >= 2
    assert rec.notes == {"implementation": "a plain call"}


def test_a_case_whose_warmup_overruns_the_time_box_gets_one_timed_repetition(tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, SAMPLE, ("local",), ("good",), repeat=3, warmup=1, long_s=0.0)
    (boxed,) = runner.records
    assert boxed.status == "ok" and len(boxed.timings_s) == 1 and boxed.repeat == 1 and len(boxed.samples) == 1
    assert boxed.notes["repetitions"].startswith("1 of 3: the first warm-up took")
    runner, _ = run_plan(tmp_path / "roomy", SAMPLE, ("local",), ("good",), repeat=3, warmup=1, long_s=3600.0)
    (full,) = runner.records
    assert len(full.timings_s) == 3 and full.repeat == 3 and "repetitions" not in full.notes


def test_wrong_answer_is_recorded_as_wrong_with_no_figures(tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, SAMPLE, ("local",), ("wrong", "good"))
    recs = by_case(runner)
    assert recs["wrong"].status == "wrong"
    assert "doubled value: got 43, expected 42" in recs["wrong"].reason
    assert recs["wrong"].metrics == {}
    assert recs["good"].status == "ok"


def test_error_in_one_case_is_recorded_and_the_next_case_runs(tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, SAMPLE, ("local",), ("boom", "good"))
    recs = by_case(runner)
    assert recs["boom"].status == "error"
    assert recs["boom"].reason == "warm-up 1/1: ValueError: kaboom"
    assert "Traceback" in recs["boom"].detail and "kaboom" in recs["boom"].detail
    assert recs["good"].status == "ok"


def test_timeout_is_recorded_and_next_case_runs_on_a_restarted_engine(tmp_path: Path) -> None:
    runner, path = run_plan(tmp_path, SAMPLE, ("local",), ("sleepy", "good"))
    recs = by_case(runner)
    assert recs["sleepy"].status == "timeout"
    assert recs["sleepy"].reason == "exceeded the 1 s case timeout during warm-up 1/1"
    assert recs["good"].status == "ok"
    session = load_run(path).header.engines["local"]
    assert session.restarts == 1 and session.status == "ok"


def test_plan_timeout_overrides_the_case_timeout(tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, SAMPLE, ("local",), ("sleepy",), timeout_s=0.5)
    assert by_case(runner)["sleepy"].reason.startswith("exceeded the 0.5 s case timeout")


def test_unsupported_cases_carry_a_reason_and_start_no_engine(tmp_path: Path) -> None:
    runner, path = run_plan(tmp_path, SAMPLE, ("local",), ("missing", "absent"))
    recs = by_case(runner)
    assert recs["missing"].status == "unsupported"
    assert recs["missing"].reason == "local cannot express this case"
    assert recs["absent"].status == "unsupported"
    assert "no implementation of 'absent'" in recs["absent"].reason
    assert load_run(path).header.engines["local"].status == "not needed"


class BrokenEngine(Engine):
    """A real lifecycle whose start fails, as a misconfigured engine's would."""

    name = "broken"
    api = "local"
    description = "fails to start"

    def _start(self) -> object:
        raise RuntimeError("cannot bind port 1234")

    def _stop(self) -> None:
        BrokenEngine.stopped = True


class UninstalledEngine(Engine):
    name = "uninstalled"
    api = "local"
    description = "needs a package that is not installed"
    packages = ("enginebench_no_such_package",)

    def _start(self) -> object:
        raise AssertionError("must not start")

    def _stop(self) -> None:
        pass


@pytest.fixture
def extra_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.ENGINES, "broken", f"{__name__}:BrokenEngine")
    monkeypatch.setitem(registry.ENGINES, "uninstalled", f"{__name__}:UninstalledEngine")


def test_engine_that_fails_to_start_is_stopped_recorded_and_the_plan_goes_on(
    tmp_path: Path, extra_engines: None
) -> None:
    BrokenEngine.stopped = False
    runner, path = run_plan(tmp_path, SAMPLE, ("broken", "local"), ("good",))
    recs = {(r.engine, r.case): r for r in runner.records}
    assert recs[("broken", "good")].status == "error"
    assert recs[("broken", "good")].reason == "engine failed to start: RuntimeError: cannot bind port 1234"
    assert BrokenEngine.stopped
    assert recs[("local", "good")].status == "ok"
    header = load_run(path).header
    assert header.engines["broken"].status == "error"
    assert header.status == "complete"


def test_missing_engine_package_gives_an_install_hint(tmp_path: Path, extra_engines: None) -> None:
    with pytest.raises(EngineUnavailable, match="pip install 'enginebench_no_such_package'"):
        UninstalledEngine.check_available()
    runner, _ = run_plan(tmp_path, SAMPLE, ("uninstalled",), ("good",))
    rec = runner.records[0]
    assert rec.status == "error" and rec.reason.startswith("engine unavailable: engine 'uninstalled' needs")


def test_results_file_is_complete_json_with_machine_software_budget_and_plan(tmp_path: Path) -> None:
    runner, path = run_plan(tmp_path, SAMPLE, ("local",), ("good", "wrong"))
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION and doc["run_id"] == "test-run" and doc["status"] == "complete"
    assert doc["machine"]["logical_cpus"] >= 1 and doc["machine"]["memory_bytes"] > 0
    assert doc["software"]["python"].startswith("3.")
    assert doc["plan"]["budget"] == {"cpus": 2, "memory_bytes": 4 * 2**30}
    assert doc["plan"]["cases"] == {"sample": ["good", "wrong"]} and doc["plan"]["engines"] == ["local"]
    assert doc["engines"]["local"]["start_s"] > 0 and doc["engines"]["local"]["stop_s"] >= 0
    assert [r["status"] for r in doc["records"]] == ["ok", "wrong"]
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_budget_rejects_impossible_values() -> None:
    from enginebench.core.errors import UsageError

    with pytest.raises(UsageError, match="invalid CPU count 0"):
        Budget(cpus=0, memory_bytes=2**30)
    with pytest.raises(UsageError, match="at least 256m"):
        Budget(cpus=1, memory_bytes=1000)


def test_every_answer_is_checked_right_after_its_repetition(tmp_path: Path) -> None:
    sample_local.CALLS.clear()
    runner, _ = run_plan(tmp_path, SAMPLE, ("local",), ("flaky",), repeat=3, warmup=1)
    rec = by_case(runner)["flaky"]
    assert rec.status == "wrong" and rec.reason == "run 1/3: doubled value: got 43, expected 42"
    assert sample_local.CALLS["flaky"] == 2, "the plan stops at the first wrong answer"
    assert rec.checks == 2 and rec.warmup_s and len(rec.timings_s) == 1


def test_staged_setup_runs_once_per_attempt_as_its_own_phase(tmp_path: Path) -> None:
    sample_local.CALLS.clear()
    runner, _ = run_plan(tmp_path, SAMPLE, ("local",), ("staged",), repeat=3, warmup=1)
    rec = by_case(runner)["staged"]
    assert rec.status == "ok", rec.reason
    assert (sample_local.CALLS["load"], sample_local.CALLS["staged"]) == (1, 4)
    assert rec.phases["setup"] >= 0.2 and max(rec.timings_s) < 0.2, "setup is outside the timed runs"
    assert rec.checks == 4
    assert sample_local.CALLS["unload"] == 1 and "teardown" in rec.phases


def test_a_staged_teardown_runs_after_a_failure_and_its_own_error_is_recorded(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: object, params: object, data: object) -> int:
        raise RuntimeError("the run broke")

    def broken_unload(ctx: object, params: object, data: object) -> None:
        raise OSError("the server would not stop")

    sample_local.CALLS.clear()
    monkeypatch.setitem(sample_local.CASES, "staged", Staged(sample_local.load, boom, sample_local.unload))
    (tmp_path / "a").mkdir()
    runner, _ = run_plan(tmp_path / "a", SAMPLE, ("local",), ("staged",), repeat=1, warmup=0)
    rec = by_case(runner)["staged"]
    assert rec.status == "error" and "the run broke" in rec.reason and sample_local.CALLS["unload"] == 1

    monkeypatch.setitem(sample_local.CASES, "staged", Staged(sample_local.load, sample_local.staged, broken_unload))
    (tmp_path / "b").mkdir()
    runner, _ = run_plan(tmp_path / "b", SAMPLE, ("local",), ("staged",), repeat=1, warmup=0)
    rec = by_case(runner)["staged"]
    assert rec.status == "error" and rec.reason == "teardown: OSError: the server would not stop"


@pytest.fixture
def local_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second engine name for the local lifecycle: two engines in one plan share one run's inputs."""
    monkeypatch.setitem(registry.ENGINES, "local-again", "enginebench.engines.local:LocalEngine")


def test_reference_is_made_once_per_run_outside_every_engine_and_inputs_are_torn_down(
        tmp_path: Path, local_twice: None) -> None:
    from sample_workload.spec import LIFECYCLE

    LIFECYCLE.clear()
    runner, _ = run_plan(tmp_path, SAMPLE, ("local", "local-again"), ("referenced",), repeat=2, warmup=1)
    first, second = runner.records
    assert first.status == second.status == "ok", first.reason
    assert LIFECYCLE == ["reference", "teardown 42"], "one reference for both engines, one teardown at the end"
    assert first.notes["reference"] == 42
    assert first.phases["reference"] >= 0.5 and first.phases["reference"] == second.phases["reference"]
    # The first engine is not charged for the reference: not in its checks, runs or resource window.
    assert first.phases["check"] < 0.1 and first.resources["wall_s"] < 0.5


def test_a_case_limited_to_other_engines_is_unsupported_with_its_reason(tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, SAMPLE, ("local",), ("elsewhere",))
    rec = by_case(runner)["elsewhere"]
    assert (rec.status, rec.reason) == ("unsupported", "needs Ray's object store")
