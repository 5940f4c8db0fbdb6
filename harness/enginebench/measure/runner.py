"""Plan -> records: the order of engines and cases, and the run's policies around each attempt.

For each engine in the plan: check it can run, start it once (timed), run each case of each workload
through the attempt core (`enginebench.measure.attempt`), restart the engine after a timeout or an
injected fault, and stop it, also on failure. Inputs are made once per run and shared by every engine;
their teardown runs when the plan ends. Every attempt yields exactly one Record, whatever happens; a resumed run skips
the (engine, case) pairs already in its file.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from enginebench.contract.spec import Resolved, Verdict, Workload
from enginebench.engines.base import Endpoints, Engine
from enginebench.measure.attempt import Attempt, CaseInputs, Observer, Session, new_record, one_line
from enginebench.plan import registry
from enginebench.plan.plan import FAULTS, Step, steps
from enginebench.results.records import Header, Plan, Record, ResultsWriter, Status, utc_now

__all__ = ["FAULTS", "Runner", "inject_kill_worker", "make_header", "new_run_id"]


def new_run_id(plan: Plan, kind: str = "") -> str:
    """`<UTC stamp>-[<kind>-]<workloads>-<scale>-<4 hex>`; kind names what wrote it ("variants")."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    workloads = "all" if set(plan.workloads) == set(registry.WORKLOADS) and len(plan.workloads) > 1 else plan.workload
    return f"{stamp}-{kind + '-' if kind else ''}{workloads}-{plan.scale}-{secrets.token_hex(2)}"


def make_header(plan: Plan, run_id: str) -> Header:
    """Everything that makes a run comparable: machine, software, plan, git commit."""
    from enginebench.core import machine as environment

    return Header(run_id=run_id, plan=plan, created_utc=utc_now(), git=environment.git_state(),
                  machine=environment.machine(), software=environment.software(registry.engine_packages()))


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
        verdict: Verdict = check(answer)
        outcome = "recovered" if verdict.ok else f"wrong answer: {verdict.reason}"
    except Exception as exc:  # noqa: BLE001 - how the engine failed is the finding
        seconds = time.perf_counter() - t0
        outcome = f"failed: {one_line(exc)}"
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


class Runner:
    """Executes a Plan, writing one Record per attempt to `writer` as it goes."""

    def __init__(self, plan: Plan, writer: ResultsWriter, observer: Observer | None = None,
                 sample_interval_s: float = 0.2, workloads: Mapping[str, Workload] | None = None,
                 sessions: dict[str, Session] | None = None) -> None:
        self.plan = plan
        #: the registered workloads of the plan's names, unless given (tests run variants of one)
        self.workloads = dict(workloads or {})
        if not all(name in self.workloads for name in plan.workloads):
            registry.restore(plan.sources)  # a user's workload the plan names, from where it was
        for name in plan.workloads:
            if name not in self.workloads:
                self.workloads[name] = registry.workload(name)
        #: engines started by the caller, kept running after the plan (one engine serving several plans)
        self.sessions = sessions or {}
        self.writer = writer
        self.observer = observer or Observer()
        self.sample_interval_s = sample_interval_s
        self.records: list[Record] = []

    def run(self) -> list[Record]:
        """Run the whole plan, except attempts already in the results file (a resumed run). Each
        engine starts once and runs every workload's cases. KeyboardInterrupt stops engines, records
        the rest as skipped, and re-raises."""
        finished = {(r.engine, r.workload, r.case, r.size) for r in self.writer.run.records}
        pending = [s for s in steps(self.plan, self.workloads) if s.key not in finished]
        try:
            with CaseInputs() as inputs:
                for engine in self.plan.engines:
                    todo = [s for s in pending if s.engine == engine]
                    if todo:
                        self._run_engine(engine, todo, inputs)
        except KeyboardInterrupt:
            done = {(r.engine, r.workload, r.case, r.size) for r in self.records}
            for s in pending:
                if s.key not in done:
                    self._emit(self._record(s, Status.SKIPPED, "run interrupted before this case"))
            self.writer.finish("interrupted")
            raise
        self.writer.finish("complete")
        return self.records

    def _run_engine(self, name: str, todo: list[Step], inputs: CaseInputs) -> None:
        plan = self.plan
        owned = name not in self.sessions
        session = self.sessions[name] if not owned else \
            Session(name, plan.budget, Endpoints.from_dict(plan.endpoints), self.observer)
        if session.budget != plan.budget:
            raise ValueError(f"the {name} session was started with {session.budget}, the plan asks for {plan.budget}")
        if not session.available():
            self.writer.set_session(name, session.info)
            for step in todo:
                self._emit(self._record(step, Status.ERROR, f"engine unavailable: {session.info.reason}"))
            return
        # Resolve every case first (unsupported ones need no engine), then emit in plan order.
        resolved: list[tuple[Step, Resolved, Status]] = []  # what was found, the status if not runnable
        for step in todo:
            try:
                found = self.workloads[step.workload].resolve(session.cls.api, step.case, name)
                resolved.append((step, found, Status.UNSUPPORTED))
            except ImportError as exc:
                why = f"cannot import the {session.cls.api} implementation: {one_line(exc)}"
                resolved.append((step, Resolved(None, why), Status.ERROR))
        if not any(found.implementation for _, found, _ in resolved):
            for step, found, status in resolved:
                self._emit(self._record(step, status, found.reason))
            if session.engine is None:  # a session started before the plan (one engine, several plans) stays ok
                session.info.status = "not needed"
            self.writer.set_session(name, session.info)
            return
        try:
            if session.engine is None:
                session.start()  # inside the try: an interrupt during the start still stops what started
            for step, found, status in resolved:
                if found.implementation is None:
                    self._emit(self._record(step, status, found.reason))
                    continue
                workload = self.workloads[step.workload]
                case = workload.case(step.case)
                self.observer.case_phase(name, step.case, "inputs")
                prepared = inputs.get(case, step.params)  # on this thread: outside the attempt's timeout
                fault = partial(inject_kill_worker, session.engine) if plan.fault and session.engine else None
                record, healthy = Attempt(session, workload, case, found, plan.scale, step.params, prepared,
                                          step.warmup, step.repeat, step.timeout_s,
                                          long_s=plan.long_s,
                                          fault=fault,
                                          sample_interval_s=self.sample_interval_s).run()
                self._emit(record)
                if not healthy:
                    session.restart()
        finally:
            if owned:
                session.stop()
            self.writer.set_session(name, session.info)

    def _record(self, step: Step, status: Status, reason: str) -> Record:
        """The record of a step that did not run (unsupported, skipped, or its engine unavailable)."""
        workload = self.workloads[step.workload]
        return new_record(workload, workload.case(step.case), step.engine, self.plan.scale, step.params,
                          self.plan.budget, step.warmup, step.repeat, status, reason)

    def _emit(self, record: Record) -> None:
        self.records.append(record)
        self.writer.add(record)
        self.observer.record(record)
