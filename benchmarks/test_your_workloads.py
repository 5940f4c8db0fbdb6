"""Workloads of your own as pytest-benchmark tests: `pytest benchmarks/ --benchmark-only --workloads ./myjob`.

Node ids read `test_case[<workload>/<case>-<engine>-<scale>]`; each benchmark's group is `<workload>/<case>`,
as for the shipped workloads (benchmarks/test_<name>.py). Without such a workload this test has no cases.
"""

from typing import Any

from enginebench.measure.attempt import CaseInputs, Session
from enginebench.measure.bench import run_case
from enginebench.plan import registry


def test_case(benchmark: Any, engine_session: Session, case_inputs: CaseInputs, your_case: tuple[str, str],
              request: Any) -> None:
    workload = registry.workload(your_case[0])
    cfg = request.config
    run_case(benchmark, engine_session, case_inputs, workload, workload.case(your_case[1]), cfg.getoption("scale"),
             rounds=cfg.getoption("rounds"), warmup=cfg.getoption("warmup_rounds"))
