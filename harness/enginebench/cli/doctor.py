"""`enginebench doctor`: can this machine run every engine? Says what to fix when it cannot."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from pathlib import Path

from enginebench.cli.lockfile import INSTALL_COMMAND, LOCK_NAME, lock_drift, normalize_name, parse_lock
from enginebench.core.budget import format_bytes
from enginebench.core.machine import REPO_ROOT
from enginebench.engines.base import Finding
from enginebench.plan import registry

MIN_PYTHON = (3, 11)


def diagnose(import_engines: bool = True) -> list[Finding]:
    """Machine-wide checks (Python, memory, /dev/shm, installed versions against requirements.lock,
    disk) and every engine's own (packages, Java), each `what` reported once."""
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
    out.append(lock_finding())
    out += environment_findings()
    disk = shutil.disk_usage(Path.cwd())
    out.append(Finding("ok" if disk.free > 5 * 2**30 else "warn", "disk", f"{format_bytes(disk.free)} free here"))
    return out


def environment_findings() -> list[Finding]:
    """Each engine's environment (the main one, or its own overlay: built and current, or built on first
    use), then any other environment built under the environments folder (releases run as ENGINE@VERSION)."""
    from enginebench.engines import environment

    out: list[Finding] = []
    named: set[str] = set()
    for name in registry.ENGINES:
        env = registry.environment(name)
        if env.main:
            out.append(Finding("ok", f"environment of {name}", f"main ({sys.prefix})"))
            continue
        named.add(env.name)
        state = f"built in {environment.location(env)}" if environment.built(env) else \
            f"not built yet: made on first use in {environment.location(env)} (about a minute)"
        out.append(Finding("ok", f"environment of {name}", f"{env.name} ({', '.join(env.pins)}): {state}"))
    for made in environment.listing():
        if made["name"] in named:
            continue
        level = "ok" if made["current"] else "warn"
        stale = "" if made["current"] else ": stale (the main environment changed), rebuilt on next use"
        out.append(Finding(level, f"environment {made['name']}",
                           f"{', '.join(made['overlay']) or 'nothing of its own'} in {made['path']}{stale}"))
    return out


def installed_versions() -> dict[str, str]:
    """Normalized name -> version of every distribution this Python sees (the first on sys.path wins,
    as for an import)."""
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(normalize_name(name), dist.version)
    return out


def lock_finding(root: Path = REPO_ROOT, installed: dict[str, str] | None = None, shown: int = 8) -> Finding:
    """Installed versions against the checkout's requirements.lock: ok when every locked package is
    at its version, warn listing the drift (or when a checkout has no lock); a wheel install (no
    pyproject.toml beside the harness package) has no lock to check."""
    path = root / LOCK_NAME
    if not path.is_file():
        if (root / "pyproject.toml").is_file():
            return Finding("warn", "lock", f"no {LOCK_NAME} in {root}: versions not checked (./enginebench lock)")
        return Finding("ok", "lock", f"not checked: no {LOCK_NAME} beside the harness package (a wheel install?)")
    try:
        locked = parse_lock(path.read_text())
    except (OSError, ValueError) as exc:
        return Finding("warn", "lock", f"cannot read {path}: {exc}")
    differ, missing = lock_drift(locked, installed_versions() if installed is None else installed)
    if not differ and not missing:
        return Finding("ok", "lock", f"{len(locked)} packages match {LOCK_NAME}")
    parts = []
    if differ:
        listed = ", ".join(f"{name} {got} (lock {want})" for name, got, want in differ[:shown])
        more = f", and {len(differ) - shown} more" if len(differ) > shown else ""
        noun = "package differs" if len(differ) == 1 else "packages differ"
        parts.append(f"{len(differ)} {noun} from {LOCK_NAME}: {listed}{more}")
    if missing:
        more = f", and {len(missing) - shown} more" if len(missing) > shown else ""
        parts.append(f"missing: {', '.join(missing[:shown])}{more}")
    parts.append(f"fix: {INSTALL_COMMAND} (in {root})")
    return Finding("warn", "lock", "; ".join(parts))
