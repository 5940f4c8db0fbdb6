"""Two runs -> per-case ratios NEW/BASE of the headline with a verdict that noise cannot fake.

The verdict comes from `enginebench.core.stats.change` on the two records' headline samples: the same
statistics the report uses for ties (see that module for the rules and their error rates).

Refuses to compare when a case's workload parameters differ between the runs: the numbers would
measure different work. Differences in machine, budget or versions are reported, not refused:
tracking exactly those is what comparing runs is for. An engine run at a release of its own
(`ray@2.55.1`) pairs with the same engine in the other run when each run has one release of it, so
two files of two releases compare as two commits do; `releases` compares the releases inside one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from enginebench.core.errors import UsageError
from enginebench.core.stats import THRESHOLD, Change, change
from enginebench.report.noise import is_noisy
from enginebench.results.records import Record, Run


@dataclass(frozen=True)
class Comparison:
    workload: str
    case: str
    engine: str
    scale: str
    base_status: str
    new_status: str
    metric: str
    unit: str
    base_value: float | None  # median headline
    new_value: float | None
    #: how many times worse NEW is than BASE on the headline (above 1: slower), with its interval
    ratio: float | None
    low: float | None
    high: float | None
    #: faster | slower | same | too few repetitions | too short to time | broken | fixed | not comparable
    verdict: str
    why: str = ""  # the rule and its outcome, in a phrase
    borderline: bool = False
    noisy: str = ""  # which side ran while other processes took over 10% of the budget's CPU


def _one(b: Record, n: Record, threshold: float) -> Comparison:
    def build(verdict: str, why: str = "", ch: Change | None = None) -> Comparison:
        c = ch.contrast if ch else None
        interval = c if c is not None and c.has_interval else None  # one sample a side spans no interval
        noisy = " and ".join(side for side, rec in (("base", b), ("new", n)) if rec.status == "ok" and is_noisy(rec))
        return Comparison(b.workload, b.case, b.engine, b.scale, b.status, n.status, b.metric,
                          str(b.primary.get("unit", "")), b.headline if b.status == "ok" else None,
                          n.headline if n.status == "ok" else None, c.ratio if c else None,
                          interval.low if interval else None, interval.high if interval else None, verdict, why,
                          ch.borderline if ch else False, noisy)

    if b.status == "ok" and n.status != "ok":
        return build("broken", f"new is {n.status}: {n.reason}")
    if b.status != "ok" and n.status == "ok":
        return build("fixed", f"base was {b.status}")
    xs, ys = b.headline_samples, n.headline_samples
    if b.status != "ok" or not xs or not ys:
        return build("not comparable", "neither side has checked figures")
    walls = (b.stats.get("median"), n.stats.get("median"))
    ch = change(xs, ys, b.higher_is_better, threshold,
                (float(walls[0]), float(walls[1])) if walls[0] is not None and walls[1] is not None else None)
    return build(ch.verdict, ch.why, ch)


def differences(base: Run, new: Run) -> list[str]:
    """What differs between the runs' setups (machine, budget, versions): shown next to the table."""
    notes = []
    a, b = base.header, new.header
    for label, x, y in (("machine", a.machine.get("cpu_model"), b.machine.get("cpu_model")),
                        ("CPUs", a.machine.get("logical_cpus"), b.machine.get("logical_cpus")),
                        ("budget", a.budget.to_dict(), b.budget.to_dict()),
                        ("software", a.software.get("packages"), b.software.get("packages"))):
        if x != y:
            notes.append(f"{label} differs: base {x}, new {y}")
    return notes


def compare(base: Run, new: Run, threshold: float = THRESHOLD) -> list[Comparison]:
    """Pair records by (workload, case, engine, scale), and by input size where a run measured a case
    at several (a ladder); refuse if any pair's parameters differ. A pair is slower or faster only
    beyond `threshold` (0.10: 10%) and when `stats.change`'s rule resolves the difference at the 5% level."""
    ladder = any(len({r.key for r in run.records}) > len({r.key[:4] for r in run.records}) for run in (base, new))
    names = {id(run): _engine_names(run) for run in (base, new)}

    def key(run: Run, r: Record) -> tuple[Any, ...]:
        whole = (r.workload, r.case, names[id(run)][r.engine], *r.key[3:])
        return whole if ladder else whole[:4]

    base_by = {key(base, r): r for r in base.records}
    pairs = [(base_by[key(new, r)], r) for r in new.records if key(new, r) in base_by]
    if not pairs:
        raise UsageError(f"runs {base.run_id} and {new.run_id} share no (workload, case, engine, scale"
                         f"{', size' if ladder else ''}) to compare")
    for b, n in pairs:
        if b.params != n.params:
            raise UsageError(
                f"cannot compare {b.workload}/{b.case} at scale {b.scale}: workload parameters differ "
                f"(base {b.params}, new {n.params})"
            )
    return [_one(b, n, threshold) for b, n in pairs]


def _engine_names(run: Run) -> dict[str, str]:
    """Each engine label of a run -> what pairs it: the engine's name where the run has one release of it
    (`ray@2.55.1` alone pairs with `ray`), the label itself where it has several."""
    labels = {r.engine for r in run.records}
    bases = [label.partition("@")[0] for label in labels]
    return {label: base if bases.count(base) == 1 else label
            for label, base in zip(labels, bases, strict=True)}


def releases(run: Run, threshold: float = THRESHOLD) -> list[tuple[str, str, Comparison]]:
    """Inside one run, each engine's releases against each other: for every engine run at more than one
    release (`ray` and `ray@2.55.1`), the older release as base and the newer as new, case by case;
    (older label, newer label, comparison). Versions are the engine's first package's, as recorded."""
    from enginebench.plan import registry

    def version(label: str) -> tuple[int | str, ...]:
        session = run.header.engines.get(label)
        text = session.versions.get(registry.engine_class(label).packages[0], "") if session else ""
        return tuple(int(p) if p.isdigit() else p for p in text.replace("-", ".").split("."))

    labels = list(dict.fromkeys(r.engine for r in run.records))
    out = []
    for base in dict.fromkeys(label.partition("@")[0] for label in labels):
        same = sorted((label for label in labels if label.partition("@")[0] == base), key=lambda x: version(x))
        for older, newer in zip(same, same[1:], strict=False):
            by = {(r.workload, r.case, r.size): r for r in run.records if r.engine == older}
            for r in run.records:
                b = by.get((r.workload, r.case, r.size))
                if r.engine == newer and b is not None and b.params == r.params:
                    out.append((older, newer, _one(b, r, threshold)))
    return out
