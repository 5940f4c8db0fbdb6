"""Daft: the TPC-H queries in the DataFrame API as Daft's own TPC-H benchmark writes them
(benchmarking/tpch/answers.py in Daft's repository: `daft.read_parquet` per table, `where`, `join` with
left_on/right_on, `groupby().agg()` of expressions, `sort(desc=...)`, `limit`), their result brought back with
`to_pylist()`; the official SQL text through `daft.sql` is the `sql` variant (answers_sql.py's way).

The pipeline: `daft.read_csv` with an all-string schema (no inference pass), `cast` to Int64, Decimal128(15,2)
and Date (a value that does not parse becomes null: that is the validation), a window count over o_orderkey
for the ambiguous duplicated keys, `collect()` at the stage boundaries (Daft's materialize: the cleaned tables
are used twice, counted then joined), exact DECIMAL revenue summed then cast to Float64, and
`write_parquet(partition_cols=["n_name"])` (hive layout).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

import daft
from daft import DataType, Window, col
from daft.functions import when

from enginebench import EngineContext, Implementation, Params

from . import data, pipeline, tpch
from .spec import QUERIES, TABLES_READ, table_path

_TYPES = {"int": DataType.int64(), "money": DataType.decimal128(15, 2), "date": DataType.date(),
          "text": DataType.string()}
#: How the queries join (None: as Daft's optimizer chooses, the default; the `broadcast-joins` variant names
#: "broadcast" on every join of q3, q5 and q10).
Strategy = Literal["hash", "sort_merge", "broadcast"] | None


def _read(inputs: Any, table: str) -> daft.DataFrame:
    """One table, as Daft's benchmark reads it: every parquet file of the table's folder."""
    return daft.read_parquet(f"{table_path(inputs, table)}/*.parquet")


def _rows(df: daft.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """The result as plain rows in the query's SELECT order (the shape every implementation returns)."""
    return list(df.select(*columns).to_pylist())


def _disc_price() -> daft.Expression:
    return col("l_extendedprice") * (1 - col("l_discount"))


def q1(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    disc_price = _disc_price()
    out = (_read(inputs, "lineitem").where(col("l_shipdate") <= tpch.Q1_SHIPDATE_MAX)
           .groupby(*tpch.Q1_KEYS)
           .agg(col("l_quantity").sum().alias("sum_qty"), col("l_extendedprice").sum().alias("sum_base_price"),
                disc_price.sum().alias("sum_disc_price"), (disc_price * (1 + col("l_tax"))).sum().alias("sum_charge"),
                col("l_quantity").mean().alias("avg_qty"), col("l_extendedprice").mean().alias("avg_price"),
                col("l_discount").mean().alias("avg_disc"), col("l_quantity").count().alias("count_order"))
           .sort(list(tpch.Q1_KEYS)))
    return _rows(out, tpch.Q1_COLUMNS)


def q3(ctx: EngineContext, params: Params, inputs: Any, strategy: Strategy = None) -> list[dict[str, Any]]:
    cut = tpch.Q3_DATE
    customer = _read(inputs, "customer").where(col("c_mktsegment") == tpch.Q3_SEGMENT)
    orders = _read(inputs, "orders").where(col("o_orderdate") < cut)
    lineitem = _read(inputs, "lineitem").where(col("l_shipdate") > cut)
    out = (customer.join(orders, left_on=col("c_custkey"), right_on=col("o_custkey"), strategy=strategy)
           .select("o_orderkey", "o_orderdate", "o_shippriority")
           .join(lineitem, left_on=col("o_orderkey"), right_on=col("l_orderkey"), strategy=strategy)
           .select(col("o_orderkey").alias("l_orderkey"), _disc_price().alias("volume"), "o_orderdate",
                   "o_shippriority")
           .groupby(*tpch.Q3_KEYS).agg(col("volume").sum().alias("revenue"))
           .sort(list(tpch.Q3_SORT_BY), desc=[not asc for asc in tpch.Q3_ASCENDING])
           .limit(tpch.Q3_LIMIT))
    return _rows(out, tpch.Q3_COLUMNS)


def q5(ctx: EngineContext, params: Params, inputs: Any, strategy: Strategy = None) -> list[dict[str, Any]]:
    start, end = tpch.Q5_ORDERDATE
    orders = _read(inputs, "orders").where((col("o_orderdate") >= start) & (col("o_orderdate") < end))
    region = _read(inputs, "region").where(col("r_name") == tpch.Q5_REGION)
    out = (region.join(_read(inputs, "nation"), left_on=col("r_regionkey"), right_on=col("n_regionkey"),
                       strategy=strategy)
           .join(_read(inputs, "supplier"), left_on=col("n_nationkey"), right_on=col("s_nationkey"), strategy=strategy)
           .join(_read(inputs, "lineitem"), left_on=col("s_suppkey"), right_on=col("l_suppkey"), strategy=strategy)
           .select("n_name", "l_extendedprice", "l_discount", "l_orderkey", "n_nationkey")
           .join(orders, left_on=col("l_orderkey"), right_on=col("o_orderkey"), strategy=strategy)
           # the customer must be of the supplier's nation (c_nationkey = s_nationkey): a two-key join
           .join(_read(inputs, "customer"), left_on=[col("o_custkey"), col("n_nationkey")],
                 right_on=[col("c_custkey"), col("c_nationkey")], strategy=strategy)
           .select("n_name", _disc_price().alias("value"))
           .groupby("n_name").agg(col("value").sum().alias("revenue"))
           .sort(list(tpch.Q5_SORT_BY), desc=[not asc for asc in tpch.Q5_ASCENDING]))
    return _rows(out, tpch.Q5_COLUMNS)


def q6(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    (start, end), (low, high) = tpch.Q6_SHIPDATE, tpch.Q6_DISCOUNT
    out = (_read(inputs, "lineitem")
           .where((col("l_shipdate") >= start) & (col("l_shipdate") < end) & (col("l_discount") >= low)
                  & (col("l_discount") <= high) & (col("l_quantity") < tpch.Q6_QUANTITY_BELOW))
           .agg((col("l_extendedprice") * col("l_discount")).sum().alias("revenue")))
    return _rows(out, tpch.Q6_COLUMNS)


def q10(ctx: EngineContext, params: Params, inputs: Any, strategy: Strategy = None) -> list[dict[str, Any]]:
    start, end = tpch.Q10_ORDERDATE
    lineitem = _read(inputs, "lineitem").where(col("l_returnflag") == tpch.Q10_RETURNFLAG)
    out = (_read(inputs, "orders").where((col("o_orderdate") >= start) & (col("o_orderdate") < end))
           .join(_read(inputs, "customer"), left_on=col("o_custkey"), right_on=col("c_custkey"), strategy=strategy)
           .join(_read(inputs, "nation"), left_on=col("c_nationkey"), right_on=col("n_nationkey"), strategy=strategy)
           .join(lineitem, left_on=col("o_orderkey"), right_on=col("l_orderkey"), strategy=strategy)
           .select(col("o_custkey").alias("c_custkey"), "c_name", _disc_price().alias("volume"), "c_acctbal", "n_name",
                   "c_address", "c_phone", "c_comment")
           .groupby(*tpch.Q10_KEYS).agg(col("volume").sum().alias("revenue"))
           .sort(list(tpch.Q10_SORT_BY), desc=[not asc for asc in tpch.Q10_ASCENDING])
           .limit(tpch.Q10_LIMIT))
    return _rows(out, tpch.Q10_COLUMNS)


def sql(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    """The `sql` variant: the official query text through `daft.sql`, each table the query reads bound to
    its `read_parquet` DataFrame by name (Daft's answers_sql.py)."""
    tables = {table: _read(inputs, table) for table in TABLES_READ[params["query"]]}
    return list(daft.sql(data.query_text(params["query"]), **tables).to_pylist())


# -- the pipeline -----------------------------------------------------------------------------------

def _raw(inputs: Any, table: str) -> daft.DataFrame:
    """A raw table's kept columns, typed; `ok` says whether every one of them parsed (a cast that fails
    gives null, never an error)."""
    names = [*pipeline.RAW_COLUMNS[table], "trailing"]
    raw = daft.read_csv(pipeline.raw_files(inputs, table), has_headers=False, delimiter="|", infer_schema=False,
                        schema={c: DataType.string() for c in names})
    keep = pipeline.KEEP[table]
    typed = raw.select(*(col(c).cast(_TYPES[t]).alias(c) for c, t in keep.items()))
    ok = functools.reduce(lambda a, b: a & b, (col(c).not_null() for c in keep))
    if table == "orders":  # a key on more than one parsed row is ambiguous: all its rows go
        copies = when(ok, 1).otherwise(0).sum().over(Window().partition_by("o_orderkey"))
        ok = ok & (copies == 1)
    return typed.with_column("ok", ok)


def pipeline_(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    clock = pipeline.StageClock()
    marked = {table: _raw(inputs, table).collect() for table in pipeline.KEEP}
    malformed = {table: marked[table].where(~col("ok")).count_rows() for table in ("lineitem", "orders")}
    clean = {table: df.where(col("ok")).exclude("ok").collect() for table, df in marked.items()}
    clock.lap("ingest")

    agg = (clean["lineitem"].join(clean["orders"], left_on=col("l_orderkey"), right_on=col("o_orderkey"))
           .join(clean["customer"], left_on=col("o_custkey"), right_on=col("c_custkey"))
           .join(clean["nation"], left_on=col("c_nationkey"), right_on=col("n_nationkey"))
           .select("n_name", col("l_shipdate").strftime("%Y-%m").alias("month"), "l_quantity",
                   _disc_price().alias("revenue"))  # DECIMAL: exact
           .groupby("n_name", "month")
           .agg(col("l_quantity").count().alias("lines"),
                col("l_quantity").sum().cast(DataType.int64()).alias("quantity"),
                col("revenue").sum().cast(DataType.float64()).alias("revenue"))
           .collect())
    clock.lap("transform")

    out = pipeline.output_dir(inputs, ctx.engine)
    agg.write_parquet(out, partition_cols=["n_name"])
    clock.lap("write")
    return {"out": out, "malformed": malformed, "stages": clock.stages}


QUERY_CASES: dict[str, Implementation] = {"q1": q1, "q3": q3, "q5": q5, "q6": q6, "q10": q10}
CASES: dict[str, Implementation] = {**QUERY_CASES, "pipeline": pipeline_}
NOTES = {**{f"q{q}": "Daft DataFrame API as Daft's TPC-H benchmark writes it (read_parquet, where, join, "
                     "groupby().agg(), sort, limit); joins as Daft's optimizer chooses" for q in QUERIES},
         "pipeline": "read_csv with an all-string schema, cast (null when unparseable), window count for duplicate "
                     "keys, collect() at stage boundaries, DECIMAL revenue, write_parquet(partition_cols)"}


def _unordered(query: Implementation) -> Implementation:
    """A case run with Daft's `maintain_order=False` (execution_config_ctx restores the setting afterwards)."""

    @functools.wraps(query)
    def run(ctx: EngineContext, params: Params, inputs: Any) -> Any:
        with daft.execution_config_ctx(maintain_order=False):
            return query(ctx, params, inputs)

    return run


def _with_strategy(query: Callable[..., list[dict[str, Any]]], strategy: Strategy) -> Implementation:
    return functools.partial(query, strategy=strategy)


DEFAULT_VARIANT = "dataframe"
#: What an expert of Daft might write instead (`enginebench variants --workload etl --engines daft`).
VARIANTS: dict[str, dict[str, Implementation]] = {
    "sql": {f"q{q}": sql for q in QUERIES},
    "unordered": {name: _unordered(query) for name, query in CASES.items()},
    "broadcast-joins": {name: _with_strategy(QUERY_CASES[name], "broadcast") for name in ("q3", "q5", "q10")},
}
VARIANT_NOTES = {
    "sql": "the official TPC-H SQL text through daft.sql over a read_parquet DataFrame per table (Daft's "
           "answers_sql.py), instead of the DataFrame API",
    "unordered": "daft.execution_config_ctx(maintain_order=False): operators may emit out of order where the result "
                 "is sorted or aggregated anyway (Daft's docs: for collect() when no ordering is required)",
    "broadcast-joins": "join(strategy=\"broadcast\") on every join instead of the optimizer's choice (Daft's "
                       "join-strategies guide: broadcast the small side instead of a hash join)",
}


def on_ray_runner(impl: Implementation) -> Implementation:
    """A case on Daft's Ray runner over the Ray cluster the ray engine started (`daft.set_runner_ray`, which
    joins the process's Ray connection): the ray engine's `daft-ray-runner` variant, Daft's code under Ray's
    scheduler. Daft sets its runner once per process: where the native runner is set already (the daft engine
    ran earlier in the process), the call fails with Daft's own message instead of running elsewhere."""

    @functools.wraps(impl)
    def run(ctx: EngineContext, params: Params, inputs: Any) -> Any:
        daft.set_runner_ray(noop_if_initialized=True)
        return impl(ctx, params, inputs)

    return run

