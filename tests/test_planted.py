"""Checks proven to fail: a wrong answer planted in each real engine path is reported `wrong`, with a
reason that names what differed.

Each engine API's real implementation runs on its real engine; the answer it returns (with the
engine's own types: numpy scalars, pandas timestamps, Decimals, generators) is then changed in one
place before the check sees it: one task result off by one, one TPC-H value off by 1e-6 relative,
one row missing, one malformed row kept by the pipeline. The cnn bugs change the training itself, so
they are planted inside each engine's training path (`Recipe.plant`): ranks without the gradient
all-reduce, every rank on the same shard, each rank on half its shard used twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_plan

from enginebench.contract.spec import Resolved, Staged, Workload
from enginebench.measure.attempt import Session
from enginebench.plan import registry

Plant = Callable[[Any], Any]


def _first_off_by_one(answer: Any) -> list[Any]:
    values = list(answer)
    return [values[0] + 1, *values[1:]]


def _tree(answer: Any) -> Any:
    out = np.array(answer, copy=True)
    out[0] += 1
    return out


def _relative(row_value: Any) -> float:
    return float(row_value) * (1 + 1e-6)


def _q1_value(answer: Any) -> list[dict[str, Any]]:
    rows = [dict(r) for r in answer]
    rows[0]["avg_disc"] = _relative(rows[0]["avg_disc"])  # about 0.05: 5e-8 off
    return rows


def _row_missing(answer: Any) -> list[Any]:
    return list(answer)[:-1]


def _malformed_kept(answer: Any) -> dict[str, Any]:
    malformed = dict(answer["malformed"])
    malformed["lineitem"] -= 1
    return {**answer, "malformed": malformed}


#: workload -> case -> (plant, words the `wrong` reason must contain)
PLANTS: dict[str, dict[str, tuple[Plant, str]]] = {
    "tasks": {
        "noop": (_first_off_by_one, "task results: got [1, 1, 2"),
        "fanout": (lambda a: int(a) + 1, "fan-in sum"),
        "tree-reduce": (_tree, "1 of 10000 elements differ"),
        "actors": (lambda a: {**a, "state": (a["state"][0] + 1, a["state"][1])}, "actor state (total, calls)"),
        "latency": (lambda a: {**a, "values": _first_off_by_one(a["values"])}, "round-trip results"),
        "object-transfer": (_first_off_by_one, "checksums read back"),
    },
    "etl": {
        "q1": (_q1_value, "row 0 avg_disc"),
        "q3": (_row_missing, "9 rows, expected 10"),
        "pipeline": (_malformed_kept, "malformed rows"),
    },
}


@dataclasses.dataclass(frozen=True)
class Planted(Workload):
    """The real workload, whose implementations' answers pass through a plant before the check."""

    plants: dict[str, tuple[Plant, str]] = dataclasses.field(default_factory=dict)

    def resolve(self, api: str, case: str, engine: str | None = None) -> Resolved:
        found = super().resolve(api, case, engine)
        impl, (plant, _) = found.implementation, self.plants[case]
        if impl is None:
            return found
        if isinstance(impl, Staged):
            run = impl.run
            return Resolved(Staged(impl.setup, lambda ctx, p, x: plant(run(ctx, p, x))), found.reason, found.note)
        return Resolved(lambda ctx, p, i: plant(impl(ctx, p, i)), found.reason, found.note)


def planted(name: str) -> Planted:
    real = registry.workload(name)
    return Planted(**{f.name: getattr(real, f.name) for f in dataclasses.fields(Workload)}, plants=PLANTS[name])


@pytest.mark.engine
@pytest.mark.parametrize("started", ("ray", "dask", "spark", "local"), indirect=True, scope="session")
@pytest.mark.parametrize("workload", tuple(PLANTS))
def test_a_planted_wrong_answer_is_reported_wrong_with_what_differed(started: Session, workload: str,
                                                                     tmp_path: Path, data_root: Path) -> None:
    wl = planted(workload)
    runner, _ = run_plan(tmp_path, wl, (started.name,), tuple(PLANTS[workload]), repeat=1, warmup=0,
                         session=started)
    for rec in runner.records:
        if rec.status == "unsupported":
            assert (started.name, rec.case) in {("spark", "actors")}, rec.reason
            continue
        words = PLANTS[workload][rec.case][1]
        assert rec.status == "wrong", f"{started.name}/{rec.case}: {rec.status} {rec.reason}\n{rec.detail}"
        assert words in rec.reason, f"{started.name}/{rec.case}: {rec.reason}"


#: cnn: planted training bug -> words the `wrong` reason must contain
CNN_PLANTS = {"no-allreduce": "different weights", "same-shard": "shared between ranks",
              "half-data": "repeated within a rank"}


@pytest.mark.engine
@pytest.mark.parametrize("started", ("ray", "dask", "spark"), indirect=True, scope="session")
def test_a_planted_training_bug_is_reported_wrong_and_named(started: Session, tmp_path: Path,
                                                            data_root: Path) -> None:
    real = registry.workload("cnn")
    case = real.case("train")
    for plant, words in CNN_PLANTS.items():
        params = {**case.params, "tiny": {**case.params["tiny"], "plant": plant, "epochs": 1}}
        wl = dataclasses.replace(real, cases=(dataclasses.replace(case, params=params),))
        (tmp_path / plant).mkdir()
        runner, _ = run_plan(tmp_path / plant, wl, (started.name,), repeat=1, warmup=0, session=started)
        (rec,) = runner.records
        assert rec.status == "wrong", f"{started.name}/{plant}: {rec.status} {rec.reason}\n{rec.detail}"
        assert words in rec.reason, f"{started.name}/{plant}: {rec.reason}"
