"""`enginebench data tpch`: the etl workload's data set. Import-light: data.py (duckdb) loads in `run`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from enginebench import DataCommand, float_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sf", type=float_in(0, 10_000, "scale factor", "a number above 0, e.g. 0.01, 1, 10"),
                        default=0.01, help="TPC-H scale factor (default 0.01)")
    parser.add_argument("--dir", help="data root (default $ENGINEBENCH_DATA or ./data)")


def run(args: argparse.Namespace) -> int:
    """Generate (or verify the cached) TPC-H tables and the raw text; print what is there."""
    from enginebench.workloads.etl import data

    root = Path(args.dir).resolve() if args.dir else None
    t0 = time.perf_counter()
    directory, rows = data.ensure_tpch(args.sf, root)
    print(f"tpch sf={args.sf:g}: {directory} ({time.perf_counter() - t0:.1f} s)")
    for table, n in rows.items():
        print(f"  {table:<9} {n:>12,} rows")
    t0 = time.perf_counter()
    raw, manifest = data.ensure_raw(args.sf, root)
    print(f"raw text for the pipeline: {raw} ({time.perf_counter() - t0:.1f} s)")
    for table, n in manifest["lines"].items():
        planted = ", ".join(f"{k} {v}" for k, v in manifest["planted"].get(table, {}).items())
        print(f"  {table:<9} {n:>12,} lines" + (f" (planted: {planted})" if planted else ""))
    return 0


DATA_COMMANDS = (DataCommand(
    "tpch", "TPC-H tables as parquet and raw .tbl text (defects planted), via DuckDB's dbgen", add_arguments, run),)
