"""Plan -> records. Times each phase apart, runs every check, isolates every failure.

For each engine in the plan: check it can run, start it once (timed), run each case (inputs,
warm-up, timed repetitions, checks, resource sampling) under a per-case timeout, and stop it
(timed), also on failure. Every attempt yields exactly one Record, whatever happens.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from harness import registry
from harness.budget import Budget
from harness.engines.base import Endpoints, Engine, EngineContext, EngineUnavailable
from harness.metrics import ProcessTreeSampler, Stopwatch, describe
from harness.records import SCHEMA_VERSION, Record, ResultsWriter, utc_now
from harness.spec import Case, Implementation, Params, Resolved, Timed, Workload

FAULTS: tuple[str, ...] = ("kill-worker",)


@dataclass(frozen=True)
class Plan:
    """What to run: cases x engines at one scale, with warm-up and repetitions, under one budget."""

    workload: Workload
    cases: tuple[str, ...]
    engines: tuple[str, ...]
    scale: str
    budget: Budget
    repeat: int = 3
    warmup: int = 1
    timeout_s: float | None = None  # None: each case's own timeout for the scale
    endpoints: Endpoints = field(default_factory=Endpoints)
    fault: str | None = None  # "kill-worker": one extra repetition during which a worker is killed
    scaling: str = "strong"  # "weak": each case's work parameter is multiplied by the budget's CPUs

    def params(self, case: Case) -> Params:
        return case.params_for(self.scale, self.budget.cpus if self.scaling == "weak" else None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload.name,
            "cases": list(self.cases),
            "engines": list(self.engines),
            "scale": self.scale,
            "repeat": self.repeat,
            "warmup": self.warmup,
            "timeout_s": self.timeout_s,
            "fault": self.fault,
            "scaling": self.scaling,
            "endpoints": {k: v for k, v in vars(self.endpoints).items() if v},
        }

    def case_timeout(self, case: Case) -> float:
        return self.timeout_s if self.timeout_s is not None else float(case.timeout_s[self.scale])


class Observer:
    """Progress hooks; the default does nothing. The CLI's live display subclasses it."""

    def engine_phase(self, engine: str, phase: str) -> None: ...

    def case_phase(self, engine: str, case: str, phase: str) -> None: ...

    def record(self, record: Record) -> None: ...


def new_run_id(plan: Plan) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{plan.workload.name}-{plan.scale}-{secrets.token_hex(2)}"


def make_header(plan: Plan, run_id: str) -> dict[str, Any]:
    """Everything that makes a run comparable: machine, software, budget, plan, git commit."""
    from harness import environment

    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "created_utc": utc_now(),
        "finished_utc": None,
        "status": "running",
        "git": environment.git_state(),
        "machine": environment.machine(),
        "software": environment.software(),
        "budget": plan.budget.to_dict(),
        "plan": plan.to_dict(),
        "engines": {},
    }


def new_record(workload: Workload, case: Case, engine: str, scale: str, budget: Budget, warmup: int, repeat: int,
               status: str, reason: str = "", engine_start: float | None = None, params: Params | None = None,
               **fields: Any) -> Record:
    """A Record with the plan's context filled in (params, budget, headline metric, API)."""
    fields.setdefault("phases", {"engine_start": engine_start} if engine_start is not None else {})
    fields.setdefault("started_utc", utc_now())
    return Record(
        workload=workload.name, case=case.name, engine=engine, api=registry.engine_class(engine).api, scale=scale,
        status=status, reason=reason, params=dict(params if params is not None else case.params_for(scale)),
        budget=budget.to_dict(),
        warmup=warmup, repeat=repeat,
        primary={"name": case.primary.name, "unit": case.primary.unit,
                 "higher_is_better": case.primary.higher_is_better},
        **fields,
    )


def inject_kill_worker(engine: Engine, run: Any, check: Any, median_s: float) -> dict[str, Any]:
    """One extra repetition during which one of the engine's worker processes is killed (SIGKILL,
    by PID, only if it is a process this run started): did the engine cope, and at what cost?"""
    import os
    import signal

    import psutil

    fault: dict[str, Any] = {"kind": "kill-worker", "killed": False}
    pid = engine.worker_pid()
    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    if pid is None or pid not in ours:
        fault["outcome"] = "not injected: the engine has no worker process started by this run"
        return fault
    delay = max(0.02, 0.3 * median_s)
    fired = threading.Event()

    def kill() -> None:
        try:
            os.kill(pid, signal.SIGKILL)
            fired.set()
        except ProcessLookupError:
            pass

    timer = threading.Timer(delay, kill)
    fault.update(pid=pid, kill_after_s=round(delay, 4))
    t0 = time.perf_counter()
    timer.start()
    try:
        answer = run()
        seconds = time.perf_counter() - t0
        verdict = check(answer)
        outcome = "recovered" if verdict.ok else f"wrong answer: {verdict.reason}"
    except Exception as exc:  # noqa: BLE001 - how the engine failed is the finding
        seconds = time.perf_counter() - t0
        outcome = f"failed: {_reason(exc)}"
    timer.cancel()
    fault["killed"] = fired.is_set()
    fault["faulted_run_s"] = seconds
    if not fault["killed"]:
        fault["outcome"] = "not injected: the repetition finished before the kill"
        return fault
    fault["outcome"] = outcome
    if outcome == "recovered":
        fault["recovery_s"] = max(0.0, seconds - median_s)
    return fault


class _Outcome:
    """Shared between the attempt thread and the runner: how far the attempt got."""

    def __init__(self) -> None:
        self.stage = "inputs"
        self.record: Record | None = None


def _finishes_within(fn: Any, timeout: float, name: str) -> bool:
    """Run fn() on a daemon thread; whether it finished within `timeout`. fn reports its own
    outcome (the attempt body turns every exception into a record); a thread past its timeout is
    abandoned (the engine is then restarted, which cancels its work)."""
    thread = threading.Thread(target=fn, name=name, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive()


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _reason(exc: BaseException) -> str:
    """One line: the exception type and its first meaningful line. Errors raised inside a remote
    task (Ray's RayTaskError) start with a task banner; the cause's own line is what says why."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and str(cause).strip():
        first = f"{first} {type(cause).__name__}: {_ANSI.sub('', str(cause)).strip().splitlines()[0]}"
    return f"{type(exc).__name__}: {first}"[:500]


class Runner:
    """Executes a Plan, writing one Record per attempt to `writer` as it goes."""

    def __init__(
        self,
        plan: Plan,
        writer: ResultsWriter,
        observer: Observer | None = None,
        sample_interval_s: float = 0.2,
    ) -> None:
        self.plan = plan
        self.writer = writer
        self.observer = observer or Observer()
        self.sample_interval_s = sample_interval_s
        self._inputs: dict[str, tuple[Any, float]] = {}
        self.records: list[Record] = []

    # -- public ----------------------------------------------------------------------------------
    def run(self) -> list[Record]:
        """Run the whole plan, except (engine, case) pairs already in the results file (a resumed
        run). KeyboardInterrupt stops engines, records the rest as skipped, and re-raises."""
        finished = {(r.engine, r.case) for r in self.writer.run.records}
        pending = [(e, c) for e in self.plan.engines for c in self.plan.cases if (e, c) not in finished]
        try:
            for engine_name in self.plan.engines:
                cases = tuple(c for c in self.plan.cases if (engine_name, c) not in finished)
                if cases:
                    self._run_engine(engine_name, cases)
        except KeyboardInterrupt:
            done = {(r.engine, r.case) for r in self.records}
            for e, c in pending:
                if (e, c) not in done:
                    self._emit(self._record(e, c, "skipped", "run interrupted before this case"))
            self.writer.update_header(status="interrupted", finished_utc=utc_now())
            raise
        self.writer.update_header(status="complete", finished_utc=utc_now())
        return self.records

    # -- engines ---------------------------------------------------------------------------------
    def _run_engine(self, name: str, cases: tuple[str, ...]) -> None:
        cls = registry.engine_class(name)
        session: dict[str, Any] = {"api": cls.api, "baseline": cls.baseline, "versions": cls.versions(),
                                   "status": "not started",
                                   "start_s": None, "stop_s": None, "restarts": 0, "config": {}}
        try:
            cls.check_available()
        except EngineUnavailable as exc:
            session.update(status="unavailable", reason=str(exc))
            self._set_session(name, session)
            for case in cases:
                self._emit(self._record(name, case, "error", f"engine unavailable: {exc}"))
            return

        # Resolve every case first (unsupported ones need no engine), then emit in plan order.
        resolved: list[tuple[str, Resolved, str]] = []  # case, what was found, status if not runnable
        for case in cases:
            try:
                resolved.append((case, self.plan.workload.resolve(cls.api, case, name), "unsupported"))
            except ImportError as exc:
                why = f"cannot import the {cls.api} implementation: {_reason(exc)}"
                resolved.append((case, Resolved(None, why), "error"))
        if not any(found.implementation for _, found, _ in resolved):
            for case, found, status in resolved:
                self._emit(self._record(name, case, status, found.reason))
            session["status"] = "not needed"
            self._set_session(name, session)
            return

        engine = cls(self.plan.budget, self.plan.endpoints)
        ctx = self._start(engine, session)
        try:
            for case, found, status in resolved:
                if found.implementation is None:
                    self._emit(self._record(name, case, status, found.reason))
                    continue
                if ctx is None:
                    self._emit(self._record(name, case, "error", f"engine failed to start: {session.get('reason', '')}",
                                            engine_start=session["start_s"]))
                    continue
                record, healthy = self._attempt(ctx, case, found, session["start_s"], engine)
                self._emit(record)
                if not healthy:
                    # The case overran its timeout (its work may still be running inside the engine) or
                    # had a worker killed: stop the engine and start a fresh one for the next case.
                    self._stop(engine, session)
                    engine = cls(self.plan.budget, self.plan.endpoints)
                    session["restarts"] += 1
                    ctx = self._start(engine, session, restart=True)
        finally:
            self._stop(engine, session)
            self._set_session(name, session)

    def _start(self, engine: Engine, session: dict[str, Any], restart: bool = False) -> EngineContext | None:
        """Start on the calling (main) thread: Ray ties its daemons to the starting thread's life
        (PR_SET_PDEATHSIG), so a start on a short-lived thread would kill the cluster with it."""
        self.observer.engine_phase(engine.name, "restarting" if restart else "starting")
        t0 = time.perf_counter()
        try:
            ctx = engine.start()
        except Exception as exc:  # noqa: BLE001 - a failed start is recorded, the plan goes on
            if not restart:
                session["start_s"] = time.perf_counter() - t0
            session.update(status="error", reason=_reason(exc), detail=traceback.format_exc()[-4000:])
            self._stop(engine, session)  # whatever half-started (e.g. Ray under RayDP) is stopped
            return None
        if not restart:
            session["start_s"] = time.perf_counter() - t0
        session["status"] = "ok"
        session["config"] = self._safe_config(engine)
        return ctx

    def _stop(self, engine: Engine, session: dict[str, Any]) -> None:
        self.observer.engine_phase(engine.name, "stopping")
        t0 = time.perf_counter()
        try:
            engine.stop()
        except Exception as exc:  # noqa: BLE001 - recorded; the next engine still runs
            session["stop_error"] = _reason(exc)
        session["stop_s"] = time.perf_counter() - t0

    @staticmethod
    def _safe_config(engine: Engine) -> dict[str, Any]:
        try:
            return engine.config()
        except Exception as exc:  # noqa: BLE001 - config is informative; never fail a run on it
            return {"error": _reason(exc)}

    def _set_session(self, name: str, session: dict[str, Any]) -> None:
        engines = dict(self.writer.run.header.get("engines", {}))
        engines[name] = session
        self.writer.update_header(engines=engines)

    # -- cases -----------------------------------------------------------------------------------
    def _inputs_for(self, case: Case, params: Any) -> tuple[Any, float]:
        """Inputs are made once per case per run and shared by every engine: same data for all."""
        if case.name not in self._inputs:
            with Stopwatch() as sw:
                inputs = case.make_inputs(params)
            self._inputs[case.name] = (inputs, sw.seconds)
        return self._inputs[case.name]

    def _attempt(self, ctx: EngineContext, case_name: str, found: Resolved,
                 engine_start: float | None, engine: Engine) -> tuple[Record, bool]:
        """One case on one engine. Returns the record and whether the engine is still usable."""
        case = self.plan.workload.case(case_name)
        timeout = self.plan.case_timeout(case)
        outcome = _Outcome()
        started = utc_now()
        notes = {"implementation": found.note} if found.note else {}
        impl = found.implementation
        assert impl is not None
        ok = _finishes_within(
            lambda: self._attempt_body(ctx, case, impl, outcome, engine_start, started, notes, engine),
            timeout,
            f"case-{ctx.engine}-{case_name}",
        )
        if not ok:
            rec = self._record(ctx.engine, case_name, "timeout",
                               f"exceeded the {timeout:g} s case timeout during {outcome.stage}",
                               engine_start=engine_start, started_utc=started, notes=notes)
            return rec, False
        assert outcome.record is not None
        return outcome.record, self.plan.fault is None

    def _attempt_body(self, ctx: EngineContext, case: Case, impl: Implementation, outcome: _Outcome,
                      engine_start: float | None, started: str, notes: dict[str, Any], engine: Engine) -> None:
        plan = self.plan
        params = plan.params(case)
        phases: dict[str, float] = {"engine_start": engine_start or 0.0}
        warm: list[float] = []
        timed: list[Timed] = []
        check_s = 0.0
        sampler = ProcessTreeSampler(self.sample_interval_s)

        def finish(status: str, reason: str = "", detail: str = "", metrics: dict[str, float] | None = None,
                   series: dict[str, list[list[float]]] | None = None) -> None:
            phases["check"] = check_s
            if timed:
                phases["run"] = describe([t.seconds for t in timed])["median"]
            outcome.record = self._record(
                ctx.engine, case.name, status, reason, engine_start=engine_start, started_utc=started,
                warmup_s=tuple(warm), timings_s=tuple(t.seconds for t in timed),
                stats=describe([t.seconds for t in timed]), phases=dict(phases), metrics=metrics or {},
                resources=sampler.result(ctx.cpus) if sampler.samples else {}, detail=detail, notes=notes,
                series=series or {},
            )

        try:
            self.observer.case_phase(ctx.engine, case.name, "inputs")
            inputs, phases["inputs"] = self._inputs_for(case, params)
            sampler.start()
            total = plan.warmup + plan.repeat
            for i in range(total):
                is_warm = i < plan.warmup
                label = f"warm-up {i + 1}/{plan.warmup}" if is_warm else f"run {i - plan.warmup + 1}/{plan.repeat}"
                outcome.stage = label
                self.observer.case_phase(ctx.engine, case.name, label)
                t0 = time.perf_counter()
                answer = impl(ctx, params, inputs)
                seconds = time.perf_counter() - t0
                (warm.append(seconds) if is_warm else timed.append(Timed(seconds, answer)))
                outcome.stage = f"check of {label}"
                with Stopwatch() as sw:
                    verdict = case.check(answer, params, inputs)
                check_s += sw.seconds
                if not verdict.ok:
                    sampler.stop()
                    finish("wrong", f"{label}: {verdict.reason}")
                    return
            sampler.stop()
            outcome.stage = "summary"
            metrics = case.summarize(params, inputs, timed, ctx.cpus) if timed else {}
            series = case.series(params, inputs, timed) if case.series and timed else {}
            if case.notes and timed:
                notes.update(case.notes(params, inputs, timed))
            if plan.fault:
                outcome.stage = f"fault injection ({plan.fault})"
                fault = inject_kill_worker(engine, lambda: impl(ctx, params, inputs),
                                           lambda a: case.check(a, params, inputs),
                                           describe([t.seconds for t in timed])["median"])
                notes["fault"] = fault
                if "recovery_s" in fault:
                    metrics["recovery_s"] = fault["recovery_s"]
                if fault["outcome"] != "recovered" and fault.get("killed"):
                    status = "wrong" if fault["outcome"].startswith("wrong") else "error"
                    finish(status, f"after kill-worker: {fault['outcome']}")
                    return
            finish("ok", metrics=metrics, series=series)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a record
            if sampler.samples:
                sampler.stop()
            finish("error", f"{outcome.stage}: {_reason(exc)}", detail=traceback.format_exc()[-4000:])

    # -- records ---------------------------------------------------------------------------------
    def _record(self, engine: str, case_name: str, status: str, reason: str = "",
                engine_start: float | None = None, **fields: Any) -> Record:
        plan = self.plan
        case = plan.workload.case(case_name)
        return new_record(plan.workload, case, engine, plan.scale, plan.budget, plan.warmup, plan.repeat, status,
                          reason, engine_start, params=plan.params(case), **fields)

    def _emit(self, record: Record) -> None:
        self.records.append(record)
        self.writer.add(record)
        self.observer.record(record)
