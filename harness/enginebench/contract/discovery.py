"""Where a workload comes from, and whether it is well formed before any engine starts.

Four sources: the shipped workloads (`enginebench.workloads.*`), installed packages that register one in
the entry-point group `enginebench.workloads`, a folder the user names (`--workload ./myjob`: a
`spec.py` plus one file per engine API, laid out as the shipped ones are), and a dotted module
(`--workload mypkg.myjob`). A folder is imported as a package named after the folder and registered
with every engine's pickler to travel by value; engines whose workers import tasks by name get a zip
of it (`archive`, `Engine.ship`), so no worker needs a copy of the folder. `check` turns every defect
a user can make into one line naming the file and what is expected (`enginebench.contract.wellformed`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import re
import sys
import traceback
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from enginebench.contract.spec import Workload
from enginebench.core.errors import WorkloadError

#: The entry-point group an installed package registers its workloads in: name = "pkg.module"
#: (a module with WORKLOAD, or its package whose `spec` module has it).
ENTRY_POINT_GROUP = "enginebench.workloads"


@dataclass(frozen=True)
class Source:
    """Where a workload came from, as a results file records it: kind (shipped, entry-point, folder,
    module), where (a module name or an absolute folder), the distribution and version that provide
    it (a folder: none), and a sha256 of its Python files (what `--resume` checks is unchanged)."""

    kind: str
    where: str
    package: str = ""
    version: str = ""
    sha256: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "where": self.where, "package": self.package, "version": self.version,
                "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        return cls(**{k: str(data.get(k) or "") for k in ("kind", "where", "package", "version", "sha256")})

    @property
    def label(self) -> str:
        """One phrase for `enginebench list` and the report: what it is and where."""
        digest = f", files sha256 {self.sha256[:12]}" if self.sha256 else ""
        provider = f"{self.package} {self.version}".strip()
        if self.kind == "shipped":
            return f"shipped with {provider}"
        if self.kind == "folder":
            return f"folder {self.where}{digest}"
        if self.kind == "entry-point":
            return f"entry point of {provider} ({self.where}){digest}"
        return f"module {self.where}" + (f" of {provider}" if provider else "") + digest


def python_files(folder: Path) -> list[Path]:
    """A workload folder's Python files, sorted (__pycache__ left out): what is hashed and shipped."""
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def files_sha256(folder: Path) -> str:
    """A sha256 over the folder's Python files (their paths and contents)."""
    h = hashlib.sha256()
    for path in python_files(folder):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def looks_like_path(ref: str) -> bool:
    """Whether a --workload item names a folder rather than a workload or a dotted module."""
    return "/" in ref or ref.startswith(".") or ref.startswith("~") or Path(ref).is_dir()


# ---- loading ----

def load_folder(ref: str, picklers: tuple[str, ...] = ()) -> tuple[Workload, Source]:
    """The workload in a folder: imported as the package named after the folder, checked, and registered
    to be pickled by value with each of `picklers` (module names of cloudpickle copies: `Engine.picklers`)."""
    folder = Path(ref).expanduser()
    if not folder.is_dir():
        raise WorkloadError(f"--workload {ref}: no such folder (accepted: a workload name, a folder with a spec.py, "
                            "or a dotted module; see enginebench list)")
    folder = folder.resolve()
    if not (folder / "spec.py").is_file():
        raise WorkloadError(f"{folder}: not a workload folder, it has no spec.py (accepted: a folder with spec.py "
                            "and one file per engine API: ray.py, dask.py, spark.py, local.py)")
    name = folder.name
    if not name.isidentifier():
        fixed = re.sub(r"\W", "_", name)
        raise WorkloadError(f"{folder}: the folder's name {name!r} must be a Python identifier, as it is imported "
                            f"as a package (accepted: letters, digits and _, e.g. {fixed})")
    _import_package(name, folder)
    workload = _load_spec(f"{name}.spec", folder / "spec.py")
    _register_by_value(name, picklers)
    _FOLDERS[name] = folder
    return workload, Source("folder", str(folder), sha256=files_sha256(folder))


#: Packages imported from a folder in this process (package -> folder), and their zip archives once built.
_FOLDERS: dict[str, Path] = {}
_ARCHIVES: dict[str, Path] = {}


def archive(package: str) -> Path | None:
    """A zip of a folder workload's Python files (`<package>.zip` holding `<package>/...`), built once per
    process, for engines whose workers import what they run by name (Dask's `upload_file`, Spark's
    `addPyFile`); None for a workload that is not a folder (installed: the workers have it)."""
    if package not in _FOLDERS:
        return None
    if package not in _ARCHIVES:
        import atexit
        import shutil
        import tempfile
        import zipfile

        where = Path(tempfile.mkdtemp(prefix="enginebench-ship-"))
        atexit.register(shutil.rmtree, where, True)
        path = where / f"{package}.zip"
        folder = _FOLDERS[package]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for file in python_files(folder):
                z.write(file, Path(package, file.relative_to(folder)).as_posix())
            if not (folder / "__init__.py").is_file():
                z.writestr(f"{package}/__init__.py", "")
        _ARCHIVES[package] = path
    return _ARCHIVES[package]


def load_module(module: str, kind: str = "module", package: str = "", version: str = "") -> tuple[Workload, Source]:
    """The workload of a dotted module (its WORKLOAD, or its `spec` submodule's)."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise WorkloadError(f"--workload {module}: no such workload, folder or module (accepted: a shipped or "
                            "installed workload name, a folder with a spec.py, or an importable dotted module; "
                            "see enginebench list)")
    spec_module = module
    if found.submodule_search_locations is not None and importlib.util.find_spec(f"{module}.spec") is not None:
        spec_module = f"{module}.spec"
    origin = Path(importlib.util.find_spec(spec_module).origin or module)  # type: ignore[union-attr]
    workload = _load_spec(spec_module, origin)
    folder = origin.parent
    if not package:
        package, version = _distribution(spec_module)
    return workload, Source(kind, spec_module, package, version, files_sha256(folder))


def shipped(name: str, module: str) -> tuple[Workload, Source]:
    """A shipped workload (not checked here: tests check every shipped workload once)."""
    wl: Workload = importlib.import_module(module).WORKLOAD
    folder = Path(importlib.import_module(wl.package).__file__ or "").parent
    return wl, Source("shipped", wl.package, "enginebench", _own_version(), files_sha256(folder))


def entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed packages' workloads by name (the group ENTRY_POINT_GROUP)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_entry_point(ep: importlib.metadata.EntryPoint) -> tuple[Workload, Source]:
    dist = ep.dist
    package, version = (dist.metadata["Name"], dist.version) if dist is not None else ("", "")
    module = ep.value.partition(":")[0].strip()
    workload, source = load_module(module, "entry-point", package, version)
    if workload.name != ep.name:
        raise WorkloadError(f"entry point {ep.name!r} of {package or module} ({ENTRY_POINT_GROUP}) loads a workload "
                            f"named {workload.name!r} (expected: the entry point's name)")
    return workload, source


def _own_version() -> str:
    from enginebench.core.version import __version__

    return __version__


def _distribution(module: str) -> tuple[str, str]:
    """The installed distribution providing a module's top-level package, if any."""
    top = module.partition(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "", ""


def _import_package(name: str, folder: Path) -> None:
    """Make `name` the package of `folder` (once); a name already taken by another module is refused."""
    existing = sys.modules.get(name)
    if existing is None:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is not None and not _same_folder(found.submodule_search_locations or [found.origin or ""], folder):
            raise WorkloadError(f"{folder}: the folder's name {name!r} is also the module {found.origin or name}, "
                                "which its engine files would clash with (accepted: rename the folder)")
        init = folder / "__init__.py"
        if init.is_file():
            spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[name]
                raise WorkloadError(import_failure(init, exc)) from None
        else:
            module = types.ModuleType(name)
            module.__path__ = [str(folder)]
            module.__package__ = name
            module.__file__ = None
            sys.modules[name] = module
    elif not _same_folder(list(getattr(existing, "__path__", [])), folder):
        raise WorkloadError(f"{folder}: the folder's name {name!r} is already the imported module "
                            f"{getattr(existing, '__file__', None) or name} (accepted: rename the folder)")


def _same_folder(locations: list[str], folder: Path) -> bool:
    return any(loc and Path(loc).resolve() == folder for loc in locations)


def _load_spec(module: str, path: Path) -> Workload:
    try:
        spec = importlib.import_module(module)
    except Exception as exc:
        raise WorkloadError(import_failure(path, exc)) from None
    wl = getattr(spec, "WORKLOAD", None)
    if not isinstance(wl, Workload):
        got = "nothing" if wl is None else type(wl).__name__
        raise WorkloadError(f"{path}: WORKLOAD is {got} (expected: WORKLOAD = Workload(name=..., title=..., "
                            "category=..., cases=(Case(...),)) with `from enginebench import Workload, Case`)")
    package = module.rpartition(".")[0] if module.endswith(".spec") else module
    return wl if wl.package else replace(wl, package=package)


def import_failure(path: Path, exc: BaseException) -> str:
    """One line for an exception raised while importing a workload file: where in the file, and what a
    Case needs when the exception is Case(...) missing a field."""
    line = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve() == path.resolve():
            line = f":{frame.lineno}"
            break
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == path.resolve():
        line = f":{exc.lineno}"
    message = str(exc).splitlines()[0] if str(exc) else ""
    missing = re.search(r"(Case|Workload|Metric)\.__init__\(\) missing \d+ required (?:positional |keyword-only )?"
                        r"arguments?: (.+)", message)
    if missing:
        cls = missing.group(1)
        fields = ", ".join(f.name for f in _required_fields(cls))
        return f"{path}{line}: {cls}(...) lacks {missing.group(2)} (a {cls} needs {fields})"
    return f"{path}{line}: cannot import: {type(exc).__name__}: {message} (a workload file must import cleanly)"


def _required_fields(cls: str) -> Iterator[Any]:
    import dataclasses

    from enginebench.contract import spec

    for f in dataclasses.fields(getattr(spec, cls)):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            yield f


def _register_by_value(package: str, picklers: tuple[str, ...]) -> None:
    """Functions of a folder workload travel to engine workers by value (each engine pickles with its
    own copy of cloudpickle, `Engine.picklers`), so no worker needs the folder on its path."""
    module = sys.modules[package]
    for name in picklers:
        try:
            pickler = importlib.import_module(name)
        except ImportError:
            continue
        pickler.register_pickle_by_value(module)  # a set of names: registering twice is harmless
