"""The `enginebench` command: parses arguments and dispatches (`jobs` runs a plan or a study, `reading` the
commands that read results files). No business logic here.

Imports of engines (and of rich, psutil) happen inside the subcommands, so `enginebench list` and
`--help` stay fast and work without any engine installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from enginebench.cli import reading
from enginebench.contract.commands import float_in, int_in
from enginebench.contract.spec import DEVICES, SCALES
from enginebench.core.errors import UsageError
from enginebench.plan import registry
from enginebench.plan.plan import DEFAULT_PRESET, FAULTS, PRESETS
from enginebench.results.fit import MIN_RUNGS

if TYPE_CHECKING:
    from enginebench.engines.base import Endpoint
    from enginebench.results.cost import Price

EXIT_USAGE = 2
NOISY_HELP = ("rank cases that ran while other processes took over 10%% of the CPU budget as if they were clean "
              "(by default their figures count as conservative: a noisy engine behind the leader leaves the "
              "order undecided)")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def _ladder(text: str) -> tuple[str, tuple[float, ...]]:
    """--ladder: '1x,2x,4x,8x' (factors of each case's size at the scale) or 'sf=0.01,0.02,0.05,0.1'
    (sizes of one parameter): (parameter or '', the values), MIN_RUNGS or more distinct positive ones."""
    param, eq, values = text.partition("=")
    if not eq:
        param, values = "", text
    accepted = (f"accepted: {MIN_RUNGS} or more factors such as 1x,2x,4x,8x, or sizes of one parameter such as "
                "sf=0.01,0.02,0.05,0.1")
    parts = [v.strip() for v in values.split(",") if v.strip()]
    numbers = []
    for part in parts:
        if not param and not part.endswith("x"):
            raise argparse.ArgumentTypeError(f"invalid ladder {text!r}: {part!r} is not a factor ({accepted})")
        try:
            number = float(part.removesuffix("x") if not param else part)
        except ValueError:
            number = -1.0
        if not number > 0 or number == float("inf"):
            raise argparse.ArgumentTypeError(f"invalid ladder {text!r}: {part!r} is not a positive number ({accepted})")
        numbers.append(number)
    if len(set(numbers)) < MIN_RUNGS:
        raise argparse.ArgumentTypeError(f"invalid ladder {text!r}: {len(set(numbers))} distinct sizes ({accepted}: "
                                         "a line through the smaller sizes, and the largest held out to check it)")
    return param.strip(), tuple(sorted(set(numbers)))


def _price(text: str) -> Price:
    from enginebench.results.cost import parse_price

    try:
        return parse_price(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sizes(text: str) -> dict[str, float]:
    from enginebench.results.fit import parse_sizes

    try:
        return parse_sizes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cpu_list(text: str) -> tuple[int, ...]:
    parse = int_in(1, 4096, "CPU count")
    values = tuple(parse(part.strip()) for part in text.split(","))
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"invalid CPU list {text!r} (accepted: distinct counts such as 1,2,4)")
    return values


_positive_seconds = float_in(0, 7 * 24 * 3600, "timeout", "seconds, more than 0, at most a week")


def _percent(text: str) -> float:
    """A threshold in percent ('10' or '10%') as a fraction."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"invalid threshold {text!r} (accepted: a percentage from 0 to 1000, e.g. 10)")
    return value / 100


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="enginebench", description=f"Run identical workloads on {', '.join(registry.ENGINES)}; "
                     "time them, check them, record them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = sub.add_parser("list", help="workloads (and where each comes from), cases, engines and scales")
    listing.add_argument("--workload", help="comma-separated names, folders or dotted modules to list (default: the "
                                            "shipped workloads and installed packages' entry points)")

    new = sub.add_parser("new", help="write a working workload folder to start your own from (see "
                                     "docs/your-workload.md)")
    new.add_argument("name", help="the workload's name, also its folder's (a Python identifier: letters, digits, _)")
    new.add_argument("--dir", default=".", help="where to create the folder (default: the current directory)")

    run = sub.add_parser("run", help="run a plan: cases x engines at one scale (or one run per scale and budget)")
    run.add_argument("--workload", help=f"comma-separated names, or 'all' (default all: "
                                        f"{', '.join(registry.WORKLOADS)}); a folder (./myjob, with a spec.py) or a "
                                        "dotted module runs your own; each engine starts once and runs every workload")
    run.add_argument("--cases", help="comma-separated case names (WORKLOAD/CASE where a name is ambiguous), "
                                     "or 'all' (default all)")
    run.add_argument("--engines", help=f"comma-separated, or 'all' (default all: {', '.join(registry.ENGINES)})")
    run.add_argument("--scale", help=f"one of: {', '.join(SCALES)} (default tiny); a list such as tiny,small "
                                     "runs the plan once per scale and draws each case against input size")
    run.add_argument("--ladder", type=_ladder, metavar="RUNGS",
                     help="a size ladder: each case with a size parameter at several sizes, the engines started once, "
                          "and per engine a line of fixed and per-unit cost with intervals, a held-out check, "
                          "crossovers; factors of the scale's size (1x,2x,4x,8x) or sizes of one parameter "
                          f"(sf=0.01,0.02,0.05,0.1); {MIN_RUNGS} or more")
    run.add_argument("--cpus", type=_cpu_list,
                     help="CPUs per engine (default: all); a list such as 1,2 runs the plan once per budget")
    run.add_argument("--memory", help="memory per engine, e.g. 8g (default: half the RAM)")
    run.add_argument("--preset", choices=tuple(PRESETS),
                     help="warm-ups and repetitions: " + "; ".join(f"{name} = {p.warmup} warm-up + {p.repeat} "
                                                                   f"repetitions" for name, p in PRESETS.items())
                          + f" (default {DEFAULT_PRESET}); --warmup and --repeat override it")
    run.add_argument("--repeat", type=int_in(1, 1000, "repeat count"), help="timed repetitions (default: the preset's)")
    run.add_argument("--warmup", type=int_in(0, 100, "warm-up count"),
                     help="untimed warm-up rounds (default: the preset's)")
    run.add_argument("--timeout", type=_positive_seconds,
                     help="per-case timeout in seconds (default: per case and scale)")
    run.add_argument("--out", default="results", help="directory for the results file (default results/)")
    for endpoint in _endpoints().values():
        run.add_argument(endpoint.flag, dest=endpoint.key, help=endpoint.help)
    run.add_argument("--device", choices=DEVICES,
                     help="where cases with a device train (cnn, gbdt): cuda, cpu, or auto (default: cuda where the "
                          "engine's workers see a GPU)")
    run.add_argument("--scaling", choices=("strong", "weak"),
                     help="with several --cpus: strong keeps the work fixed (default), weak grows it with the CPUs")
    run.add_argument("--inject-fault", choices=FAULTS,
                     help="after each case's timed runs, one more run during which a worker process is killed; "
                          "records whether the engine recovered and the recovery time")
    run.add_argument("--quiet", action="store_true", help="no live progress, only the summary")
    run.add_argument("--verbose", action="store_true",
                     help="engine output (Spark, Ray, Dask logs) on the terminal instead of OUT/<run id>.log")
    run.add_argument("--resume", metavar="RUN_ID",
                     help="finish an interrupted run (its plan comes from OUT/RUN_ID.json; done cases are kept)")
    run.add_argument("--report-dir", default="reports",
                     help="where the run's HTML report goes: REPORT_DIR/<run id>/index.html (default reports/)")
    run.add_argument("--no-report", action="store_true", help="do not write an HTML report")
    run.add_argument("--allow-noisy", action="store_true", help=NOISY_HELP)

    study = sub.add_parser("variants", help="a variant study: each way an engine's module writes a case (its default "
                                            "and its VARIANTS), alternated in one run, every answer checked")
    study.add_argument("--workload", help=f"one of: {', '.join(registry.WORKLOADS)}, or a folder or "
                                                         "dotted module of your own")
    study.add_argument("--cases", help="comma-separated case names of the workload (default all)")
    study.add_argument("--engines", help=f"comma-separated, or 'all' (default all: {', '.join(registry.ENGINES)})")
    study.add_argument("--variants", help="comma-separated variant names run beside each default (default all of "
                                          "the engines' variants)")
    study.add_argument("--scale", help=f"one of: {', '.join(SCALES)} (default tiny)")
    study.add_argument("--cpus", type=int_in(1, 1024, "CPU count"), help="CPUs per engine (default: all)")
    study.add_argument("--memory", help="memory per engine, e.g. 8g (default: half the RAM)")
    study.add_argument("--repeat", type=int_in(1, 1000, "repeat count"),
                       help="timed repetitions per variant, split over its two blocks (default 4)")
    study.add_argument("--warmup", type=int_in(0, 100, "warm-up count"),
                       help="untimed warm-ups before each block (default 1)")
    study.add_argument("--out", default="results", help="directory for the results file (default results/)")
    study.add_argument("--resume", metavar="RUN_ID",
                       help="finish an interrupted study (its plan comes from OUT/RUN_ID.json; finished cases "
                            "are kept)")

    report = sub.add_parser("report", help="one self-contained HTML page from results files")
    report.add_argument("results", nargs="+", help="results JSON files written by enginebench run")
    report.add_argument("-o", "--output", help="HTML file to write (default reports/<run id>/index.html)")
    report.add_argument("--title", default="enginebench report")
    report.add_argument("--force", action="store_true", help="overwrite an existing output file")
    report.add_argument("--allow-noisy", action="store_true", help=NOISY_HELP)
    report.add_argument("--at", type=_sizes, metavar="SIZES",
                        help="predict each laddered case at your size, from its lines (intervals, caveats and "
                             "refusals included): PARAM=SIZE such as n_images=1000000 or sf=100, "
                             "WORKLOAD.PARAM=SIZE such as cnn.n_train=1000000 where workloads share a parameter, "
                             "or a factor of the largest size measured such as 25x; comma-separated")
    report.add_argument("--price", type=_price, metavar="PRICE",
                        help="money per call and per job from the ladder's lines and --at predictions: "
                             "AMOUNT/core-hour or AMOUNT/instance-hour, e.g. 0.048/core-hour (no price is built in; "
                             "core-seconds are shown without one)")
    report.add_argument("--format", choices=("html", "markdown"), default="html",
                        help="html (default: one self-contained page) or markdown (the same tables and verdicts "
                             "as one .md document; default path reports/<run id>/report.md)")

    comp = sub.add_parser("compare", help="per-case ratios NEW/BASE of the headline with a significance-tested verdict")
    comp.add_argument("base", help="results JSON of the baseline run")
    comp.add_argument("new", help="results JSON of the new run")
    comp.add_argument("-o", "--output", help="also write the comparison as HTML here")
    comp.add_argument("--force", action="store_true", help="overwrite an existing output file")
    comp.add_argument("--threshold", type=_percent, default=None, metavar="PERCENT",
                      help="smallest change called slower or faster, in percent of the base median (default 10)")
    comp.add_argument("--fail-on-slower", action="store_true", help="exit 1 when any case got slower or broke")

    export = sub.add_parser("export", help="results files as CSV: one row per record and metric")
    export.add_argument("results", nargs="+", help="results JSON files written by enginebench run")
    export.add_argument("--csv", required=True, metavar="FILE", help="CSV file to write ('-': standard output)")
    export.add_argument("--force", action="store_true", help="overwrite an existing output file")

    data = sub.add_parser("data", help="generate (or verify) a workload's data set")
    datasets = data.add_subparsers(dest="dataset", required=True, parser_class=_Parser)
    for command in registry.data_commands().values():
        command.add_arguments(datasets.add_parser(command.name, help=command.help))

    docs = sub.add_parser("docs", help="the documentation: regenerate its measured tables, build or serve the site")
    docs.add_argument("action", choices=("tables", "build", "serve", "picture"),
                      help="tables: rewrite every generated table of README.md and docs/ from its results file; "
                           "build: mkdocs build --strict; serve: mkdocs serve on 127.0.0.1; picture: the README's "
                           "picture of the report's engine-fit matrix (needs Chromium)")
    docs.add_argument("--check", action="store_true",
                      help="with tables: change nothing, exit 1 when a table differs from its results file")
    docs.add_argument("--site-dir", help="with build: where to write the site (default site/)")
    docs.add_argument("--port", type=int_in(1024, 65535, "port"), default=8000, help="with serve (default 8000)")
    docs.add_argument("--root", help="the enginebench checkout (default: the one this command runs from)")
    docs.add_argument("--results", default=reading.PICTURE_RESULTS,
                      help=f"with picture: the results file, or repeated runs' files joined by commas (default "
                           f"{reading.PICTURE_RESULTS}, under --root)")

    doctor = sub.add_parser("doctor", help="check Python, every engine's packages and needs, memory and /dev/shm")
    doctor.add_argument("--no-import", action="store_true", help="check installed versions without importing")
    return parser


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console

    from enginebench.contract.spec import SCALE_NOTES

    console = Console(highlight=False, soft_wrap=True)  # piped: long lines stay whole, never cut mid-sentence
    for name in registry.parse_workloads(args.workload, every=True):
        wl = registry.workload(name)
        console.print(f"[bold]workload {wl.name}[/]: {wl.title} [dim]({registry.source(name).label})[/]")
        for case in wl.cases:
            better = "higher" if case.primary.higher_is_better else "lower"
            size = case.sized_by
            sized = f"; size {size}" + (f", per {case.size_unit}" if case.size_unit else "") if size else ""
            console.print(f"  [bold]{case.name}[/]: {case.description} "
                          f"[dim](headline {case.primary.name} in {case.primary.unit}, {better} is better{sized})[/]")
            for scale in (s for s in SCALES if s in case.params):
                params = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                                   for k, v in case.params[scale].items())
                timeout = case.timeout_s.get(scale)
                console.print(f"      {scale:<7} {params}   [dim]timeout {timeout or '?'} s[/]")
    console.print("[bold]engines[/]")
    for name in registry.ENGINES:
        cls = registry.engine_class(name)
        console.print(f"  [bold]{name:<13}[/] {cls.description} [dim](cases in workloads/*/"
                      f"{'.py or '.join(cls.implementation_files())}.py)[/]")
    console.print("[bold]scales[/]")
    for s in SCALES:
        console.print(f"  [bold]{s:<7}[/] {SCALE_NOTES[s]}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from enginebench.cli.template import write

    folder = write(args.name, Path(args.dir)).as_posix()
    shown = folder if folder.startswith(("/", ".")) else f"./{folder}"  # ./myjob: a folder, not a workload name
    print(f"wrote {shown}/ (spec.py, one file per engine API, a test). Next:\n"
          f"  enginebench run --workload {shown}   # every engine at tiny, ends in an HTML report\n"
          f"  pytest {shown}                       # its tests (ENGINEBENCH_ENGINES=local: one engine, quick)\n"
          "then make it your job: docs/your-workload.md")
    return 0


#: `variants` options that make its plan (refused beside --resume).
STUDY_OPTIONS = ("workload", "cases", "engines", "variants", "scale", "cpus", "memory", "repeat", "warmup")
PLAN_OPTIONS = ("workload", "cases", "engines", "scale", "ladder", "cpus", "memory", "preset", "repeat", "warmup",
                "timeout", "inject_fault", "scaling", "device")


def _endpoints() -> dict[str, Endpoint]:
    """Each engine's option for an existing cluster, once per key (engines may share one)."""
    return {cls.endpoint.key: cls.endpoint for cls in registry.engine_classes() if cls.endpoint}


def cmd_run(args: argparse.Namespace) -> int:
    from enginebench.cli import jobs
    from enginebench.engines.base import Endpoints
    from enginebench.plan.plan import Request, plans

    out = jobs.output_dir(args.out)
    report_dir = None if args.no_report else jobs.output_dir(args.report_dir, "--report-dir")
    show = jobs.Display(quiet=args.quiet, verbose=args.verbose)
    if args.resume:
        given = [f"--{o.replace('_', '-')}" for o in (*PLAN_OPTIONS, *_endpoints()) if getattr(args, o) is not None]
        if given:
            raise UsageError(f"--resume takes its plan from the results file; drop {', '.join(given)}")
        return jobs.resume_run(args.resume, out, show, report_dir=report_dir, allow_noisy=args.allow_noisy)
    request = Request(
        workload=args.workload, cases=args.cases, engines=args.engines, scale=args.scale, cpus=args.cpus,
        memory=args.memory, preset=args.preset, repeat=args.repeat, warmup=args.warmup, timeout_s=args.timeout,
        endpoints=Endpoints(**{key: getattr(args, key) for key in _endpoints()}).to_dict(),
        fault=args.inject_fault, scaling=args.scaling, device=args.device, ladder=args.ladder)
    return jobs.run_plans(plans(request), out, show, report_dir, args.allow_noisy)


def cmd_variants(args: argparse.Namespace) -> int:
    from enginebench.cli import jobs
    from enginebench.plan.plan import study_plan

    out = jobs.output_dir(args.out)
    if args.resume:
        given = [f"--{o}" for o in STUDY_OPTIONS if getattr(args, o) is not None]
        if given:
            raise UsageError(f"--resume takes its plan from the results file; drop {', '.join(given)}")
        return jobs.study(None, out, resume=args.resume)[0]
    if args.workload is None:
        raise UsageError("--workload is needed (accepted: one workload's name, folder or dotted module; or "
                         "--resume RUN_ID)")
    only = tuple(v.strip() for v in (args.variants or "").split(",") if v.strip())
    plan = study_plan(args.workload, args.cases, args.engines, args.scale or "tiny", args.cpus, args.memory,
                      warmup=1 if args.warmup is None else args.warmup, repeat=args.repeat or 4, only=only)
    return jobs.study(plan, out)[0]


def cmd_doctor(args: argparse.Namespace) -> int:
    from rich.console import Console

    from enginebench.cli.doctor import diagnose

    console = Console()
    findings = diagnose(import_engines=not args.no_import)
    style = {"ok": "green", "warn": "yellow", "fail": "bold red"}
    for f in findings:
        console.print(f"[{style[f.level]}]{f.level:>4}[/] {f.what:<12} {f.detail}", highlight=False)
    failures = [f for f in findings if f.level == "fail"]
    if failures:
        console.print(f"{len(failures)} problem(s) to fix before every engine can run.")
        return 1
    console.print("every engine can run here.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "new":
            return cmd_new(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "doctor":
            return cmd_doctor(args)
        if args.command == "data":
            return registry.data_commands()[args.dataset].run(args)
        if args.command == "report":
            return reading.cmd_report(args)
        if args.command == "compare":
            return reading.cmd_compare(args)
        if args.command == "export":
            return reading.cmd_export(args)
        if args.command == "docs":
            return reading.cmd_docs(args)
        if args.command == "variants":
            return cmd_variants(args)
    except UsageError as exc:
        sys.stderr.write(f"enginebench {args.command}: error: {exc}\n")
        return EXIT_USAGE
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())
