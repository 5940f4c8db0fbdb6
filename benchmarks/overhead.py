"""The harness's own overhead: noop tasks/s through enginebench vs the same loop as a bare script.

    python benchmarks/overhead.py [--engines ray,dask] [--scale small] [--repeat 5] [--rounds 2]

For each engine it alternates, `rounds` times, a bare script (engine started with the same settings
enginebench uses, one warm-up, `repeat` timed gathers of N noop tasks, median) and `enginebench run
--cases noop` with the same warm-up and repetitions, each in a fresh process, and prints the ratio
enginebench / bare of the median tasks/s. The target is a ratio of at least 0.9.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BARE = {
    "ray": """
import os, statistics, sys, time
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
import ray
n, repeat, cpus, store = (int(a) for a in sys.argv[1:5])
ray.init(num_cpus=cpus, object_store_memory=store, include_dashboard=False, log_to_driver=False)
@ray.remote
def noop(i):
    return i
def once():
    t0 = time.perf_counter()
    out = ray.get([noop.remote(i) for i in range(n)])
    dt = time.perf_counter() - t0
    assert out == list(range(n))
    return dt
once()
print(n / statistics.median(once() for _ in range(repeat)))
ray.shutdown()
""",
    "dask": """
import logging, statistics, sys, time
from distributed import Client, LocalCluster
n, repeat, cpus, mem = (int(a) for a in sys.argv[1:5])
def noop(i):
    return i
if __name__ == "__main__":
    with LocalCluster(n_workers=cpus, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, memory_limit=mem // cpus, silence_logs=logging.ERROR) as cluster, \\
            Client(cluster) as client:
        def once():
            t0 = time.perf_counter()
            out = client.gather(client.map(noop, range(n), pure=False))
            dt = time.perf_counter() - t0
            assert out == list(range(n))
            return dt
        once()
        print(n / statistics.median(once() for _ in range(repeat)))
""",
}


def bare(engine: str, n: int, repeat: int, cpus: int, memory: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(BARE[engine])
    extra = int(memory * 0.3) if engine == "ray" else memory
    out = subprocess.run([sys.executable, fh.name, str(n), str(repeat), str(cpus), str(extra)],
                         capture_output=True, text=True, timeout=1200)
    Path(fh.name).unlink()
    if out.returncode != 0:
        raise SystemExit(f"bare {engine} script failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def through_enginebench(engine: str, scale: str, repeat: int, cpus: int, memory: int) -> float:
    with tempfile.TemporaryDirectory() as out_dir:
        cmd = [sys.executable, "-m", "enginebench", "run", "--engines", engine, "--cases", "noop", "--scale", scale,
               "--repeat", str(repeat), "--warmup", "1", "--cpus", str(cpus), "--memory", str(memory),
               "--out", out_dir, "--quiet"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        files = list(Path(out_dir).glob("*.json"))
        if out.returncode != 0 or not files:
            raise SystemExit(f"enginebench {engine} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        (record,) = json.loads(files[0].read_text())["records"]
        return float(record["metrics"]["tasks_per_s"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="ray,dask")
    ap.add_argument("--scale", default="small")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--memory", type=int, default=4 * 2**30)
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from enginebench.core.budget import Budget
    from enginebench.workloads.tasks.spec import WORKLOAD

    Budget(args.cpus, args.memory)  # validates
    n = WORKLOAD.case("noop").params_for(args.scale)["n"]
    print(f"noop tasks/s, N={n}, {args.cpus} CPUs, warm-up 1, repeat {args.repeat}, {args.rounds} rounds (alternating)")
    worst = float("inf")
    for engine in args.engines.split(","):
        bare_runs, eb_runs = [], []
        for _ in range(args.rounds):
            bare_runs.append(bare(engine, n, args.repeat, args.cpus, args.memory))
            eb_runs.append(through_enginebench(engine, args.scale, args.repeat, args.cpus, args.memory))
        b, e = statistics.median(bare_runs), statistics.median(eb_runs)
        worst = min(worst, e / b)
        print(f"{engine:<6} bare {b:10.1f}  enginebench {e:10.1f}  ratio {e / b:5.2f}   "
              f"(bare runs {[round(x) for x in bare_runs]}, enginebench runs {[round(x) for x in eb_runs]})")
    print(f"worst ratio {worst:.2f} (target >= 0.90)")
    return 0 if worst >= 0.9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
