"""ReportModel -> Markdown: the report's matrix, verdicts and per-case figures as GitHub-flavoured tables.

Pure functions of the records (no I/O). The docs' measured tables are made by these functions from a
results file committed beside the page (`enginebench.report.docs`), and `enginebench report --format markdown`
writes the same content as one document (`report.markdown`), so a figure in the docs and in the report
cannot disagree. Which table goes where is `report.sections`' to say.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from enginebench.core.budget import format_bytes
from enginebench.core.fmt import fmt_factor, fmt_seconds, fmt_size, format_metric, format_seconds
from enginebench.plan.plan import PRESETS
from enginebench.report.content import UNSTABLE_SPREAD, Cell, ReportModel, Row
from enginebench.report.verdicts import case_ladder_sentence, fmt_ratio, no_line
from enginebench.results.cost import Price, fmt_money
from enginebench.results.fit import MIN_RUNGS, Estimate, Fit
from enginebench.results.records import FAILED, Record, Run

if TYPE_CHECKING:
    from enginebench.results.farout import Check

STATUS_TEXT = {"wrong": "**WRONG**", "error": "error", "timeout": "timeout", "unsupported": "n/a",
               "skipped": "skipped", "absent": "not run"}

#: Columns a metrics table can add beside the case's own metrics: name -> (heading, value of a record).
EXTRA_COLUMNS: dict[str, tuple[str, Callable[[Record], str]]] = {
    "@median": ("median run", lambda r: format_seconds(float(r.stats["median"])) if "median" in r.stats else ""),
    "@reps": ("reps", lambda r: str(len(r.samples))),
    "@peak_memory": ("peak memory (net of driver)",
                     lambda r: format_bytes(int(r.resources["peak_rss_net_bytes"]))
                     if "peak_rss_net_bytes" in r.resources else ""),
    "@cpu": ("CPU use", lambda r: f"{float(r.resources['cpu_utilisation']):.0%}"
             if "cpu_utilisation" in r.resources else ""),
}


def _escape(text: str) -> str:
    """A table cell's text: pipes escaped, newlines folded (reasons can hold both)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(head: Sequence[str], rows: Sequence[Sequence[str]], numbers: bool = True) -> str:
    """A GitHub-flavoured Markdown table; the first column left-aligned, the rest right-aligned when
    they hold numbers (`numbers`), left-aligned when they hold text."""
    lines = ["| " + " | ".join(_escape(h) for h in head) + " |",
             "| " + " | ".join(["---"] + ["---:" if numbers else "---"] * (len(head) - 1)) + " |"]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cell_text(cell: Cell) -> str:
    """One matrix cell as the HTML report shows it: a figure only when checked right, its standing
    against the row's best, or the status of a record with no figure."""
    if cell.value is None:
        return STATUS_TEXT.get(cell.status, cell.status)
    value = format_metric(cell.value)
    ratio = cell.ratio or 1.0
    if cell.baseline:
        return f"{value} (baseline, {fmt_ratio(1 / ratio)} faster)" if ratio < 1 else \
            f"{value} (baseline, {fmt_ratio(ratio)} slower)"
    noisy = ", noisy" if cell.noisy else ""
    if cell.best:
        return f"**{value}** best{' (noisy)' if cell.noisy else ''}"
    if cell.tied_with_best:
        return f"{value} (tied, {fmt_ratio(ratio)}{noisy})"
    if cell.undecided:
        return f"{value} ({fmt_ratio(ratio)} slower, noisy: undecided)"
    if not cell.ranked:
        return f"{value} (not ranked{noisy})"
    return f"{value} ({fmt_ratio(ratio)} slower{noisy})"


def _rows(model: ReportModel, workloads: Sequence[str] | None) -> list[Row]:
    return [r for r in model.rows if workloads is None or r.workload in workloads]


def matrix(model: ReportModel, workloads: Sequence[str] | None = None) -> str:
    """The engine-fit matrix: a row per case, a column per engine, the median headline in each cell."""
    several = len({r.scale for r in model.rows}) > 1
    # Sizes are named only where one case ran at several (two workloads' `train` are two cases).
    sized = len({(r.workload, r.case, r.scale, r.cpus, r.size) for r in model.rows}) > \
        len({(r.workload, r.case, r.scale, r.cpus) for r in model.rows})
    head = ["case", "headline", *[f"{e} (baseline)" if e in model.baselines else e for e in model.engines]]
    body = []
    for row in _rows(model, workloads):
        extra = [row.scale] * several + ([fmt_size(row.size_param, row.size)] if sized and row.size else [])
        if row.unequal_work:
            extra.append(f"unequal {row.work}")
        name = f"{row.workload} {row.case}" + (f" ({', '.join(extra)})" if extra else "")
        unit = f"{row.unit}, {'higher' if row.higher_is_better else 'lower'} is better"
        body.append([name, unit, *[cell_text(c) + (f" [{c.work:,.0f} {row.work}]" if row.work and c.work else "")
                                   + (f" [unstable: {fmt_ratio(c.spread)} over {c.runs} runs]" if c.unstable else "")
                                   for c in row.cells]])
    return table(head, body)


def spread(model: ReportModel, workloads: Sequence[str] | None = None) -> str:
    """Repeated runs of one plan, a row per case and a column per engine: each cell's medians across the
    runs (smallest to largest) and their spread, marked unstable beyond UNSTABLE_SPREAD."""
    head = ["case", "headline", *[f"{e} (baseline)" if e in model.baselines else e for e in model.engines]]
    body = []
    for row in _rows(model, workloads):
        cells = []
        for c in row.cells:
            if c.run_range is None:
                cells.append(cell_text(c) if c.value is None else f"{format_metric(c.value)} (1 run)")
                continue
            lo, hi = (format_metric(v) for v in c.run_range)
            cells.append(f"{lo} to {hi}: " + (f"**{fmt_ratio(c.spread)} unstable**" if c.unstable
                                              else fmt_ratio(c.spread)))
        body.append([f"{row.workload} {row.case}", row.unit, *cells])
    return table(head, body) + (f"\n\nEach cell: the smallest and largest of the runs' medians and their ratio; "
                                f"over {UNSTABLE_SPREAD:g}x is unstable.")


def verdicts(model: ReportModel, workloads: Sequence[str] | None = None) -> str:
    """The report's sentences, one bullet per category (categories of the given workloads only)."""
    categories = dict.fromkeys(r.category for r in _rows(model, workloads))
    return "\n".join(f"* {model.verdicts[c]}" for c in categories)


def metrics(model: ReportModel, workload: str, case: str, names: Sequence[str] = ()) -> str:
    """One case, an engine per row: the headline's median and the named metrics of the checked
    records (default: every metric the records have); `@median`, `@reps`, `@peak_memory` and `@cpu`
    add the run time, repetitions, peak memory and CPU use. A record with no figures shows its status."""
    recs = {r.engine: r for r in model.records if (r.workload, r.case) == (workload, case)}
    if not recs:
        raise ValueError(f"no record of {workload}/{case} (accepted: a case the results file holds)")
    row = next(r for r in model.rows if (r.workload, r.case) == (workload, case))
    chosen = list(names) or list(dict.fromkeys(m for r in recs.values() for m in r.metrics))
    unknown = [n for n in chosen if n.startswith("@") and n not in EXTRA_COLUMNS]
    if unknown:
        raise ValueError(f"unknown column {unknown[0]} (accepted: a metric name or {', '.join(EXTRA_COLUMNS)})")
    head = ["engine", f"{row.metric} ({row.unit}, median)",
            *[EXTRA_COLUMNS[n][0] if n.startswith("@") else n for n in chosen]]
    body = []
    for cell in row.cells:
        rec = recs.get(cell.engine)
        if rec is None:
            continue
        name = f"{cell.engine} (baseline)" if cell.baseline else cell.engine
        if rec.status != "ok":
            body.append([name, STATUS_TEXT.get(rec.status, rec.status), *[""] * len(chosen)])
            continue
        figures = [EXTRA_COLUMNS[n][1](rec) if n.startswith("@")
                   else format_metric(rec.metrics[n]) if n in rec.metrics else "" for n in chosen]
        body.append([name, cell_text(cell), *figures])
    note = (f"\n\nThe engines did different work ({row.work}): the ratios compare the searches as they stand; the "
            f"verdict compares them per unit of {row.work}." if row.unequal_work else "")
    return table(head, body) + note


def engine_starts(runs: Sequence[Run]) -> str:
    """Per engine and run: how long it took to start and stop (its own phase, never inside a figure)."""
    several = len(runs) > 1
    # Runs since each engine got a driver process record where it ran from; older ones do not.
    envs = any(s.environment for run in runs for s in run.header.engines.values())
    head = ["engine", *(["run"] if several else []), "start", "stop", "restarts", "versions",
            *(["environment"] if envs else [])]
    body = []
    for run in runs:
        for name, s in run.header.engines.items():
            versions = ", ".join(f"{k} {v}" for k, v in s.versions.items())
            where = s.environment.get("name", "")
            if s.environment.get("overlay"):
                where += f" (its own: {', '.join(s.environment['overlay'])})"
            body.append([f"{name} (baseline)" if s.baseline else name, *([run.run_id] if several else []),
                         format_seconds(s.start_s) if s.start_s is not None else s.status,
                         format_seconds(s.stop_s) if s.stop_s is not None else "", str(s.restarts), versions,
                         *([where] if envs else [])])
    notes = "".join(f"\n\n{line}" for run in runs for line in version_splits(run))
    return table(head, body) + notes


def version_splits(run: Run) -> list[str]:
    """A sentence for each package that two engines of one run ran at different versions (spark on
    PySpark 4 beside spark-on-ray on the PySpark 3.5 RayDP accepts): their figures are not one release's."""
    seen: dict[str, dict[str, list[str]]] = {}
    for name, s in run.header.engines.items():
        for package, version in s.versions.items():
            if package != "java" and s.status != "not needed":
                seen.setdefault(package, {}).setdefault(version, []).append(name)
    out = []
    for package, by_version in seen.items():
        if len(by_version) > 1:
            parts = "; ".join(f"{' and '.join(names)} on {version}" for version, names in by_version.items())
            out.append(f"{package} differs between this run's engines: {parts} (figures of different releases).")
    return out


def releases(runs: Sequence[Run]) -> str:
    """Each engine run at two releases in one run (`ray` and `ray@2.55.1`): per case, the older release's
    headline, the newer's, how many times slower the newer is (above 1: slower) with its interval, and the
    verdict `compare` gives (faster or slower only beyond 10% and when the samples resolve it)."""
    from enginebench.report.compare import releases as pairs

    def figure(status: str, value: float | None, unit: str) -> str:
        return f"{format_metric(value)} {unit}" if status == "ok" and value is not None else status

    body = []
    for run in runs:
        for older, newer, c in pairs(run):
            versions = [", ".join(f"{k} {v}" for k, v in run.header.engines[label].versions.items() if k != "java")
                        for label in (older, newer)]
            body.append([f"{c.workload} {c.case}", f"{older} ({versions[0]})", f"{newer} ({versions[1]})",
                         figure(c.base_status, c.base_value, c.unit), figure(c.new_status, c.new_value, c.unit),
                         f"{c.ratio:.2f}" if c.ratio is not None else "",
                         f"{c.low:.2f}-{c.high:.2f}" if c.low is not None and c.high is not None else "",
                         c.verdict + (" (borderline)" if c.borderline else "") + (f", noisy {c.noisy}" if c.noisy
                                                                                 else "")])
    if not body:
        return "No engine ran at two releases in this run."
    return table(["case", "older", "newer", "older's figure", "newer's figure", "newer/older time", "interval",
                  "verdict"], body)


def failures(model: ReportModel, workloads: Sequence[str] | None = None) -> str:
    """Every record without a figure, with its reason (empty when there is none)."""
    recs = [r for r in model.failures if workloads is None or r.workload in workloads]
    if not recs:
        return "No failures: every attempt was checked `ok` or is `unsupported` by design." \
            if not any(r.status in FAILED for r in model.records) else ""
    return table(["case", "engine", "status", "reason"],
                 [[f"{r.workload} {r.case}", r.engine, r.status.value, r.reason] for r in recs], numbers=False)


def provenance(runs: Sequence[Run], link: str | Sequence[str]) -> str:
    """The sentence that names where a generated table's figures come from: the results file or files
    (as links), each run's id, date, commit, machine, budget and repetition preset."""
    parts = []
    for run in runs:
        h = run.header
        commit = str(h.git.get("commit") or "unknown")[:7] + (" (dirty)" if h.git.get("dirty") else "")
        machine = h.machine
        cores = machine.get("logical_cpus") or "?"
        plan = h.plan
        preset = f"{plan.warmup} warm-up + {plan.repeat} repetitions"
        if plan.long_s:
            preset += f", 1 when the warm-up took over {plan.long_s:g} s"
        if plan.preset in PRESETS:
            preset = f"preset {plan.preset} ({preset})"
        if h.source == "enginebench variants":
            from enginebench.measure.variants import block_sizes

            preset = ("a variant study: per variant two blocks in A B, B A order, each " +
                      " and ".join(f"{plan.warmup} warm-up + {n}" for n in block_sizes(plan.repeat) if n) +
                      " repetitions")
        parts.append(f"run `{run.run_id}` ({h.created_utc[:10]}, commit `{commit}`, scale {plan.scale}, "
                     f"{plan.budget.cpus} CPUs per engine on a {cores}-core machine, {preset})")
    links = [link] if isinstance(link, str) else list(link)
    return f"Generated from {', '.join(f'[`{x}`]({x})' for x in links)}: " + "; ".join(parts) + "."


def summary(runs: Sequence[Run]) -> str:
    """What each run did, in one sentence per run: attempts by status and its wall time (created to
    finished, from the results file's header)."""
    import datetime as dt

    out = []
    for run in runs:
        counts: dict[str, int] = {}
        for r in run.records:
            counts[r.status.value] = counts.get(r.status.value, 0) + 1
        h = run.header
        took = ""
        if h.created_utc and h.finished_utc:
            fmt = "%Y-%m-%dT%H:%M:%SZ"
            finished, created = dt.datetime.strptime(h.finished_utc, fmt), dt.datetime.strptime(h.created_utc, fmt)
            seconds = int((finished - created).total_seconds())
            took = f" in {seconds // 60} min {seconds % 60} s (from the results file's start to its finish)"
        by_status = ", ".join(f"{n} {status}" for status, n in counts.items())
        out.append(f"Run `{run.run_id}` ({h.status}) made {len(run.records)} attempts{took}: {by_status}.")
    return " ".join(out)


def ladder(model: ReportModel, workload: str | None = None, case: str | None = None) -> str:
    """A ladder's findings: per case, its sentence and a table of each engine's fixed and per-unit
    cost with intervals, core-seconds per unit (per-unit seconds x the engine's CPUs), fit, held-out
    prediction against the measured figure, and regime; then the rules the figures follow."""
    from enginebench.results.cost import core_seconds, fmt_core_seconds
    from enginebench.results.fit import RULES as LADDER

    parts = []
    for key, lines in model.ladders.items():
        if workload not in (None, key[0]) or case not in (None, key[1]):
            continue
        largest = max(f.largest for f in lines)
        body = []
        for f in lines:
            h = f.holdout
            body.append([f.engine + (" (baseline)" if f.baseline else ""), f"{len(f.sizes)} ({f.points} reps)",
                         f.fixed.text(), f.per_unit.text(),
                         core_seconds(f.per_unit, f.cpus or 1).text(fmt_core_seconds),
                         f"{f.max_residual:.0%} off" + ("" if f.linear else " (no fit)"),
                         f"{fmt_seconds(h.predicted.value)} vs {fmt_seconds(h.measured)}: {h.error.value:+.0%} "
                         f"[{h.error.low:+.0%}, {h.error.high:+.0%}]" if h else "-",
                         f"{f.regime(f.largest)} ({f.fixed_share(f.largest):.0%} fixed)",
                         "yes" if f.extrapolates else f"no: {f.why_not_extrapolate()}"])
        several = len({k[2] for k in model.ladders}) > 1
        title = f"**{key[0]} {key[1]}**" + (f" ({key[2]} CPUs)" if several else "")
        parts.append(f"{title}: {case_ladder_sentence(model, key)}{no_line(model, key)}\n\n" + table(
            ["engine", "sizes", "fixed per call", f"per {lines[0].unit}", f"core-seconds per {lines[0].unit}", "fit",
             "held out: predicted vs measured",
             f"at {fmt_size(lines[0].param, largest)}", "extrapolates"], body))
    if not parts:
        raise ValueError(f"no ladder{f' of {workload}' if workload else ''}{f' {case}' if case else ''} "
                         f"(accepted: a results file of enginebench run --ladder, {MIN_RUNGS} or more sizes)")
    rules = "; ".join(LADDER[k] for k in ("fit", "interval", "residual", "precision", "holdout", "cap", "band", "below",
                                       "cross"))
    return "\n\n".join(parts) + ("" if workload else f"\n\nRules: {rules}.")


def call_cost_text(fit: Fit, seconds: Estimate, price: Price | None, start_s: float | None) -> str:
    """What one predicted call costs, in words: core-seconds (seconds x the engine's CPUs), and at a price
    the money per call and per job (a job starts the engine first: its start seconds added)."""
    from enginebench.results.cost import call_cost, fmt_core_seconds

    cost = call_cost(seconds, fit.cpus or 1, price, start_s)
    text = cost.core_seconds.text(fmt_core_seconds)
    if cost.money is not None and cost.job is not None:
        text += f"; {cost.money.text(fmt_money)} per call, {fmt_money(cost.job)} per job"
    return text


def asked(model: ReportModel) -> str:
    """`report --at`: per laddered case, each engine's predicted seconds at the asked size, fastest first,
    with its core-seconds and, at a price (`report --price`), the money per call and per job."""
    from enginebench.results.cost import call_cost, fmt_core_seconds

    price = model.price
    parts = []
    for q in model.asked:
        body = []
        for i, (f, p) in enumerate(q.order):
            note = f"no prediction: {p.refused}" if p.refused else "ahead of the next" if q.separated(i) else ""
            figures = ["-", *(["-", "-"] if price else [])]
            if p.seconds is not None:
                cost = call_cost(p.seconds, f.cpus or 1, price, q.start(f.engine))
                figures = [cost.core_seconds.text(fmt_core_seconds),
                           *([cost.money.text(fmt_money), fmt_money(cost.job)]
                             if cost.money is not None and cost.job is not None else [])]
            body.append([f.engine, p.seconds.text() if p.seconds else "-", *figures,
                         fmt_factor(p.factor) if p.factor > 1 else "inside", note])
        head = ["engine", "predicted seconds per call", "core-seconds per call",
                *([f"cost per call ({price.text()})", "per job (with the engine's start)"] if price else []),
                "beyond the ladder", "caveat"]
        parts.append(f"**{q.workload} {q.case} at {fmt_size(q.param, q.size)}**\n\n" + table(head, body, False))
    return "\n\n".join(parts)


def variants(records: Sequence[Record], workload: str | None = None, case: str | None = None) -> str:
    """A variant study's table (`enginebench variants`): per case and engine, each variant's headline
    median, repetitions and standing against the engine's best variant, the default marked; then
    what each variant changes, and whether every default is within `WITHIN` of its best."""
    from enginebench.measure import variants as study
    from enginebench.report.noise import is_noisy

    groups = study.verdicts([r for r in records if workload in (None, r.workload) and case in (None, r.case)])
    if not groups:
        raise ValueError(f"no variant records{f' of {workload}' if workload else ''}{f' {case}' if case else ''} "
                         "(accepted: a results file written by enginebench variants)")
    rows, notes, beyond = [], {}, []
    for g in groups:
        for row in g.rows:
            rec = row.record
            name = f"**{row.variant}**" if row.default else row.variant
            if row.default and row.variant != "default":
                name += " (default)"
            if row.outside_rule:
                name += " (outside the rule)"
            status = STATUS_TEXT.get(row.status, row.status) if row.status != "ok" else \
                ("ok (noisy)" if is_noisy(rec) else "ok")
            rows.append([g.case if workload else f"{g.workload} {g.case}", g.engine, name,
                         "" if row.value is None else f"{format_metric(row.value)} {g.unit}", str(len(rec.samples)),
                         "" if row.ratio is None else study.standing(row.ratio), status])
            if not row.default and rec.notes.get("implementation"):
                notes[f"{g.engine}:{row.variant}"] = rec.notes["implementation"]
        default, best = g.default, g.best
        if len(g.rows) > 1 and not g.default_within:
            beyond.append(f"{g.engine} on {g.case} (default {default.ratio:.2f}x of {best.variant})"
                          if default and best and default.ratio is not None else f"{g.engine} on {g.case}")
    out = [table(["case", "engine", "variant", "median", "reps", "of best", "status"], rows)]
    outside = {f"{g.engine}:{row.variant}": row.outside_rule for g in groups for row in g.rows if row.outside_rule}
    if outside:
        out.append(f"Outside the {study.WITHIN}x rule, measured against the best variant (\"faster\" when they beat "
                   "it) but never the best a default is held to: "
                   + "; ".join(f"`{name}` ({why})" for name, why in outside.items()) + ".")
    if notes:
        out.append("\n".join(f"- `{name}`: {text}" for name, text in notes.items()))
    contested = sum(len(g.rows) > 1 for g in groups)
    if beyond:
        out.append(f"Defaults beyond {study.WITHIN}x of their engine's best variant: {'; '.join(beyond)}.")
    elif contested:
        out.append(f"Every default is within {study.WITHIN}x of its engine's best variant "
                   f"({contested} engine-case pair{'' if contested == 1 else 's'} with more than one variant).")
    return "\n\n".join(out)


def far_out_checks(runs: Sequence[Run]) -> list[Check]:
    """Predictions checked far out (`results.farout`): each run's ladder lines against every larger size of
    the same work measured by the runs after it (files listed nearest first; where two later runs measured
    the same size, the later one's figure). Noisy records are left out on both sides, as the report's lines
    leave them out."""
    from enginebench.report.model import latest_records
    from enginebench.report.noise import is_noisy
    from enginebench.results.farout import checks

    clean = [Run(run.header, [r for r in run.records if not is_noisy(r)]) for run in runs]
    found: list[Check] = []
    for i, near in enumerate(clean[:-1]):
        baselines = {e for e, s in near.header.engines.items() if s.baseline}
        found += checks(near.records, latest_records(clean[i + 1:]), baselines)
    return found


def predictions(runs: Sequence[Run], workload: str | None = None) -> str:
    """Predictions checked far out (`far_out_checks`). With `workload`, a row per case and engine with each
    size's error and whether its interval held; without, the summary by what the rules said and how far out."""
    from enginebench.core.fmt import size_text
    from enginebench.results.farout import summary

    if len(runs) < 2:
        raise ValueError("predictions needs two results files (accepted: from=NEAR.json,FAR.json[,...]: each "
                         "file's ladder predicts the larger sizes of the files after it)")
    found = [c for c in far_out_checks(runs) if workload in (None, c.line.workload)]
    if not found:
        raise ValueError(f"no size of {', '.join(run.run_id for run in runs[1:])} lies beyond a line of "
                         f"{runs[0].run_id}{f' for {workload}' if workload else ''} (accepted: ladders of the same "
                         "cases and parameters, listed from the smallest sizes to the largest)")
    if workload is None:
        body = [[t.rule, f"{fmt_factor(t.band[0])} to {fmt_factor(t.band[1])}" if t.band[1] != float("inf")
                 else f"over {fmt_factor(t.band[0])}", str(t.n), f"{t.median_error:.0%}", f"{t.within:.0%}",
                 f"{t.held:.0%}", f"{t.band_held:.0%}"] for t in summary(found)]
        return table(["what the rules said of the line", "how far beyond its ladder", "predictions",
                      "median error", "within 20%", "interval held", "with the far-out band"], body)
    sizes = sorted({c.size for c in found})
    rows: dict[tuple[str, str], dict[float, str]] = {}
    lines: dict[tuple[str, str], str] = {}
    for c in found:
        key = (c.line.case, c.line.engine + (" (baseline)" if c.line.baseline else ""))
        rows.setdefault(key, {})[c.size] = (f"{c.error:+.0%}" + ("" if c.held else " (out)")
                                            + ("" if c.allowed else " *"))
        f = c.line
        lines[key] = (f"{size_text(f.sizes[0])} to {size_text(f.largest)}: "
                      + ("may extrapolate" if f.extrapolates else f.short_why()))
    param = found[0].line.param
    head = ["case", "engine", "its line (near ladder)",
            *[f"{fmt_size(param, x)} ({fmt_factor(x / min(c.line.largest for c in found if c.size == x))})"
              for x in sizes]]
    body = [[case, engine, lines[(case, engine)], *[cells.get(x, "") for x in sizes]]
            for (case, engine), cells in rows.items()]
    return table(head, body) + ("\n\nEach cell: the line's prediction against the measured median, "
                                "predicted / measured - 1; (out): the measured median lies outside the "
                                "prediction's 95% interval; *: the rules refused the line this far out.")
