"""Shared fixtures. The session fixture fails the run if any engine process outlives the tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness import registry
from harness.budget import Budget
from harness.engines.base import Endpoints
from harness.records import Plan, ResultsWriter
from harness.runner import Runner, make_header

#: The runner's own test workload (tests/sample_workload), known to the registry while tests run.
registry.WORKLOADS.setdefault("sample", "sample_workload.spec")

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


def run_plan(tmp_path: Path, workload: object, engines: tuple[str, ...], cases: tuple[str, ...] | None = None,
             scale: str = "tiny", repeat: int = 2, warmup: int = 1, timeout_s: float | None = None,
             cpus: int = 2, endpoints: Endpoints | None = None) -> tuple[Runner, Path]:
    """Run a real plan into a fresh results file; returns the runner (records) and the file."""
    from harness.spec import Workload

    wl = workload if isinstance(workload, Workload) else registry.workload(str(workload))
    plan = Plan(workload=wl.name, cases=cases or wl.case_names, engines=engines, scale=scale,
                budget=Budget(cpus=cpus, memory_bytes=4 * 2**30), repeat=repeat, warmup=warmup, timeout_s=timeout_s,
                endpoints=(endpoints or Endpoints()).to_dict())
    path = tmp_path / "run.json"
    runner = Runner(plan, ResultsWriter(path, make_header(plan, "test-run")), sample_interval_s=0.05, workload=wl)
    runner.run()
    return runner, path
