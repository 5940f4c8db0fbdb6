"""The serve workload: online scoring of the inference workload's trained CNN over HTTP, one image per request.

Case `predict`: a server is started and the model deployed (the `setup` phase, its own figure); then a
closed-loop HTTP client in a process of its own (load.py) sends images over loopback at each concurrency
level (1, 4, 16, 64), each level bounded in requests and in time, and every reply is checked. The model, the
checkpoint, the decode and the predict are the inference workload's at the same scale (its cache: trained
once, verified by sha256). Engines:

- ray: a Ray Serve deployment, one replica of one CPU per CPU of the budget, the FastAPI route mounted with
  `serve.ingress`, HTTP through Serve's proxy, requests batched per replica with `serve.batch` (ray.py);
- local: the same FastAPI app on uvicorn with one worker process per CPU (local.py), the baseline;
- dask, spark and spark-on-ray have no online serving (`Case.only`, the reason stated once).

Figures, per level: requests/s (timed replies over the level's wall time) and p50/p95/p99 latency (client side,
from send to the parsed reply); the latency-throughput curve; the client's CPU seconds. Headline: the highest
requests/s among the levels whose p99 stays under the scale's `p99_bound_ms` (0 when none does). The client
shares the machine with the server: on a small machine it takes CPU the server would otherwise use, so its
CPU share is recorded beside every level, and the record's CPU and memory are the server's (the client is
measured apart, `enginebench.measured_apart`).

The check: every request (warm-ups included) answered with HTTP 200 and the id it asked about, and every label
equal to the reference model's for that image (the local model, batches of 512). Only a near-tie may
differ: an image whose two best logits are within `NEAR_TIE` of each other, answered with the second best (a
different batch composition changes the float summation order). tests/test_serve.py plants a replica that
returns wrong labels and one that drops requests and expects `wrong`.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from enginebench import Case, Metric, Params, Timed, Verdict, Workload, percentile

#: Two logits closer than this are a near-tie: either label is accepted.
NEAR_TIE = 1e-4
LEVELS = (1, 4, 16, 64)

_COMMON = {"levels": LEVELS, "request_timeout_s": 10.0, "start_timeout_s": 120.0, "max_batch_size": 8,
           "batch_wait_ms": 2.0, "plant": ""}
#: `model`: the inference workload's scale whose checkpoint and image set are served; `images`: how many of its
#: test images the client cycles through; `requests`: timed requests per level (at most); `level_s`: each
#: level's time bound; `p99_bound_ms`: the latency bound of the headline.
PARAMS: dict[str, dict[str, Any]] = {
    "tiny": {**_COMMON, "model": "tiny", "images": 512, "requests": 300, "level_s": 20.0, "p99_bound_ms": 100.0},
    "small": {**_COMMON, "model": "small", "images": 2048, "requests": 3000, "level_s": 60.0, "p99_bound_ms": 100.0},
    "medium": {**_COMMON, "model": "medium", "images": 10000, "requests": 10000, "level_s": 120.0,
               "p99_bound_ms": 250.0},
    "large": {**_COMMON, "model": "large", "images": 10000, "requests": 50000, "level_s": 300.0,
              "p99_bound_ms": 250.0},
}


def _model_params(params: Params) -> dict[str, Any]:
    from enginebench.workloads.inference.spec import PARAMS as INFERENCE

    return {**INFERENCE[params["model"]], "n_images": params["images"]}


def prepare(params: Params) -> dict[str, Any]:
    """The images as one .npy file in a scratch folder (removed at the end of the run), their true labels, and
    the inference workload's verified checkpoint for the scale."""
    import numpy as np

    from enginebench.workloads.inference import spec as inference

    model = _model_params(params)
    ds = inference.dataset(model)
    x, y = inference.images(model, ds)
    ckpt = inference.checkpoint(model, ds)
    folder = Path(tempfile.mkdtemp(prefix="enginebench-serve-"))
    np.save(folder / "images.npy", np.ascontiguousarray(x, dtype=np.uint8))
    return {"folder": str(folder), "images": str(folder / "images.npy"), "labels": y.astype(np.int64),
            "checkpoint": ckpt, "n": len(y), "source": ds.source, "first_image": bytes(x[0])}


def teardown(inputs: dict[str, Any]) -> None:
    shutil.rmtree(inputs["folder"], ignore_errors=True)


def reference(params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """The local model's label and logits margin for every image (one process, batches of 512);
    kept in `inputs` for `check`; the summary goes into the records' notes."""
    import numpy as np
    import torch

    from enginebench.workloads.inference import model as m

    net, _, _ = m.loaded_model(inputs["checkpoint"])
    rows = np.load(inputs["images"])
    with torch.inference_mode():
        logits = np.concatenate([net(torch.from_numpy(m.decode(rows[lo:lo + 512]))).numpy()
                                 for lo in range(0, len(rows), 512)])
    top2 = np.argsort(logits, axis=1)[:, ::-1][:, :2]
    margin = logits[np.arange(len(logits)), top2[:, 0]] - logits[np.arange(len(logits)), top2[:, 1]]
    inputs["reference_labels"], inputs["runner_up"] = top2[:, 0], np.where(margin < NEAR_TIE, top2[:, 1], -1)
    accuracy = float((top2[:, 0] == inputs["labels"]).mean())
    return {"accuracy": round(accuracy, 4), "images": int(len(logits)), "near_ties": int((margin < NEAR_TIE).sum())}


def _no_reply(status: int) -> str:
    return {0: "no reply", -1: "timed out", -2: "unreadable reply"}.get(status, f"HTTP {status}")


def check(answer: dict[str, Any], params: Params, inputs: dict[str, Any], ref: Any) -> Verdict:
    import numpy as np

    levels = answer["levels"]
    if [lv["concurrency"] for lv in levels] != list(params["levels"]):
        return Verdict.expect("concurrency levels run", [lv["concurrency"] for lv in levels], list(params["levels"]))
    for lv in levels:
        c, ids, status = lv["concurrency"], np.asarray(lv["ids"]), np.asarray(lv["status"])
        failed = status != 200
        if failed.any():
            kinds = Counter(_no_reply(int(s)) for s in status[failed])
            return Verdict(False, f"{int(failed.sum())} of {len(status)} requests at concurrency {c} got no answer ("
                                  + ", ".join(f"{k} x{n}" for k, n in kinds.most_common()) + ")")
        if len(ids) <= lv["warmup"]:
            return Verdict(False, f"concurrency {c} answered no timed request within its {params['level_s']:g} s bound")
        returned = np.asarray(lv["returned"])
        if (returned != ids).any():
            bad = np.flatnonzero(returned != ids)
            return Verdict(False, f"{len(bad)} replies at concurrency {c} name another image than the one sent "
                                  f"(sent {ids[bad[:3]].tolist()}, got {returned[bad[:3]].tolist()})")
        labels = np.asarray(lv["labels"])
        expected, second = inputs["reference_labels"][ids], inputs["runner_up"][ids]
        wrong = (labels != expected) & (labels != second)
        if wrong.any():
            images = np.unique(ids[wrong])
            return Verdict(False, f"{int(wrong.sum())} of {len(ids)} labels at concurrency {c} differ from the "
                                  f"reference model's ({len(images)} images, ids {images[:5].tolist()})")
    return Verdict(True)


def level_figures(level: dict[str, Any], cpus: int) -> dict[str, float]:
    """One level's figures from the client's rows: timed replies per second, latency percentiles (ms), the
    client's CPU as a share of the budget's CPUs over the level."""
    timed = level["latency_ms"][level["warmup"]:]
    seconds = level["seconds"]
    return {"requests_per_s": len(timed) / seconds if seconds > 0 else 0.0,
            "p50_ms": percentile(timed, 50), "p95_ms": percentile(timed, 95), "p99_ms": percentile(timed, 99),
            "client_cpu_share": level["cpu_s"] / (seconds * cpus) if seconds > 0 else 0.0,
            "requests": float(len(timed))}


def _per_level(runs: Sequence[Timed], cpus: int) -> dict[int, dict[str, float]]:
    """Each level's figures, the median over the repetitions."""
    out: dict[int, dict[str, float]] = {}
    for i, lv in enumerate(runs[0].answer["levels"]):
        each = [level_figures(r.answer["levels"][i], cpus) for r in runs]
        out[lv["concurrency"]] = {k: statistics.median(f[k] for f in each) for k in each[0]}
    return out


def headline(levels: dict[int, dict[str, float]], bound_ms: float) -> tuple[float, int]:
    """The highest requests/s among the levels whose p99 is within the bound, and that level (0, 0: none)."""
    within = [(f["requests_per_s"], c) for c, f in levels.items() if f["p99_ms"] <= bound_ms]
    return max(within) if within else (0.0, 0)


def summarize(params: Params, inputs: dict[str, Any], runs: Sequence[Timed], cpus: int) -> dict[str, float]:
    levels = _per_level(runs, cpus)
    best, at = headline(levels, params["p99_bound_ms"])
    out = {"requests_per_s": best, "at_concurrency": float(at),
           "peak_requests_per_s": max(f["requests_per_s"] for f in levels.values()),
           "server_start_s": statistics.median(r.answer["start_s"] for r in runs),
           "processes_answering": statistics.median(
               len({p for lv in r.answer["levels"] for p in lv["pids"]}) for r in runs)}
    for c, f in levels.items():
        out.update({f"c{c}_{k}": v for k, v in f.items() if k != "requests"})
    return out


def series(params: Params, inputs: dict[str, Any], runs: Sequence[Timed]) -> dict[str, list[list[float]]]:
    """The latency-throughput curves: p50 and p99 latency against requests/s, a point per concurrency level
    (medians over the repetitions)."""
    levels = _per_level(runs, 1)
    return {f"{q} latency (ms) vs requests/s": [[f["requests_per_s"], f[f"{q}_ms"]] for f in levels.values()]
            for q in ("p50", "p99")}


def notes(params: Params, inputs: dict[str, Any], runs: Sequence[Timed]) -> dict[str, Any]:
    a = runs[-1].answer
    return {"server": a["server"], "client": a["client"] + ", closed loop, a process of its own on loopback",
            "p99_bound_ms": params["p99_bound_ms"], "levels": list(params["levels"]), "data": inputs["source"],
            "checkpoint_sha256": inputs["checkpoint"].sha256[:16],
            "client_cpu_s": [round(lv["cpu_s"], 3) for lv in a["levels"]]}


WORKLOAD = Workload(
    name="serve",
    title="Online serving (the inference workload's CNN over HTTP, one image per request)",
    category="online serving",
    package=__package__,
    cases=(
        Case(
            name="predict",
            description="start a server and deploy the model, then a closed-loop HTTP client at concurrency 1, 4, "
                        "16 and 64, one image per request, every label checked",
            params=PARAMS,
            primary=Metric("requests_per_s", "requests/s", True),
            size_param="requests",
            size_unit="request",
            make_inputs=prepare,
            teardown=teardown,
            reference=reference,
            check=check,
            summarize=summarize,
            series=series,
            notes=notes,
            only=("ray", "local"),
            only_reason="no online serving: Dask and Spark (and Spark on Ray) run batch jobs, not request-reply "
                        "endpoints; a model server beside them would be the local baseline again",
            timeout_s={"tiny": 300, "small": 900, "medium": 1800, "large": 3600},
        ),
    ),
)
