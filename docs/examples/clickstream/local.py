"""local: DuckDB SQL in this process (threads = the budget's CPUs, memory_limit = its memory, spilling to
the engine's scratch folder), the one-process baseline: read_ndjson over the files with declared
columns, lag(ts) over a window per user ordered by time, a running sum of new-session flags, GROUP BY
session, then GROUP BY session length."""

from __future__ import annotations

from typing import Any

from enginebench import EngineContext, Params, cases_of

from .data import HIST_CAP, SCHEMA, digest, gap_ms

SQL = """
WITH clicks AS (
    SELECT user_id, ts, url FROM read_ndjson(?, columns = {columns})
), flagged AS (
    SELECT *, CASE WHEN ts - lag(ts) OVER by_user > ? THEN 1 ELSE 0 END AS new
    FROM clicks WINDOW by_user AS (PARTITION BY user_id ORDER BY ts)
), numbered AS (  -- a user's first click has no lag (NULL: not new), so its session is 0
    SELECT *, sum(new) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS session
    FROM flagged
), sessions AS (
    SELECT user_id, session, min(ts) AS start_ts, max(ts) AS end_ts, count(*) AS n_events,
           count(DISTINCT url) AS n_urls
    FROM numbered GROUP BY user_id, session
)
SELECT least(n_events, {cap}) AS bucket, count(*) AS sessions, sum(n_events) AS events,
       count(*) FILTER (WHERE session = 0) AS users, sum(session) AS index_sum, sum(start_ts - ?) AS start_sum,
       sum(end_ts - start_ts) AS duration_sum, sum(user_id * n_events) AS user_events_sum, sum(n_urls) AS url_sum
FROM sessions GROUP BY bucket
"""


def sessionize(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    columns = "{" + ", ".join(f"'{c}': '{'VARCHAR' if t == 'string' else 'BIGINT'}'" for c, t in SCHEMA.items()) + "}"
    con = ctx.handle.duckdb()
    try:
        cur = con.execute(SQL.format(columns=columns, cap=HIST_CAP), [inputs["glob"], gap_ms(params), inputs["t0"]])
        names = [d[0] for d in cur.description]
        return digest(dict(zip(names, row, strict=True)) for row in cur.fetchall())
    finally:
        con.close()


CASES = cases_of(sessionize)
NOTES = {"sessionize": "DuckDB SQL: read_ndjson with declared columns, lag(ts) OVER (PARTITION BY user_id ORDER BY "
                       "ts), running sum of new-session flags, GROUP BY (user, session), GROUP BY length bucket"}
