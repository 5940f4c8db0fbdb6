"""requirements.lock: the exact version of every distribution `pip install -e .[test,dev]` installs.

`./enginebench lock` writes it from pip's dry-run resolution report (`python harness/enginebench/cli/lockfile.py REPORT
LOCK`), the bootstrap installs with it as pip constraints, and `enginebench doctor` compares the installed
versions with it. Standard library only: the lock is written by the bare Python that creates .venv.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOCK_NAME = "requirements.lock"

#: The command that installs the locked versions into the current environment (run at the repo root).
INSTALL_COMMAND = f"pip install -c {LOCK_NAME} -e '.[test,dev]'"

HEADER = """\
# requirements.lock: the exact version of every distribution `pip install -e .[test,dev]` installs.
# Made by `./enginebench lock` (pip's dry-run resolution of pyproject.toml in a throw-away venv:
# pip {pip}, Python {python} on {platform}). Do not edit by hand: change pyproject.toml, run
# `./enginebench lock`, review the diff and commit both files.
#
# It is a pip *constraints* file, not a requirements file: ./enginebench installs with
#   pip install -c requirements.lock -e '.[test,dev]'
# Every package listed here that the install needs gets exactly this version; a listed package a
# platform does not need is not installed; a package that is not listed stays free: the platform
# extras other machines pull in, e.g. the nvidia-* CUDA libraries of a CUDA build of torch, which
# that torch build pins itself. Versions carry no local label and there are no hashes: torch==2.13.0
# matches any build of 2.13.0, so this machine keeps its CPU wheel (2.13.0+cpu) and a CUDA machine
# gets its CUDA one. `enginebench doctor` reports installed versions that differ from this file.
"""

_NAME_SEP = re.compile(r"[-_.]+")
_PIN = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*([^\s;,]+)")


def normalize_name(name: str) -> str:
    """PEP 503 name: 'PyYAML' -> 'pyyaml', 'typing_extensions' -> 'typing-extensions'."""
    return _NAME_SEP.sub("-", name).lower()


def public_version(version: str) -> str:
    """The version without its local label: '2.13.0+cpu' -> '2.13.0'."""
    return version.partition("+")[0]


def parse_lock(text: str) -> dict[str, str]:
    """Normalized name -> version from the lock's `name==version` lines (comments and blank lines
    skipped); ValueError naming the line for anything else."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.partition("#")[0].strip()
        if not line:
            continue
        m = _PIN.fullmatch(line)
        if not m:
            raise ValueError(f"{LOCK_NAME} line {number}: expected name==version, got {raw.strip()!r}")
        pins[normalize_name(m.group(1))] = m.group(2)
    return pins


def version_matches(installed: str, locked: str) -> bool:
    """pip's `==` rule: a lock version without a local label matches every local build of it
    (2.13.0+cpu matches 2.13.0); one with a label matches only itself."""
    if "+" in locked:
        return installed == locked
    return public_version(installed) == locked


def lock_drift(
    locked: Mapping[str, str], installed: Mapping[str, str]
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Compare installed distributions with the lock, both keyed by any spelling of the name:
    ([(name, installed version, locked version)] for the ones that differ, [names not installed]),
    each sorted by name. Installed packages the lock does not list are not drift."""
    have = {normalize_name(name): version for name, version in installed.items()}
    differ: list[tuple[str, str, str]] = []
    missing: list[str] = []
    for name, want in sorted((normalize_name(n), v) for n, v in locked.items()):
        got = have.get(name)
        if got is None:
            missing.append(name)
        elif not version_matches(got, want):
            differ.append((name, got, want))
    return differ, missing


def pins_from_report(report: Mapping[str, Any]) -> dict[str, str]:
    """Normalized name -> public version of everything pip's `--report` would install, less local
    source trees (enginebench itself)."""
    pins: dict[str, str] = {}
    for item in report["install"]:
        if "dir_info" in item.get("download_info", {}):
            continue
        meta = item["metadata"]
        pins[normalize_name(meta["name"])] = public_version(meta["version"])
    return pins


def render_lock(pins: Mapping[str, str], pip: str, python: str, platform: str) -> str:
    """The lock's text: the header, then `name==version` lines sorted by name."""
    header = HEADER.format(pip=pip, python=python, platform=platform)
    return header + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))


def write_lock(report_path: Path, lock_path: Path) -> int:
    """Rewrite lock_path from a pip report atomically (a temporary file renamed over it); the
    number of pins."""
    report = json.loads(report_path.read_text())
    env = report.get("environment", {})
    pins = pins_from_report(report)
    text = render_lock(
        pins,
        pip=report.get("pip_version", "?"),
        python=env.get("python_version", "?"),
        platform=f"{env.get('platform_system', '?')} {env.get('platform_machine', '?')}",
    )
    parse_lock(text)  # never write a lock that doctor or pip could not read
    fd, tmp = tempfile.mkstemp(prefix=f".{lock_path.name}.", dir=lock_path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, lock_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(pins)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m enginebench.cli.lockfile PIP_REPORT.json requirements.lock", file=sys.stderr)
        return 2
    count = write_lock(Path(argv[0]), Path(argv[1]))
    print(f"enginebench: wrote {count} pins to {argv[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
