"""`enginebench data higgs-like`: write the gbdt workload's table ahead of a run (a large one, or one on
storage every worker of a cluster reads); never overwrites a table. Import-light: data.py loads in `run`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from enginebench import DataCommand, UsageError, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int_in(1_000, 2_000_000_000, "training row count"), required=True,
                        help="training rows (the scales use 100000, 1000000, 10000000, 40000000)")
    parser.add_argument("--test-rows", type=int_in(1_000, 100_000_000, "held-out row count"), required=True,
                        help="held-out rows (the scales use 20000, 100000, 500000, 1000000)")
    parser.add_argument("--seed", type=int_in(0, 2**32 - 1, "seed"), default=0, help="seed (default 0)")
    parser.add_argument("--root", metavar="DIR",
                        help="data root to write under (default $ENGINEBENCH_DATA or ./data; runs read the table "
                             "from their own data root)")


def run(args: argparse.Namespace) -> int:
    from enginebench.workloads.gbdt import data

    root = Path(args.root).resolve() if args.root else None
    if root is not None and root.exists() and not root.is_dir():
        raise UsageError(f"--root {root} is a file (accepted: a directory, created if missing)")
    t0 = time.perf_counter()
    existed = (data.table_dir(args.rows, args.test_rows, args.seed, root) / data.META).exists()
    folder = data.ensure(args.rows, args.test_rows, args.seed, root)
    meta = data.meta(folder)
    what = "already present; not rewritten" if existed else f"written in {time.perf_counter() - t0:.1f} s"
    print(f"higgs-like: {folder} ({what})")
    print(f"  {meta['n_train']:,} training rows in {meta['train_files']} files + {meta['n_test']:,} held-out rows, "
          f"{len(meta['features'])} features; the true probabilities' held-out AUC: {meta['bayes_auc']:.4f}")
    return 0


DATA_COMMANDS = (DataCommand(
    "higgs-like", "the gbdt workload's HIGGS-like table (parquet, generated from a seed, no download)",
    add_arguments, run),)
