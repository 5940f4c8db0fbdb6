"""Click events, generated deterministically and written as JSON lines; and the reference sessions.

The generator plans sessions (a user, a start, a geometric number of clicks a couple of minutes apart),
mixes in long pauses inside some of them and pauses of exactly the default idle gap (which must NOT
split a session: the rule is "gap > threshold"), then shuffles every event and cuts the result into
several files. So one user's clicks are out of order and spread over every file: an implementation has
to group by user across partitions and sort by time, or its sessions come out wrong.

The files are cached under `data_root()/clickstream/<key of the generating params>/` and written
atomically (`replace_dir_atomically`); a manifest of line counts is verified before a cached set is used.
The reference is computed from the same seeded arrays with numpy, outside every engine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from enginebench import Params, data_root, replace_dir_atomically

#: The generator's version: part of the cache key, so a change to it never reuses old files.
GENERATOR = 1
#: Epoch milliseconds of the first day of clicks; sums of start times are taken from here (int64-safe).
T0_MS = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
SPAN_MS = 7 * 24 * 3600 * 1000
#: Mean clicks per planned session, and mean seconds between clicks inside one.
MEAN_CLICKS = 6
MEAN_PAUSE_S = 90
#: Shares of in-session pauses that are long (20-60 minutes: some split a session, some do not) and that
#: are exactly BOUNDARY_GAP_MIN (never a split at the default gap: "gap > threshold" splits, "=" does not).
LONG_PAUSE_SHARE = 0.02
BOUNDARY_PAUSE_SHARE = 0.005
BOUNDARY_GAP_MIN = 30
#: Sessions of at least this many events share the histogram's last bucket.
HIST_CAP = 20
#: The files' fields, as every engine reads them.
SCHEMA = {"user_id": "int64", "ts": "int64", "url": "string", "bytes": "int64"}
#: Per session-length bucket, what every implementation aggregates over its sessions (see `digest`).
BUCKET_COLUMNS = ("bucket", "sessions", "events", "users", "index_sum", "start_sum", "duration_sum",
                  "user_events_sum", "url_sum")


def cache_key(params: Params) -> str:
    """The folder name of a data set: every parameter the files depend on (not the idle gap)."""
    return (f"n{params['n_events']}-u{params['n_users']}-p{params['n_urls']}-f{params['files']}"
            f"-s{params['seed']}-g{GENERATOR}")


def events(params: Params) -> dict[str, np.ndarray]:
    """Every click as columns (user_id, ts, url_id, bytes), already shuffled: a pure function of params."""
    rng = np.random.default_rng(params["seed"])
    n, n_users, n_urls = int(params["n_events"]), int(params["n_users"]), int(params["n_urls"])
    lengths = rng.geometric(1 / MEAN_CLICKS, size=n // MEAN_CLICKS * 2 + 16)
    planned = int(np.searchsorted(np.cumsum(lengths), n)) + 1
    lengths = lengths[:planned]
    lengths[-1] -= int(lengths.sum()) - n  # the last planned session ends at exactly n events
    users = 1000 + (n_users * rng.random(planned) ** 2).astype(np.int64)  # a few heavy users, many light ones
    starts = T0_MS + rng.integers(0, SPAN_MS, size=planned)
    session = np.repeat(np.arange(planned), lengths)
    pause = rng.exponential(MEAN_PAUSE_S * 1000, size=n).astype(np.int64)
    kind = rng.random(n)
    long = kind < LONG_PAUSE_SHARE
    pause[long] = rng.integers(20 * 60_000, 60 * 60_000, size=int(long.sum()))
    pause[(kind >= LONG_PAUSE_SHARE) & (kind < LONG_PAUSE_SHARE + BOUNDARY_PAUSE_SHARE)] = BOUNDARY_GAP_MIN * 60_000
    first = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    pause[first] = 0
    elapsed = np.cumsum(pause)
    ts = starts[session] + elapsed - elapsed[first][session]
    url_id = (n_urls * rng.random(n) ** 3).astype(np.int64)  # popular pages first
    nbytes = rng.integers(200, 50_000, size=n)
    order = rng.permutation(n)
    return {"user_id": users[session][order], "ts": ts[order], "url_id": url_id[order], "bytes": nbytes[order]}


def url_of(url_id: int) -> str:
    return f"/p/{url_id}"


def _write_files(columns: dict[str, np.ndarray], files: int, target: Path) -> list[int]:
    """JSON lines, the events cut into `files` consecutive slices; returns the lines per file."""
    target.mkdir()
    counts = []
    for i, part in enumerate(np.array_split(np.arange(len(columns["ts"])), files)):
        lo, hi = (int(part[0]), int(part[-1]) + 1) if len(part) else (0, 0)
        rows = zip(*(columns[c][lo:hi].tolist() for c in ("user_id", "ts", "url_id", "bytes")), strict=True)
        text = "".join(f'{{"user_id":{u},"ts":{t},"url":"{url_of(p)}","bytes":{b}}}\n' for u, t, p, b in rows)
        (target / f"part-{i:03d}.jsonl").write_text(text)
        counts.append(hi - lo)
    return counts


def _verified(directory: Path) -> dict[str, Any] | None:
    """The manifest if every file it lists is there with its number of lines; None otherwise."""
    try:
        manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
        for name, lines in manifest["lines"].items():
            with (directory / "events" / name).open("rb") as fh:
                if sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) != lines:
                    return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return manifest


def ensure_events(params: Params, root: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The folder of JSON-lines files for these params (generated if missing or damaged) and its manifest."""
    directory = (root or data_root()) / "clickstream" / cache_key(params)
    manifest = _verified(directory)
    if manifest is not None:
        return directory, manifest

    def build(tmp: Path) -> None:
        counts = _write_files(events(params), int(params["files"]), tmp / "events")
        found = {f"part-{i:03d}.jsonl": n for i, n in enumerate(counts)}
        (tmp / "manifest.json").write_text(json.dumps({"key": cache_key(params), "lines": found}))

    replace_dir_atomically(directory, build)
    return directory, _verified(directory) or {}


def prepare(params: Params) -> dict[str, Any]:
    """Case.make_inputs: the data set on disk, where each engine reads it from, and its size."""
    directory, manifest = ensure_events(params)
    files = sorted(str(directory / "events" / name) for name in manifest["lines"])
    return {"dir": str(directory / "events"), "files": files, "glob": str(directory / "events" / "*.jsonl"),
            "events": sum(manifest["lines"].values()), "bytes": sum(Path(f).stat().st_size for f in files),
            "t0": T0_MS}


def gap_ms(params: Params) -> int:
    return int(params["gap_minutes"] * 60_000)


def reference(params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Case.reference: the digest of the true sessions, from the seeded arrays (numpy, no engine)."""
    ev = events(params)
    order = np.lexsort((ev["ts"], ev["user_id"]))
    user, ts, url = ev["user_id"][order], ev["ts"][order], ev["url_id"][order]
    n = len(ts)
    new_user = np.ones(n, bool)
    new_user[1:] = user[1:] != user[:-1]
    new = new_user.copy()
    new[1:] |= np.diff(ts) > gap_ms(params)
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n) - 1
    sid = np.cumsum(new) - 1
    user_first = np.flatnonzero(new_user[starts])  # the first session of each user
    index = np.arange(len(starts)) - user_first[np.cumsum(new_user[starts]) - 1]
    pairs = np.unique(sid * (int(url.max()) + 1) + url)  # distinct (session, url)
    n_urls = np.bincount(pairs // (int(url.max()) + 1), minlength=len(starts))
    sessions = {"user_id": user[starts], "session": index, "start_ts": ts[starts], "end_ts": ts[ends],
                "n_events": ends - starts + 1, "n_urls": n_urls}
    return digest(bucket_rows(sessions, T0_MS))


def bucket_rows(sessions: dict[str, np.ndarray], t0: int) -> list[dict[str, int]]:
    """Per-session columns -> one row of BUCKET_COLUMNS per session length (numpy; the reference's)."""
    bucket = np.minimum(sessions["n_events"], HIST_CAP)
    rows = []
    for b in np.unique(bucket):
        m = bucket == b
        s = {k: v[m] for k, v in sessions.items()}
        rows.append({"bucket": int(b), "sessions": int(m.sum()), "events": int(s["n_events"].sum()),
                     "users": int((s["session"] == 0).sum()), "index_sum": int(s["session"].sum()),
                     "start_sum": int((s["start_ts"] - t0).sum()),
                     "duration_sum": int((s["end_ts"] - s["start_ts"]).sum()),
                     "user_events_sum": int((s["user_id"] * s["n_events"]).sum()), "url_sum": int(s["n_urls"].sum())})
    return rows


def digest(rows: Any) -> dict[str, Any]:
    """The answer every implementation returns: totals over its per-bucket rows, and the histogram of
    session lengths. Rows: an iterable of mappings with BUCKET_COLUMNS (any integer types)."""
    totals = {c: 0 for c in BUCKET_COLUMNS[1:]}
    histogram: dict[str, int] = {}
    for row in rows:
        for c in totals:
            totals[c] += int(row[c])
        b = int(row["bucket"])
        key = f"{HIST_CAP}+" if b >= HIST_CAP else str(b)
        histogram[key] = histogram.get(key, 0) + int(row["sessions"])
    order = sorted(histogram, key=lambda k: int(k.rstrip("+")))
    return {**totals, "histogram": {k: histogram[k] for k in order}}
