"""Two runs -> per-case ratios NEW/BASE with a noise-aware verdict (faster, slower, same).

Refuses to compare when a case's workload parameters differ between the runs: the numbers would
measure different work. Differences in machine, budget or versions are reported, not refused:
tracking exactly those is what comparing runs is for.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UsageError
from harness.records import Record, Run


@dataclass(frozen=True)
class Comparison:
    workload: str
    case: str
    engine: str
    scale: str
    base_status: str
    new_status: str
    base_median_s: float | None
    new_median_s: float | None
    time_ratio: float | None  # new / base median seconds (< 1 is faster)
    verdict: str  # faster | slower | same | broken | fixed | not comparable


def _verdict(base: Record, new: Record) -> tuple[float | None, str]:
    if base.status == "ok" and new.status != "ok":
        return None, "broken"
    if base.status != "ok" and new.status == "ok":
        return None, "fixed"
    if base.status != "ok" or not base.timings_s or not new.timings_s:
        return None, "not comparable"
    ratio = new.stats["median"] / base.stats["median"]
    # Noise: overlapping [min, max] ranges of the repetitions mean the difference is not resolved.
    if min(new.timings_s) <= max(base.timings_s) and min(base.timings_s) <= max(new.timings_s):
        return ratio, "same"
    return ratio, "faster" if ratio < 1 else "slower"


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


def compare(base: Run, new: Run) -> list[Comparison]:
    """Pair records by (workload, case, engine, scale); refuse if any pair's parameters differ."""
    base_by = {r.key: r for r in base.records}
    pairs = [(base_by[r.key], r) for r in new.records if r.key in base_by]
    if not pairs:
        raise UsageError(f"runs {base.run_id} and {new.run_id} share no (workload, case, engine, scale) to compare")
    for b, n in pairs:
        if b.params != n.params:
            raise UsageError(
                f"cannot compare {b.workload}/{b.case} at scale {b.scale}: workload parameters differ "
                f"(base {b.params}, new {n.params})"
            )
    out = []
    for b, n in pairs:
        ratio, verdict = _verdict(b, n)
        out.append(Comparison(b.workload, b.case, b.engine, b.scale, b.status, n.status,
                              b.stats.get("median"), n.stats.get("median"), ratio, verdict))
    return out
