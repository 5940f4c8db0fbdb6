"""Noise from other processes: when a record is flagged, what its figure can still say, and who caused it.

A record is *noisy* when processes outside the run (neither the engine's nor the run's, see
`metrics.ProcessTreeSampler`) took more than NOISY_SHARE of the CPU budget during its case, on the
lower bound of the reading: the foreign CPU less its resolution (clock ticks). A window too short to
resolve that share (a 6 ms block of local calls) is never flagged.

Contention only adds time to the engine it touches, so a noisy figure is *conservative*: without the
other processes its engine would only have done as well or better. The report therefore keeps noisy
records in the ranking: a noisy engine that leads still leads (its lead is a lower bound), and a noisy
engine behind the leader is compared on its best case, its figure with the contention taken out: the
foreign CPU could have taken at most its share of the budget's time (`best_case`). If that best case is
not beyond the threshold behind the leader, the order between the two is *undecided*. So no flag can
crown an engine over a faster flagged one.
"""

from __future__ import annotations

from typing import Any

from enginebench.measure.metrics import TICK_S
from enginebench.results.records import Record

#: Foreign CPU (processes outside the run) above this share of the budget makes a record noisy.
NOISY_SHARE = 0.10


def foreign_share_low(rec: Record) -> float:
    """The foreign CPU's share of the budget on the lower bound of its reading (the reading less its
    resolution; 0 when nothing was measured). Records from before the per-process measurement (no
    `foreign_resolution_s`) are read with two clock ticks per budget CPU (the machine-wide counters
    they came from tick per CPU)."""
    r = rec.resources
    wall, cpus = float(r.get("wall_s") or 0.0), int(rec.budget.get("cpus") or 1)
    budget_s = wall * cpus
    if budget_s <= 0:
        return 0.0
    measured = r.get("foreign_cpu_s")
    foreign = float(measured) if measured is not None else float(r.get("foreign_cpu_share") or 0.0) * budget_s
    resolution = r.get("foreign_resolution_s")
    resolution = float(resolution) if resolution is not None else 2 * TICK_S * cpus
    return max(0.0, foreign - resolution) / budget_s


def is_noisy(rec: Record) -> bool:
    """Whether other processes took more than NOISY_SHARE of the budget during the case, resolved."""
    return foreign_share_low(rec) > NOISY_SHARE


def best_case(rec: Record, value: float, higher_is_better: bool) -> float:
    """The best figure a noisy record's engine could have had without the contention: the foreign CPU
    could have cost it at most its share of the window's time (spread evenly over the window), so
    seconds shrink by that share and rates grow by it. A share of the whole budget or more bounds
    nothing (0 s, or an unbounded rate)."""
    share = min(1.0, float(rec.resources.get("foreign_cpu_share") or 0.0))
    if share >= 1.0:
        return float("inf") if higher_is_better else 0.0
    return value / (1 - share) if higher_is_better else value * (1 - share)


def foreign_names(rec: Record, n: int = 2) -> str:
    """The foreign processes that took the most CPU during the case, as 'name (1.2 s)', or ''."""
    top: list[dict[str, Any]] = list(rec.resources.get("foreign_top") or [])[:n]
    return ", ".join(f"{p.get('name') or p.get('pid')} ({float(p.get('cpu_s') or 0):.2g} s)" for p in top)
