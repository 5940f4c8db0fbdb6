"""Predictions checked far out: one ladder's lines against the sizes a later, larger ladder measured (pure).

A ladder's line (`fit.Fit`) may predict beyond its sizes only under the rules in `fit` (it fits, its
per-unit cost is resolved, it predicted its own held-out size, within a cap). Whether those rules are the
right ones is a measurable question: take the lines of a small ladder (tiny: SF 0.01 to 0.08) and set
them against a ladder 1.25x to 25x further out (SF 0.1 to 2) of the same cases on the same engines. Every
line predicts every larger size, allowed by the rules or not, so the rules can be judged by what the
refused lines would have said:

    error = predicted / measured - 1           held = the measured median lies inside the 95% interval
                                               band held = ... inside the interval with the far-out band

Only sizes whose every other parameter equals the near ladder's are checked: a line of gbdt at 100 rounds
does not predict 200 rounds. `summary` groups the checks by what the rules said (allowed, or the first rule
that refused the line) and by how far out the size lies, with the median error, the share within
HOLDOUT_BOUND and the shares whose interval held, without and with the far-out band (`fit.FAROUT_BAND`,
the rules' answer to this evidence; `allowed_error` gives the percentile of the errors it is set from).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from enginebench.results.fit import FAROUT_BAND, HOLDOUT_BOUND, Estimate, Fit, far_out, fits
from enginebench.results.records import Record

_UPTO = tuple(upto for upto, _ in FAROUT_BAND)
#: How far out a size lies (factor beyond the predicting ladder's largest size): the bands the summary counts,
#: the far-out band's distances (`fit.FAROUT_BAND`, whose last is the cap), then beyond the cap.
BANDS: tuple[tuple[float, float], ...] = (*zip((1.0, *_UPTO[:-1]), _UPTO, strict=True), (_UPTO[-1], float("inf")))


@dataclass(frozen=True)
class Check:
    """One size of the far ladder, predicted by the near ladder's line of the same case and engine."""

    line: Fit
    size: float
    predicted: Estimate  # the line's seconds at `size`, the rules not applied
    measured: float  # the far ladder's median seconds at `size`

    @property
    def factor(self) -> float:
        return self.line.factor(self.size)

    @property
    def error(self) -> float:
        return self.predicted.value / self.measured - 1

    @property
    def within(self) -> bool:
        """Whether the prediction is within HOLDOUT_BOUND of the measured median (the held-out rule's bound)."""
        return abs(self.error) <= HOLDOUT_BOUND

    @property
    def held(self) -> bool:
        """Whether the measured median lies inside the prediction's 95% interval."""
        return self.predicted.low <= self.measured <= self.predicted.high

    @property
    def band_held(self) -> bool:
        """Whether the measured median lies inside the prediction's interval with the far-out band (what
        `Fit.predict` gives an allowed line)."""
        banded = far_out(self.predicted, self.factor)
        return banded.low <= self.measured <= banded.high

    @property
    def allowed(self) -> bool:
        """Whether the rules let the line say this (`Fit.predict`)."""
        return self.line.predict(self.size).seconds is not None

    @property
    def rule(self) -> str:
        """'allowed', or the first rule (in `Fit.why_not_extrapolate`'s order) that refused the line."""
        f = self.line
        if self.allowed:
            return "allowed"
        if not f.linear:
            return "no fit"
        if f.holdout is None:
            return "no held-out size"
        if not f.holdout.ok:
            return "held-out size off"
        return "per-unit cost not resolved" if not f.resolved else "beyond the cap"


#: The order the summary lists what the rules said.
RULE_ORDER = ("allowed", "no fit", "held-out size off", "per-unit cost not resolved", "no held-out size",
              "beyond the cap")


def checks(near: Iterable[Record], far: Iterable[Record], baselines: Iterable[str] = ()) -> list[Check]:
    """Every checked size of `far` beyond `near`'s ladder (same workload, case, engine, CPU budget, size
    parameter and every other parameter), predicted by `near`'s line."""
    import numpy as np

    near = list(near)
    lines = {(f.workload, f.case, f.engine, f.cpus, f.param): f for f in fits(near, baselines)}
    work = {(r.workload, r.case, r.engine, r.budget.get("cpus"), r.size_param): r.work_params for r in near}
    medians: dict[tuple[str, str, str, int | None, str, float], list[float]] = {}
    for r in far:
        if r.status == "ok" and r.size is not None and r.timings_s:
            key = (r.workload, r.case, r.engine, r.budget.get("cpus"), r.size_param)
            if work.get(key) == r.work_params:
                medians.setdefault((*key, float(r.size)), []).extend(r.timings_s)
    out = []
    for (workload, case, engine, cpus, param, size), seconds in medians.items():
        line = lines.get((workload, case, engine, cpus, param))
        if line is None or size <= line.largest:  # larger sizes only: the question is how far up a line holds
            continue
        out.append(Check(line, size, line.line_at(size), float(np.median(seconds))))
    return sorted(out, key=lambda c: (c.line.workload, c.line.case, c.line.engine, c.size))


@dataclass(frozen=True)
class Tally:
    """Checks of one kind (what the rules said, how far out): how many, and how well they predicted."""

    rule: str
    band: tuple[float, float]
    n: int
    median_error: float  # the median of |error|
    within: float  # the share within HOLDOUT_BOUND
    held: float  # the share whose interval held
    band_held: float  # the share whose interval with the far-out band held


def summary(found: Sequence[Check]) -> list[Tally]:
    """The checks per (what the rules said, band of distance), allowed first."""
    groups: dict[tuple[str, tuple[float, float]], list[Check]] = {}
    for c in found:
        band = next(b for b in BANDS if b[0] < c.factor <= b[1])
        groups.setdefault((c.rule, band), []).append(c)
    return [Tally(rule, band, len(cs), statistics.median(abs(c.error) for c in cs),
                  sum(c.within for c in cs) / len(cs), sum(c.held for c in cs) / len(cs),
                  sum(c.band_held for c in cs) / len(cs))
            for (rule, band), cs in sorted(groups.items(), key=lambda kv: (RULE_ORDER.index(kv[0][0]), kv[0][1][0]))]


def allowed_error(found: Iterable[Check], upto: float, above: float = 1.0, share: float = 0.8) -> float | None:
    """The `share` percentile of |error| over the allowed checks more than `above` and at most `upto`
    beyond their ladder (None without any): what `fit.FAROUT_BAND` is set from."""
    import numpy as np

    errors = [abs(c.error) for c in found if c.allowed and above < c.factor <= upto]
    return float(np.quantile(errors, share)) if errors else None
