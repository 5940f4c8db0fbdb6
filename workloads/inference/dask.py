"""dask: `dask.dataframe.read_parquet` (one partition per file) and `map_partitions`, the model cached
per worker process (a module-level cache: loaded by the first partition a worker scores, reused by
the others and by later calls while the worker lives); the labels come back with `compute()`."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from harness.engines.base import EngineContext
from harness.spec import Params
from workloads.inference import model as m


def score_partition(part: pd.DataFrame, ckpt: m.Checkpoint, batch: int, device: str) -> pd.DataFrame:
    if not len(part):
        return pd.DataFrame({k: pd.Series(dtype=v) for k, v in m.COLUMNS.items()})
    return pd.DataFrame(m.score(part["id"].to_numpy(), part["image"].tolist(), ckpt, batch, device))


def score(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    import dask.dataframe as dd

    t0 = time.time()
    device = m.device_for(params, "the Dask workers' machine")
    df = dd.read_parquet(inputs["path"], columns=["id", "image"])
    meta = pd.DataFrame({k: pd.Series(dtype=v) for k, v in m.COLUMNS.items()})
    got = df.map_partitions(score_partition, inputs["checkpoint"], params["batch_size"], device, meta=meta).compute()
    workers = len(ctx.handle.scheduler_info()["workers"])
    return m.answer({k: got[k].to_numpy() for k in m.COLUMNS}, t0, device, workers)


CASES = {"score": score}
NOTES = {"score": "dd.read_parquet + map_partitions; the model cached once per worker process"}
