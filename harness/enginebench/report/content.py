"""What a report holds: its rows and cells, crossovers, ladder gaps and predictions, as data.

`report.model` computes these from the records (every order, tie and fit is decided there);
`report.verdicts` words them; `report.sections` shows them. The types live apart from the computation so
that the words can read them and the model can still hand its verdict sentences over with its numbers
(`ReportModel.verdicts`), with no import circle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from enginebench.core.stats import THRESHOLD, Contrast
from enginebench.results.fit import DOMINANT_SHARE, Crossing, Fit, Prediction, Scaling
from enginebench.results.records import Header, Record, Run

if TYPE_CHECKING:
    from enginebench.results.cost import Price

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


@dataclass(frozen=True)
class Unfitted:
    """An engine that ran a laddered case but has no line for it: how many sizes it has checked figures
    for (noisy ones left out unless allowed), and how many attempts failed, were left out as noisy, or
    were never run (an interrupted run's `skipped`)."""

    engine: str
    sizes: int
    failed: int
    noisy: int
    skipped: int = 0


@dataclass(frozen=True)
class Asked:
    """A size a user asked about for one laddered case: each engine's predicted seconds, fastest first."""

    workload: str
    case: str
    cpus: int | None
    param: str
    size: float
    order: list[tuple[Fit, Prediction]]
    starts: Mapping[str, float] = field(default_factory=dict)  # engine -> its start seconds (`engine_starts`)

    def start(self, engine: str) -> float | None:
        """The engine's start seconds, which a job pays before its first call (None: not recorded)."""
        return self.starts.get(engine)

    def separated(self, i: int) -> bool:
        """Whether the i-th prediction's interval lies wholly below the next one's."""
        a, b = self.order[i][1].seconds, self.order[i + 1][1].seconds if i + 1 < len(self.order) else None
        return a is not None and b is not None and a.high < b.low


@dataclass(frozen=True)
class Ask:
    """What a reader brings to a report beside the results: sizes to predict each laddered case at
    (`report --at`), a price for money per job (`report --price`), and ladder runs that say how much of a
    one-size run's calls is fixed cost (`references`: (the results file's name, its run); the project
    ships its own, `cli.reading.REFERENCE_LADDERS`)."""

    at: Mapping[str, float] | None = None
    price: Price | None = None
    references: Sequence[tuple[str, Run]] = ()


@dataclass(frozen=True)
class Regime:
    """One case of a run measured at one size, read against a reference ladder's lines at that size:
    per engine whose line covers the size, the fixed cost's share of the call."""

    category: str
    workload: str
    case: str
    param: str
    size: float
    source: str  # the reference ladder's results file
    shares: tuple[tuple[str, float], ...]  # (engine, fixed share at `size`), in the report's engine order

    @property
    def startup(self) -> bool:
        """Whether fixed cost (start-up inside the call) is most of the call for most of its engines:
        then the case's verdict ranks start-up, not throughput."""
        fixed = sum(share >= DOMINANT_SHARE for _, share in self.shares)
        return fixed * 2 > len(self.shares)


@dataclass
class ReportModel:
    engines: list[str]
    rows: list[Row]
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
    unfitted: dict[tuple[str, str, Any], list[Unfitted]] = field(default_factory=dict)
    #: per category, in the matrix's order, its sentences (`report.verdicts.category_verdicts`)
    verdicts: dict[str, str] = field(default_factory=dict)
    #: the price money per job is given at (`report --price`; None: core-seconds only)
    price: Price | None = None
    #: per case measured at one size with no ladder of its own: its regime by a reference ladder's lines
    regimes: list[Regime] = field(default_factory=list)
    #: the engines' start seconds (median over the runs' sessions): a job pays it before its first call
    starts: dict[str, float] = field(default_factory=dict)

    @property
    def ladders(self) -> dict[tuple[str, str, Any], list[Fit]]:
        """The fits grouped per (workload, case, cpus), in the report's engine order."""
        out: dict[tuple[str, str, Any], list[Fit]] = {}
        for f in sorted(self.fits, key=lambda f: self.engines.index(f.engine) if f.engine in self.engines else 99):
            out.setdefault((f.workload, f.case, f.cpus), []).append(f)
        return out

    def ladder_row(self, key: tuple[str, str, Any]) -> Row | None:
        """The matrix row of a laddered (workload, case, cpus) at its largest size (who leads there)."""
        largest = max(f.largest for f in self.ladders[key])
        return next((r for r in self.rows if (r.workload, r.case, r.cpus) == key and r.size == largest), None)

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(r.category for r in self.rows))

    @property
    def several_budgets(self) -> bool:
        """Whether the rows were measured at more than one CPU budget (then a row names its budget)."""
        return len({r.cpus for r in self.rows}) > 1

    @property
    def sized_cases(self) -> set[tuple[str, str]]:
        """(workload, case) measured at several sizes of one scale and budget (a ladder): their rows name the size."""
        seen: dict[tuple[str, str, str, Any], set[Any]] = {}
        for r in self.rows:
            seen.setdefault((r.workload, r.case, r.scale, r.cpus), set()).add(r.size)
        return {(k[0], k[1]) for k, sizes in seen.items() if len(sizes) > 1}

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
