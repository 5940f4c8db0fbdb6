"""Where Ray Tune's time before the first result goes: a Tuner of 9 trials x 3 `tune.report` calls with no
training in them, with and without `import torch` in the trainable, with and without `reuse_actors`.

    python benchmarks/tune_overhead.py [--cpus 2] [--rounds 2]

Starts Ray once with `--cpus` CPUs (like the ray engine), then runs each variant `rounds` times in
turn (alternating, so every variant sees the same background load) and prints, per run: the search's
wall time, when the first trial reported its first result and when the last trial did (seconds since
the Tuner was built), and how many worker processes ran trials. The tune workload's ray search uses
`reuse_actors=True` and imports torch in the trainable (docs/workloads/tune.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Any


def trivial(config: dict[str, Any]) -> None:
    from ray import tune

    for i in range(3):
        tune.report({"i": i, "t": time.time() - config["t0"], "pid": os.getpid()})


def with_torch(config: dict[str, Any]) -> None:
    import torch  # noqa: F401 - the import is what is measured

    trivial(config)


def one(fn: Any, reuse: bool, cpus: int) -> str:
    from ray import tune

    storage = tempfile.mkdtemp(prefix="enginebench-tune-probe-")
    try:
        t0 = time.time()
        grid = tune.Tuner(tune.with_resources(fn, {"cpu": 1}),
                          param_space={"t0": t0, "k": tune.grid_search(list(range(9)))},
                          tune_config=tune.TuneConfig(max_concurrent_trials=cpus, reuse_actors=reuse),
                          run_config=tune.RunConfig(storage_path=storage, name="probe", verbose=0)).fit()
        wall = time.time() - t0
        frames = [grid[i].metrics_dataframe for i in range(len(grid))]
        firsts = sorted(float(f["t"].min()) for f in frames)
        pids = {int(p) for f in frames for p in f["pid"]}
        return (f"{fn.__name__:10s} reuse_actors={reuse!s:5s} wall {wall:5.2f} s  first result {firsts[0]:.2f} s  "
                f"last trial's first {firsts[-1]:.2f} s  processes {len(pids)}")
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    try:
        for _ in range(args.rounds):
            for fn in (trivial, with_torch):
                for reuse in (True, False):
                    print(one(fn, reuse, args.cpus), flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
