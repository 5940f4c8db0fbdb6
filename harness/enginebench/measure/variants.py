"""Variant studies: one case written several ways on one engine, measured in one run, every answer checked.

`enginebench variants` starts each engine once with the budget, makes each case's inputs and reference
once, and runs each way the engine's module writes the case (`Workload.variants`: its default, then
its `VARIANTS`) through the attempt core that `run` uses: warm-ups, timed repetitions, the check after
every one, resource samples. The variants take turns in two blocks, A B C then C B A, each block a
warm-up and half the repetitions, so a drift of the machine during the study affects every variant
alike; a variant's two blocks are joined into one record (`join`).

Records carry the engine label `ENGINE:VARIANT` (their `api` is the engine's) and the notes
`variant`, `default` and `study`, so `report`, `compare`, `export` and the docs' `variants` tables read
a study's file as they read any run's. The file's header says `source: enginebench variants`.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from typing import Any

from enginebench.contract.spec import Resolved, Workload
from enginebench.core.stats import describe
from enginebench.engines.base import Endpoints
from enginebench.measure.attempt import Attempt, CaseInputs, Session
from enginebench.plan.plan import case_steps
from enginebench.results.records import Plan, Record, ResultsWriter, Status

SOURCE = "enginebench variants"
#: A default is "an expert's choice" when its headline is within this factor of its best variant's.
WITHIN = 1.25


def label(engine: str, variant: str) -> str:
    """The engine label of a variant's records."""
    return f"{engine}:{variant}"


def split_label(name: str) -> tuple[str, str]:
    """(engine, variant) of a record's engine label ("" for a plain engine name)."""
    engine, _, variant = name.partition(":")
    return engine, variant


def standing(ratio: float) -> str:
    """A variant against the best: "best", "1.31x" (slower), "2.50x faster" (one outside the rule)."""
    if ratio == 1:
        return "best"
    return f"{ratio:.2f}x" if ratio > 1 else f"{1 / ratio:.2f}x faster"


def block_sizes(repeat: int) -> tuple[int, int]:
    """Timed repetitions of the first and second block (the first takes the odd one)."""
    return (repeat + 1) // 2, repeat // 2


def join(first: Record, second: Record | None) -> Record:
    """One record from a variant's two blocks: the repetitions and samples of both, statistics over
    all of them, the headline the median of all samples, each other metric the mean of the two
    blocks' medians, resources summed (peaks: the higher), the first block's phases, notes and series.
    A block that did not end `ok` is the record (its status and reason are the finding)."""
    if second is None or first.status != Status.OK:
        return first
    if second.status != Status.OK:
        return second
    timings = first.timings_s + second.timings_s
    samples = first.samples + second.samples
    metrics = {k: (v + second.metrics[k]) / 2 for k, v in first.metrics.items() if k in second.metrics}
    metrics[first.primary["name"]] = statistics.median(samples)
    phases = {**first.phases, "run": describe(timings)["median"],
              "check": first.phases.get("check", 0.0) + second.phases.get("check", 0.0)}
    return dataclasses.replace(
        first, repeat=len(timings), warmup=first.warmup + second.warmup,
        warmup_s=first.warmup_s + second.warmup_s, timings_s=timings,
        warmup_samples=first.warmup_samples + second.warmup_samples, samples=samples,
        checks=first.checks + second.checks, stats=describe(timings), phases=phases, metrics=metrics,
        resources=_joined_resources(first.resources, second.resources, int(first.budget.get("cpus") or 1)))


def _joined_resources(a: dict[str, Any], b: dict[str, Any], cpus: int) -> dict[str, Any]:
    if not a or not b:
        return a or b
    out = dict(a)
    for key in ("peak_rss_bytes", "peak_rss_net_bytes", "driver_peak_rss_bytes", "load_avg_1m"):
        values = [v for v in (a.get(key), b.get(key)) if v is not None]
        out[key] = max(values) if values else None
    for key in ("cpu_seconds", "foreign_cpu_s", "foreign_resolution_s", "kernel_cpu_s", "machine_busy_s", "wall_s",
                "samples"):
        if key in a or key in b:
            out[key] = (a.get(key) or 0) + (b.get(key) or 0)
    if "foreign_top" in a or "foreign_top" in b:
        top = [*(a.get("foreign_top") or []), *(b.get("foreign_top") or [])]
        out["foreign_top"] = sorted(top, key=lambda p: -float(p.get("cpu_s") or 0))[:3]
    budget_s = out["wall_s"] * cpus
    if budget_s > 0:
        out["cpu_utilisation"] = round(out["cpu_seconds"] / budget_s, 4)
        out["foreign_cpu_share"] = round(out["foreign_cpu_s"] / budget_s, 4)
    return out


def found_variants(workload: Workload, api: str, case: str, engine: str,
                   only: tuple[str, ...] = ()) -> dict[str, Resolved]:
    """The ways an engine's module writes a case (`Workload.variants`: the default first), only the default and
    the variants named in `only` when it names any."""
    found = workload.variants(api, case, engine)
    return {n: r for i, (n, r) in enumerate(found.items()) if i == 0 or not only or n in only}


@dataclasses.dataclass
class Study:
    """One variant study: each (engine, case) of the plan with every variant the engine's module has (or the
    default and those named in `only`), one results file. `progress` is told each block as it ends."""

    plan: Plan
    workload: Workload
    writer: ResultsWriter
    progress: Callable[[Record, str], None] = lambda record, block: None
    records: list[Record] = dataclasses.field(default_factory=list)
    only: tuple[str, ...] = ()

    def run(self) -> list[Record]:
        """Every (engine, case) of the plan not already in the results file (a resumed study keeps the
        cases it finished: a case's variants are written together, when its second block ends).
        KeyboardInterrupt stops the engine, marks the file interrupted and re-raises."""
        done = {(split_label(r.engine)[0], r.case) for r in self.writer.run.records}
        try:
            with CaseInputs() as inputs:
                for engine in self.plan.engines:
                    self._engine(engine, inputs, done)
        except KeyboardInterrupt:
            self.writer.finish("interrupted")
            raise
        self.writer.finish("complete")
        return self.records

    def _engine(self, name: str, inputs: CaseInputs, done: set[tuple[str, str]]) -> None:
        plan = self.plan
        session = Session(name, plan.budget, Endpoints.from_dict(plan.endpoints))
        found = {c: found_variants(self.workload, session.cls.api, c, name, self.only or plan.variants)
                 for c in plan.cases[self.workload.name] if (name, c) not in done}
        found = {c: v for c, v in found.items() if v}
        if not found or not session.available():
            self.writer.set_session(name, session.info)
            return
        try:
            session.start()
            for case_name, variants in found.items():
                self._case(session, case_name, variants, inputs)
        finally:
            session.stop()
            for variant in dict.fromkeys(v for vs in found.values() for v in vs):
                self.writer.set_session(label(name, variant), session.info)

    def _case(self, session: Session, case_name: str, variants: dict[str, Resolved], inputs: CaseInputs) -> None:
        plan, case = self.plan, self.workload.case(case_name)
        step = case_steps(plan, self.workload, case_name, session.name)[0]  # a study has no ladder: one step
        params = step.params
        prepared = inputs.get(case, params)
        names = list(variants)
        default = names[0]
        firsts, seconds = block_sizes(plan.repeat)
        blocks: dict[str, list[Record]] = {n: [] for n in names}
        for block, (order, repeat) in enumerate(((names, firsts), (names[::-1], seconds)), 1):
            for variant in order:
                if repeat == 0 or (blocks[variant] and blocks[variant][0].status != Status.OK):
                    continue
                if session.ctx is None:
                    session.restart()
                record, healthy = Attempt(session, self.workload, case, variants[variant], plan.scale, params,
                                          prepared, step.warmup, repeat, step.timeout_s).run()
                blocks[variant].append(record)
                self.progress(record, f"{label(session.name, variant)} block {block}")
                if not healthy:
                    session.restart()
        for variant in names:
            first, *rest = blocks[variant]
            joined = join(first, rest[0] if rest else None)
            notes = {**joined.notes, "variant": variant, "default": variant == default,
                     "study": f"{len(names)} variants of {session.name}, default {default}"}
            if variants[variant].outside_rule:
                notes["outside_rule"] = variants[variant].outside_rule
            record = dataclasses.replace(joined, engine=label(session.name, variant), notes=notes)
            self.records.append(record)
            self.writer.add(record)


def outside_rule(record: Record) -> str:
    """Why a variant's record stands outside the 1.25x rule ("" when it does not). Files of the first
    studies (2026-11-29, commit 2b4226e) wrote `engine_patch: true` instead of a reason."""
    if record.notes.get("engine_patch"):
        return "it patches the engine, not the case's code"
    return str(record.notes.get("outside_rule", ""))


@dataclasses.dataclass(frozen=True)
class VariantRow:
    """One variant's standing: its headline median (None unless ok) and how many times worse than the
    engine's best variant it is (1.0: the best)."""

    variant: str
    default: bool
    status: str
    value: float | None
    ratio: float | None  # below 1 only for a variant outside the rule, faster than every other
    record: Record

    @property
    def outside_rule(self) -> str:
        """Why this variant is never the best a default is held to ("": it may be)."""
        return outside_rule(self.record)


@dataclasses.dataclass(frozen=True)
class VariantGroup:
    """The variants of one engine on one case, and whether the default is within `WITHIN` of the best."""

    workload: str
    case: str
    scale: str
    engine: str
    metric: str
    unit: str
    rows: tuple[VariantRow, ...]

    @property
    def default(self) -> VariantRow | None:
        return next((row for row in self.rows if row.default), None)

    @property
    def best(self) -> VariantRow | None:
        ranked = [row for row in self.rows if row.ratio is not None and not row.outside_rule]
        return min(ranked, key=lambda row: row.ratio or 0.0) if ranked else None

    @property
    def default_within(self) -> bool:
        d = self.default
        return d is not None and d.ratio is not None and d.ratio <= WITHIN


def verdicts(records: list[Record]) -> list[VariantGroup]:
    """Each (workload, case, scale, engine) of a study's records, in the order first seen: its variants'
    headline medians and standing against the best variant (those outside the rule are measured against
    it too, but are never that best). Pure."""
    groups: dict[tuple[str, str, str, str], list[Record]] = {}
    for r in records:
        engine, variant = split_label(r.engine)
        if variant:
            groups.setdefault((r.workload, r.case, r.scale, engine), []).append(r)
    out = []
    for (workload, case, scale, engine), recs in groups.items():
        higher = bool(recs[0].primary.get("higher_is_better"))
        medians = {r.engine: statistics.median(r.samples) for r in recs if r.status == Status.OK and r.samples}
        ranked = [medians[r.engine] for r in recs if r.engine in medians and not outside_rule(r)]
        best = (max if higher else min)(ranked) if ranked else None
        rows = []
        for r in recs:
            value = medians.get(r.engine)
            ratio = None if value is None or not best else (best / value if higher else value / best)
            rows.append(VariantRow(split_label(r.engine)[1], bool(r.notes.get("default")), r.status.value, value,
                                   ratio, r))
        out.append(VariantGroup(workload, case, scale, engine, str(recs[0].primary.get("name", "")),
                                str(recs[0].primary.get("unit", "")), tuple(rows)))
    return out
