"""The one way enginebench measures: an engine session and an attempt at one case on it.

An attempt runs inputs -> (setup) -> warm-ups -> repetitions -> summary -> record. Every answer,
warm-ups included, is checked right after its repetition, outside the timer, before the next one
starts. Inputs and the case's reference are made once per run by `CaseInputs`, on the calling
thread, outside every timer, timeout and resource sample. The timer is pluggable: `Stopwatches`
for the CLI runner, `enginebench.measure.bench.PedanticTimer` (pytest-benchmark) for the benchmark suites; both
produce the same record. The runner adds its policies (plan order, restarts, faults, resume).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from enginebench.contract.spec import Case, EngineContext, Params, Resolved, Staged, Timed, Verdict, Workload
from enginebench.core.budget import Budget
from enginebench.core.stats import describe
from enginebench.engines.base import Endpoints, Engine, EngineUnavailable
from enginebench.measure.metrics import ProcessTreeSampler, Stopwatch
from enginebench.plan import registry
from enginebench.results.records import EngineSession, Record, Status, utc_now

#: Called after each repetition, outside the timer: (index, seconds, answer). Raising ends the loop.
AfterEach = Callable[[int, float, Any], None]


class Timer(Protocol):
    """Runs `work` warmup + repeat times, calling `after` after each repetition."""

    def repeat(self, work: Callable[[], Any], warmup: int, repeat: int, after: AfterEach) -> None: ...


class Stopwatches:
    """The plain timer: a monotonic clock around each call."""

    def repeat(self, work: Callable[[], Any], warmup: int, repeat: int, after: AfterEach) -> None:
        for i in range(warmup + repeat):
            t0 = time.perf_counter()
            answer = work()
            after(i, time.perf_counter() - t0, answer)


class Observer:
    """Progress hooks; the default does nothing. The CLI's live display subclasses it."""

    def engine_phase(self, engine: str, phase: str) -> None: ...

    def case_phase(self, engine: str, case: str, phase: str) -> None: ...

    def record(self, record: Record) -> None: ...


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def one_line(exc: BaseException) -> str:
    """The exception type and its first meaningful line. Errors raised inside a remote task (Ray's
    RayTaskError) start with a task banner; the cause's own line is what says why."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and str(cause).strip():
        first = f"{first} {type(cause).__name__}: {_ANSI.sub('', str(cause)).strip().splitlines()[0]}"
    return f"{type(exc).__name__}: {first}"[:500]


# -- inputs ----------------------------------------------------------------------------------------

@dataclass
class Prepared:
    """A case's inputs and reference for one run, or why they could not be made."""

    inputs: Any = None
    reference: Any = None
    phases: dict[str, float] = field(default_factory=dict)
    error: str = ""
    detail: str = ""


class CaseInputs:
    """Inputs and references, made once per (case, params) per run and shared by every engine;
    `close()` runs each case's teardown. Use as a context manager."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], tuple[Case, Prepared]] = {}

    def get(self, case: Case, params: Params) -> Prepared:
        key = (f"{case.name}@{id(case)}", repr(sorted(params.items())))
        if key not in self._made:
            prepared = Prepared()
            stage = "inputs"
            try:
                with Stopwatch() as sw:
                    prepared.inputs = case.make_inputs(params)
                prepared.phases["inputs"] = sw.seconds
                if case.reference is not None:
                    stage = "reference"
                    with Stopwatch() as sw:
                        prepared.reference = case.reference(params, prepared.inputs)
                    prepared.phases["reference"] = sw.seconds
            except Exception as exc:  # noqa: BLE001 - every engine's record for this case says why
                prepared.error = f"{stage}: {one_line(exc)}"
                prepared.detail = traceback.format_exc()[-4000:]
            self._made[key] = (case, prepared)
        return self._made[key][1]

    def close(self) -> None:
        for case, prepared in self._made.values():
            if case.teardown is not None and not prepared.error:
                case.teardown(prepared.inputs)
        self._made.clear()

    def __enter__(self) -> CaseInputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- engine sessions -------------------------------------------------------------------------------

def _termination_handlers() -> dict[int, Any]:
    """The process's SIGTERM and SIGINT handlers (main thread only: elsewhere they cannot be set)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}


def _restore(handlers: dict[int, Any]) -> None:
    """Put back the handlers an engine's start replaced: ray.init installs its own SIGTERM handler
    (a plain exit), which would skip the run's interrupt handling (engines stopped, unfinished cases
    recorded as skipped, the file left resumable) and leave Ray's agents behind."""
    import signal

    for sig, handler in handlers.items():
        if handler is not None and signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


class Session:
    """One engine's lifecycle for a run: start (timed, on the calling thread), restart, stop.

    Start on the main thread: Ray ties its daemons to the starting thread's life (PR_SET_PDEATHSIG),
    so a start on a short-lived thread would kill the cluster with it.
    """

    def __init__(self, name: str, budget: Budget, endpoints: Endpoints | None = None,
                 observer: Observer | None = None) -> None:
        self.name = name
        self.cls = registry.engine_class(name)
        self.budget = budget
        self.endpoints = endpoints or Endpoints()
        self.observer = observer or Observer()
        from enginebench.engines.environment import current

        self.info = EngineSession(api=self.cls.api, baseline=self.cls.baseline, versions=self.cls.versions(),
                                  environment=dict(current()))
        self.engine: Engine | None = None
        self.ctx: EngineContext | None = None
        #: the packages shipped to the running engine's workers (`ship`), forgotten when it stops
        self.shipped: set[str] = set()

    def ship(self, workload: Workload) -> None:
        """Before a folder workload's first case on this engine: its zipped package to the workers
        (`Engine.ship`), once per started engine."""
        from enginebench.contract.discovery import archive

        path = archive(workload.package)
        if path is None or self.engine is None or workload.package in self.shipped:
            return
        self.engine.ship(path)
        self.shipped.add(workload.package)

    def available(self) -> bool:
        """Whether the engine's packages (and Java) are here; records why not."""
        try:
            self.cls.check_available()
        except EngineUnavailable as exc:
            self.info.status, self.info.reason = "unavailable", str(exc)
            return False
        return True

    def start(self, restart: bool = False) -> EngineContext | None:
        self.observer.engine_phase(self.name, "restarting" if restart else "starting")
        self.engine = self.cls(self.budget, self.endpoints)
        handlers = _termination_handlers()
        t0 = time.perf_counter()
        try:
            self.ctx = self.engine.start()
        except Exception as exc:  # noqa: BLE001 - a failed start is recorded, the plan goes on
            self.info.status, self.info.reason = "error", one_line(exc)
            self.info.detail = traceback.format_exc()[-4000:]
            self.ctx = None
            self.stop()  # whatever half-started (e.g. Ray under RayDP) is stopped
        finally:
            _restore(handlers)
        if not restart:
            self.info.start_s = time.perf_counter() - t0
        if self.ctx is not None:
            self.info.status = "ok"
            try:
                self.info.config = self.engine.config()
            except Exception as exc:  # noqa: BLE001 - config is informative; never fail a run on it
                self.info.config = {"error": one_line(exc)}
            self.info.caps = self.engine.budget_caps()
        return self.ctx

    def stop(self) -> None:
        if self.engine is None:
            return
        self.observer.engine_phase(self.name, "stopping")
        t0 = time.perf_counter()
        try:
            self.engine.stop()
        except Exception as exc:  # noqa: BLE001 - recorded; the next engine still runs
            self.info.stop_error = one_line(exc)
        self.info.stop_s = time.perf_counter() - t0
        self.engine = None
        self.ctx = None
        self.shipped = set()

    def restart(self) -> EngineContext | None:
        """A fresh engine after a case that overran its timeout (its work may still run inside the
        engine) or had a worker killed."""
        self.stop()
        self.info.restarts += 1
        return self.start(restart=True)


# -- records ---------------------------------------------------------------------------------------

def new_record(workload: Workload, case: Case, engine: str, scale: str, params: Params, budget: Budget,
               warmup: int, repeat: int, status: Status, reason: str = "", **fields: Any) -> Record:
    """A Record with the context filled in (params, budget, category, headline metric, API)."""
    fields.setdefault("started_utc", utc_now())
    return Record(
        workload=workload.name, case=case.name, engine=engine, api=registry.engine_class(engine).api, scale=scale,
        status=status, reason=reason, category=workload.category, params=dict(params), budget=budget.to_dict(),
        warmup=warmup, repeat=repeat, size_param=case.sized_by or "",
        size_unit=case.size_unit,
        primary={"name": case.primary.name, "unit": case.primary.unit,
                 "higher_is_better": case.primary.higher_is_better, **({"work": case.work} if case.work else {})},
        **fields,
    )


#: A fault to inject after the timed repetitions: (one more repetition, its check, median seconds)
#: -> what happened ({"outcome": "recovered" | "failed: ..." | "wrong answer: ..." | "not injected: ...",
#: "killed": bool, "recovery_s": ...}).
FaultHook = Callable[[Callable[[], Any], Callable[[Any], Verdict], float], dict[str, Any]]


@dataclass
class Attempt:
    """One case on one started engine. `run()` returns the record and whether the engine is still
    usable (False after a timeout: the engine should be restarted before the next case)."""

    session: Session
    workload: Workload
    case: Case
    found: Resolved
    scale: str
    params: Params
    prepared: Prepared
    warmup: int
    repeat: int
    timeout_s: float
    timer: Timer = field(default_factory=Stopwatches)
    #: A time box (like asv's max_time): when the first warm-up took longer than this many seconds,
    #: one timed repetition is enough. None: always `repeat`.
    long_s: float | None = None
    fault: FaultHook | None = None
    sample_interval_s: float = 0.2
    stage: str = "inputs"
    _record: Record | None = None

    def run(self) -> tuple[Record, bool]:
        started = utc_now()
        notes: dict[str, Any] = {"implementation": self.found.note} if self.found.note else {}
        base: dict[str, Any] = {"started_utc": started, "notes": notes}
        phases = {"engine_start": self.session.info.start_s or 0.0, **self.prepared.phases}
        if self.prepared.error:
            return self._new(Status.ERROR, self.prepared.error, phases=phases, detail=self.prepared.detail,
                             **base), True
        if isinstance(self.prepared.reference, (int, float, str, dict)):  # a dict: of JSON values
            notes["reference"] = self.prepared.reference
        if self.session.ctx is None:
            return self._new(Status.ERROR, f"engine failed to start: {self.session.info.reason}", phases=phases,
                             **base), True
        try:
            self.session.ship(self.workload)
        except Exception as exc:  # noqa: BLE001 - recorded; the next case still runs
            return self._new(Status.ERROR, f"could not ship workload {self.workload.name!r} to the engine's workers: "
                             f"{one_line(exc)}", phases=phases, detail=traceback.format_exc()[-4000:], **base), True
        thread = threading.Thread(target=self._body, args=(self.session.ctx, phases, base), daemon=True,
                                  name=f"case-{self.session.name}-{self.case.name}")
        thread.start()
        thread.join(self.timeout_s)
        if thread.is_alive():  # abandoned: restarting the engine cancels its work
            return self._new(Status.TIMEOUT, f"exceeded the {self.timeout_s:g} s case timeout during {self.stage}",
                             phases=phases, **base), False
        assert self._record is not None
        return self._record, self.fault is None

    def _new(self, status: Status, reason: str = "", **fields: Any) -> Record:
        return new_record(self.workload, self.case, self.session.name, self.scale, self.params, self.session.budget,
                          self.warmup, self.repeat, status, reason, **fields)

    def _observe(self, stage: str) -> None:
        self.stage = stage
        self.session.observer.case_phase(self.session.name, self.case.name, stage)

    def _label(self, i: int) -> str:
        return f"warm-up {i + 1}/{self.warmup}" if i < self.warmup else f"run {i - self.warmup + 1}/{self.repeat}"

    def _body(self, ctx: EngineContext, phases: dict[str, float], base: dict[str, Any]) -> None:
        case, params, impl = self.case, self.params, self.found.implementation
        inputs, reference = self.prepared.inputs, self.prepared.reference
        warm: list[float] = []
        timed: list[Timed] = []
        samples: tuple[list[float], list[float]] = ([], [])  # headline of each warm-up, of each timed repetition
        checks = [0.0]  # seconds
        sampler = ProcessTreeSampler(self.sample_interval_s)

        def check(i: int, seconds: float, answer: Any) -> None:
            (warm.append(seconds) if i < self.warmup else timed.append(Timed(seconds, answer)))
            self._observe(f"check of {self._label(i)}")
            with Stopwatch() as sw:
                verdict = case.check(answer, params, inputs, reference)
            checks[0] += sw.seconds
            if not verdict.ok:
                raise _Wrong(f"{self._label(i)}: {verdict.reason}")
            # This repetition's headline, by the case's own summary of it alone (outside the timer).
            one = case.summarize(params, inputs, [Timed(seconds, answer)], ctx.cpus)
            samples[i >= self.warmup].append(float(one[case.primary.name]))
            if self.long_s is not None and i == self.warmup and warm and warm[0] > self.long_s:
                base["notes"]["repetitions"] = (f"1 of {self.repeat}: the first warm-up took {warm[0]:.1f} s, more "
                                                f"than the {self.long_s:g} s time box")
                self.repeat = 1
                raise _Enough
            if i + 1 < self.warmup + self.repeat:
                self._observe(self._label(i + 1))

        cleanup: list[Callable[[], None]] = []  # a Staged teardown, once its setup succeeded

        def finish(status: Status, reason: str = "", **fields: Any) -> None:
            if sampler.samples:
                sampler.stop()  # no-op when the repetitions already closed the window
            while cleanup:
                self._observe("teardown")
                with Stopwatch() as sw:
                    try:
                        cleanup.pop()()
                    except Exception as exc:  # noqa: BLE001 - recorded
                        if status is Status.OK:
                            status, reason = Status.ERROR, f"teardown: {one_line(exc)}"
                            fields = {"detail": traceback.format_exc()[-4000:]}
                phases["teardown"] = sw.seconds
            seconds = [t.seconds for t in timed]
            phases["check"] = checks[0]
            if timed:
                phases["run"] = describe(seconds)["median"]
            self._record = self._new(status, reason, warmup_s=tuple(warm), timings_s=tuple(seconds),
                                     warmup_samples=tuple(samples[0]), samples=tuple(samples[1]),
                                     checks=len(warm) + len(timed), stats=describe(seconds), phases=phases,
                                     resources=sampler.result(ctx.cpus) if sampler.samples else {}, **base, **fields)

        try:
            sampler.start()
            if isinstance(impl, Staged):
                self._observe("setup")
                with Stopwatch() as sw:
                    engine_inputs = impl.setup(ctx, params, inputs)
                phases["setup"] = sw.seconds
                if impl.teardown is not None:
                    stop, staged = impl.teardown, engine_inputs
                    cleanup.append(lambda: stop(ctx, params, staged))
                run = impl.run
            else:
                assert impl is not None
                engine_inputs, run = inputs, impl
            self._observe(self._label(0))
            try:
                self.timer.repeat(lambda: run(ctx, params, engine_inputs), self.warmup, self.repeat, check)
            except _Wrong as wrong:
                finish(Status.WRONG, str(wrong))
                return
            except _Enough:
                pass
            if len(timed) != self.repeat:
                raise RuntimeError(f"the timer ran {len(warm)} + {len(timed)} repetitions, "
                                   f"expected {self.warmup} + {self.repeat}")
            sampler.stop()
            self._observe("summary")
            metrics = case.summarize(params, inputs, timed, ctx.cpus)
            # The headline is the median of the per-repetition headlines, so the matrix, the detail
            # table, ties and compare all read one number.
            metrics[case.primary.name] = statistics.median(samples[1])
            series = case.series(params, inputs, timed) if case.series else {}
            if case.notes:
                base["notes"].update(case.notes(params, inputs, timed))
            if self.fault is not None:
                self._observe("fault injection")
                fault = self.fault(lambda: run(ctx, params, engine_inputs),
                                   lambda a: case.check(a, params, inputs, reference),
                                   describe([t.seconds for t in timed])["median"])
                base["notes"]["fault"] = fault
                if "recovery_s" in fault:
                    metrics["recovery_s"] = fault["recovery_s"]
                if fault.get("killed") and fault["outcome"] != "recovered":
                    status = Status.WRONG if fault["outcome"].startswith("wrong") else Status.ERROR
                    finish(status, f"after kill-worker: {fault['outcome']}")
                    return
            finish(Status.OK, metrics=metrics, series=series)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a record
            finish(Status.ERROR, f"{self.stage}: {one_line(exc)}", detail=traceback.format_exc()[-4000:])


class _Wrong(Exception):
    """A repetition's answer failed its check: the attempt ends as `wrong`."""


class _Enough(Exception):
    """The time box is spent: the timed repetitions so far are the attempt's."""
