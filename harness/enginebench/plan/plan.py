"""The plan layer: what will run, computed once.

A command line, a variant study and a pytest-benchmark request all become the same list of attempts here:
engine, workload, case, the params with the rung's size, the budget, the timeout and the repetitions. The
runner, `variants` and the pytest-benchmark adapter consume that list; nothing else works out rungs, sizes
or timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from enginebench.contract.spec import size_value


def rungs(params: Mapping[str, Any], param: str | None, ladder: Sequence[float], ladder_param: str = ""
          ) -> list[Mapping[str, Any]]:
    """A case's parameters at each rung of a ladder, smallest first: its size parameter times each
    factor (ladder_param "") or set to each size (ladder_param names it); whole numbers stay whole,
    rungs that round to the same size are one. Without a ladder, or for a case whose size is not a
    number the ladder speaks of, the one set of parameters."""
    base = size_value(params, param)
    if not ladder or param is None or base is None or ladder_param not in ("", param):
        return [params]
    sizes = [v if ladder_param else base * v for v in ladder]
    whole = isinstance(params[param], int)
    values = [max(1, round(v)) if whole else float(f"{v:.10g}") for v in sizes]
    return [{**params, param: v} for v in sorted(set(values))]
