"""dask.dataframe: read_parquet with column projection, boolean filters, groupby().agg()."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dask.dataframe as dd

from harness.engines.base import EngineContext
from harness.spec import Implementation, Params
from workloads.etl.spec import records, table_path


def q1(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    cols = ["l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_shipdate"]
    li = dd.read_parquet(table_path(inputs, "lineitem"), columns=cols)
    li = li[li.l_shipdate <= dt.date(1998, 9, 2)]
    li = li.assign(disc_price=li.l_extendedprice * (1 - li.l_discount))
    li = li.assign(charge=li.disc_price * (1 + li.l_tax))
    out = li.groupby(["l_returnflag", "l_linestatus"]).agg(
        sum_qty=("l_quantity", "sum"), sum_base_price=("l_extendedprice", "sum"),
        sum_disc_price=("disc_price", "sum"), sum_charge=("charge", "sum"), avg_qty=("l_quantity", "mean"),
        avg_price=("l_extendedprice", "mean"), avg_disc=("l_discount", "mean"), count_order=("l_quantity", "size"),
    ).compute()
    return records(out.reset_index().sort_values(["l_returnflag", "l_linestatus"]))


def q6(ctx: EngineContext, params: Params, inputs: Any) -> list[dict[str, Any]]:
    li = dd.read_parquet(table_path(inputs, "lineitem"),
                         columns=["l_extendedprice", "l_discount", "l_quantity", "l_shipdate"])
    mask = ((li.l_shipdate >= dt.date(1994, 1, 1)) & (li.l_shipdate < dt.date(1995, 1, 1))
            & (li.l_discount >= 0.05) & (li.l_discount <= 0.07) & (li.l_quantity < 24))
    sel = li[mask]
    return [{"revenue": float((sel.l_extendedprice * sel.l_discount).sum().compute())}]


CASES: dict[str, Implementation] = {"q1": q1, "q6": q6}
