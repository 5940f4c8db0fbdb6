"""spark: `xgboost.spark.SparkXGBClassifier` on plain Spark, as XGBoost's PySpark tutorial writes it.

`spark.read.parquet` for the training and test rows, one DataFrame with a boolean `is_test` column that
`validation_indicator_col` names (XGBoost's way of giving a held-out set to a Spark estimator: those rows
become each worker's eval DMatrix, never trained on). The features assembled into one vector column
(`VectorAssembler`, Spark ML's estimator input), `num_workers` = the budget's CPUs (one barrier task per
XGBoost worker, `nthread` = `spark.task.cpus`), `force_repartition=True` as its docs recommend. The reading
happens inside `fit`, so the answer's `load_s` is 0 and `job_start_s` (until the first round begins) holds it.

XGBoost also takes a list of feature columns (read from Arrow batches without a vector); that is the
`feature-columns` variant, which needs a workaround here: XGBoost 3.2 fails on any Arrow batch that holds no
held-out rows (`KeyError: 'values'` in xgboost/spark/data.py `append_m`), and a repartition hands a worker
the training rows and the held-out rows in separate runs, so the variant shuffles rows within each partition.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from enginebench import EngineContext, Params
from enginebench.workloads.gbdt.data import FEATURES, LABEL
from enginebench.workloads.gbdt.model import answer, clock, device, plant_frame, rounds

#: The column that marks held-out rows for `validation_indicator_col`.
IS_TEST = "is_test"


def table(spark: Any, params: Params, inputs: Any) -> Any:
    """Training rows (with the planted bugs when planted) and test rows as one DataFrame, `is_test` marking the
    held-out ones."""
    from pyspark.sql import functions as F

    train = spark.read.parquet(str(inputs["folder"] / "train"))
    if params.get("plant") == "drop-shard":  # planted (tests only): the first partition's rows lost
        train = train.where(F.spark_partition_id() != 0)
    if params.get("plant") == "shuffle-labels":  # planted (tests only)
        train = train.mapInPandas(lambda frames: (plant_frame(f, params) for f in frames), schema=train.schema)
    test = spark.read.parquet(str(inputs["folder"] / "test"))
    return train.withColumn(IS_TEST, F.lit(False)).unionByName(test.withColumn(IS_TEST, F.lit(True)))


def spark_gpus(spark: Any) -> bool:
    conf = spark.sparkContext.getConf()
    return float(conf.get("spark.task.resource.gpu.amount", "0") or 0) > 0


def train(ctx: EngineContext, params: Params, inputs: Any, columns: bool = False) -> dict[str, Any]:
    """columns: the features as a list of columns instead of one assembled vector column."""
    from xgboost.spark import SparkXGBClassifier

    t0 = time.time()
    spark = ctx.handle
    dev = device(params, spark_gpus(spark), "Spark's tasks (spark.task.resource.gpu.amount)")
    df = table(spark, params, inputs)
    features: Any = "features"
    if columns:
        from pyspark.sql import functions as F

        features = list(FEATURES)
        df = df.repartition(ctx.cpus).sortWithinPartitions(F.rand(params["seed"]))
    else:
        from pyspark.ml.feature import VectorAssembler

        df = VectorAssembler(inputCols=list(FEATURES), outputCol=features).transform(df)
    workers = ctx.cpus if dev == "cpu" else max(1, int(float(spark.sparkContext.getConf().get(
        "spark.executor.resource.gpu.amount", "1"))))
    classifier = SparkXGBClassifier(
        features_col=features, label_col=LABEL, validation_indicator_col=IS_TEST, num_workers=workers,
        force_repartition=not columns,
        device=dev, tree_method="hist", max_depth=params["max_depth"], learning_rate=params["eta"],
        max_bin=params["max_bin"], min_child_weight=params["min_child_weight"], random_state=params["seed"],
        n_estimators=rounds(params), eval_metric="auc", callbacks=[clock(t0)])
    booster = classifier.fit(df).get_booster()
    return answer(booster, t0=t0, load_s=0.0, workers=workers, threads=1, dev=dev, api="SparkXGBClassifier")


CASES = {"train": train}
DEFAULT_VARIANT = "vector"
VARIANTS = {"feature-columns": {"train": partial(train, columns=True)}}
VARIANT_NOTES = {"feature-columns": "features_col = the 28 columns (no VectorAssembler), rows shuffled within "
                                    "each of CPUs partitions so every Arrow batch holds held-out rows"}
NOTES = {"train": "spark.read.parquet -> VectorAssembler -> xgboost.spark.SparkXGBClassifier(num_workers = CPUs, "
                  "validation_indicator_col for the held-out rows)"}
