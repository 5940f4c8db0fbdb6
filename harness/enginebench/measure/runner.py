"""Plan -> records: the order of engines and cases, and the run's policies around each attempt.

For each engine in the plan: check it can run, start it once (timed), run each case of each workload
through the attempt core (`enginebench.measure.attempt`), restart the engine after a timeout or an
injected fault, and stop it, also on failure. Every attempt yields exactly one Record, whatever happens; a
resumed run skips the (engine, case) pairs already in its file.

Each engine runs in a driver process of its own (`enginebench.measure.driver`, started from the engine's
environment's Python) unless the runner is told otherwise (`drivers=False`, or an engine session the
caller started): no engine's settings, threads or native runtime reach another's, and the resource
sampler in the driver sees one engine. The driver sends each record as it finishes; a driver that dies
(a crash, a kill, a hang past its silence limit) leaves an `error` record for the case it was running,
its leftover processes are stopped by PID, and the engine's remaining cases go on in a fresh driver
(when the dead one had finished a case; otherwise they are recorded as errors). Inputs are made once
per process (the data sets behind them are cached on disk) and torn down when its plan ends.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from functools import partial
from typing import Any, Protocol

from enginebench.contract.spec import Resolved, Verdict, Workload
from enginebench.core.errors import UsageError
from enginebench.engines.base import Endpoints, Engine
from enginebench.measure.attempt import Attempt, CaseInputs, Observer, Session, new_record, one_line
from enginebench.plan import registry
from enginebench.plan.plan import FAULTS, Step, steps
from enginebench.results.records import EngineSession, Header, Plan, Record, ResultsWriter, Status, utc_now

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


class Sink(Protocol):
    """Where records go: a ResultsWriter, or a driver's pipe to its runner."""

    def add(self, record: Record) -> None: ...

    def set_session(self, engine: str, session: EngineSession) -> None: ...


class Runner:
    """Executes a Plan, writing one Record per attempt to `writer` as it goes."""

    def __init__(self, plan: Plan, writer: Sink, observer: Observer | None = None,
                 sample_interval_s: float = 0.2, workloads: Mapping[str, Workload] | None = None,
                 sessions: dict[str, Session] | None = None, drivers: bool | None = None) -> None:
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
        #: each engine in a driver process of its own; by default unless the caller gave workload objects
        #: (which a driver could not import by name)
        self.drivers = workloads is None if drivers is None else drivers
        self.records: list[Record] = []

    def run(self) -> list[Record]:
        """Run the whole plan, except attempts already in the results file (a resumed run). Each
        engine starts once and runs every workload's cases. KeyboardInterrupt stops engines, records
        the rest as skipped, and re-raises."""
        writer = self.writer
        assert isinstance(writer, ResultsWriter), "a plan's run writes a results file"
        finished = {(r.engine, r.workload, r.case, r.size) for r in writer.run.records}
        pending = [s for s in steps(self.plan, self.workloads) if s.key not in finished]
        try:
            with CaseInputs() as inputs:
                for engine in self.plan.engines:
                    todo = [s for s in pending if s.engine == engine]
                    if not todo:
                        continue
                    if self.drivers and engine not in self.sessions:
                        DriverProcess(self, engine).run(todo)
                    else:
                        self.run_engine(engine, todo, inputs)
        except KeyboardInterrupt:
            done = {(r.engine, r.workload, r.case, r.size) for r in self.records}
            for s in pending:
                if s.key not in done:
                    self.emit(self.record_of(s, Status.SKIPPED, "run interrupted before this case"))
            writer.finish("interrupted")
            raise
        writer.finish("complete")
        return self.records

    def run_engine(self, name: str, todo: list[Step], inputs: CaseInputs) -> None:
        """One engine's steps in this process: start it (unless the caller did), run each step, stop it."""
        plan = self.plan
        owned = name not in self.sessions
        session = self.sessions[name] if not owned else \
            Session(name, plan.budget, Endpoints.from_dict(plan.endpoints), self.observer)
        if session.budget != plan.budget:
            raise ValueError(f"the {name} session was started with {session.budget}, the plan asks for {plan.budget}")
        if not session.available():
            self.writer.set_session(name, session.info)
            for step in todo:
                self.emit(self.record_of(step, Status.ERROR, f"engine unavailable: {session.info.reason}"))
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
                self.emit(self.record_of(step, status, found.reason))
            if session.engine is None:  # a session started before the plan (one engine, several plans) stays ok
                session.info.status = "not needed"
            self.writer.set_session(name, session.info)
            return
        try:
            if session.engine is None:
                session.start()  # inside the try: an interrupt during the start still stops what started
            for step, found, status in resolved:
                if found.implementation is None:
                    self.emit(self.record_of(step, status, found.reason))
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
                self.emit(record)
                if not healthy:
                    session.restart()
        finally:
            if owned:
                session.stop()
            self.writer.set_session(name, session.info)

    def record_of(self, step: Step, status: Status, reason: str) -> Record:
        """The record of a step that did not run (unsupported, skipped, or its engine unavailable)."""
        workload = self.workloads[step.workload]
        return new_record(workload, workload.case(step.case), step.engine, self.plan.scale, step.params,
                          self.plan.budget, step.warmup, step.repeat, status, reason)

    def emit(self, record: Record) -> None:
        self.records.append(record)
        self.writer.add(record)
        self.observer.record(record)


#: How long a driver may stay silent beyond its longest case timeout before it is taken for hung.
DRIVER_GRACE_S = 300.0
#: How long an interrupted driver gets to stop its engine and report before it is killed.
DRIVER_STOP_S = 90.0


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class DriverProcess:
    """The runner's end of one engine's driver process (`enginebench.measure.driver`): start it, relay
    its messages into the runner's results, observer and session, and when it dies, record why and stop
    what it left running. `run(todo)` returns when every step of `todo` has a record."""

    def __init__(self, runner: Runner, engine: str) -> None:
        self.runner = runner
        self.engine = engine
        self.session: EngineSession | None = None
        #: the driver's descendants seen so far (pid -> create time): stopped by PID if left behind
        self.family: dict[int, float] = {}
        #: why each driver of this engine died, written into the engine's session at the end
        self.deaths: list[str] = []

    def python(self) -> str:
        """The interpreter of the engine's environment, built first if this is its first use."""
        from enginebench.engines import environment

        env = registry.environment(self.engine)
        return str(environment.python(env, lambda line: self.runner.observer.engine_phase(self.engine, line)))

    def run(self, todo: list[Step]) -> None:
        remaining = list(todo)
        while remaining:
            done, why = self._one(remaining)
            remaining = [s for s in remaining if s.key not in done]
            if not why or not remaining:
                break
            self.deaths.append(why)
            current, rest = remaining[0], remaining[1:]
            self.runner.emit(self.runner.record_of(current, Status.ERROR, why))
            remaining = rest
            if not done:  # the driver died before finishing any case: a fresh one would too
                for step in rest:
                    self.runner.emit(self.runner.record_of(step, Status.ERROR, f"not run: {why}"))
                break
        self._close_session()

    def _close_session(self) -> None:
        session = self.session or EngineSession(api=registry.engine_class(self.engine).api, status="error")
        if self.deaths:
            session.restarts += len(self.deaths)
            session.stop_error = "; ".join([*self.deaths, *([session.stop_error] if session.stop_error else [])])
            session.reason = session.reason or self.deaths[0]
        self.runner.writer.set_session(self.engine, session)

    def _one(self, todo: list[Step]) -> tuple[set[tuple[Any, ...]], str]:
        """One driver for `todo`: (the keys it recorded, why it died or "" when it finished)."""
        plan = self.runner.plan
        job = {"plan": plan.to_dict(), "engine": self.engine, "keys": [list(s.key) for s in todo],
               "sample_interval_s": self.runner.sample_interval_s}
        from enginebench.engines.environment import ENV_VAR, MAIN

        try:
            python = self.python()
        except UsageError as exc:
            return set(), str(exc)
        env = registry.environment(self.engine)
        read, write = os.pipe()
        try:
            proc = subprocess.Popen([python, "-m", "enginebench.measure.driver", str(write)],
                                    stdin=subprocess.PIPE, pass_fds=(write,), start_new_session=True, text=True,
                                    env={**os.environ, ENV_VAR: MAIN if env.main else env.name})
        except OSError as exc:
            os.close(read)
            os.close(write)
            return set(), f"the {self.engine} driver process could not start: {exc}"
        os.close(write)
        done: set[tuple[Any, ...]] = set()
        ended = ""
        try:
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps(job))
                proc.stdin.close()
            except BrokenPipeError:
                pass
            silence_s = max(s.timeout_s for s in todo) + DRIVER_GRACE_S
            ended = self._relay(proc, read, done, silence_s)
        except KeyboardInterrupt:
            self._interrupt(proc, read, done)
            raise
        finally:
            os.close(read)
            self._reap(proc)
        if ended == "done":
            return done, ""
        where = "" if len(done) == len(todo) else f" during {todo[len(done)].case}"
        why = ended or f"{_exit_reason(proc.returncode)}"
        return done, f"the {self.engine} driver process (pid {proc.pid}) died{where}: {why}"

    def _relay(self, proc: subprocess.Popen[str], fd: int, done: set[tuple[Any, ...]], silence_s: float) -> str:
        """Relay messages until the pipe closes: "done", "interrupted", "" (the driver died) or why it was
        killed (silent for too long)."""
        import selectors

        buffer = b""
        last = seen = time.monotonic()
        status = ""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                if selector.select(timeout=1.0):
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        return status
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        status = self._message(json.loads(line), done) or status
                    last = time.monotonic()
                now = time.monotonic()
                if now - seen > 1.0:
                    self._watch(proc)
                    seen = now
                if now - last > silence_s:
                    self._kill(proc)
                    return f"killed after {silence_s:.0f} s without a word (hung)"

    def _message(self, message: dict[str, Any], done: set[tuple[Any, ...]]) -> str:
        kind = message["kind"]
        observer = self.runner.observer
        if kind == "record":
            record = Record.from_dict(message["record"])
            done.add((record.engine, record.workload, record.case, record.size))
            self.runner.emit(record)
        elif kind == "session":
            self.session = EngineSession.from_dict(message["session"])
        elif kind == "phase":
            observer.engine_phase(self.engine, message["phase"])
        elif kind == "case":
            observer.case_phase(self.engine, message["case"], message["phase"])
        elif kind in ("done", "interrupted"):
            return str(kind)
        return ""

    def _watch(self, proc: subprocess.Popen[str]) -> None:
        """Note the driver's descendants (an engine's daemons, workers) while it runs."""
        import psutil

        try:
            for child in psutil.Process(proc.pid).children(recursive=True):
                self.family.setdefault(child.pid, child.create_time())
        except psutil.Error:
            pass

    def _interrupt(self, proc: subprocess.Popen[str], fd: int, done: set[tuple[Any, ...]]) -> None:
        """Ctrl-C or SIGTERM reached the runner: the driver stops its engine (SIGINT) and reports what
        finished; after DRIVER_STOP_S, or a second interrupt, it is killed."""
        try:
            proc.send_signal(signal.SIGINT)
            thread = threading.Thread(target=self._relay, args=(proc, fd, done, DRIVER_STOP_S), daemon=True)
            thread.start()
            thread.join(DRIVER_STOP_S + 5)
        except KeyboardInterrupt:
            pass
        self._kill(proc)

    def _kill(self, proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            self._watch(proc)
            proc.kill()

    def _reap(self, proc: subprocess.Popen[str]) -> None:
        """Wait for the driver, then stop (by PID) what it started and left behind: its engine's daemons
        after a crash, or workers that outlived an orderly stop."""
        import psutil

        try:
            proc.wait(timeout=DRIVER_STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        left: list[psutil.Process] = []
        for pid, created in self.family.items():
            try:
                p = psutil.Process(pid)
                if p.create_time() == created and p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
            except psutil.Error:
                continue
        if not left:
            return
        alive = left
        for stop in (psutil.Process.terminate, psutil.Process.kill):  # 10 s to go on their own, then each signal
            _, alive = psutil.wait_procs(alive, timeout=10)
            for p in alive:
                try:
                    stop(p)
                except psutil.Error:
                    pass
        if self.session is not None and alive:
            self.session.stop_error = (self.session.stop_error + "; " if self.session.stop_error else "") + \
                f"{len(alive)} process(es) left running by the driver were killed"
