"""Ray Data: read_parquet with select_columns (projection pushed into the read), filters and derived
columns in vectorized map_batches (pandas batches), Dataset.join, then groupby().aggregate() / sum()."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import ray.data
from ray.data.aggregate import Count, Mean, Sum

from harness.engines.base import EngineContext
from harness.spec import Implementation, Params
from workloads.etl.spec import records, table_path


def _q1_prepare(batch: pd.DataFrame) -> pd.DataFrame:
    batch = batch[batch["l_shipdate"] <= dt.date(1998, 9, 2)]
    disc_price = batch["l_extendedprice"] * (1 - batch["l_discount"])
    return batch.assign(disc_price=disc_price, charge=disc_price * (1 + batch["l_tax"]))


def q1(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    cols = ["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_shipdate"]
    ds = ray.data.read_parquet(table_path(inputs, "lineitem")).select_columns(cols)
    # num_partitions: a hash shuffle sized to the budget, not Ray Data's default of 200 partitions.
    grouped = ds.map_batches(_q1_prepare, batch_format="pandas").groupby(
        ["l_returnflag", "l_linestatus"], num_partitions=ctx.cpus)
    out = grouped.aggregate(
        Sum("l_quantity", alias_name="sum_qty"), Sum("l_extendedprice", alias_name="sum_base_price"),
        Sum("disc_price", alias_name="sum_disc_price"), Sum("charge", alias_name="sum_charge"),
        Mean("l_quantity", alias_name="avg_qty"), Mean("l_extendedprice", alias_name="avg_price"),
        Mean("l_discount", alias_name="avg_disc"), Count(alias_name="count_order"),
    ).to_pandas()
    return records(out.sort_values(["l_returnflag", "l_linestatus"]))


def _q6_revenue(batch: pd.DataFrame) -> pd.DataFrame:
    m = ((batch["l_shipdate"] >= dt.date(1994, 1, 1)) & (batch["l_shipdate"] < dt.date(1995, 1, 1))
         & (batch["l_discount"] >= 0.05) & (batch["l_discount"] <= 0.07) & (batch["l_quantity"] < 24))
    sel = batch[m]
    return pd.DataFrame({"revenue": sel["l_extendedprice"] * sel["l_discount"]})


def q6(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    ds = ray.data.read_parquet(table_path(inputs, "lineitem")).select_columns(
        ["l_extendedprice", "l_discount", "l_quantity", "l_shipdate"])
    return [{"revenue": float(ds.map_batches(_q6_revenue, batch_format="pandas").sum("revenue"))}]


def _where(predicate: Any) -> Any:
    """A vectorized row filter for map_batches (pandas batches)."""

    def apply(batch: pd.DataFrame) -> pd.DataFrame:
        return batch[predicate(batch)]

    return apply


def _read(inputs: Any, table: str, cols: list[str], predicate: Any = None) -> ray.data.Dataset:
    ds = ray.data.read_parquet(table_path(inputs, table)).select_columns(cols)
    return ds.map_batches(_where(predicate), batch_format="pandas") if predicate is not None else ds


def _with_revenue(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.assign(revenue=batch["l_extendedprice"] * (1 - batch["l_discount"]))


def q3(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    cut = dt.date(1995, 3, 15)
    n = ctx.cpus
    c = _read(inputs, "customer", ["c_custkey", "c_mktsegment"], lambda b: b["c_mktsegment"] == "BUILDING")
    o = _read(inputs, "orders", ["o_orderkey", "o_custkey", "o_orderdate", "o_shippriority"],
              lambda b: b["o_orderdate"] < cut)
    li = _read(inputs, "lineitem", ["l_orderkey", "l_extendedprice", "l_discount", "l_shipdate"],
               lambda b: b["l_shipdate"] > cut)
    joined = (c.join(o, "inner", n, on=("c_custkey",), right_on=("o_custkey",))
              .join(li, "inner", n, on=("o_orderkey",), right_on=("l_orderkey",)))
    g = (joined.map_batches(_with_revenue, batch_format="pandas")
         .groupby(["o_orderkey", "o_orderdate", "o_shippriority"], num_partitions=n)
         .aggregate(Sum("revenue", alias_name="revenue")).to_pandas())
    top = g.sort_values(["revenue", "o_orderdate"], ascending=[False, True]).head(10)
    return records(top.rename(columns={"o_orderkey": "l_orderkey"}))


def q5(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    n = ctx.cpus
    region = _read(inputs, "region", ["r_regionkey", "r_name"], lambda b: b["r_name"] == "ASIA")
    nation = _read(inputs, "nation", ["n_nationkey", "n_regionkey", "n_name"])
    supplier = _read(inputs, "supplier", ["s_suppkey", "s_nationkey"])
    customer = _read(inputs, "customer", ["c_custkey", "c_nationkey"])
    orders = _read(inputs, "orders", ["o_orderkey", "o_custkey", "o_orderdate"],
                   lambda b: (b["o_orderdate"] >= dt.date(1994, 1, 1)) & (b["o_orderdate"] < dt.date(1995, 1, 1)))
    lineitem = _read(inputs, "lineitem", ["l_orderkey", "l_suppkey", "l_extendedprice", "l_discount"])
    asia = region.join(nation, "inner", n, on=("r_regionkey",), right_on=("n_regionkey",))
    joined = (lineitem.join(orders, "inner", n, on=("l_orderkey",), right_on=("o_orderkey",))
              .join(customer, "inner", n, on=("o_custkey",), right_on=("c_custkey",))
              .join(supplier, "inner", n, on=("l_suppkey", "c_nationkey"), right_on=("s_suppkey", "s_nationkey"))
              .join(asia, "inner", n, on=("c_nationkey",), right_on=("n_nationkey",)))
    out = (joined.map_batches(_with_revenue, batch_format="pandas").groupby("n_name", num_partitions=n)
           .aggregate(Sum("revenue", alias_name="revenue")).to_pandas())
    return records(out.sort_values("revenue", ascending=False))


CASES: dict[str, Implementation] = {"q1": q1, "q3": q3, "q5": q5, "q6": q6}
NOTES = {"q3": "Dataset.join (hash shuffle, num_partitions=cpus); top 10 sorted in pandas",
         "q5": "five Dataset.joins; the 2-key supplier join carries c_nationkey = s_nationkey"}
