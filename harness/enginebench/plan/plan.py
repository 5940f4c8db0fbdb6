"""The plan layer: what will run, computed once.

A command line (`Request`), a variant study (`study_plan`) and a pytest-benchmark request (`bench_step`)
all become `Plan`s and then the same list of `Step`s here: engine, workload, case, the params with the
rung's size, the timeout and the repetitions. The runner, `variants` and the pytest-benchmark adapter
consume those steps; nothing else works out rungs, sizes or timeouts. The `Plan` itself is a record type
(`results.records.Plan`): it is stored in every results file, so `--resume` rebuilds the same steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enginebench.contract.spec import SCALES, Case, Params, Workload, size_value
from enginebench.core.budget import Budget, parse_memory
from enginebench.core.errors import UsageError, unknown
from enginebench.plan import registry
from enginebench.results.fit import MIN_RUNGS
from enginebench.results.records import Plan

#: Rounds (warm-ups + timed repetitions) each case's own timeout is sized for.
DEFAULT_ROUNDS = 4
#: The faults `--inject-fault` accepts.
FAULTS: tuple[str, ...] = ("kill-worker",)


@dataclass(frozen=True)
class Preset:
    """A named choice of warm-ups and timed repetitions for `run` (--preset); --warmup and --repeat
    override it. Recorded in the plan so the report can say what the figures rest on."""

    warmup: int
    repeat: int
    purpose: str
    #: a case whose first warm-up took longer than this gets one timed repetition (None: never)
    long_s: float | None = None


PRESETS: dict[str, Preset] = {
    "quick": Preset(1, 2, "a first look: the default run (every workload on every engine at tiny scale) takes "
                          "minutes on 2 cores. A case whose warm-up took over 5 s gets one timed repetition "
                          "(at tiny: cnn training, inference on the Ray engines, a few Spark task and ETL cases). "
                          "With 2 repetitions a tie is decided by the overlap of the ranges, which separates two "
                          "equal engines by chance one time in three (two in three with 1 against 2): read its "
                          "verdicts as leads to confirm "
                          "with --preset standard", long_s=5.0),
    "standard": Preset(1, 5, "figures to act on: 5 repetitions, enough for bootstrap intervals (5% error rate) "
                             "in ties and for compare"),
}
DEFAULT_PRESET = "quick"


@dataclass(frozen=True)
class Step:
    """One attempt the plan asks for: a case's params on one engine (at one rung of a ladder), with its
    timeout and repetitions. `size` is the value of the case's size parameter, what a record carries."""

    engine: str
    workload: str
    case: str
    params: Params
    size: float | None
    timeout_s: float
    warmup: int
    repeat: int

    @property
    def key(self) -> tuple[str, str, str, float | None]:
        """What identifies the step among a results file's records (`Record.key` less the scale)."""
        return self.engine, self.workload, self.case, self.size


# -- the rules -------------------------------------------------------------------------------------

def rungs(params: Mapping[str, Any], param: str | None, ladder: Sequence[float], ladder_param: str = ""
          ) -> list[Mapping[str, Any]]:
    """A case's parameters at each rung of a ladder, smallest first: its size parameter times each
    factor (ladder_param "") or set to each size (ladder_param names it); whole numbers stay whole,
    rungs that round to the same size are one. Without a ladder, or for a case whose size is not a
    number the ladder speaks of, the one set of parameters."""
    base = size_value(params, param)
    if not ladder or param is None or base is None or ladder_param not in ("", param):
        return [params]
    sizes = [v if ladder_param else base * v for v in ladder]
    whole = isinstance(params[param], int)
    values = [max(1, round(v)) if whole else float(f"{v:.10g}") for v in sizes]
    return [{**params, param: v} for v in sorted(set(values))]


def timeout(case: Case, scale: str, warmup: int, repeat: int, given_s: float | None = None,
            base: Params | None = None, params: Params | None = None) -> float:
    """The one timeout rule. `given_s` (--timeout) as given; otherwise the case's timeout for the scale,
    which is sized for DEFAULT_ROUNDS rounds (1 warm-up + 3 repetitions) and grows in proportion with more
    rounds, so `--repeat 20` is not cut short by a budget meant for 4, and with a ladder rung's size
    (`params`) over the scale's (`base`)."""
    if given_s is not None:
        return given_s
    grow = 1.0
    if base is not None and params is not None:
        low, size = size_value(base, case.sized_by), size_value(params, case.sized_by)
        if low is not None and size is not None and low > 0:
            grow = max(1.0, size / low)
    return float(case.timeout_s[scale]) * max(1.0, (warmup + repeat) / DEFAULT_ROUNDS) * grow


def case_params(plan: Plan, case: Case) -> Params:
    """A case's params at the plan's scale (weak scaling: its work parameter times the budget's CPUs),
    with the plan's --device for cases that train on one."""
    params = case.params_for(plan.scale, plan.budget.cpus if plan.scaling == "weak" else None)
    return {**params, "device": plan.device} if "device" in params else params


def case_steps(plan: Plan, workload: Workload, case_name: str, engine: str) -> list[Step]:
    """One case's steps on one engine: a step per rung of the plan's ladder (one without a ladder)."""
    case = workload.case(case_name)
    base = case_params(plan, case)
    return [Step(engine, workload.name, case_name, params, size_value(params, case.sized_by),
                 timeout(case, plan.scale, plan.warmup, plan.repeat, plan.timeout_s, base, params),
                 plan.warmup, plan.repeat)
            for params in rungs(base, case.sized_by, plan.ladder, plan.ladder_param)]


def steps(plan: Plan, workloads: Mapping[str, Workload] | None = None) -> list[Step]:
    """Every attempt of the plan, in run order: engine by engine, each workload's cases, each rung.
    `workloads`: the plan's workloads by name (default: the registered ones)."""
    found = {w: (workloads or {}).get(w) or registry.workload(w) for w in plan.workloads}
    return [step for engine in plan.engines for w, cases in plan.cases.items() for c in cases
            for step in case_steps(plan, found[w], c, engine)]


def bench_step(workload: Workload, case: Case, engine: str, scale: str, warmup: int, repeat: int) -> Step:
    """The one step a pytest-benchmark test runs: the case at the scale, under the same timeout rule."""
    params = case.params_for(scale)
    return Step(engine, workload.name, case.name, params, size_value(params, case.sized_by),
                timeout(case, scale, warmup, repeat), warmup, repeat)


# -- from the command line -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """What `enginebench run` was asked for, as typed (names still unresolved): the plan layer checks it
    and expands it into one Plan per scale and budget (`plans`)."""

    workload: str | None = None
    cases: str | None = None
    engines: str | None = None
    scale: str | None = None
    cpus: tuple[int, ...] | None = None
    memory: str | None = None
    preset: str | None = None
    repeat: int | None = None
    warmup: int | None = None
    timeout_s: float | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    scaling: str | None = None
    device: str | None = None
    ladder: tuple[str, tuple[float, ...]] | None = None


def plans(request: Request) -> list[Plan]:
    """The plans a request makes: one per scale and budget (a sweep when several). Raises UsageError
    with what is accepted for a plan that cannot run."""
    workloads = registry.parse_workloads(request.workload)
    scales = parse_scales(request.scale)
    cases = parse_cases(request.cases, workloads)
    _check_device(request, cases, scales)
    ladder_param, ladder = request.ladder or ("", ())
    if ladder:
        check_ladder(cases, scales, ladder_param, ladder)
    memory = parse_memory(request.memory) if request.memory else None
    budgets = [Budget.default(c, memory) for c in (request.cpus or (None,))]
    preset = PRESETS[request.preset or DEFAULT_PRESET]
    hand_picked = (request.repeat, request.warmup) != (None, None)  # --repeat or --warmup: exactly those counts
    return [Plan(
        cases=cases,
        engines=registry.parse_engines(request.engines),
        scale=scale,
        budget=budget,
        repeat=request.repeat or preset.repeat,
        warmup=preset.warmup if request.warmup is None else request.warmup,
        preset=None if hand_picked else request.preset or DEFAULT_PRESET,
        # A ladder's line needs a spread at every size: no time box cutting a slow rung to one repetition.
        long_s=None if hand_picked or ladder else preset.long_s,
        timeout_s=request.timeout_s,
        endpoints=dict(request.endpoints),
        fault=request.fault,
        scaling=request.scaling or "strong",
        device=request.device or "auto",
        ladder=ladder,
        ladder_param=ladder_param,
        sources={w: registry.source(w).to_dict() for w in cases},
    ) for scale in scales for budget in budgets]


def study_plan(workload: str | None, cases: str | None, engines: str | None, scale: str | None,
               cpus: int | None, memory: str | None, warmup: int, repeat: int, only: tuple[str, ...] = ()
               ) -> Plan:
    """A variant study's plan: one workload at one scale; `only` names the variants run beside each
    default (none: all of them), each a variant of the plan's engines and cases."""
    names = registry.parse_workloads(workload)
    if len(names) != 1:
        raise UsageError(f"--workload {workload}: a study is of one workload (accepted: one of "
                         f"{', '.join(registry.WORKLOADS)})")
    chosen = registry.parse_names(scale, "scale", SCALES)
    if len(chosen) != 1:
        raise UsageError(f"--scale {scale}: a study runs at one scale (accepted: one of "
                         f"{', '.join(SCALES)})")
    plan = Plan(cases=parse_cases(cases, names),
                engines=registry.parse_engines(engines),
                scale=chosen[0], budget=Budget.default(cpus, parse_memory(memory) if memory else None),
                repeat=repeat, warmup=warmup, sources={names[0]: registry.source(names[0]).to_dict()},
                variants=only)
    if only:
        known = variant_names(plan)
        missing = [v for v in only if v not in known]
        if missing:
            raise UsageError(f"--variants {','.join(only)}: {', '.join(missing)} is no variant of the plan's engines "
                             f"and cases (accepted: {', '.join(known) or 'none: they have no variants'})")
    return plan


def variant_names(plan: Plan) -> list[str]:
    """Every variant (defaults apart) of the plan's engines and cases, in the order first met."""
    workload = registry.workload(plan.workload)
    names: dict[str, None] = {}
    for engine in plan.engines:
        api = registry.engine_class(engine).api
        for case in plan.cases[workload.name]:
            names.update(dict.fromkeys(list(workload.variants(api, case, engine))[1:]))
    return list(names)


def count(plan: Plan) -> int:
    """How many records the plan makes: every case of every workload on every engine, at every rung."""
    return len(steps(plan))


def parse_scales(text: str | None) -> tuple[str, ...]:
    """--scale: one scale or a comma list, in the order of SCALES (default tiny)."""
    scales = registry.parse_names(text or "tiny", "scale", SCALES)
    return tuple(s for s in SCALES if s in scales)


def parse_cases(text: str | None, workloads: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """--cases over the chosen workloads: each name must be a case of one of them (WORKLOAD/CASE
    picks one where several have it); workloads left without a case drop out of the plan."""
    known = {w: registry.workload(w).case_names for w in workloads}
    if text is None or text.strip() in ("", "all"):
        return known
    chosen: dict[str, list[str]] = {w: [] for w in workloads}
    accepted = [f"{w}/{c}" for w in workloads for c in known[w]]
    for name in dict.fromkeys(n.strip() for n in text.split(",") if n.strip()):
        w, _, c = name.rpartition("/")
        owners = [o for o in workloads if c in known[o] and w in ("", o)]
        if len(workloads) == 1 and not owners:
            raise unknown(f"case of workload {workloads[0]!r}", name, known[workloads[0]])
        if len(owners) != 1:
            what = "ambiguous" if owners else "unknown"
            raise UsageError(f"{what} case {name!r} (accepted: {', '.join(accepted)}; WORKLOAD/ is needed only "
                             "where workloads share a case name)")
        chosen[owners[0]].append(c)
    return {w: tuple(c for c in known[w] if c in chosen[w]) for w in workloads if chosen[w]}


def check_ladder(cases: dict[str, tuple[str, ...]], scales: tuple[str, ...], param: str,
                 ladder: tuple[float, ...]) -> None:
    """A ladder runs at one scale; sizes of a parameter need every case of the plan to have it; every
    laddered case needs MIN_RUNGS distinct sizes once whole-number parameters are rounded."""
    if len(scales) != 1:
        raise UsageError(f"--ladder runs at one scale (given {', '.join(scales)}; accepted: one of "
                         f"{', '.join(SCALES)})")
    sized = {}
    for w, names in cases.items():
        for c in names:
            case = registry.workload(w).case(c)
            sized[f"{w}/{c}"] = (case, case.sized_by or "")
    if param:
        other = [f"{name} ({p or 'no size parameter'})" for name, (_, p) in sized.items() if p != param]
        if other:
            raise UsageError(f"--ladder {param}=...: {', '.join(other[:4])} {'has' if len(other) == 1 else 'have'} "
                             f"no size parameter {param!r} (accepted: --cases with that parameter, or factors such "
                             "as 1x,2x,4x,8x)")
    elif not any(p for _, p in sized.values()):
        raise UsageError("--ladder: no case of the plan has a size parameter (see enginebench list)")
    for name, (case, p) in sized.items():
        n = len(rungs(case.params_for(scales[0]), p, ladder, param))
        if p and n < MIN_RUNGS:
            raise UsageError(f"--ladder: {name} has {n} distinct sizes of {p} once rounded to whole numbers "
                             f"(accepted: factors far enough apart, such as 1x,2x,4x,8x)")


def _check_device(request: Request, cases: dict[str, tuple[str, ...]], scales: tuple[str, ...]) -> None:
    """--device only for plans with a case that trains on a device; cuda only where torch sees a GPU
    (or on a cluster, whose workers may have one)."""
    if request.device not in (None, "auto") and not any("device" in registry.workload(w).case(c).params[s]
                                                        for w in cases for c in cases[w] for s in scales):
        raise UsageError(f"--device {request.device}: no case of the plan trains on a device (accepted with: cnn, "
                         "gbdt)")
    if request.device == "cuda" and not request.endpoints:
        import torch  # only here: torch takes seconds to import

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: this machine has no GPU torch can use (accepted: --device cpu or auto, "
                             "or a cluster address whose workers have GPUs)")

