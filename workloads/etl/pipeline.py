"""The `pipeline` case, engine-neutral: what every engine must compute, and how its output is checked.

Input: dbgen-style raw text (`|`-separated, trailing `|`, no header) for lineitem, orders, customer
and nation, with defects planted by `data.ensure_raw` (bad dates, non-numeric prices, duplicated
order keys). Every engine runs the same three stages and times each one:

1. ingest: read the text, cast the columns the pipeline keeps (`KEEP`), drop malformed rows and
   count them per table. A row is malformed when any kept column fails to parse (strict
   YYYY-MM-DD dates; plain decimal numbers), and an order is malformed when its key occurs more than
   once among the parsed orders (ambiguous: both rows go). The cleaned tables are materialized
   (persist / cache / materialize), as an expert would, because they are used twice: counted, then
   joined.
2. transform: join lineitem -> orders -> customer -> nation, derive the ship month (YYYY-MM of
   l_shipdate) and revenue = extendedprice * (1 - discount) in exact fixed point (cents x percent,
   or DECIMAL), aggregate per (nation, month): lines, quantity, revenue. Materialized (it is small).
3. write: the aggregate as parquet partitioned by n_name (hive layout: n_name=.../part-*.parquet).

Revenue is summed exactly (integers or decimals) and only then turned into a double, so every
engine's output is bit-identical and the check can compare a canonical checksum over sorted rows,
not a tolerance. The reference is derived from the clean parquet tables with the planted rows
excluded by key (`data.planted_filters`): it never parses the text, so it cannot share a parsing bug
with an engine.
"""

from __future__ import annotations

import hashlib
import shutil
import statistics
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from enginebench import Params, Timed, Verdict

#: Column names of each raw table, in file order (dbgen's layout; the trailing `|` adds an empty field).
RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "lineitem": ("l_orderkey", "l_partkey", "l_suppkey", "l_linenumber", "l_quantity", "l_extendedprice",
                 "l_discount", "l_tax", "l_returnflag", "l_linestatus", "l_shipdate", "l_commitdate",
                 "l_receiptdate", "l_shipinstruct", "l_shipmode", "l_comment"),
    "orders": ("o_orderkey", "o_custkey", "o_orderstatus", "o_totalprice", "o_orderdate", "o_orderpriority",
               "o_clerk", "o_shippriority", "o_comment"),
    "customer": ("c_custkey", "c_name", "c_address", "c_nationkey", "c_phone", "c_acctbal", "c_mktsegment",
                 "c_comment"),
    "nation": ("n_nationkey", "n_name", "n_regionkey", "n_comment"),
}
#: Columns the pipeline keeps and their types: int, money (two decimals), date, text.
KEEP: dict[str, dict[str, str]] = {
    "lineitem": {"l_orderkey": "int", "l_quantity": "money", "l_extendedprice": "money", "l_discount": "money",
                 "l_shipdate": "date"},
    "orders": {"o_orderkey": "int", "o_custkey": "int", "o_orderdate": "date", "o_totalprice": "money"},
    "customer": {"c_custkey": "int", "c_nationkey": "int"},
    "nation": {"n_nationkey": "int", "n_name": "text"},
}
STAGES = ("ingest", "transform", "write")
OUTPUT_COLUMNS = ("n_name", "month", "lines", "quantity", "revenue")


class StageClock:
    """Wall seconds per stage: `lap(name)` records the time since the previous lap (or creation)."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = now - self._t0
        self._t0 = now


def raw_files(inputs: Any, table: str) -> list[str]:
    return sorted(str(p) for p in (Path(inputs["raw_dir"]) / table).glob("*.tbl"))


def output_dir(inputs: Any, engine: str) -> str:
    """A fresh output directory for one repetition (the previous one removed, untimed work is tiny)."""
    out = Path(inputs["scratch"]) / engine
    shutil.rmtree(out, ignore_errors=True)
    return str(out)


def prepare(params: Params) -> dict[str, Any]:
    """Raw tables on disk (generated if needed), the reference output, the planted defect counts."""
    from enginebench.workloads.etl import data

    raw, manifest = data.ensure_raw(params["sf"])
    parquet, _ = data.ensure_tpch(params["sf"])
    scratch = data.data_root() / "scratch" / f"pipeline-{uuid.uuid4().hex[:12]}"
    scratch.mkdir(parents=True)
    nbytes = sum(f.stat().st_size for t in data.RAW_TABLES for f in (raw / t).glob("*.tbl"))
    return {"raw_dir": str(raw), "scratch": str(scratch), "reference": reference(parquet),
            "malformed": data.malformed_rows(manifest["planted"]),
            "input_rows": sum(manifest["lines"].values()), "input_bytes": nbytes}


def teardown(inputs: Any) -> None:
    """The run is over: its scratch outputs go."""
    shutil.rmtree(inputs["scratch"], ignore_errors=True)


def reference(parquet: Path) -> list[tuple[str, str, int, int, int]]:
    """(n_name, month, lines, quantity, revenue x 10^4) per group, from the clean parquet tables."""
    from enginebench.workloads.etl import data

    plant = data.planted_filters()
    li_bad = " OR ".join(f"({p})" for p in plant["lineitem"].values())
    o_bad = " OR ".join(f"({p})" for p in plant["orders"].values())
    con = data.connect()
    try:
        for table in data.RAW_TABLES:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{parquet / table}/*.parquet')")
        rows = con.execute(f"""
            SELECT n_name, strftime(l_shipdate, '%Y-%m') AS month, count(*) AS lines,
                   CAST(sum(round(l_quantity)) AS BIGINT) AS quantity,
                   CAST(sum(CAST(round(l_extendedprice * 100) AS HUGEINT)
                            * (100 - CAST(round(l_discount * 100) AS HUGEINT))) AS BIGINT) AS revenue_e4
            FROM (SELECT * FROM lineitem WHERE NOT ({li_bad})) li
            JOIN (SELECT * FROM orders WHERE NOT ({o_bad})) o ON l_orderkey = o_orderkey
            JOIN customer ON o_custkey = c_custkey
            JOIN nation ON c_nationkey = n_nationkey
            GROUP BY ALL ORDER BY n_name, month""").fetchall()
    finally:
        con.close()
    return [(str(a), str(b), int(c), int(d), int(e)) for a, b, c, d, e in rows]


def read_output(path: str) -> list[tuple[str, str, int, int, int]]:
    """The written dataset as canonical sorted rows (revenue back to exact units of 10^-4)."""
    import pyarrow.dataset as pads

    table = pads.dataset(path, format="parquet", partitioning="hive").to_table()
    return canonical(table.to_pylist())


def canonical(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, int, int, int]]:
    """Output rows as sorted (n_name, month, lines, quantity, revenue x 10^4) tuples."""
    if rows and (missing := [c for c in OUTPUT_COLUMNS if c not in rows[0]]):
        raise ValueError(f"output lacks columns {missing} (has {sorted(rows[0])})")
    return sorted((str(r["n_name"]), str(r["month"]), int(r["lines"]), int(r["quantity"]),
                   round(float(r["revenue"]) * 10_000)) for r in rows)


def checksum(rows: Sequence[tuple[Any, ...]]) -> str:
    """sha256 over the sorted rows, one `a|b|c` line each: equal output, equal checksum."""
    h = hashlib.sha256()
    for row in sorted(rows):
        h.update(("|".join(str(v) for v in row) + "\n").encode())
    return h.hexdigest()[:16]


def check(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    """Malformed-row counts equal the planted ones; the written parquet equals the reference."""
    if answer["malformed"] != inputs["malformed"]:
        return Verdict(False, f"malformed rows {answer['malformed']}, planted {inputs['malformed']}")
    try:
        got = canonical(answer["rows"]) if "rows" in answer else read_output(answer["out"])
    except (OSError, ValueError) as exc:
        return Verdict(False, f"cannot read the written output: {exc}")
    want = inputs["reference"]
    if got != want:
        extra = sorted(set(got) - set(want))[:1]
        lost = sorted(set(want) - set(got))[:1]
        return Verdict(False, f"output checksum {checksum(got)} != reference {checksum(want)} "
                              f"({len(got)} vs {len(want)} rows; e.g. got {extra}, expected {lost})")
    return Verdict(True)


def summarize(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    median = statistics.median(t.seconds for t in timed)
    last = timed[-1].answer
    metrics = {"seconds": median, "rows_per_s": inputs["input_rows"] / median,
               "input_mb_per_s": inputs["input_bytes"] / 2**20 / median,
               "malformed_rows": float(sum(last["malformed"].values()))}
    if "out" in last:
        metrics["bytes_written"] = float(sum(f.stat().st_size for f in Path(last["out"]).rglob("*") if f.is_file()))
        metrics["partitions_written"] = float(sum(1 for d in Path(last["out"]).glob("n_name=*") if d.is_dir()))
    if "handed_rows" in last:  # spark-to-ray: rows moved from Spark to Ray per second of hand-off
        metrics["handoff_rows_per_s"] = last["handed_rows"] / statistics.median(t.answer["stages"]["handoff"]
                                                                                for t in timed)
    for stage in last["stages"]:
        metrics[f"{stage}_s"] = statistics.median(t.answer["stages"][stage] for t in timed)
    return metrics


# -- shared by the engines whose partitions are pandas DataFrames (Dask, Ray Data) --------------------

def parse_pandas(batch: Any, table: str) -> Any:
    """Cast one pandas batch of raw strings: money becomes exact int64 cents, dates datetime64,
    ints int64; adds `ok` (every kept column parsed). Unparseable values never raise."""
    import numpy as np
    import pandas as pd

    out = pd.DataFrame(index=batch.index)
    ok = np.ones(len(batch), dtype=bool)
    for col, kind in KEEP[table].items():
        raw = batch[col]
        if kind == "date":
            value = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
            ok &= value.notna().to_numpy(dtype=bool)
        elif kind == "text":
            value = raw
            ok &= raw.notna().to_numpy(dtype=bool)
        else:
            # Nullable Float64 whatever the string dtype (numpy object, "str" or arrow "string").
            number = pd.to_numeric(raw, errors="coerce").astype("Float64").fillna(float("nan"))
            values = number.to_numpy(dtype="float64", na_value=np.nan)
            good = np.isfinite(values)
            ok &= good
            values = np.where(good, values, 0.0)
            value = np.round(values * 100).astype("int64") if kind == "money" else values.astype("int64")
        out[col] = value
    out["ok"] = ok
    return out


def derive_pandas(batch: Any) -> Any:
    """Ship month and exact revenue (units of 10^-4: cents x (100 - discount percent)) per line."""
    return batch.assign(month=batch["l_shipdate"].dt.strftime("%Y-%m"),
                        revenue_e4=batch["l_extendedprice"] * (100 - batch["l_discount"]))


def finish_pandas(agg: Any) -> Any:
    """Aggregated cents and 10^-4 units back to the output columns (exact, then one rounding)."""
    return agg.assign(quantity=agg["quantity"] // 100, revenue=agg["revenue_e4"] / 10_000).drop(columns="revenue_e4")
