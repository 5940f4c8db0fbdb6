"""Which engine when: the docs' guide, made from ladder results files (pure; a docs kind, `guide`).

Per workload category, from the report model of its ladder runs (`report.model`: rows, lines, crossings):
who leads at the smallest size measured (the start-up regime: fixed cost is most of a call there) and
at the largest (the throughput regime), the lowest fixed and per-unit cost with their intervals, the
crossovers the lines name, the fastest engine the lines allow at a size the page asks about (`at=`)
with its core-seconds and money per job at the page's price (`price=`), and per engine its medians over
the category's cases (fixed, per-unit, core-seconds and peak memory per unit, start). Then what the
evidence does not cover: the machine, the releases, the sizes. `form=summary` gives one bullet per
category, for the README.

Every figure is one the report computes for the same files: nothing is measured or fitted here that the
ladder tables do not show, only chosen and put side by side.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from enginebench.core.budget import format_bytes
from enginebench.core.fmt import fmt_seconds, fmt_size, format_seconds, size_label, size_text
from enginebench.report.content import ReportModel, Row
from enginebench.report.verdicts import fmt_ratio
from enginebench.results.cost import Price, call_cost, core_seconds, fmt_core_seconds, fmt_money
from enginebench.results.fit import Fit, Prediction, fit_points, order_at
from enginebench.results.records import Record, Run


@dataclass(frozen=True)
class Lead:
    """Who leads a case at one size: the ranked engines best or tied with the best, whether the lead
    rests on CONFIRM_MIN repetitions a side, and the baseline's ratio to the best (below 1: faster)."""

    size: float
    leaders: tuple[str, ...]
    margin: float | None  # how many times behind the next engine is (None: tied or alone)
    confirmed: bool
    baseline: tuple[str, float] | None
    fixed_share: float | None = None  # the leader's line: the fixed cost's share of its call at this size

    def who(self) -> str:
        """The leader, or the engines tied in the lead."""
        return self.leaders[0] if len(self.leaders) == 1 else " and ".join(self.leaders) + " tied"

    def text(self) -> str:
        if not self.leaders:
            return "no two engines with checked figures"
        who = self.who()
        if self.margin is not None and len(self.leaders) == 1:
            who += f" ({fmt_ratio(self.margin)} ahead" + ("" if self.confirmed else ", to confirm") + ")"
        if self.fixed_share is not None:
            who += f", {self.fixed_share:.0%} of its call fixed cost"
        if self.baseline is not None:
            name, ratio = self.baseline
            who += (f"; the {name} baseline {fmt_ratio(1 / ratio)} faster" if ratio < 1
                    else f"; the {name} baseline {fmt_ratio(ratio)} slower")
        return who


def lead(row: Row | None, lines: Sequence[Fit] = ()) -> Lead | None:
    """Who leads a matrix row, and (from the leader's line, where it has one) why: how much of its call
    is fixed cost at that size."""
    if row is None:
        return None
    ranked = sorted((c for c in row.cells if c.ranked), key=lambda c: c.ratio or 0.0)
    leaders = tuple(c.engine for c in ranked if c.best or c.tied_with_best) if len(ranked) > 1 else ()
    nxt = next((c for c in ranked if not (c.best or c.tied_with_best)), None)
    margin = nxt.ratio if nxt is not None and len(leaders) == 1 else None
    base = next(((c.engine, c.ratio) for c in row.cells if c.baseline and c.ratio is not None), None)
    line = next((f for f in lines if leaders and f.engine == leaders[0] and f.linear), None)
    share = line.fixed_share(row.size) if line is not None and row.size else None
    return Lead(row.size or 0.0, leaders, margin, nxt is not None and nxt.confirmed, base, share)


@dataclass(frozen=True)
class CaseAnswer:
    """One laddered case of a category, its answer in figures."""

    workload: str
    case: str
    lines: tuple[Fit, ...]
    first: Lead | None  # at the smallest size measured
    last: Lead | None  # at the largest
    crossings: tuple[str, ...]  # the crossovers the lines name, as sentences
    asked: tuple[float, Fit, Prediction] | None  # the fastest engine the lines allow at the page's size
    baseline_at: tuple[Fit, Prediction] | None = None  # the baseline's line there, when it may say and is faster

    @property
    def param(self) -> str:
        return self.lines[0].param

    @property
    def unit(self) -> str:
        return self.lines[0].unit


def answers(model: ReportModel, category: str, at: Mapping[str, float] | None = None) -> list[CaseAnswer]:
    """Every laddered case of `category` (the model's order), with its leads, crossings and the fastest
    engine the lines allow at `at`."""
    from enginebench.results.fit import asked_size

    out = []
    for (workload, case, cpus), lines in model.ladders.items():
        rows = [r for r in model.rows if (r.workload, r.case, r.cpus) == (workload, case, cpus) and r.size]
        if not rows or rows[0].category != category:
            continue
        smallest, largest = min(rows, key=lambda r: r.size or 0.0), max(rows, key=lambda r: r.size or 0.0)
        crosses = tuple(x.text() for x in model.crossings if (x.workload, x.case, x.cpus) == (workload, case, cpus)
                        and x.named)
        asked, base = None, None
        size = asked_size(lines, at) if at else None
        if size is not None:
            said = [(f, p) for f, p in order_at(lines, size) if p.seconds]
            ranked = [(f, p) for f, p in said if not f.baseline]
            if ranked:
                asked = (size, *ranked[0])
                base = next(((f, p) for f, p in said[:said.index(ranked[0])] if f.baseline), None)
        out.append(CaseAnswer(workload, case, tuple(lines), lead(smallest, lines), lead(largest, lines), crosses,
                              asked, base))
    return out


def memory_per_unit(records: Sequence[Record], workload: str, case: str, engine: str) -> float | None:
    """The slope of the engine's peak memory (its process tree) over the case's sizes: bytes per unit
    (None with fewer than two sizes or no memory figures)."""
    points = [(float(r.size), float(r.resources["peak_rss_bytes"])) for r in records
              if (r.workload, r.case, r.engine) == (workload, case, engine) and r.status == "ok"
              and r.size is not None and r.resources.get("peak_rss_bytes")]
    if len({x for x, _ in points}) < 2:
        return None
    return float(fit_points(points, holdout=None)["per_unit"].value)


def _cost(fit: Fit, p: Prediction, price: Price | None, start: float | None) -> str:
    assert p.seconds is not None
    cost = call_cost(p.seconds, fit.cpus or 1, price, start)
    text = f"{fit.engine}: {p.seconds.text()}, {fmt_core_seconds(cost.core_seconds.value)}"
    if cost.job is not None:
        text += f", {fmt_money(cost.job)} per job"
    return text


def _asked_text(a: CaseAnswer, price: Price | None, starts: Mapping[str, float]) -> str:
    """The fastest engine the lines allow at the page's size, with its cost; or that none may say."""
    if a.asked is None:
        return "no line may say"
    size, fit, p = a.asked
    text = f"at {fmt_size(a.param, size)}, {_cost(fit, p, price, starts.get(fit.engine))}"
    base, said = a.baseline_at or (None, None)
    if base is not None and said is not None and said.seconds is not None:
        text += f" (the {base.engine} baseline, one process: {said.seconds.text()})"
    return text


def _memory(slopes: Sequence[float]) -> str:
    """The median of the cases' memory slopes; none measurable when it is not above zero (the peak did not
    grow with the size beyond its noise)."""
    if not slopes:
        return "-"
    m = statistics.median(slopes)
    return format_bytes(int(m)) if m > 0 else "none measured (the peak did not grow with the size)"


def _usable(f: Fit, term: str) -> bool:
    return f.linear and (term == "fixed" or f.resolved)


def _left_out(lines: Sequence[Fit], term: str) -> list[Fit]:
    """The ranked engines' lines that cannot say their fixed or per-unit cost (`_usable`)."""
    return [f for f in lines if not f.baseline and not _usable(f, term)]


def _faster_at_top(other: Fit, best: Fit) -> bool:
    """Whether `other` measured less time than `best` at `best`'s largest size (True where it has no figure
    there: nothing says it is not)."""
    if best.largest not in other.sizes:
        return True
    return other.medians[other.sizes.index(best.largest)] < best.medians[-1]


def _cheapest(lines: Sequence[Fit], term: str, sure: bool = False) -> Fit | None:
    """The ranked engine's line with the lowest fixed or per-unit cost (lines that fit; per-unit only where
    resolved), or None; `sure`: None as well when an engine whose line is not usable took less time at the
    largest size (its per-unit cost may be the lowest: the lowest of the others answers nothing)."""
    usable = [f for f in lines if not f.baseline and _usable(f, term)]
    if not usable:
        return None
    best = min(usable, key=lambda f: getattr(f, term).value)
    if sure and any(_faster_at_top(f, best) for f in _left_out(lines, term)):
        return None
    return best


def _lowest(lines: Sequence[Fit], term: str) -> str:
    """`_cheapest` in words, with its interval and, for per-unit, its core-seconds; and the ranked engines
    left out, with why (a line that does not fit may well be cheaper)."""
    best = _cheapest(lines, term)
    if best is None:
        return "no line resolves it"
    est = getattr(best, term)
    text = f"{best.engine} {est.text()}"
    if term == "per_unit":
        text += f" ({fmt_core_seconds(core_seconds(est, best.cpus or 1).value)})"
    left = _left_out(lines, term)
    if left:
        text += "; not compared: " + ", ".join(f"{f.engine} ({f.short_why()})" for f in left)
    return text


def _groups(found: Sequence[CaseAnswer]) -> dict[tuple[str, str, str], list[CaseAnswer]]:
    """A category's cases per workload and size unit (tasks: per task, per call, per round trip, per MB):
    figures per unit are only set side by side within one."""
    out: dict[tuple[str, str, str], list[CaseAnswer]] = {}
    for a in found:
        out.setdefault((a.workload, a.param, a.unit), []).append(a)
    return out


def _span(found: Sequence[CaseAnswer]) -> str:
    """Per workload of a category: its cases and the sizes measured, per size parameter."""
    parts: dict[str, list[str]] = {}
    for (w, param, _), mine in _groups(found).items():
        lines = [f for a in mine for f in a.lines]
        smallest, largest = fmt_size(param, min(f.sizes[0] for f in lines)), max(f.largest for f in lines)
        parts.setdefault(w, []).append(f"{', '.join(a.case for a in mine)} at {smallest} to {size_text(largest)}")
    return "; ".join(f"{w}: {', '.join(p)}" for w, p in parts.items())


def anchor(category: str) -> str:
    """The docs site's anchor of a category's heading (MkDocs' slug: lower case, spaces to hyphens)."""
    return "-".join("".join(ch for ch in category.lower() if ch.isalnum() or ch == " ").split())


def category_block(model: ReportModel, runs: Sequence[Run], links: Sequence[str], category: str,
                   found: Sequence[CaseAnswer], price: Price | None) -> str:
    """One category's answer (`found`: its `answers`): its heading and where it comes from, a row per case,
    per workload a row per engine, and what it does not cover."""
    from enginebench.report.tables import table

    sources = [link for run, link in zip(runs, links, strict=True)
               if any((r.category or r.workload) == category for r in run.records)]
    head = (f"### {category[:1].upper() + category[1:]}\n\n{_span(found)}; from "
            + ", ".join(f"[`{link.rsplit('/', 1)[-1]}`]({link})" for link in sources) + ".")
    asked = any(a.asked for a in found)
    at_head = [("fastest by the lines at your size: seconds, core-seconds"
                + (f", money per job at {price.text()}" if price else ""))] if asked else []
    rows = []
    for a in found:
        sizes = (size_text(min(f.sizes[0] for f in a.lines)), size_text(max(f.largest for f in a.lines)))
        cells = [f"{a.case} ({size_label(a.param)} {sizes[0]} to {sizes[1]})",
                 a.first.text() if a.first else "-", a.last.text() if a.last else "-",
                 _lowest(a.lines, "fixed"), _lowest(a.lines, "per_unit"), "; ".join(a.crossings) or "none named"]
        if asked:
            cells.append(_asked_text(a, price, model.starts))
        rows.append(cells)
    cases = table(["case (sizes measured)", "start-up regime: leads at the smallest size",
                   "throughput regime: leads at the largest", "lowest fixed cost per call",
                   "lowest cost per unit (core-seconds)", "crossovers (from the lines)", *at_head],
                  rows, numbers=False)
    engines = [_engine_table(model, mine) for mine in _groups(found).values()]
    return "\n\n".join([head, cases, *engines, _limits(runs)])


def _engine_table(model: ReportModel, found: Sequence[CaseAnswer]) -> str:
    """One workload's engines: medians over its laddered cases of the fixed and per-unit cost, core-seconds
    and peak memory per unit, its start, and how many of its lines the rules carry beyond the ladder."""
    from enginebench.report.tables import table

    unit = found[0].unit
    rows = []
    for engine in model.engines:
        lines = [f for a in found for f in a.lines if f.engine == engine]
        if not lines:
            continue
        mem = [m for a in found for m in [memory_per_unit(model.records, a.workload, a.case, engine)] if m is not None]
        per = statistics.median(f.per_unit.value for f in lines)
        cpus = lines[0].cpus or 1
        start = model.starts.get(engine)
        rows.append([engine + (" (baseline)" if lines[0].baseline else ""),
                     fmt_seconds(statistics.median(f.fixed.value for f in lines)), fmt_seconds(per),
                     fmt_core_seconds(per * cpus), _memory(mem),
                     format_seconds(start) if start is not None else "-",
                     f"{sum(f.extrapolates for f in lines)} of {len(lines)}"])
    what = (f"{found[0].workload}, medians over its {len(found)} case{'s' if len(found) != 1 else ''}"
            if len(found) > 1 else f"{found[0].workload} {found[0].case}")
    return table([f"engine ({what})", "fixed per call", f"per {unit}", f"core-seconds per {unit}",
                  f"peak memory per {unit} (its processes)", "engine start",
                  "lines the rules carry beyond the ladder"], rows)


def _limits(runs: Sequence[Run]) -> str:
    """What the figures do not cover, from the runs' headers: the machine, the budget, the releases."""
    h = runs[-1].header
    m = h.machine
    gpus = m.get("gpus") or []
    machine = ", ".join(x for x in (f"{m['logical_cpus']} CPUs" if m.get("logical_cpus") else "",
                                    format_bytes(int(m["memory_bytes"])) if m.get("memory_bytes") else "",
                                    f"GPU: {', '.join(map(str, gpus))}" if gpus else "no GPU") if x)
    versions: dict[str, str] = {}
    for run in runs:
        for name, s in run.header.engines.items():
            shown = ", ".join(f"{k} {v}" for k, v in s.versions.items() if k != "java")
            if shown and name not in versions:
                versions[name] = shown
    releases = f" ({'; '.join(f'{k}: {v}' for k, v in versions.items())})" if versions else ""
    return (f"Not covered: one machine ({machine}) with {h.plan.budget.cpus} CPUs per engine, no cluster; one "
            f"release of each engine{releases}; beyond the sizes measured only the lines speak, and only where the "
            "rules let them; nothing here says where an engine spills or fails for memory.")


def guide(model: ReportModel, runs: Sequence[Run], options: Mapping[str, str]) -> str:
    """The `guide` docs kind: every category of the results, in the model's order (or `workloads=`'s
    categories), full or `form=summary`."""
    from enginebench.results.cost import parse_price
    from enginebench.results.fit import parse_sizes

    at = parse_sizes(options["at"]) if options.get("at") else None
    price = parse_price(options["price"]) if options.get("price") else None
    links = [v for v in options["from"].split(",") if v]
    planned: dict[tuple[str, str], int] = {}  # the plans' case order (q1, q3, q5, ...), not the lines' order
    for run in runs:
        for workload, cases in run.header.plan.cases.items():
            for case in cases:
                planned.setdefault((workload, case), len(planned))
    found = {c: sorted(a, key=lambda x: planned.get((x.workload, x.case), len(planned)))
             for c in model.categories if (a := answers(model, c, at))}
    if not found:
        raise ValueError("no laddered case to answer from (accepted: results files of enginebench run --ladder)")
    if options.get("form") == "summary":
        return "\n".join(f"* {summary_line(model, c, a, price, options.get('link', ''))}" for c, a in found.items())
    return "\n\n".join(category_block(model, runs, links, c, a, price) for c, a in found.items())


def summary_line(model: ReportModel, category: str, found: Sequence[CaseAnswer], price: Price | None,
                 link: str = "") -> str:
    """One category (`found`: its `answers`) in a sentence: the most frequent leader at the smallest and at
    the largest size, the lowest per-unit cost most often, and the fastest by the lines at the asked size."""
    def most(names: Sequence[str]) -> str:
        if not names:
            return "no engine"
        counts: dict[str, int] = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        top = max(counts.values())
        who = [n for n, k in counts.items() if k == top]
        return f"{' and '.join(who)} ({top} of {len(found)} case{'s' if len(found) != 1 else ''})"

    small = most([a.first.who() for a in found if a.first and a.first.leaders])
    large = most([a.last.who() for a in found if a.last and a.last.leaders])
    cheapest = [best.engine for a in found if (best := _cheapest(a.lines, "per_unit", sure=True)) is not None]
    title = category[:1].upper() + category[1:]
    text = (f"**{f'[{title}]({link}#{anchor(category)})' if link else title}** ({_span(found)}): leads at the smallest "
            f"size: {small}; at the largest: {large}; the lowest cost per unit (where no engine whose line does not "
            f"resolve it was faster at the largest size): {most(cheapest)}")
    asked = [a.asked for a in found if a.asked]
    if asked:
        size, fit, p = asked[0]
        text += f"; at {fmt_size(fit.param, size)} by the lines {_cost(fit, p, price, model.starts.get(fit.engine))}"
    return text + "."

