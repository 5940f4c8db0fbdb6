"""local: DuckDB in this process (threads = budget CPUs, memory_limit = the budget): the official
TPC-H SQL over the parquet files, and the pipeline as SQL over read_csv with TRY_CAST validation and
COPY ... PARTITION_BY."""

from __future__ import annotations

from typing import Any

from enginebench import EngineContext, Implementation, Params
from enginebench.workloads.etl import data, pipeline
from enginebench.workloads.etl.spec import QUERIES, records, table_path

_CAST = {"int": "TRY_CAST({c} AS BIGINT)", "money": "TRY_CAST({c} AS DECIMAL(15,2))",
         "date": "CAST(TRY_STRPTIME({c}, '%Y-%m-%d') AS DATE)", "text": "{c}"}


def create_views(con: Any, inputs: Any) -> None:
    """Every TPC-H table as a view over its parquet files."""
    for table in data.TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{table_path(inputs, table)}/*.parquet')")


def _sql(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    con = ctx.handle.duckdb()
    try:
        create_views(con, inputs)
        return records(con.execute(data.query_text(params["query"])).fetchdf())
    finally:
        con.close()


def pipeline_(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    con = ctx.handle.duckdb()
    malformed: dict[str, int] = {}
    try:
        clock = pipeline.StageClock()
        for table, keep in pipeline.KEEP.items():
            columns = {c: "VARCHAR" for c in (*pipeline.RAW_COLUMNS[table], "trailing")}
            typed = ", ".join(_CAST[t].format(c=c) + f" AS {c}" for c, t in keep.items())
            valid = " AND ".join(f"{c} IS NOT NULL" for c in keep)
            files = pipeline.raw_files(inputs, table)
            con.execute(f"CREATE TABLE typed_{table} AS SELECT {typed} FROM read_csv({files}, "
                        f"delim='|', header=false, quote='', escape='', columns={columns})")
            unique = "QUALIFY count(*) OVER (PARTITION BY o_orderkey) = 1" if table == "orders" else ""
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM typed_{table} WHERE {valid} {unique}")
            dropped = con.execute(f"SELECT (SELECT count(*) FROM typed_{table}) - (SELECT count(*) FROM {table})")
            if table in ("lineitem", "orders"):
                malformed[table] = int(dropped.fetchone()[0])
        clock.lap("ingest")
        con.execute("""
            CREATE TABLE agg AS
            SELECT n_name, strftime(l_shipdate, '%Y-%m') AS month, count(*) AS lines,
                   CAST(sum(l_quantity) AS BIGINT) AS quantity,
                   CAST(sum(l_extendedprice * (1 - l_discount)) AS DOUBLE) AS revenue  -- exact DECIMAL sum
            FROM lineitem JOIN orders ON l_orderkey = o_orderkey JOIN customer ON o_custkey = c_custkey
                 JOIN nation ON c_nationkey = n_nationkey
            GROUP BY n_name, month""")
        clock.lap("transform")
        out = pipeline.output_dir(inputs, ctx.engine)
        con.execute(f"COPY agg TO '{out}' (FORMAT parquet, PARTITION_BY (n_name))")
        clock.lap("write")
    finally:
        con.close()
    return {"out": out, "malformed": malformed, "stages": clock.stages}


CASES: dict[str, Implementation] = {**{f"q{q}": _sql for q in QUERIES}, "pipeline": pipeline_}
NOTES = {**{f"q{q}": "DuckDB, official query text" for q in QUERIES},
         "pipeline": "DuckDB SQL: read_csv all VARCHAR, TRY_CAST, QUALIFY for duplicate keys, COPY PARTITION_BY"}
