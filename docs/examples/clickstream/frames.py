"""The pandas sessionizer shared by the Ray Data and Dask implementations: each engine hands it a frame
that holds every click of the users in it (a Ray Data group of users, a Dask partition after the shuffle
on user_id), and it answers vectorized, whatever the number of users in the frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The per-session table: one row per session, `session` counting a user's sessions from 0 in time order.
SESSION_DTYPES = {"user_id": "int64", "session": "int64", "start_ts": "int64", "end_ts": "int64",
                  "n_events": "int64", "n_urls": "int64"}
#: Per-session terms summed per length bucket (data.BUCKET_COLUMNS, less bucket and sessions).
TERM_DTYPES = {"bucket": "int64", "events": "int64", "users": "int64", "index_sum": "int64", "start_sum": "int64",
               "duration_sum": "int64", "user_events_sum": "int64", "url_sum": "int64"}


def sessions_of(events: pd.DataFrame, gap_ms: int) -> pd.DataFrame:
    """Clicks (user_id, ts, url, ...) of whole users -> their sessions (SESSION_DTYPES): sorted by user and
    time, a new session where the user changes or the idle gap exceeds gap_ms."""
    if events.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in SESSION_DTYPES.items()})
    # numpy-backed ints whatever the reader made (Ray Data's pandas batches are pyarrow-backed)
    df = events[["user_id", "ts", "url"]].astype({"user_id": "int64", "ts": "int64"})
    df = df.sort_values(["user_id", "ts"], kind="stable")
    user, ts = df["user_id"].to_numpy(), df["ts"].to_numpy()
    new = np.ones(len(df), bool)
    new[1:] = (user[1:] != user[:-1]) | (np.diff(ts) > gap_ms)
    grouped = df.assign(sid=np.cumsum(new)).groupby("sid", sort=True)
    out = grouped.agg(user_id=("user_id", "first"), start_ts=("ts", "min"), end_ts=("ts", "max"),
                      n_events=("ts", "size"), n_urls=("url", "nunique")).reset_index(drop=True)
    out["session"] = out.groupby("user_id").cumcount()
    return out.astype(SESSION_DTYPES)[list(SESSION_DTYPES)]


def terms(sessions: pd.DataFrame, t0: int, cap: int) -> pd.DataFrame:
    """Per session, the terms a length bucket sums (TERM_DTYPES): what `data.digest` totals."""
    n = sessions["n_events"]
    return pd.DataFrame({
        "bucket": n.clip(upper=cap), "events": n, "users": (sessions["session"] == 0).astype("int64"),
        "index_sum": sessions["session"], "start_sum": sessions["start_ts"] - t0,
        "duration_sum": sessions["end_ts"] - sessions["start_ts"], "user_events_sum": sessions["user_id"] * n,
        "url_sum": sessions["n_urls"],
    }).astype(TERM_DTYPES)
