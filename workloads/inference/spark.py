"""spark (and spark-on-ray's Spark side): `spark.read.parquet` (Spark packs the 8 small files into one
partition per core of `spark.default.parallelism`), and an iterator pandas UDF: the model is loaded once
per Python worker (the reused worker keeps it across tasks and calls) and each Arrow batch is scored in
slices of the scale's batch size; the labels come back with `toPandas()` over Arrow (which both Spark
lifecycles turn on). `VARIANTS` are the forms this replaced, measured by `enginebench variants`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np

from enginebench import EngineContext, Params
from enginebench.workloads.inference import model as m

SCHEMA = ", ".join(f"{k} {'long' if v == 'int64' else 'double'}" for k, v in m.COLUMNS.items())


def score(ctx: EngineContext, params: Params, inputs: Any, repartition: bool = False,
          rows: bool = False) -> dict[str, Any]:
    """`repartition`: shuffle to one partition per core first; `rows`: `collect()` Row objects instead
    of `toPandas()` (the variants; the default does neither)."""
    import pandas as pd

    spark = ctx.handle
    t0 = time.time()
    ckpt, batch = inputs["checkpoint"], params["batch_size"]
    device = m.device_for(params, "the Spark workers' machine")

    def score_batches(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            yield pd.DataFrame(m.score(frame["id"].to_numpy(), frame["image"].tolist(), ckpt, batch, device))

    df = spark.read.parquet(inputs["path"])
    if repartition:
        df = df.repartition(ctx.cpus)
    scored = df.mapInPandas(score_batches, schema=SCHEMA)
    if rows:
        got = scored.collect()
        return m.answer({k: np.array([r[k] for r in got]) for k in m.COLUMNS}, t0, device, ctx.cpus)
    frame = scored.toPandas()
    return m.answer({k: frame[k].to_numpy() for k in m.COLUMNS}, t0, device, ctx.cpus)


CASES = {"score": score}
DEFAULT_VARIANT = "arrow"
VARIANTS = {
    "rows": {"score": partial(score, rows=True)},
    "repartition-rows": {"score": partial(score, repartition=True, rows=True)},
    "repartition-arrow": {"score": partial(score, repartition=True)},
}
VARIANT_NOTES = {
    "rows": "collect() of Row objects, each column rebuilt from them",
    "repartition-rows": "repartition(cores) first (a shuffle of the image bytes), then collect() of Rows: the "
                        "default until 2026-11-29",
    "repartition-arrow": "repartition(cores) first, then toPandas over Arrow",
}
NOTES = {"score": "spark.read.parquet, mapInPandas (iterator of Arrow batches), the model cached once per Python "
                  "worker, toPandas over Arrow"}
