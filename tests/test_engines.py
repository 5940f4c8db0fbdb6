"""Every tasks case on every real engine at tiny scale: answers checked, records complete, no leftovers;
and which existing cluster each engine connects to."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest
from conftest import run_plan

from enginebench.core.budget import Budget
from enginebench.engines.base import Endpoints
from enginebench.measure.attempt import Session
from enginebench.plan import registry
from enginebench.results.records import load_run

ENGINES = tuple(registry.ENGINES)
#: The thread settings Dask's nanny gives its workers, as this process had them before any engine started.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
THREADS_AT_IMPORT = {k: os.environ.get(k) for k in THREAD_VARIABLES}


def test_each_engine_reads_its_own_endpoint_and_endpoints_round_trip() -> None:
    endpoints = Endpoints(ray_address="10.0.0.5:6379", dask_scheduler=None, spark_master="")
    assert endpoints.to_dict() == {"ray_address": "10.0.0.5:6379"} and endpoints.get("dask_scheduler") is None
    assert Endpoints.from_dict(endpoints.to_dict()) == endpoints and not Endpoints()
    budget = Budget(cpus=1, memory_bytes=2**30)
    remote = {name: registry.engine_class(name)(budget, endpoints).remote_address() for name in ENGINES}
    assert remote == {"ray": "10.0.0.5:6379", "dask": None, "spark-on-ray": "10.0.0.5:6379", "spark": None,
                      "daft": None,
                      "local": None}


@pytest.mark.engine
@pytest.mark.parametrize("started", ENGINES, indirect=True, scope="session")
def test_every_tasks_case_runs_checked_and_complete(started: Session, tmp_path: Path) -> None:
    engine = started.name
    # One repetition: warm-ups, repetitions and per-answer checks are pinned by the runner's own tests.
    runner, path = run_plan(tmp_path, "tasks", (engine,), repeat=1, warmup=0, session=started)
    run = load_run(path)
    assert [r.case for r in run.records] == list(registry.workload("tasks").case_names)
    tasks = registry.workload("tasks")
    for rec in run.records:
        declared = tasks.resolve(started.cls.api, rec.case, engine)
        if declared.implementation is None:  # the engine's file says why (Spark: no actors; Daft: no task API)
            assert rec.status == "unsupported" and rec.reason == declared.reason and len(declared.reason) > 20
            continue
        assert rec.status == "ok", f"{engine}/{rec.case}: {rec.status} {rec.reason}\n{rec.detail}"
        assert len(rec.timings_s) == 1 and rec.checks == 1
        assert rec.stats["median"] > 0 and rec.stats["min"] <= rec.stats["median"] <= rec.stats["max"]
        assert rec.metrics[rec.primary["name"]] > 0
        assert {"engine_start", "inputs", "run", "check"} <= set(rec.phases)
        assert rec.resources["peak_rss_bytes"] > 0
        assert rec.budget == {"cpus": 2, "memory_bytes": 4 * 2**30}
    session = run.header.engines[engine]
    if all(rec.status == "unsupported" for rec in run.records):  # nothing to run: no start for this plan
        assert session.status in ("not needed", "ok") and not session.stop_error  # "ok": the shared one ran before
        return
    assert session.status == "ok" and session.start_s > 0 and not session.stop_error
    assert session.config, "the engine's effective config is recorded"
    assert all(v != "not installed" for v in session.versions.values())
    # Everything the engine started is gone once it is stopped: checked when the shared engine stops.
    if engine == "dask":  # the nanny's one-thread settings stay with its workers, not this process
        assert {k: os.environ.get(k) for k in THREAD_VARIABLES} == THREADS_AT_IMPORT


@pytest.mark.engine
def test_fanout_efficiency_and_latency_percentiles_are_consistent(tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, "tasks", ("ray",), ("fanout", "latency"), repeat=2)
    fan, lat = runner.records
    assert fan.status == "ok" and lat.status == "ok"
    assert fan.metrics["ideal_s"] == pytest.approx(64 * fan.metrics["task_ms"] / 1e3 / 2)
    assert fan.metrics["parallel_efficiency"] == pytest.approx(fan.metrics["ideal_s"] / fan.stats["median"])
    assert lat.metrics["samples"] == 2 * 30
    assert 0 < lat.metrics["p50_ms"] <= lat.metrics["p95_ms"] <= lat.metrics["p99_ms"]


@pytest.mark.engine
def test_local_engines_listen_on_loopback_only(tmp_path: Path) -> None:
    _, path = run_plan(tmp_path, "tasks", ("ray", "dask"), ("noop",), repeat=1, warmup=0)
    engines = load_run(path).header.engines
    assert engines["ray"].config["address"].startswith("127.0.0.1:")
    assert engines["dask"].config["scheduler"].startswith("tcp://127.0.0.1:")
    assert engines["dask"].config["workers"] == 2 and engines["dask"].config["threads_per_worker"] == [1]


@pytest.mark.engine
@pytest.mark.parametrize("started", ("ray", "dask"), indirect=True, scope="session")
def test_every_tasks_variant_of_ray_and_dask_gives_the_checked_answer(started: Session) -> None:
    """Each variant of the ray and dask modules once at tiny params, batches of 7 so that they span several
    batches (the variants themselves use 1,000); each answer passes the case's check."""
    if started.ctx is None:
        assert started.start() is not None, started.info.reason
    workload, ran = registry.workload("tasks"), []
    for case in workload.cases:
        params = case.params_for("tiny")
        for name, found in list(workload.variants(started.cls.api, case.name, started.name).items())[1:]:
            impl = found.implementation
            if isinstance(impl, partial) and "batch" in impl.keywords:
                impl = partial(impl, batch=7)
            inputs = case.make_inputs(params)
            verdict = case.check(impl(started.ctx, params, inputs), params, inputs, None)  # type: ignore[operator,misc]
            assert verdict.ok, f"{started.name}:{name} {case.name}: {verdict.reason}"
            ran.append(f"{case.name}:{name}")
    assert ran == {"ray": ["noop:batches-1000", "actors:batches-1000", "actors:async-actor"],
                   "dask": ["noop:delayed-graph", "noop:batches-1000", "fanout:delayed-graph",
                            "tree-reduce:delayed-graph", "actors:batches-1000", "actors:async-actor"]}[started.name]


def test_every_engine_implements_each_shipped_case_or_says_why() -> None:
    # A new engine joins a workload by implementing its cases or naming each in UNSUPPORTED with a reason:
    # never the generic "no implementation" a missing file gives.
    silent = []
    for name in registry.WORKLOADS:
        wl = registry.workload(name)
        for case in wl.case_names:
            for engine in registry.ENGINES:
                found = wl.resolve(registry.engine_class(engine).api, case, engine)
                if found.implementation is None and (len(found.reason) < 20 or "implementation of" in found.reason):
                    silent.append(f"{engine} on {name}/{case}: {found.reason!r}")
    assert not silent, "\n".join(silent)
