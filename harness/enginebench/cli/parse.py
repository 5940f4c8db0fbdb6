"""Parsing of command-line values that are more than a name list: `--at` sizes."""

from __future__ import annotations

import math


def parse_sizes(text: str) -> dict[str, float]:
    """`--at`: 'n_train=1e6,sf=100' (a size per parameter) or '1000x' (a factor of each ladder's largest
    size). Raises ValueError with what is accepted."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, eq, value = part.rpartition("=")
        key = key.strip() if eq else "x"
        raw = value.strip().removesuffix("x") if key == "x" else value.strip()
        if key == "x" and not value.strip().endswith("x"):
            raise ValueError(f"--at {text!r}: {part!r} needs a parameter or an x (accepted: PARAM=SIZE such as "
                             "n_train=1000000, or a factor of the largest size measured such as 1000x)")
        try:
            number = float(raw.replace("_", ""))
        except ValueError:
            number = -1.0
        if not number > 0 or not math.isfinite(number):
            raise ValueError(f"--at {text!r}: {part!r} is not a positive number (accepted: PARAM=SIZE such as "
                             "sf=100, or FACTORx such as 1000x)")
        out[key] = number
    if not out:
        raise ValueError("--at needs a size (accepted: PARAM=SIZE such as n_images=1000000, or FACTORx such as 1000x)")
    return out
