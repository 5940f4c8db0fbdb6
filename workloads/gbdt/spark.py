"""spark: `xgboost.spark.SparkXGBClassifier` on plain Spark, as XGBoost's PySpark tutorial writes it.

`spark.read.parquet` for the training rows. Like every engine's default, nothing is evaluated inside the
training (the held-out AUC curve is computed from the model afterwards): no `eval_metric`, and
`disable_default_eval_metric`, because xgboost.spark evaluates the training rows every round whatever it is
given (`[(dtrain, "training"), (dvalid, "validation")]` in xgboost/spark/core.py) and with `eval_metric="auc"`
that sorts every training row each round. The `held-out-auc` variant gives it the test rows the way XGBoost's
Spark docs do: one DataFrame with a boolean `is_test` column that `validation_indicator_col` names (those rows
become each worker's eval DMatrix, never trained on), AUC evaluated on both sets every round (the training
rows' as well: xgboost.spark has no way to leave them out). The features assembled into one vector column
(`VectorAssembler`, Spark ML's estimator input), `num_workers` = the budget's CPUs (one barrier task per
XGBoost worker, `nthread` = `spark.task.cpus`), `force_repartition=True` as its docs recommend. The reading
happens inside `fit`, so the answer's `load_s` is 0 and `job_start_s` (until the first round begins) holds it.

XGBoost also takes a list of feature columns (read from Arrow batches without a vector); that is the
`feature-columns` variant. With held-out rows it needs a workaround: XGBoost 3.2 fails on any Arrow batch that
holds none (`KeyError: 'values'` in xgboost/spark/data.py `append_m`), and a repartition hands a worker the
training rows and the held-out rows in separate runs, so then the rows are shuffled within each partition.
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


def table(spark: Any, params: Params, inputs: Any, evaluate: bool) -> Any:
    """Training rows (with the planted bugs when planted); evaluate: the test rows too, in one DataFrame,
    `is_test` marking the held-out ones."""
    from pyspark.sql import functions as F

    train = spark.read.parquet(str(inputs["folder"] / "train"))
    if params.get("plant") == "drop-shard":  # planted (tests only): the first partition's rows lost
        train = train.where(F.spark_partition_id() != 0)
    if params.get("plant") == "shuffle-labels":  # planted (tests only)
        train = train.mapInPandas(lambda frames: (plant_frame(f, params) for f in frames), schema=train.schema)
    if not evaluate:
        return train
    test = spark.read.parquet(str(inputs["folder"] / "test"))
    return train.withColumn(IS_TEST, F.lit(False)).unionByName(test.withColumn(IS_TEST, F.lit(True)))


def spark_gpus(spark: Any) -> bool:
    conf = spark.sparkContext.getConf()
    return float(conf.get("spark.task.resource.gpu.amount", "0") or 0) > 0


def train(ctx: EngineContext, params: Params, inputs: Any, columns: bool = False,
          evaluate: bool = False) -> dict[str, Any]:
    """columns: the features as a list of columns instead of one assembled vector column; evaluate: the AUC of
    the held-out rows (and, unavoidably, of the training rows) after every round."""
    from xgboost.spark import SparkXGBClassifier

    t0 = time.time()
    spark = ctx.handle
    dev = device(params, spark_gpus(spark), "Spark's tasks (spark.task.resource.gpu.amount)")
    df = table(spark, params, inputs, evaluate)
    features: Any = "features"
    if columns:
        from pyspark.sql import functions as F

        features = list(FEATURES)
        df = df.repartition(ctx.cpus)
        if evaluate:
            df = df.sortWithinPartitions(F.rand(params["seed"]))
    else:
        from pyspark.ml.feature import VectorAssembler

        df = VectorAssembler(inputCols=list(FEATURES), outputCol=features).transform(df)
    workers = ctx.cpus if dev == "cpu" else max(1, int(float(spark.sparkContext.getConf().get(
        "spark.executor.resource.gpu.amount", "1"))))
    evaluation: dict[str, Any] = ({"validation_indicator_col": IS_TEST, "eval_metric": "auc"} if evaluate
                                  else {"disable_default_eval_metric": True})
    classifier = SparkXGBClassifier(
        features_col=features, label_col=LABEL, num_workers=workers, force_repartition=not columns,
        device=dev, tree_method="hist", max_depth=params["max_depth"], learning_rate=params["eta"],
        max_bin=params["max_bin"], min_child_weight=params["min_child_weight"], random_state=params["seed"],
        n_estimators=rounds(params), callbacks=[clock(t0, "validation")], **evaluation)
    booster = classifier.fit(df).get_booster()
    return answer(booster, t0=t0, load_s=0.0, workers=workers, threads=1, dev=dev, api="SparkXGBClassifier")


CASES = {"train": train}
DEFAULT_VARIANT = "vector"
VARIANTS = {"held-out-auc": {"train": partial(train, evaluate=True)},
            "feature-columns": {"train": partial(train, columns=True)}}
VARIANT_NOTES = {"held-out-auc": "the test rows under validation_indicator_col, eval_metric auc: xgboost.spark "
                                 "evaluates the training rows and the held-out rows after every round",
                 "feature-columns": "features_col = the 28 columns (no VectorAssembler), repartitioned to CPUs "
                                    "partitions"}
NOTES = {"train": "spark.read.parquet -> VectorAssembler -> xgboost.spark.SparkXGBClassifier(num_workers = CPUs, "
                  "no evaluation inside the training)"}
