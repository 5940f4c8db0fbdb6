"""One trial of the search: the cnn workload's small net and training loop under one configuration.

Every engine runs `curve` and nothing else for a trial, so the math is identical everywhere: the
model is built from the scale's seed (the same initial weights for every configuration of a width),
trained single-threaded with SGD (Nesterov momentum, weight decay, a one-cycle learning rate over
the maximum epochs: a trial does not know when the scheduler will stop it, so the first epochs of a
stopped trial are exactly those of one that runs to the end), one seeded shuffle per epoch, and
scored on the whole test set after each epoch. With one thread and the same torch build the
accuracies are bit-identical from one process to the next; tests/test_tune.py holds every engine to
that.

Torch is imported at module level: only engine implementations and the reference import this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from enginebench.workloads.cnn.model import (
    Recipe,
    array_batches,
    build_model,
    count_correct,
    make_optimizer,
    normalize,
    set_threads,
    test_batches,
    train_epoch,
)

#: Bugs tests/test_tune.py plants to prove the check sees them: the first configuration labels its
#: reports one epoch late ("wrong-epoch"); trials train on after the halving rule stopped them
#: ("never-stop": the Optuna objective ignores the pruner, Ray's scheduler answers CONTINUE). Ray's
#: scheduler has two more of its own (`workloads.tune.ray.SCHEDULER_PLANTS`).
PLANTS = ("wrong-epoch", "never-stop")

#: Per process: the last data set normalized (trials of one search share it; a worker runs many trials).
_NORMALIZED: dict[str, Any] = {}


def arrays(data: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The search's uint8 rows as normalized float arrays, once per process and data set."""
    key = data["key"]
    if _NORMALIZED.get("key") != key:
        _NORMALIZED.clear()
        _NORMALIZED.update(key=key, value=(normalize(data["train_x"]), data["train_y"].astype(np.int64),
                                           normalize(data["test_x"]), data["test_y"].astype(np.int64)))
    value: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = _NORMALIZED["value"]
    return value


def recipe(config: dict[str, Any], params: Any) -> Recipe:
    return Recipe(model="simple", epochs=int(params["max_epochs"]), global_batch=int(params["batch"]),
                  lr=float(config["lr"]), seed=int(params["seed"]), augment=False, amp=False,
                  momentum=float(config["momentum"]), weight_decay=float(config["weight_decay"]),
                  width=float(config["width"]))


def curve(config: dict[str, Any], data: dict[str, Any], params: Any) -> Iterator[tuple[int, float, float]]:
    """Train one configuration, yielding (epoch, test accuracy, seconds this trial spent training and
    scoring so far) after each epoch, up to the scale's maximum epochs. The caller stops it by not
    asking for more. Runs with one torch thread (restored when the generator is closed)."""
    threads = torch.get_num_threads()
    set_threads(1)
    try:
        x, y, x_test, y_test = arrays(data)
        r = recipe(config, params)
        cpu = torch.device("cpu")
        model = build_model(r)
        steps = r.steps_per_epoch(len(x))
        opt, sched = make_optimizer(model, r, steps)
        gen = torch.Generator().manual_seed(r.seed * 1000)
        index = np.arange(len(x))
        busy = 0.0
        for epoch in range(r.epochs):
            t = time.perf_counter()
            train_epoch(model, opt, sched, array_batches(x, y, index, r, epoch, 0, 1, cpu), r, gen, cpu, steps)
            correct, total = count_correct(model, test_batches(x_test, y_test, 0, 1, 1024, cpu), cpu, False)
            busy += time.perf_counter() - t
            yield epoch + 1, correct / total, busy
    finally:
        set_threads(threads)


#: (epoch, accuracy, seconds since the search began, seconds this trial was busy) -> go on?
Report = Callable[[int, float, float, float], bool]


def run(config: dict[str, Any], data: dict[str, Any], params: Any, t0: float, report: Report) -> dict[str, Any]:
    """A trial as the engines run it: `curve`, with `report(...)` after each epoch (False: the
    scheduler stopped the trial). Returns the trial's history, [epoch, accuracy, seconds since the
    search began (t0: time.time() in the driver), seconds busy so far] per epoch, and the seconds it
    was busy."""
    history: list[list[float]] = []
    busy = 0.0
    late = params.get("plant", "") == "wrong-epoch" and config["id"] == 0
    for epoch, accuracy, busy in curve(config, data, params):
        entry = [epoch + 1 if late else epoch, accuracy, time.time() - t0, busy]
        history.append(entry)
        if not report(int(entry[0]), accuracy, entry[2], busy):
            break
    return {"id": config["id"], "history": history, "busy_s": busy}
