"""The serve workload: Ray Serve and uvicorn started for real, loaded over loopback by the client process,
every reply checked; each planted fault (a replica answering wrong labels, one dropping requests) reported
`wrong` and named; a port in use refused with one line; nothing listening afterwards; the load generator
measured apart from the server."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_plan

from enginebench import Timed, measured_apart
from enginebench.measure.attempt import Session
from enginebench.measure.metrics import ProcessTreeSampler
from enginebench.plan import registry
from enginebench.workloads.serve import load
from enginebench.workloads.serve.app import HOST, PLANTS, PORT_ENV, listening
from enginebench.workloads.serve.spec import PARAMS, WORKLOAD, check, headline, summarize

#: A few requests per level: seconds per engine.
FEW = {**PARAMS["tiny"], "levels": (1, 4), "images": 64, "requests": 40, "level_s": 10.0}
SERVERS = ("ray", "local")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    free = _free_port()
    monkeypatch.setenv(PORT_ENV, str(free))
    yield free
    assert not listening(free), f"something still listens on port {free} after the run"


def _workload(**params: Any) -> Any:
    case = WORKLOAD.case("predict")
    return dataclasses.replace(WORKLOAD, cases=(dataclasses.replace(case, params={**case.params,
                                                                                  "tiny": {**FEW, **params}}),))


@pytest.mark.engine
@pytest.mark.parametrize("started", SERVERS, indirect=True, scope="session")
def test_the_server_answers_every_request_right_at_every_level(started: Session, data_root: Path, port: int,
                                                               tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, _workload(), (started.name,), repeat=1, warmup=0, session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"{rec.status} {rec.reason}\n{rec.detail}"
    m = rec.metrics
    for c in FEW["levels"]:
        assert m[f"c{c}_requests_per_s"] > 0 and 0 < m[f"c{c}_p50_ms"] <= m[f"c{c}_p95_ms"] <= m[f"c{c}_p99_ms"]
    assert m["requests_per_s"] == max((m[f"c{c}_requests_per_s"] for c in FEW["levels"]
                                       if m[f"c{c}_p99_ms"] <= FEW["p99_bound_ms"]), default=0.0)
    # Serve's router spreads requests over both replicas; uvicorn's workers share connections, not requests
    # (a keep-alive connection stays with the worker that accepted it): at concurrency 1 and 4 one may get all.
    assert m["processes_answering"] == 2 if started.name == "ray" else m["processes_answering"] >= 1
    assert rec.phases["setup"] > 0 and "teardown" in rec.phases and m["server_start_s"] <= rec.phases["setup"]
    assert rec.resources["client_cpu_s"] > 0  # the client measured apart from the server
    curve = rec.series["p99 latency (ms) vs requests/s"]
    assert len(curve) == len(FEW["levels"]) and all(x > 0 and y > 0 for x, y in curve)
    assert rec.size == FEW["requests"]


@pytest.mark.engine
@pytest.mark.parametrize("started", SERVERS, indirect=True, scope="session")
def test_a_planted_fault_in_a_replica_is_reported_wrong_and_named(started: Session, data_root: Path, port: int,
                                                                  tmp_path: Path) -> None:
    words = {"wrong-label": "differ from the reference model's", "drop-requests": "got no answer (HTTP 500"}
    for plant in PLANTS:
        (tmp_path / plant).mkdir()
        runner, _ = run_plan(tmp_path / plant, _workload(plant=plant, levels=(4,)), (started.name,), repeat=1,
                             warmup=0, session=started)
        (rec,) = runner.records
        assert rec.status == "wrong", f"{started.name}/{plant}: {rec.status} {rec.reason}\n{rec.detail}"
        assert words[plant] in rec.reason, f"{started.name}/{plant}: {rec.reason}"
        assert "teardown" in rec.phases  # the server was stopped after the wrong answer too


@pytest.mark.engine
@pytest.mark.parametrize("started", ("local",), indirect=True, scope="session")
def test_a_port_in_use_is_a_one_line_error_and_the_holder_is_left_alone(started: Session, data_root: Path,
                                                                        port: int, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((HOST, port))
        holder.listen()
        runner, _ = run_plan(tmp_path, _workload(), (started.name,), repeat=1, warmup=0, session=started)
        (rec,) = runner.records
        assert rec.status == "error"
        assert f"port {port} on {HOST} is in use" in rec.reason and f"set {PORT_ENV}" in rec.reason
        assert "\n" not in rec.reason
        assert listening(port)  # still the holder's


def test_dask_and_spark_say_once_why_they_cannot_serve() -> None:
    reasons = {e: WORKLOAD.resolve(api, "predict", e).reason
               for e, api in (("dask", "dask"), ("spark", "spark"), ("spark-on-ray", "spark"))}
    assert len(set(reasons.values())) == 1 and "no online serving" in reasons["dask"]
    assert all(WORKLOAD.resolve(e, "predict", e).implementation is not None for e in SERVERS)
    assert "serve" in registry.WORKLOADS


def _level(c: int, ids: list[int], labels: list[int], status: list[int] | None = None,
           returned: list[int] | None = None) -> dict[str, Any]:
    n = len(ids)
    return {"concurrency": c, "seconds": 1.0, "cpu_s": 0.1, "warmup": 1, "ids": ids, "labels": labels,
            "status": status or [200] * n, "returned": returned if returned is not None else ids, "pids": [7] * n,
            "latency_ms": [float(i + 1) for i in range(n)]}


def test_the_check_names_dropped_requests_foreign_replies_and_wrong_labels() -> None:
    inputs = {"reference_labels": np.array([3, 1, 4, 1]), "runner_up": np.array([-1, -1, 5, -1])}
    params = {**FEW, "levels": (2,)}

    def verdict(**level: Any) -> Any:
        base = {"ids": [0, 1, 2, 3], "labels": [3, 1, 4, 1], **level}
        return check({"levels": [_level(2, **base)]}, params, inputs, None)

    assert verdict().ok
    assert verdict(labels=[3, 1, 5, 1]).ok  # image 2 is a near-tie: its runner-up is accepted
    wrong = verdict(labels=[3, 2, 4, 1])
    assert not wrong.ok and "1 of 4 labels at concurrency 2 differ from the reference model's" in wrong.reason
    dropped = verdict(status=[200, 500, 500, -1])
    assert not dropped.ok and "3 of 4 requests at concurrency 2 got no answer (HTTP 500 x2, timed out x1)" \
        in dropped.reason
    garbled = verdict(status=[-2, 200, 0, 200])
    assert not garbled.ok and "2 of 4 requests at concurrency 2 got no answer (unreadable reply x1, no reply x1)" \
        in garbled.reason
    foreign = verdict(returned=[0, 1, 3, 3])
    assert not foreign.ok and "name another image than the one sent" in foreign.reason
    assert not check({"levels": []}, params, inputs, None).ok  # a level missing


def test_the_headline_is_the_best_throughput_within_the_latency_bound() -> None:
    levels = {1: {"requests_per_s": 100.0, "p99_ms": 5.0}, 4: {"requests_per_s": 300.0, "p99_ms": 40.0},
              16: {"requests_per_s": 400.0, "p99_ms": 150.0}}
    assert headline(levels, 100.0) == (300.0, 4)
    assert headline(levels, 1.0) == (0.0, 0)
    answer = {"levels": [_level(1, [0, 1, 2], [3, 1, 4])], "start_s": 1.5}
    m = summarize({**FEW, "levels": (1,)}, {}, [Timed(1.0, answer)], 2)
    assert m["c1_requests_per_s"] == 2.0 and m["requests_per_s"] == 2.0 and m["at_concurrency"] == 1.0
    assert m["c1_client_cpu_share"] == pytest.approx(0.05)


def test_the_load_generator_targets_loopback_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        load.main(["--url", "http://10.0.0.1:8000/predict", "--images", "x.npy", "--levels", "1", "--requests", "1",
                   "--seconds", "1", "--timeout", "1", "--out", str(tmp_path / "o.json")])
    assert info.value.code == 2
    assert "the load targets loopback only" in capsys.readouterr().err


def test_a_process_measured_apart_is_not_the_trees_cpu_nor_foreign() -> None:
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.8: pass\n"
    sampler = ProcessTreeSampler(0.05).start()
    proc = subprocess.Popen([sys.executable, "-c", busy])
    with measured_apart(proc.pid):
        proc.wait(timeout=30)
        time.sleep(0.05)
    sampler.stop()
    r = sampler.result(2)
    assert r["client_cpu_s"] >= 0.5
    assert r["cpu_seconds"] < 0.5 and r["foreign_cpu_s"] < 0.5


@pytest.mark.engine
@pytest.mark.parametrize("started", ("ray",), indirect=True, scope="session")
def test_a_serve_instance_already_on_the_cluster_is_refused_and_left_running(started: Session, data_root: Path,
                                                                            port: int, tmp_path: Path) -> None:
    from ray import serve

    if started.ctx is None:
        assert started.start() is not None, started.info.reason

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
    def theirs() -> str:
        return "theirs"

    serve.run(theirs.bind(), name="theirs", route_prefix=None)
    try:
        runner, _ = run_plan(tmp_path, _workload(), (started.name,), repeat=1, warmup=0, session=started)
        (rec,) = runner.records
        assert rec.status == "error" and "Ray Serve is already running on this Ray cluster (applications: theirs)" \
            in rec.reason
        assert serve.status().applications["theirs"].status == "RUNNING"
    finally:
        serve.shutdown()
