"""dask.dataframe: read_json(lines=True, blocksize=...), shuffle on user_id, map_partitions with the
vectorized pandas sessionizer, then a groupby-sum per session length (a known reduction).

Why shuffle + map_partitions and not groupby("user_id").apply(fn, meta=...): Dask's "Shuffling
Performance" page (dataframe-groupby) says a groupby-apply of an arbitrary function needs a full
shuffle, and `DataFrame.shuffle` documents the guarantee that rows with the same value of `on` land in
the same partition; after it, one map_partitions call per partition sessionizes all its users at once,
where groupby-apply calls the function once per user (Dask's "Best Practices": the pandas advice of
avoiding apply in favour of vectorized operations applies to Dask too). The digest is a groupby-sum, the
"fast and common case" of that page.
"""

from __future__ import annotations

from typing import Any

import dask.dataframe as dd
import pandas as pd

from enginebench import EngineContext, Params, cases_of

from .data import HIST_CAP, SCHEMA, digest, gap_ms
from .frames import TERM_DTYPES, sessions_of, terms

#: Bytes of JSON per partition when reading: files are cut at line ends into blocks this big.
BLOCKSIZE = 64 * 2**20


def _sessions_terms(clicks: pd.DataFrame, gap: int, t0: int) -> pd.DataFrame:
    return terms(sessions_of(clicks, gap), t0, HIST_CAP)


def sessionize(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    clicks = dd.read_json(inputs["glob"], lines=True, blocksize=BLOCKSIZE,
                          dtype={c: "int64" for c, t in SCHEMA.items() if t == "int64"})
    meta = pd.DataFrame({c: pd.Series(dtype=t) for c, t in TERM_DTYPES.items()})
    per_session = (clicks.shuffle(on="user_id")
                   .map_partitions(_sessions_terms, gap_ms(params), inputs["t0"], meta=meta))
    by_length = per_session.groupby("bucket")
    out = by_length.sum().assign(sessions=by_length.size()).reset_index().compute()
    return digest(out.to_dict("records"))


CASES = cases_of(sessionize)
NOTES = {"sessionize": "read_json(lines=True, blocksize) -> shuffle(on=user_id) -> map_partitions(vectorized pandas "
                       "sessionizer) -> groupby(length bucket).sum(): shuffle + map_partitions, as the Dask docs "
                       "advise over a per-group apply"}
