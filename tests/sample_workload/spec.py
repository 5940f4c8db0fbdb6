"""Cases whose behaviour is known in advance, so the runner's handling of each outcome can be pinned."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from enginebench.contract.spec import Case, Metric, Params, Timed, Verdict, Workload


def doubled(params: Params) -> int:
    return params["x"] * 2


def check_double(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    return Verdict.expect("doubled value", answer, params["x"] * 2)


def summarize(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    return {"per_s": 1.0 / statistics.median(t.seconds for t in timed)}


#: Calls of the lifecycle hooks, for the tests to count.
LIFECYCLE: list[str] = []


def slow_reference(params: Params, inputs: Any) -> int:
    """A reference that takes a while (as training the cnn reference does): paid once per run."""
    LIFECYCLE.append("reference")
    time.sleep(0.5)
    return int(inputs)


def check_against_reference(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    return Verdict.expect("answer vs reference", answer, reference)


def forget(inputs: Any) -> None:
    LIFECYCLE.append(f"teardown {inputs}")


def _case(name: str, description: str, timeout: float = 60.0, **lifecycle: Any) -> Case:
    return Case(
        name=name,
        description=description,
        params={s: {"x": 21} for s in ("tiny", "small", "medium", "large")},
        primary=Metric("per_s", "1/s", True),
        make_inputs=doubled,
        summarize=summarize,
        timeout_s={s: timeout for s in ("tiny", "small", "medium", "large")},
        **{"check": check_double, **lifecycle},
    )


WORKLOAD = Workload(
    name="sample",
    title="Runner test cases",
    category="tests",
    package=__package__,
    cases=(
        _case("good", "returns the right answer"),
        _case("wrong", "returns a wrong answer"),
        _case("boom", "raises"),
        _case("sleepy", "sleeps past its timeout", timeout=1.0),
        _case("missing", "has no local implementation and says why"),
        _case("absent", "has no local implementation and no reason"),
        _case("flaky", "right on the first call, wrong on the second"),
        _case("staged", "loads into the engine once (setup), then runs"),
        _case("referenced", "checked against a slow reference; inputs torn down at the end",
              reference=slow_reference, check=check_against_reference, teardown=forget),
        _case("paced", "sleeps a set time (tests plant slowdowns by changing it)"),
        _case("elsewhere", "runs only on another engine", only=("ray",), only_reason="needs Ray's object store"),
    ),
)
