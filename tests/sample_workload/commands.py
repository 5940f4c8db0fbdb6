"""A data command that the CLI can only find by looking beside the sample workload's spec module."""

from __future__ import annotations

import argparse

from enginebench.contract.commands import DataCommand, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int_in(1, 100, "row count"), default=1)


def run(args: argparse.Namespace) -> int:
    print(f"sample data: {args.rows} rows")
    return 0


DATA_COMMANDS = (DataCommand("sample", "a sample data set", add_arguments, run),)
