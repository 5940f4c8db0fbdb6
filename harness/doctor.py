"""`enginebench doctor`: can this machine run every engine? Says what to fix when it cannot."""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.budget import format_bytes
from harness.environment import java_major, java_version, pinned_requirements

#: import name -> distribution name, for every package an engine needs.
ENGINE_PACKAGES = {"ray": "ray", "dask": "dask", "distributed": "distributed", "pyspark": "pyspark",
                   "raydp": "raydp"}
MIN_PYTHON = (3, 11)
JAVA_MAJOR = 17


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report: ok, warn (runs, but note it) or fail (must be fixed)."""

    level: str
    what: str
    detail: str


def _pinned_version(dist: str) -> str | None:
    req = pinned_requirements().get(dist, "")
    return req.split("==", 1)[1] if "==" in req else None


def diagnose(import_engines: bool = True) -> list[Finding]:
    out: list[Finding] = []
    py = sys.version_info
    if py[:2] >= MIN_PYTHON:
        out.append(Finding("ok", "python", f"{sys.version.split()[0]} ({sys.executable})"))
    else:
        out.append(Finding("fail", "python", f"{sys.version.split()[0]}: enginebench needs Python >= 3.11"))

    jv = java_version()
    major = java_major(jv)
    if jv is None:
        out.append(Finding("fail", "java", "not found: spark and spark-on-ray need Java 17 "
                           "(apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"))
    elif major != JAVA_MAJOR:
        out.append(Finding("warn", "java", f"{jv}: tested with Java {JAVA_MAJOR}; Spark 3.5 also runs on 8 and 11"))
    else:
        out.append(Finding("ok", "java", jv))

    for module, dist in ENGINE_PACKAGES.items():
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out.append(Finding("fail", dist, f"not installed: pip install '{pinned_requirements().get(dist, dist)}'"))
            continue
        if import_engines:
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 - any import failure is a finding
                out.append(Finding("fail", dist, f"{version} installed but import fails: {type(exc).__name__}: {exc}"))
                continue
        pinned = _pinned_version(dist)
        if pinned and pinned != version:
            out.append(Finding("warn", dist, f"{version} (known-good pin: {pinned})"))
        else:
            out.append(Finding("ok", dist, version))

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
