"""dask: `dask.dataframe.read_parquet` (one partition per file) and `map_partitions`, the model cached
per worker process (a module-level cache: loaded by the first partition a worker scores, reused by
the others and by later calls while the worker lives); the labels come back with `compute()`."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import pandas as pd

from enginebench import EngineContext, Params
from enginebench.workloads.inference import model as m


def score_partition(part: pd.DataFrame, ckpt: m.Checkpoint, batch: int, device: str) -> pd.DataFrame:
    if not len(part):
        return pd.DataFrame({k: pd.Series(dtype=v) for k, v in m.COLUMNS.items()})
    return pd.DataFrame(m.score(part["id"].to_numpy(), part["image"].tolist(), ckpt, batch, device))


def score(ctx: EngineContext, params: Params, inputs: Any, per_worker: bool = False) -> dict[str, Any]:
    """`per_worker`: one partition per worker (a variant) instead of one per file."""
    import dask.dataframe as dd

    t0 = time.time()
    device = m.device_for(params, "the Dask workers' machine")
    df = dd.read_parquet(inputs["path"], columns=["id", "image"])
    workers = len(ctx.handle.nthreads())  # asks the scheduler (scheduler_info() is a cache, see cnn/dask.py)
    if per_worker:
        df = df.repartition(npartitions=workers)
    meta = pd.DataFrame({k: pd.Series(dtype=v) for k, v in m.COLUMNS.items()})
    got = df.map_partitions(score_partition, inputs["checkpoint"], params["batch_size"], device, meta=meta).compute()
    return m.answer({k: got[k].to_numpy() for k in m.COLUMNS}, t0, device, workers)


CASES = {"score": score}
DEFAULT_VARIANT = "file-partitions"
VARIANTS = {"worker-partitions": {"score": partial(score, per_worker=True)}}
VARIANT_NOTES = {"worker-partitions": "repartition(npartitions=workers) after the read: one larger task per worker"}
NOTES = {"score": "dd.read_parquet + map_partitions; the model cached once per worker process"}
