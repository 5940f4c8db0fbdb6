"""Where the actors case's calls/s go: enginebench's `actors` against Ray's own microbenchmark style.

    python benchmarks/actor_overhead.py [--engines ray,dask] [--calls 5000] [--repeat 5]

`ray microbenchmark` reports "1:1 actor calls async" from a warm actor called without arguments in
batches of 1,000; enginebench's `actors` case creates a fresh actor per repetition and sends one batch
of N calls with an argument, while its resource sampler thread runs in the driver. This script starts
each engine with enginebench's own lifecycle and times, interleaved round by round (so drift hits every
variant alike), the median calls/s of:

  case          the case's own implementation (fresh actor, one batch of N `add(i)`), sampler off
  case+sampler  the same with enginebench's ProcessTreeSampler running (0.2 s), as `enginebench run` does
  warm actor    one actor created once and reused, one batch of N `add(i)`
  batches       the warm actor, batches of 1,000 argument-free calls (Ray's microbenchmark loop)
  ray's actor   (ray) the same loop on `ray microbenchmark`'s own actor class (`num_cpus=0`, returns b"ok")

and, for ray, once after the rounds: Ray's own `timeit` helper from `ray._private` (1 s warm-up, then
four 2-second trials of continuous batches, mean), on its own actor class, in the same process, so the
microbenchmark's figure is taken beside enginebench's on the same machine in the same minutes.

Each variant's answer is checked (acknowledgements and final state) before its time counts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from enginebench.core.budget import Budget
from enginebench.measure.attempt import Session
from enginebench.measure.metrics import ProcessTreeSampler
from enginebench.workloads.tasks import spec


def _ray_variants(ctx: Any, calls: int) -> dict[str, Callable[[], float]]:
    import ray

    from enginebench.workloads.tasks import ray as impl

    actor_cls = impl.AccumulatorActor

    def case() -> float:
        answer = impl.actors(ctx, {"calls": calls}, None)
        assert spec.check_actor(answer, {"calls": calls}, None).ok
        return answer["create_s"]

    warm = actor_cls.remote()
    ray.get(warm.state.remote())

    def reuse() -> float:
        acks = ray.get([warm.add.remote(i) for i in range(calls)])
        assert len(acks) == calls
        return 0.0

    def batches() -> float:
        for start in range(0, calls, 1000):
            assert len(ray.get([warm.state.remote() for _ in range(min(1000, calls - start))])) > 0
        return 0.0

    @ray.remote(num_cpus=0)
    class MicrobenchmarkActor:  # ray._private.ray_perf.Actor
        def small_value(self) -> bytes:
            return b"ok"

    micro = MicrobenchmarkActor.remote()
    ray.get(micro.small_value.remote())

    def ray_actor() -> float:
        for start in range(0, calls, 1000):
            assert all(v == b"ok" for v in ray.get([micro.small_value.remote()
                                                    for _ in range(min(1000, calls - start))]))
        return 0.0

    def rays_timeit() -> float:
        from ray._private.ray_microbenchmark_helpers import timeit

        [(_, mean, _)] = timeit("1:1 actor calls async", lambda: ray.get([micro.small_value.remote()
                                                                            for _ in range(1000)]), 1000, 0)
        return mean

    return {"case": case, "warm actor": reuse, "batches": batches, "ray's actor": ray_actor,
            "_timeit": rays_timeit}


def _dask_variants(ctx: Any, calls: int) -> dict[str, Callable[[], float]]:
    from enginebench.workloads.tasks import dask as impl

    client = ctx.handle

    def case() -> float:
        answer = impl.actors(ctx, {"calls": calls}, None)
        assert spec.check_actor(answer, {"calls": calls}, None).ok
        return answer["create_s"]

    future = client.submit(spec.Accumulator, actor=True, pure=False)
    warm = future.result()

    def reuse() -> float:
        acks = [f.result() for f in [warm.add(i) for i in range(calls)]]
        assert len(acks) == calls
        return 0.0

    def batches() -> float:
        for start in range(0, calls, 1000):
            futures = [warm.state() for _ in range(min(1000, calls - start))]
            assert all(f.result() for f in futures)
        return 0.0

    variants = {"case": case, "warm actor": reuse, "batches": batches}
    variants["_keep"] = lambda: float(bool(future))  # the warm actor lives as long as its future
    return variants


VARIANTS = {"ray": _ray_variants, "dask": _dask_variants}


def measure(engine: str, calls: int, repeat: int, cpus: int, memory: int) -> dict[str, float]:
    session = Session(engine, Budget(cpus, memory))
    ctx = session.start()
    if ctx is None:
        raise SystemExit(f"{engine} failed to start: {session.info.reason}")
    try:
        every = VARIANTS[engine](ctx, calls)
        variants = {k: v for k, v in every.items() if not k.startswith("_")}
        timed: dict[str, list[float]] = {name: [] for name in [*variants, "case+sampler"]}

        def once(name: str, fn: Callable[[], float], sampled: bool) -> float:
            sampler = ProcessTreeSampler(0.2).start() if sampled else None
            t0 = time.perf_counter()
            create_s = fn()
            seconds = time.perf_counter() - t0 - create_s
            if sampler is not None:
                sampler.stop()
            return calls / seconds

        for name, fn in variants.items():  # warm-up
            once(name, fn, False)
        for _ in range(repeat):
            for name, fn in variants.items():
                timed[name].append(once(name, fn, False))
            timed["case+sampler"].append(once("case", variants["case"], True))
        result = {name: statistics.median(xs) for name, xs in timed.items()}
        if "_timeit" in every:  # a rate already, from Ray's own helper
            result["ray's timeit"] = every["_timeit"]()
        return result
    finally:
        session.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="ray,dask")
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--memory", type=int, default=4 * 2**30)
    args = ap.parse_args()
    print(f"actor calls/s, {args.calls} calls per repetition, {args.cpus} CPUs, median of {args.repeat} "
          "(interleaved)")
    for engine in args.engines.split(","):
        result = measure(engine, args.calls, args.repeat, args.cpus, args.memory)
        best = max(result.values())
        print(f"{engine:<5} " + "  ".join(f"{name} {v:8.0f} ({v / best:4.2f})" for name, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
