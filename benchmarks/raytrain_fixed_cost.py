"""Where Ray Train's fixed cost per `fit()` goes on this machine: an empty TorchTrainer fit, timed and taken apart.

    python benchmarks/raytrain_fixed_cost.py [--rounds 3] [--out docs/results/raytrain-fixed-cost.json]

One Ray started by the ray engine's lifecycle (2 CPUs, loopback), then, alternated `rounds` times, a TorchTrainer
`fit()` with 2 workers of 1 CPU whose training function reports once and returns, under Ray's own controller
settings and under enginebench's (`engines.ray.TRAIN_SETTINGS`), with and without two small split datasets
(cnn and gbdt hand Ray Train datasets, which adds a dataset manager and a split coordinator). Per fit: the
seconds of the call, when the training function began and when `fit()` returned after it, and the phases
Ray Train's controller logs itself ("[Worker Group Initialization] ... in X s", from the session's
`logs/train/ray-train-sys-controller-*.log`). Also the seconds a fresh Python process takes to import
`ray.train.torch` (what each new worker and controller process pays before it can do anything), timed 3 times.
Written as JSON (not a results file); docs/workloads/cnn.md reads its figures from it. Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PHASE = re.compile(r"\[Worker Group Initialization\] (.+?) in ([0-9.]+)s")


def _loop(config: dict[str, Any]) -> None:
    import ray.train

    if ray.train.get_context().get_world_rank() == 0:
        Path(config["mark"]).write_text(str(time.time()))
    ray.train.report({})


def _controller_logs(session: Path) -> set[Path]:
    return set((session / "logs" / "train").glob("ray-train-sys-controller-*.log"))


def _phases(log: Path, t0: float) -> dict[str, float]:
    """The controller's own phase durations, and when (seconds after `t0`) it logged its first line and when its
    worker group was up."""
    out: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        at = time.mktime(time.strptime(entry["asctime"].split(",")[0], "%Y-%m-%d %H:%M:%S")) + \
            int(entry["asctime"].split(",")[1]) / 1000 - t0
        out.setdefault("controller first log line at", round(at, 3))
        m = PHASE.search(entry.get("message", ""))
        if m:
            out[m.group(1)] = float(m.group(2))
            if m.group(1) == "Worker group startup completed":
                out["worker group up at"] = round(at, 3)
    return out


def one_fit(settings: dict[str, str] | None, datasets: dict[str, Any] | None, session: Path) -> dict[str, Any]:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from enginebench.engines.ray import train_settings

    before = _controller_logs(session)
    storage = tempfile.mkdtemp(prefix="enginebench-raytrain-cost-")
    mark = Path(storage) / "began"
    t0 = time.time()
    trainer = TorchTrainer(_loop, train_loop_config={"mark": str(mark)},
                           scaling_config=ScalingConfig(num_workers=2, resources_per_worker={"CPU": 1}),
                           datasets=datasets, run_config=RunConfig(name=f"cost-{int(t0 * 1000)}", storage_path=storage))
    with train_settings(settings):
        trainer.fit()
    seconds = time.time() - t0
    began = float(mark.read_text()) - t0
    shutil.rmtree(storage, ignore_errors=True)
    time.sleep(1.0)  # the controller's log is written by its process; give it a moment to flush
    logs = sorted(_controller_logs(session) - before)
    return {"fit_s": round(seconds, 3), "function_began_s": round(began, 3),
            "after_function_s": round(seconds - began, 3),
            "phases": _phases(logs[-1], t0) if logs else {}}


def import_seconds() -> list[float]:
    out = []
    for _ in range(3):
        t0 = time.time()
        subprocess.run([sys.executable, "-c", "import ray.train.torch"], check=True)
        out.append(round(time.time() - t0, 3))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="docs/results/raytrain-fixed-cost.json")
    args = parser.parse_args()
    import numpy as np
    import ray
    import ray.data

    from enginebench.core.budget import Budget
    from enginebench.engines.ray import TRAIN_SETTINGS
    from enginebench.plan import registry

    lifecycle = registry.engine_class("ray")(Budget(cpus=2, memory_bytes=8 << 30))
    lifecycle.start()
    fits: list[dict[str, Any]] = []
    try:
        session = Path(ray._private.worker._global_node.get_session_dir_path())
        ds = ray.data.from_numpy(np.zeros((1000, 4))).materialize()
        kinds = {"ray-defaults": {}, "enginebench": None}
        one_fit(None, None, session)  # warm-up: the first fit imports Ray Train in the driver
        for r in range(args.rounds):
            for name, settings in (kinds.items() if r % 2 == 0 else reversed(kinds.items())):
                for with_data in (False, True):
                    got = one_fit(settings, {"train": ds, "test": ds} if with_data else None, session)
                    fits.append({"round": r, "settings": name, "datasets": with_data, **got})
                    print(json.dumps(fits[-1]), flush=True)
    finally:
        lifecycle.stop()
    imports = import_seconds()

    def median(key: str, **where: Any) -> float:
        return round(statistics.median(f[key] for f in fits if all(f[k] == v for k, v in where.items())), 3)

    summary = {f"{s}, {'datasets' if d else 'no datasets'}": {
        "fit_s": median("fit_s", settings=s, datasets=d), "function_began_s": median("function_began_s", settings=s,
                                                                                     datasets=d),
        "after_function_s": median("after_function_s", settings=s, datasets=d)}
        for s in ("ray-defaults", "enginebench") for d in (False, True)}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    doc = {"what": "an empty TorchTrainer fit (2 workers of 1 CPU, one report) on a local Ray of 2 CPUs",
           "commit": commit, "date": time.strftime("%Y-%m-%d", time.gmtime()),
           "load_avg_1m_at_start": os.getloadavg()[0],
           "enginebench_settings": TRAIN_SETTINGS, "import_ray_train_torch_s": imports, "summary": summary,
           "fits": fits}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
