"""Terminal output: engine chatter diverted to a log file, a live progress line while a plan runs,
and a summary table at the end."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from enginebench.core.budget import format_bytes
from enginebench.core.fmt import format_metric
from enginebench.measure.attempt import Observer
from enginebench.results.records import EngineSession, Record

STATUS_STYLE = {"ok": "green", "wrong": "bold red", "error": "red", "timeout": "yellow",
                "unsupported": "dim", "skipped": "dim"}


def make_console(file: TextIO | None = None) -> Console:
    """A console for our output; when piped (CI, files) it is wide enough for the summary tables."""
    console = Console(highlight=False, file=file)
    return console if console.is_terminal else Console(highlight=False, width=140, file=file)


def headline(record: Record) -> str:
    """The record's primary figure with its unit, or its status when it has none."""
    name = record.primary.get("name", "")
    if record.status != "ok" or name not in record.metrics:
        return record.status
    return f"{format_metric(record.metrics[name])} {record.primary.get('unit', '')}".strip()


class EngineOutput:
    """While active, everything written to file descriptors 1 and 2 goes to a log file: engine
    chatter from this process (Python logging, warnings, Ray's C++ client) and from every process it
    starts (Spark's JVM, Ray and Dask workers inherit the descriptors). `terminal` is a stream to the
    original stdout for our own console. Not a terminal-only trick: piped output (CI) is kept clean too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: dict[int, int] = {}
        self.terminal: TextIO = sys.stdout

    def __enter__(self) -> EngineOutput:
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._saved = {fd: os.dup(fd) for fd in (1, 2)}
            if _fd_of(sys.stdout) == 1:
                self.terminal = os.fdopen(os.dup(self._saved[1]), "w", buffering=1, encoding="utf-8",
                                          errors="replace")
            for fd in (1, 2):
                os.dup2(log, fd)
        finally:
            os.close(log)
        return self

    def __exit__(self, *exc: object) -> None:
        import os

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)
            os.close(saved)
        self._saved = {}
        if self.terminal is not sys.stdout:
            self.terminal.close()
            self.terminal = sys.stdout


def _fd_of(stream: TextIO) -> int | None:
    """The file descriptor behind a stream; None for in-memory ones (pytest's capsys): those already
    are not the terminal, so our console keeps writing to them."""
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


class _Eta(ProgressColumn):
    """Time left at the run's average pace per attempt so far (cases differ a lot; rich's own
    estimate looks at a short window and jumps)."""

    def render(self, task: Task) -> Text:
        if not task.completed or task.total is None or task.elapsed is None:
            return Text("ETA -", style="dim")
        left = task.elapsed / task.completed * (task.total - task.completed)
        return Text(f"ETA {int(left // 60)}:{int(left % 60):02d}", style="dim")


class LiveProgress(Observer):
    """One live line: attempts done / planned, a bar, the current engine, case and phase, elapsed
    time and an ETA. On a terminal only failures are printed above it as they happen (the summary
    table shows the rest); piped, every attempt gets one plain line instead."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.progress = Progress(TextColumn("[bold]{task.completed}/{task.total}"), BarColumn(bar_width=20),
                                 TextColumn("[cyan]{task.description}"), TimeElapsedColumn(), _Eta(),
                                 console=console, transient=True)
        self.task = self.progress.add_task("starting", total=total)

    def __enter__(self) -> LiveProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.__exit__(exc_type, exc, tb)

    def engine_phase(self, engine: str, phase: str) -> None:
        self.progress.update(self.task, description=f"{engine}: {phase}")

    def case_phase(self, engine: str, case: str, phase: str) -> None:
        self.progress.update(self.task, description=f"{engine} {case}: {phase}")

    def record(self, record: Record) -> None:
        self.progress.advance(self.task)
        if self.console.is_terminal and record.status in ("ok", "unsupported", "skipped"):
            return
        style = STATUS_STYLE.get(record.status, "")
        tail = headline(record) if record.status == "ok" else record.reason
        self.console.print(Text.assemble(f"  {record.workload:<6} {record.case:<16} {record.engine:<13} ",
                                         (f"{record.status:<12}", style), tail))


def summary_table(records: Sequence[Record], engines: dict[str, EngineSession]) -> Table:
    """Cases as rows, engines as columns, the headline figure (or status) in each cell."""
    engine_names = list(dict.fromkeys(r.engine for r in records))
    workloads = list(dict.fromkeys(r.workload for r in records))
    table = Table(title="enginebench summary", show_lines=False)
    table.add_column("case")
    for e in engine_names:
        table.add_column(e, justify="right")
    by_key = {(r.workload, r.case, r.size, r.engine): r for r in records}
    for workload in workloads:
        for case, size in dict.fromkeys((r.case, r.size) for r in records if r.workload == workload):
            sizes = {r.size for r in records if (r.workload, r.case) == (workload, case)}
            name = f"{workload} {case}" if len(workloads) > 1 else case
            if len(sizes) > 1 and size is not None:  # a ladder: a row per size
                first = next(r for r in records if (r.workload, r.case) == (workload, case))
                name += f" ({first.size_param} {size:g})"
            cells: list[Text | str] = [name]
            for e in engine_names:
                r = by_key.get((workload, case, size, e))
                cells.append("" if r is None else Text(headline(r), style=STATUS_STYLE.get(r.status, "")))
            table.add_row(*cells)
        table.add_section()
    start_row: list[Text | str] = ["engine start"]
    for e in engine_names:
        s = engines[e].start_s if e in engines else None
        start_row.append(f"{s:.2f} s" if s is not None else "-")
    table.add_row(*start_row, style="dim")
    peak_row: list[Text | str] = ["peak memory"]
    for e in engine_names:
        peaks = [r.resources.get("peak_rss_bytes", 0) for r in records if r.engine == e and r.resources]
        peak_row.append(format_bytes(max(peaks)) if peaks else "-")
    table.add_row(*peak_row, style="dim")
    return table
