"""local: the same search in one process, one trial at a time (Optuna with its in-memory storage,
`n_jobs=1`): what one core does without any engine."""

from __future__ import annotations

import time
from typing import Any

from enginebench import EngineContext, Params
from enginebench.workloads.tune import optuna_search as o


def search(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    t0 = time.time()
    study = o.create_study(None, params, inputs["configs"])
    out: dict[int, Any] = {}
    study.optimize(o.objective(inputs["data"], params, t0, out), n_trials=len(inputs["configs"]), catch=())
    return o.answer(study, list(out.values()), "Optuna, in-memory storage, one trial at a time, ASHA rule as a pruner")


CASES = {"search": search}
NOTES = {"search": "one process, one trial at a time: Optuna study.optimize(n_trials=K) with the ASHA-rule pruner"}
