"""Cases whose behaviour is known in advance, so the runner's handling of each outcome can be pinned."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from harness.spec import Case, Metric, Params, Timed, Verdict, Workload


def doubled(params: Params) -> int:
    return params["x"] * 2


def check_double(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    return Verdict.expect("doubled value", answer, params["x"] * 2)


def summarize(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    return {"per_s": 1.0 / statistics.median(t.seconds for t in timed)}


def _case(name: str, description: str, timeout: float = 60.0) -> Case:
    return Case(
        name=name,
        description=description,
        params={s: {"x": 21} for s in ("tiny", "small", "medium", "large")},
        primary=Metric("per_s", "1/s", True),
        make_inputs=doubled,
        check=check_double,
        summarize=summarize,
        timeout_s={s: timeout for s in ("tiny", "small", "medium", "large")},
    )


WORKLOAD = Workload(
    name="sample",
    title="Runner test cases",
    category="tests",
    package="sample_workload",
    cases=(
        _case("good", "returns the right answer"),
        _case("wrong", "returns a wrong answer"),
        _case("boom", "raises"),
        _case("sleepy", "sleeps past its timeout", timeout=1.0),
        _case("missing", "has no local implementation and says why"),
        _case("absent", "has no local implementation and no reason"),
    ),
)
