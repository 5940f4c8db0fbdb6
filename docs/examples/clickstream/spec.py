"""clickstream: sessionizing click events, a worked example of a workload of one's own.

One case, `sessionize`: JSON-lines click events (user_id, ts in epoch milliseconds, url, bytes), one
user's clicks out of order and spread over every file, are grouped by user, sorted by time and cut into
sessions where the idle gap exceeds `gap_minutes`; each session's user, index, start, end, clicks and
distinct urls are then reduced to a digest per session length. The answer is that digest (see
`data.digest`): small, yet a dropped file, a duplicated event, a wrong gap rule or a session split across
partitions changes it, and the check names what changed.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from enginebench import Case, Metric, Params, Timed, Verdict, Workload

from .data import prepare, reference

#: Events, users, distinct pages and files per scale; the gap is the same at every scale.
SIZES = {
    "tiny": {"n_events": 20_000, "n_users": 1_000, "files": 4},
    "small": {"n_events": 1_000_000, "n_users": 50_000, "files": 8},
    "medium": {"n_events": 10_000_000, "n_users": 500_000, "files": 32},
    "large": {"n_events": 100_000_000, "n_users": 5_000_000, "files": 128},
}
PARAMS = {scale: {**size, "n_urls": 1_000, "seed": 0, "gap_minutes": 30} for scale, size in SIZES.items()}
#: How many differences a reason spells out.
SHOWN = 4
#: The totals compared first, in this order: the first ones tell a lost or doubled event from a mis-split.
TOTALS = ("events", "sessions", "users", "index_sum", "start_sum", "duration_sum", "user_events_sum", "url_sum")


def check(answer: Any, params: Params, inputs: Any, ref: Any) -> Verdict:
    """Every total, then the histogram of session lengths; the reason names the first SHOWN differences
    ("events: got 15000, expected 20000; sessions: got 3268, expected 3418; ...") and counts the rest."""
    if not isinstance(answer, dict) or not set(ref) <= set(answer):
        return Verdict(False, f"answer {answer!r:.120} lacks the digest's keys {', '.join(ref)}")
    wrong = [f"{k}: got {answer[k]}, expected {ref[k]}" for k in TOTALS if answer[k] != ref[k]]
    got, want = answer["histogram"], ref["histogram"]
    wrong += [f"sessions of length {k}: got {got.get(k, 0)}, expected {want.get(k, 0)}"
              for k in dict.fromkeys([*want, *got]) if got.get(k, 0) != want.get(k, 0)]
    more = f"; {len(wrong) - SHOWN} more differ" if len(wrong) > SHOWN else ""
    return Verdict(not wrong, "; ".join(wrong[:SHOWN]) + more)


def summarize(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    """Throughputs over the median wall time of the timed repetitions."""
    median = statistics.median(t.seconds for t in timed)
    return {"seconds": median, "events_per_s": inputs["events"] / median,
            "input_mb_per_s": inputs["bytes"] / 2**20 / median}


WORKLOAD = Workload(
    name="clickstream",
    title="Clickstream sessionization (JSON lines, group by user, sort by time, idle-gap sessions)",
    category="structured ETL",
    package=__package__,
    cases=(
        Case(
            name="sessionize",
            description="Parse JSON-lines clicks, group by user across files, sort by time, split sessions at "
                        "idle gaps over gap_minutes, per-session stats reduced to a digest per session length",
            params=PARAMS,
            primary=Metric("events_per_s", "events/s", True),
            make_inputs=prepare,
            reference=reference,
            check=check,
            summarize=summarize,
            size_param="n_events",
            size_unit="event",
        ),
    ),
)
