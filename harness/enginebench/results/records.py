"""The typed results schema: records, engine sessions, the plan and the header, with a JSON round trip.

One JSON file per run: a header (schema version, run id, time, git, machine, software, plan, engine
sessions) and one record per attempt. The file is rewritten atomically (temp file + rename) after
every record, so an interrupted run keeps everything that finished. Older schema versions are
migrated on load; a pytest-benchmark JSON with enginebench records reads as a run too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import statistics
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from enginebench.contract.spec import size_value
from enginebench.core.budget import Budget
from enginebench.core.errors import UsageError
from enginebench.core.files import atomic_write_text
from enginebench.results import migrations

SCHEMA_VERSION = 5


class Status(StrEnum):
    """How an attempt ended. Only `ok` carries figures."""

    OK = "ok"
    WRONG = "wrong"
    ERROR = "error"
    TIMEOUT = "timeout"
    UNSUPPORTED = "unsupported"
    SKIPPED = "skipped"


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
FAILED: tuple[Status, ...] = (Status.WRONG, Status.ERROR, Status.TIMEOUT)

#: The phase vocabulary of records, console and report, in the order they happen. engine_start and
#: engine_stop are once per engine per run; inputs and reference once per case per run (shared by
#: every engine); setup once per attempt (engine-side, untimed by the case's clock); run is the
#: median timed repetition; check sums the checks of every answer (warm-ups included).
PHASES: dict[str, str] = {
    "engine_start": "engine start",
    "inputs": "inputs",
    "reference": "reference",
    "setup": "setup",
    "run": "run (median)",
    "check": "checks",
    "teardown": "teardown",
    "engine_stop": "engine stop",
}



@dataclass(frozen=True)
class Record:
    """One attempt at one case on one engine: a status and, when it ran, its figures.

    warmup_s are the untimed warm-up repetitions (the first is the cold run); timings_s the timed
    ones; stats describe timings_s; phases use the PHASES vocabulary; metrics are the case's derived
    figures, present only when status is ok; checks counts the answers verified (one per repetition).
    samples and warmup_samples hold the headline metric (`primary`) of each timed repetition and of
    each warm-up, in the metric's unit: what ties, whiskers and verdicts are decided on (a
    repetition's wall time is not the headline when the case excludes set-up from it, or reports
    a percentile or a throughput of the workers' own time).
    """

    workload: str
    case: str
    engine: str
    api: str
    scale: str
    status: Status
    reason: str = ""
    category: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    warmup: int = 0
    repeat: int = 0
    warmup_s: tuple[float, ...] = ()
    timings_s: tuple[float, ...] = ()
    samples: tuple[float, ...] = ()
    warmup_samples: tuple[float, ...] = ()
    checks: int = 0
    stats: dict[str, float] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    primary: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    #: curves over a run, e.g. {"test_accuracy": [[wall seconds, accuracy], ...]} for training
    series: dict[str, list[list[float]]] = field(default_factory=dict)
    detail: str = ""
    started_utc: str = ""
    #: the parameter that measures the input's size (e.g. "sf"): a size sweep's x axis
    size_param: str = ""
    #: what one unit of the size parameter is ("image", "task", "SF"): how per-unit costs are named
    size_unit: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"invalid status {self.status!r} (accepted: {', '.join(STATUSES)})")
        object.__setattr__(self, "status", Status(self.status))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["status"] = self.status.value
        d["warmup_s"] = list(self.warmup_s)
        d["timings_s"] = list(self.timings_s)
        d["samples"] = list(self.samples)
        d["warmup_samples"] = list(self.warmup_samples)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        return cls(**_known(cls, data, **{name: tuple(float(x) for x in data.get(name, ()))
                                          for name in ("warmup_s", "timings_s", "samples", "warmup_samples")}))

    @property
    def metric(self) -> str:
        return str(self.primary.get("name", ""))

    @property
    def higher_is_better(self) -> bool:
        return bool(self.primary.get("higher_is_better", True))

    @property
    def headline_samples(self) -> tuple[float, ...]:
        """The headline samples (a record without them, e.g. built by hand, has its one summary value)."""
        if self.samples:
            return self.samples
        value = self.metrics.get(self.metric)
        return () if value is None else (float(value),)

    @property
    def headline(self) -> float | None:
        """The headline figure: the median of the samples (the summary's value when there are none)."""
        if self.samples:
            return statistics.median(self.samples)
        value = self.metrics.get(self.metric)
        return None if value is None else float(value)

    @property
    def size(self) -> float | None:
        """The input's size (the value of `size_param`), when the record has a numeric one."""
        return size_value(self.params, self.size_param)

    @property
    def work_params(self) -> str:
        """Every parameter but the size, as one comparable text: two records at different sizes measure the
        same work per unit only when these agree (gbdt's rounds, cnn's epochs, inference's batch size)."""
        return json.dumps({k: v for k, v in self.params.items() if k != self.size_param}, sort_keys=True,
                          default=str)

    @property
    def key(self) -> tuple[str, str, str, str, float | None]:
        """What one record measures: the case on an engine at a scale and input size (a ladder
        measures one case at several sizes of one scale)."""
        return (self.workload, self.case, self.engine, self.scale, self.size)


def _known(cls: type, data: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """The keys of `data` that are fields of dataclass `cls` (newer files may carry more)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {**{k: v for k, v in data.items() if k in names}, **overrides}


@dataclass
class EngineSession:
    """One engine's life during a run: how it started, what it was configured as, how it stopped."""

    api: str
    baseline: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    #: not started | ok | error (failed to start) | unavailable (not installed) | not needed
    status: str = "not started"
    reason: str = ""
    detail: str = ""
    start_s: float | None = None
    stop_s: float | None = None
    stop_error: str = ""
    restarts: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    #: what the budget caps in this engine and what it cannot (Engine.budget_caps)
    caps: dict[str, str] = field(default_factory=dict)
    #: where the engine's driver ran from (`enginebench.engines.environment.current`): environment name,
    #: interpreter, the overlay's own distributions, a hash over every importable distribution
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineSession:
        return cls(**_known(cls, data, api=str(data.get("api", ""))))


@dataclass(frozen=True)
class Plan:
    """What to run: each workload's cases x engines at one scale, with warm-up and repetitions, under
    one budget. `cases` maps each workload to its cases, in run order (one workload for most runs,
    several for `--workload all`); every engine starts once and serves all of them. The plan layer
    (`enginebench.plan.plan`) makes it and expands it into steps; stored, it lets `--resume` do the same."""

    cases: dict[str, tuple[str, ...]]
    engines: tuple[str, ...]
    scale: str
    budget: Budget
    repeat: int = 3
    warmup: int = 1
    timeout_s: float | None = None  # None: each case's own timeout for the scale
    endpoints: dict[str, str] = field(default_factory=dict)  # endpoint key -> address of an existing cluster
    fault: str | None = None  # "kill-worker": one extra repetition during which a worker is killed
    scaling: str = "strong"  # "weak": each case's work parameter is multiplied by the budget's CPUs
    device: str = "auto"  # --device, for cases with a `device` parameter (cnn)
    preset: str | None = None  # the PRESETS name warmup and repeat came from (None: chosen by hand)
    long_s: float | None = None  # the preset's time box: a case whose warm-up took longer runs once
    #: a size ladder (--ladder): each case with a size parameter runs at every rung, the engine started once.
    #: Factors of the scale's size (ladder_param ""), or sizes of the parameter ladder_param names.
    ladder: tuple[float, ...] = ()
    ladder_param: str = ""
    #: where each workload came from (`discovery.Source.to_dict`: shipped, folder, module or entry point,
    #: with its files' sha256), so a report names it and `--resume` reloads a user's workload
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    #: a variant study's choice (--variants): the variants run beside each default (empty: every one)
    variants: tuple[str, ...] = ()

    @property
    def workloads(self) -> tuple[str, ...]:
        return tuple(self.cases)

    @property
    def workload(self) -> str:
        """A label for the run's workloads: the one name, or the names joined with '+'."""
        return "+".join(self.cases)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.update(cases={w: list(c) for w, c in self.cases.items()}, engines=list(self.engines),
                 budget=self.budget.to_dict())
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        cases = {str(w): tuple(c) for w, c in dict(data["cases"]).items()}
        return cls(**_known(cls, data, cases=cases, engines=tuple(data["engines"]),
                            budget=Budget.from_dict(data["budget"]), repeat=int(data.get("repeat", 3)),
                            warmup=int(data.get("warmup", 1)), endpoints=dict(data.get("endpoints") or {}),
                            ladder=tuple(float(x) for x in data.get("ladder") or ()),
                            variants=tuple(str(v) for v in data.get("variants") or ()),
                            sources={str(k): dict(v) for k, v in (data.get("sources") or {}).items()}))


@dataclass
class Header:
    """Everything that makes a run comparable: machine, software, plan, git commit, engine sessions."""

    run_id: str
    plan: Plan
    created_utc: str = ""
    finished_utc: str | None = None
    resumed_utc: str | None = None
    status: str = "running"  # running | complete | interrupted
    source: str = "enginebench run"  # or "pytest-benchmark"
    git: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    software: dict[str, Any] = field(default_factory=dict)
    engines: dict[str, EngineSession] = field(default_factory=dict)

    @property
    def budget(self) -> Budget:
        return self.plan.budget

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.update(schema_version=SCHEMA_VERSION, plan=self.plan.to_dict(),
                 engines={name: s.to_dict() for name, s in self.engines.items()})
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Header:
        engines = {name: EngineSession.from_dict(s) for name, s in (data.get("engines") or {}).items()}
        return cls(**_known(cls, data, run_id=str(data["run_id"]), plan=Plan.from_dict(data["plan"]),
                            engines=engines))


@dataclass
class Run:
    """A results file in memory: the header plus records."""

    header: Header
    records: list[Record] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.header.run_id

    def to_dict(self) -> dict[str, Any]:
        return {**self.header.to_dict(), "records": [r.to_dict() for r in self.records]}


def utc_now() -> str:
    """Now, UTC, to the second, as records and headers write it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResultsWriter:
    """Owns one results file: creates it (never overwriting), then rewrites it atomically."""

    def __init__(self, path: Path, header: Header, records: list[Record] | None = None,
                 resuming: bool = False) -> None:
        if path.exists() and not resuming:
            raise UsageError(f"results file {path} already exists (accepted: a new path; nothing was overwritten)")
        self.path = path
        self.run = Run(header=header, records=list(records or []))
        self._lock = threading.Lock()
        self.flush()

    @classmethod
    def resume(cls, path: Path) -> ResultsWriter:
        """Reopen an interrupted run's file: finished records stay, skipped ones will be redone."""
        run = load_run(path)
        if run.header.source == "pytest-benchmark":
            raise UsageError(f"{path} is a pytest-benchmark file; only enginebench run files can be resumed")
        header = dataclasses.replace(run.header, status="running", finished_utc=None, resumed_utc=utc_now())
        return cls(path, header, [r for r in run.records if r.status != Status.SKIPPED], resuming=True)

    def add(self, record: Record) -> None:
        with self._lock:
            self.run.records.append(record)
            self.flush()

    def set_session(self, engine: str, session: EngineSession) -> None:
        with self._lock:
            self.run.header.engines[engine] = session
            self.flush()

    def finish(self, status: str) -> None:
        with self._lock:
            self.run.header.status = status
            self.run.header.finished_utc = utc_now()
            self.flush()

    def flush(self) -> None:
        atomic_write_text(self.path, json.dumps(self.run.to_dict(), indent=1, default=str))


# -- reading ----------------------------------------------------------------------------------------

#: Where an enginebench record sits inside a pytest-benchmark JSON's benchmark entry (extra_info).
PYTEST_BENCHMARK_KEY = "enginebench"


def load_run(path: Path | str) -> Run:
    """Read a results file (or a pytest-benchmark JSON with enginebench records), migrating older
    schema versions; bad files raise a one-line UsageError."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"results file {path} does not exist (accepted: a JSON file written by enginebench run)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"results file {path} is not readable JSON ({exc.__class__.__name__}: {exc})") from None
    if isinstance(doc, dict) and "benchmarks" in doc and "machine_info" in doc:
        doc = migrations.from_pytest_benchmark(doc, str(path), PYTEST_BENCHMARK_KEY, SCHEMA_VERSION)
    if not isinstance(doc, dict) or "schema_version" not in doc or "records" not in doc:
        raise UsageError(f"results file {path} is not an enginebench results file (no schema_version/records)")
    version = doc["schema_version"]
    if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
        raise UsageError(
            f"results file {path} has schema version {version!r}; this enginebench reads 1..{SCHEMA_VERSION}"
        )
    try:
        while version < SCHEMA_VERSION:
            doc = migrations.MIGRATIONS[version](doc)
            version += 1
        records = [Record.from_dict(r) for r in doc.pop("records")]
        header = Header.from_dict(doc)
    except (TypeError, ValueError, KeyError, UsageError) as exc:
        raise UsageError(f"results file {path} has a malformed header or record ({exc})") from None
    return Run(header=header, records=records)
