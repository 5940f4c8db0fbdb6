"""local: DuckDB in this process, the official TPC-H SQL over the parquet files (threads = budget CPUs)."""

from __future__ import annotations

from typing import Any

from harness.engines.base import EngineContext
from harness.spec import Implementation, Params
from workloads.etl import data
from workloads.etl.spec import records, table_path


def _sql(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {ctx.cpus}")
        for table in data.TABLES:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{table_path(inputs, table)}/*.parquet')")
        return records(con.execute(data.query_text(params["query"])).fetchdf())
    finally:
        con.close()


CASES: dict[str, Implementation] = {q: _sql for q in ("q1", "q3", "q5", "q6")}
NOTES = {q: "DuckDB, official query text" for q in ("q1", "q3", "q5", "q6")}
