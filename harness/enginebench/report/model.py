"""Records -> the content of a report, computed apart from any drawing (pure; no I/O).

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

import math
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enginebench.core.fmt import fmt_seconds, fmt_size, size_label
from enginebench.core.stats import THRESHOLD, Contrast, contrast, worse_ratio
from enginebench.report.noise import NOISY_SHARE, best_case, foreign_names, is_noisy
from enginebench.results.fit import (
    DOMINANT_SHARE,
    MIN_RUNGS,
    Crossing,
    Fit,
    Prediction,
    Scaling,
    asked_size,
    crossings,
    fits,
    order_at,
    scaling_fits,
)
from enginebench.results.records import PHASES, Header, Record, Run

FAILED = ("wrong", "error", "timeout")
#: Repetitions each side needs before a resolved lead is called a win; fewer make it a lead to confirm.
CONFIRM_MIN = 3
#: Across repeated runs of a case, medians spreading more than this (largest over smallest) mark it unstable.
UNSTABLE_SPREAD = 1.3


@dataclass(frozen=True)
class Cell:
    """One engine's result for one case: a figure only when the answer was checked right."""

    engine: str
    status: str
    value: float | None = None  # median of the headline samples
    ratio: float | None = None  # how many times worse than the row's best (1.0 = best)
    best: bool = False
    tied_with_best: bool = False
    reason: str = ""
    low: float | None = None  # the headline's range across repetitions (for whiskers)
    high: float | None = None
    baseline: bool = False  # shown for reference, never ranked
    noisy: bool = False  # foreign CPU above NOISY_SHARE of the budget during the case
    ranked: bool = False  # took part in the ranking (ok, not a baseline)
    versus_best: Contrast | None = None  # this cell against the row's best (ranked cells but the best)
    #: behind the best only by a noisy figure: its best case (contention taken out) is not beyond the threshold
    undecided: bool = False
    foreign: str = ""  # the foreign processes that took most CPU during a noisy case
    work: float | None = None  # the work its answer did, where the case counts it (`Case.work`)
    #: across the runs given that measured this case on this engine: how many, and their medians' spread
    #: (largest over smallest; 1.0 with one run)
    runs: int = 1
    run_range: tuple[float, float] | None = None  # the smallest and largest of those medians

    @property
    def spread(self) -> float:
        """Largest over smallest of the runs' medians (1.0 with one run; unbounded when one is zero)."""
        if self.run_range is None:
            return 1.0
        lo, hi = self.run_range
        return hi / lo if lo > 0 else math.inf

    @property
    def unstable(self) -> bool:
        """Whether this case's median moved more than UNSTABLE_SPREAD between runs of it."""
        return self.runs >= 2 and self.spread > UNSTABLE_SPREAD

    @property
    def confirmed(self) -> bool:
        """Whether this cell's standing against the best rests on CONFIRM_MIN repetitions a side."""
        return self.versus_best is not None and min(self.versus_best.n) >= CONFIRM_MIN


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
    size: float | None = None  # the input's size (several per case in a ladder)
    size_param: str = ""
    work: str = ""  # the metric that counts each answer's work, where engines may do different work

    @property
    def unequal_work(self) -> bool:
        """Whether the ranked engines did different work (beyond the threshold): then their headlines
        are not compared as they stand."""
        done = [c.work for c in self.cells if c.ranked and c.work]
        return len(done) >= 2 and max(done) > (1 + THRESHOLD) * min(done)

    def per_work(self, cell: Cell) -> float | None:
        """A cell's headline per unit of its work (seconds per epoch), where the case counts work."""
        return cell.value / cell.work if cell.value is not None and cell.work else None

    @property
    def winners(self) -> list[Cell]:
        return [c for c in self.cells if c.best or c.tied_with_best]

    @property
    def contested(self) -> bool:
        """Whether at least two ranked engines have checked figures (only then is there a win)."""
        return sum(c.ranked for c in self.cells) >= 2


@dataclass(frozen=True)
class Crossover:
    """Between two input sizes of a case, the order of two engines flips: `leader` was resolved
    slower than `other` at size `before` and is resolved faster at size `after` (sizes in between,
    if any, were ties)."""

    category: str
    workload: str
    case: str
    cpus: int | None
    leader: str
    other: str
    param: str
    before: float
    after: float
    scales: tuple[str, str]

    def text(self) -> str:
        scales = f" ({self.scales[0]} and {self.scales[1]})" if self.scales[0] != self.scales[1] else ""
        return (f"{self.leader} overtakes {self.other} on {self.case} between {_size(self.param, self.before)} and "
                f"{_size(self.param, self.after)}{scales}")


def _size(param: str, value: float) -> str:
    return f"{size_label(param)} {value:g}"


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
    #: (workload, case, cpus) -> engine -> [(input size, headline value)], for cases run at several sizes
    sizes: dict[tuple[str, str, Any], dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    #: (workload, case, cpus) -> the parameter the sizes are of (e.g. "sf")
    size_params: dict[tuple[str, str, Any], str] = field(default_factory=dict)
    crossovers: list[Crossover] = field(default_factory=list)
    allow_noisy: bool = False
    #: a ladder's lines (fixed and per-unit cost per engine and case) and where two of them cross
    fits: list[Fit] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)
    #: the sizes a user asked about (`report --at`): per laddered case, the size and each engine's prediction
    asked: list[Asked] = field(default_factory=list)
    #: per engine and case measured at MIN_RUNGS or more CPU budgets: serial + work / cpus
    amdahl: list[Scaling] = field(default_factory=list)
    #: per laddered (workload, case, cpus): the engines with no line, and why
    unfitted: dict[tuple[str, str, Any], list[str]] = field(default_factory=dict)

    @property
    def ladders(self) -> dict[tuple[str, str, Any], list[Fit]]:
        """The fits grouped per (workload, case, cpus), in the report's engine order."""
        out: dict[tuple[str, str, Any], list[Fit]] = {}
        for f in sorted(self.fits, key=lambda f: self.engines.index(f.engine) if f.engine in self.engines else 99):
            out.setdefault((f.workload, f.case, f.cpus), []).append(f)
        return out

    def ladder_sentence(self, key: tuple[str, str, Any]) -> str:
        """One laddered case's sentence (`ladder_sentence`), with its crossings and the matrix row of
        its largest size (who leads there)."""
        lines = self.ladders[key]
        largest = max(f.largest for f in lines)
        row = next((r for r in self.rows if (r.workload, r.case, r.cpus) == key and r.size == largest), None)
        return ladder_sentence(lines, [x for x in self.crossings if (x.workload, x.case, x.cpus) == key], row)

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(r.category for r in self.rows))

    @property
    def rules(self) -> dict[str, int]:
        """How many tie decisions each rule made (for the methodology section)."""
        out: dict[str, int] = {}
        for row in self.rows:
            for cell in row.cells:
                if cell.versus_best is not None:
                    out[cell.versus_best.rule] = out.get(cell.versus_best.rule, 0) + 1
        return out

    def cell_of(self, rec: Record) -> Cell | None:
        for row in self.rows:
            if (row.workload, row.case, row.scale, row.cpus, row.size) == (rec.workload, rec.case, rec.scale,
                                                                           rec.budget.get("cpus"), rec.size):
                return next((c for c in row.cells if c.engine == rec.engine), None)
        return None


def latest_records(runs: Sequence[Run]) -> list[Record]:
    """All records, later runs replacing earlier ones for the same (workload, case, engine, scale, cpus)."""
    chosen: dict[tuple[Any, ...], Record] = {}
    for run in runs:
        for rec in run.records:
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


def verdict(category: str, rows: Sequence[Row], flips: Sequence[Crossover] = (), lines: Sequence[Fit] = (),
            crosses: Sequence[Crossing] = (), amdahl: Sequence[Scaling] = ()) -> str:
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
        sentences.append("crossovers: " + "; ".join(x.text() for x in flips[:6]) + more)
    if lines:
        sentences.append(regime_sentence(lines, crosses))
    if amdahl:
        sentences.append(amdahl_sentence(amdahl))
    return f"{title}: " + ". ".join(s[:1].upper() + s[1:] if i else s for i, s in enumerate(sentences)) + "."


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


@dataclass(frozen=True)
class Asked:
    """A size a user asked about for one laddered case: each engine's predicted seconds, fastest first."""

    workload: str
    case: str
    cpus: int | None
    param: str
    size: float
    order: list[tuple[Fit, Prediction]]

    def separated(self, i: int) -> bool:
        """Whether the i-th prediction's interval lies wholly below the next one's."""
        a, b = self.order[i][1].seconds, self.order[i + 1][1].seconds if i + 1 < len(self.order) else None
        return a is not None and b is not None and a.high < b.low


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


def build_model(runs: Sequence[Run], allow_noisy: bool = False, at: Mapping[str, float] | None = None) -> ReportModel:
    """The whole report's content, from the records alone (each record names its category); `at`:
    the sizes a user asks predictions for (`ladder.parse_sizes`)."""
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
    unfitted: dict[tuple[str, str, Any], list[str]] = {}
    for key in laddered:
        have = {f.engine for f in lines if (f.workload, f.case, f.cpus) == key}
        for engine in engines:
            recs = [r for r in records if (r.workload, r.case, r.budget.get("cpus"), r.engine) == (*key, engine)]
            if engine in have or not recs or all(r.status == "unsupported" for r in recs):
                continue
            usable = {r.size for r in recs if r.status == "ok" and (allow_noisy or not is_noisy(r))}
            noisy = sum(1 for r in recs if r.status == "ok" and is_noisy(r) and not allow_noisy)
            failed = sum(1 for r in recs if r.status in FAILED)
            unfitted.setdefault(key, []).append(
                f"{engine} ({len(usable)} checked sizes of the {MIN_RUNGS} a line needs"
                + (f"; {failed} failed" if failed else "") + (f"; {noisy} left out as noisy" if noisy else "") + ")")
    crosses = crossings(lines)
    flips = crossovers(records, allow_noisy)  # measured order flips, beside the lines' crossovers
    amdahl = scaling_fits([r for r in records if allow_noisy or not is_noisy(r)], baselines)
    categories = {(r.workload, r.case): r.category or r.workload for r in records}
    verdicts = {cat: verdict(cat, [r for r in rows if r.category == cat], [x for x in flips if x.category == cat],
                             [f for f in lines if categories.get((f.workload, f.case)) == cat],
                             [x for x in crosses if categories.get((x.workload, x.case)) == cat],
                             [a for a in amdahl if categories.get((a.line.workload, a.line.case)) == cat])
                for cat in dict.fromkeys(r.category for r in rows)}
    size_keys = {(r.workload, r.case, r.budget.get("cpus")): r.size_param for r in records if r.size_param}
    failures = [r for r in records if r.status not in ("ok",)]
    model = ReportModel(engines=engines, rows=rows, verdicts=verdicts, failures=failures, records=records,
                       runs=[run.header for run in runs], phases=phase_totals(records, runs), baselines=baselines,
                       scaling=scaling_series(rows), sizes=(sizes := size_series(records, allow_noisy)),
                       size_params={k: v for k, v in size_keys.items() if k in sizes}, crossovers=flips,
                       allow_noisy=allow_noisy, fits=lines, crossings=crosses, unfitted=unfitted, amdahl=amdahl)
    for (workload, case, cpus), group in model.ladders.items():
        size = asked_size(group, at) if at else None
        if size is not None:
            model.asked.append(Asked(workload, case, cpus, group[0].param, size, order_at(group, size)))
    return model
