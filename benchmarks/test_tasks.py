"""The tasks workload as pytest-benchmark tests: one test function per case, one parameter per engine.

Node ids read `test_<case>[<engine>-<scale>]`; each benchmark's group is `tasks/<case>`, so
pytest-benchmark's table puts the engines of a case side by side.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness import registry
from harness.bench import EngineSession, run_case

WORKLOAD = registry.workload("tasks")


def _make(case_name: str) -> Any:
    @pytest.mark.enginebench_case(WORKLOAD.name, case_name)
    def bench(benchmark: Any, engine_session: EngineSession, request: pytest.FixtureRequest) -> None:
        cfg = request.config
        run_case(benchmark, engine_session, WORKLOAD, WORKLOAD.case(case_name), cfg.getoption("scale"),
                 rounds=cfg.getoption("rounds"), warmup=cfg.getoption("warmup_rounds"))

    bench.__name__ = f"test_{case_name.replace('-', '_')}"
    bench.__doc__ = WORKLOAD.case(case_name).description
    return bench


for _case in WORKLOAD.case_names:
    globals()[f"test_{_case.replace('-', '_')}"] = _make(_case)
