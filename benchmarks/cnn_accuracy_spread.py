"""cnn's final accuracy on the Ray Train engines over repeated calls in fresh sessions, against the check's band.

    python benchmarks/cnn_accuracy_spread.py [--engines spark-on-ray,ray] [--sessions 5] [--calls 2]
        [--out docs/results/cnn-accuracy-spread-tiny.json]

For each engine: `sessions` fresh engine sessions (started and stopped by the engine's lifecycle, 2 CPUs),
`calls` training calls each, at tiny; every call's final test accuracy and the check's verdict. Written as
JSON: per engine the local loop's reference (its range over the scale's sample orders) and every call. The
spark-on-ray band in workloads/cnn/spec.py (ENGINE_TOLERANCE) is set from this file. Accuracy, not time, is
measured: the machine need not be quiet.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path
from typing import Any

MODULES = {"spark-on-ray": "enginebench.workloads.cnn.spark_on_ray", "ray": "enginebench.workloads.cnn.ray"}


def spread(engine: str, sessions: int, calls: int) -> dict[str, Any]:
    from enginebench.core.budget import Budget
    from enginebench.plan import registry
    from enginebench.workloads.cnn.spec import WORKLOAD

    case = WORKLOAD.cases[0]
    params = case.params_for("tiny")
    inputs = case.make_inputs(params)
    assert case.reference is not None
    reference = case.reference(params, inputs)
    train = importlib.import_module(MODULES[engine]).CASES["train"]
    out: list[dict[str, Any]] = []
    for s in range(sessions):
        lifecycle = registry.engine_class(engine)(Budget(cpus=2, memory_bytes=8 << 30))
        ctx = lifecycle.start()
        try:
            for c in range(calls):
                t0 = time.perf_counter()
                got = train(ctx, params, inputs)
                verdict = case.check(got, params, inputs, reference)
                out.append({"session": s, "call": c, "accuracy": got["final_accuracy"], "ok": verdict.ok,
                            "reason": verdict.reason, "seconds": round(time.perf_counter() - t0, 1)})
                print(engine, json.dumps(out[-1]), flush=True)
        finally:
            lifecycle.stop()
    return {"reference": reference, "calls": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="spark-on-ray,ray")
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/results/cnn-accuracy-spread-tiny.json"))
    args = parser.parse_args()
    found = {e: spread(e, args.sessions, args.calls) for e in args.engines.split(",")}
    args.out.write_text(json.dumps({"scale": "tiny", "cpus": 2, "engines": found}, indent=1) + "\n")


if __name__ == "__main__":
    main()
