"""Records -> the content of a report (`report.content`), computed apart from any drawing (pure; no I/O).

The numbers: rows and cells, ties and contrasts, fits and crossovers, each decided here. The sentences
that word them are `report.verdicts`' (`build_model` hands them over with the numbers, as
`ReportModel.verdicts`); `report.sections` places both in the HTML, the Markdown and the docs.

Every figure is the median of the case's headline samples (one per timed repetition). Ties and
ratios come from `enginebench.core.stats.contrast`, the same function `compare` uses: two engines are tied on
a case when the rule (a bootstrap interval of the ratio of medians with 5+ repetitions, the overlap
of the ranges with fewer) does not resolve their difference. Records whose case ran while processes
outside the run took more than NOISY_SHARE of the budget's CPU are *noisy* (`report.noise`): badged and
ranked as conservative figures, so a noisy leader still leads and a noisy engine behind the leader
leaves the order *undecided* unless even its best case (the contention taken out) is beyond the
threshold behind; allow_noisy ranks them as if they were clean.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from enginebench.core.stats import THRESHOLD, Contrast, contrast, worse_ratio
from enginebench.report.content import CONFIRM_MIN, Ask, Asked, Cell, Crossover, Regime, ReportModel, Row, Unfitted
from enginebench.report.noise import best_case, foreign_names, is_noisy
from enginebench.report.verdicts import category_verdicts
from enginebench.results.fit import Fit, asked_size, crossings, fits, order_at, scaling_fits
from enginebench.results.records import FAILED, PHASES, Record, Run


def latest_records(runs: Sequence[Run]) -> list[Record]:
    """All records, later runs replacing earlier ones for the same (workload, case, engine, scale, cpus);
    a `skipped` record (an interrupted run never reached it) replaces nothing."""
    chosen: dict[tuple[Any, ...], Record] = {}
    for run in runs:
        for rec in run.records:
            if rec.status == "skipped" and repeat_key(rec) in chosen:
                continue
            chosen[repeat_key(rec)] = rec
    return list(chosen.values())


def separated(c: Contrast) -> bool:
    """Whether a contrast calls an order: resolved by the tie rule *and* beyond compare's threshold
    (a resolved 5% difference is real inside one run but not one to act on: never a win)."""
    return c.resolved and (c.ratio >= 1 + THRESHOLD or c.ratio <= 1 / (1 + THRESHOLD))


def build_row(records: Sequence[Record], engines: Sequence[str], category: str,
              baselines: Collection[str] = (), allow_noisy: bool = False,
              repeats: Mapping[tuple[Any, ...], Sequence[float]] | None = None) -> Row:
    """One matrix row: figures for ok records, ratios to the best engine, ties by `stats.contrast`.
    Baselines get a figure and a ratio to the best engine but are never the best or tied. Noisy
    records are ranked as conservative figures (`report.noise`): one behind the best whose best case
    is not beyond the threshold behind it is `undecided` (unless allow_noisy ranks it as clean).
    `repeats`: per record key (`repeat_key`), the medians of every run that measured it (`run_medians`)."""
    first = records[0]
    metric, unit, higher = first.metric, first.primary.get("unit", ""), first.higher_is_better
    by_engine = {r.engine: r for r in records}
    ok = [r for r in records if r.status == "ok" and r.headline_samples]
    ranked = [r for r in ok if r.engine not in baselines]
    best = None
    if ranked:
        pick = max if higher else min
        best = pick(ranked, key=lambda r: statistics.median(r.headline_samples))
    cells = []
    for engine in engines:
        rec = by_engine.get(engine)
        is_base = engine in baselines
        if rec is None:
            cells.append(Cell(engine, "absent", baseline=is_base))
        elif rec in ok:
            xs = rec.headline_samples
            v = statistics.median(xs)
            versus = None
            if best is None:
                ratio = 1.0
            elif rec in ranked and rec is not best:
                versus = contrast(best.headline_samples, xs, higher)
                ratio = versus.ratio
            else:
                ratio = worse_ratio(statistics.median(best.headline_samples), v, higher)
            noisy = is_noisy(rec)
            tied = versus is not None and not separated(versus)
            undecided = False
            if versus is not None and noisy and not allow_noisy and not tied and best is not None:
                undecided = worse_ratio(statistics.median(best.headline_samples), best_case(rec, v, higher),
                                        higher) < 1 + THRESHOLD
            cells.append(Cell(engine, "ok", v, ratio, rec is best, tied, low=min(xs), high=max(xs), baseline=is_base,
                              noisy=noisy, ranked=rec in ranked, versus_best=versus, undecided=undecided,
                              foreign=foreign_names(rec) if noisy else "", work=_work(rec),
                              **_spread((repeats or {}).get(repeat_key(rec), ()))))
        else:
            cells.append(Cell(engine, rec.status, reason=rec.reason, baseline=is_base))
    return Row(first.workload, category, first.case, first.scale, first.budget.get("cpus"), metric, unit, higher,
               tuple(cells), first.size, first.size_param, str(first.primary.get("work") or ""))


def repeat_key(rec: Record) -> tuple[Any, ...]:
    """What makes two records measurements of the same thing in different runs."""
    return (*rec.key, rec.budget.get("cpus"))


def run_medians(runs: Sequence[Run]) -> dict[tuple[Any, ...], list[float]]:
    """Per `repeat_key`, the headline median of each run that has a checked figure for it."""
    out: dict[tuple[Any, ...], list[float]] = {}
    for run in runs:
        for rec in run.records:
            if rec.status == "ok" and rec.headline_samples:
                out.setdefault(repeat_key(rec), []).append(statistics.median(rec.headline_samples))
    return out


def _spread(medians: Sequence[float]) -> dict[str, Any]:
    """A cell's runs and the range of their medians (nothing to say with fewer than two)."""
    if len(medians) < 2:
        return {}
    return {"runs": len(medians), "run_range": (min(medians), max(medians))}


def _work(rec: Record) -> float | None:
    """The work a record's answers did (the median repetition's count), where its case counts it."""
    name = rec.primary.get("work")
    value = rec.metrics.get(name) if name else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def phase_totals(records: Iterable[Record], runs: Sequence[Run]) -> dict[str, dict[str, float]]:
    """Per engine, seconds by phase label: engine start (once per run), inputs and reference (shared,
    made once per run), setup, run (all repetitions, warm-ups included), checks and teardown."""
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
        for phase in ("inputs", "reference", "setup", "check", "teardown"):
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


def _by_size(records: Iterable[Record], allow_noisy: bool) -> dict[tuple[str, str, Any], list[list[Record]]]:
    """Per (workload, case, cpus) with checked records at two or more input sizes: the records of each
    size, smallest first (noisy ones left out unless allowed)."""
    groups: dict[tuple[str, str, Any], dict[float, list[Record]]] = {}
    for r in records:
        if r.status == "ok" and r.size is not None and r.headline_samples and (allow_noisy or not is_noisy(r)):
            groups.setdefault((r.workload, r.case, r.budget.get("cpus")), {}).setdefault(r.size, []).append(r)
    return {key: [by_size[size] for size in sorted(by_size)] for key, by_size in groups.items() if len(by_size) >= 2}


def size_series(records: Iterable[Record], allow_noisy: bool = False
                ) -> dict[tuple[str, str, Any], dict[str, list[tuple[float, float]]]]:
    """Headline figure against input size per engine, for cases measured at two or more sizes."""
    out: dict[tuple[str, str, Any], dict[str, list[tuple[float, float]]]] = {}
    for key, sizes in _by_size(records, allow_noisy).items():
        for recs in sizes:
            for r in recs:
                out.setdefault(key, {}).setdefault(r.engine, []).append((r.size or 0.0, r.headline or 0.0))
    return out


def crossovers(records: Iterable[Record], allow_noisy: bool = False) -> list[Crossover]:
    """Every place where two engines swap order as the input grows. The order at a size is decided
    by `stats.contrast` (the report's tie rule) on CONFIRM_MIN or more repetitions a side, as a win
    is; a tie, or an order on fewer repetitions, neither keeps nor breaks an order, so a flip is named
    between the last size with one order and the first with the other."""
    out: list[Crossover] = []
    for (workload, case, cpus), sizes in _by_size(records, allow_noisy).items():
        engines = list(dict.fromkeys(r.engine for recs in sizes for r in recs))
        for i, a in enumerate(engines):
            for b in engines[i + 1:]:
                last: tuple[int, Record] | None = None  # (+1: a ahead, -1: b ahead), at which record of a
                for recs in sizes:
                    ra = next((r for r in recs if r.engine == a), None)
                    rb = next((r for r in recs if r.engine == b), None)
                    if ra is None or rb is None:
                        continue
                    c = contrast(ra.headline_samples, rb.headline_samples, ra.higher_is_better)
                    if not separated(c) or min(c.n) < CONFIRM_MIN:  # an order a verdict would call a win
                        continue
                    order = 1 if c.ratio > 1 else -1  # ratio > 1: b is that many times worse than a
                    if last is not None and order != last[0]:
                        before = last[1]
                        leader, other = (a, b) if order == 1 else (b, a)
                        out.append(Crossover(ra.category or workload, workload, case, cpus, leader, other,
                                             ra.size_param, before.size or 0.0, ra.size or 0.0,
                                             (before.scale, ra.scale)))
                    last = (order, ra)
    return out


def engine_starts(runs: Sequence[Run]) -> dict[str, float]:
    """Per engine, the median of its start seconds over the runs (what a job pays before its first call)."""
    seen: dict[str, list[float]] = {}
    for run in runs:
        for engine, session in run.header.engines.items():
            if session.start_s is not None:
                seen.setdefault(engine, []).append(session.start_s)
    return {engine: statistics.median(xs) for engine, xs in seen.items()}


def regimes(rows: Sequence[Row], records: Sequence[Record], engines: Sequence[str],
            references: Sequence[tuple[str, Run]], allow_noisy: bool = False) -> list[Regime]:
    """Each case measured at one size, read against the first reference ladder whose lines cover that
    size for the same work (workload, case, CPU budget and every parameter but the size: `work_params`):
    per engine, the fixed cost's share of the call there. A line covers a size when it may predict it
    (`Fit.predict`: inside the ladder, or beyond it where the rules let it). Cases with no such reference
    are left out."""
    lines: list[tuple[str, str, Fit]] = []  # (reference name, the work it measured, line)
    cases = {(r.workload, r.case) for r in rows if r.size is not None}
    for name, run in references:
        recs = [r for r in run.records if (r.workload, r.case) in cases and (allow_noisy or not is_noisy(r))]
        baselines = {e for e, s in run.header.engines.items() if s.baseline}
        for work in dict.fromkeys(r.work_params for r in recs):
            lines += [(name, work, f) for f in fits([r for r in recs if r.work_params == work], baselines)]
    works = {(r.workload, r.case, r.scale, r.budget.get("cpus"), r.size): r.work_params for r in records}
    sized = {(r.workload, r.case, r.scale, r.cpus) for r in rows if r.size is not None}
    several = {k for k in sized if sum((r.workload, r.case, r.scale, r.cpus) == k for r in rows) > 1}
    out = []
    for row in rows:
        key = (row.workload, row.case, row.scale, row.cpus)
        if row.size is None or key in several:
            continue  # a ladder in the run itself speaks for its cases
        ran = {c.engine for c in row.cells if c.value is not None}
        its_work = works.get((*key, row.size))
        for name in dict.fromkeys(n for n, _, _ in lines):
            shares = []
            for ref, measured, f in lines:
                if ref == name and (f.workload, f.case, f.cpus, f.param, measured) == (row.workload, row.case, row.cpus,
                                                                       row.size_param, its_work) \
                        and f.engine in ran and f.predict(row.size).seconds is not None:
                    shares.append((f.engine, f.fixed_share(row.size)))
            if shares:
                order = {e: i for i, e in enumerate(engines)}
                shares.sort(key=lambda es: order.get(es[0], len(order)))
                out.append(Regime(row.category, row.workload, row.case, row.size_param, row.size, name, tuple(shares)))
                break
    return out


def build_model(runs: Sequence[Run], allow_noisy: bool = False, ask: Ask | None = None) -> ReportModel:
    """The whole report's content, from the records alone (each record names its category); `ask`: what
    the reader brings (`content.Ask`: sizes to predict at, a price, reference ladders)."""
    ask = ask or Ask()
    at = ask.at
    records = latest_records(runs)
    engines: list[str] = []
    for run in runs:
        for e in run.header.plan.engines:
            if e not in engines:
                engines.append(e)
    for r in records:
        if r.engine not in engines:
            engines.append(r.engine)
    groups: dict[tuple[str, str, str, Any, Any], list[Record]] = {}
    for r in records:
        groups.setdefault((r.workload, r.case, r.scale, r.budget.get("cpus"), r.size), []).append(r)
    baselines = {e for run in runs for e, s in run.header.engines.items() if s.baseline}
    repeats = run_medians(runs)
    rows = [build_row(recs, engines, recs[0].category or recs[0].workload, baselines, allow_noisy, repeats)
            for recs in groups.values()]
    lines = fits([r for r in records if allow_noisy or not is_noisy(r)], baselines)
    laddered = {(f.workload, f.case, f.cpus) for f in lines}
    unfitted: dict[tuple[str, str, Any], list[Unfitted]] = {}
    for key in laddered:
        have = {f.engine for f in lines if (f.workload, f.case, f.cpus) == key}
        for engine in engines:
            recs = [r for r in records if (r.workload, r.case, r.budget.get("cpus"), r.engine) == (*key, engine)]
            if engine in have or not recs or all(r.status == "unsupported" for r in recs):
                continue
            usable = {r.size for r in recs if r.status == "ok" and (allow_noisy or not is_noisy(r))}
            noisy = sum(1 for r in recs if r.status == "ok" and is_noisy(r) and not allow_noisy)
            failed = sum(1 for r in recs if r.status in FAILED)
            skipped = sum(1 for r in recs if r.status == "skipped")
            unfitted.setdefault(key, []).append(Unfitted(engine, len(usable), failed, noisy, skipped))
    crosses = crossings(lines)
    flips = crossovers(records, allow_noisy)  # measured order flips, beside the lines' crossovers
    amdahl = scaling_fits([r for r in records if allow_noisy or not is_noisy(r)], baselines)
    size_keys = {(r.workload, r.case, r.budget.get("cpus")): r.size_param for r in records if r.size_param}
    failures = [r for r in records if r.status not in ("ok",)]
    model = ReportModel(engines=engines, rows=rows, failures=failures, records=records,
                       runs=[run.header for run in runs], phases=phase_totals(records, runs), baselines=baselines,
                       scaling=scaling_series(rows), sizes=(sizes := size_series(records, allow_noisy)),
                       size_params={k: v for k, v in size_keys.items() if k in sizes}, crossovers=flips,
                       allow_noisy=allow_noisy, fits=lines, crossings=crosses, unfitted=unfitted, amdahl=amdahl,
                       price=ask.price, starts=engine_starts(runs),
                       regimes=regimes(rows, records, engines, ask.references, allow_noisy) if ask.references else [])
    for (workload, case, cpus), group in model.ladders.items():
        size = asked_size(group, at) if at else None
        if size is not None:
            model.asked.append(Asked(workload, case, cpus, group[0].param, size, order_at(group, size), model.starts))
    model.verdicts = category_verdicts(model)
    return model
