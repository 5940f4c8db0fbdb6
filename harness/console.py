"""Terminal output: a live progress line while a plan runs and a summary table at the end."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harness.attempt import Observer
from harness.budget import format_bytes
from harness.fmt import format_metric
from harness.records import EngineSession, Record

STATUS_STYLE = {"ok": "green", "wrong": "bold red", "error": "red", "timeout": "yellow",
                "unsupported": "dim", "skipped": "dim"}


def make_console() -> Console:
    """A console for our output; when piped (CI, files) it is wide enough for the summary tables."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=140)


def headline(record: Record) -> str:
    """The record's primary figure with its unit, or its status when it has none."""
    name = record.primary.get("name", "")
    if record.status != "ok" or name not in record.metrics:
        return record.status
    return f"{format_metric(record.metrics[name])} {record.primary.get('unit', '')}".strip()


class LiveProgress(Observer):
    """Shows which engine and case run, the phase, and elapsed time; prints a line per record."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self.t0 = time.perf_counter()
        self.stage_t0 = self.t0
        self.label = "starting"
        self.live = Live(self._render(), console=console, refresh_per_second=4, transient=True)

    def _render(self) -> Text:
        now = time.perf_counter()
        return Text.assemble(
            (f"[{self.done}/{self.total}] ", "bold"),
            (self.label, "cyan"),
            f"  {now - self.stage_t0:5.1f} s  (total {now - self.t0:5.1f} s)",
        )

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.live.__exit__(exc_type, exc, tb)

    def _set(self, label: str) -> None:
        if label.split(" ")[0:2] != self.label.split(" ")[0:2]:
            self.stage_t0 = time.perf_counter()
        self.label = label
        self.live.update(self._render())

    def engine_phase(self, engine: str, phase: str) -> None:
        self._set(f"{engine} {phase}")

    def case_phase(self, engine: str, case: str, phase: str) -> None:
        self._set(f"{engine} {case}: {phase}")

    def record(self, record: Record) -> None:
        self.done += 1
        style = STATUS_STYLE.get(record.status, "")
        tail = headline(record) if record.status == "ok" else record.reason
        self.console.print(
            Text.assemble(f"  {record.engine:<13} {record.case:<16} ", (f"{record.status:<11}", style), tail)
        )
        self.live.update(self._render())


def summary_table(records: Sequence[Record], engines: dict[str, EngineSession]) -> Table:
    """Cases as rows, engines as columns, the headline figure (or status) in each cell."""
    engine_names = list(dict.fromkeys(r.engine for r in records))
    table = Table(title="enginebench summary", show_lines=False)
    table.add_column("case")
    for e in engine_names:
        table.add_column(e, justify="right")
    by_key = {(r.case, r.engine): r for r in records}
    for case in dict.fromkeys(r.case for r in records):
        cells: list[Text | str] = [case]
        for e in engine_names:
            r = by_key.get((case, e))
            if r is None:
                cells.append("")
            else:
                cells.append(Text(headline(r), style=STATUS_STYLE.get(r.status, "")))
        table.add_row(*cells)
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
