"""The etl variant study: is each engine's implementation within 1.25x of the best variant an expert
would try? Times each variant on the same data with the same engine lifecycle enginebench uses, checks
every answer against DuckDB's published answers, and prints warm medians and the ratio to the fastest.

    python benchmarks/etl_variants.py --engine ray   [--sf 1] [--repeat 3] [--queries 1,3,5,6,10]
    python benchmarks/etl_variants.py --engine dask  [--sf 1] [--repeat 3]
    python benchmarks/etl_variants.py --engine spark [--sf 1] [--repeat 3]
    python benchmarks/etl_variants.py --engine local [--sf 1] [--repeat 3]

Variants:
- dask: the shuffle method of merges and group-bys (`dataframe.shuffle.method`: p2p, the default, vs
  tasks); for Q10's high-cardinality group-by split_out=1 (default) vs split_out=cpus; and Q10 grouped on
  the key alone with predicates pushed into read_parquet (the default, as Ray Data does it) vs the
  textbook join of four tables grouped on all seven columns; and broadcast=True on every merge of Q3,
  Q5 and Q10 (the default since this study found Q5 2.3x faster with it at SF 1) vs Dask's own
  choice (broadcast only when one side has few partitions).
- ray (Ray Data): the default (parquet datasource V1 for small inputs and V2 from 10 MiB, pull-based
  sort shuffle, broadcast joins of dimension-sized sides) against V1 and V2 for every size, the hash
  shuffle, Dataset.join for every join (Q3, Q10; Q5's five joins as Dataset.join did not finish in 3
  minutes at SF 0.01 on 2 CPUs), and for Q1 a map-side partial aggregation (a pandas group-by per batch
  in map_batches, then a group-by of the partial sums).
- spark: the official SQL text (what enginebench runs) vs the same query in the DataFrame API, and
  spark.sql.shuffle.partitions = 2 x cpus (enginebench's setting) vs Spark's default 200.
- local (DuckDB): a connection per query with views over read_parquet (the default) vs one long-lived
  connection with the object cache, preserve_insertion_order=false, and pyarrow datasets as tables.
Every variant's answer is checked against the published answer; every query is in the study.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from enginebench.budget import Budget
from enginebench.engines.base import Endpoints, EngineContext
from enginebench.workloads.etl import data, tpch
from enginebench.workloads.etl.spec import WORKLOAD, check_answer, prepare, records, table_path

#: The queries in the study (--queries).
QUERIES: list[int] = [1, 3, 5, 6, 10]


def _time_interleaved(variants: dict[str, Callable[[], Any]], inputs: dict[int, dict[str, Any]],
                      repeat: int) -> dict[str, tuple[float, str]]:
    """One warm-up each, then `repeat` rounds that run every variant once: a query's variants one after
    another, in an order rotated each round, so JIT warm-up, background noise and the cost of
    following another query do not favour one position; median per variant."""
    for name, fn in variants.items():
        t0 = time.perf_counter()
        fn()
        print(f"  warm-up {name}: {time.perf_counter() - t0:.2f} s", flush=True)
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    verdicts: dict[str, str] = {name: "ok" for name in variants}
    groups: dict[str, list[str]] = {}  # a query's variants run together, their order rotated per round
    for name in variants:
        groups.setdefault(name.split()[0], []).append(name)
    for r in range(repeat):
        for group in groups.values():
            for name in group[r % len(group):] + group[:r % len(group)]:
                fn = variants[name]
                t0 = time.perf_counter()
                answer = fn()
                seconds[name].append(time.perf_counter() - t0)
                verdict = check_answer(answer, {}, inputs[int(name.split()[0][1:])])
                if not verdict.ok:
                    verdicts[name] = verdict.reason
    return {name: (statistics.median(s), verdicts[name]) for name, s in seconds.items()}


def dask_variants(ctx: EngineContext, inputs: dict[int, dict[str, Any]]) -> dict[str, Callable[[], Any]]:
    import dask

    from enginebench.workloads.etl import dask as impl

    def with_method(method: str, query: int) -> Callable[[], Any]:
        def run() -> Any:
            with dask.config.set({"dataframe.shuffle.method": method}):
                return impl.CASES[f"q{query}"](ctx, {}, inputs[query])
        return run

    def q10_split_out() -> Any:
        return impl.q10(ctx, {}, inputs[10], split_out=ctx.cpus)

    def dask_chooses(query: int) -> Callable[[], Any]:
        def run() -> Any:
            impl.BROADCAST = None
            try:
                return impl.CASES[f"q{query}"](ctx, {}, inputs[query])
            finally:
                impl.BROADCAST = True
        return run

    variants = {f"q{q} shuffle={m}": with_method(m, q) for q in QUERIES for m in ("p2p", "tasks")}
    for q in (3, 5, 10):
        if q in QUERIES:
            variants[f"q{q} merges as Dask chooses (p2p)"] = dask_chooses(q)
    if 10 in QUERIES:
        variants["q10 split_out=cpus (p2p)"] = q10_split_out
        variants["q10 all seven keys, no filters pushed (p2p)"] = lambda: impl.q10_all_keys(ctx, {}, inputs[10])
    return variants


def spark_variants(ctx: EngineContext, inputs: dict[int, dict[str, Any]]) -> dict[str, Callable[[], Any]]:
    from pyspark.sql import functions as F

    from enginebench.workloads.etl import spark as impl

    spark = ctx.handle
    default_partitions = spark.conf.get("spark.sql.shuffle.partitions")

    def sql(query: int, partitions: str) -> Callable[[], Any]:
        def run() -> Any:
            spark.conf.set("spark.sql.shuffle.partitions", partitions)
            try:
                return impl.CASES[f"q{query}"](ctx, {"query": query}, inputs[query])
            finally:
                spark.conf.set("spark.sql.shuffle.partitions", default_partitions)
        return run

    def read(query: int, table: str) -> Any:
        return spark.read.parquet(table_path(inputs[query], table))

    disc = F.col("l_extendedprice") * (1 - F.col("l_discount"))

    def q1_dataframe() -> Any:
        li = read(1, "lineitem")
        out = (li.filter(F.col("l_shipdate") <= F.lit(tpch.Q1_SHIPDATE_MAX))
               .groupBy(*tpch.Q1_KEYS)
               .agg(F.sum("l_quantity").alias("sum_qty"), F.sum("l_extendedprice").alias("sum_base_price"),
                    F.sum(disc).alias("sum_disc_price"), F.sum(disc * (1 + F.col("l_tax"))).alias("sum_charge"),
                    F.avg("l_quantity").alias("avg_qty"), F.avg("l_extendedprice").alias("avg_price"),
                    F.avg("l_discount").alias("avg_disc"), F.count(F.lit(1)).alias("count_order"))
               .orderBy(*tpch.Q1_KEYS).select(*tpch.Q1_COLUMNS))
        return records(out.toPandas())

    def q3_dataframe() -> Any:
        cut = F.lit(tpch.Q3_DATE)
        c = read(3, "customer").filter(F.col("c_mktsegment") == tpch.Q3_SEGMENT)
        o = read(3, "orders").filter(F.col("o_orderdate") < cut)
        li = read(3, "lineitem").filter(F.col("l_shipdate") > cut)
        out = (c.join(o, F.col("c_custkey") == F.col("o_custkey")).join(li, F.col("l_orderkey") == F.col("o_orderkey"))
               .groupBy(*tpch.Q3_KEYS)
               .agg(F.sum(disc).alias("revenue"))
               .orderBy(*tpch.Q3_SORT_BY, ascending=list(tpch.Q3_ASCENDING)).limit(tpch.Q3_LIMIT)
               .select(*tpch.Q3_COLUMNS))
        return records(out.toPandas())

    def q5_dataframe() -> Any:
        start, end = (F.lit(d) for d in tpch.Q5_ORDERDATE)
        o = read(5, "orders").filter((F.col("o_orderdate") >= start) & (F.col("o_orderdate") < end))
        asia = read(5, "region").filter(F.col("r_name") == tpch.Q5_REGION).join(
            read(5, "nation"), F.col("r_regionkey") == F.col("n_regionkey"))
        out = (read(5, "lineitem").join(o, F.col("l_orderkey") == F.col("o_orderkey"))
               .join(read(5, "customer"), F.col("o_custkey") == F.col("c_custkey"))
               .join(read(5, "supplier"), (F.col("l_suppkey") == F.col("s_suppkey"))
                     & (F.col("c_nationkey") == F.col("s_nationkey")))
               .join(asia, F.col("s_nationkey") == F.col("n_nationkey"))
               .groupBy("n_name").agg(F.sum(disc).alias("revenue"))
               .orderBy(F.col("revenue").desc()).select(*tpch.Q5_COLUMNS))
        return records(out.toPandas())

    def q6_dataframe() -> Any:
        (start, end), (low, high) = tpch.Q6_SHIPDATE, tpch.Q6_DISCOUNT
        out = (read(6, "lineitem").filter((F.col("l_shipdate") >= F.lit(start)) & (F.col("l_shipdate") < F.lit(end))
                         & F.col("l_discount").between(low, high) & (F.col("l_quantity") < tpch.Q6_QUANTITY_BELOW))
               .agg(F.sum(F.col("l_extendedprice") * F.col("l_discount")).alias("revenue")))
        return records(out.toPandas())

    def q10_dataframe() -> Any:
        start, end = (F.lit(d) for d in tpch.Q10_ORDERDATE)
        o = read(10, "orders").filter((F.col("o_orderdate") >= start) & (F.col("o_orderdate") < end))
        li = read(10, "lineitem").filter(F.col("l_returnflag") == tpch.Q10_RETURNFLAG)
        out = (read(10, "customer").join(o, F.col("c_custkey") == F.col("o_custkey"))
               .join(li, F.col("l_orderkey") == F.col("o_orderkey"))
               .join(read(10, "nation"), F.col("c_nationkey") == F.col("n_nationkey"))
               .groupBy(*tpch.Q10_KEYS)
               .agg(F.sum(disc).alias("revenue"))
               .orderBy(F.col("revenue").desc()).limit(tpch.Q10_LIMIT).select(*tpch.Q10_COLUMNS))
        return records(out.toPandas())

    dataframe = {1: q1_dataframe, 3: q3_dataframe, 5: q5_dataframe, 6: q6_dataframe, 10: q10_dataframe}
    variants: dict[str, Callable[[], Any]] = {}
    for q in QUERIES:
        variants[f"q{q} SQL, partitions={default_partitions}"] = sql(q, default_partitions)
        variants[f"q{q} SQL, partitions=200"] = sql(q, "200")
        variants[f"q{q} DataFrame API"] = dataframe[q]
    return variants


def local_variants(ctx: EngineContext, inputs: dict[int, dict[str, Any]]) -> dict[str, Callable[[], Any]]:
    """DuckDB: the default (a fresh connection per query, views over read_parquet, threads and
    memory_limit from the budget) against one long-lived connection with the views made once and the
    parquet metadata cache on, insertion order not preserved, and the tables handed to DuckDB as
    pyarrow datasets (replacement scans) instead of read_parquet."""
    import pyarrow.dataset as ds

    from enginebench.workloads.etl import local as impl

    shared = impl._connect(ctx)
    shared.execute("SET enable_object_cache = true")
    impl.create_views(shared, inputs[QUERIES[0]])

    def default(query: int) -> Callable[[], Any]:
        return lambda: impl.CASES[f"q{query}"](ctx, {"query": query}, inputs[query])

    def long_lived(query: int) -> Callable[[], Any]:
        return lambda: records(shared.execute(data.query_text(query)).fetchdf())

    def fresh(query: int, setup: Callable[[Any], None]) -> Callable[[], Any]:
        """A connection per query, like the default, with `setup` in place of the default's views."""
        def run() -> Any:
            con = impl._connect(ctx)
            try:
                setup(con)
                return records(con.execute(data.query_text(query)).fetchdf())
            finally:
                con.close()
        return run

    def unordered(query: int) -> Callable[[], Any]:
        def setup(con: Any) -> None:
            con.execute("SET preserve_insertion_order = false")
            impl.create_views(con, inputs[query])
        return fresh(query, setup)

    def arrow(query: int) -> Callable[[], Any]:
        def setup(con: Any) -> None:
            for table in data.TABLES:
                con.register(table, ds.dataset(table_path(inputs[query], table), format="parquet"))
        return fresh(query, setup)

    variants: dict[str, Callable[[], Any]] = {}
    for q in QUERIES:
        variants[f"q{q} default"] = default(q)
        variants[f"q{q} long-lived connection, object cache"] = long_lived(q)
        variants[f"q{q} preserve_insertion_order=false"] = unordered(q)
        variants[f"q{q} pyarrow datasets"] = arrow(q)
    return variants


def ray_variants(ctx: EngineContext, inputs: dict[int, dict[str, Any]]) -> dict[str, Callable[[], Any]]:
    import ray.data
    from ray.data.aggregate import Sum

    from enginebench.workloads.etl import ray as impl

    def with_settings(query: int, broadcast: bool = True, **context: Any) -> Callable[[], Any]:
        def run() -> Any:
            saved, rows = dict(impl.DATA_CONTEXT), impl.BROADCAST_ROWS
            impl.DATA_CONTEXT.update(context)
            impl.BROADCAST_ROWS = rows if broadcast else -1
            try:
                return impl.CASES[f"q{query}"](ctx, {}, inputs[query])
            finally:
                impl.DATA_CONTEXT.clear()
                impl.DATA_CONTEXT.update(saved)
                impl.BROADCAST_ROWS = rows
        return run

    def partial(batch: Any) -> Any:
        sums = impl._q1_prepare(batch).groupby(list(tpch.Q1_KEYS), as_index=False).agg(
            sum_qty=("l_quantity", "sum"), sum_base_price=("l_extendedprice", "sum"),
            sum_disc_price=("disc_price", "sum"), sum_charge=("charge", "sum"), sum_disc=("l_discount", "sum"),
            count_order=("l_quantity", "size"))
        return sums

    def q1_partial() -> Any:
        impl.tune_data_context(inputs[1])
        cols = ["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_shipdate"]
        ds = ray.data.read_parquet(table_path(inputs[1], "lineitem")).select_columns(cols)
        names = ("sum_qty", "sum_base_price", "sum_disc_price", "sum_charge", "sum_disc", "count_order")
        out = (ds.map_batches(partial, batch_format="pandas").groupby(list(tpch.Q1_KEYS), num_partitions=ctx.cpus)
               .aggregate(*(Sum(c, alias_name=c) for c in names)).to_pandas())
        out = out.assign(avg_qty=out.sum_qty / out.count_order, avg_price=out.sum_base_price / out.count_order,
                         avg_disc=out.sum_disc / out.count_order)
        return records(out.sort_values(list(tpch.Q1_KEYS))[list(tpch.Q1_COLUMNS)])

    variants: dict[str, Callable[[], Any]] = {}
    for q in QUERIES:
        variants[f"q{q} default"] = with_settings(q)
        variants[f"q{q} datasource V1"] = with_settings(q, use_datasource_v2=False)
        variants[f"q{q} datasource V2"] = with_settings(q, use_datasource_v2=True)
        variants[f"q{q} hash shuffle"] = with_settings(q, shuffle_strategy="HASH_SHUFFLE")
        if q in (3, 10):  # Q5 with its five joins as Dataset.join did not finish in 3 minutes at SF 0.01
            variants[f"q{q} Dataset.join"] = with_settings(q, broadcast=False)
    if 1 in QUERIES:
        variants["q1 map-side partial aggregation"] = q1_partial
    return variants


VARIANTS = {"ray": ray_variants, "dask": dask_variants, "spark": spark_variants, "local": local_variants}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=tuple(VARIANTS), required=True)
    parser.add_argument("--queries", default="1,3,5,6,10", help="comma-separated TPC-H query numbers")
    parser.add_argument("--sf", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma-separated phrases: variants whose name holds one are "
                        "not run (e.g. 'hash shuffle,Dataset.join' after a study showed them far behind)")
    args = parser.parse_args()
    assert WORKLOAD.name == "etl"
    data.ensure_tpch(args.sf)
    QUERIES[:] = [int(q) for q in args.queries.split(",")]
    inputs = {q: prepare({"query": q, "sf": args.sf}) for q in QUERIES}
    from enginebench import registry

    engine = registry.engine_class(args.engine)(Budget(cpus=args.cpus, memory_bytes=8 * 2**30), Endpoints())
    ctx = engine.start()
    try:
        skip = [p for p in args.skip.split(",") if p]
        variants = {name: fn for name, fn in VARIANTS[args.engine](ctx, inputs).items()
                    if not any(p in name for p in skip)}
        results = _time_interleaved(variants, inputs, args.repeat)
    finally:
        engine.stop()
    by_query: dict[str, float] = {}
    for name, (seconds, _) in results.items():
        q = name.split()[0]
        by_query[q] = min(by_query.get(q, seconds), seconds)
    for name, (seconds, verdict) in results.items():
        ratio = seconds / by_query[name.split()[0]]
        print(f"{args.engine:6} {name:44} {seconds:8.2f} s  {ratio:5.2f}x best  {verdict}", flush=True)


if __name__ == "__main__":
    main()
