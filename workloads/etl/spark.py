"""Spark (plain and on Ray): the official TPC-H SQL text through Spark SQL over parquet views."""

from __future__ import annotations

from typing import Any

from harness.engines.base import EngineContext
from harness.spec import Implementation, Params
from workloads.etl import data
from workloads.etl.spec import records, table_path


def _sql(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    spark = ctx.handle
    for table in data.TABLES:
        spark.read.parquet(table_path(inputs, table)).createOrReplaceTempView(table)
    return records(spark.sql(data.query_text(params["query"]).rstrip().rstrip(";")).toPandas())


CASES: dict[str, Implementation] = {q: _sql for q in ("q1", "q3", "q5", "q6")}
NOTES = {q: "Spark SQL, official query text" for q in ("q1", "q3", "q5", "q6")}
