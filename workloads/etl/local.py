"""local: DuckDB in this process (threads = budget CPUs, memory_limit = the budget): the official
TPC-H SQL over the parquet files, on one connection kept for the engine's life (its views made once),
and the pipeline as SQL over read_csv with TRY_CAST validation and COPY ... PARTITION_BY."""

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


#: The engine's connections, as a DuckDB application keeps its database connection: per engine handle (a
#: restart or a new budget gets new ones) and per data folder (the views are made once). The local engine
#: has no hook that runs at its stop, so the entry goes when the handle is released, and a finalizer
#: closes the connections then.
_CONNECTIONS: weakref.WeakKeyDictionary[Any, dict[tuple[str, bool], Any]] = weakref.WeakKeyDictionary()


def _close_all(connections: dict[tuple[str, bool], Any]) -> None:
    for con in connections.values():
        con.close()
    connections.clear()


def engine_connection(ctx: EngineContext, inputs: Any, metadata_cache: bool = False) -> Any:
    """The engine's connection for this data folder, made on the first query (a warm-up) with the views;
    DuckDB's parquet metadata cache as it comes (off), or on (the `metadata-cache` variant)."""
    connections = _CONNECTIONS.get(ctx.handle)
    if connections is None:
        connections = _CONNECTIONS[ctx.handle] = {}
        weakref.finalize(ctx.handle, _close_all, connections)
    key = (str(inputs["dir"]), metadata_cache)
    con = connections.get(key)
    if con is None:
        con = ctx.handle.duckdb()
        if metadata_cache:
            con.execute("SET parquet_metadata_cache = true")
        create_views(con, inputs)
        connections[key] = con
    return con


def query(ctx: EngineContext, params: Params, inputs: Any, metadata_cache: bool = False) -> list[dict[str, Any]]:
    """The query on the engine's connection (each query gets its own cursor, DuckDB's way to run
    statements on one database from one connection)."""
    cursor = engine_connection(ctx, inputs, metadata_cache).cursor()
    try:
        return records(cursor.execute(data.query_text(params["query"])).fetchdf())
    finally:
        cursor.close()


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


CASES: dict[str, Implementation] = {**{f"q{q}": query for q in QUERIES}, "pipeline": pipeline_}
NOTES = {**{f"q{q}": "DuckDB, official query text, on the engine's connection" for q in QUERIES},
         "pipeline": "DuckDB SQL: read_csv all VARCHAR, TRY_CAST, QUALIFY for duplicate keys, COPY PARTITION_BY"}


def _unordered_views(con: Any, inputs: Any) -> None:
    con.execute("SET preserve_insertion_order = false")
    create_views(con, inputs)


def _arrow_tables(con: Any, inputs: Any) -> None:
    """Every TPC-H table as a pyarrow dataset over its parquet files (a DuckDB replacement scan)."""
    import pyarrow.dataset as ds

    for table in data.TABLES:
        con.register(table, ds.dataset(table_path(inputs, table), format="parquet"))


#: The variant studies (docs/studies/2026-11-24-etl-variants.md, docs/workloads/etl.md): what an expert of
#: DuckDB might write instead.
VARIANTS: dict[str, dict[str, Implementation]] = {
    "connection-per-query": {f"q{q}": _sql for q in QUERIES},
    "metadata-cache": {f"q{q}": functools.partial(query, metadata_cache=True) for q in QUERIES},
    "insertion-order-off": {f"q{q}": functools.partial(_sql, setup=_unordered_views) for q in QUERIES},
    "pyarrow-datasets": {f"q{q}": functools.partial(_sql, setup=_arrow_tables) for q in QUERIES},
}
VARIANT_NOTES = {
    "connection-per-query": "a new connection and its views per query (the default until 2026-12-07)",
    "metadata-cache": "the engine's connection with DuckDB's parquet metadata cache on (footers read once and "
                      "kept across queries)",
    "insertion-order-off": "SET preserve_insertion_order = false on a new connection per query",
    "pyarrow-datasets": "the tables handed to DuckDB as pyarrow datasets (replacement scans) on a new connection "
                        "per query, instead of views over read_parquet",
}
