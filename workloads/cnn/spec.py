"""The cnn workload: data-parallel training of one CNN on CIFAR-10 with one recipe on every engine.

Case `train`: convert the images into the engine (normalize), train for the recipe's epochs with
the global batch split across the engine's workers, evaluate on the whole test set after every
epoch. Headline: training images/s (steps only; evaluation and start-up excluded), with the wall
time, load time, time to the scale's target accuracy and the final accuracy beside it.

Scales tiny and small train on a synthetic data set in the exact CIFAR-10 file format (written once
and cached, see data.py); medium and large need the real data set (`enginebench data cifar10`).

The check, and why it looks like this: an answer is right when (1) it trained on every image of
every epoch (images = epochs x steps x global batch; a rank that silently dropped out shows here),
(2) its final test accuracy reaches the scale's target, and (3) it is within 3 points of the
*reference*: the plain local loop (model.run_local) under the same recipe, trained once per run in
the inputs phase (`Case.reference`), so it is paid once, outside every engine's timers, timeouts
and resource samples, and is the same reference for every engine whatever order they run in. A
fixed target alone would pass an engine that trains a different (e.g. wrongly sharded) model well
enough. This module imports neither torch nor numpy at import time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from harness.spec import Case, Metric, Params, Timed, Verdict, Workload

#: Allowed distance of an engine's final accuracy from the local reference (absolute, 3 points).
TOLERANCE = 0.03

_COMMON = {"seed": 0, "lr": 0.05, "workers": "auto", "amp": False}
PARAMS: dict[str, dict[str, Any]] = {
    # tiny: seconds per engine on 2 CPUs (what the tests run).
    "tiny": {**_COMMON, "data": "synthetic", "n_train": 2048, "n_test": 512, "model": "simple", "epochs": 3,
             "global_batch": 64, "augment": False, "target_accuracy": 0.8},
    "small": {**_COMMON, "data": "synthetic", "n_train": 10240, "n_test": 2048, "model": "simple", "epochs": 4,
              "global_batch": 128, "augment": False, "target_accuracy": 0.9},
    # medium and large: the real CIFAR-10 (50,000 + 10,000 images), with crop and flip.
    "medium": {**_COMMON, "data": "cifar10", "n_train": 50000, "n_test": 10000, "model": "simple", "epochs": 10,
               "global_batch": 256, "augment": True, "target_accuracy": 0.55},
    "large": {**_COMMON, "data": "cifar10", "n_train": 50000, "n_test": 10000, "model": "resnet18", "epochs": 30,
              "global_batch": 512, "lr": 0.2, "augment": True, "amp": True, "target_accuracy": 0.9},
}


def prepare(params: Params) -> dict[str, Any]:
    """The data set as uint8 rows (read by the CIFAR-10 loader), the training rows in the one seeded
    order every engine shards from."""
    import numpy as np

    from workloads.cnn import data
    from workloads.cnn.model import permutation

    if params["data"] == "synthetic":
        ds = data.ensure_synthetic(params["n_train"], params["n_test"], params["seed"])
    else:
        ds = data.ensure_real()
    n = min(params["n_train"], len(ds.train_y))
    order = permutation(len(ds.train_y), params["seed"])[:n]
    nt = min(params["n_test"], len(ds.test_y))
    return {"train_x": np.ascontiguousarray(ds.train_x[order]), "train_y": ds.train_y[order],
            "test_x": ds.test_x[:nt], "test_y": ds.test_y[:nt], "source": ds.source}


def world_size(params: Params, cpus: int, gpus: int = 0) -> int:
    """Workers for a budget: the `workers` param, or one per GPU (when there are GPUs) or per CPU;
    lowered to the nearest count that divides the global batch (every worker gets an equal share)."""
    want = params["workers"] if params["workers"] != "auto" else (gpus or cpus)
    want = max(1, min(int(want), params["global_batch"]))
    while params["global_batch"] % want:
        want -= 1
    return want


def layout(params: Params, cpus: int, gpus: int = 0) -> tuple[int, int]:
    """(world, torch threads per worker) for a budget: workers x threads = the budget's CPUs."""
    world = world_size(params, cpus, gpus)
    return world, max(1, cpus // world)


def reference_accuracy(params: Params, inputs: dict[str, Any]) -> float:
    """Final accuracy of the plain local loop under the same recipe (the case's reference)."""
    import torch

    from workloads.cnn.model import LOCAL_THREADS, Recipe, normalize, run_local

    threads = torch.get_num_threads()
    try:
        result = run_local(normalize(inputs["train_x"]), inputs["train_y"], normalize(inputs["test_x"]),
                           inputs["test_y"], Recipe.from_params(params), LOCAL_THREADS, torch.cuda.is_available(),
                           time.time())
    finally:
        torch.set_num_threads(threads)
    return float(result["final_accuracy"])


def expected_images(params: Params, inputs: dict[str, Any]) -> int:
    steps = len(inputs["train_y"]) // params["global_batch"]
    return int(params["epochs"] * steps * params["global_batch"])


def check(answer: Any, params: Params, inputs: Any, reference: float) -> Verdict:
    """All images trained, target accuracy reached, within TOLERANCE of the local reference."""
    history = answer.get("history", [])
    if len(history) != params["epochs"]:
        return Verdict(False, f"{len(history)} epochs reported, expected {params['epochs']}")
    want = expected_images(params, inputs)
    if answer["images"] != want:
        return Verdict(False, f"trained on {answer['images']} images, expected {want} "
                              f"({params['epochs']} epochs x full global batches)")
    acc = float(answer["final_accuracy"])
    ref = reference
    if abs(acc - ref) > TOLERANCE:
        return Verdict(False, f"final test accuracy {acc:.3f} is {abs(acc - ref) * 100:.1f} points from the local "
                              f"loop's {ref:.3f} under the same recipe (allowed {TOLERANCE * 100:.0f})")
    if acc < params["target_accuracy"]:
        return Verdict(False, f"final test accuracy {acc:.3f} below the scale's target {params['target_accuracy']}")
    return Verdict(True)


def _time_to_target(answer: dict[str, Any], target: float) -> float | None:
    for entry in answer["history"]:
        if entry["test_accuracy"] >= target:
            return float(entry["elapsed_s"])
    return None


def summarize(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    """Medians over the timed repetitions."""
    answers = [t.answer for t in timed]
    world = answers[0]["world_size"]
    ips = statistics.median(a["images"] / a["train_s"] for a in answers)
    out = {
        "images_per_s": ips,
        "images_per_s_per_worker": ips / world,
        "wall_images_per_s": statistics.median(t.answer["images"] / t.seconds for t in timed),
        "epoch_s": statistics.median(a["train_s"] / len(a["history"]) for a in answers),
        "final_accuracy": statistics.median(a["final_accuracy"] for a in answers),
        "world_size": float(world),
        "threads_per_worker": float(answers[0]["threads_per_worker"]),
    }
    reached = [_time_to_target(a, params["target_accuracy"]) for a in answers]
    if all(r is not None for r in reached):
        out["time_to_target_s"] = statistics.median(r for r in reached if r is not None)
    return out


def _median_run(timed: Sequence[Timed]) -> Timed:
    return sorted(timed, key=lambda t: t.seconds)[(len(timed) - 1) // 2]


def series(params: Params, inputs: Any, timed: Sequence[Timed]) -> dict[str, list[list[float]]]:
    """Test accuracy after each epoch against seconds since the implementation was called (the
    repetition with the median wall time)."""
    run = _median_run(timed).answer
    return {"test_accuracy": [[round(e["elapsed_s"], 3), e["test_accuracy"]] for e in run["history"]]}


def notes(params: Params, inputs: Any, timed: Sequence[Timed]) -> dict[str, Any]:
    """How the engine ran: device, world size, backend, threads (from the answers)."""
    a = timed[0].answer
    return {"device": a["device"], "world_size": a["world_size"], "backend": a["backend"],
            "threads_per_worker": a["threads_per_worker"], "data": inputs["source"]}


WORKLOAD = Workload(
    name="cnn",
    title="Distributed CNN training (CIFAR-10)",
    category="deep learning",
    package="workloads.cnn",
    cases=(
        Case(
            name="train",
            description="data-parallel training of one CNN, one recipe, on CIFAR-10-format images",
            params=PARAMS,
            primary=Metric("images_per_s", "images/s", True),
            make_inputs=prepare,
            reference=reference_accuracy,
            check=check,
            summarize=summarize,
            series=series,
            notes=notes,
            timeout_s={"tiny": 300, "small": 900, "medium": 3600, "large": 4 * 3600},
        ),
    ),
)
