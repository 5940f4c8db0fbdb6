"""The pytest-benchmark way in: the same cases, checks, engines and records as `enginebench run`.

benchmarks/conftest.py registers the options and a session-scoped engine fixture built on
`EngineSession`; each benchmark test calls `run_case`, which times the implementation with
`benchmark.pedantic` (explicit rounds and warm-up: calibration loops suit microseconds, not
multi-second distributed jobs), checks every answer, and stores the full enginebench Record in
`extra_info`, so `enginebench report` reads a `--benchmark-json` file like a results file.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from harness import registry
from harness.budget import Budget
from harness.engines.base import Endpoints, Engine, EngineContext
from harness.metrics import ProcessTreeSampler, Stopwatch, describe
from harness.records import SCHEMA_VERSION, Record, Run
from harness.runner import new_record
from harness.spec import Case, Timed, Workload

EXTRA_KEY = "enginebench"


@dataclass
class EngineSession:
    """One engine started for a whole pytest session: start time measured once, stopped at the end."""

    name: str
    budget: Budget
    endpoints: Endpoints = field(default_factory=Endpoints)
    engine: Engine | None = None
    ctx: EngineContext | None = None
    start_s: float = 0.0
    stop_s: float = 0.0
    error: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, tuple[Any, float]] = field(default_factory=dict)

    def start(self) -> EngineSession:
        cls = registry.engine_class(self.name)
        self.engine = cls(self.budget, self.endpoints)
        t0 = time.perf_counter()
        try:
            self.ctx = self.engine.start()
            self.config = self.engine.config()
        except Exception as exc:  # noqa: BLE001 - every test of this engine reports it
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.stop()
        self.start_s = time.perf_counter() - t0
        return self

    def stop(self) -> None:
        if self.engine is not None:
            t0 = time.perf_counter()
            self.engine.stop()
            self.stop_s = time.perf_counter() - t0
            self.engine = None

    def session_info(self) -> dict[str, Any]:
        cls = registry.engine_class(self.name)
        return {"api": cls.api, "baseline": cls.baseline, "versions": cls.versions(),
                "status": "error" if self.error else "ok", "reason": self.error,
                "start_s": self.start_s, "config": self.config}


def run_case(benchmark: Any, session: EngineSession, workload: Workload, case: Case, scale: str,
             rounds: int, warmup: int) -> Record:
    """Benchmark one case on one started engine; skips unsupported cases, fails wrong answers."""
    import pytest

    benchmark.group = f"{workload.name}/{case.name}"
    if session.ctx is None:
        pytest.fail(f"engine {session.name} failed to start: {session.error}")
    ctx = session.ctx
    found = workload.resolve(ctx.api, case.name, session.name)
    if found.implementation is None:
        pytest.skip(f"unsupported: {found.reason}")
    impl = found.implementation
    params = case.params_for(scale)
    key = f"{workload.name}/{case.name}/{scale}"
    if key not in session.inputs:
        with Stopwatch() as sw:
            made = case.make_inputs(params)
        session.inputs[key] = (made, sw.seconds)
    inputs, inputs_s = session.inputs[key]

    answers: list[Any] = []

    def target() -> Any:
        answer = impl(ctx, params, inputs)
        answers.append(answer)
        return answer

    sampler = ProcessTreeSampler(0.2).start()
    try:
        benchmark.pedantic(target, rounds=rounds, warmup_rounds=warmup, iterations=1)
    finally:
        sampler.stop()
    seconds = list(benchmark.stats.stats.data)
    timed = [Timed(s, a) for s, a in zip(seconds, answers[warmup:], strict=True)]
    status, reason, metrics = "ok", "", {}
    series: dict[str, list[list[float]]] = {}
    case_notes: dict[str, Any] = {}
    with Stopwatch() as sw:
        for i, answer in enumerate(answers):
            verdict = case.check(answer, params, inputs)
            if not verdict.ok:
                label = f"warm-up {i + 1}" if i < warmup else f"round {i - warmup + 1}"
                status, reason = "wrong", f"{label}: {verdict.reason}"
                break
    if status == "ok":
        try:
            metrics = case.summarize(params, inputs, timed, ctx.cpus)
            series = case.series(params, inputs, timed) if case.series else {}
            case_notes = case.notes(params, inputs, timed) if case.notes else {}
        except Exception as exc:  # noqa: BLE001 - recorded, then the test fails
            status, reason = "error", f"summary: {type(exc).__name__}: {exc}"
    stats = describe(seconds)
    phases = {"engine_start": session.start_s, "inputs": inputs_s, "run": stats["median"], "check": sw.seconds}
    record = new_record(workload, case, session.name, scale, session.budget, warmup, rounds, status, reason,
                        warmup_s=(), timings_s=tuple(seconds), stats=stats, phases=phases,
                        metrics=metrics, resources=sampler.result(ctx.cpus), series=series,
                        notes={**({"implementation": found.note} if found.note else {}),
                               "harness": "pytest-benchmark", **case_notes},
                        )
    benchmark.extra_info.update({
        **{k: round(v, 6) for k, v in metrics.items()},
        "engine_start_s": round(session.start_s, 4),
        "budget": session.budget.to_dict(),
        "versions": registry.engine_class(session.name).versions(),
        EXTRA_KEY: {"record": record.to_dict(), "engine": session.session_info()},
    })
    if status != "ok":
        pytest.fail(f"{session.name}/{case.name}: {status}: {reason}")
    return record


def run_from_pytest_benchmark(doc: dict[str, Any], source: str) -> Run:
    """A `--benchmark-json` document as an enginebench Run (records from each benchmark's extra_info)."""
    records: list[Record] = []
    engines: dict[str, Any] = {}
    for bench in doc.get("benchmarks", []):
        extra = bench.get("extra_info", {}).get(EXTRA_KEY)
        if not extra:
            continue
        records.append(Record.from_dict(extra["record"]))
        engines.setdefault(records[-1].engine, extra.get("engine", {}))
    if not records:
        from harness.errors import UsageError

        raise UsageError(f"{source} is a pytest-benchmark file without enginebench records "
                         "(accepted: JSON written by pytest benchmarks/ --benchmark-json=FILE)")
    mi, ci = doc.get("machine_info", {}), doc.get("commit_info", {})
    created = doc.get("datetime") or dt.datetime.now(dt.UTC).isoformat()
    header = {
        "schema_version": SCHEMA_VERSION,
        "run_id": f"pytest-benchmark-{str(created)[:19].replace(':', '').replace('-', '')}",
        "created_utc": created,
        "status": "complete",
        "source": "pytest-benchmark",
        "git": {"commit": ci.get("id"), "dirty": ci.get("dirty")},
        "machine": {"hostname": mi.get("node"), "cpu_model": (mi.get("cpu") or {}).get("brand_raw"),
                    "logical_cpus": (mi.get("cpu") or {}).get("count"), "os": mi.get("system")},
        "software": {"python": mi.get("python_version")},
        "budget": records[0].budget,
        "plan": {"workload": records[0].workload, "engines": list(engines), "scale": records[0].scale,
                 "cases": list(dict.fromkeys(r.case for r in records)), "repeat": records[0].repeat,
                 "warmup": records[0].warmup},
        "engines": engines,
    }
    return Run(header=header, records=records)


def case_tests(workload_name: str) -> dict[str, Any]:
    """Test functions `test_<case>` for every case of a workload, for a benchmarks/test_*.py module
    to put in its globals: each one benchmarks its case on the session's engine."""
    import pytest

    workload = registry.workload(workload_name)

    def make(case_name: str) -> Any:
        @pytest.mark.enginebench_case(workload.name, case_name)
        def bench(benchmark: Any, engine_session: EngineSession, request: Any) -> None:
            cfg = request.config
            run_case(benchmark, engine_session, workload, workload.case(case_name), cfg.getoption("scale"),
                     rounds=cfg.getoption("rounds"), warmup=cfg.getoption("warmup_rounds"))

        bench.__name__ = f"test_{case_name.replace('-', '_')}"
        bench.__doc__ = workload.case(case_name).description
        return bench

    return {f"test_{c.replace('-', '_')}": make(c) for c in workload.case_names}
