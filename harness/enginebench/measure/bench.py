"""The pytest-benchmark way in: the same attempt core, cases, checks, engines and records as
`enginebench run`, with `benchmark.pedantic` as the timer.

benchmarks/conftest.py registers the options, a session-scoped engine fixture (`Session`) and a
session-scoped `CaseInputs`; each benchmark test calls `run_case`, which runs one `Attempt` whose
timer is pytest-benchmark's `pedantic` (explicit rounds and warm-up: calibration loops suit
microseconds, not multi-second distributed jobs). Each answer is checked in the round's
`teardown` (outside the timed call, before the next round starts). The full record goes into
`extra_info`, so `enginebench report` reads a `--benchmark-json` file like a results file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from enginebench.contract.spec import Case, Workload
from enginebench.measure.attempt import AfterEach, Attempt, CaseInputs, Session, Stopwatches
from enginebench.plan import registry
from enginebench.plan.plan import bench_step
from enginebench.results.records import PYTEST_BENCHMARK_KEY, Record, Status


class PedanticTimer:
    """pytest-benchmark's pedantic as the attempt's timer. Our own clock around the call gives the
    recorded seconds (pytest-benchmark's stats time the same call). With --benchmark-disable,
    pedantic calls the target once: the plain timer runs the attempt instead."""

    def __init__(self, benchmark: Any) -> None:
        self.benchmark = benchmark

    def repeat(self, work: Callable[[], Any], warmup: int, repeat: int, after: AfterEach) -> None:
        if self.benchmark.disabled:
            Stopwatches().repeat(work, warmup, repeat, after)
            return
        done: list[tuple[int, float, Any]] = []

        def check_previous() -> None:
            if done:
                after(*done.pop())

        def target() -> Any:
            t0 = time.perf_counter()
            answer = work()
            done.append((calls[0], time.perf_counter() - t0, answer))
            calls[0] += 1
            return answer

        calls = [0]
        self.benchmark.pedantic(target, teardown=check_previous, rounds=repeat, warmup_rounds=warmup, iterations=1)
        check_previous()


def run_case(benchmark: Any, session: Session, inputs: CaseInputs, workload: Workload, case: Case, scale: str,
             rounds: int, warmup: int) -> Record:
    """Benchmark one case on one started engine; skips unsupported cases, fails wrong answers."""
    import pytest

    benchmark.group = f"{workload.name}/{case.name}"
    found = workload.resolve(session.cls.api, case.name, session.name)
    if found.implementation is None:
        pytest.skip(f"unsupported: {found.reason}")
    step = bench_step(workload, case, session.name, scale, warmup, rounds)  # the plan layer's timeout rule
    record, healthy = Attempt(session, workload, case, found, scale, step.params, inputs.get(case, step.params),
                              step.warmup, step.repeat, step.timeout_s, timer=PedanticTimer(benchmark)).run()
    if not healthy:
        session.restart()
    benchmark.extra_info.update({
        **{k: round(v, 6) for k, v in record.metrics.items()},
        "engine_start_s": round(session.info.start_s or 0.0, 4),
        "budget": session.budget.to_dict(),
        "versions": session.info.versions,
        PYTEST_BENCHMARK_KEY: {"record": record.to_dict(), "engine": session.info.to_dict()},
    })
    if record.status != Status.OK:
        pytest.fail(f"{session.name}/{case.name}: {record.status}: {record.reason}")
    return record


def case_tests(workload_name: str) -> dict[str, Any]:
    """Test functions `test_<case>` for every case of a workload, for a benchmarks/test_*.py module
    to put in its globals: each one benchmarks its case on the session's engine."""
    import pytest

    workload = registry.workload(workload_name)

    def make(case_name: str) -> Any:
        @pytest.mark.enginebench_case(workload.name, case_name)
        def bench(benchmark: Any, engine_session: Session, case_inputs: CaseInputs, request: Any) -> None:
            cfg = request.config
            run_case(benchmark, engine_session, case_inputs, workload, workload.case(case_name),
                     cfg.getoption("scale"), rounds=cfg.getoption("rounds"), warmup=cfg.getoption("warmup_rounds"))

        bench.__name__ = f"test_{case_name.replace('-', '_')}"
        bench.__doc__ = workload.case(case_name).description
        return bench

    return {f"test_{c.replace('-', '_')}": make(c) for c in workload.case_names}
