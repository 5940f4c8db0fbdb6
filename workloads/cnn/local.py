"""local: the plain single-process PyTorch loop, the reference every engine is compared to.

One process (the driver), one torch thread: what one core does without any engine. At a 1-CPU
budget that is like-for-like with each engine's single worker (1 process x 1 thread): the
engine-overhead comparison. At N CPUs an engine's ratio to local is its data-parallel speed-up
over one core. Why not N intra-op threads: for this small net, batches of 32-64 images give each
op too little work to split, and OpenMP's spinning threads collapsed when the cores were shared
(2 threads ran 10-60x slower than 1 here under load), which would make the baseline a measure of
contention. On a GPU it trains on cuda:0.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from enginebench import EngineContext, Params, use_gpu
from enginebench.workloads.cnn.model import LOCAL_THREADS, Recipe, answer, normalize, run_local


def train(ctx: EngineContext, params: Params, inputs: Any) -> dict[str, Any]:
    t0 = time.time()
    data = {"train_x": normalize(inputs["train_x"]), "train_y": inputs["train_y"],
            "test_x": normalize(inputs["test_x"]), "test_y": inputs["test_y"]}  # load: normalized in this process
    load_s = time.time() - t0
    recipe = Recipe.from_params(params)
    gpu = use_gpu(params, torch.cuda.is_available(), "this process")
    threads_before = torch.get_num_threads()
    try:
        result = run_local(data["train_x"], data["train_y"], data["test_x"], data["test_y"], recipe, LOCAL_THREADS,
                           gpu, t0)
    finally:
        torch.set_num_threads(threads_before)
    return answer(result, engine=ctx.engine, world=1, threads=LOCAL_THREADS, device="cuda" if gpu else "cpu",
                  backend="none", recipe=recipe, load_s=load_s)


CASES = {"train": train}
NOTES = {"train": "one process, one torch thread (one core), numpy batches from the normalized arrays"}
