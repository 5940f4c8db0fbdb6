"""pytest-benchmark suites over enginebench's cases: options, one engine per session, thin tests.

    pytest benchmarks/ --benchmark-only [--engines ray,dask] [--scale tiny] [--cases noop,latency]
                       [--workloads tasks] [--cpus 2] [--rounds 3] [--warmup-rounds 1]

Engines start once per session (session-scoped, parametrized fixture: pytest groups the tests by
engine, so one engine runs at a time) and stop at the end, also on failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from enginebench.contract.spec import SCALES
from enginebench.core.budget import Budget
from enginebench.core.errors import UsageError
from enginebench.measure.attempt import CaseInputs, Session
from enginebench.plan import registry


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("enginebench")
    group.addoption("--engines", default="all",
                    help=f"comma-separated engines (default all: {', '.join(registry.ENGINES)})")
    group.addoption("--scale", default="tiny", help=f"one of {', '.join(SCALES)} (default tiny)")
    group.addoption("--cases", default="all", help="comma-separated case names (default all)")
    group.addoption("--workloads", default="all",
                    help=f"comma-separated workloads (default all: {', '.join(registry.WORKLOADS)}); a folder "
                         "(./myjob) or dotted module of your own runs in test_your_workloads.py")
    group.addoption("--cpus", type=int, default=None, help="CPUs per engine (default: all)")
    group.addoption("--rounds", type=int, default=3, help="timed rounds per benchmark (default 3)")
    group.addoption("--warmup-rounds", type=int, default=1, help="untimed warm-up rounds (default 1)")


def _options(config: pytest.Config) -> dict[str, object]:
    try:
        engines = registry.parse_names(config.getoption("engines"), "engine", tuple(registry.ENGINES))
        workloads = registry.parse_workloads(config.getoption("workloads"))
        scale = config.getoption("scale")
        if scale not in SCALES:
            raise UsageError(f"unknown scale {scale!r} (accepted: {', '.join(SCALES)})")
        if config.getoption("rounds") < 1 or config.getoption("warmup_rounds") < 0:
            raise UsageError("--rounds must be at least 1 and --warmup-rounds at least 0")
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    return {"engines": engines, "workloads": workloads, "scale": scale}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_session" not in metafunc.fixturenames:
        return
    opts = _options(metafunc.config)
    if "your_case" in metafunc.fixturenames:  # test_your_workloads.py: the cases of workloads not shipped
        yours = [(w, c) for w in opts["workloads"] if w not in registry.WORKLOADS  # type: ignore[union-attr]
                 for c in registry.workload(w).case_names]
        metafunc.parametrize("your_case", [pytest.param(wc, marks=pytest.mark.enginebench_case(*wc),
                                                        id="/".join(wc)) for wc in yours])
    metafunc.parametrize("engine_session", opts["engines"], indirect=True, scope="session",
                         ids=[f"{e}-{opts['scale']}" for e in opts["engines"]])  # type: ignore[union-attr]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the chosen workloads and cases (unknown case names are a usage error)."""
    opts = _options(config)
    workloads = [registry.workload(name) for name in opts["workloads"]]  # type: ignore[union-attr]
    known = tuple(dict.fromkeys(c for wl in workloads for c in wl.case_names))
    try:
        wanted = set(registry.parse_names(config.getoption("cases"), "case", known))
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    chosen = {(wl.name, c) for wl in workloads for c in wl.case_names if c in wanted}
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("enginebench_case")
        if marker is None and "your_case" in getattr(item, "fixturenames", ()):
            drop.append(item)  # test_your_workloads.py without a workload of your own: nothing to run
        elif marker is None or tuple(marker.args) in chosen:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "enginebench_case(workload, case): the enginebench case a benchmark runs")


@pytest.fixture(scope="session")
def engine_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """One started engine for all its benchmarks; start-up is measured here, never in a round."""
    session = Session(request.param, Budget.default(request.config.getoption("cpus")))
    try:
        if session.available():
            session.start()
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def case_inputs() -> Iterator[CaseInputs]:
    """Inputs and references made once per session and shared by every engine; torn down at the end."""
    with CaseInputs() as inputs:
        yield inputs
