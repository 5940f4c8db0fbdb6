"""Records -> the content of a report, computed apart from any drawing (pure; no I/O).

Noise rule: two engines are *tied* on a case when the ranges [min, max] of their timed repetitions
overlap; a winner is only declared over engines whose range lies entirely on the losing side.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.records import PHASES, Header, Record, Run

FAILED = ("wrong", "error", "timeout")


@dataclass(frozen=True)
class Cell:
    """One engine's result for one case: a figure only when the answer was checked right."""

    engine: str
    status: str
    value: float | None = None
    ratio: float | None = None  # how many times worse than the row's best (1.0 = best)
    best: bool = False
    tied_with_best: bool = False
    reason: str = ""
    low: float | None = None  # the metric's range across repetitions (for whiskers)
    high: float | None = None
    baseline: bool = False  # shown for reference, never ranked


@dataclass(frozen=True)
class Row:
    workload: str
    category: str
    case: str
    scale: str
    cpus: int | None
    metric: str
    unit: str
    higher_is_better: bool
    cells: tuple[Cell, ...]

    @property
    def winners(self) -> list[Cell]:
        return [c for c in self.cells if c.best or c.tied_with_best]


@dataclass
class ReportModel:
    engines: list[str]
    rows: list[Row]
    verdicts: dict[str, str]
    failures: list[Record]
    records: list[Record]
    runs: list[Header]
    phases: dict[str, dict[str, float]] = field(default_factory=dict)  # engine -> phase -> seconds
    baselines: set[str] = field(default_factory=set)
    #: (workload, case, scale) -> engine -> [(cpus, headline value)], for cases run at several budgets
    scaling: dict[tuple[str, str, str], dict[str, list[tuple[int, float]]]] = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(r.category for r in self.rows))


def _metric_range(rec: Record) -> tuple[float, float] | None:
    """The primary metric at the slowest and fastest repetition (metrics are monotonic in time)."""
    name = rec.primary.get("name", "")
    value = rec.metrics.get(name)
    median = rec.stats.get("median")
    if value is None or not median or not rec.timings_s:
        return None
    lo_t, hi_t = min(rec.timings_s), max(rec.timings_s)
    if rec.primary.get("higher_is_better", True):
        # throughput-like: value scales as 1/time
        return (value * median / hi_t, value * median / lo_t)
    return (value * lo_t / median, value * hi_t / median)


def _overlap(a: Record, b: Record) -> bool:
    if not a.timings_s or not b.timings_s:
        return False
    return min(a.timings_s) <= max(b.timings_s) and min(b.timings_s) <= max(a.timings_s)


def latest_records(runs: Sequence[Run]) -> list[Record]:
    """All records, later runs replacing earlier ones for the same (workload, case, engine, scale, cpus)."""
    chosen: dict[tuple[Any, ...], Record] = {}
    for run in runs:
        for rec in run.records:
            chosen[(*rec.key, rec.budget.get("cpus"))] = rec
    return list(chosen.values())


def build_row(records: Sequence[Record], engines: Sequence[str], category: str,
              baselines: Collection[str] = ()) -> Row:
    """One matrix row: figures for ok records, ratios to the best engine, ties by overlapping ranges.
    Baselines get a figure and a ratio to the best engine but are never the best or tied."""
    first = records[0]
    metric, unit = first.primary.get("name", ""), first.primary.get("unit", "")
    higher = bool(first.primary.get("higher_is_better", True))
    by_engine = {r.engine: r for r in records}
    ok = [r for r in records if r.status == "ok" and metric in r.metrics]
    ranked = [r for r in ok if r.engine not in baselines]
    best = None
    if ranked:
        pick = max if higher else min
        best = pick(ranked, key=lambda r: r.metrics[metric])
    cells = []
    for engine in engines:
        rec = by_engine.get(engine)
        is_base = engine in baselines
        if rec is None:
            cells.append(Cell(engine, "absent", baseline=is_base))
        elif rec in ok:
            v = rec.metrics[metric]
            b = best.metrics[metric] if best is not None else v
            ratio = (b / v if higher else v / b) if v > 0 and b > 0 else math.inf
            rng = _metric_range(rec)
            tied = best is not None and rec is not best and not is_base and _overlap(rec, best)
            cells.append(Cell(engine, "ok", v, ratio, rec is best, tied, low=rng[0] if rng else None,
                              high=rng[1] if rng else None, baseline=is_base))
        else:
            cells.append(Cell(engine, rec.status, reason=rec.reason, baseline=is_base))
    return Row(first.workload, category, first.case, first.scale, first.budget.get("cpus"), metric, unit, higher,
               tuple(cells))


def fmt_ratio(r: float) -> str:
    """2.3x, 17x, 1,306x: precision where it means something."""
    if r < 10:
        return f"{r:.2g}x" if r < 1 else f"{r:.1f}x"
    return f"{r:,.0f}x"


def verdict(category: str, rows: Sequence[Row]) -> str:
    """One sentence from the numbers: who wins most cases, by how much, who is slowest, what is tied."""
    wins: dict[str, int] = {}
    parts: list[str] = []
    ties: list[str] = []
    scales, budgets = len({r.scale for r in rows}) > 1, len({r.cpus for r in rows}) > 1

    def label(row: Row) -> str:
        extra = [row.scale] * scales + [f"{row.cpus} CPUs"] * budgets
        return f"{row.case} ({', '.join(extra)})" if extra else row.case

    for row in rows:
        figures = sorted((c for c in row.cells if c.value is not None and not c.baseline),
                         key=lambda c: c.ratio or math.inf)
        if not figures:
            continue
        top = figures[0]
        tied = [c.engine for c in figures[1:] if c.tied_with_best]
        if tied:
            ties.append(f"{label(row)}: {', '.join([top.engine, *tied])} tied")
        else:
            wins[top.engine] = wins.get(top.engine, 0) + 1
        if len(figures) > 1 and not tied:
            second, last = figures[1], figures[-1]
            text = f"on {label(row)} {top.engine} is {fmt_ratio(second.ratio or 0)} faster than {second.engine}"
            if last is not second:
                text += f" and {fmt_ratio(last.ratio or 0)} faster than {last.engine}"
            parts.append(text)
    title = category[:1].upper() + category[1:]
    if not parts and not ties:
        return f"{title}: no engine produced a checked result."
    lead = ""
    if wins:
        leader = max(wins, key=lambda e: wins[e])
        lead = f"{leader} is fastest on {wins[leader]} of {len(rows)} cases"
    sentence = "; ".join(x for x in [lead, *parts[:3]] if x)
    if ties:
        sentence += ("; " if sentence else "") + "too close to call: " + ", ".join(ties)
    return f"{title}: {sentence}."


def phase_totals(records: Iterable[Record], runs: Sequence[Run]) -> dict[str, dict[str, float]]:
    """Per engine, seconds by phase label: engine start (once per run), inputs and reference (shared,
    made once per run), setup, run (all repetitions, warm-ups included) and checks."""
    out: dict[str, dict[str, float]] = {}
    for run in runs:
        for engine, session in run.header.engines.items():
            if session.start_s is not None:
                p = out.setdefault(engine, {})
                p[PHASES["engine_start"]] = p.get(PHASES["engine_start"], 0.0) + session.start_s
    for rec in records:
        if rec.status != "ok":
            continue
        p = out.setdefault(rec.engine, {})
        for phase in ("inputs", "reference", "setup", "check"):
            if phase in rec.phases:
                p[PHASES[phase]] = p.get(PHASES[phase], 0.0) + rec.phases[phase]
        p["run"] = p.get("run", 0.0) + sum(rec.timings_s) + sum(rec.warmup_s)
    return out


def scaling_series(rows: Sequence[Row]) -> dict[tuple[str, str, str], dict[str, list[tuple[int, float]]]]:
    """Headline figure against CPU budget per engine, for cases measured at two or more budgets."""
    series: dict[tuple[str, str, str], dict[str, list[tuple[int, float]]]] = {}
    for row in rows:
        if row.cpus is None:
            continue
        for cell in row.cells:
            if cell.value is not None:
                series.setdefault((row.workload, row.case, row.scale), {}).setdefault(cell.engine, []).append(
                    (int(row.cpus), cell.value))
    return {key: {e: sorted(points) for e, points in by_engine.items()}
            for key, by_engine in series.items()
            if len({c for pts in by_engine.values() for c, _ in pts}) >= 2}


def build_model(runs: Sequence[Run]) -> ReportModel:
    """The whole report's content, from the records alone (each record names its category)."""
    records = latest_records(runs)
    engines: list[str] = []
    for run in runs:
        for e in run.header.plan.engines:
            if e not in engines:
                engines.append(e)
    for r in records:
        if r.engine not in engines:
            engines.append(r.engine)
    groups: dict[tuple[str, str, str, Any], list[Record]] = {}
    for r in records:
        groups.setdefault((r.workload, r.case, r.scale, r.budget.get("cpus")), []).append(r)
    baselines = {e for run in runs for e, s in run.header.engines.items() if s.baseline}
    rows = [build_row(recs, engines, recs[0].category or recs[0].workload, baselines) for recs in groups.values()]
    verdicts = {cat: verdict(cat, [r for r in rows if r.category == cat])
                for cat in dict.fromkeys(r.category for r in rows)}
    failures = [r for r in records if r.status not in ("ok",)]
    return ReportModel(engines=engines, rows=rows, verdicts=verdicts, failures=failures, records=records,
                       runs=[run.header for run in runs], phases=phase_totals(records, runs), baselines=baselines,
                       scaling=scaling_series(rows))
