"""Stopwatch, repetition statistics, and resource use of the driver's process tree."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

#: Processes measured apart from the driver's tree (`measured_apart`): pid -> how many registrations hold it.
_APART: dict[int, int] = {}
_APART_LOCK = threading.Lock()


@contextmanager
def measured_apart(pid: int) -> Iterator[None]:
    """While inside, the process `pid` (and its children) is measured apart from the driver's tree: a
    load generator a case starts beside the engine it loads. Its CPU and memory are left out of the tree's
    figures and out of the foreign CPU (it is part of the run, not noise), and its CPU time is reported on
    its own as `client_cpu_s`. A case that starts such a process says so here, or its load counts as the
    engine's."""
    with _APART_LOCK:
        _APART[pid] = _APART.get(pid, 0) + 1
    try:
        yield
    finally:
        with _APART_LOCK:
            _APART[pid] -= 1
            if not _APART[pid]:
                del _APART[pid]


def _apart_pids() -> set[int]:
    """The registered processes and their descendants, now."""
    import psutil

    with _APART_LOCK:
        roots = list(_APART)
    out: set[int] = set()
    for pid in roots:
        try:
            out |= {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
        except psutil.Error:
            continue
    return out


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


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot, summed over CPUs (idle, I/O wait and time
    stolen by a hypervisor excluded)."""
    import psutil

    t = psutil.cpu_times()
    return sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))


def machine_load(seconds: float = 1.0) -> tuple[float, float]:
    """(1-minute load average, CPUs' worth of busy time over the next `seconds`) of the machine."""
    t0, b0 = time.perf_counter(), machine_busy_seconds()
    time.sleep(seconds)
    busy = (machine_busy_seconds() - b0) / (time.perf_counter() - t0)
    return os.getloadavg()[0], busy


class ProcessTreeSampler:
    """Samples RSS and CPU time of this process and every descendant (engine workers, JVMs).

    Peak RSS is the largest sum of RSS over the tree seen in one sample (pages shared between
    processes, such as Ray's object store, are counted once per process that maps them). CPU time
    is summed per process from the first to the last sample in which it was seen; processes that
    started during the window count from zero. Sampling runs on a daemon thread every `interval_s`.

    Beside the tree it samples the whole machine's busy CPU time, so a record can say how much CPU
    processes outside the run took during the case (foreign CPU: the machine's busy time minus the
    tree's), and the load average at the start. The driver (the root process) is watched on its own:
    its RSS at the start is subtracted from the tree's peak (the driver grows with every engine that
    ran before, which would make figures depend on engine order) and its own peak is reported beside.
    A process registered with `measured_apart` (a load generator) is left out of the tree and of the
    foreign CPU; its CPU time is summed on its own (`client_cpu_s`).
    """

    def __init__(self, interval_s: float = 0.2, root_pid: int | None = None) -> None:
        self.interval_s = interval_s
        self.root_pid = root_pid or os.getpid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_cpu: dict[int, float] = {}
        self._last_cpu: dict[int, float] = {}
        self._client_first: dict[int, float] = {}
        self._client_last: dict[int, float] = {}
        self.peak_rss = 0
        self.driver_rss_start = 0
        self.driver_peak_rss = 0
        self.load_avg_1m: float | None = None
        self._machine_busy: list[float] = []  # first and latest whole-machine busy CPU seconds
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
        apart = _apart_pids()
        for pid in apart:
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            self._client_first.setdefault(pid, t.user + t.system if self.samples == 0 else 0.0)
            self._client_last[pid] = t.user + t.system
        rss = 0
        for p in procs:
            if p.pid in apart:
                continue
            try:
                with p.oneshot():
                    mem = p.memory_info().rss
                    rss += mem
                    if p.pid == self.root_pid:
                        self.driver_peak_rss = max(self.driver_peak_rss, mem)
                        if self.samples == 0:
                            self.driver_rss_start = mem
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
        busy = machine_busy_seconds()
        self._machine_busy = [self._machine_busy[0] if self._machine_busy else busy, busy]
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> ProcessTreeSampler:
        self.load_avg_1m = os.getloadavg()[0]
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

    @property
    def client_cpu_seconds(self) -> float:
        """CPU time of the processes measured apart (`measured_apart`), as last sampled."""
        return sum(self._client_last[p] - self._client_first[p] for p in self._client_last)

    @property
    def foreign_cpu_seconds(self) -> float:
        """CPU time the machine spent outside the sampled tree and the processes measured apart."""
        if len(self._machine_busy) < 2:
            return 0.0
        return max(0.0, self._machine_busy[1] - self._machine_busy[0] - self.cpu_seconds - self.client_cpu_seconds)

    def result(self, cpus: int) -> dict[str, Any]:
        """Peak RSS (bytes; of the tree, and net of the driver's RSS at the start), the driver's own
        peak, CPU seconds, mean utilisation of the `cpus` budget (0..1+), and the CPU taken by
        processes outside the run as seconds and as a share of the budget."""
        budget_s = self.wall_s * cpus
        util = self.cpu_seconds / budget_s if budget_s > 0 else 0.0
        apart = {"client_cpu_s": round(self.client_cpu_seconds, 4)} if self._client_last else {}
        return {**apart,
            "peak_rss_bytes": self.peak_rss,
            "peak_rss_net_bytes": max(0, self.peak_rss - self.driver_rss_start),
            "driver_rss_start_bytes": self.driver_rss_start,
            "driver_peak_rss_bytes": self.driver_peak_rss,
            "cpu_seconds": round(self.cpu_seconds, 4),
            "cpu_utilisation": round(util, 4),
            "foreign_cpu_s": round(self.foreign_cpu_seconds, 4),
            "foreign_cpu_share": round(self.foreign_cpu_seconds / budget_s, 4) if budget_s > 0 else 0.0,
            "load_avg_1m": round(self.load_avg_1m, 2) if self.load_avg_1m is not None else None,
            "wall_s": round(self.wall_s, 4),
            "samples": self.samples,
            "interval_s": self.interval_s,
        }
