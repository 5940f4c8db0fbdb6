"""spark-on-ray: Spark reads the parquet, `ray.data.from_spark` (RayDP) hands the rows to Ray's
object store, and Ray Data scores them exactly as the ray engine does (tasks on reused workers, the
model cached per worker process). Decoding happens on the Ray side: the hand-off carries the 3,072-byte rows,
a quarter of the normalized floats' size."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from enginebench import EngineContext, Params, ray_data_settings
from enginebench.workloads.inference.ray import DATA_CONTEXT, score_dataset


def score(ctx: EngineContext, params: Params, inputs: Any, repartition: bool = False) -> dict[str, Any]:
    """`repartition` (a variant): to one partition per core before the hand-off; by default the files'
    own partitions (Spark already packs the 8 files into one partition per core)."""
    import ray.data

    t0 = time.time()
    df = ctx.handle.read.parquet(inputs["path"])
    if repartition:
        df = df.repartition(ctx.cpus)
    with ray_data_settings(**DATA_CONTEXT):  # as the ray engine scores, before the Dataset is made
        return score_dataset(ray.data.from_spark(df), ctx, params, inputs, t0)


CASES = {"score": score}
DEFAULT_VARIANT = "file-partitions"
VARIANTS = {"repartition": {"score": partial(score, repartition=True)}}
VARIANT_NOTES = {"repartition": "repartition(cores) before ray.data.from_spark (a shuffle of the image bytes; the "
                                "default until 2026-11-29)"}
NOTES = {"score": "Spark reads (the files' own partitions), ray.data.from_spark hands over, Ray Data map_batches "
                  "scores as the ray engine does (resource-budget backpressure off for the call)"}
