"""The vocabulary of a workload: scales, cases, verdicts. Engine-neutral and import-light.

A workload package (`workloads/<name>/`) has a `spec.py` exposing `WORKLOAD`, plus one module per
engine API (`ray.py`, `dask.py`, `spark.py`, `local.py`) exposing `CASES: dict[str, Implementation |
Staged]`, optionally `UNSUPPORTED: dict[str, str]` (case -> why this API cannot express it) and
`NOTES: dict[str, str]` (case -> how this implementation differs, copied into every record), and
`VARIANTS: dict[str, dict[str, Implementation | Staged]]` (other ways an expert might write the cases,
measured against `CASES`, whose name is `DEFAULT_VARIANT`, by `enginebench variants`; `VARIANT_NOTES`
says what each one changes, `OUTSIDE_RULE` says why a variant is measured but never the best the default
is held to: it patches the engine, or drops the library the case measures).
A case that only some engines can run says so once, on the case (`Case.only`).
An engine that shares an API with another (spark-on-ray speaks `spark`) may have its own module named
after the engine (`spark_on_ray.py`) for the cases it does differently or alone; the others fall back
to the API module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from enginebench.core.errors import unknown

if TYPE_CHECKING:
    from enginebench.core.budget import Budget

SCALES: tuple[str, ...] = ("tiny", "small", "medium", "large")
#: --device: where cases with a `device` parameter train. auto: CUDA where the engine's workers see a GPU.
DEVICES = ("auto", "cpu", "cuda")


def use_gpu(params: Params, available: bool, where: str) -> bool:
    """Whether a case trains on GPUs, from its `device` parameter and whether `where` has any; asking
    for cuda where there is none is an error (one line), never a silent fall-back to the CPU."""
    device = params.get("device", "auto")
    if device == "cuda" and not available:
        raise RuntimeError(f"--device cuda, but no GPU is visible to {where} (accepted: --device cpu or auto)")
    return available and device != "cpu"
SCALE_NOTES: Mapping[str, str] = {
    "tiny": "seconds per case; what CI runs",
    "small": "a laptop, minutes for a workload",
    "medium": "a workstation or small cluster",
    "large": "a cluster",
}

Params = Mapping[str, Any]
#: An engine's implementation of a case: (engine context, params, inputs) -> answer.
Implementation = Callable[["EngineContext", Params, Any], Any]


@dataclass(frozen=True)
class EngineContext:
    """What an implementation receives: the engine's handle and the budget it runs under.

    handle: ray -> the RayContext, dask -> a distributed.Client, spark/spark-on-ray -> a
    SparkSession, local -> a LocalHandle.
    """

    engine: str
    api: str
    handle: Any
    budget: Budget

    @property
    def cpus(self) -> int:
        return self.budget.cpus


@dataclass(frozen=True)
class Staged:
    """An implementation whose idiom splits engine-side preparation from the measured work.

    setup: (ctx, params, inputs) -> engine inputs (e.g. data loaded into the engine, a server started);
    run once per attempt, before the warm-ups, and timed as the `setup` phase. run: (ctx, params, engine
    inputs) -> answer; the timed repetitions. teardown: (ctx, params, engine inputs) -> None, run once
    when the attempt ends after a setup that succeeded, whether the repetitions passed, failed or raised
    (a server stopped), and timed as the `teardown` phase; an error in it makes an `ok` attempt an `error`.
    What setup returns is dropped when the attempt ends.
    """

    setup: Callable[[EngineContext, Params, Any], Any]
    run: Implementation
    teardown: Callable[[EngineContext, Params, Any], None] | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is right; `reason` says what was wrong."""

    ok: bool
    reason: str = ""

    @classmethod
    def expect(cls, what: str, got: Any, expected: Any) -> Verdict:
        """A verdict from an equality test, with the difference spelled out when it fails."""
        if got == expected:
            return cls(True)
        return cls(False, f"{what}: got {_short(got)}, expected {_short(expected)}")


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Timed:
    """One timed repetition: its wall seconds and the answer it produced."""

    seconds: float
    answer: Any


def median_run(runs: Sequence[Timed]) -> Timed:
    """The repetition with the median wall time (the lower middle of an even count): the one whose
    curves and notes stand for the attempt."""
    return sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2]


@dataclass(frozen=True)
class Metric:
    """The headline figure of a case, as reports should show and rank it."""

    name: str
    unit: str
    higher_is_better: bool


@dataclass(frozen=True)
class Case:
    """One measured problem with identical inputs and one check for every engine.

    make_inputs: params -> inputs, built once per run and shared by all engines (timed as `inputs`).
    teardown: inputs -> None, called once when the run ends (scratch folders, temporary files).
    reference: (params, inputs) -> the reference answer, computed once per run right after the
        inputs (timed as `reference`), outside every engine's timers, timeouts and sampling; a
        number, text or dict of JSON values is also stored in each record's notes.
    check: (answer, params, inputs, reference) -> Verdict, engine-neutral; reference is None for
        cases without one.
    summarize: (params, inputs, timed repetitions, cpus) -> derived metrics (throughput, percentiles).
    series: (params, inputs, timed repetitions) -> named curves, each a list of [x, y] points (e.g.
        test accuracy against training seconds; a name "Y vs X" labels both axes, any other is drawn
        against wall time); stored in the record and drawn by the report, one
        figure per name with a curve per engine; names `<group>/<member>` (a search's trials:
        `accuracy/trial 03`) are drawn as one figure per group, a panel per engine, a curve per member.
    notes: (params, inputs, timed repetitions) -> facts about how the answers were produced (e.g. the
        device and world size a training case ran with); merged into the record's notes.
    """

    name: str
    description: str
    params: Mapping[str, Params]
    primary: Metric
    make_inputs: Callable[[Params], Any]
    check: Callable[[Any, Params, Any, Any], Verdict]
    summarize: Callable[[Params, Any, Sequence[Timed], int], dict[str, float]]
    timeout_s: Mapping[str, float] = field(
        default_factory=lambda: {"tiny": 120, "small": 600, "medium": 1800, "large": 3600}
    )
    #: The parameter that measures the amount of work; weak scaling multiplies it by the CPU count.
    weak_param: str | None = None
    #: The parameter that measures the input's size (a size sweep draws the headline against it);
    #: None: the work parameter.
    size_param: str | None = None
    #: What one unit of the size parameter is, singular ("image", "task", "SF"): a ladder's per-unit
    #: cost is named per this unit ("" : the parameter's name).
    size_unit: str = ""
    series: Callable[[Params, Any, Sequence[Timed]], dict[str, list[list[float]]]] | None = None
    notes: Callable[[Params, Any, Sequence[Timed]], dict[str, Any]] | None = None
    teardown: Callable[[Any], None] | None = None
    reference: Callable[[Params, Any], Any] | None = None
    #: A derived metric that counts the work an answer did, where engines may do different work on the same
    #: inputs (tune: the epochs trained, which asynchronous halving makes depend on arrival order). The
    #: report ranks two engines' headlines only when their work agrees within the threshold, and otherwise
    #: says so and compares the headline per unit of work. None: every answer does the same work.
    work: str | None = None
    #: The engines that can run this case at all (None: every engine), and why the others cannot.
    only: tuple[str, ...] | None = None
    only_reason: str = ""

    @property
    def sized_by(self) -> str | None:
        """The parameter a record's size is read from: `size_param`, else the work parameter."""
        return self.size_param or self.weak_param

    def params_for(self, scale: str, weak_cpus: int | None = None) -> Params:
        """Parameters at a scale; with weak_cpus, the work parameter grows with the CPU count."""
        if scale not in self.params:
            raise unknown("scale", scale, tuple(self.params))
        params = self.params[scale]
        if weak_cpus is not None and self.weak_param is not None:
            params = {**params, self.weak_param: params[self.weak_param] * weak_cpus}
        return params


def size_value(params: Params, param: str | None) -> float | None:
    """The number a size parameter has in `params` (None when there is no such parameter or it is not a
    number): what a record's size, a ladder's rungs and a rung's timeout are read from."""
    value = params.get(param) if param else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def cases_of(*functions: Implementation) -> dict[str, Implementation]:
    """`CASES` for an engine module: each function implements the case its name spells
    (`tree_reduce` -> `tree-reduce`)."""
    return {fn.__name__.replace("_", "-"): fn for fn in functions}


@dataclass(frozen=True)
class Resolved:
    """An implementation found for (workload, API, case), or the reason there is none."""

    implementation: Implementation | Staged | None
    reason: str = ""
    note: str = ""
    #: why a variant stands outside the 1.25x rule (`OUTSIDE_RULE`: it patches the engine, or drops the
    #: library the case measures): measured beside the others, never the best a default is held to
    outside_rule: str = ""


@dataclass(frozen=True)
class Workload:
    """A named set of cases; implementations live in `<package>.<api>` modules."""

    name: str
    title: str
    category: str
    cases: tuple[Case, ...]
    #: the package its engine modules live in; "" : the package of the spec module defining it
    package: str = ""
    #: the workload API version it needs ("1.0"); "" : any
    requires_api: str = ""

    @property
    def case_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cases)

    def case(self, name: str) -> Case:
        for c in self.cases:
            if c.name == name:
                return c
        raise unknown(f"case of workload {self.name!r}", name, self.case_names)

    def resolve(self, api: str, case: str, engine: str | None = None) -> Resolved:
        """Find the implementation of `case` for an engine API, importing its module lazily.

        With `engine`, an engine-specific module (`spark_on_ray.py` for spark-on-ray) is asked first
        and the API module only when that one does not exist or does not name the case.
        A module that does not exist, or lacks the case, yields `unsupported` with a reason; an
        ImportError from inside the module (a missing engine package) propagates to the caller.
        """
        engine = engine.partition("@")[0] if engine else engine  # a release (`ray@2.55.1`) runs the engine's files
        limited = self.case(case).only if case in self.case_names else None
        if engine and limited is not None and engine not in limited:
            # The engine's own file may say why in its words (UNSUPPORTED); else the case's one reason.
            own = getattr(self._owner(api, case, engine), "UNSUPPORTED", {}).get(case)
            return Resolved(None, own or self.case(case).only_reason or f"{case} runs only on {', '.join(limited)}")
        module = self._owner(api, case, engine)
        if module is None:
            return Resolved(None, f"no {api} implementation of the {self.name} workload")
        return self._find(module, case)

    def variants(self, api: str, case: str, engine: str | None = None) -> dict[str, Resolved]:
        """The ways the module that implements `case` for an engine writes it, for a variant study
        (`enginebench variants`): its default (`CASES`, named by the module's `DEFAULT_VARIANT`,
        "default" when it names none) first, then each of its `VARIANTS` (name -> {case: implementation})
        that has the case. Empty when the engine cannot run the case."""
        found = self.resolve(api, case, engine)
        if found.implementation is None:
            return {}
        module = self._owner(api, case, engine)
        out = {str(getattr(module, "DEFAULT_VARIANT", "default")): found}
        for name, cases in getattr(module, "VARIANTS", {}).items():
            if case in cases:
                out[name] = Resolved(cases[case], note=getattr(module, "VARIANT_NOTES", {}).get(name, ""),
                                     outside_rule=getattr(module, "OUTSIDE_RULE", {}).get(name, ""))
        return out

    def _owner(self, api: str, case: str, engine: str | None) -> Any:
        """The module that speaks for `case` on an engine: the engine's own module (`spark_on_ray.py`)
        when it names the case, else the API's module (None when there is none)."""
        own = engine.replace("-", "_") if engine else api
        if own != api:
            module = self.module(own)
            if module is not None and (case in getattr(module, "CASES", {})
                                       or case in getattr(module, "UNSUPPORTED", {})):
                return module
        return self.module(api)

    def module(self, name: str) -> Any:
        """The module `<package>.<name>` (an engine file such as `ray`), imported; None when there is none. An
        error raised inside it propagates."""
        module_name = f"{self.package}.{name}"
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None

    @staticmethod
    def _find(module: Any, case: str) -> Resolved:
        reasons: Mapping[str, str] = getattr(module, "UNSUPPORTED", {})
        if case in reasons:
            return Resolved(None, reasons[case])
        impl = getattr(module, "CASES", {}).get(case)
        if impl is None:
            return Resolved(None, f"{module.__name__} has no implementation of {case!r}")
        return Resolved(impl, note=getattr(module, "NOTES", {}).get(case, ""))
