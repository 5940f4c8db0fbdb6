"""An engine's driver process: one engine's part of a plan, run apart from every other engine.

`enginebench.measure.runner.Runner` starts one of these per engine (from the engine's environment's
Python, `python -m enginebench.measure.driver FD`), writes the job to its stdin as one JSON object
(`{"plan": ..., "engine": ..., "keys": [...], "sample_interval_s": ...}`) and reads JSON lines back
from file descriptor FD as they happen:

* `{"kind": "phase", "phase": ...}` and `{"kind": "case", "case": ..., "phase": ...}`: progress;
* `{"kind": "record", "record": {...}}`: one finished attempt (`Record.to_dict`);
* `{"kind": "session", "session": {...}}`: the engine's session (`EngineSession.to_dict`) when it changes;
* `{"kind": "done"}` last, or `{"kind": "interrupted"}` after SIGINT (the engine is stopped first).

The driver runs its steps through the runner's own in-process path (`Runner.run_engine`): the same
session lifecycle, attempt core, restarts and fault injection as ever. Its stdout and stderr are the
engine's output (the parent's log). Nothing here is imported by the parent: the protocol is the
message kinds above.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import IO, Any

from enginebench.measure.attempt import CaseInputs, Observer
from enginebench.measure.runner import Runner
from enginebench.plan.plan import steps
from enginebench.results.records import EngineSession, Plan, Record


class Channel(Observer):
    """The driver's end of the pipe: the runner's results sink and its observer."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._lock = threading.Lock()  # the attempt's thread reports phases too

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, default=str)
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    # the results sink (what ResultsWriter does in the parent)
    def add(self, record: Record) -> None:
        self.send({"kind": "record", "record": record.to_dict()})

    def set_session(self, engine: str, session: EngineSession) -> None:
        self.send({"kind": "session", "session": session.to_dict()})

    # the observer
    def engine_phase(self, engine: str, phase: str) -> None:
        self.send({"kind": "phase", "phase": phase})

    def case_phase(self, engine: str, case: str, phase: str) -> None:
        self.send({"kind": "case", "case": case, "phase": phase})


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m enginebench.measure.driver FD  (the job as JSON on stdin)", file=sys.stderr)
        return 2
    channel = Channel(os.fdopen(int(argv[1]), "w", buffering=1))
    job = json.loads(sys.stdin.read())
    plan = Plan.from_dict(job["plan"])
    engine = str(job["engine"])
    wanted = {tuple(key) for key in job["keys"]}
    runner = Runner(plan, channel, observer=channel, sample_interval_s=float(job["sample_interval_s"]), drivers=False)
    todo = [s for s in steps(plan, runner.workloads) if s.engine == engine and s.key in wanted]
    try:
        with CaseInputs() as inputs:
            runner.run_engine(engine, todo, inputs)
    except KeyboardInterrupt:
        channel.send({"kind": "interrupted"})
        return 130
    channel.send({"kind": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
