"""Engine environments: an engine, or one release of it, runs from an environment of its own.

The main environment (`.venv`, from `requirements.lock`) holds every engine. An engine whose pins
differ from it, such as `spark` on PySpark 4 beside RayDP's PySpark 3.5, or a release asked for as
`ENGINE@VERSION` (`ray@2.55.1`), runs its driver process from a named environment built on first use
under `.venvs/<name>/` (`ENGINEBENCH_ENVS` moves it) and reused while its pins and the main
environment stay the same.

Such an environment is an overlay: a virtual environment holding only the distributions that must
differ, with the main environment's site-packages after its own on the path (a `.pth` file). pip
installs the pins into it and keeps every installed distribution of the main environment that still
satisfies them, so the overlay is as small as the difference (PySpark 4: one 450 MB wheel, about
30 s). What an engine ran on is recorded in its session (`current()`): the interpreter, the
overlay's distributions and a hash over every distribution the process could import.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from enginebench.core.errors import UsageError
from enginebench.core.files import atomic_write_text

#: The variable that names a driver's environment (set by the runner for the process it starts).
ENV_VAR = "ENGINEBENCH_ENV"
MAIN = "main"
_STAMP = ".enginebench-environment.json"


@dataclass(frozen=True)
class Environment:
    """A named set of exact pins (`pyspark==4.3.0`) on top of the main environment."""

    name: str
    pins: tuple[str, ...] = ()

    @property
    def main(self) -> bool:
        """Whether the main environment already is this one (no pins, or every pin installed there)."""
        for pin in self.pins:
            name, _, version = pin.partition("==")
            try:
                if metadata.version(name.split("[")[0]) != version:
                    return False
            except metadata.PackageNotFoundError:
                return False
        return True


def root() -> Path:
    """Where the environments live: beside the main environment, or ENGINEBENCH_ENVS."""
    return Path(os.environ.get("ENGINEBENCH_ENVS") or Path(sys.prefix).parent / ".venvs")


def main_fingerprint() -> str:
    """A hash over the main environment's distributions and interpreter: an overlay built on another is stale."""
    return _fingerprint(sorted(_installed()), sys.version)


def _installed(path: list[str] | None = None) -> list[str]:
    found = metadata.distributions(path=path) if path else metadata.distributions()
    return [f"{d.metadata['Name']}=={d.version}" for d in found if d.metadata["Name"]]


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def location(env: Environment) -> Path:
    return root() / env.name


def stamp(env: Environment) -> dict[str, Any]:
    """What an up-to-date overlay's stamp says: its pins and the main environment it was built on."""
    return {"name": env.name, "pins": list(env.pins), "main": main_fingerprint()}


def built(env: Environment) -> bool:
    try:
        return json.loads((location(env) / _STAMP).read_text()) == stamp(env)
    except (OSError, ValueError):
        return False


def python(env: Environment, say: Callable[[str], None] = lambda line: None) -> Path:
    """The interpreter of `env`: the main one when it already is `env`, else its overlay's, built first
    if missing or stale. A build that fails raises UsageError with pip's reason (its log is kept)."""
    if env.main:
        return Path(sys.executable)
    where = location(env)
    if not built(env):
        build(env, say)
    return where / "bin" / "python"


def build(env: Environment, say: Callable[[str], None]) -> None:
    """Create the overlay in a scratch folder, install the pins, then move it into place in one rename."""
    where = location(env)
    where.parent.mkdir(parents=True, exist_ok=True)
    scratch = where.with_name(f".{env.name}.building-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    log = where.with_name(f"{env.name}.build.log")
    say(f"building the {env.name} environment ({', '.join(env.pins)}) in {where}: first use only, about a minute")
    base = Path(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(scratch)], check=True, capture_output=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(scratch), "platbase": str(scratch)})["purelib"])
    main_site = sysconfig.get_paths()["purelib"]
    (purelib / "_enginebench_main.pth").write_text(f"import site; site.addsitedir({main_site!r})\n")
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "pip", "--python", str(scratch / "bin" / "python"), "install",
                               "--quiet", "--disable-pip-version-check", *env.pins],
                              stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        lines = [line for line in log.read_text().splitlines() if line.startswith("ERROR")]
        raise UsageError(f"could not build the {env.name} environment ({', '.join(env.pins)}): "
                         f"{lines[-1] if lines else 'pip failed'} (log: {log})")
    atomic_write_text(scratch / _STAMP, json.dumps(stamp(env)))
    shutil.rmtree(where, ignore_errors=True)
    scratch.rename(where)


def overlay_distributions(prefix: str | Path) -> list[str]:
    """The distributions an overlay itself holds (`name==version`), sorted."""
    purelib = sysconfig.get_paths(vars={"base": str(prefix), "platbase": str(prefix)})["purelib"]
    return sorted(_installed([purelib]))


@functools.cache
def current() -> dict[str, Any]:
    """This process's environment, as a results file records it: name, interpreter, what its overlay
    holds (nothing in the main environment) and `lock_sha256`, a hash over every importable distribution.
    Read once per process (every engine session records it; a process's distributions do not change)."""
    name = os.environ.get(ENV_VAR, MAIN)
    every = sorted(set(_installed()))
    return {"name": name, "python": sys.executable,
            "python_version": ".".join(map(str, sys.version_info[:3])),
            "overlay": overlay_distributions(sys.prefix) if name != MAIN else [],
            "lock_sha256": hashlib.sha256("\n".join(every).encode()).hexdigest()}


def listing() -> list[dict[str, Any]]:
    """The environments built under `root()`: name, path, pins, whether current with the main one."""
    out = []
    for folder in sorted(root().glob("*")) if root().is_dir() else []:
        try:
            made = json.loads((folder / _STAMP).read_text())
        except (OSError, ValueError):
            continue
        env = Environment(made["name"], tuple(made["pins"]))
        out.append({"name": env.name, "path": str(folder), "pins": list(env.pins), "current": built(env),
                    "overlay": overlay_distributions(folder)})
    return out
