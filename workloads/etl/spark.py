"""Spark (plain and on Ray): the official TPC-H SQL text through Spark SQL over parquet views, and the
pipeline in the DataFrame API (CSV reader with an all-string schema, casts, window de-duplication,
persist at the stage boundaries, partitionBy write)."""

from __future__ import annotations

from typing import Any

from enginebench import EngineContext, Implementation, Params
from enginebench.workloads.etl import data, pipeline
from enginebench.workloads.etl.spec import QUERIES, TABLES_READ, records, table_path

_TYPES = {"int": "bigint", "money": "decimal(15,2)", "date": "date", "text": "string"}


def _sql(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    spark = ctx.handle
    for table in TABLES_READ[params["query"]]:  # only what the query reads: each view lists its files
        spark.read.parquet(table_path(inputs, table)).createOrReplaceTempView(table)
    return records(spark.sql(data.query_text(params["query"]).rstrip().rstrip(";")).toPandas())


def clean_tables(spark: Any, inputs: Any) -> tuple[dict[str, Any], dict[str, int], list[Any]]:
    """Stage 1 of the pipeline: typed, validated tables (persisted), malformed counts, what to unpersist."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    tables, malformed, cached = {}, {}, []
    for table, keep in pipeline.KEEP.items():
        schema = T.StructType([T.StructField(c, T.StringType()) for c in (*pipeline.RAW_COLUMNS[table], "trailing")])
        raw = spark.read.csv(pipeline.raw_files(inputs, table), schema=schema, sep="|", quote="", header=False)
        # Non-ANSI casts (Spark's default) turn unparseable values into null: that is the test.
        typed = raw.select(*(F.col(c).cast(_TYPES[t]).alias(c) for c, t in keep.items()))
        ok = F.lit(True)
        for c in keep:
            ok = ok & F.col(c).isNotNull()
        if table == "orders":  # a key on more than one parsed row is ambiguous: all its rows go
            copies = F.sum(F.when(ok, 1).otherwise(0)).over(Window.partitionBy("o_orderkey"))
            ok = ok & (copies == 1)
        marked = typed.withColumn("ok", ok).persist()
        cached.append(marked)
        counts = {row["ok"]: row["count"] for row in marked.groupBy("ok").count().collect()}
        if table in ("lineitem", "orders"):
            malformed[table] = int(counts.get(False, 0))
        tables[table] = marked.filter("ok").drop("ok")
    return tables, malformed, cached


def joined_lines(tables: dict[str, Any]) -> Any:
    """Stage 2a: lines joined to their order, customer and nation; ship month; exact DECIMAL revenue."""
    from pyspark.sql import functions as F

    joined = (tables["lineitem"].join(tables["orders"], F.col("l_orderkey") == F.col("o_orderkey"))
              .join(tables["customer"], F.col("o_custkey") == F.col("c_custkey"))
              .join(tables["nation"], F.col("c_nationkey") == F.col("n_nationkey")))
    return joined.select("n_name", F.date_format("l_shipdate", "yyyy-MM").alias("month"), "l_quantity",
                         (F.col("l_extendedprice") * (1 - F.col("l_discount"))).alias("revenue"))  # exact


def aggregate(tables: dict[str, Any]) -> Any:
    """Stage 2: aggregate the joined lines per nation and month (sums exact, then one cast to double)."""
    from pyspark.sql import functions as F

    return (joined_lines(tables).groupBy("n_name", "month")
            .agg(F.count(F.lit(1)).alias("lines"), F.sum("l_quantity").cast("bigint").alias("quantity"),
                 F.sum("revenue").cast("double").alias("revenue")))


def pipeline_(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    spark = ctx.handle
    clock = pipeline.StageClock()
    tables, malformed, cached = clean_tables(spark, inputs)
    try:
        clock.lap("ingest")
        agg = aggregate(tables).persist()
        cached.append(agg)
        agg.count()
        clock.lap("transform")
        out = pipeline.output_dir(inputs, ctx.engine)
        # One file per nation: repartition by the partition column before partitionBy.
        agg.repartition("n_name").write.mode("overwrite").partitionBy("n_name").parquet(out)
        clock.lap("write")
    finally:
        for df in cached:
            df.unpersist()
    return {"out": out, "malformed": malformed, "stages": clock.stages}


CASES: dict[str, Implementation] = {**{f"q{q}": _sql for q in QUERIES}, "pipeline": pipeline_}
NOTES = {**{f"q{q}": "Spark SQL, official query text" for q in QUERIES},
         "pipeline": "DataFrame API: CSV with string schema, non-ANSI casts, window count for duplicate keys"}
