"""spark (and spark-on-ray): a Spark task per task slot, each running trials until the configurations
are used up. The study lives in the driver, in Optuna's in-memory storage behind Optuna's gRPC storage
proxy (bound to `spark.driver.host`, a free port); `parallelize(range(slots), slots)` makes one task per
task slot (one per core of the budget), and each task loads the study through a `GrpcStorageProxy` and
runs `study.optimize`, taking the next enqueued configuration until none is left: the loop of Optuna's
distributed examples. The data goes to the executors once, as a broadcast variable.

Why this and not hyperopt's `SparkTrials`: the open-source hyperopt is no longer maintained (so say
the docs of Databricks, which wrote `SparkTrials`; its ML runtime dropped hyperopt after 16.4 and points
to Optuna or Ray Tune), and it cannot stop a running trial early. Why not the joblib Spark backend
(`joblibspark`): Optuna runs `n_jobs` in threads, not through joblib, and scikit-learn's halving
searches retrain from scratch at every rung. The storage proxy is what Optuna provides for many
workers without a database; it needs no shared file system.

Variant (`enginebench variants`, for spark and spark-on-ray alike): `task-per-trial`, one Spark task per
configuration (`parallelize(range(K), K)`, `study.optimize(n_trials=1)` in each), the default until
2026-12-07. The study that day (docs/results/variants-tune-sides-tiny.json) found it 1.48x slower on
spark-on-ray and 1.16x on spark, and 1.18-1.21x slower per epoch trained on both.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from enginebench import EngineContext, Params


def serve(storage: Any, host: str) -> tuple[Any, int]:
    """Optuna's gRPC storage proxy for `storage`, started on a free port of `host`: (server, port).
    (optuna.storages.run_grpc_proxy_server blocks for ever and takes a fixed port; this is its body.)"""
    from concurrent.futures import ThreadPoolExecutor

    import grpc
    from optuna.storages._grpc import servicer
    from optuna.storages._grpc.auto_generated import api_pb2_grpc

    server = grpc.server(ThreadPoolExecutor(max_workers=10))
    api_pb2_grpc.add_StorageServiceServicer_to_server(servicer.OptunaStorageProxyService(storage), server)
    port = server.add_insecure_port(f"{host}:0")
    server.start()
    return server, port


def run_trial(host: str, port: int, data: dict[str, Any], params: dict[str, Any], t0: float,
              until_used_up: bool = False) -> list[dict[str, Any]]:
    """One trial in a Spark task (or, `until_used_up`, trials until no configuration is left), reaching the
    study through the driver's gRPC storage proxy; their histories."""
    import optuna

    from enginebench.workloads.tune import optuna_search as o

    proxy = optuna.storages.GrpcStorageProxy(host=host, port=port)
    try:
        proxy.wait_server_ready(timeout=30)
        study = optuna.load_study(study_name=o.STUDY, storage=proxy, pruner=o.pruner(params))
        return o.trials(study, data, params, t0, until_used_up)
    finally:
        proxy.close()


def search(ctx: EngineContext, params: Params, inputs: Any, slot_loops: bool = True) -> dict[str, Any]:
    """`slot_loops`: one task per task slot, each running trials until the configurations are used up
    (the default); False: one task per trial (the `task-per-trial` variant)."""
    import optuna

    from enginebench.workloads.tune import optuna_search as o

    sc = ctx.handle.sparkContext
    t0 = time.time()
    storage = optuna.storages.InMemoryStorage()
    study = o.create_study(storage, params, inputs["configs"])
    host = sc.getConf().get("spark.driver.host")
    server, port = serve(storage, host)
    data = sc.broadcast(inputs["data"])
    try:
        plain = dict(params)
        if slot_loops:
            # task slots: the cores Spark schedules on (spark.default.parallelism is the budget's CPUs) per task
            tasks = max(1, sc.defaultParallelism // int(sc.getConf().get("spark.task.cpus", "1")))
            how = "a Spark task per task slot running trials until the configurations are used up"
        else:
            tasks, how = len(inputs["configs"]), "a Spark task per trial"
        histories = (sc.parallelize(range(tasks), tasks)
                     .flatMap(lambda _: run_trial(host, port, data.value, plain, t0, until_used_up=slot_loops))
                     .collect())
    finally:
        data.destroy()
        server.stop(0)
    return o.answer(study, histories, f"Optuna, in-memory storage behind a gRPC proxy in the driver, {how}, ASHA "
                                      "rule as a pruner")


CASES = {"search": search}
DEFAULT_VARIANT = "slot-loops"
VARIANTS = {"task-per-trial": {"search": partial(search, slot_loops=False)}}
VARIANT_NOTES = {"task-per-trial": "one Spark task per trial (parallelize(range(K), K)), each running one trial, "
                                   "instead of a study.optimize loop per task slot (the default until 2026-12-07)"}
NOTES = {"search": "a Spark task per task slot (parallelize(range(slots), slots)), each a study.optimize loop taking "
                   "configurations until none is left; Optuna's gRPC storage proxy in the driver, the ASHA-rule "
                   "pruner, data as a broadcast variable"}
