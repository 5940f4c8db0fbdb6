"""Whether a user's workload is well formed, before any engine starts: every defect a user can make (a
Case without a check, a case function with the wrong arguments, an engine file that fails to import, a
size parameter missing from the params, a name a shipped workload has, a misspelled case, a newer API)
is one line naming the file and what is expected (`WorkloadError`, a UsageError: exit 2). The shipped
workloads pass the same checks (tested)."""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from enginebench.contract.discovery import Source, import_failure
from enginebench.contract.spec import SCALES, Case, Staged, Workload, size_value
from enginebench.core.errors import WorkloadError

NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def check(workload: Workload, where: Path, engine_files: tuple[str, ...], shipped_names: tuple[str, ...] = ()
          ) -> Workload:
    """Every defect a user can make in a workload, as one line naming its file and what is expected;
    engine files are imported (an engine package they import is imported with them). `engine_files`: the
    file names (without .py) the registered engines read cases from (`registry.engine_files`). Returns it."""
    from enginebench.core.version import API_VERSION

    spec_file = where / "spec.py"
    if not NAME.fullmatch(workload.name):
        raise WorkloadError(f"{spec_file}: workload name {workload.name!r} (accepted: lower-case letters, digits, "
                            "- and _, starting with a letter, up to 40)")
    if workload.name in shipped_names:
        raise WorkloadError(f"{spec_file}: workload name {workload.name!r} clashes with the shipped workload "
                            f"{workload.name} (accepted: another name in Workload(name=...))")
    if workload.requires_api and not _api_satisfies(API_VERSION, workload.requires_api):
        raise WorkloadError(f"{spec_file}: needs workload API {workload.requires_api}; this enginebench has "
                            f"{API_VERSION} (accepted: requires_api {API_VERSION.partition('.')[0]}.x up to "
                            f"{API_VERSION}, or a newer enginebench)")
    if not workload.cases or not all(isinstance(c, Case) for c in workload.cases):
        raise WorkloadError(f"{spec_file}: Workload(cases=...) must be a tuple of one or more Case(...)")
    names = [c.name for c in workload.cases]
    if len(set(names)) != len(names):
        raise WorkloadError(f"{spec_file}: two cases are named {next(n for n in names if names.count(n) > 1)!r} "
                            "(accepted: one name per case)")
    for case in workload.cases:
        _check_case(case, spec_file)
    modules = {api: _engine_module(workload, api, where) for api in engine_files}
    if not any(modules.values()):
        raise WorkloadError(f"{where}: no engine file (accepted: one or more of "
                            f"{', '.join(f + '.py' for f in engine_files)} beside spec.py)")
    for api, module in modules.items():
        if module is not None:
            _check_engine_module(module, where / f"{api}.py", workload)
    return workload


def _api_satisfies(have: str, need: str) -> bool:
    try:
        have_v = tuple(int(x) for x in have.split("."))
        need_v = tuple(int(x) for x in need.split("."))
    except ValueError:
        return False
    return have_v[0] == need_v[0] and have_v[1:] >= need_v[1:]


#: Each callable of a Case, the arguments the harness calls it with.
CASE_CALLS: dict[str, tuple[str, ...]] = {
    "make_inputs": ("params",),
    "check": ("answer", "params", "inputs", "reference"),
    "summarize": ("params", "inputs", "timed", "cpus"),
    "reference": ("params", "inputs"),
    "series": ("params", "inputs", "timed"),
    "notes": ("params", "inputs", "timed"),
    "teardown": ("inputs",),
}
IMPLEMENTATION_CALL = ("ctx", "params", "inputs")
#: The callables a Case may leave out (None by default).
OPTIONAL_CALLS = {f.name for f in dataclasses.fields(Case) if f.name in CASE_CALLS and f.default is None}


def _check_case(case: Case, spec_file: Path) -> None:
    where = f"{spec_file}: case {case.name!r}"
    for attr, args in CASE_CALLS.items():
        fn = getattr(case, attr)
        if fn is None and attr in OPTIONAL_CALLS:
            continue
        _check_call(fn, args, f"{where}: {attr}")
    if not case.params:
        raise WorkloadError(f"{where}: params is empty (accepted: a dict of scale -> parameters, scales "
                            f"{', '.join(SCALES)})")
    extra = [s for s in case.params if s not in SCALES]
    if extra:
        raise WorkloadError(f"{where}: params has scale {extra[0]!r} (accepted: {', '.join(SCALES)})")
    for attr in ("size_param", "weak_param"):
        param = getattr(case, attr)
        if param is None:
            continue
        for scale, params in case.params.items():
            if size_value(params, param) is None:
                has = ", ".join(params) or "none"
                raise WorkloadError(f"{where}: {attr} {param!r} is not a number in its {scale} params (its params: "
                                    f"{has}; accepted: the name of a numeric parameter every scale has)")


def _check_call(fn: Any, args: tuple[str, ...], what: str) -> None:
    """fn can be called with len(args) positional arguments, or the error says how it is called."""
    if not callable(fn):
        raise WorkloadError(f"{what} is {type(fn).__name__}, not a function (expected: ({', '.join(args)}))")
    try:
        inspect.signature(fn).bind(*args)
    except TypeError:
        takes = ", ".join(inspect.signature(fn).parameters)
        raise WorkloadError(f"{what}: {getattr(fn, '__name__', 'it')}({takes}) cannot be called as "
                            f"({', '.join(args)})") from None
    except ValueError:  # no signature (a builtin): trust it
        return


def _engine_module(workload: Workload, api: str, where: Path) -> Any:
    try:
        return workload.module(api)
    except Exception as exc:
        raise WorkloadError(import_failure(where / f"{api}.py", exc)) from None


def _check_engine_module(module: Any, path: Path, workload: Workload) -> None:
    cases = getattr(module, "CASES", None)
    unsupported = getattr(module, "UNSUPPORTED", {})
    if cases is None and not unsupported:
        raise WorkloadError(f"{path}: defines no CASES (expected: CASES = cases_of(fn, ...) or "
                            "{'case-name': fn}, each fn(ctx, params, inputs) -> answer)")
    if not isinstance(cases or {}, dict) or not isinstance(unsupported, dict):
        raise WorkloadError(f"{path}: CASES and UNSUPPORTED must be dicts keyed by case name")
    known = workload.case_names
    variants: Mapping[str, Mapping[str, Any]] = getattr(module, "VARIANTS", {})
    tables: list[tuple[str, Mapping[str, Any]]] = [("CASES", cases or {}), ("UNSUPPORTED", unsupported)]
    tables += [(f"VARIANTS[{v!r}]", impls) for v, impls in variants.items()]
    for table, entries in tables:
        for name in entries:
            if name not in known:
                raise WorkloadError(f"{path}: {table} names {name!r}, which is not a case of {workload.name} "
                                    f"(accepted: {', '.join(known)})")
        if table == "UNSUPPORTED":
            continue
        for name, impl in entries.items():
            _check_implementation(impl, f"{path}: {table}[{name!r}]")


def _check_implementation(impl: Any, what: str) -> None:
    if isinstance(impl, Staged):
        _check_call(impl.setup, IMPLEMENTATION_CALL, f"{what} setup")
        _check_call(impl.run, IMPLEMENTATION_CALL, f"{what} run")
    else:
        _check_call(impl, IMPLEMENTATION_CALL, what)


def checked(loader: Callable[[], tuple[Workload, Source]], shipped_names: tuple[str, ...],
            engine_files: tuple[str, ...]) -> tuple[Workload, Source]:
    """Load a user's workload and check it; its folder is where its spec module lives."""
    workload, source = loader()
    spec = sys.modules.get(f"{workload.package}.spec") or sys.modules.get(workload.package)
    where = Path(getattr(spec, "__file__", None) or source.where).parent
    return check(workload, where, engine_files, shipped_names), source
