"""The inference workload: offline batch scoring of a trained CNN, identical on every engine.

Case `score`: read N CIFAR-10-format images from parquet (columns `id`, `image`: 3,072 uint8 bytes),
decode and normalize them, predict with the scale's batch size, and bring back one label per image
keyed by id. The model is the cnn workload's (same architecture and recipe code), trained once in
the inputs phase on the set's training split and cached on disk by recipe and data (a sha256
sidecar guards it; never inside a timer). The images to score are the set's test split, written
to parquet once per run (8 files, so every engine can read in parallel).

Headline: end-to-end images/s, from reading the parquet to the labels in the driver. Beside it:
the model load per scoring process (seconds; how many processes loaded it inside the call, since
Dask and Spark keep their worker processes, and the model, from one call to the next, while a Ray
Data actor pool is new in every call), the processes that scored, the device, and `job_start_s`:
from the call's start until the first batch's decode began (the read planned, a scoring process up,
its model loaded), the job's start apart from the engine's.

The check, and why: one prediction per image id (none missing, none twice); labels equal to the
local reference model's on at least 99.9% of the images (every engine runs the same weights on the
same images, but a different batch composition may change the float summation order and flip a
near-tie: the verdict names how many differed and which ids); accuracy within 0.1 points of the
reference's. tests/test_inference.py shuffles predictions and drops a batch of every engine's real
answer and expects `wrong`.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from enginebench import Case, Metric, Params, Timed, Verdict, Workload

#: Share of images whose label may differ from the reference's (near-ties flipped by summation order).
#: It also bounds the accuracy: an answer within it is within 0.1 points of the reference's accuracy,
#: so the check has no separate accuracy clause (one could never fail).
LABEL_TOLERANCE = 0.001
#: The least accuracy against the true labels the reference model must reach, by data set: below it the
#: checkpoint (or the labels the images are scored against) is broken and no engine's answer can be
#: judged. Ten classes: chance is 0.1. The synthetic set's floor is the cnn workload's tiny target; the
#: real set's, twice chance (ResNet-18 trained one epoch on 10,000 images: its cost, not its accuracy,
#: is what the workload measures).
REFERENCE_FLOOR = {"synthetic": 0.8, "cifar10": 0.2}
#: Parquet files the images are written to.
FILES = 8

_TRAIN = {"seed": 0, "lr": 0.05, "augment": False, "amp": False, "device": "auto"}
PARAMS: dict[str, dict[str, Any]] = {
    # tiny and small: the synthetic set; the simple net trained with the cnn workload's recipe of that scale.
    "tiny": {**_TRAIN, "data": "synthetic", "n_images": 2048, "model": "simple", "batch_size": 256,
             "n_train": 2048, "epochs": 3, "global_batch": 64},
    "small": {**_TRAIN, "data": "synthetic", "n_images": 20480, "model": "simple", "batch_size": 512,
              "n_train": 10240, "epochs": 4, "global_batch": 128},
    # medium and large: the real CIFAR-10 test set (and training set) scored by ResNet-18, trained
    # briefly (1 epoch on 10,000 images): the cost of inference does not depend on how well it learned.
    "medium": {**_TRAIN, "data": "cifar10", "n_images": 10000, "model": "resnet18", "batch_size": 512,
               "n_train": 10000, "epochs": 1, "global_batch": 256},
    "large": {**_TRAIN, "data": "cifar10", "n_images": 60000, "model": "resnet18", "batch_size": 1024,
              "n_train": 10000, "epochs": 1, "global_batch": 256},
}


def dataset(params: Params) -> Any:
    """The scale's image set (synthetic, generated once; or CIFAR-10), also the serve workload's."""
    from enginebench.workloads.cnn import data

    if params["data"] == "synthetic":
        return data.ensure_synthetic(params["n_train"], params["n_images"], params["seed"])
    return data.ensure_real()


def images(params: Params, ds: Any) -> tuple[Any, Any]:
    """The rows to score and their labels: the test split (and, for large, the training split too)."""
    import numpy as np

    x, y = ds.test_x, ds.test_y
    if params["n_images"] > len(y):
        x, y = np.concatenate([ds.test_x, ds.train_x]), np.concatenate([ds.test_y, ds.train_y])
    n = params["n_images"]
    if n > len(y):
        from enginebench.workloads.cnn.data import DataError

        raise DataError(f"the data set has {len(y)} images, the scale scores {n}")
    return x[:n], y[:n]


def checkpoint(params: Params, ds: Any) -> Any:
    """The scale's trained model, from the cache (verified) or trained now with the cnn recipe on the
    training split (one process, one thread, CPU: the same weights on every machine)."""
    import hashlib
    import json

    from enginebench import data_root
    from enginebench.workloads.inference import model as m

    recipe = {k: params[k] for k in ("model", "epochs", "global_batch", "lr", "seed", "n_train")}
    key = json.dumps({**recipe, "data": ds.source}, sort_keys=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = data_root() / "inference" / "checkpoints" / f"{params['model']}-{name}.pt"
    if path.exists() or path.with_suffix(".json").exists():
        return m.verified(path, params["model"])
    return m.save(_train(params, ds), path, params["model"], {"recipe": recipe, "data": ds.source})


def _train(params: Params, ds: Any) -> dict[str, Any]:
    import numpy as np
    import torch

    from enginebench.workloads.cnn.model import (
        Recipe,
        array_batches,
        build_model,
        fit,
        normalize,
        set_threads,
        test_batches,
    )

    recipe = Recipe.from_params({**params, "plant": ""})
    threads = torch.get_num_threads()
    try:
        set_threads(1)
        torch.manual_seed(params["seed"])
        n = min(params["n_train"], len(ds.train_y))
        x, y = normalize(ds.train_x[:n]), ds.train_y[:n].astype(np.int64)
        cpu = torch.device("cpu")
        net = build_model(recipe)
        fit(net, recipe, n, 0, 1, cpu, lambda epoch: array_batches(x, y, np.arange(n), recipe, epoch, 0, 1, cpu),
            lambda: test_batches(x[:512], y[:512], 0, 1, 512, cpu), time.time())
        return {k: v.detach().cpu() for k, v in net.state_dict().items()}
    finally:
        torch.set_num_threads(threads)


def prepare(params: Params) -> dict[str, Any]:
    """Images as parquet in a scratch folder (removed at the end of the run), the true labels, and
    the verified checkpoint."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    ds = dataset(params)
    x, y = images(params, ds)
    ckpt = checkpoint(params, ds)
    folder = Path(tempfile.mkdtemp(prefix="enginebench-inference-"))
    ids = np.arange(len(y), dtype=np.int64)
    bounds = np.linspace(0, len(y), FILES + 1).astype(int)
    for part, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        table = pa.table({"id": pa.array(ids[lo:hi]),
                          "image": pa.array([bytes(r) for r in x[lo:hi]], type=pa.binary())})
        pq.write_table(table, folder / f"part-{part:03d}.parquet")
    return {"path": str(folder), "labels": y.astype(np.int64), "checkpoint": ckpt, "n": len(y), "source": ds.source}


def teardown(inputs: dict[str, Any]) -> None:
    shutil.rmtree(inputs["path"], ignore_errors=True)


def reference(params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """The local model's labels for every image (one process, the scale's batch size, read back from the
    parquet every engine reads) and accuracy. The labels are kept in `inputs` for `check`: the returned
    summary is what records store in their notes, and 2,048+ labels do not belong there."""
    import pyarrow.parquet as pq

    from enginebench.workloads.inference import model as m

    table = pq.read_table(inputs["path"]).sort_by("id")
    net, _, _ = m.loaded_model(inputs["checkpoint"])
    labels = m.predict(net, m.decode(table.column("image").to_pylist()), params["batch_size"])
    accuracy = float((labels == inputs["labels"]).mean())
    floor = REFERENCE_FLOOR[params["data"]]
    if accuracy < floor:
        raise ValueError(f"the reference model scores {accuracy:.3f} against the true labels, under the "
                         f"{params['data']} floor {floor} (chance: 0.1): checkpoint {inputs['checkpoint'].path} "
                         "or the image labels are broken; remove the checkpoint and its sidecar to retrain it")
    inputs["reference_labels"] = labels
    return {"accuracy": accuracy, "images": int(len(labels))}


def check(answer: dict[str, Any], params: Params, inputs: dict[str, Any], ref: Any) -> Verdict:
    import numpy as np

    ids, labels, n = np.asarray(answer["ids"]), np.asarray(answer["labels"]), inputs["n"]
    if len(ids) != len(labels):
        return Verdict(False, f"{len(ids)} ids but {len(labels)} labels")
    unique, counts = np.unique(ids, return_counts=True)
    twice = unique[counts > 1]
    if len(twice):
        return Verdict(False, f"{len(twice)} images predicted more than once (ids {twice[:5].tolist()})")
    missing = np.setdiff1d(np.arange(n), unique)
    if len(missing) or len(unique) != n:
        return Verdict(False, f"{len(missing)} of {n} images have no prediction (ids {missing[:5].tolist()}"
                              f"{'...' if len(missing) > 5 else ''})")
    by_id = labels[np.argsort(ids)]
    expected = inputs["reference_labels"]
    differ = np.flatnonzero(by_id != expected)
    if len(differ) > LABEL_TOLERANCE * n:
        return Verdict(False, f"labels differ from the reference model's on {len(differ)} of {n} images "
                              f"(more than {LABEL_TOLERANCE:.1%}; ids {differ[:5].tolist()})")
    return Verdict(True)


def summarize(params: Params, inputs: dict[str, Any], runs: Sequence[Timed], cpus: int) -> dict[str, float]:
    seconds = statistics.median(r.seconds for r in runs)
    loads = [s for r in runs for s in r.answer["model_load_s"]]
    return {"images_per_s": inputs["n"] / seconds, "seconds": seconds,
            "model_load_s": statistics.median(loads) if loads else 0.0,
            "loads_in_call": statistics.median(r.answer["loads_in_call"] for r in runs),
            # worker seconds (summed over the processes) spent decoding and predicting, per call
            "decode_s": statistics.median(r.answer["decode_s"] for r in runs),
            "predict_s": statistics.median(r.answer["predict_s"] for r in runs),
            "processes": statistics.median(r.answer["processes"] for r in runs),
            "job_start_s": statistics.median(r.answer.get("job_start_s", 0.0) for r in runs)}


def notes(params: Params, inputs: dict[str, Any], runs: Sequence[Timed]) -> dict[str, Any]:
    last = runs[-1].answer
    return {"device": last["device"], "workers": last["workers"], "data": inputs["source"],
            "checkpoint_sha256": inputs["checkpoint"].sha256[:16]}


WORKLOAD = Workload(
    name="inference",
    title="Batch inference (a trained CNN scoring CIFAR-10-format images)",
    category="batch inference",
    package=__package__,
    cases=(
        Case(
            name="score",
            description="read images from parquet, decode and normalize, predict with one batch size, "
                        "one label per image back in the driver",
            params=PARAMS,
            primary=Metric("images_per_s", "images/s", True),
            size_param="n_images",
            size_unit="image",
            make_inputs=prepare,
            teardown=teardown,
            reference=reference,
            check=check,
            summarize=summarize,
            notes=notes,
            timeout_s={"tiny": 180, "small": 600, "medium": 1800, "large": 3600},
        ),
    ),
)
