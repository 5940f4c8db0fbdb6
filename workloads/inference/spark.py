"""spark (and spark-on-ray's Spark side): `spark.read.parquet` (Spark packs the 8 small files into one
partition per core of `spark.default.parallelism`), and an iterator pandas UDF: the model is loaded once
per Python worker (the reused worker keeps it across tasks and calls) and each Arrow batch is scored in
slices of the scale's batch size; the labels come back with `toPandas()` over Arrow."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from harness.engines.base import EngineContext
from harness.spec import Params
from workloads.inference import model as m

SCHEMA = ", ".join(f"{k} {'long' if v == 'int64' else 'double'}" for k, v in m.COLUMNS.items())


def score(ctx: EngineContext, params: Params, inputs: Any, form: str | None = None) -> dict[str, Any]:
    import pandas as pd

    spark = ctx.handle
    t0 = time.time()
    ckpt, batch = inputs["checkpoint"], params["batch_size"]
    device = m.device_for(params, "the Spark workers' machine")

    def score_batches(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            yield pd.DataFrame(m.score(frame["id"].to_numpy(), frame["image"].tolist(), ckpt, batch, device))

    df = spark.read.parquet(inputs["path"])
    if (form or FORM) == "repartition-rows":
        df = df.repartition(ctx.cpus)
    scored = df.mapInPandas(score_batches, schema=SCHEMA)
    if (form or FORM) == "arrow":
        with arrow(spark):
            got = scored.toPandas()
        return m.answer({k: got[k].to_numpy() for k in m.COLUMNS}, t0, device, ctx.cpus)
    rows = scored.collect()
    return m.answer({k: np.array([r[k] for r in rows]) for k in m.COLUMNS}, t0, device, ctx.cpus)


#: How the scored rows come back: "arrow" (the files' own partitions, `toPandas()` over Arrow),
#: "rows" (the files' own partitions, `collect()` of Row objects) or "repartition-rows" (a shuffle to
#: one partition per core first, the default until the variant study; Spark already splits the 8
#: files into one partition per core). benchmarks/inference_variants.py --engine spark measures them.
FORM = "arrow"


@contextlib.contextmanager
def arrow(spark: Any) -> Iterator[None]:
    """Arrow for `toPandas` in this block only, the session's setting restored after, so no other
    workload's figure depends on whether this one ran first."""
    key = "spark.sql.execution.arrow.pyspark.enabled"
    before = spark.conf.get(key, "false")
    spark.conf.set(key, "true")
    try:
        yield
    finally:
        spark.conf.set(key, before)


CASES = {"score": score}
NOTES = {"score": "spark.read.parquet, mapInPandas (iterator of Arrow batches), the model cached once per Python "
                  "worker, toPandas over Arrow"}
