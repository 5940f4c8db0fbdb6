"""Existing clusters: a real two-node Ray cluster (also under RayDP) and a Dask scheduler with
separately started workers, reached by address; records carry the cluster's shape."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_plan

from enginebench.engines.base import Endpoints
from enginebench.records import load_run


@pytest.fixture
def two_node_ray() -> Iterator[str]:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dask_scheduler_with_two_workers() -> Iterator[str]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                                          stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="10s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


@pytest.mark.engine
def test_ray_and_spark_on_ray_run_on_an_existing_two_node_cluster(tmp_path: Path, two_node_ray: str) -> None:
    runner, path = run_plan(tmp_path, "tasks", ("ray", "spark-on-ray"), ("noop", "fanout"), repeat=1, warmup=0,
                            endpoints=Endpoints(ray_address=two_node_ray))
    assert [r.status for r in runner.records] == ["ok"] * 4, [r.reason for r in runner.records]
    engines = load_run(path).header.engines
    assert engines["ray"].config["nodes"] == 2 and engines["ray"].config["cpus"] == 2
    assert engines["ray"].config["mode"] == "existing cluster"
    assert engines["spark-on-ray"].config["executors"] == 2  # one 1-core executor per 1-CPU node
    assert engines["spark-on-ray"].config["ray"]["nodes"] == 2


@pytest.mark.engine
def test_dask_runs_on_an_existing_scheduler_with_separate_workers(tmp_path: Path,
                                                                  dask_scheduler_with_two_workers: str) -> None:
    runner, path = run_plan(tmp_path, "tasks", ("dask",), ("noop", "actors"), repeat=1, warmup=0,
                            endpoints=Endpoints(dask_scheduler=dask_scheduler_with_two_workers))
    assert [r.status for r in runner.records] == ["ok", "ok"], [r.reason for r in runner.records]
    config = load_run(path).header.engines["dask"].config
    assert config["mode"] == "existing scheduler" and config["workers"] == 2
    assert config["scheduler"] == dask_scheduler_with_two_workers
