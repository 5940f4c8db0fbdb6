"""What a workload adds to the command line: `enginebench data NAME` subcommands, and the argparse
value types with one-line errors that their flags (and the CLI's own) use.

A workload declares its commands in `workloads/<name>/commands.py` as `DATA_COMMANDS`; that module
stays import-light (the CLI imports it to build `--help`), and `run` imports what it needs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DataCommand:
    """`enginebench data <name>`: generate, import or verify one data set a workload reads."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def int_in(lo: int, hi: int, what: str) -> type[int]:
    """An argparse type: an integer in [lo, hi], with a one-line error naming what is accepted."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid {what} {text!r} (accepted: an integer from {lo} to {hi})"
            ) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"invalid {what} {value} (accepted: an integer from {lo} to {hi})")
        return value

    parse.__name__ = what
    return parse  # type: ignore[return-value]


def float_in(lo: float, hi: float, what: str, accepted: str) -> type[float]:
    """An argparse type: a float in (lo, hi], with a one-line error naming what is accepted."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = lo
        if not lo < value <= hi:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r} (accepted: {accepted})")
        return value

    parse.__name__ = what
    return parse  # type: ignore[return-value]
