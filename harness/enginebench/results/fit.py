"""A size ladder's arithmetic: fixed and per-unit cost, held-out checks, crossovers, predictions (pure).

A ladder measures one case at several sizes of its size parameter (`enginebench run --ladder`). Per
engine, every timed repetition is a point (size, wall seconds of the call), and a least-squares line

    seconds = fixed + per_unit x size

splits the call's cost into what it pays whatever the size (start-up inside the call: a Ray Train
`fit()`, a Spark job's scheduling, a pool's fork) and what each unit of input costs. The wall time of
the whole call is fitted, not the headline: a throughput or a time to target is not additive in size.

Rules (each a constant below, printed in the report):
* Intervals: a pairs bootstrap (RESAMPLES resamples of the points, fixed seed), 95% percentile
  intervals for both terms and for everything derived from them.
* Fit quality: a rung whose median lies more than RESIDUAL_BOUND from the line (relative to the
  median) means the line does not fit (curvature, a regime change, noise): no prediction beyond the
  ladder, no crossover.
* Resolution: a per-unit cost whose interval reaches beyond PER_UNIT_PRECISION of it is not resolved
  (the time grows too little across the ladder next to its noise, e.g. a job start that varies by a
  second): its line is never carried beyond the ladder nor crosses another.
* Held out: the largest rung is also predicted from the line through the smaller ones (MIN_RUNGS - 1
  or more); predicted against measured, with the error's interval. Only a line that fits, is resolved
  and whose held-out error is within HOLDOUT_BOUND may extrapolate, and never beyond EXTRAPOLATION_CAP
  times the largest size measured (or that factor below the smallest). Below the smallest only a line
  whose fixed cost may be zero or more: one wholly below zero (its time grows faster than its size) would
  reach zero seconds at some size.
* Far-out band: a prediction beyond the ladder has at least the interval of FAROUT_BAND, the error lines
  the rules allowed made when checked that far out (`farout`); the bootstrap interval alone held less than
  half the time there.
* Crossovers: two lines cross where the engine with the lower fixed cost has the higher per-unit
  cost. Named between two lines that fit and are resolved when at least CROSS_SHARE of the bootstrap
  pairs cross too (the size's interval is bounded), marked measured (inside the ladder) or
  extrapolated (by how much); an extrapolated one needs both lines to extrapolate and the cap.
* CPU sweeps: the same line on 1/CPUs (`Scaling`): serial seconds plus parallel work over the CPUs.
"""

from __future__ import annotations

import math
import statistics
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from enginebench.core.fmt import fmt_factor, fmt_seconds, size_label, size_text

if TYPE_CHECKING:
    import numpy as np

    from enginebench.results.records import Record

#: Distinct sizes a line needs: one held out, and a line through three or more to predict it.
MIN_RUNGS = 4
#: A rung median further than this from the line (relative) means the line does not fit.
RESIDUAL_BOUND = 0.15
#: A held-out error beyond this (relative to the measured median) forbids extrapolation.
HOLDOUT_BOUND = 0.20
#: No prediction further than this factor beyond the ladder (above its largest or below its smallest size):
#: the farthest any prediction was checked (`farout`: etl's near ladder, SF 0.08, against SF 2; 2026-12-07).
EXTRAPOLATION_CAP = 25.0
#: The far-out band: beyond the ladder, a line errs less by sampling noise (its bootstrap interval) than by
#: how the per-unit cost itself changes with size (a cache outgrown, a plan that changes), so a prediction
#: that far out has at least this interval. Per distance (up to that factor beyond the ladder): the 80th
#: percentile of |predicted / measured - 1| over the lines the rules allowed in the far-out checks of
#: docs/results (`enginebench docs` kind `predictions`; a test keeps it in step with those files), rounded
#: up to 5%. The measured median m then lies in [p / (1 + band), p / (1 - band)] of a prediction p.
FAROUT_BAND: tuple[tuple[float, float], ...] = ((10.0, 0.30), (EXTRAPOLATION_CAP, 0.45))
#: Share of bootstrap pairs that must cross for a crossover to be named: the crossing size's 95%
#: interval is then bounded on both sides.
CROSS_SHARE = 0.975
#: A per-unit cost whose 95% interval reaches further than this from its estimate (relative) is not
#: resolved: the ladder's sizes are too close together for the engine's fixed-cost noise, and a
#: line carried beyond the ladder would multiply that uncertainty by the distance.
PER_UNIT_PRECISION = 0.5
#: A term whose share of the call is at least this is said to dominate it.
DOMINANT_SHARE = 0.5
RESAMPLES = 2000
CONFIDENCE = 0.95

RULES = {
    "fit": "least squares of every timed repetition's wall seconds against the size",
    "interval": f"pairs bootstrap, {RESAMPLES} resamples, {CONFIDENCE:.0%} percentile intervals",
    "residual": f"the line fits when every rung's median lies within {RESIDUAL_BOUND:.0%} of it",
    "precision": f"the per-unit cost is resolved when its interval lies within {PER_UNIT_PRECISION:.0%} of it",
    "holdout": f"a line that fits, whose per-unit cost is resolved and which predicted the largest rung from the "
               f"smaller ones within {HOLDOUT_BOUND:.0%} may extrapolate",
    "cap": f"no prediction more than {EXTRAPOLATION_CAP:,.0f}x beyond the sizes measured",
    "below": "below the smallest size measured, only a line whose fixed cost's interval reaches zero or above",
    "band": "beyond the sizes measured, a prediction's interval is at least the error lines made when checked "
            "that far out: " + ", ".join(f"±{band:.0%} of the measured time up to {upto:,.0f}x"
                                         for upto, band in FAROUT_BAND),
    "cross": f"a crossover is named between two such lines when {CROSS_SHARE:.1%} of the bootstrap pairs cross too",
}


@dataclass(frozen=True)
class Estimate:
    """A figure with its interval."""

    value: float
    low: float
    high: float

    def text(self, fmt: Any = None) -> str:
        f = fmt or fmt_seconds
        return f"{f(self.value)} [{f(self.low)}, {f(self.high)}]"


@dataclass(frozen=True)
class Holdout:
    """The largest rung predicted by the line through the smaller ones, against its measured median."""

    size: float
    predicted: Estimate  # seconds
    measured: float  # the rung's median seconds
    error: Estimate  # predicted / measured - 1

    @property
    def ok(self) -> bool:
        return abs(self.error.value) <= HOLDOUT_BOUND


@dataclass(frozen=True)
class Prediction:
    """Seconds per call at a size, or why there is none."""

    size: float
    seconds: Estimate | None
    factor: float  # how far beyond the ladder (1: inside it)
    refused: str = ""


@dataclass(frozen=True)
class Fit:
    """One engine's line over one case's ladder."""

    workload: str
    case: str
    engine: str
    cpus: int | None
    param: str
    unit: str  # what one unit of the size parameter is ("image", "task", "SF")
    sizes: tuple[float, ...]  # the distinct sizes measured, ascending
    medians: tuple[float, ...]  # each size's median seconds
    points: int
    fixed: Estimate
    per_unit: Estimate
    r2: float
    max_residual: float  # the largest |median - line| / median over the rungs
    holdout: Holdout | None
    baseline: bool = False
    boot: tuple[tuple[float, ...], tuple[float, ...]] = field(default=((), ()), repr=False)  # (fixed, per_unit)

    @property
    def linear(self) -> bool:
        return self.max_residual <= RESIDUAL_BOUND

    @property
    def resolved(self) -> bool:
        """Whether the per-unit cost is measured: its interval within PER_UNIT_PRECISION of it (so above 0)."""
        p = self.per_unit
        return p.value > 0 and p.low >= p.value * (1 - PER_UNIT_PRECISION) and \
            p.high <= p.value * (1 + PER_UNIT_PRECISION)

    @property
    def extrapolates(self) -> bool:
        """Whether the line may predict beyond the ladder: it fits, its per-unit cost is resolved, and
        it predicted the held-out size."""
        return self.linear and self.resolved and self.holdout is not None and self.holdout.ok

    @property
    def largest(self) -> float:
        return self.sizes[-1]

    def fixed_share(self, size: float) -> float:
        """The fixed cost's share of the call at a size (by the line)."""
        total = self.fixed.value + self.per_unit.value * size
        return max(0.0, min(1.0, self.fixed.value / total)) if total > 0 else 1.0

    def regime(self, size: float) -> str:
        return "fixed cost" if self.fixed_share(size) >= DOMINANT_SHARE else "per-unit cost"

    def why_not_extrapolate(self) -> str:
        if not self.linear:
            return (f"the line does not fit (a rung lies {self.max_residual:.0%} off it, bound "
                    f"{RESIDUAL_BOUND:.0%})")
        if self.holdout is None:
            return f"no held-out check (needs {MIN_RUNGS} sizes)"
        if not self.holdout.ok:
            return (f"the held-out size was predicted {self.holdout.error.value:+.0%} off (bound "
                    f"{HOLDOUT_BOUND:.0%})")
        if not self.resolved:
            p = self.per_unit
            return (f"its per-unit cost is not resolved ({fmt_seconds(p.value)} per {self.unit}, interval "
                    f"[{fmt_seconds(p.low)}, {fmt_seconds(p.high)}], beyond {PER_UNIT_PRECISION:.0%} of it: "
                    "across these sizes the time grows too little next to its noise)")
        return ""

    def short_why(self) -> str:
        """`why_not_extrapolate` in a few words, for sentences that name several lines."""
        if not self.linear:
            return f"no fit, {self.max_residual:.0%} off"
        if self.holdout is None:
            return "no held-out size"
        if not self.holdout.ok:
            return f"held-out size {self.holdout.error.value:+.0%} off"
        return "per-unit cost not resolved" if not self.resolved else ""

    @property
    def carries_below(self) -> bool:
        """Whether the line may say anything below its smallest size: a fixed cost whose interval lies
        wholly below zero says the time grows faster than the size (a line through convex points), and
        carried down it would reach zero seconds."""
        return self.fixed.high >= 0

    def why_not_below(self) -> str:
        f = self.fixed
        return (f"its fixed cost is below zero ({fmt_seconds(f.value)}, interval [{fmt_seconds(f.low)}, "
                f"{fmt_seconds(f.high)}]: the time grows faster than the size), so the line says nothing below "
                "the smallest size measured")

    def factor(self, size: float) -> float:
        """How far a size lies beyond the ladder (1 inside it)."""
        if size > self.sizes[-1]:
            return size / self.sizes[-1]
        if size < self.sizes[0]:
            return self.sizes[0] / size
        return 1.0

    def predict(self, size: float) -> Prediction:
        """Seconds per call at `size`, with its interval, or the reason the line may not say."""
        factor = self.factor(size)
        if size <= 0:
            return Prediction(size, None, factor, "sizes must be positive")
        if not self.linear:
            return Prediction(size, None, factor, self.why_not_extrapolate())
        if factor > 1 and not self.extrapolates:
            return Prediction(size, None, factor, self.why_not_extrapolate())
        if factor > EXTRAPOLATION_CAP:
            return Prediction(size, None, factor, f"{factor:,.0f}x beyond the sizes measured (cap "
                                                  f"{EXTRAPOLATION_CAP:,.0f}x)")
        if size < self.sizes[0] and not self.carries_below:
            return Prediction(size, None, factor, self.why_not_below())
        return Prediction(size, far_out(self.line_at(size), factor), factor)

    def line_at(self, size: float) -> Estimate:
        """The line's seconds at a size with its interval, the rules not applied (`predict` applies them;
        `farout` judges them by what refused lines would have said)."""
        return _line_estimate(self.fixed.value, self.per_unit.value, self.boot, size)

    def per_unit_text(self) -> str:
        return f"{self.per_unit.text(fmt_seconds)} per {self.unit}"


@dataclass(frozen=True)
class Crossing:
    """Where two engines' lines cross: `leader` (the lower per-unit cost) is ahead beyond `size`,
    `other` (the lower fixed cost) below it. `named` is False when the rule does not allow naming
    it; `why` says why."""

    workload: str
    case: str
    cpus: int | None
    param: str
    leader: str
    other: str
    size: Estimate
    share: float  # bootstrap pairs that cross too
    ladder: tuple[float, float]  # the smallest and largest size measured
    named: bool
    why: str = ""

    @property
    def measured(self) -> bool:
        return self.ladder[0] <= self.size.value <= self.ladder[1]

    @property
    def factor(self) -> float:
        if self.size.value > self.ladder[1]:
            return self.size.value / self.ladder[1]
        if self.size.value < self.ladder[0]:
            return self.ladder[0] / self.size.value
        return 1.0

    def where(self) -> str:
        if self.measured:
            return "inside the sizes measured"
        side = "beyond the largest" if self.size.value > self.ladder[1] else "below the smallest"
        return f"extrapolated {fmt_factor(self.factor)} {side} size measured"

    def text(self) -> str:
        size = self.size
        interval = f"[{size_text(size.low)}, {size_text(size.high)}]"
        if self.named:
            return (f"{self.leader} overtakes {self.other} on {self.case} from about {size_label(self.param)} "
                    f"{size_text(size.value)} {interval} ({self.where()})")
        return (f"{self.leader} and {self.other} on {self.case}: lines cross at about {size_label(self.param)} "
                f"{size_text(size.value)}, not named: {self.why}")


# -- fitting --------------------------------------------------------------------------------------

def _lstsq(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intercepts and slopes of lines through each row of x, y (2-D: one resample per row)."""
    import numpy as np

    mx, my = x.mean(axis=-1, keepdims=True), y.mean(axis=-1, keepdims=True)
    sxx = ((x - mx) ** 2).sum(axis=-1)
    sxy = ((x - mx) * (y - my)).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), np.nan)
    return my[..., 0] - slope * mx[..., 0], slope


def _bootstrap(xs: np.ndarray, ys: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pairs bootstrap of the line: RESAMPLES (intercept, slope) pairs; resamples with one distinct
    size (no slope) are dropped."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    idx = rng.integers(0, x.size, size=(RESAMPLES, x.size))
    a, b = _lstsq(x[idx], y[idx])
    keep = ~np.isnan(b)
    return a[keep], b[keep]


def _interval(values: np.ndarray, point: float) -> Estimate:
    import numpy as np

    tail = (1 - CONFIDENCE) / 2 * 100
    if values.size == 0:
        return Estimate(point, point, point)
    low, high = np.percentile(values, [tail, 100 - tail])
    return Estimate(point, float(low), float(high))


def far_band(factor: float) -> float:
    """The far-out band at a distance beyond the ladder (0 inside it)."""
    if factor <= 1:
        return 0.0
    return next((band for upto, band in FAROUT_BAND if factor <= upto), FAROUT_BAND[-1][1])


def far_out(seconds: Estimate, factor: float) -> Estimate:
    """A line's estimate `factor` beyond its ladder with the far-out band: the interval widened, where
    narrower, to the times whose prediction would be within the band ([p / (1 + band), p / (1 - band)])."""
    band = far_band(factor)
    if band <= 0:
        return seconds
    p = seconds.value
    return Estimate(p, min(seconds.low, p / (1 + band)), max(seconds.high, p / (1 - band)))


def _line_estimate(fixed: float, per_unit: float, boot: tuple[Sequence[float], Sequence[float]],
                   size: float) -> Estimate:
    import numpy as np

    a, b = np.asarray(boot[0], float), np.asarray(boot[1], float)
    return _interval(a + b * size, fixed + per_unit * size)


def fit_points(points: Sequence[tuple[float, float]], *, holdout: str | None = "largest",
               seed: int = 0) -> dict[str, Any]:
    """The line through (size, seconds) points: its terms with intervals, fit quality and the
    `holdout` end's size ("largest" or "smallest"; None: none) predicted from the others. Raises
    ValueError with fewer than two sizes."""
    import numpy as np

    sizes = sorted({x for x, _ in points})
    if len(sizes) < 2:
        raise ValueError("a line needs points at two or more sizes")
    xs = np.asarray([x for x, _ in points], float)
    ys = np.asarray([y for _, y in points], float)
    a, b = _lstsq(xs[None, :], ys[None, :])
    fixed, per_unit = float(a[0]), float(b[0])
    boot_a, boot_b = _bootstrap(xs, ys, seed)
    medians = [statistics.median(y for x, y in points if x == s) for s in sizes]
    residuals = [abs(m - (fixed + per_unit * s)) / m if m > 0 else math.inf for s, m in zip(sizes, medians,
                                                                                             strict=True)]
    total = float(((ys - ys.mean()) ** 2).sum())
    r2 = 1 - float(((ys - (fixed + per_unit * xs)) ** 2).sum()) / total if total > 0 else 1.0
    out: dict[str, Any] = {
        "sizes": tuple(sizes), "medians": tuple(medians), "points": len(points),
        "fixed": _interval(boot_a, fixed), "per_unit": _interval(boot_b, per_unit), "r2": r2,
        "max_residual": max(residuals), "boot": (tuple(boot_a.tolist()), tuple(boot_b.tolist())), "holdout": None,
    }
    if holdout and len(sizes) >= MIN_RUNGS:
        out["holdout"] = _holdout(points, sizes[-1] if holdout == "largest" else sizes[0], seed)
    return out


def _holdout(points: Sequence[tuple[float, float]], largest: float, seed: int) -> Holdout:
    import numpy as np

    inner = [(x, y) for x, y in points if x != largest]
    measured_ys = np.asarray([y for x, y in points if x == largest], float)
    line = fit_points(inner, holdout=None, seed=seed)
    predicted = _line_estimate(line["fixed"].value, line["per_unit"].value, line["boot"], largest)
    measured = float(np.median(measured_ys))
    rng = np.random.default_rng(seed + 1)
    boot_pred = np.asarray(line["boot"][0]) + np.asarray(line["boot"][1]) * largest
    boot_meas = np.median(rng.choice(measured_ys, size=(boot_pred.size, measured_ys.size)), axis=1)
    error = _interval(boot_pred / boot_meas - 1, predicted.value / measured - 1)
    return Holdout(largest, predicted, measured, error)


def fit_records(records: Sequence[Record], unit: str = "", baseline: bool = False) -> Fit | None:
    """The line of one engine's records of one case at several sizes (checked, timed ones only);
    None with fewer than MIN_RUNGS distinct sizes."""
    ok = [r for r in records if r.status == "ok" and r.size is not None and r.timings_s]
    points = [(float(r.size or 0.0), t) for r in ok for t in r.timings_s]
    if len({x for x, _ in points}) < MIN_RUNGS:
        return None
    first = ok[0]
    # A seed of its own per engine: two engines' lines resampled with the same draws would look
    # resolved against each other whenever their noise happens to line up (a crossover's rule).
    line = fit_points(points, seed=zlib.crc32(f"{first.workload}/{first.case}/{first.engine}".encode()))
    return Fit(first.workload, first.case, first.engine, first.budget.get("cpus"), first.size_param,
               unit or first.size_unit or first.size_param, baseline=baseline, **line)


def fits(records: Iterable[Record], baselines: Iterable[str] = (), units: Mapping[tuple[str, str], str] | None = None
         ) -> list[Fit]:
    """A Fit per (workload, case, cpus, engine) measured at MIN_RUNGS or more sizes."""
    groups: dict[tuple[str, str, Any, str], list[Record]] = {}
    for r in records:
        if r.status == "ok" and r.size is not None:
            groups.setdefault((r.workload, r.case, r.budget.get("cpus"), r.engine), []).append(r)
    base = set(baselines)
    out = []
    for (workload, case, _, engine), recs in groups.items():
        found = fit_records(recs, (units or {}).get((workload, case), ""), engine in base)
        if found is not None:
            out.append(found)
    return out


@dataclass(frozen=True)
class Scaling:
    """One engine's line over one case's CPU sweep, the same arithmetic on 1/CPUs (Amdahl's law):
    seconds = serial + work / cpus. `line.fixed` is the serial part, `line.per_unit` the parallel work
    in seconds at one CPU; the held-out point is the largest budget, predicted from the smaller ones."""

    scale: str
    size: float | None
    cpus: tuple[int, ...]
    line: Fit

    @property
    def serial(self) -> Estimate:
        return self.line.fixed

    @property
    def work(self) -> Estimate:
        return self.line.per_unit

    def serial_share(self, cpus: int) -> float:
        return self.line.fixed_share(1 / cpus)

    def speedup_limit(self) -> float:
        """The most more CPUs could make the one-CPU call faster: (serial + work) / serial."""
        serial = self.serial.value
        return math.inf if serial <= 0 else (serial + self.work.value) / serial

    def predict(self, cpus: int) -> Prediction:
        return self.line.predict(1 / cpus)


def scaling_fits(records: Iterable[Record], baselines: Iterable[str] = ()) -> list[Scaling]:
    """A Scaling per (workload, case, scale, size, engine) measured at MIN_RUNGS or more CPU budgets."""
    groups: dict[tuple[str, str, str, Any, str], list[Record]] = {}
    for r in records:
        if r.status == "ok" and r.timings_s and r.budget.get("cpus"):
            groups.setdefault((r.workload, r.case, r.scale, r.size, r.engine), []).append(r)
    base = set(baselines)
    out = []
    for (workload, case, scale, size, engine), recs in groups.items():
        budgets = sorted({int(r.budget["cpus"]) for r in recs})
        if len(budgets) < MIN_RUNGS:
            continue
        points = [(1 / int(r.budget["cpus"]), t) for r in recs for t in r.timings_s]
        line = fit_points(points, holdout="smallest", seed=zlib.crc32(f"{workload}/{case}/{engine}/cpus".encode()))
        out.append(Scaling(scale, size, tuple(budgets), Fit(workload, case, engine, None, "1/CPUs", "CPU",
                                                             baseline=engine in base, **line)))
    return out


# -- crossovers and predictions -------------------------------------------------------------------

def crossing(a: Fit, b: Fit) -> Crossing | None:
    """Where a's and b's lines cross at a positive size (None when they do not: one engine has both
    the lower fixed and the lower per-unit cost, or the slopes are equal)."""
    import numpy as np

    df, dp = a.fixed.value - b.fixed.value, a.per_unit.value - b.per_unit.value
    if dp == 0 or df == 0 or (df > 0) == (dp > 0):
        return None
    size = -df / dp
    leader, other = (a, b) if dp < 0 else (b, a)  # the lower per-unit cost leads beyond the crossing
    n = min(len(a.boot[0]), len(b.boot[0]))
    fa, pa = np.asarray(a.boot[0][:n]), np.asarray(a.boot[1][:n])
    fb, pb = np.asarray(b.boot[0][:n]), np.asarray(b.boot[1][:n])
    bdf, bdp = fa - fb, pa - pb
    with np.errstate(divide="ignore", invalid="ignore"):
        sizes = np.where((bdp != 0) & (np.sign(bdf) == np.sign(df)) & (np.sign(bdp) == np.sign(dp)), -bdf / bdp,
                         np.inf)
    share = float(np.mean(np.isfinite(sizes))) if n else 0.0
    tail = (1 - CONFIDENCE) / 2 * 100  # nearest ranks: resamples that do not cross count as an unbounded size
    low, high = ((np.percentile(sizes, tail, method="lower"), np.percentile(sizes, 100 - tail, method="higher"))
                 if n else (size, size))
    ladder = (min(a.sizes[0], b.sizes[0]), max(a.largest, b.largest))
    x = Crossing(a.workload, a.case, a.cpus, a.param, leader.engine, other.engine,
                 Estimate(size, float(low), float(high)), share, ladder, named=False)
    why = _why_not_named(x, a, b)
    return replace(x, named=not why, why=why)


def _why_not_named(x: Crossing, a: Fit, b: Fit) -> str:
    for f in (a, b):
        if not f.linear:
            return f"{f.engine}: {f.why_not_extrapolate()}"
        if not f.resolved:
            p = f.per_unit
            return (f"{f.engine}'s per-unit cost is not resolved ({fmt_seconds(p.value)}, interval "
                    f"[{fmt_seconds(p.low)}, {fmt_seconds(p.high)}])")
    if x.factor > EXTRAPOLATION_CAP:
        return f"it lies {fmt_factor(x.factor)} beyond the sizes measured (cap {EXTRAPOLATION_CAP:,.0f}x)"
    if x.share < CROSS_SHARE:
        return (f"only {x.share:.0%} of the bootstrap pairs cross (needs {CROSS_SHARE:.0%}): the order of the "
                "fixed or of the per-unit costs is not resolved")
    if not x.measured:
        for f in (a, b):
            if not f.extrapolates:
                return f"it lies outside the sizes measured, and {f.engine}: {f.why_not_extrapolate()}"
            if x.size.value < x.ladder[0] and not f.carries_below:
                return f"it lies below the sizes measured, and {f.engine}: {f.why_not_below()}"
    return ""


def crossings(lines: Sequence[Fit]) -> list[Crossing]:
    """Every pair of engines' lines on the same case and budget that cross (baselines included:
    'the one process would be overtaken at N' is a finding)."""
    out = []
    groups: dict[tuple[str, str, Any], list[Fit]] = {}
    for f in lines:
        groups.setdefault((f.workload, f.case, f.cpus), []).append(f)
    for group in groups.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                x = crossing(a, b)
                if x is not None:
                    out.append(x)
    return out


def order_at(lines: Sequence[Fit], size: float) -> list[tuple[Fit, Prediction]]:
    """Each engine's prediction at a size, fastest first; refused predictions last."""
    found = [(f, f.predict(size)) for f in lines]
    return sorted(found, key=lambda fp: (fp[1].seconds is None, fp[1].seconds.value if fp[1].seconds else 0.0))


def asked_size(lines: Sequence[Fit], sizes: Mapping[str, float]) -> float | None:
    """The size a user asked for, for one case's lines: its workload's parameter's value (`cnn.n_train`), else
    its parameter's (`n_train`, every workload sized by it), else a factor of the largest size."""
    if not lines:
        return None
    param = lines[0].param
    for key in (f"{lines[0].workload}.{param}", param):
        if key in sizes:
            return sizes[key]
    if "x" in sizes:
        return sizes["x"] * max(f.largest for f in lines)
    return None


def parse_sizes(text: str) -> dict[str, float]:
    """`--at`: 'n_train=1e6,sf=100' (a size per parameter), 'cnn.n_train=1e6,gbdt.n_train=1e8' (per workload,
    where two share a parameter's name) or '25x' (a factor of each ladder's largest size). Raises ValueError
    with what is accepted."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, eq, value = part.rpartition("=")
        key = key.strip() if eq else "x"
        raw = value.strip().removesuffix("x") if key == "x" else value.strip()
        if key == "x" and not value.strip().endswith("x"):
            raise ValueError(f"--at {text!r}: {part!r} needs a parameter or an x (accepted: PARAM=SIZE such as "
                             "n_train=1000000, or a factor of the largest size measured such as 25x)")
        try:
            number = float(raw.replace("_", ""))
        except ValueError:
            number = -1.0
        if not number > 0 or not math.isfinite(number):
            raise ValueError(f"--at {text!r}: {part!r} is not a positive number (accepted: PARAM=SIZE such as "
                             "sf=100, or FACTORx such as 25x)")
        out[key] = number
    if not out:
        raise ValueError("--at needs a size (accepted: PARAM=SIZE such as n_images=1000000, or FACTORx such as 25x)")
    return out
