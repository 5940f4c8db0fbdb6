"""dask: Optuna on Dask, as Optuna's and Dask's docs show it: the study in `DaskStorage` (an
in-memory storage held by the scheduler, which every worker reaches through its client) and one
future per trial (`client.submit(one_trial, ..., pure=False)`), so the scheduler keeps one trial on
each single-threaded worker and hands the next configuration to whichever worker frees first. The
data is scattered to every worker once (`broadcast=True`). Why not dask-ml's
`SuccessiveHalvingSearchCV`: it needs a scikit-learn estimator with `partial_fit` (one epoch per call,
a wrapper around the net) and keeps its own, different halving schedule."""

from __future__ import annotations

import time
from typing import Any

from enginebench import EngineContext, Params


def run_trial(storage: str, data: dict[str, Any], params: dict[str, Any], t0: float) -> dict[str, Any]:
    """One trial on a worker, reaching the study through the DaskStorage registered as `storage`."""
    import optuna
    from optuna_integration import DaskStorage

    from enginebench.workloads.tune import optuna_search as o

    proxy = DaskStorage(name=storage, register=False)
    study = optuna.load_study(study_name=o.STUDY, storage=proxy, pruner=o.pruner(params))
    return o.one_trial(study, data, params, t0)


def search(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    from optuna_integration import DaskStorage

    from enginebench.workloads.tune import optuna_search as o

    client = ctx.handle
    t0 = time.time()
    storage = DaskStorage(client=client)
    study = o.create_study(storage, params, inputs["configs"])
    [data] = client.scatter([inputs["data"]], broadcast=True, hash=False)
    futures = [client.submit(run_trial, storage.name, data, dict(params), t0, pure=False)
               for _ in inputs["configs"]]
    try:
        histories = client.gather(futures)
        return o.answer(study, histories, "Optuna, DaskStorage on the scheduler, a future per trial, ASHA rule as a "
                                          "pruner")
    finally:
        client.cancel(futures)  # a failed search leaves no trial running
        client.run_on_scheduler(forget, name=storage.name)


def forget(dask_scheduler: Any, name: str) -> None:
    """Drop a search's storage from the scheduler: DaskStorage registers one per search in Optuna's
    scheduler extension and never removes it, so a long-lived cluster would keep every study."""
    dask_scheduler.extensions["optuna"].storages.pop(name, None)


CASES = {"search": search}
NOTES = {"search": "Optuna with DaskStorage, client.submit per trial (one per single-threaded worker at a time), "
                   "the ASHA-rule pruner, data scattered to every worker"}
