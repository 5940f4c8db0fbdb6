"""Shared fixtures. The session fixture fails the run if any engine process outlives the tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from enginebench.contract.spec import Case, Implementation, Params, Staged, Workload
from enginebench.core.budget import Budget
from enginebench.engines.base import Endpoints
from enginebench.measure.attempt import CaseInputs, Prepared, Session
from enginebench.measure.runner import Runner, make_header
from enginebench.plan import registry
from enginebench.results.records import Plan, ResultsWriter

#: Helper processes that belong to Python itself, not to an engine, and end with the interpreter.
_NOT_ENGINES = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh data directory (ENGINEBENCH_DATA) per test module: generated data sets stay apart."""
    root = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENGINEBENCH_DATA", str(root))
        yield root


def engine_processes() -> list[psutil.Process]:
    """Live descendants of this test process, other than Python's own helper processes."""
    out = []
    for p in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if not any(marker in cmd for marker in _NOT_ENGINES):
            out.append(p)
    return out


def wait_for_no_engine_processes(timeout_s: float = 30.0) -> list[str]:
    """Poll until no engine process is left; returns descriptions of the ones still alive."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = engine_processes()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    descriptions = []
    for p in left:
        try:
            descriptions.append(f"{p.pid} {' '.join(p.cmdline())[:160]}")
        except psutil.Error:
            continue
    return descriptions


ROOT = Path(__file__).resolve().parent.parent
#: Where a careless test would leave run outputs, data sets or scratch files in the checkout.
_OUTPUT_DIRS = ("reports", "results", "data", "tests", "benchmarks", "harness", "workloads")


def checkout_files() -> set[Path]:
    """Files in the checkout that tests could write (caches excluded)."""
    found = {p for p in ROOT.iterdir() if p.is_file()}
    for d in _OUTPUT_DIRS:
        found |= {p for p in (ROOT / d).rglob("*")
                  if "__pycache__" not in p.parts and ".pytest_cache" not in p.parts and p.is_file()}
    return found


@pytest.fixture(scope="session", autouse=True)
def no_engine_process_left_after_tests() -> Iterator[None]:
    before = checkout_files()
    yield
    left = wait_for_no_engine_processes()
    assert not left, f"engine processes outlived the test session: {left}"
    written = sorted(str(p.relative_to(ROOT)) for p in checkout_files() - before)
    assert not written, f"tests wrote into the checkout: {written[:5]}"


#: The budget of every test plan (and of the shared engines below).
TEST_BUDGET = Budget(cpus=2, memory_bytes=4 * 2**30)
#: Shared engines alive right now (at most one: pytest tears a session-scoped parametrized fixture
#: down before it sets up its next parameter).
_SHARED: dict[str, Session] = {}


SAMPLE_DIR = Path(__file__).resolve().parent / "sample_workload"


@pytest.fixture
def sample_registered(monkeypatch: pytest.MonkeyPatch) -> str:
    """The sample workload brought in by its folder, as a user's is (`--workload tests/sample_workload`);
    forgotten again after the test."""
    monkeypatch.setattr(registry, "_LOADED", dict(registry._LOADED))
    return registry.resolve(str(SAMPLE_DIR))


@pytest.fixture(scope="session")
def started(request: pytest.FixtureRequest) -> Iterator[Session]:
    """An engine shared by every test parametrized with it (`indirect=True, scope="session"`): pytest
    groups those tests by engine across modules, so each engine starts about once per test session,
    as `enginebench run` starts it once per run. Started lazily by `run_plan`; stopped at the end."""
    session = Session(request.param, TEST_BUDGET)
    _SHARED[request.param] = session
    try:
        yield session
    finally:
        _SHARED.pop(request.param, None)
        session.stop()
        left = wait_for_no_engine_processes()
        assert not left, f"{request.param} left processes behind: {left}"


@pytest.fixture(autouse=True)
def engines_take_turns(request: pytest.FixtureRequest) -> None:
    """A test that starts engines of its own first stops a shared one (two Rays or two SparkContexts
    cannot live in one driver)."""
    if "started" not in request.fixturenames:
        for session in _SHARED.values():
            session.stop()


def prepared_case(case: Case, params: Params) -> Iterator[Prepared]:
    """A case's inputs and reference, made once and torn down afterwards: the body of a module-scoped
    `prepared` fixture (`yield from prepared_case(CASE, PARAMS)`)."""
    with CaseInputs() as inputs:
        made = inputs.get(case, params)
        assert not made.error, made.error
        yield made


def implementation(started: Session, workload: Workload, case: str) -> Implementation:
    """The started engine's own implementation of a case, to call directly (e.g. with planted bugs)."""
    found = workload.resolve(started.cls.api, case, started.name)
    impl = found.implementation
    assert impl is not None and not isinstance(impl, Staged) and started.ctx is not None, found.reason
    return impl


def engines_for(workload: str, *cases: str) -> tuple[str, ...]:
    """The registered engines whose files implement any of the workload's `cases` (default: any case): what
    an every-engine test runs on. An engine that declares a case UNSUPPORTED (with its reason, checked by
    test_architecture's and each engine's own tests) is left out, so a new engine joins these tests by
    implementing the case, never by an `if engine == ...` here."""
    wl = registry.workload(workload)
    names = cases or wl.case_names
    return tuple(e for e in registry.ENGINES
                 if any(wl.resolve(registry.engine_class(e).api, c, e).implementation for c in names))


def run_plan(tmp_path: Path, workload: object, engines: tuple[str, ...], cases: tuple[str, ...] | None = None,
             scale: str = "tiny", repeat: int = 2, warmup: int = 1, timeout_s: float | None = None,
             cpus: int = 2, endpoints: Endpoints | None = None, session: Session | None = None,
             long_s: float | None = None, ladder: tuple[float, ...] = ()) -> tuple[Runner, Path]:
    """Run a real plan into a fresh results file; returns the runner (records) and the file."""
    from enginebench.contract.spec import Workload

    wl = workload if isinstance(workload, Workload) else registry.workload(str(workload))
    plan = Plan(cases={wl.name: cases or wl.case_names}, engines=engines, scale=scale,
                budget=Budget(cpus=cpus, memory_bytes=TEST_BUDGET.memory_bytes), repeat=repeat, warmup=warmup,
                timeout_s=timeout_s, endpoints=(endpoints or Endpoints()).to_dict(), long_s=long_s, ladder=ladder)
    path = tmp_path / "run.json"
    sessions = {session.name: session} if session is not None else None
    runner = Runner(plan, ResultsWriter(path, make_header(plan, "test-run")), sample_interval_s=0.05,
                    workloads={wl.name: wl}, sessions=sessions)
    runner.run()
    return runner, path


def ray_data_settings() -> dict[str, Any]:
    """What the Ray workloads set on Ray Data's process-wide DataContext or in the environment for a call."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    return {"v2": ctx.use_datasource_v2, "shuffle": ctx.shuffle_strategy, "bars": ctx.enable_progress_bars,
            "backpressure": ctx.get_config("backpressure_policies.enabled"),
            "footer": os.environ.get("RAY_DATA_PARQUET_FOOTER_NUM_ACTORS")}


#: The session's exit status, kept for `pytest_unconfigure`.
_EXIT: dict[str, int] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT["status"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the interpreter's finalization, once pytest has reported: the native runtimes still
    loaded in this one process (Daft's Rust thread pools, torch, the JVM bridge, Ray's core worker) can crash
    while Python tears down (a segfault after 375 passed tests, 2026-12-07, exit 139). Every engine was
    stopped, and no process left checked, by the session fixture before this; ENGINEBENCH_TEST_FINALIZE=1
    keeps the normal exit to look for that crash."""
    if "status" in _EXIT and os.environ.get("ENGINEBENCH_TEST_FINALIZE") != "1":
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT["status"])

