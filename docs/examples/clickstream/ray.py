"""Ray Data: read_json over the folder, groupby("user_id").map_groups(pandas sessionizer), then a
groupby on the session length with built-in aggregations; the few bucket rows come back with take_all.

map_groups is what Ray Data's docs map pandas' `groupby().apply()` to ("API Guide for Users from Other
Data Libraries") and what `Dataset.groupby`'s own example uses (`map_groups(fn, batch_format="pandas")`);
a session needs the ordered clicks of one user, which no built-in aggregation (`aggregate()`, which the
docs prefer where it fits) can express. The length digest is such an aggregation: Count and Sum.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import ray.data
from ray.data.aggregate import Count, Sum

from enginebench import EngineContext, Params, cases_of

from .data import HIST_CAP, SCHEMA, digest, gap_ms
from .frames import TERM_DTYPES, sessions_of, terms


def _sessions(group: pd.DataFrame, gap: int, t0: int) -> pd.DataFrame:
    """One user's clicks -> the terms of that user's sessions."""
    return terms(sessions_of(group, gap), t0, HIST_CAP)


def sessionize(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.json as pajson

    ray.data.DataContext.get_current().enable_progress_bars = False
    schema = pa.schema([(name, pa.string() if t == "string" else pa.int64()) for name, t in SCHEMA.items()])
    events = ray.data.read_json(inputs["dir"], file_extensions=["jsonl"],
                                parse_options=pajson.ParseOptions(explicit_schema=schema))
    # num_partitions: the shuffle sized to the budget, not Ray Data's default of 200 partitions.
    per_session = (events.groupby("user_id", num_partitions=ctx.cpus)
                   .map_groups(_sessions, batch_format="pandas", fn_kwargs={"gap": gap_ms(params), "t0": inputs["t0"]}))
    sums = [Sum(c, alias_name=c) for c in TERM_DTYPES if c != "bucket"]
    rows = (per_session.groupby("bucket", num_partitions=ctx.cpus)
            .aggregate(Count(alias_name="sessions"), *sums).take_all())
    return digest(rows)


CASES = cases_of(sessionize)
NOTES = {"sessionize": "read_json (pyarrow, explicit schema) -> groupby(user_id).map_groups(pandas sessionizer, "
                       "one call per user) -> groupby(length bucket).aggregate(Count, Sum) -> take_all"}
