"""Ray Data batch scoring: its variants on the same inputs, alternated, every answer checked.

    python benchmarks/inference_variants.py [--engine ray|spark] [--scale tiny] [--rounds 5] [--cpus 2]
                                            [--order blocks|alternate]

Starts the engine once with the budget, makes the inference workload's inputs and reference as `run` does,
and times each variant, every answer checked. `--order blocks` (the default) runs each variant as
`run` does, a warm-up then its rounds back to back, in the order A B B A (half the rounds in each
block) so drift affects both alike; `--order alternate` runs one call of each variant per round, the
order rotated, which also measures what one variant leaves behind for the other (an actor pool's
teardown sends the next task-based call to new worker processes). It prints each variant's median
seconds and images/s and the ratio to the fastest. The variants:
ray (workloads/inference/ray.py): `actors`, a callable class on an actor pool that grows from 1 to one
actor per CPU and is new in every call; `tasks`, a function on Ray's reused worker processes with the
per-process model cache. spark (workloads/inference/spark.py): `repartition-rows`, a shuffle to one
partition per core and `collect()` of Rows; `rows`, the files' own partitions and `collect()`; `arrow`,
the files' own partitions and `toPandas()` over Arrow.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    from harness import registry
    from harness.budget import Budget
    from workloads.inference import ray as ray_impl
    from workloads.inference import spark as spark_impl
    from workloads.inference.spec import PARAMS, check, prepare, reference, teardown

    forms = {"ray": (("actors", "tasks"), lambda ctx, p, i, v: ray_impl.score(ctx, p, i, strategy=v)),
             "spark": (("repartition-rows", "rows", "arrow"), lambda ctx, p, i, v: spark_impl.score(ctx, p, i, form=v))}

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="ray", choices=list(forms))
    parser.add_argument("--scale", default="tiny", choices=list(PARAMS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--order", choices=("blocks", "alternate"), default="blocks")
    args = parser.parse_args()

    params = PARAMS[args.scale]
    inputs = prepare(params)
    ref = reference(params, inputs)
    engine = registry.engine_class(args.engine)(Budget(args.cpus, 8 * 2**30))
    ctx = engine.start()
    variants, run = forms[args.engine]
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    def once(v: str, label: str, timed: bool) -> None:
        t0 = time.perf_counter()
        answer = run(ctx, params, inputs, v)
        wall = time.perf_counter() - t0
        verdict = check(answer, params, inputs, ref)
        if not verdict.ok:
            raise SystemExit(f"{v}: wrong answer: {verdict.reason}")
        if timed:
            seconds[v].append(wall)
        print(f"{label:9} {v:16} {wall:7.2f} s  {inputs['n'] / wall:9.0f} images/s  processes {answer['processes']}  "
              f"loads in call {answer['loads_in_call']}", flush=True)

    try:
        if args.order == "alternate":
            for rnd in range(args.rounds + 1):
                for v in variants[rnd % len(variants):] + variants[:rnd % len(variants)]:
                    once(v, f"round {rnd}" if rnd else "warm-up", timed=rnd > 0)
        else:
            half = (args.rounds + 1) // 2
            for block, v in enumerate((*variants, *reversed(variants))):
                once(v, "warm-up", timed=False)
                for _ in range(half if block < len(variants) else args.rounds - half):
                    once(v, f"block {block + 1}", timed=True)
    finally:
        engine.stop()
        teardown(inputs)
    best = min(statistics.median(s) for s in seconds.values())
    print(f"\n{args.scale}, {inputs['n']} images, {args.cpus} CPUs, median of {args.rounds} (every answer checked):")
    for v, s in seconds.items():
        med = statistics.median(s)
        print(f"  {v:16} {med:7.2f} s  {inputs['n'] / med:9.0f} images/s  {med / best:5.2f}x of the best  "
              f"(range {min(s):.2f}-{max(s):.2f} s)")


if __name__ == "__main__":
    main()
