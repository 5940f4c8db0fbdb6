"""Calibrates the synthetic CIFAR-10 set's difficulty against the cnn check's tolerance.

    python benchmarks/cnn_difficulty.py [--scale tiny] [--orders 5] [--amplitudes 32,16,12,8]

The check accepts a final accuracy within TOLERANCE of the local loop's range over sample orders.
That range must hold every correct engine (each trains in its own order), and the bugs the check
exists for must fall clearly outside it. All three bugs (ranks without the gradient all-reduce, every
rank on the same shard, half the data used twice) leave the model trained on half the distinct
images, so this script trains the plain local loop, in this process, for each signal amplitude of
the synthetic generator (`data.synthetic_arrays`), on `--orders` orders of:

  full   the whole training set (what a correct engine does);
  half   its first half, used twice per epoch (the same number of steps: the bugs' effect).

and prints each range and the margin: lowest full minus highest half, against the tolerance. Only
numpy and torch run: no engine starts.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from enginebench.workloads.cnn import data
    from enginebench.workloads.cnn.model import Recipe, normalize, run_local
    from enginebench.workloads.cnn.spec import PARAMS, TOLERANCE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="tiny", choices=[s for s, p in PARAMS.items() if p["data"] == "synthetic"])
    parser.add_argument("--orders", type=int, default=5)
    parser.add_argument("--amplitudes", default=f"{data.AMPLITUDE:g}")
    args = parser.parse_args()
    params = PARAMS[args.scale]
    recipe = Recipe.from_params(params)
    n, n_test = params["n_train"], params["n_test"]
    print(f"{args.scale}: {n} training + {n_test} test images, {params['epochs']} epochs, target "
          f"{params['target_accuracy']}, tolerance {TOLERANCE}, {args.orders} orders", flush=True)
    for amplitude in (float(a) for a in args.amplitudes.split(",")):
        x, y = data.synthetic_arrays(n, params["seed"], 0, amplitude)
        xt, yt = data.synthetic_arrays(n_test, params["seed"], 1, amplitude)
        x, xt = normalize(x), normalize(xt)
        half = np.concatenate([np.arange(n // 2), np.arange(n // 2)])
        ranges: dict[str, list[float]] = {"full": [], "half": []}
        t0 = time.perf_counter()
        for k in range(args.orders):
            order = np.random.default_rng([params["seed"], 1, k]).permutation(n)
            for name, rows in (("full", order), ("half", order[half])):
                result = run_local(x[rows], y[rows], xt, yt, recipe, 1, False, time.time())
                ranges[name].append(float(result["final_accuracy"]))
        full, bad = ranges["full"], ranges["half"]
        margin = min(full) - max(bad)
        print(f"amplitude {amplitude:5g}: full {min(full):.3f}-{max(full):.3f} (median {np.median(full):.3f}), "
              f"half {min(bad):.3f}-{max(bad):.3f}; margin {margin * 100:+.1f} points vs tolerance "
              f"{TOLERANCE * 100:.0f} ({'clear' if margin > 2 * TOLERANCE else 'NOT clear'}); "
              f"{time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
