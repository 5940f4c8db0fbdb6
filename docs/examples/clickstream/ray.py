"""Ray Data: read_json over the folder, groupby(...).map_groups(pandas sessionizer), the per-length sums
of the groups brought back with take_all and added up in the driver.

map_groups is what Ray Data's docs map pandas' `groupby().apply()` to ("API Guide for Users from Other
Data Libraries") and what `Dataset.groupby`'s own example uses (`map_groups(fn, batch_format="pandas")`):
a session needs the ordered clicks of one user, which no built-in aggregation (`aggregate()`, which the
docs prefer where it fits) can express. Grouped by user_id itself, map_groups calls the function once
per user, a few milliseconds of pandas each: seconds at tiny, minutes at small. So the rows are grouped
by a coarse key, user_id modulo `groups()`: each group still holds every click of each of its users
(map_groups guarantees a group is whole), and the sessionizer, vectorized over many users, runs once
per group and returns at most HIST_CAP rows of sums.

Shuffles use Ray Data's task-based sort shuffle (`DataContext.shuffle_strategy`, set for the case and
restored afterwards): the default hash shuffle starts aggregator actors for every shuffle, which cost
several times the whole case at tiny on 2 CPUs (the README has the figures).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson
import ray.data

from enginebench import EngineContext, Params, cases_of

from .data import HIST_CAP, SCHEMA, digest, gap_ms
from .frames import sessions_of, terms

#: Clicks per map_groups call to aim for: a few hundred thousand rows make a cheap pandas frame.
EVENTS_PER_GROUP = 200_000
#: DataContext settings for the case (restored afterwards): the task-based sort shuffle, no progress bars.
SETTINGS = {"shuffle_strategy": "sort_shuffle_pull_based", "enable_progress_bars": False}


def groups(cpus: int, events: int) -> int:
    """How many coarse groups: at least 4 per CPU (work to balance), more when the data set is big."""
    return max(4 * cpus, events // EVENTS_PER_GROUP)


def _with_group(batch: pd.DataFrame, n: int) -> pd.DataFrame:
    # Ray Data's pandas batches hold pyarrow-backed columns, which have no `%`: numpy does it.
    return batch.assign(group=batch["user_id"].to_numpy() % n)


def _bucket_sums(clicks: pd.DataFrame, gap: int, t0: int) -> pd.DataFrame:
    """The clicks of whole users -> per session length, the count and sums of their sessions."""
    per_session = terms(sessions_of(clicks, gap), t0, HIST_CAP)
    sums = per_session.groupby("bucket").sum()
    return sums.assign(sessions=per_session.groupby("bucket").size()).reset_index()


@contextmanager
def _data_context(**settings: Any) -> Iterator[None]:
    """Ray Data's DataContext with `settings` while the block runs (each Dataset copies it when made)."""
    ctx = ray.data.DataContext.get_current()
    before = {name: getattr(ctx, name) for name in settings}
    for name, value in settings.items():
        setattr(ctx, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(ctx, name, value)


def sessionize(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    schema = pa.schema([(name, pa.string() if t == "string" else pa.int64()) for name, t in SCHEMA.items()])
    n = groups(ctx.cpus, inputs["events"])
    with _data_context(**SETTINGS):
        clicks = ray.data.read_json(inputs["dir"], file_extensions=["jsonl"],
                                    parse_options=pajson.ParseOptions(explicit_schema=schema))
        rows = (clicks.map_batches(_with_group, batch_format="pandas", fn_kwargs={"n": n})
                .groupby("group", num_partitions=ctx.cpus)  # sizes a hash shuffle, if SETTINGS picks one
                .map_groups(_bucket_sums, batch_format="pandas", fn_kwargs={"gap": gap_ms(params), "t0": inputs["t0"]})
                .take_all())
    return digest(rows)


CASES = cases_of(sessionize)
NOTES = {"sessionize": "read_json (explicit schema) -> groupby(user_id % groups).map_groups(vectorized pandas "
                       "sessionizer + per-length sums) -> take_all, summed in the driver; sort shuffle"}
