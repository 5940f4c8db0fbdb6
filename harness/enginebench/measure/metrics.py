"""Stopwatch and resource use of the driver's process tree (repetition statistics: `core.stats`)."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

#: Processes ever seen under this process's tree, (pid, start) -> True: they stay the run's when their parent
#: leaves them behind (re-parented), from one sampler window to the next.
_RUN_SEEN: dict[tuple[int, int], bool] = {}
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


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot, summed over CPUs (idle, I/O wait and time
    stolen by a hypervisor excluded)."""
    import psutil

    t = psutil.cpu_times()
    return sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))


#: How finely the kernel reports a process's CPU time (seconds): one clock tick (10 ms on Linux).
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 0.01
#: How many foreign processes a record names (the largest CPU users first).
FOREIGN_NAMED = 3
#: How a record's foreign CPU was measured: per process, with reaped children and a resolution (records
#: without it inferred foreign CPU as the machine's busy time less the run's tree).
FOREIGN_METHOD = "per-process"


@dataclass(frozen=True)
class Reading:
    """One process at one instant: its parent, name, CPU seconds of its own and of its reaped
    children (`wait`ed for: the kernel adds a child's whole CPU time to its parent's when it is
    reaped), and resident memory."""

    ppid: int
    name: str
    own_s: float
    children_s: float
    rss: int
    kernel: bool = False  # a kernel thread (the kernel's work for every process: neither run nor foreign)


def _scan_proc() -> dict[tuple[int, int], Reading]:
    """Every process on a Linux machine from one read of /proc/<pid>/stat each, keyed by (pid, start
    tick) so a reused pid is a new process (about 3 ms for 90 processes, a fifth of psutil's cost)."""
    page = os.sysconf("SC_PAGE_SIZE")
    out: dict[tuple[int, int], Reading] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read()
        except OSError:  # exited since the listing
            continue
        head, _, tail = raw.rpartition(b")")
        fields = tail.split()
        # fields[0] is the state (stat field 3): ppid 4, flags 9, utime 14, stime 15, cutime 16,
        # cstime 17, starttime 22, rss 24 (proc(5)).
        pid, ppid = int(entry.name), int(fields[1])
        out[(pid, int(fields[19]))] = Reading(
            ppid, head.partition(b"(")[2].decode(errors="replace"),
            (int(fields[11]) + int(fields[12])) * TICK_S, (int(fields[13]) + int(fields[14])) * TICK_S,
            int(fields[21]) * page, kernel=bool(int(fields[6]) & 0x00200000) or pid == 2 or ppid == 2)  # PF_KTHREAD
    return out


def _scan_psutil() -> dict[tuple[int, int], Reading]:
    """The same through psutil, where there is no /proc (macOS)."""
    import psutil

    out: dict[tuple[int, int], Reading] = {}
    for p in psutil.process_iter(["ppid", "name", "cpu_times", "create_time", "memory_info"]):
        i = p.info
        if i["cpu_times"] is None or i["create_time"] is None:
            continue
        t = i["cpu_times"]
        out[(p.pid, int(i["create_time"] * 1000))] = Reading(
            i["ppid"] or 0, i["name"] or "", t.user + t.system,
            getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0),
            i["memory_info"].rss if i["memory_info"] else 0)
    return out


def command_line(pid: int, width: int = 80) -> str:
    """A process's command line, cut to `width` characters ("" when it is gone or unreadable): how a
    foreign process is named to the reader."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return ""
    text = " ".join(a.decode(errors="replace") for a in args if a)
    return text if len(text) <= width else text[:width - 3] + "..."


def scan_processes() -> dict[tuple[int, int], Reading]:
    """Every process on the machine now: (pid, start) -> Reading."""
    return _scan_proc() if os.path.isdir("/proc/self") else _scan_psutil()


@dataclass
class _Ledger:
    """One process across a window: whose it is, its inclusive CPU (own + reaped children) when first
    and last seen, and the last readings of its children that vanished (were reaped) meanwhile."""

    owner: str  # "run", "apart", "foreign" or "kernel"
    name: str
    ppid: int
    first: float
    last: float
    children_first: float
    children_last: float
    reaped: float = 0.0  # inclusive CPU of vanished children as last seen, already counted on their own
    gone: bool = False

    @property
    def cpu_s(self) -> float:
        """CPU time in the window: the change of its inclusive CPU, less what its reaped children
        had already been counted for (a child's whole CPU lands on its parent when reaped)."""
        jump = max(0.0, self.children_last - self.children_first)
        return max(0.0, self.last - self.first - min(jump, self.reaped))


class ProcessTreeSampler:
    """Samples RSS and CPU time of this process and every descendant (engine workers, JVMs), and the
    CPU time of every other process on the machine.

    Each sample reads every process once (/proc/<pid>/stat on Linux) and sorts it by owner: the run
    (the root process, by default this one, and every descendant, also after an engine's daemon is
    re-parented: a process once seen under this process stays the run's in later windows too),
    measured apart (`measured_apart`: a load generator, summed as `client_cpu_s`), kernel threads (the
    kernel's work for everyone), and foreign: everything else, the processes that belong to neither the
    engine nor the run. A process keeps the owner it was first given.

    CPU time is per process inclusive of its reaped children (the kernel adds a child's CPU to its
    parent's when the parent waits for it), so processes born and gone between two samples (a
    `ray.kill`ed actor, a finished Spark Python worker, a compiler run by a foreign `make`) count for
    their owner; a child that was seen alive counts once (its last reading is taken off its parent's
    jump). Processes started during the window count from zero.

    Foreign CPU is thus measured, not inferred from the machine's busy time, and comes with its
    resolution: the kernel reports CPU time in clock ticks (`TICK_S`, 10 ms), so each foreign process
    may be over-read by up to two ticks (user and system time), never by more than its reading. Callers flag
    noise on the lower bound (`foreign_cpu_s - foreign_resolution_s`), so a window too short to
    resolve a share of the budget never raises a flag. The foreign processes that took the most CPU
    are named (`foreign_top`).

    Peak RSS is the largest sum of RSS over the run's processes seen in one sample (pages shared
    between processes, such as Ray's object store, are counted once per process that maps them). The
    root is watched on its own: its RSS at the start is subtracted from the tree's peak (the driver
    grows with every engine that ran before, which would make figures depend on engine order) and its
    own peak is reported beside. The machine's busy time is recorded beside the attributed CPU.
    """

    def __init__(self, interval_s: float = 0.2, root_pid: int | None = None) -> None:
        self.interval_s = interval_s
        self.root_pid = root_pid or os.getpid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: dict[tuple[int, int], _Ledger] = {}
        self.peak_rss = 0
        self.driver_rss_start = 0
        self.driver_peak_rss = 0
        self.load_avg_1m: float | None = None
        self._machine_busy: list[float] = []  # first and latest whole-machine busy CPU seconds
        self.samples = 0
        self._t0 = 0.0
        self.wall_s = 0.0

    def _owner(self, key: tuple[int, int], scan: dict[tuple[int, int], Reading], by_pid: dict[int, tuple[int, int]],
               apart: set[int], memo: dict[tuple[int, int], str]) -> str:
        """Whose process this is: apart (a registered pid or below one) wins, then an owner already
        given, then the root and below it, kernel threads, and foreign for the rest."""
        if key in memo:
            return memo[key]
        pid, reading = key[0], scan[key]
        known = self._procs.get(key)
        parent = by_pid.get(reading.ppid)
        up = self._owner(parent, scan, by_pid, apart, memo) if parent is not None and parent != key else ""
        if pid in apart or up == "apart":
            owner = "apart"
        elif known is not None:
            owner = known.owner
        elif pid == self.root_pid or up == "run" or (self.root_pid == os.getpid() and key in _RUN_SEEN):
            owner = "run"
        elif reading.kernel:
            owner = "kernel"
        else:
            owner = "foreign"
        memo[key] = owner
        return owner

    def _sample(self) -> None:
        scan = scan_processes()
        by_pid = {key[0]: key for key in scan}
        with _APART_LOCK:
            apart = set(_APART)
        memo: dict[tuple[int, int], str] = {}
        rss = 0
        for key, r in scan.items():
            owner = self._owner(key, scan, by_pid, apart, memo)
            incl = r.own_s + r.children_s
            led = self._procs.get(key)
            if led is None:
                # Running at the first sample: measured from then on; born during the window: from zero.
                at_start = self.samples == 0
                name = command_line(key[0]) or r.name if owner == "foreign" else r.name
                self._procs[key] = _Ledger(owner, name, r.ppid, incl if at_start else 0.0, incl,
                                           r.children_s if at_start else 0.0, r.children_s)
            else:
                led.owner, led.ppid, led.last, led.children_last = owner, r.ppid, incl, r.children_s
            if owner == "run":
                if self.root_pid == os.getpid():
                    _RUN_SEEN[key] = True
                rss += r.rss
                if key[0] == self.root_pid:
                    self.driver_peak_rss = max(self.driver_peak_rss, r.rss)
                    if self.samples == 0:
                        self.driver_rss_start = r.rss
        for key, led in self._procs.items():  # gone since the last sample: reaped by its parent
            if not led.gone and key not in scan:
                led.gone = True
                _RUN_SEEN.pop(key, None)
                parent = self._procs.get(by_pid.get(led.ppid, (-1, -1)))
                if parent is not None:
                    parent.reaped += led.last
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

    def _cpu(self, owner: str) -> float:
        return sum(led.cpu_s for led in self._procs.values() if led.owner == owner)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the run's processes (the root and its descendants) in the window."""
        return self._cpu("run")

    @property
    def client_cpu_seconds(self) -> float:
        """CPU time of the processes measured apart (`measured_apart`)."""
        return self._cpu("apart")

    @property
    def foreign_cpu_seconds(self) -> float:
        """CPU time of the processes that belong to neither the run nor the processes measured apart
        (kernel threads left out), at most the machine's CPUs over the window."""
        cap = self.wall_s * (os.cpu_count() or 1) if self.wall_s else math.inf
        return min(self._cpu("foreign"), cap)

    @property
    def foreign_resolution_s(self) -> float:
        """How much the foreign CPU may be over-read: up to two clock ticks per foreign process, and never
        more than its reading (no process took less than nothing). Bounding each process by its own
        reading keeps many near-idle foreign processes (each read at a tick) from hiding a real burner."""
        return sum(min(led.cpu_s, 2 * TICK_S) for led in self._procs.values() if led.owner == "foreign")

    def foreign_top(self, n: int = FOREIGN_NAMED) -> list[dict[str, Any]]:
        """The foreign processes that took the most CPU in the window: name, pid and CPU seconds."""
        top = sorted(((led.cpu_s, key[0], led.name) for key, led in self._procs.items()
                      if led.owner == "foreign" and led.cpu_s > 0), reverse=True)[:n]
        return [{"name": name, "pid": pid, "cpu_s": round(cpu, 3)} for cpu, pid, name in top]

    def result(self, cpus: int) -> dict[str, Any]:
        """Peak RSS (bytes; of the tree, and net of the driver's RSS at the start), the driver's own
        peak, CPU seconds, mean utilisation of the `cpus` budget (0..1+), the CPU taken by processes
        outside the run as seconds, as a share of the budget and with its resolution, the foreign
        processes that took most of it, and the machine's busy CPU over the window."""
        budget_s = self.wall_s * cpus
        util = self.cpu_seconds / budget_s if budget_s > 0 else 0.0
        apart = {"client_cpu_s": round(self.client_cpu_seconds, 4)} if any(
            led.owner == "apart" for led in self._procs.values()) else {}
        busy = self._machine_busy[1] - self._machine_busy[0] if len(self._machine_busy) == 2 else 0.0
        return {**apart,
            "peak_rss_bytes": self.peak_rss,
            "peak_rss_net_bytes": max(0, self.peak_rss - self.driver_rss_start),
            "driver_rss_start_bytes": self.driver_rss_start,
            "driver_peak_rss_bytes": self.driver_peak_rss,
            "cpu_seconds": round(self.cpu_seconds, 4),
            "cpu_utilisation": round(util, 4),
            "foreign_cpu_s": round(self.foreign_cpu_seconds, 4),
            "foreign_cpu_share": round(self.foreign_cpu_seconds / budget_s, 4) if budget_s > 0 else 0.0,
            "foreign_resolution_s": round(self.foreign_resolution_s, 4),
            "foreign_top": self.foreign_top(),
            "foreign_method": FOREIGN_METHOD,
            "kernel_cpu_s": round(self._cpu("kernel"), 4),
            "machine_busy_s": round(busy, 4),
            "load_avg_1m": round(self.load_avg_1m, 2) if self.load_avg_1m is not None else None,
            "wall_s": round(self.wall_s, 4),
            "samples": self.samples,
            "interval_s": self.interval_s,
        }
