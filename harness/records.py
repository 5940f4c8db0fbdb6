"""Versioned, frozen result records and the results file that holds them.

One JSON file per run: a header (schema version, run id, time, git, machine, software, budget,
plan, engine sessions) and one record per attempt. The file is rewritten atomically (temp file +
rename) after every record, so an interrupted run keeps everything that finished.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError

SCHEMA_VERSION = 1
STATUSES: tuple[str, ...] = ("ok", "wrong", "error", "timeout", "unsupported", "skipped")

#: schema version N -> function upgrading a version-N document to N+1. Empty while only v1 exists.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


@dataclass(frozen=True)
class Record:
    """One attempt at one case on one engine: a status and, when it ran, its figures.

    timings_s are the timed repetitions (warm-up excluded); stats describe them; phases hold the
    seconds of engine start (once per engine per run), input preparation, the median run, the
    checks and engine stop; metrics are the case's derived figures (tasks/s, percentiles, GB/s),
    present only when status is ok.
    """

    workload: str
    case: str
    engine: str
    api: str
    scale: str
    status: str
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    warmup: int = 0
    repeat: int = 0
    warmup_s: tuple[float, ...] = ()
    timings_s: tuple[float, ...] = ()
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

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"invalid status {self.status!r} (accepted: {', '.join(STATUSES)})")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["warmup_s"] = list(self.warmup_s)
        d["timings_s"] = list(self.timings_s)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["warmup_s"] = tuple(kwargs.get("warmup_s", ()))
        kwargs["timings_s"] = tuple(kwargs.get("timings_s", ()))
        return cls(**kwargs)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.workload, self.case, self.engine, self.scale)


@dataclass
class Run:
    """A results file in memory: header fields plus records."""

    header: dict[str, Any]
    records: list[Record] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.header.get("run_id", ""))

    def to_dict(self) -> dict[str, Any]:
        return {**self.header, "schema_version": SCHEMA_VERSION,
                "records": [r.to_dict() for r in self.records]}


def utc_now() -> str:
    """Now, UTC, to the second, as records and headers write it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_json(path: Path, doc: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(doc, indent=1, default=str))


class ResultsWriter:
    """Owns one results file: creates it (never overwriting), then rewrites it atomically."""

    def __init__(self, path: Path, header: dict[str, Any], records: list[Record] | None = None,
                 resuming: bool = False) -> None:
        if path.exists() and not resuming:
            raise UsageError(f"results file {path} already exists (accepted: a new path; nothing was overwritten)")
        self.path = path
        self.run = Run(header=dict(header), records=list(records or []))
        self._lock = threading.Lock()
        self.flush()

    @classmethod
    def resume(cls, path: Path) -> ResultsWriter:
        """Reopen an interrupted run's file: finished records stay, skipped ones will be redone."""
        run = load_run(path)
        if run.header.get("source") == "pytest-benchmark":
            raise UsageError(f"{path} is a pytest-benchmark file; only enginebench run files can be resumed")
        header = {**run.header, "status": "running", "finished_utc": None, "resumed_utc": utc_now()}
        return cls(path, header, [r for r in run.records if r.status != "skipped"], resuming=True)

    def add(self, record: Record) -> None:
        with self._lock:
            self.run.records.append(record)
            self.flush()

    def update_header(self, **fields: Any) -> None:
        with self._lock:
            self.run.header.update(fields)
            self.flush()

    def flush(self) -> None:
        _atomic_write_json(self.path, self.run.to_dict())


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
        from harness.bench import run_from_pytest_benchmark

        return run_from_pytest_benchmark(doc, str(path))
    if not isinstance(doc, dict) or "schema_version" not in doc or "records" not in doc:
        raise UsageError(f"results file {path} is not an enginebench results file (no schema_version/records)")
    version = doc["schema_version"]
    if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
        raise UsageError(
            f"results file {path} has schema version {version!r}; this enginebench reads 1..{SCHEMA_VERSION}"
        )
    while version < SCHEMA_VERSION:
        doc = MIGRATIONS[version](doc)
        version += 1
    try:
        records = [Record.from_dict(r) for r in doc.pop("records")]
    except (TypeError, ValueError, KeyError) as exc:
        raise UsageError(f"results file {path} has a malformed record ({exc})") from None
    doc["schema_version"] = SCHEMA_VERSION
    return Run(header=doc, records=records)
