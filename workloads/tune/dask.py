"""dask: Optuna on Dask, as Optuna's and Dask's docs show it: the study in `DaskStorage` (an
in-memory storage held by the scheduler, which every worker reaches through its client) and one
future per trial (`client.submit(one_trial, ..., pure=False)`), so the scheduler keeps one trial on
each single-threaded worker and hands the next configuration to whichever worker frees first. The
data is scattered to every worker once (`broadcast=True`). Why not dask-ml's
`SuccessiveHalvingSearchCV`: it needs a scikit-learn estimator with `partial_fit` (one epoch per call,
a wrapper around the net) and keeps its own, different halving schedule.

Variant (`enginebench variants`): `worker-loops`, the shape of Optuna's own Dask example (optuna-examples
dask/dask_simple.py: `client.submit(study.optimize, ..., pure=False)` a few times): one long-running
future per worker thread, each running trials until no enqueued configuration is left."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from enginebench import EngineContext, Params


def run_trial(storage: str, data: dict[str, Any], params: dict[str, Any], t0: float,
              until_used_up: bool = False) -> list[dict[str, Any]]:
    """One trial on a worker (or, `until_used_up`, trials until no configuration is left), reaching the study
    through the DaskStorage registered as `storage`; their histories."""
    import optuna
    from optuna_integration import DaskStorage

    from enginebench.workloads.tune import optuna_search as o

    proxy = DaskStorage(name=storage, register=False)
    study = optuna.load_study(study_name=o.STUDY, storage=proxy, pruner=o.pruner(params))
    return o.trials(study, data, params, t0, until_used_up)


def search(ctx: EngineContext, params: Params, inputs: Any, worker_loops: bool = False) -> dict[str, Any]:
    """`worker_loops`: one future per worker thread (pinned to its worker), each running trials until the
    configurations are used up, instead of one future per trial (what the variant changes)."""
    from optuna_integration import DaskStorage

    from enginebench.workloads.tune import optuna_search as o

    client = ctx.handle
    t0 = time.time()
    storage = DaskStorage(client=client)
    study = o.create_study(storage, params, inputs["configs"])
    [data] = client.scatter([inputs["data"]], broadcast=True, hash=False)
    if worker_loops:
        futures = [client.submit(run_trial, storage.name, data, dict(params), t0, until_used_up=True,
                                 workers=[address], pure=False)
                   for address, threads in client.nthreads().items() for _ in range(threads)]
        how = "a study.optimize loop per worker thread until the configurations are used up"
    else:
        futures = [client.submit(run_trial, storage.name, data, dict(params), t0, pure=False)
                   for _ in inputs["configs"]]
        how = "a future per trial"
    try:
        histories = [h for each in client.gather(futures) for h in each]
        return o.answer(study, histories, f"Optuna, DaskStorage on the scheduler, {how}, ASHA rule as a pruner")
    finally:
        client.cancel(futures)  # a failed search leaves no trial running
        client.run_on_scheduler(forget, name=storage.name)


def forget(dask_scheduler: Any, name: str) -> None:
    """Drop a search's storage from the scheduler: DaskStorage registers one per search in Optuna's
    scheduler extension and never removes it, so a long-lived cluster would keep every study."""
    dask_scheduler.extensions["optuna"].storages.pop(name, None)


CASES = {"search": search}
DEFAULT_VARIANT = "future-per-trial"
VARIANTS = {"worker-loops": {"search": partial(search, worker_loops=True)}}
VARIANT_NOTES = {"worker-loops": "one long-running future per worker thread (pinned to its worker), each a "
                                 "study.optimize loop taking configurations until none is left (Optuna's own Dask "
                                 "example), instead of a future per trial"}
NOTES = {"search": "Optuna with DaskStorage, client.submit per trial (one per single-threaded worker at a time), "
                   "the ASHA-rule pruner, data scattered to every worker"}
