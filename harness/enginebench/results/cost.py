"""What a job costs: core-seconds from a ladder's line and the CPU budget, money at the user's price (pure).

A ladder's line says how many seconds a call takes (`fit.Fit`: fixed + per-unit x size). The engine held
`cpus` cores for those seconds, so

    core-seconds per unit = per-unit seconds x cpus        core-seconds per call = seconds x cpus

and at a price the user gives (none is built in: prices differ by provider, region and contract),

    per core-hour:      money = seconds x cpus / 3600 x price
    per instance-hour:  money = seconds / 3600 x price   (the machine is held whole while the job runs)

A job is the engine's start (its own phase of the run, `EngineSession.start_s`) plus one call: a job
that starts its engine pays both, a call on an engine already running pays the call alone. Intervals
carry through: every bound is the same product of the line's bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from enginebench.core.fmt import format_metric
from enginebench.results.fit import Estimate

UNITS = ("core-hour", "instance-hour")


@dataclass(frozen=True)
class Price:
    """A price per core-hour or per instance-hour, in the user's currency (never named: a number)."""

    amount: float
    per: str  # one of UNITS

    def text(self) -> str:
        return f"{fmt_money(self.amount)} per {self.per}"

    def of(self, seconds: float, cpus: int) -> float:
        """The money a job of `seconds` on `cpus` cores costs at this price."""
        hours = seconds / 3600
        return self.amount * hours * (cpus if self.per == "core-hour" else 1)

    def estimate(self, seconds: Estimate, cpus: int) -> Estimate:
        return Estimate(self.of(seconds.value, cpus), self.of(seconds.low, cpus), self.of(seconds.high, cpus))


def parse_price(text: str) -> Price:
    """`--price`: 'AMOUNT/core-hour' or 'AMOUNT/instance-hour' (e.g. 0.048/core-hour). Raises ValueError
    with what is accepted."""
    accepted = "accepted: AMOUNT/core-hour or AMOUNT/instance-hour, e.g. 0.048/core-hour"
    amount, slash, per = text.strip().partition("/")
    per = per.strip().lower()
    if not slash or per not in UNITS:
        raise ValueError(f"--price {text!r}: says no unit among {', '.join(UNITS)} ({accepted})")
    try:
        value = float(amount.strip().lstrip("$€£").replace("_", ""))
    except ValueError:
        value = -1.0
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"--price {text!r}: {amount.strip()!r} is not a positive number ({accepted})")
    return Price(value, per)


@dataclass(frozen=True)
class CallCost:
    """What one call of `seconds` on `cpus` cores costs: its core-seconds and, at a price, the money per
    call (interval carried) and per job (the engine's start added)."""

    core_seconds: Estimate
    money: Estimate | None
    job: float | None


def call_cost(seconds: Estimate, cpus: int, price: Price | None, start_s: float | None) -> CallCost:
    """The one place a call's core-seconds and money are worked out (report, terminal, guide)."""
    if price is None:
        return CallCost(core_seconds(seconds, cpus), None, None)
    return CallCost(core_seconds(seconds, cpus), price.estimate(seconds, cpus),
                    price.of(job_seconds(seconds, start_s).value, cpus))


def core_seconds(seconds: Estimate, cpus: int) -> Estimate:
    """Seconds held on `cpus` cores as core-seconds, interval included."""
    return Estimate(seconds.value * cpus, seconds.low * cpus, seconds.high * cpus)


def job_seconds(call: Estimate, start_s: float | None) -> Estimate:
    """One job: the engine's start (a measured figure, no interval of its own) plus one call."""
    extra = start_s or 0.0
    return Estimate(call.value + extra, call.low + extra, call.high + extra)


#: Money reads as any figure: 3 significant figures, thousands separated above 1,000, in the user's currency.
fmt_money = format_metric


def fmt_core_seconds(value: float) -> str:
    """Core-seconds as they read: core-s, core-ms, core-µs or core-h beyond 10 core-hours."""
    from enginebench.core.fmt import fmt_seconds

    if abs(value) >= 36000:
        return f"{value / 3600:,.0f} core-h"
    text = fmt_seconds(value)
    number, unit = text.rsplit(" ", 1)
    return f"{number} core-{unit}"
