"""Spark (plain and on Ray through RayDP: both hand over a SparkSession): the DataFrame API only, no
Python UDF. spark.read.json with a declared schema (no inference pass over the files), `lag(ts)` over a
window partitioned by user and ordered by time, a new-session flag where the gap exceeds the threshold,
a running sum of the flags for the session index, groupBy(user, session) for the per-session stats,
then groupBy(length bucket) for the digest. Everything runs in the JVM; only the bucket rows are
collected.
"""

from __future__ import annotations

from typing import Any

from enginebench import EngineContext, Params, cases_of

from .data import HIST_CAP, SCHEMA, digest, gap_ms


def sessionize(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = ctx.handle
    ddl = ", ".join(f"{c} {'STRING' if t == 'string' else 'BIGINT'}" for c, t in SCHEMA.items())
    clicks = spark.read.schema(ddl).json(inputs["dir"])
    by_user = Window.partitionBy("user_id").orderBy("ts")
    gap = F.col("ts") - F.lag("ts").over(by_user)
    # The first click of a user has no previous one (gap null): it opens session 0.
    starts = clicks.withColumn("new", F.when(gap.isNull() | (gap > gap_ms(params)), 1).otherwise(0))
    numbered = starts.withColumn("session", F.sum("new").over(by_user.rowsBetween(Window.unboundedPreceding,
                                                                                  Window.currentRow)) - 1)
    sessions = numbered.groupBy("user_id", "session").agg(
        F.min("ts").alias("start_ts"), F.max("ts").alias("end_ts"), F.count(F.lit(1)).alias("n_events"),
        F.countDistinct("url").alias("n_urls"))
    n = F.col("n_events")
    rows = (sessions.groupBy(F.least(n, F.lit(HIST_CAP)).alias("bucket"))
            .agg(F.count(F.lit(1)).alias("sessions"), F.sum(n).alias("events"),
                 F.sum(F.when(F.col("session") == 0, 1).otherwise(0)).alias("users"),
                 F.sum("session").alias("index_sum"), F.sum(F.col("start_ts") - inputs["t0"]).alias("start_sum"),
                 F.sum(F.col("end_ts") - F.col("start_ts")).alias("duration_sum"),
                 F.sum(F.col("user_id") * n).alias("user_events_sum"), F.sum("n_urls").alias("url_sum"))
            .collect())
    return digest(row.asDict() for row in rows)


CASES = cases_of(sessionize)
NOTES = {"sessionize": "DataFrame API: read.json with a DDL schema, lag(ts) over Window.partitionBy(user_id)."
                       "orderBy(ts), new-session flag, running sum for the index, groupBy(user, session), "
                       "groupBy(length bucket); no Python UDF"}
