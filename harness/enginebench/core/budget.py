"""The resource budget every engine in one comparison gets: the same CPUs and memory."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any

from enginebench.core.errors import UsageError

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
MAX_CPUS = 4096


def total_memory_bytes() -> int:
    """Physical memory of this machine (psutil is imported lazily: `list` must stay light)."""
    import psutil

    return int(psutil.virtual_memory().total)


def parse_memory(text: str) -> int:
    """Parse '8g', '512m', '1.5G' or a byte count into bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*", text.lower())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"invalid memory size {text!r} (accepted: a positive size such as 512m, 8g, 1.5g)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def format_bytes(n: float) -> str:
    """Human-readable bytes, binary units."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Budget:
    """CPUs and memory granted to each engine; recorded with every result.

    `memory_bytes` is the total for the engine's processes (driver excluded); each lifecycle
    splits it between its workers (and Ray's object store) in the way its docs recommend.
    """

    cpus: int
    memory_bytes: int

    def __post_init__(self) -> None:
        if not 1 <= self.cpus <= MAX_CPUS:
            raise UsageError(f"invalid CPU count {self.cpus} (accepted: an integer from 1 to {MAX_CPUS})")
        if self.memory_bytes < 256 * 1024**2:
            raise UsageError(
                f"invalid memory budget {format_bytes(self.memory_bytes)} (accepted: at least 256m)"
            )

    @classmethod
    def default(cls, cpus: int | None = None, memory_bytes: int | None = None) -> Budget:
        """All the machine's CPUs and half its memory unless told otherwise."""
        if cpus is None:
            cpus = os.cpu_count() or 1
        if memory_bytes is None:
            memory_bytes = total_memory_bytes() // 2
        return cls(cpus=cpus, memory_bytes=memory_bytes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Budget:
        return cls(cpus=int(data["cpus"]), memory_bytes=int(data["memory_bytes"]))
