"""The report's numbers in words: every sentence that words a verdict, a ladder, a crossover or a gap.

`report.model` computes the numbers (`report.content`: rows and cells, ties and contrasts, fits,
crossovers, CPU lines) and decides every order, tie and fit; this module only reads what it decided and
says it, for the HTML report, the Markdown document and the docs alike (`report.sections` puts the
sentences in their places; `build_model` hands each category's over as `ReportModel.verdicts`).
A change of wording is made here and nowhere else; a change of a rule is made in the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from enginebench.core.fmt import fmt_seconds, fmt_size, size_label
from enginebench.core.stats import THRESHOLD
from enginebench.report.content import (
    CONFIRM_MIN,
    UNSTABLE_SPREAD,
    Cell,
    Crossover,
    Regime,
    ReportModel,
    Row,
    Unfitted,
)
from enginebench.report.noise import NOISY_SHARE
from enginebench.results.fit import DOMINANT_SHARE, MIN_RUNGS, Crossing, Fit, Scaling
from enginebench.results.records import FAILED


def fmt_ratio(r: float) -> str:
    """2.3x, 17x, 1,306x: precision where it means something."""
    if r < 10:
        return f"{r:.2g}x" if r < 1 else f"{r:.1f}x"
    return f"{r:,.0f}x"


def _names(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _of(n: int, total: int, what: str) -> str:
    """'the only contested case', '1 of 3 contested cases', 'all 4 ...': counts that read as English."""
    if total == 1:
        return f"the only {what}"
    return f"{'all ' if n == total else f'{n} of '}{total} {what}s"


def category_verdicts(model: ReportModel) -> dict[str, str]:
    """Per category, in the order the matrix lists them, its sentences (`verdict`) from its rows, its
    measured crossovers, and the ladder lines, their crossings and the CPU lines of its cases."""
    categories = {(r.workload, r.case): r.category or r.workload for r in model.records}
    return {cat: verdict(cat, [r for r in model.rows if r.category == cat],
                         [x for x in model.crossovers if x.category == cat],
                         [f for f in model.fits if categories.get((f.workload, f.case)) == cat],
                         [x for x in model.crossings if categories.get((x.workload, x.case)) == cat],
                         [a for a in model.amdahl if categories.get((a.line.workload, a.line.case)) == cat],
                         [g for g in model.regimes if g.category == cat])
            for cat in model.categories}


def verdict(category: str, rows: Sequence[Row], flips: Sequence[Crossover] = (), lines: Sequence[Fit] = (),
            crosses: Sequence[Crossing] = (), amdahl: Sequence[Scaling] = (), regimes: Sequence[Regime] = ()) -> str:
    """A few sentences from the numbers: who leads the contested cases (shared leads named as such),
    by how much, what is too close to call, what only one engine ran, what failed or was left out as
    noisy, where the local baseline stands, and across input sizes which engine leads at which size
    and where two engines swap order."""
    wins: dict[str, int] = {}
    margins: list[str] = []
    ties: list[str] = []
    alone: list[str] = []
    leads: list[str] = []  # resolved orders on fewer than CONFIRM_MIN repetitions a side: not wins
    undecided: list[str] = []  # a noisy engine behind the leader whose best case is not beyond the threshold
    unequal: list[str] = []  # rows whose engines did different work: compared per unit of work, not as wins
    scales, budgets = len({r.scale for r in rows}) > 1, len({r.cpus for r in rows}) > 1
    sized = len({(r.workload, r.case, r.scale, r.cpus, r.size) for r in rows}) > \
        len({(r.workload, r.case, r.scale, r.cpus) for r in rows})

    def label(row: Row) -> str:
        extra = [row.scale] * scales + [f"{row.cpus} CPUs"] * budgets
        if sized and row.size is not None:
            extra.append(fmt_size(row.size_param, row.size))
        return f"{row.case} ({', '.join(extra)})" if extra else row.case

    contested = [row for row in rows if row.contested]
    for row in rows:
        figures = sorted((c for c in row.cells if c.ranked), key=lambda c: c.ratio or math.inf)
        if len(figures) == 1:
            name = f"{row.case} (every size)" if sized else label(row)  # a ladder: once per case
            if f"{name} ({figures[0].engine})" not in alone:
                alone.append(f"{name} ({figures[0].engine})")
            continue
        if not figures:
            continue
        if row.unequal_work:
            unequal.append(_unequal_work(row, label(row), figures))
            continue
        top = figures[0]
        tied = [c.engine for c in figures[1:] if c.tied_with_best]
        if tied:
            ties.append(f"{label(row)}: {_names([top.engine, *tied])} tied")
            continue
        open_ = [c.engine for c in figures[1:] if c.undecided]
        if open_:
            undecided.append(f"{label(row)} ({top.engine} by the figures; {_names(open_)} ran noisy and could have "
                             "led)")
            continue
        second, last = figures[1], figures[-1]
        if not second.confirmed:
            leads.append(f"{top.engine} on {label(row)} ({fmt_ratio(second.ratio or 0)} ahead of {second.engine})")
            continue
        wins[top.engine] = wins.get(top.engine, 0) + 1
        text = f"on {label(row)} {top.engine} is {fmt_ratio(second.ratio or 0)} faster than {second.engine}"
        if last is not second:
            text += f" and {fmt_ratio(last.ratio or 0)} faster than {last.engine}"
        margins.append(text)
    title = category[:1].upper() + category[1:]
    sentences: list[str] = []
    lead = ""
    top_wins = max(wins.values(), default=0)
    if top_wins:
        leaders = sorted(e for e, n in wins.items() if n == top_wins)
        if len(leaders) == 1:
            lead = f"{leaders[0]} is fastest on {_of(top_wins, len(contested), 'contested case')}"
        else:
            lead = (f"{_names(leaders)} share the lead, fastest on {top_wins} of {len(contested)} contested "
                    "cases each")
    first = "; ".join(x for x in [lead, *margins[:3]] if x)
    if leads:
        more = f" and {len(leads) - 4} more" if len(leads) > 4 else ""
        first += (("; " if first else "") + f"leads to confirm (fewer than {CONFIRM_MIN} repetitions per engine, "
                  "not counted as wins): " + ", ".join(leads[:4]) + more)
    if ties:
        first += ("; " if first else "") + f"too close to call (tied, or within {THRESHOLD:.0%}): " + ", ".join(ties)
    if undecided:
        first += (("; " if first else "") + "undecided (a noisy figure is an upper bound on its engine's time): "
                  + ", ".join(undecided))
    if unequal:
        first += (("; " if first else "") + "not compared as they stand, the engines did different work (not "
                  "counted as wins): " + "; ".join(unequal))
    if first:
        sentences.append(first)
    elif not alone:
        sentences.append("no two engines produced checked results to compare")
    if alone:
        sentences.append("only one engine has a checked result on " + ", ".join(alone) + " (not counted as a win)")
    failed = [f"{c.engine} on {label(row)} ({c.status})" for row in rows for c in row.cells if c.status in FAILED]
    if failed:
        more = f" and {len(failed) - 4} more" if len(failed) > 4 else ""
        sentences.append("failed: " + ", ".join(failed[:4]) + more)
    unstable = [f"{c.engine} on {label(row)} ({fmt_ratio(c.spread)} over {c.runs} runs)" for row in rows
                for c in row.cells if c.unstable and not c.baseline]
    if unstable:
        more = f" and {len(unstable) - 6} more" if len(unstable) > 6 else ""
        sentences.append(f"unstable across runs (medians spread over {UNSTABLE_SPREAD:g}x; the figure shown is the "
                         "latest run's): " + ", ".join(unstable[:6]) + more)
    noisy = [f"{c.engine} on {label(row)}" + (f" ({c.foreign})" if c.foreign else "") for row in rows
             for c in row.cells if c.noisy and c.value is not None]
    if noisy:
        more = f" and {len(noisy) - 4} more" if len(noisy) > 4 else ""
        sentences.append(f"noisy (other processes took over {NOISY_SHARE:.0%} of the CPU budget; ranked as "
                         "conservative figures): " + ", ".join(noisy[:4]) + more)
    baseline = _baseline_sentence(rows)
    if baseline:
        sentences.append(baseline)
    by_size = size_leaders(rows)
    if by_size:
        sentences.append(by_size)
    if flips:
        more = f" and {len(flips) - 6} more (see Data size)" if len(flips) > 6 else ""
        sentences.append("crossovers: " + "; ".join(crossover_text(x) for x in flips[:6]) + more)
    if lines:
        sentences.append(regime_sentence(lines, crosses))
    if amdahl:
        sentences.append(amdahl_sentence(amdahl))
    if regimes and not lines:
        sentences.append(reference_regime_sentence(regimes))
    return f"{title}: " + ". ".join(s[:1].upper() + s[1:] if i else s for i, s in enumerate(sentences)) + "."


def _unequal_work(row: Row, label: str, figures: Sequence[Cell]) -> str:
    """A row whose engines did different work: the work each did, and the headline per unit of work,
    best first (e.g. tune's search time per epoch trained)."""
    done = ", ".join(f"{c.engine} {c.work:,.0f}" for c in figures if c.work)
    per = sorted((c for c in figures if row.per_work(c) is not None), key=lambda c: row.per_work(c) or 0.0,
                 reverse=row.higher_is_better)
    unit = row.work.removesuffix("s")
    text = f"{label} ({row.work}: {done}"
    if per:
        text += f"; {row.unit or row.metric.replace('_', ' ')} per {unit}: " + ", ".join(
            f"{c.engine} {fmt_seconds(row.per_work(c) or 0.0) if row.unit == 's' else f'{row.per_work(c):.3g}'}"
            for c in per)
    return text + ")"


def _baseline_sentence(rows: Sequence[Row]) -> str:
    """Where the local baseline (no engine) stands against the best engine of each case."""
    against: list[float] = []  # baseline ratio to the best engine: below 1, the baseline is faster
    name = ""
    for row in rows:
        has_best = any(c.best for c in row.cells)
        for c in row.cells:
            if c.baseline and c.value is not None and c.ratio is not None and has_best:
                against.append(c.ratio)
                name = c.engine
    if not against:
        return ""
    faster = [1 / r for r in against if r < 1]
    slower = [r for r in against if r >= 1]
    who = f"the {name} baseline (one process, no engine)"
    cases = "its only case" if len(against) == 1 else f"all {len(against)} cases"
    if faster and not slower:
        return f"{who} is faster than every engine on {cases} ({_span(faster)})"
    if slower and not faster:
        return f"{who} is slower than the best engine on {cases} ({_span(slower)})"
    return (f"{who} is faster than every engine on {len(faster)} of {len(against)} cases ({_span(faster)}) "
            f"and slower than the best engine on {len(slower)} ({_span(slower)})")


def _span(ratios: Sequence[float]) -> str:
    lo, hi = min(ratios), max(ratios)
    return fmt_ratio(lo) if fmt_ratio(lo) == fmt_ratio(hi) else f"{fmt_ratio(lo)} to {fmt_ratio(hi)}"


def size_leaders(rows: Sequence[Row]) -> str:
    """Which engine fits at which size: per scale (when the rows span several), the engine fastest on
    the most contested cases, ties on a case counted for nobody."""
    scales = list(dict.fromkeys(r.scale for r in rows))
    if len(scales) < 2 or not any(r.contested for r in rows):
        return ""
    parts = []
    for scale in scales:
        contested = [r for r in rows if r.scale == scale and r.contested]
        wins: dict[str, int] = {}
        for row in contested:
            best = [c for c in row.cells if c.best]
            if best and not any(c.tied_with_best for c in row.cells):
                wins[best[0].engine] = wins.get(best[0].engine, 0) + 1
        top = max(wins.values(), default=0)
        if not top:
            parts.append(f"at {scale} no engine leads a contested case")
            continue
        leaders = sorted(e for e, n in wins.items() if n == top)
        parts.append(f"at {scale} {_names(leaders)} {'is' if len(leaders) == 1 else 'each are'} fastest on "
                     f"{top} of {len(contested)} contested cases")
    return "by input size: " + ", ".join(parts)


def crossover_text(x: Crossover) -> str:
    """A measured order flip in a phrase: who overtakes whom on which case, between which sizes."""
    scales = f" ({x.scales[0]} and {x.scales[1]})" if x.scales[0] != x.scales[1] else ""
    return (f"{x.leader} overtakes {x.other} on {x.case} between {_size(x.param, x.before)} and "
            f"{_size(x.param, x.after)}{scales}")


def _size(param: str, value: float) -> str:
    return f"{size_label(param)} {value:g}"


def regime_sentence(lines: Sequence[Fit], crosses: Sequence[Crossing]) -> str:
    """What a ladder says about the category's figures: at the largest size measured, on how many
    engine lines the fixed cost (start-up inside the call) is most of the time, the largest such
    share, and the crossovers named from the lines."""
    fixed = sorted((f for f in lines if f.regime(f.largest) == "fixed cost"),
                   key=lambda f: -f.fixed_share(f.largest))
    text = (f"by size (a ladder, {len(lines)} engine line{'s' if len(lines) != 1 else ''}): at the largest size "
            f"measured fixed cost is most of the time on {len(fixed)} of {len(lines)}")
    if fixed:
        top = fixed[0]
        text += (f", so those figures describe start-up, not throughput (e.g. {top.engine} on {top.case}: "
                 f"{fmt_seconds(top.fixed.value)} fixed, {top.fixed_share(top.largest):.0%} of its time at "
                 f"{fmt_size(top.param, top.largest)})")
    named = [x for x in crosses if x.named]
    if named:
        more = f" and {len(named) - 4} more (see Size ladder)" if len(named) > 4 else ""
        text += "; from the lines: " + "; ".join(x.text() for x in named[:4]) + more
    else:
        text += "; no crossover named from the lines (see Size ladder)"
    return text


def reference_regime_sentence(regimes: Sequence[Regime]) -> str:
    """Which regime a one-size run's cases are in, by a reference ladder's lines at their sizes: the
    cases where fixed cost (start-up inside the call) is most of the call for most engines rank start-up,
    the others throughput."""
    startup = [g for g in regimes if g.startup]
    through = [g for g in regimes if not g.startup]
    sources = _names(list(dict.fromkeys(g.source for g in regimes)))
    parts = []
    if startup:
        top = max(((g, e, share) for g in startup for e, share in g.shares), key=lambda t: t[2])
        parts.append(f"fixed cost is most of the call for most engines on {_of(len(startup), len(regimes), 'case')} "
                     f"({_names([g.case for g in startup])}), so "
                     f"{'its verdict ranks' if len(startup) == 1 else 'their verdicts rank'} start-up, not "
                     f"throughput (e.g. {top[1]} on {top[0].case}: {top[2]:.0%} fixed at "
                     f"{fmt_size(top[0].param, top[0].size)})")
    if through:
        what = "a throughput figure" if len(through) == 1 else "throughput figures"
        parts.append(f"per-unit cost is most of the call on {len(through)} ({_names([g.case for g in through])}): "
                     f"{what}")
    return f"regime at these sizes, by the lines of {sources}: " + "; ".join(parts)


def ladder_sentence(lines: Sequence[Fit], crosses: Sequence[Crossing], row: Row | None) -> str:
    """One case's ladder in a sentence: who leads at the largest size and why (fixed or per-unit
    cost), each engine's per-unit cost, and the crossovers named from the lines (or why none)."""
    first = lines[0]
    largest = max(f.largest for f in lines)
    where = fmt_size(first.param, largest)
    parts = []
    if row is not None and row.contested:
        lead = [c.engine for c in row.cells if c.best or c.tied_with_best]
        if lead:
            parts.append(f"at {where} {_names(lead)} {'leads' if len(lead) == 1 else 'are tied in the lead'} "
                         f"on {row.metric.replace('_', ' ')}")
    fixed = [f for f in lines if f.regime(f.largest) == "fixed cost"]
    if fixed:
        parts.append("fixed cost is most of the time for " + ", ".join(
            f"{f.engine} ({fmt_seconds(f.fixed.value)} fixed, {f.fixed_share(f.largest):.0%})" for f in fixed))
    per_unit = [f for f in lines if f not in fixed]
    if per_unit:
        parts.append("per-unit cost is most of the time for " + ", ".join(f.engine for f in per_unit))
    parts.append(f"per {first.unit} " + ", ".join(f"{f.engine} {fmt_seconds(f.per_unit.value)}" for f in lines))
    named = [x for x in crosses if x.named]
    if named:
        parts.append("; ".join(x.text() for x in named))
    elif crosses:
        parts.append("no crossover named from the lines (" + "; ".join(dict.fromkeys(x.why for x in crosses[:3]))
                     + ")")
    else:
        parts.append("no two lines cross: one engine has both the lower fixed and the lower per-unit cost")
    bad = [f for f in lines if not f.extrapolates]
    if bad:
        parts.append("not carried beyond the ladder: " + ", ".join(f"{f.engine} ({f.short_why()})" for f in bad))
    text = "; ".join(parts)
    return f"{first.case} ({fmt_size(first.param, min(f.sizes[0] for f in lines))} to {where}): {text}."


def case_ladder_sentence(model: ReportModel, key: tuple[str, str, Any]) -> str:
    """One laddered (workload, case, cpus)'s sentence (`ladder_sentence`), with its crossings and the
    matrix row of its largest size (who leads there)."""
    crosses = [x for x in model.crossings if (x.workload, x.case, x.cpus) == key]
    return ladder_sentence(model.ladders[key], crosses, model.ladder_row(key))


def no_line(model: ReportModel, key: tuple[str, str, Any]) -> str:
    """The engines of a laddered case that have no line, and why, as a sentence after the case's own
    (with its leading space), or "" when every engine that ran it has one."""
    missing = model.unfitted.get(key, [])
    return f" No line for {'; '.join(_unfitted_text(u) for u in missing)}." if missing else ""


def _unfitted_text(u: Unfitted) -> str:
    return (f"{u.engine} ({u.sizes} checked sizes of the {MIN_RUNGS} a line needs"
            + (f"; {u.failed} failed" if u.failed else "") + (f"; {u.noisy} left out as noisy" if u.noisy else "")
            + (f"; {u.skipped} not run, the run stopped before them" if u.skipped else "") + ")")


def amdahl_sentence(lines: Sequence[Scaling]) -> str:
    """What a CPU sweep's lines say: on how many the serial part is most of the time at the largest
    budget measured, and the engine whose extra CPUs could help least."""
    serial = [s for s in lines if s.serial_share(s.cpus[-1]) >= DOMINANT_SHARE]
    text = (f"by CPUs (serial + work / CPUs, {len(lines)} engine line{'s' if len(lines) != 1 else ''}): at the "
            f"largest budget the serial part is most of the time on {len(serial)} of {len(lines)}")
    worst = min(lines, key=lambda s: s.speedup_limit())
    if math.isfinite(worst.speedup_limit()):
        text += (f"; {worst.line.engine} on {worst.line.case} has {fmt_seconds(worst.serial.value)} serial, so no "
                 f"number of CPUs makes it more than {worst.speedup_limit():.1f}x faster than on one")
    return text
