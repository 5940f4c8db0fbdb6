"""local: one process, one torch thread: read the parquet with pyarrow, score batch by batch."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from enginebench import EngineContext, Params
from enginebench.workloads.inference import model as m


def score(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    import pyarrow.parquet as pq

    t0 = time.time()
    device = m.device_for(params, "this process")
    parts = []
    for batch in pq.ParquetDataset(inputs["path"]).fragments:
        table = batch.to_table()
        parts.append(m.score(table.column("id").to_numpy(), table.column("image").to_pylist(),
                             inputs["checkpoint"], params["batch_size"], device))
    return m.answer({k: np.concatenate([p[k] for p in parts]) for k in m.COLUMNS}, t0, device, 1)


CASES = {"score": score}
NOTES = {"score": "pyarrow reads each parquet file; decode and predict in this process, one torch thread"}
