"""Ray Data: read_parquet with column projection, filtering and derived columns in vectorized
map_batches (pandas batches), then Dataset.groupby().aggregate() / sum()."""

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
    ds = ray.data.read_parquet(table_path(inputs, "lineitem"), columns=cols)
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
    ds = ray.data.read_parquet(table_path(inputs, "lineitem"),
                               columns=["l_extendedprice", "l_discount", "l_quantity", "l_shipdate"])
    return [{"revenue": float(ds.map_batches(_q6_revenue, batch_format="pandas").sum("revenue"))}]


CASES: dict[str, Implementation] = {"q1": q1, "q6": q6}
