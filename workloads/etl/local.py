"""local: DuckDB in this process (threads = budget CPUs, memory_limit = the budget): the official
TPC-H SQL over the parquet files, and the pipeline as SQL over read_csv with TRY_CAST validation and
COPY ... PARTITION_BY."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
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


def _sql(ctx: EngineContext, params: Params, inputs: Any,
         setup: Callable[[Any, Any], None] = create_views) -> list[dict[str, Any]]:
    """The query on a new connection, its tables made by `setup(con, inputs)` (the variants change it)."""
    con = ctx.handle.duckdb()
    try:
        setup(con, inputs)
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


def _unordered_views(con: Any, inputs: Any) -> None:
    con.execute("SET preserve_insertion_order = false")
    create_views(con, inputs)


def _arrow_tables(con: Any, inputs: Any) -> None:
    """Every TPC-H table as a pyarrow dataset over its parquet files (a DuckDB replacement scan)."""
    import pyarrow.dataset as ds

    for table in data.TABLES:
        con.register(table, ds.dataset(table_path(inputs, table), format="parquet"))


#: The `long-lived-connection` variant's connections: per engine handle (a restart or a new budget gets new
#: ones), per data folder (the views are made once). The local engine has no hook that runs at its stop, so
#: the entry goes when the handle is released and a finalizer closes the connection then.
_LONG_LIVED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _close_all(connections: dict[str, Any]) -> None:
    for con in connections.values():
        con.close()
    connections.clear()


def _long_lived(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    """The query on one connection kept for the engine's life: made on the first call (a warm-up), with the
    parquet metadata cache on and the views made once."""
    connections = _LONG_LIVED.get(ctx.handle)
    if connections is None:
        connections = _LONG_LIVED[ctx.handle] = {}
        weakref.finalize(ctx.handle, _close_all, connections)
    con = connections.get(inputs["dir"])
    if con is None:
        con = ctx.handle.duckdb()
        con.execute("SET parquet_metadata_cache = true")
        create_views(con, inputs)
        connections[inputs["dir"]] = con
    return records(con.execute(data.query_text(params["query"])).fetchdf())


#: The variant study (docs/studies/2026-11-24-etl-variants.md): what an expert of DuckDB might write instead.
VARIANTS: dict[str, dict[str, Implementation]] = {
    "long-lived-connection": {f"q{q}": _long_lived for q in QUERIES},
    "insertion-order-off": {f"q{q}": functools.partial(_sql, setup=_unordered_views) for q in QUERIES},
    "pyarrow-datasets": {f"q{q}": functools.partial(_sql, setup=_arrow_tables) for q in QUERIES},
}
VARIANT_NOTES = {
    "long-lived-connection": "one connection for the engine's life, the views made once and the parquet metadata "
                             "cache on, instead of a new connection and views per query",
    "insertion-order-off": "SET preserve_insertion_order = false on the query's connection",
    "pyarrow-datasets": "the tables handed to DuckDB as pyarrow datasets (replacement scans) instead of views over "
                        "read_parquet",
}
