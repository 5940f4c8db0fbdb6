"""The halving rule every engine's scheduler applies, and the replay that checks it was applied.

Asynchronous successive halving (ASHA), exactly as Ray Tune's `ASHAScheduler` (one bracket) decides:
rungs at min_epochs x eta^k below max_epochs. When a trial reports the epoch of a rung, the cutoff
is the (1 - 1/eta) percentile (numpy's linear interpolation) of the accuracies *recorded earlier* at
that rung by other trials; the trial stops if its accuracy is below the cutoff (the first trial at
a rung always goes on), and its own accuracy is then recorded. A trial that reaches max_epochs stops.

Because the rule reads only what was recorded before, the outcome depends on the order in which
trials reach a rung: two engines (or two runs) may stop different trials, and train different
numbers of epochs. That is the algorithm, not a fault; the check replays each engine's own order.
Each engine therefore returns its scheduler's decisions:

    {"trial": id, "epoch": rung, "accuracy": a, "seen": {id: accuracy, ...}, "stop": bool,
     "read": t, "written": t}

`seen` are the other trials' accuracies the scheduler held for that rung when it decided, `read`
when it read them and `written` when it recorded this trial's (Ray Tune's controller decides one
result at a time, so there both are the decision's sequence number). Only numpy is imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Seconds by which two processes' clocks may disagree (the Optuna engines time their decisions in
#: the trial's process): a result recorded less than this before a decision read the rung is not
#: required to have been seen.
CLOCK_SLACK_S = 0.05


def rungs(min_epochs: int, max_epochs: int, eta: int) -> list[int]:
    """The epochs at which the rule decides: min_epochs * eta^k below max_epochs."""
    out, epoch = [], min_epochs
    while epoch < max_epochs:
        out.append(epoch)
        epoch *= eta
    return out


def cutoff(seen: Sequence[float], eta: int) -> float | None:
    """The accuracy a trial must reach to go on, from the accuracies recorded earlier at the rung."""
    if not seen:
        return None
    return float(np.nanpercentile(list(seen), (1 - 1 / eta) * 100))


def stops(accuracy: float, seen: Sequence[float], eta: int) -> bool:
    """Whether the rule stops a trial with `accuracy` at a rung where `seen` were recorded before."""
    limit = cutoff(seen, eta)
    return limit is not None and accuracy < limit


def replay(trials: Mapping[int, Sequence[Sequence[float]]], decisions: Sequence[Mapping[str, Any]],
           min_epochs: int, max_epochs: int, eta: int) -> str:
    """'' if every decision followed the rule and every trial obeyed its decisions; otherwise the
    first problem, in one sentence. `trials`: id -> history ([epoch, accuracy, ...] per epoch)."""
    acc = {tid: {int(h[0]): float(h[1]) for h in hist} for tid, hist in trials.items()}
    at_rung: dict[tuple[int, int], Mapping[str, Any]] = {}
    for d in decisions:
        tid, epoch = int(d["trial"]), int(d["epoch"])
        if (tid, epoch) in at_rung:
            return f"trial {tid} was decided twice at epoch {epoch}"
        at_rung[tid, epoch] = d
    points = rungs(min_epochs, max_epochs, eta)
    for (tid, epoch), d in at_rung.items():
        if epoch not in points:
            return f"trial {tid} was decided at epoch {epoch}, which is not a rung ({points})"
        if acc.get(tid, {}).get(epoch) != float(d["accuracy"]):
            return (f"the scheduler decided trial {tid} at epoch {epoch} on accuracy {d['accuracy']}, "
                    f"the trial reported {acc.get(tid, {}).get(epoch)}")
        seen = {int(k): float(v) for k, v in d["seen"].items()}
        for other, value in seen.items():
            if acc.get(other, {}).get(epoch) != value or (other, epoch) not in at_rung:
                return (f"deciding trial {tid} at epoch {epoch} the scheduler held {value} for trial {other}, "
                        f"which recorded {acc.get(other, {}).get(epoch)} there")
        for (other, e2), d2 in at_rung.items():
            if e2 == epoch and other != tid and other not in seen \
                    and float(d2["written"]) < float(d["read"]) - CLOCK_SLACK_S:
                return (f"deciding trial {tid} at epoch {epoch} the scheduler ignored trial {other}'s "
                        f"accuracy there, recorded before it read the rung")
        expected = stops(float(d["accuracy"]), list(seen.values()), eta)
        if bool(d["stop"]) != expected:
            limit = cutoff(list(seen.values()), eta)
            return (f"trial {tid} at epoch {epoch}: accuracy {float(d['accuracy']):.4f}, cutoff "
                    f"{'none' if limit is None else f'{limit:.4f}'} from {len(seen)} earlier results: the rule "
                    f"{'stops' if expected else 'continues'} it, the scheduler "
                    f"{'stopped' if d['stop'] else 'let it continue'}")
    for tid, by_epoch in acc.items():
        last = max(by_epoch)
        for epoch in points:
            if epoch > last:
                break
            decided = at_rung.get((tid, epoch))
            if decided is None:
                return f"trial {tid} passed the rung at epoch {epoch} without a decision"
            if decided["stop"] and last > epoch:
                return f"trial {tid} was stopped at epoch {epoch} but trained on to epoch {last}"
        stopped = any(at_rung[tid, e]["stop"] for e in points if (tid, e) in at_rung)
        if not stopped and last != max_epochs:
            return (f"trial {tid} ended at epoch {last}: neither stopped at a rung nor at the {max_epochs} "
                    "epochs maximum")
    return ""
