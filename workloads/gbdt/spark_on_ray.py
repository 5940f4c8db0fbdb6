"""spark-on-ray: RayDP's idiom. Spark prepares the table (reads the parquet, casts the label to the int the
training reads), `ray.data.from_spark` hands it to Ray (materialized), and Ray Train's `XGBoostTrainer`
trains exactly as the ray engine's path does (`ray.fit_on_ray`). The Spark side and the hand-off are the
answer's `load_s`, inside each timed call.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from enginebench import EngineContext, Params
from enginebench.workloads.gbdt.data import LABEL
from enginebench.workloads.gbdt.model import plant_frame


def load(ctx: EngineContext, params: Params, inputs: Any, parts: tuple[str, ...]) -> dict[str, Any]:
    import ray.data
    from pyspark.sql import functions as F

    spark = ctx.handle
    out = {}
    for part in parts:
        df = spark.read.parquet(str(inputs["folder"] / part)).withColumn(LABEL, F.col(LABEL).cast("int"))
        if part == "train" and params.get("plant") == "shuffle-labels":  # planted (tests only)
            df = df.mapInPandas(lambda frames: (plant_frame(f, params) for f in frames), schema=df.schema)
        out[part] = ray.data.from_spark(df).materialize()
    return out


def train(ctx: EngineContext, params: Params, inputs: Any, **fit: Any) -> dict[str, Any]:
    from enginebench.workloads.gbdt.ray import load_then_fit

    return load_then_fit(ctx, params, inputs, load, **fit)


CASES = {"train": train}
VARIANTS = {"held-out-auc": {"train": partial(train, evaluate=True)}}
VARIANT_NOTES = {"held-out-auc": "the held-out rows (through Spark too) and their AUC evaluated after every round "
                                 "inside the training, all-reduced across the workers"}
NOTES = {"train": "spark.read.parquet -> ray.data.from_spark (materialized) -> XGBoostTrainer (the ray engine's "
                  "training path)"}
