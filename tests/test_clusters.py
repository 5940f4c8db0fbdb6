"""Existing clusters started with the CLIs users run (`ray start`, `dask scheduler` + `dask worker`,
Spark's standalone Master and Worker), reached by address; records carry the cluster's shape.

Every process a fixture starts is stopped by its handle or PID (never by name, never `ray stop`,
which stops every Ray on the machine): see `stop_processes`."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import ROOT, TEST_BUDGET, run_plan

from enginebench.engines._spark_common import SPARK_CONF_DIR
from enginebench.engines.base import Endpoints
from enginebench.measure.attempt import Session
from enginebench.plan import registry
from enginebench.results.records import load_run

BIN = Path(sys.executable).parent
#: Seconds a cluster gets to come up (2 busy cores: JVMs and Ray's daemons start slowly there).
START_TIMEOUT_S = 90.0


# -- helpers -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def start(cmd: Sequence[str | Path], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start one cluster process, its output (stdout and stderr) into `log`."""
    with log.open("wb") as out:
        return subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})})


def wait_until(ready: Callable[[], bool], what: str, procs: Sequence[subprocess.Popen[bytes]], logs: Sequence[Path],
               timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll `ready` until it holds; fail early (with the logs' tails) when a started process exits."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            tails = "\n".join(f"--- {log}\n{log_tail(log)}" for log in logs)
            why = f"exited with {dead[0].returncode}: {dead[0].args!r}" if dead else f"not within {timeout_s:g} s"
            raise AssertionError(f"{what}: {why}\n{tails}")
        time.sleep(0.3)


def port_open(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    def check() -> bool:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            return False
    return check


def family(procs: Sequence[subprocess.Popen[bytes]]) -> list[psutil.Process]:
    """The live processes `procs` started (children, recursively), as psutil handles: a handle
    remembers its process's start time, so a PID reused later is never signalled."""
    found = []
    for p in procs:
        try:
            found.extend(psutil.Process(p.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    return found


def exposed(procs: Sequence[subprocess.Popen[bytes]]) -> list[tuple[str, int]]:
    """Listening sockets of `procs` and their descendants that are not on loopback."""
    pids = {p.pid for p in procs} | {q.pid for q in family(procs)}
    return sorted({(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
                   if c.status == psutil.CONN_LISTEN and c.pid in pids and not ipaddress.ip_address(
                       c.laddr.ip.removeprefix("::ffff:")).is_loopback})


def alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], also: Sequence[psutil.Process] = (),
                   timeout_s: float = 30.0) -> None:
    """Stop what a fixture started, by handle and PID only: SIGTERM to each handle (in the given
    order) and wait up to `timeout_s`, then SIGKILL; then the same for their descendants (recorded
    before the first signal, plus `also`) that outlived them. Fails if one survives SIGKILL."""
    descendants = {p.pid: p for p in [*also, *family(procs)]}
    deadline = time.monotonic() + timeout_s
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)
    left = [p for p in descendants.values() if alive(p)]
    for send in (psutil.Process.terminate, psutil.Process.kill):  # SIGTERM, then SIGKILL what is left
        for p in left:
            try:
                send(p)
            except psutil.NoSuchProcess:
                continue
        _, left = psutil.wait_procs(left, timeout=10)
    assert not left, f"processes survived SIGKILL: {[p.pid for p in left]}"


# -- Ray: `ray start --head` and `ray start --address` -----------------------------------------------
@pytest.fixture
def ray_cli_two_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A head (`ray start --head`) and a second node (`ray start --address`), 1 CPU each.

    Addresses: `ray start` on Linux replaces 127.0.0.1 (`--node-ip-address`, `--address`) with the
    machine's network address, so the nodes take two other loopback addresses, 127.0.0.2 (head) and
    127.0.0.3. Ray's GCS, raylets and workers still listen on all interfaces (as on any multi-node
    Ray cluster).

    Authentication: on, as for any `ray start` cluster. RAY_AUTH_MODE=token on every node and in the
    driver (its JVM under RayDP inherits it), with Ray's default token file ~/.ray/auth_token (`ray
    get-auth-token --generate` makes it if missing; a local `ray.init` makes it too). Not a token of
    the fixture's own: once a local `ray.init` has run in this process, the driver stays in token
    mode with that file's token. Left alone, the nodes disagree: `ray start --head` turns token mode
    on by itself when the file exists, `ray start --address` does not.

    `--block` keeps each `ray start` in the foreground as the parent of the node's daemons (GCS,
    raylet, agents; the raylet's workers below it). On SIGTERM it kills them itself
    (Node.kill_all_processes) and exits; RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0 skips the drain
    wait (30 s by default) it does first. Without --block `ray start` exits and leaves its daemons
    orphaned, to be found only by name or by `ray stop`, which stops every Ray on the machine."""
    head_ip, node_ip, port = "127.0.0.2", "127.0.0.3", free_port()
    address = f"{head_ip}:{port}"
    # Ray's socket paths must stay short (AF_UNIX, 107 bytes): a temp dir under /tmp, not tmp_path.
    # The second node uses the head's.
    temp_dir = Path(tempfile.mkdtemp(prefix="ebray", dir="/tmp"))
    # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER: a local `ray.init` earlier in this process (the ray engine
    # without an address) leaves it at 0, with which `ray start --address` refuses to start.
    env = {"RAY_AUTH_MODE": "token", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1",
           "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    subprocess.run([str(BIN / "ray"), "get-auth-token", "--generate"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=120, env={**os.environ, **env})
    # Ports Ray would otherwise take at fixed defaults (10001 Ray Client, 52365 agent HTTP), shared
    # with anything else on this machine: free or random ones instead. Worker ports: random.
    per_node = ["--num-cpus", "1", "--disable-usage-stats", "--block", "--dashboard-agent-listen-port", "0",
                "--min-worker-port", "0", "--max-worker-port", "0"]
    procs: list[subprocess.Popen[bytes]] = []
    daemons: list[psutil.Process] = []
    logs = [tmp_path / "ray-head.log", tmp_path / "ray-node.log"]

    def two_nodes() -> bool:
        out = subprocess.run([str(BIN / "ray"), "status", "--address", address], capture_output=True, text=True,
                             timeout=60, env={**os.environ, **env})
        active = out.stdout.partition("Active:")[2].partition("Pending:")[0]
        return out.returncode == 0 and active.count("node_") == 2

    try:
        procs.append(start([BIN / "ray", "start", "--head", "--node-ip-address", head_ip, "--port", str(port),
                            "--include-dashboard", "false", "--ray-client-server-port", str(free_port()),
                            "--temp-dir", temp_dir, *per_node], logs[0], env))
        wait_until(port_open(port, head_ip), "ray head (GCS port)", procs, logs)
        procs.append(start([BIN / "ray", "start", "--address", address, "--node-ip-address", node_ip, *per_node],
                           logs[1], env))
        wait_until(two_nodes, "two Ray nodes", procs, logs)
        daemons = family(procs)  # GCS, raylets, agents: recorded now in case one is orphaned later
        yield address
    finally:
        try:
            # The second node first, then the head; each raylet's workers go with it.
            stop_processes(list(reversed(procs)), also=daemons)
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)


def clickstream() -> str:
    """The worked example, a workload folder of one's own: its code reaches the cluster's workers only the
    way enginebench sends it (by value for Ray, a zip for Dask and Spark), never from their sys.path."""
    return registry.resolve(str(ROOT / "docs" / "examples" / "clickstream"))


def run_yours(tmp_path: Path, engine: str, endpoints: Endpoints, session: Session | None = None) -> None:
    (tmp_path / "yours").mkdir()
    runner, _ = run_plan(tmp_path / "yours", clickstream(), (engine,), ("sessionize",), repeat=1, warmup=0,
                         endpoints=endpoints, session=session)
    assert [r.status for r in runner.records] == ["ok"], [(r.reason, r.detail[-2000:]) for r in runner.records]


@pytest.mark.engine
def test_ray_and_spark_on_ray_run_on_a_cluster_started_with_ray_start(tmp_path: Path, data_root: Path,
                                                                      ray_cli_two_nodes: str) -> None:
    # As a user runs it: `enginebench run --ray-address`, a process of its own. (A driver in this
    # process may have fixed its Ray authentication mode in an earlier test.)
    out = subprocess.run(
        [str(BIN / "enginebench"), "run", "--workload", f"tasks,{ROOT / 'docs' / 'examples' / 'clickstream'}",
         "--cases", "noop,fanout,sessionize", "--engines", "ray,spark-on-ray", "--repeat", "1", "--warmup", "0",
         "--ray-address", ray_cli_two_nodes, "--out", str(tmp_path), "--no-report", "--cpus", "2", "--memory", "4g"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "RAY_AUTH_MODE": "token", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (path,) = tmp_path.glob("*.json")
    run = load_run(path)
    assert sorted((r.case, r.engine, r.status) for r in run.records) == sorted(
        (c, e, "ok") for c in ("noop", "fanout", "sessionize") for e in ("ray", "spark-on-ray"))
    engines = run.header.engines
    assert engines["ray"].config["nodes"] == 2 and engines["ray"].config["cpus"] == 2
    assert engines["ray"].config["mode"] == "existing cluster"
    assert engines["ray"].config["address"] == ray_cli_two_nodes
    assert engines["spark-on-ray"].config["executors"] == 2  # one 1-core executor per 1-CPU node
    assert engines["spark-on-ray"].config["ray"]["nodes"] == 2
    assert run.header.plan.sources["clickstream"]["kind"] == "folder"


# -- Dask: `dask scheduler` and `dask worker` --------------------------------------------------------
@pytest.fixture
def dask_scheduler_with_two_workers(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "dask-scheduler.log", tmp_path / "dask-worker-1.log", tmp_path / "dask-worker-2.log"]
    try:
        # --no-dashboard still serves a small HTTP API (health, metrics) at --dashboard-address, by
        # default :8787 on the scheduler and :0 on workers, all interfaces: a free loopback port instead.
        procs.append(start([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                            "--dashboard-address", "127.0.0.1:0"], logs[0]))
        wait_until(port_open(port), "dask scheduler", procs, logs)
        for log in logs[1:]:
            procs.append(start([BIN / "dask", "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                                "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                "--local-directory", tmp_path / log.stem], log))
        from distributed import Client

        with Client(address, timeout="10s") as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        assert not exposed(procs), f"the dask cluster listens beyond loopback: {exposed(procs)}"
        yield address
    finally:
        # Workers first (each `dask worker` is a nanny that stops its worker process), then the scheduler.
        stop_processes(list(reversed(procs)))


@pytest.mark.engine
def test_dask_runs_on_a_dask_scheduler_with_two_dask_workers(tmp_path: Path, data_root: Path,
                                                             dask_scheduler_with_two_workers: str) -> None:
    run_yours(tmp_path, "dask", Endpoints(dask_scheduler=dask_scheduler_with_two_workers))
    runner, path = run_plan(tmp_path, "tasks", ("dask",), ("noop", "actors"), repeat=1, warmup=0,
                            endpoints=Endpoints(dask_scheduler=dask_scheduler_with_two_workers))
    assert [r.status for r in runner.records] == ["ok", "ok"], [r.reason for r in runner.records]
    config = load_run(path).header.engines["dask"].config
    assert config["mode"] == "existing scheduler" and config["workers"] == 2
    assert config["scheduler"] == dask_scheduler_with_two_workers


# -- Spark standalone: a Master and two Workers --------------------------------------------------------
def master_state(webui_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{webui_port}/json/", timeout=5) as response:
        state: dict[str, Any] = json.load(response)
    return state


@pytest.fixture
def spark_standalone_two_workers(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """`spark-class ...deploy.master.Master` and two `...deploy.worker.Worker`s (1 core each) from the
    pyspark package, on loopback; yields the master URL and the master's web UI port.

    The pyspark wheel ships bin/spark-class but not sbin/start-master.sh or start-worker.sh;
    spark-class `exec`s the JVM, so the Popen handle is the Master or Worker itself."""
    port, webui = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    import pyspark

    spark_class = Path(pyspark.__path__[0]) / "bin" / "spark-class"
    env = {
        "SPARK_LOCAL_IP": "127.0.0.1",  # RPC and web UIs on loopback
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_CONF_DIR": str(SPARK_CONF_DIR),  # errors-only logging
        "SPARK_LOCAL_DIRS": str(tmp_path / "spark-local"),
    }
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "spark-master.log", tmp_path / "spark-worker-1.log", tmp_path / "spark-worker-2.log"]

    def alive_workers() -> int:
        try:
            return int(master_state(webui).get("aliveworkers", 0))
        except (OSError, ValueError):
            return 0

    try:
        procs.append(start([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                            "--port", str(port), "--webui-port", str(webui)], logs[0], env))
        wait_until(port_open(port), "spark master", procs, logs)
        for log in logs[1:]:
            # --memory is what the Worker offers executors, not what it takes: the spark engine asks
            # for executors of 60% of the 4 GiB test budget, so 1g would leave the application waiting.
            procs.append(start([spark_class, "org.apache.spark.deploy.worker.Worker", url, "--cores", "1",
                                "--memory", "3g", "--host", "127.0.0.1", "--webui-port", str(free_port()),
                                "--work-dir", tmp_path / log.stem], log, env))
        wait_until(lambda: alive_workers() == 2, "two spark workers registered", procs, logs)
        assert not exposed(procs), f"the spark cluster listens beyond loopback: {exposed(procs)}"
        yield url, webui
    finally:
        # Workers first (each stops its executors), then the master.
        stop_processes(list(reversed(procs)))


@pytest.mark.engine
def test_spark_runs_on_a_standalone_master_with_two_workers(
        tmp_path: Path, data_root: Path, spark_standalone_two_workers: tuple[str, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, webui = spark_standalone_two_workers
    # The driver on loopback too (the engine pins the driver's address only in local mode).
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    endpoints = Endpoints(spark_master=url)
    session = Session("spark", TEST_BUDGET, endpoints)  # one application for both plans
    try:
        (tmp_path / "tasks").mkdir()
        runner, path = run_plan(tmp_path / "tasks", "tasks", ("spark",), ("noop", "fanout"), repeat=1, warmup=0,
                                endpoints=endpoints, session=session)
        assert [r.status for r in runner.records] == ["ok", "ok"], [r.reason for r in runner.records]
        config = load_run(path).header.engines["spark"].config
        assert config["spark.master"] == url
        assert config["mode"] == "existing master"
        # TPC-H parquet read by path: every worker sees the data root (one machine here).
        (tmp_path / "etl").mkdir()
        runner, _ = run_plan(tmp_path / "etl", "etl", ("spark",), ("q1",), repeat=1, warmup=0, endpoints=endpoints,
                             session=session)
        assert [r.status for r in runner.records] == ["ok"], [r.reason for r in runner.records]
        run_yours(tmp_path, "spark", endpoints, session)
    finally:
        session.stop()
    # The application ran on both workers: the master lists it with 2 cores (1 + 1) granted.
    apps = master_state(webui)["completedapps"]
    assert [app["name"] for app in apps] == ["enginebench"], apps
    assert apps[0]["cores"] == 2, apps
