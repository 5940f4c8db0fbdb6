"""Facts about the machine and software a run happened on; recorded in every results file."""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The checkout this package runs from: harness/enginebench/core/machine.py -> the repository root.
REPO_ROOT = Path(__file__).resolve().parents[3]


@functools.cache
def java_version() -> str | None:
    """`java -version`'s version string (e.g. '17.0.15'), or None when no Java is found."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
    return m.group(1) if m else None


def java_major(version: str | None) -> int | None:
    """17 for '17.0.15', 8 for '1.8.0_392'."""
    if not version:
        return None
    parts = version.split(".")
    try:
        return int(parts[1]) if parts[0] == "1" else int(parts[0])
    except (ValueError, IndexError):
        return None


def git_state(root: Path = REPO_ROOT) -> dict[str, Any]:
    """Commit and dirtiness of the checkout enginebench runs from (None outside a git checkout)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[dict[str, str]]:
    """GPUs as nvidia-smi sees them (no torch import); empty when there are none."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    rows = []
    for line in out.stdout.strip().splitlines():
        name, mem, driver = (p.strip() for p in (line.split(",") + ["", ""])[:3])
        rows.append({"name": name, "memory": mem, "driver": driver})
    return rows


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, /dev/shm, GPUs, OS: what makes two runs comparable or not."""
    import psutil

    shm = shutil.disk_usage("/dev/shm").total if Path("/dev/shm").exists() else None
    return {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu_model": cpu_model(),
        "logical_cpus": psutil.cpu_count(logical=True),
        "physical_cpus": psutil.cpu_count(logical=False),
        "memory_bytes": int(psutil.virtual_memory().total),
        "shm_bytes": shm,
        "gpus": gpus(),
    }


def software(engine_packages: Sequence[str] = ()) -> dict[str, Any]:
    """Python and the installed version of enginebench, of each engine package named and of the packages
    every workload leans on, read from metadata (no imports)."""
    import importlib.metadata

    versions: dict[str, str] = {}
    for pkg in dict.fromkeys(("enginebench", *engine_packages, "numpy", "pandas", "pyarrow", "torch", "duckdb")):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "java": java_version(),
        "packages": versions,
    }


def pinned_requirements() -> dict[str, str]:
    """enginebench's own pins (from its installed metadata): import name -> requirement string."""
    import importlib.metadata

    try:
        reqs = importlib.metadata.requires("enginebench") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    out: dict[str, str] = {}
    for req in reqs:
        spec = req.split(";")[0].strip()
        if "extra ==" in req:
            continue
        name = re.split(r"[\[<>=!~ ]", spec, maxsplit=1)[0].lower()
        out[name] = spec
    return out


def install_hint(package: str) -> str:
    """`pip install '<pinned requirement>'` for a package enginebench depends on."""
    return f"pip install '{pinned_requirements().get(package, package)}'"
