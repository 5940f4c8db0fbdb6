"""`enginebench doctor`: can this machine run every engine? Says what to fix when it cannot."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from harness import registry
from harness.budget import format_bytes
from harness.engines.base import Finding

MIN_PYTHON = (3, 11)


def diagnose(import_engines: bool = True) -> list[Finding]:
    """Machine-wide checks (Python, memory, /dev/shm, disk) and every engine's own (packages, Java),
    each `what` reported once."""
    out: list[Finding] = []
    py = sys.version_info
    if py[:2] >= MIN_PYTHON:
        out.append(Finding("ok", "python", f"{sys.version.split()[0]} ({sys.executable})"))
    else:
        out.append(Finding("fail", "python", f"{sys.version.split()[0]}: enginebench needs Python >= 3.11"))
    for cls in registry.engine_classes():
        seen = {f.what for f in out}
        out += [f for f in cls.doctor_checks(import_engines) if f.what not in seen]

    import psutil

    avail = psutil.virtual_memory().available
    level = "ok" if avail >= 4 * 2**30 else "warn"
    out.append(Finding(level, "memory", f"{format_bytes(avail)} available"
                       + ("" if level == "ok" else ": engines may fail under 4 GiB")))
    if Path("/dev/shm").exists():
        shm = shutil.disk_usage("/dev/shm")
        level = "ok" if shm.free >= 2 * 2**30 else "warn"
        out.append(Finding(level, "/dev/shm", f"{format_bytes(shm.free)} free of {format_bytes(shm.total)}"
                           + ("" if level == "ok" else ": Ray's object store falls back to slower disk")))
    disk = shutil.disk_usage(Path.cwd())
    out.append(Finding("ok" if disk.free > 5 * 2**30 else "warn", "disk", f"{format_bytes(disk.free)} free here"))
    return out
