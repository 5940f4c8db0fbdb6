"""Daft: expressions only, no Python UDF. `daft.read_json` with the schema given (no inference pass over the
files), `lag(ts)` over a window partitioned by user and ordered by time, a new-session flag where the gap
exceeds the threshold, a running sum of the flags (`rows_between(unbounded_preceding, current_row)`) for the
session index, `groupby(user, session)` for the per-session stats, then `groupby(length bucket)` for the
digest; only the bucket rows come back (`to_pylist`). Daft's window functions (docs: "Window Functions") are
the same shape as Spark's, and like Spark's they run in the engine: no pandas, no pickled code.
"""

from __future__ import annotations

from typing import Any

import daft
from daft import DataType, Window, col, lit
from daft.functions import when

from enginebench import EngineContext, Params, cases_of

from .data import HIST_CAP, SCHEMA, digest, gap_ms


def sessionize(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    schema = {c: DataType.string() if t == "string" else DataType.int64() for c, t in SCHEMA.items()}
    clicks = daft.read_json(inputs["glob"], infer_schema=False, schema=schema)
    by_user = Window().partition_by("user_id").order_by("ts")
    gap = col("ts") - col("ts").lag(1).over(by_user)
    # The first click of a user has no previous one (gap null): it opens session 0.
    starts = clicks.with_column("new", when(gap.is_null() | (gap > gap_ms(params)), 1).otherwise(0))
    running = by_user.rows_between(Window.unbounded_preceding, Window.current_row)
    numbered = starts.with_column("session", col("new").sum().over(running) - 1)
    sessions = numbered.groupby("user_id", "session").agg(
        col("ts").min().alias("start_ts"), col("ts").max().alias("end_ts"), col("ts").count().alias("n_events"),
        col("url").count_distinct().alias("n_urls"))
    n = col("n_events")
    rows = (sessions.groupby(n.clip(max=lit(HIST_CAP)).alias("bucket"))
            .agg(col("user_id").count().alias("sessions"), n.sum().alias("events"),
                 when(col("session") == 0, 1).otherwise(0).sum().alias("users"),
                 col("session").sum().alias("index_sum"),
                 (col("start_ts") - inputs["t0"]).sum().alias("start_sum"),
                 (col("end_ts") - col("start_ts")).sum().alias("duration_sum"),
                 (col("user_id") * n).sum().alias("user_events_sum"), col("n_urls").sum().alias("url_sum"))
            .to_pylist())
    return digest(rows)


CASES = cases_of(sessionize)
NOTES = {"sessionize": "expressions only: read_json with a schema, lag(ts) over Window().partition_by(user_id)."
                       "order_by(ts), new-session flag, running sum for the index, groupby(user, session), "
                       "groupby(length bucket); no Python UDF"}
