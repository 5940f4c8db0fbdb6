"""The statistics behind every verdict: who is tied in a report and what got slower in `compare`.

Both ask the same question of two sets of headline samples (one value per timed repetition, in the
case's own unit): is B worse than A, by how much, and is the difference resolved or within noise?
One function answers it, so the report and `compare` can never disagree about a pair.

* The effect is the ratio of medians, oriented so that above 1 means B is worse (slower, or less
  throughput): median(B) / median(A) for lower-is-better metrics, median(A) / median(B) otherwise.
* With 5 or more samples on both sides the rule is a percentile bootstrap 95% interval of that
  ratio (fixed seed, so a report renders the same twice): resolved when the interval excludes 1.
* With fewer, the rule is the overlap of the two ranges [min, max]: resolved when they do not
  overlap; the "interval" is then the span of ratios between the two ranges. Under "no difference"
  two sets of n and m samples separate by chance with probability 2 / C(n+m, n): 10% for 3
  against 3, 2.9% for 4 against 4. A rule whose chance exceeds 5% cannot decide a regression; the
  report still uses it to draw ties (saying so), `compare` says "too few repetitions".

`compare` asks more than a resolved difference, because repetitions inside one run do not see the
variation between two runs (another process, another memory layout, another minute of a shared
machine): measured here, two back-to-back runs of the same code differ by 10-15% on several tasks
cases while each run's own interval is narrower than that. So a change is `slower` only when the
whole interval lies beyond the threshold (default 10%), `faster` likewise below it; a ratio beyond
the threshold whose interval reaches inside it is `same`, flagged *borderline*. Repetitions shorter
than MIN_REPETITION_S cannot be compared at all (pyperf's rule: below a millisecond the clock, the
caches and the scheduler dominate what is timed).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Samples per side from which the bootstrap interval is used instead of the overlap of ranges.
BOOTSTRAP_MIN = 5
RESAMPLES = 4000
CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
#: Default minimum effect for `compare`: a ratio of medians beyond 1.10 (or below 1/1.10).
THRESHOLD = 0.10
#: The shortest median repetition `compare` judges.
MIN_REPETITION_S = 1e-3

RULES = {
    "interval": f"bootstrap {CONFIDENCE:.0%} interval of the ratio of medians ({RESAMPLES} resamples)",
    "ranges": "overlap of the ranges [min, max] of the repetitions (interval: the ratios between them)",
}


@dataclass(frozen=True)
class Contrast:
    """B against A: the ratio of medians (above 1: B is worse), its interval and the rule's outcome."""

    ratio: float
    rule: str  # a key of RULES
    resolved: bool  # the rule separates the two sets (the interval excludes 1, or the ranges do not overlap)
    chance: float  # probability that the rule separates two sets of the same distribution
    low: float = 1.0  # the interval of the ratio (rule "ranges": the lowest and highest ratio between the ranges)
    high: float = 1.0
    n: tuple[int, int] = (0, 0)

    @property
    def decisive(self) -> bool:
        """Whether the rule is a test at the 5% level (enough repetitions on both sides)."""
        return self.chance <= ALPHA + 1e-12

    @property
    def has_interval(self) -> bool:
        """Whether both sides have two or more samples: one sample per side spans no interval."""
        return min(self.n) >= 2

    def interval_text(self) -> str:
        """The interval as [low, high]; empty with one sample on a side (a range of one value says nothing)."""
        return f"[{self.low:.2f}, {self.high:.2f}]" if self.has_interval else ""


def worse_ratio(a: float, b: float, higher_is_better: bool) -> float:
    """How many times worse b is than a (above 1: b is worse)."""
    num, den = (a, b) if higher_is_better else (b, a)
    if den <= 0:
        return math.inf if num > 0 else 1.0
    return num / den


def separation_chance(n: int, m: int) -> float:
    """Probability that n and m draws from one distribution have non-overlapping ranges (no ties)."""
    return min(1.0, 2 / math.comb(n + m, n)) if n and m else 1.0


def contrast(a: Sequence[float], b: Sequence[float], higher_is_better: bool) -> Contrast:
    """Compare headline samples b against a (see the module's docstring for the rules)."""
    if not a or not b:
        raise ValueError("contrast needs at least one sample on each side")
    ratio = worse_ratio(statistics.median(a), statistics.median(b), higher_is_better)
    n = (len(a), len(b))
    if min(n) >= BOOTSTRAP_MIN:
        low, high = bootstrap_interval(a, b, higher_is_better)
        return Contrast(ratio, "interval", not (low <= 1.0 <= high), ALPHA, low, high, n)
    overlap = min(a) <= max(b) and min(b) <= max(a)
    ends = (worse_ratio(max(a), min(b), higher_is_better), worse_ratio(min(a), max(b), higher_is_better))
    return Contrast(ratio, "ranges", not overlap, separation_chance(*n), min(ends), max(ends), n)


def bootstrap_interval(a: Sequence[float], b: Sequence[float], higher_is_better: bool,
                       resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the worse-ratio of medians (samples resampled per side)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ma = np.median(rng.choice(xa, size=(resamples, xa.size)), axis=1)
    mb = np.median(rng.choice(xb, size=(resamples, xb.size)), axis=1)
    num, den = (ma, mb) if higher_is_better else (mb, ma)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Change:
    """NEW against BASE for one case: `compare`'s verdict and the numbers behind it."""

    contrast: Contrast
    verdict: str  # slower | faster | same | too few repetitions | too short to time
    why: str  # one phrase: the rule's outcome
    borderline: bool = False  # the ratio is beyond the threshold and resolved, but the interval reaches inside it


def change(base: Sequence[float], new: Sequence[float], higher_is_better: bool,
           threshold: float = THRESHOLD, wall_s: tuple[float, float] | None = None) -> Change:
    """slower/faster only when the rule can decide at the 5% level and the whole interval of the
    ratio lies beyond 1 +- threshold; same otherwise (see the module's docstring). wall_s: the two
    runs' median repetition seconds, for the MIN_REPETITION_S floor."""
    c = contrast(base, new, higher_is_better)
    upper, lower = 1 + threshold, 1 / (1 + threshold)
    if wall_s is not None and min(wall_s) < MIN_REPETITION_S:
        return Change(c, "too short to time", f"repetitions of {min(wall_s) * 1e3:.3g} ms; below "
                                              f"{MIN_REPETITION_S * 1e3:g} ms the timings vary between runs more "
                                              "than any threshold (raise the scale)")
    if not c.decisive:
        return Change(c, "too few repetitions",
                      f"{c.n[0]} vs {c.n[1]} repetitions separate by chance {c.chance:.0%} of the time; "
                      f"need 4 per run (5 for an interval)")
    if c.low > upper:
        return Change(c, "slower", f"interval {c.interval_text()} above {upper:.2f}")
    if c.high < lower:
        return Change(c, "faster", f"interval {c.interval_text()} below {lower:.2f}")
    if c.resolved and (c.ratio > upper or c.ratio < lower):
        return Change(c, "same", f"borderline: ratio {c.ratio:.2f} is beyond the {threshold:.0%} threshold but "
                                 f"the interval {c.interval_text()} reaches inside it", borderline=True)
    if c.resolved:
        return Change(c, "same", f"resolved but within the {threshold:.0%} threshold (interval {c.interval_text()})")
    return Change(c, "same", f"within noise (interval {c.interval_text()} contains 1)")


def describe(samples: Sequence[float]) -> dict[str, float]:
    """Median, min, max, mean, quartiles, IQR and stdev of repetition timings.

    Quartiles use the inclusive method (linear interpolation between order statistics), so one or
    two samples give a defined IQR (0 and the half-range) instead of failing.
    """
    if not samples:
        return {}
    xs = sorted(float(s) for s in samples)
    if len(xs) == 1:
        q1 = q3 = xs[0]
    else:
        q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return {
        "n": float(len(xs)),
        "median": statistics.median(xs),
        "min": xs[0],
        "max": xs[-1],
        "mean": statistics.fmean(xs),
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "stdev": statistics.stdev(xs) if len(xs) > 1 else 0.0,
    }


def percentile(samples: Sequence[float], pct: float) -> float:
    """The pct-th percentile (0..100) with linear interpolation, like numpy's default."""
    if not samples:
        raise ValueError("percentile of no samples")
    xs = sorted(samples)
    k = (len(xs) - 1) * pct / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)
