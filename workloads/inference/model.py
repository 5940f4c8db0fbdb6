"""What every engine's scoring shares: the checkpoint (trained once, cached, verified), decoding,
the per-process model cache, and one batch of predictions.

An image travels as its CIFAR-10 row: 3,072 uint8 bytes (3 x 32 x 32), with its id. `decode` turns a
batch of rows into the normalized float tensor the cnn recipe trained on; `predict` runs the model
on it in slices of the scale's batch size and returns one label per image. `loaded_model` keeps one
model per (checkpoint, process): a Ray actor, a Dask worker process and a Spark Python worker each
load it once, and report how long that took (`load_s`) and when (`loaded_at`, to tell a load inside
a timed call from one a warm-up already paid).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enginebench.workloads.cnn.data import IMAGE_BYTES, DataError

#: torch threads per scoring process: every engine's worker is one process per CPU of the budget.
THREADS = 1


@dataclass(frozen=True)
class Checkpoint:
    """A trained model on disk: weights (`path`), their sha256 and the architecture's name."""

    path: str
    sha256: str
    model: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified(path: Path, model: str) -> Checkpoint:
    """The checkpoint at `path` after checking it against its sidecar (`<name>.json`, written with
    it): a missing file, a missing sidecar or a different hash is a one-line DataError."""
    meta_path = path.with_suffix(".json")
    if not path.exists():
        raise DataError(f"checkpoint {path} does not exist (accepted: a checkpoint written by this workload; "
                        "delete the folder to retrain it)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"checkpoint {path} has no readable {meta_path.name} ({type(exc).__name__}); remove both "
                        "files to retrain it") from None
    actual = sha256_of(path)
    if actual != meta.get("sha256"):
        raise DataError(f"checkpoint {path} is corrupted (sha256 {actual[:12]}..., its {meta_path.name} says "
                        f"{str(meta.get('sha256'))[:12]}...); remove both files to retrain it")
    if meta.get("model") != model:
        raise DataError(f"checkpoint {path} holds a {meta.get('model')!r} model, the scale asks for {model!r}")
    return Checkpoint(str(path), actual, model)


def save(state: dict[str, Any], path: Path, model: str, facts: dict[str, Any]) -> Checkpoint:
    """Write weights and sidecar atomically (temporary names, then renames: sidecar last)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(state, tmp)
    digest = sha256_of(tmp)
    os.replace(tmp, path)
    meta_tmp = path.with_suffix(f".json.tmp{os.getpid()}")
    meta_tmp.write_text(json.dumps({"sha256": digest, "model": model, **facts}, indent=1))
    os.replace(meta_tmp, path.with_suffix(".json"))
    return Checkpoint(str(path), digest, model)


def device_for(params: Any, where: str) -> str:
    """cuda when this machine's torch sees a GPU (and --device allows it), else cpu; --device cuda
    without a GPU is an error, never a silent fall-back (the workers of dask and spark run here)."""
    import torch

    from enginebench import use_gpu

    return "cuda" if use_gpu(params, torch.cuda.is_available(), where) else "cpu"


def decode(rows: Any) -> np.ndarray:
    """A batch of image rows (bytes objects, or a uint8 array N x 3072) -> normalized float32
    (N, 3, 32, 32). A row of the wrong size is an error naming its position and size."""
    from enginebench.workloads.cnn.model import normalize

    if isinstance(rows, np.ndarray) and rows.dtype == np.uint8 and rows.ndim == 2:
        arr = rows
    else:
        items = list(rows)
        for i, row in enumerate(items):
            if len(row) != IMAGE_BYTES:
                raise ValueError(f"image {i} of the batch has {len(row)} bytes, expected {IMAGE_BYTES} "
                                 "(3 x 32 x 32 uint8, CIFAR-10 row order)")
        arr = np.frombuffer(b"".join(bytes(r) for r in items), dtype=np.uint8).reshape(len(items), IMAGE_BYTES)
    if arr.shape[1:] != (IMAGE_BYTES,):
        raise ValueError(f"images of shape {arr.shape[1:]}, expected ({IMAGE_BYTES},) (3 x 32 x 32 uint8)")
    return normalize(arr)


_MODELS: dict[str, tuple[Any, float, float]] = {}  # checkpoint sha256 -> (model, load_s, loaded_at)


def loaded_model(ckpt: Checkpoint, device: str = "cpu") -> tuple[Any, float, float]:
    """This process's copy of the model (loaded on first use): (model, load seconds, load time)."""
    key = f"{ckpt.sha256}:{device}"
    if key not in _MODELS:
        import torch

        from enginebench.workloads.cnn.model import Recipe, build_model

        t0 = time.time()
        torch.set_num_threads(THREADS)
        model = build_model(Recipe(model=ckpt.model, epochs=1, global_batch=1, lr=0.0, seed=0, augment=False,
                                   amp=False))
        model.load_state_dict(torch.load(ckpt.path, map_location=device, weights_only=True))
        model.to(device).eval()
        _MODELS[key] = (model, time.time() - t0, t0)
    return _MODELS[key]


def predict(model: Any, x: np.ndarray, batch: int, device: str = "cpu") -> np.ndarray:
    """One label per image: forward passes over slices of `batch` images, argmax."""
    import torch

    out = []
    with torch.inference_mode():
        for lo in range(0, len(x), batch):
            xb = torch.from_numpy(np.ascontiguousarray(x[lo:lo + batch])).to(device)
            out.append(model(xb).argmax(1).cpu().numpy())
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def score(ids: np.ndarray, rows: Any, ckpt: Checkpoint, batch: int, device: str = "cpu") -> dict[str, np.ndarray]:
    """Decode and predict one engine batch; every output row also says which process scored it, that
    process's model load (seconds and when) and when this batch's decode began (wall clock)."""
    model, load_s, loaded_at = loaded_model(ckpt, device)
    started_at = time.time()
    t0 = time.perf_counter()
    x = decode(rows)
    t1 = time.perf_counter()
    labels = predict(model, x, batch, device)
    t2 = time.perf_counter()
    n = max(1, len(labels))
    return {"id": np.asarray(ids, dtype=np.int64), "label": labels,
            "pid": np.full(len(labels), os.getpid(), dtype=np.int64), "load_s": np.full(len(labels), load_s),
            "loaded_at": np.full(len(labels), loaded_at), "started_at": np.full(len(labels), started_at),
            # each row carries its share of the batch's decode and predict seconds: sums add up per worker
            "decode_s": np.full(len(labels), (t1 - t0) / n), "predict_s": np.full(len(labels), (t2 - t1) / n)}


#: The columns `score` returns, in order (engines declare their output schema from it).
COLUMNS = {"id": "int64", "label": "int64", "pid": "int64", "load_s": "float64", "loaded_at": "float64",
           "started_at": "float64", "decode_s": "float64", "predict_s": "float64"}


def answer(got: dict[str, np.ndarray], t0: float, device: str, workers: int) -> dict[str, Any]:
    """The engine-neutral answer from the scored rows (`COLUMNS`): predictions by image id, each scoring
    process's model load, and the decode and predict seconds summed over the workers."""
    loads: dict[int, tuple[float, float]] = {}
    for pid, seconds, at in zip(got["pid"].tolist(), got["load_s"].tolist(), got["loaded_at"].tolist(), strict=True):
        loads[int(pid)] = (float(seconds), float(at))
    return {"ids": np.asarray(got["id"], dtype=np.int64), "labels": np.asarray(got["label"], dtype=np.int64),
            "model_load_s": [s for s, _ in loads.values()],
            "loads_in_call": sum(1 for _, at in loads.values() if at >= t0),
            "decode_s": float(np.sum(got["decode_s"])), "predict_s": float(np.sum(got["predict_s"])),
            "processes": len(loads), "workers": workers, "device": device,
            # the job's start: from the call's start until the first batch's decode began (model loaded)
            "job_start_s": float(np.min(got["started_at"]) - t0) if len(got["started_at"]) else 0.0}
