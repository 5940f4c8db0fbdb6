"""The tasks workload: cases, parameters per scale, the work functions every engine runs, and checks.

The functions that run inside tasks (`noop`, `spin`, `make_partial`, `combine`, `checksum`,
`Accumulator`) live here, engine-neutral, so every engine executes the same Python code; each
engine module only decides how to submit and gather them in its own idiom.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from enginebench import Case, Metric, Params, Timed, Verdict, Workload, percentile

T = TypeVar("T")

#: Prime modulus for `spin`: squares of residues stay below 2**63.
MOD = 1_000_003


# --- work functions (run inside tasks) --------------------------------------------------------
def noop(i: int) -> int:
    """An empty task: returns its argument so the gather can be checked."""
    return i


def spin(i: int, size: int, rounds: int) -> int:
    """A fixed amount of single-threaded numpy work: `rounds` modular squarings of `size` int64s.

    Returns size * (i+2)^(2^rounds) mod MOD, which `spin_expected` computes in closed form. No BLAS:
    the work never multi-threads behind the engine's back, so every engine gets the same work.
    """
    a = np.full(size, i % MOD + 2, dtype=np.int64)
    for _ in range(rounds):
        a = a * a % MOD
    return int(a.sum())


def spin_expected(i: int, size: int, rounds: int) -> int:
    return size * pow(i % MOD + 2, 2**rounds, MOD)


def make_partial(i: int, size: int) -> np.ndarray:
    """Leaf of the tree reduction: arange(size) + i."""
    return np.arange(size, dtype=np.int64) + i


def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Inner node of the tree reduction."""
    return a + b


def batches(n: int, size: int | None) -> Iterator[range]:
    """The indices 0..n-1 in consecutive ranges of `size` (None: one range of all n), for engines that
    submit calls a batch at a time and gather each batch before the next (the `batches-1000` variants)."""
    if size is None:
        yield range(n)
        return
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def reduce_tree(level: list[T], pair: Callable[[T, T], T]) -> T:
    """Reduce pairwise, level by level (depth ceil(log2 N)); an odd item is carried up unchanged.

    `pair` is the engine's way to schedule combine(a, b) (a Ray task on two ObjectRefs, a Dask
    future on two futures, or a direct call), so the tree has the same shape on every engine.
    """
    if not level:
        raise ValueError("reduce_tree of no items")
    while len(level) > 1:
        nxt = [pair(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def checksum(arr: np.ndarray) -> int:
    """Reads every byte of the transferred array."""
    return int(arr.sum())


class Accumulator:
    """The stateful actor: adds numbers and counts calls."""

    def __init__(self) -> None:
        self.total = 0
        self.calls = 0

    def add(self, x: int) -> int:
        self.total += x
        self.calls += 1
        return self.calls

    def state(self) -> tuple[int, int]:
        return (self.total, self.calls)


class AsyncAccumulator:
    """`Accumulator` behind coroutine methods, for the `async-actor` variants: Ray and Dask run an actor's
    coroutine methods on its event loop instead of its method thread; the state and the work per call
    are the same."""

    def __init__(self) -> None:
        self._acc = Accumulator()

    async def add(self, x: int) -> int:
        return self._acc.add(x)

    async def state(self) -> tuple[int, int]:
        return self._acc.state()


# --- inputs ---------------------------------------------------------------------------------------
def no_inputs(params: Params) -> None:
    return None


def calibrate_spin(params: Params) -> dict[str, float]:
    """Seconds one `spin` task takes on one core of this machine (median of 7, after a warm-up):
    the basis of the fan-out's ideal time N x work / cpus."""
    size, rounds = params["size"], params["rounds"]
    spin(0, size, rounds)
    times = []
    for i in range(7):
        t0 = time.perf_counter()
        spin(i, size, rounds)
        times.append(time.perf_counter() - t0)
    return {"task_s": statistics.median(times)}


def transfer_array(params: Params) -> np.ndarray:
    return np.arange(params["mb"] * 2**20 // 8, dtype=np.int64)


# --- checks ---------------------------------------------------------------------------------------
def check_noop(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    return Verdict.expect("task results", list(answer), list(range(params["n"])))


def check_fanout(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    n, size, rounds = params["n"], params["size"], params["rounds"]
    return Verdict.expect("fan-in sum", int(answer), sum(spin_expected(i, size, rounds) for i in range(n)))


def check_tree(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    n, size = params["n"], params["size"]
    expected = np.arange(size, dtype=np.int64) * n + n * (n - 1) // 2
    got = np.asarray(answer)
    if got.shape != expected.shape:
        return Verdict(False, f"reduced array has shape {got.shape}, expected {expected.shape}")
    bad = int(np.count_nonzero(got != expected))
    return Verdict(bad == 0, f"{bad} of {size} elements differ" if bad else "")


def check_actor(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    m = params["calls"]
    state = Verdict.expect("actor state (total, calls)", tuple(answer["state"]), (m * (m - 1) // 2, m))
    if not state.ok:
        return state
    return Verdict.expect("call acknowledgements", sorted(answer["acks"]), list(range(1, m + 1)))


def check_latency(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    rounds = params["rounds"]
    if len(answer["latencies_s"]) != rounds:
        return Verdict(False, f"{len(answer['latencies_s'])} latencies for {rounds} round trips")
    return Verdict.expect("round-trip results", list(answer["values"]), list(range(rounds)))


def check_transfer(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    n = params["mb"] * 2**20 // 8
    return Verdict.expect("checksums read back", list(answer), [n * (n - 1) // 2] * params["readers"])


# --- derived metrics ------------------------------------------------------------------------------
def _median_s(timed: Sequence[Timed]) -> float:
    return statistics.median(t.seconds for t in timed)


Summarizer = Callable[[Params, Any, Sequence[Timed], int], dict[str, float]]


def per_second(key: str, count: Callable[[Params], int]) -> Summarizer:
    """Throughput = count(params) / median seconds, under metric name `key`."""

    def summarize(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
        return {key: count(params) / _median_s(timed)}

    return summarize


def summarize_fanout(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    median = _median_s(timed)
    ideal = params["n"] * inputs["task_s"] / cpus
    return {
        "tasks_per_s": params["n"] / median,
        "task_ms": inputs["task_s"] * 1e3,
        "ideal_s": ideal,
        "parallel_efficiency": ideal / median,
    }


def summarize_tree(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    median = _median_s(timed)
    n = params["n"]
    return {"seconds": median, "tasks_per_s": (2 * n - 1) / median}


def summarize_actor(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    calls_s = statistics.median(t.seconds - t.answer["create_s"] for t in timed)
    return {
        "calls_per_s": params["calls"] / calls_s,
        "actor_create_ms": statistics.median(t.answer["create_s"] for t in timed) * 1e3,
    }


def summarize_latency(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    samples = [s * 1e3 for t in timed for s in t.answer["latencies_s"]]
    return {
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "p99_ms": percentile(samples, 99),
        "mean_ms": statistics.fmean(samples),
        "samples": float(len(samples)),
    }


def summarize_transfer(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    nbytes = params["mb"] * 2**20
    read = nbytes * params["readers"]
    return {"gb_per_s": read / _median_s(timed) / 1e9, "bytes_read": float(read)}


# --- the workload ---------------------------------------------------------------------------------
def _scales(tiny: Params, small: Params, medium: Params, large: Params) -> dict[str, Params]:
    return {"tiny": tiny, "small": small, "medium": medium, "large": large}


WORKLOAD = Workload(
    name="tasks",
    title="Low-level task parallelism",
    category="task parallelism",
    package=__package__,
    cases=(
        Case(
            name="noop",
            description="N empty tasks submitted at once, results gathered",
            params=_scales({"n": 100}, {"n": 2_000}, {"n": 50_000}, {"n": 500_000}),
            primary=Metric("tasks_per_s", "tasks/s", True),
            make_inputs=no_inputs,
            check=check_noop,
            summarize=per_second("tasks_per_s", lambda p: p["n"]),
            weak_param="n",
            size_unit="task",
        ),
        Case(
            name="fanout",
            description="N tasks of fixed numpy work (about 5 ms), fan-in sum; efficiency vs N x work / cpus",
            params=_scales(
                {"n": 64, "size": 50_000, "rounds": 20},
                {"n": 1_000, "size": 50_000, "rounds": 20},
                {"n": 10_000, "size": 50_000, "rounds": 20},
                {"n": 100_000, "size": 50_000, "rounds": 20},
            ),
            primary=Metric("tasks_per_s", "tasks/s", True),
            make_inputs=calibrate_spin,
            check=check_fanout,
            summarize=summarize_fanout,
            weak_param="n",
            size_unit="task",
        ),
        Case(
            name="tree-reduce",
            description="N partial arrays reduced by tasks that depend on tasks: pairwise (depth log2 N) on ray, "
                        "dask and local, Spark's treeReduce at its default depth",
            params=_scales(
                {"n": 16, "size": 10_000},
                {"n": 256, "size": 100_000},
                {"n": 1_024, "size": 1_000_000},
                {"n": 8_192, "size": 1_000_000},
            ),
            primary=Metric("seconds", "s", False),
            make_inputs=no_inputs,
            check=check_tree,
            summarize=summarize_tree,
            weak_param="n",
            size_unit="partial array",
        ),
        Case(
            name="actors",
            description="one stateful accumulator actor receiving M calls (creation timed apart)",
            params=_scales({"calls": 200}, {"calls": 5_000}, {"calls": 50_000}, {"calls": 200_000}),
            primary=Metric("calls_per_s", "calls/s", True),
            make_inputs=no_inputs,
            check=check_actor,
            summarize=summarize_actor,
            weak_param="calls",
            size_unit="call",
        ),
        Case(
            name="latency",
            description="one task submitted and awaited, repeated; round-trip percentiles",
            params=_scales({"rounds": 30}, {"rounds": 300}, {"rounds": 1_000}, {"rounds": 1_000}),
            primary=Metric("p50_ms", "ms", False),
            make_inputs=no_inputs,
            check=check_latency,
            summarize=summarize_latency,
            size_param="rounds",
            size_unit="round trip",
        ),
        Case(
            name="object-transfer",
            description="an array put into the engine once and read back by K tasks",
            params=_scales(
                {"mb": 8, "readers": 4},
                {"mb": 100, "readers": 8},
                {"mb": 1_000, "readers": 16},
                {"mb": 4_000, "readers": 32},
            ),
            primary=Metric("gb_per_s", "GB/s", True),
            make_inputs=transfer_array,
            check=check_transfer,
            summarize=summarize_transfer,
            weak_param="readers",
            size_param="mb",
            size_unit="MB",
        ),
    ),
)
