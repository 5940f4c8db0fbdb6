"""spark (and spark-on-ray's Spark side): `spark.read.parquet`, repartitioned to the budget's cores
(the 8 small files would otherwise be packed into one task), and an iterator pandas UDF: the model
is loaded once per Python worker (the reused worker keeps it across tasks and calls) and each Arrow
batch is scored in slices of the scale's batch size; the labels come back with `collect()`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from harness.engines.base import EngineContext
from harness.spec import Params
from workloads.inference import model as m

SCHEMA = ", ".join(f"{k} {'long' if v == 'int64' else 'double'}" for k, v in m.COLUMNS.items())


def score(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    import pandas as pd

    spark = ctx.handle
    t0 = time.time()
    ckpt, batch = inputs["checkpoint"], params["batch_size"]
    device = m.device_for(params, "the Spark workers' machine")

    def score_batches(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            yield pd.DataFrame(m.score(frame["id"].to_numpy(), frame["image"].tolist(), ckpt, batch, device))

    df = spark.read.parquet(inputs["path"]).repartition(ctx.cpus)
    rows = df.mapInPandas(score_batches, schema=SCHEMA).collect()
    return m.answer({k: np.array([r[k] for r in rows]) for k in m.COLUMNS}, t0, device, ctx.cpus)


CASES = {"score": score}
NOTES = {"score": "spark.read.parquet, repartition(cores), mapInPandas (iterator of Arrow batches), the model "
                  "cached once per Python worker"}
