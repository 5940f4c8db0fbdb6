"""The Engine lifecycle every engine module implements. The context handed to workloads,
`EngineContext`, is part of the workload contract (`enginebench.contract.spec`)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import socket
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from enginebench.contract.spec import EngineContext
from enginebench.core.budget import Budget
from enginebench.engines.environment import Environment


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Stop a child process by its handle: SIGTERM, then SIGKILL if it has not exited within `timeout_s`
    (never by name). A process that already exited is left as it is."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


class EngineUnavailable(RuntimeError):
    """The engine cannot run here (package missing, Java missing); the message says how to fix it."""


#: Oldest Java that Spark 3.5 runs on, and the one enginebench is tested with.
MIN_JAVA_MAJOR = 8
TESTED_JAVA_MAJOR = 17

#: Seconds to wait for a TCP connection to an existing cluster before giving up.
CONNECT_TIMEOUT_S = 5.0


def host_port(address: str) -> tuple[str, int] | None:
    """('10.0.0.5', 8786) from 'tcp://10.0.0.5:8786', 'ray://h:10001', 'spark://h:7077' or 'h:6379';
    None for addresses without a host and port ('auto', 'local[4]', 'yarn')."""
    m = re.fullmatch(r"(?:[a-z][a-z0-9+.-]*://)?\[?([A-Za-z0-9_.:-]+?)\]?:(\d{1,5})/?", address.strip())
    if not m:
        return None
    return m.group(1), int(m.group(2))


def check_reachable(engine: str, address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast, with the address in the message, when nothing answers at a cluster's address:
    engine clients otherwise retry for a minute or more before giving up."""
    target = host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout_s):
            pass
    except OSError as exc:
        raise EngineUnavailable(
            f"cannot reach the {engine} cluster at {address} within {timeout_s:g} s ({exc.strerror or exc}); "
            "check the address, or leave it out to start a local engine"
        ) from None


@dataclass(frozen=True)
class Endpoint:
    """An engine's option naming an existing cluster to use instead of starting one (`key`: the
    Endpoints key and the argparse dest, e.g. "ray_address" for --ray-address)."""

    key: str
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


class Endpoints(Mapping[str, str]):
    """Existing clusters to use instead of starting local ones: endpoint key -> address, frozen.
    A key not given (or None): the engine starts one on this machine."""

    def __init__(self, **addresses: str | None) -> None:
        self._addresses = {key: address for key, address in addresses.items() if address}

    def __getitem__(self, key: str) -> str:
        return self._addresses[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._addresses)

    def __len__(self) -> int:
        return len(self._addresses)

    def __hash__(self) -> int:
        return hash(frozenset(self._addresses.items()))

    def __repr__(self) -> str:
        return f"Endpoints({', '.join(f'{k}={v!r}' for k, v in self._addresses.items())})"

    def to_dict(self) -> dict[str, str]:
        return dict(self._addresses)

    @classmethod
    def from_dict(cls, data: Mapping[str, str | None]) -> Endpoints:
        return cls(**data)


@dataclass(frozen=True)
class Finding:
    """One line of `enginebench doctor`: ok, warn (runs, but note it) or fail (must be fixed)."""

    level: str
    what: str
    detail: str


#: budget_caps() of an engine that connects to an existing cluster and sizes nothing itself.
REMOTE_CAPS = {"capped": "nothing: an existing cluster keeps its own resources", "not capped": "everything"}


class Engine(ABC):
    """A lifecycle only: start with a budget, hand over a handle, stop what was started.

    An engine declares itself, and everything else is derived from the declaration: a module of
    `enginebench.engines` (or an installed package's entry point in the group `enginebench.engines`)
    with a subclass that sets `name`, `api` (the file `workloads/*/<api>.py` that implements its cases;
    an engine may also have its own file, its name with `_` for `-`, for the cases it does differently:
    `implementation_files`), `description`, `order` (its place in tables), `packages` (import names it
    needs, checked before start so a missing one gives an install hint; `distributions` names the pip
    distribution of one whose name differs) and `endpoint` (its option for an existing cluster, if any).
    The registry finds it, `enginebench list` and the docs list it, a workload's files are checked
    against it, and its versions are recorded in every results file.
    """

    name: ClassVar[str]
    api: ClassVar[str]
    description: ClassVar[str]
    #: Display order among the engines (tables, --engines all): smaller first.
    order: ClassVar[int] = 100
    packages: ClassVar[tuple[str, ...]] = ()
    #: import name -> pip distribution whose pin covers it, where they differ (dask's `distributed`).
    distributions: ClassVar[dict[str, str]] = {}
    #: The copies of cloudpickle the engine sends a workload's functions with: a folder workload is registered
    #: with each to travel by value (`discovery.load_folder`), so no worker needs the folder on its path.
    picklers: ClassVar[tuple[str, ...]] = ()
    needs_java: ClassVar[bool] = False
    endpoint: ClassVar[Endpoint | None] = None
    #: A baseline (no engine) is shown beside the engines but never ranked among them.
    baseline: ClassVar[bool] = False
    #: The environment the engine's driver runs from when it is not the main one (`spark`: PySpark 4).
    environment: ClassVar[Environment | None] = None
    #: The pins of a release asked for as `ENGINE@VERSION`, `{version}` filled in (default: the first
    #: package's distribution at that version).
    release_pins: ClassVar[tuple[str, ...]] = ()

    def __init__(self, budget: Budget, endpoints: Endpoints | None = None) -> None:
        self.budget = budget
        self.endpoints = endpoints or Endpoints()
        self._handle: Any = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> EngineContext:
        """Check prerequisites, start the engine, and return the context for implementations."""
        self.check_available()
        address = self.remote_address()
        if address is not None:
            check_reachable(self.name, address)
        self._handle = self._start()
        return EngineContext(self.name, self.api, self._handle, self.budget)

    def stop(self) -> None:
        """Stop whatever `start` started; safe to call twice or after a failed start."""
        try:
            self._stop()
        finally:
            self._handle = None

    @abstractmethod
    def _start(self) -> Any: ...

    @abstractmethod
    def _stop(self) -> None: ...

    def ship(self, archive: Path) -> None:
        """Make a zipped package (a user's workload folder, `discovery.archive`) importable on the workers.
        By default nothing: the engine's pickler carries the folder's functions by value (Ray)."""
        return None

    def config(self) -> dict[str, Any]:
        """The effective configuration after start (workers, threads, memory): recorded as-is."""
        return {}

    def budget_caps(self) -> dict[str, str]:
        """What the budget caps in this engine, and what it cannot: {"capped": ..., "not capped": ...}.
        Shown per engine in the report's environment section."""
        return {}


    def remote_address(self) -> str | None:
        """The existing cluster this engine connects to, if any (checked for reachability first)."""
        return self.endpoints.get(self.endpoint.key) if self.endpoint else None

    def worker_pid(self) -> int | None:
        """PID of one process that executes this engine's tasks (for fault injection), or None."""
        return None

    # -- facts -----------------------------------------------------------------------------------
    @classmethod
    def release(cls, version: str) -> Environment:
        """The environment of one release of the engine (`ray@2.55.1`): its pins in an overlay of its own,
        or the main environment when that already has them."""
        pins = cls.release_pins or (f"{cls.distribution(cls.packages[0])}=={{version}}",)
        return Environment(f"{cls.name}-{version}", tuple(p.format(version=version) for p in pins))

    @classmethod
    def implementation_files(cls) -> tuple[str, ...]:
        """The workload files (without .py) this engine reads its cases from: its own, then its API's."""
        return tuple(dict.fromkeys((cls.name.replace("-", "_"), cls.api)))

    @classmethod
    def distribution(cls, package: str) -> str:
        """The pip distribution whose pin covers an import name of `packages`."""
        return cls.distributions.get(package, package)

    @classmethod
    def check_available(cls) -> None:
        """Raise EngineUnavailable with a one-line fix when a package or Java is missing."""
        from enginebench.core.machine import install_hint, java_version

        missing = [p for p in cls.packages if importlib.util.find_spec(p) is None]
        if missing:
            hints = "; ".join(install_hint(cls.distribution(p)) for p in missing)
            raise EngineUnavailable(f"engine {cls.name!r} needs {', '.join(missing)}: {hints}")
        if cls.needs_java:
            from enginebench.core.machine import java_major

            version = java_version()
            if version is None:
                raise EngineUnavailable(
                    f"engine {cls.name!r} needs Java 17 (java not found on PATH or JAVA_HOME): "
                    "install a JDK 17, e.g. apt-get install openjdk-17-jre-headless"
                )
            major = java_major(version)
            if major is None or major < MIN_JAVA_MAJOR:
                raise EngineUnavailable(
                    f"engine {cls.name!r} needs Java {MIN_JAVA_MAJOR} or newer (Spark 3.5), found {version}: "
                    "install a JDK 17 and point JAVA_HOME at it"
                )

    @classmethod
    def doctor_checks(cls, import_packages: bool = True) -> list[Finding]:
        """`enginebench doctor`'s lines for this engine: each package installed, importable (unless
        import_packages is False) and at enginebench's known-good pin; Java when the engine needs it."""
        from enginebench.core.machine import install_hint, pinned_requirements

        out: list[Finding] = []
        for pkg in cls.packages:
            try:
                version = importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:
                out.append(Finding("fail", pkg, f"not installed: {install_hint(cls.distribution(pkg))}"))
                continue
            if import_packages:
                try:
                    importlib.import_module(pkg)
                except Exception as exc:  # noqa: BLE001 - any import failure is a finding
                    failure = f"{type(exc).__name__}: {exc}"
                    out.append(Finding("fail", pkg, f"{version} installed but import fails: {failure}"))
                    continue
            pin = pinned_requirements().get(cls.distribution(pkg), "").partition("==")[2]
            out.append(Finding("warn", pkg, f"{version} (known-good pin: {pin})") if pin and pin != version
                       else Finding("ok", pkg, version))
        if cls.needs_java:
            out.append(_java_finding())
        return out

    @classmethod
    def versions(cls) -> dict[str, str]:
        """Installed versions of the engine's packages, read without importing them."""
        out: dict[str, str] = {}
        for pkg in cls.packages:
            try:
                out[pkg] = importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:
                out[pkg] = "not installed"
        if cls.needs_java:
            from enginebench.core.machine import java_version

            out["java"] = java_version() or "not found"
        return out


def _java_finding() -> Finding:
    """`enginebench doctor`'s line on Java, for the engines that need it."""
    from enginebench.core.machine import java_major, java_version

    version = java_version()
    if version is None:
        return Finding("fail", "java", f"not found: spark and spark-on-ray need Java {TESTED_JAVA_MAJOR} "
                       f"(apt-get install openjdk-{TESTED_JAVA_MAJOR}-jre-headless, or set JAVA_HOME)")
    if java_major(version) != TESTED_JAVA_MAJOR:
        return Finding("warn", "java",
                       f"{version}: tested with Java {TESTED_JAVA_MAJOR}; Spark 3.5 also runs on 8 and 11")
    return Finding("ok", "java", version)
