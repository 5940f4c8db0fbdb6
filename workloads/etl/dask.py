"""dask.dataframe: read_parquet with column projection, boolean filters, merge, groupby().agg(); the
pipeline reads the raw text with read_csv (all strings) and parses pandas partitions with the code
Ray Data also uses (pipeline.parse_pandas)."""

from __future__ import annotations

import csv
import functools
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd

from enginebench import EngineContext, Implementation, Params
from enginebench.workloads.etl import pipeline, tpch
from enginebench.workloads.etl.spec import records, table_path

# The queries' merges broadcast (`broadcast=True`, each query's `broadcast` keyword): the side with fewer
# partitions goes whole to every partition of the other, no shuffle; the TPC-H joins here put a dimension
# table or a filtered orders on that side. The variant study (docs/studies/2026-11-24-etl-variants.md, SF 1)
# measured Q5 at 1.76 s with it against 4.04 s with Dask's own choice (None: broadcast only when the smaller
# side has fewer than log2(the other's partitions) / 2 partitions), Q10 1.30 s vs 1.53 s, Q3 2.61 s vs
# 2.54 s; so it is the default, as Ray Data's hand-written broadcast joins are (the `dask-chooses-merges`
# variant measures Dask's choice).


def q1(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    cols = ["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_shipdate"]
    li = dd.read_parquet(table_path(inputs, "lineitem"), columns=cols)
    li = li[li.l_shipdate <= tpch.Q1_SHIPDATE_MAX]
    li = li.assign(disc_price=li.l_extendedprice * (1 - li.l_discount))
    li = li.assign(charge=li.disc_price * (1 + li.l_tax))
    out = li.groupby(list(tpch.Q1_KEYS)).agg(
        sum_qty=("l_quantity", "sum"), sum_base_price=("l_extendedprice", "sum"),
        sum_disc_price=("disc_price", "sum"), sum_charge=("charge", "sum"), avg_qty=("l_quantity", "mean"),
        avg_price=("l_extendedprice", "mean"), avg_disc=("l_discount", "mean"), count_order=("l_quantity", "size"),
    ).compute()
    return records(out.reset_index().sort_values(list(tpch.Q1_KEYS))[list(tpch.Q1_COLUMNS)])


def q6(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    li = dd.read_parquet(table_path(inputs, "lineitem"),
                         columns=["l_extendedprice", "l_discount", "l_quantity", "l_shipdate"])
    (start, end), (low, high) = tpch.Q6_SHIPDATE, tpch.Q6_DISCOUNT
    mask = ((li.l_shipdate >= start) & (li.l_shipdate < end)
            & (li.l_discount >= low) & (li.l_discount <= high) & (li.l_quantity < tpch.Q6_QUANTITY_BELOW))
    sel = li[mask]
    return [{"revenue": float((sel.l_extendedprice * sel.l_discount).sum().compute())}]


def q3(ctx: EngineContext, params: Params, inputs: Any, broadcast: bool | None = True) -> list[dict[str, Any]]:
    c = dd.read_parquet(table_path(inputs, "customer"), columns=["c_custkey", "c_mktsegment"])
    o = dd.read_parquet(table_path(inputs, "orders"), columns=["o_orderkey", "o_custkey", "o_orderdate",
                                                               "o_shippriority"])
    li = dd.read_parquet(table_path(inputs, "lineitem"),
                         columns=["l_orderkey", "l_extendedprice", "l_discount", "l_shipdate"])
    cut = tpch.Q3_DATE
    j = (c[c.c_mktsegment == tpch.Q3_SEGMENT]
         .merge(o[o.o_orderdate < cut], left_on="c_custkey", right_on="o_custkey", broadcast=broadcast)
         .merge(li[li.l_shipdate > cut], left_on="o_orderkey", right_on="l_orderkey", broadcast=broadcast))
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    g = j.groupby(list(tpch.Q3_KEYS)).revenue.sum().reset_index().compute()
    top = g.sort_values(list(tpch.Q3_SORT_BY), ascending=list(tpch.Q3_ASCENDING)).head(tpch.Q3_LIMIT)
    return records(top[list(tpch.Q3_COLUMNS)])


def q5(ctx: EngineContext, params: Params, inputs: Any, broadcast: bool | None = True) -> list[dict[str, Any]]:
    def read(table: str, cols: list[str]) -> dd.DataFrame:
        return dd.read_parquet(table_path(inputs, table), columns=cols)

    r = read("region", ["r_regionkey", "r_name"])
    n = read("nation", ["n_nationkey", "n_regionkey", "n_name"])
    s = read("supplier", ["s_suppkey", "s_nationkey"])
    c = read("customer", ["c_custkey", "c_nationkey"])
    o = read("orders", ["o_orderkey", "o_custkey", "o_orderdate"])
    li = read("lineitem", ["l_orderkey", "l_suppkey", "l_extendedprice", "l_discount"])
    start, end = tpch.Q5_ORDERDATE
    o = o[(o.o_orderdate >= start) & (o.o_orderdate < end)]
    asia = r[r.r_name == tpch.Q5_REGION].merge(n, left_on="r_regionkey", right_on="n_regionkey",
                                               broadcast=broadcast)
    j = (li.merge(o, left_on="l_orderkey", right_on="o_orderkey", broadcast=broadcast)
         .merge(c, left_on="o_custkey", right_on="c_custkey", broadcast=broadcast)
         .merge(s, left_on=["l_suppkey", "c_nationkey"], right_on=["s_suppkey", "s_nationkey"],
                broadcast=broadcast)
         .merge(asia, left_on="s_nationkey", right_on="n_nationkey", broadcast=broadcast))
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    out = j.groupby("n_name").revenue.sum().reset_index().compute()
    return records(out.sort_values(list(tpch.Q5_SORT_BY), ascending=list(tpch.Q5_ASCENDING))[list(tpch.Q5_COLUMNS)])


def q10(ctx: EngineContext, params: Params, inputs: Any, split_out: int | None = None,
        broadcast: bool | None = True) -> list[dict[str, Any]]:
    """Group on the key alone, as the Ray Data implementation does: the query's other grouping columns
    depend on c_custkey, so they are attached to the 20 winners afterwards instead of being shuffled as
    long strings; the date and return-flag predicates are pushed into read_parquet (row-group
    pruning). `split_out` (None: Dask's automatic choice) and `broadcast` are for the variants."""
    start, end = tpch.Q10_ORDERDATE
    o = dd.read_parquet(table_path(inputs, "orders"), columns=["o_orderkey", "o_custkey", "o_orderdate"],
                        filters=[("o_orderdate", ">=", start), ("o_orderdate", "<", end)])
    o = o[(o.o_orderdate >= start) & (o.o_orderdate < end)]  # filters prune row groups; this filters rows
    li = dd.read_parquet(table_path(inputs, "lineitem"),
                         columns=["l_orderkey", "l_extendedprice", "l_discount", "l_returnflag"],
                         filters=[("l_returnflag", "==", tpch.Q10_RETURNFLAG)])
    li = li[li.l_returnflag == tpch.Q10_RETURNFLAG]
    j = li.merge(o, left_on="l_orderkey", right_on="o_orderkey", broadcast=broadcast)
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    # nlargest runs per partition then once more on the partial winners: no full sort.
    top = (j.groupby("o_custkey").revenue.sum(split_out=split_out).reset_index()
           .nlargest(tpch.Q10_LIMIT, "revenue").compute().rename(columns={"o_custkey": "c_custkey"}))
    customer = pd.read_parquet(table_path(inputs, "customer"), columns=Q10_CUSTOMER,
                               filters=[("c_custkey", "in", [int(k) for k in top.c_custkey])])
    nation = pd.read_parquet(table_path(inputs, "nation"), columns=["n_nationkey", "n_name"])
    out = (top.merge(customer, on="c_custkey").merge(nation, left_on="c_nationkey", right_on="n_nationkey")
           .sort_values(list(tpch.Q10_SORT_BY), ascending=list(tpch.Q10_ASCENDING), kind="stable"))
    return records(out[list(tpch.Q10_COLUMNS)])


def q10_all_keys(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    """The textbook form (a variant for the study): join all four tables, group on all seven keys."""
    c = dd.read_parquet(table_path(inputs, "customer"), columns=Q10_CUSTOMER)
    o = dd.read_parquet(table_path(inputs, "orders"), columns=["o_orderkey", "o_custkey", "o_orderdate"])
    li = dd.read_parquet(table_path(inputs, "lineitem"),
                         columns=["l_orderkey", "l_extendedprice", "l_discount", "l_returnflag"])
    n = dd.read_parquet(table_path(inputs, "nation"), columns=["n_nationkey", "n_name"])
    start, end = tpch.Q10_ORDERDATE
    o = o[(o.o_orderdate >= start) & (o.o_orderdate < end)]
    j = (li[li.l_returnflag == tpch.Q10_RETURNFLAG].merge(o, left_on="l_orderkey", right_on="o_orderkey")
         .merge(c, left_on="o_custkey", right_on="c_custkey").merge(n, left_on="c_nationkey", right_on="n_nationkey"))
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    top = (j.groupby(list(tpch.Q10_KEYS)).revenue.sum().reset_index()
           .nlargest(tpch.Q10_LIMIT, "revenue").compute())
    return records(top[list(tpch.Q10_COLUMNS)])


Q10_CUSTOMER = ["c_custkey", "c_name", "c_acctbal", "c_phone", "c_nationkey", "c_address", "c_comment"]


def _raw(inputs: Any, table: str) -> dd.DataFrame:
    names = [*pipeline.RAW_COLUMNS[table], "trailing"]
    return dd.read_csv(pipeline.raw_files(inputs, table), sep="|", header=None, names=names,
                       usecols=list(pipeline.KEEP[table]), dtype=str, quoting=csv.QUOTE_NONE,
                       keep_default_na=False, blocksize="64MB")


def pipeline_(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    from dask.distributed import wait

    clock = pipeline.StageClock()
    marked = {t: _raw(inputs, t).map_partitions(pipeline.parse_pandas, t).persist() for t in pipeline.KEEP}
    orders = marked["orders"]
    key_counts = orders.o_orderkey[orders.ok].value_counts()
    # Duplicated keys are few: computed with their row counts in the same pass as the malformed
    # counts, then their rows dropped partition-locally (no shuffle).
    bad, dup_counts = dask.compute({t: (~marked[t].ok).sum() for t in ("lineitem", "orders")},
                                   key_counts[key_counts > 1])
    dups = list(dup_counts.index)
    clean = {t: df[df.ok].drop(columns="ok") for t, df in marked.items()}
    clean["orders"] = clean["orders"][~clean["orders"].o_orderkey.isin(dups)]
    malformed = {"lineitem": int(bad["lineitem"]), "orders": int(bad["orders"]) + int(dup_counts.sum())}
    clock.lap("ingest")

    j = (clean["lineitem"].merge(clean["orders"], left_on="l_orderkey", right_on="o_orderkey")
         .merge(clean["customer"], left_on="o_custkey", right_on="c_custkey")
         .merge(clean["nation"], left_on="c_nationkey", right_on="n_nationkey"))
    agg = (j.map_partitions(pipeline.derive_pandas).groupby(["n_name", "month"])
           .agg(lines=("l_orderkey", "size"), quantity=("l_quantity", "sum"), revenue_e4=("revenue_e4", "sum"))
           .reset_index().map_partitions(pipeline.finish_pandas).persist())
    wait(agg)
    clock.lap("transform")

    out = pipeline.output_dir(inputs, ctx.engine)
    agg.to_parquet(out, partition_on=["n_name"], write_index=False)
    clock.lap("write")
    return {"out": out, "malformed": malformed, "stages": clock.stages}


CASES: dict[str, Implementation] = {"q1": q1, "q3": q3, "q5": q5, "q6": q6, "q10": q10, "pipeline": pipeline_}
NOTES = {"q3": "broadcast merges (broadcast=True); top 10 sorted in pandas after the distributed group-by",
         "q5": "broadcast merges (broadcast=True); the 2-key supplier join carries the c_nationkey = s_nationkey "
               "condition",
         "q10": "predicates pushed into read_parquet; broadcast merge; distributed group-by on o_custkey alone, "
                "nlargest(20), customer attributes joined to the top 20",
         "pipeline": "read_csv (dtype=str) + map_partitions(parse_pandas); duplicate keys computed first, "
                     "dropped with isin; int64 fixed-point revenue"}


def _shuffle_tasks(query: Implementation) -> Implementation:
    """A case run with Dask's task-based shuffle for its merges and group-bys instead of p2p."""

    @functools.wraps(query)
    def run(ctx: EngineContext, params: Params, inputs: Any) -> Any:
        with dask.config.set({"dataframe.shuffle.method": "tasks"}):
            return query(ctx, params, inputs)

    return run


def q10_split_out(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    """The `q10-split-out` variant: Q10's group-by on o_custkey split over one output partition per CPU."""
    return q10(ctx, params, inputs, split_out=ctx.cpus)


#: The variant study (docs/studies/2026-11-24-etl-variants.md): what an expert of Dask might write instead.
VARIANTS: dict[str, dict[str, Implementation]] = {
    "shuffle-tasks": {case: _shuffle_tasks(query) for case, query in CASES.items()},
    "dask-chooses-merges": {"q3": functools.partial(q3, broadcast=None), "q5": functools.partial(q5, broadcast=None),
                            "q10": functools.partial(q10, broadcast=None)},
    "q10-split-out": {"q10": q10_split_out},
    "q10-all-keys": {"q10": q10_all_keys},
}
VARIANT_NOTES = {
    "shuffle-tasks": "the tasks shuffle (dataframe.shuffle.method \"tasks\") for merges and group-bys instead of "
                     "p2p, Dask's default",
    "dask-chooses-merges": "merges as Dask chooses (broadcast only when one side has few partitions) instead of "
                           "broadcast=True on every merge (the default since the 2026-11-24 study found Q5 2.3x "
                           "faster with it at SF 1)",
    "q10-split-out": "Q10's high-cardinality group-by with split_out = the budget's CPUs instead of Dask's "
                     "automatic choice (one output partition per 15 input partitions for one key)",
    "q10-all-keys": "Q10 in its textbook form: the four tables joined (merges as Dask chooses) and grouped on all "
                    "seven columns, no predicates pushed into read_parquet, instead of grouped on the key alone "
                    "with the customer attributes joined to the top 20",
}
