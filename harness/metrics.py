"""Stopwatch, repetition statistics, and resource use of the driver's process tree."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any


class Stopwatch:
    """`with Stopwatch() as sw: ...; sw.seconds` — wall time from a monotonic clock."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0 = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.seconds = time.perf_counter() - self._t0


def describe(samples: Sequence[float]) -> dict[str, float]:
    """Median, min, max, mean, quartiles, IQR and stdev of repetition timings.

    Quartiles use the inclusive method (linear interpolation between order statistics), so one or
    two samples give a defined IQR (0 and the half-range) instead of failing.
    """
    if not samples:
        return {}
    xs = sorted(float(s) for s in samples)
    if len(xs) == 1:
        q1 = q3 = xs[0]
    else:
        q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return {
        "n": float(len(xs)),
        "median": statistics.median(xs),
        "min": xs[0],
        "max": xs[-1],
        "mean": statistics.fmean(xs),
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "stdev": statistics.stdev(xs) if len(xs) > 1 else 0.0,
    }


def percentile(samples: Sequence[float], pct: float) -> float:
    """The pct-th percentile (0..100) with linear interpolation, like numpy's default."""
    if not samples:
        raise ValueError("percentile of no samples")
    xs = sorted(samples)
    k = (len(xs) - 1) * pct / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class ProcessTreeSampler:
    """Samples RSS and CPU time of this process and every descendant (engine workers, JVMs).

    Peak RSS is the largest sum of RSS over the tree seen in one sample (pages shared between
    processes, such as Ray's object store, are counted once per process that maps them). CPU time
    is summed per process from the first to the last sample in which it was seen; processes that
    started during the window count from zero. Sampling runs on a daemon thread every `interval_s`.
    """

    def __init__(self, interval_s: float = 0.2, root_pid: int | None = None) -> None:
        self.interval_s = interval_s
        self.root_pid = root_pid or os.getpid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_cpu: dict[int, float] = {}
        self._last_cpu: dict[int, float] = {}
        self.peak_rss = 0
        self.samples = 0
        self._t0 = 0.0
        self.wall_s = 0.0

    def _sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        rss = 0
        for p in procs:
            try:
                with p.oneshot():
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    cpu = t.user + t.system
            except psutil.Error:
                continue
            key = p.pid
            if key not in self._first_cpu:
                # A process already running at the first sample is measured from then on;
                # one born during the window from zero.
                self._first_cpu[key] = cpu if self.samples == 0 else 0.0
            self._last_cpu[key] = cpu
        self.peak_rss = max(self.peak_rss, rss)
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> ProcessTreeSampler:
        self._t0 = time.perf_counter()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="enginebench-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the window (a second call keeps the first window: a late stop must not stretch it)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sample()
        self.wall_s = time.perf_counter() - self._t0

    @property
    def cpu_seconds(self) -> float:
        return sum(self._last_cpu[p] - self._first_cpu[p] for p in self._last_cpu)

    def result(self, cpus: int) -> dict[str, Any]:
        """Peak RSS (bytes), CPU seconds, and mean utilisation of the `cpus` budget (0..1+)."""
        util = self.cpu_seconds / (self.wall_s * cpus) if self.wall_s > 0 and cpus > 0 else 0.0
        return {
            "peak_rss_bytes": self.peak_rss,
            "cpu_seconds": round(self.cpu_seconds, 4),
            "cpu_utilisation": round(util, 4),
            "wall_s": round(self.wall_s, 4),
            "samples": self.samples,
            "interval_s": self.interval_s,
        }
