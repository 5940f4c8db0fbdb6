"""The `enginebench` command: parses arguments and calls into the harness. No business logic here.

Imports of engines (and of rich, psutil) happen inside the subcommands, so `enginebench list` and
`--help` stay fast and work without any engine installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from harness import registry
from harness.errors import UsageError
from harness.runner import FAULTS
from harness.spec import SCALES

if TYPE_CHECKING:
    from harness.records import ResultsWriter
    from harness.runner import Plan

EXIT_USAGE = 2
EXIT_FAILED_CASES = 1
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def _int_in(lo: int, hi: int, what: str) -> type[int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid {what} {text!r} (accepted: an integer from {lo} to {hi})"
            ) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"invalid {what} {value} (accepted: an integer from {lo} to {hi})")
        return value

    parse.__name__ = what
    return parse  # type: ignore[return-value]


def _cpu_list(text: str) -> tuple[int, ...]:
    parse = _int_in(1, 4096, "CPU count")
    values = tuple(parse(part.strip()) for part in text.split(","))
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"invalid CPU list {text!r} (accepted: distinct counts such as 1,2,4)")
    return values


def _float_in(lo: float, hi: float, what: str, accepted: str) -> type[float]:
    """An argparse type: a float in (lo, hi], with a one-line error naming what is accepted."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = lo
        if not lo < value <= hi:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r} (accepted: {accepted})")
        return value

    parse.__name__ = what
    return parse  # type: ignore[return-value]


_scale_factor = _float_in(0, 10_000, "scale factor", "a number above 0, e.g. 0.01, 1, 10")
_positive_seconds = _float_in(0, 7 * 24 * 3600, "timeout", "seconds, more than 0, at most a week")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="enginebench", description="Run identical workloads on Ray, Dask, Spark-on-Ray, "
                     "Spark and a local baseline; time them, check them, record them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="workloads, cases, engines and scales (with each scale's parameters)")

    run = sub.add_parser("run", help="run a plan: cases x engines at one scale")
    run.add_argument("--workload", help=f"one of: {', '.join(registry.WORKLOADS)} (default tasks)")
    run.add_argument("--cases", help="comma-separated case names, or 'all' (default all)")
    run.add_argument("--engines", help=f"comma-separated, or 'all' (default all: {', '.join(registry.ENGINES)})")
    run.add_argument("--scale", help=f"one of: {', '.join(SCALES)} (default tiny)")
    run.add_argument("--cpus", type=_cpu_list,
                     help="CPUs per engine (default: all); a list such as 1,2 runs the plan once per budget")
    run.add_argument("--memory", help="memory per engine, e.g. 8g (default: half the RAM)")
    run.add_argument("--repeat", type=_int_in(1, 1000, "repeat count"), help="timed repetitions (default 3)")
    run.add_argument("--warmup", type=_int_in(0, 100, "warm-up count"), help="untimed warm-up rounds (default 1)")
    run.add_argument("--timeout", type=_positive_seconds,
                     help="per-case timeout in seconds (default: per case and scale)")
    run.add_argument("--out", default="results", help="directory for the results file (default results/)")
    run.add_argument("--ray-address", help="use an existing Ray cluster (ray and spark-on-ray)")
    run.add_argument("--dask-scheduler", help="use an existing Dask scheduler, e.g. tcp://host:8786")
    run.add_argument("--spark-master", help="use an existing Spark master, e.g. spark://host:7077")
    run.add_argument("--scaling", choices=("strong", "weak"),
                     help="with several --cpus: strong keeps the work fixed (default), weak grows it with the CPUs")
    run.add_argument("--inject-fault", choices=FAULTS,
                     help="after each case's timed runs, one more run during which a worker process is killed; "
                          "records whether the engine recovered and the recovery time")
    run.add_argument("--quiet", action="store_true", help="no live progress, only the summary")
    run.add_argument("--resume", metavar="RUN_ID",
                     help="finish an interrupted run (its plan comes from OUT/RUN_ID.json; done cases are kept)")
    run.add_argument("--report-dir", default="reports",
                     help="where the run's HTML report goes: REPORT_DIR/<run id>/index.html (default reports/)")
    run.add_argument("--no-report", action="store_true", help="do not write an HTML report")

    report = sub.add_parser("report", help="one self-contained HTML page from results files")
    report.add_argument("results", nargs="+", help="results JSON files written by enginebench run")
    report.add_argument("-o", "--output", help="HTML file to write (default reports/<run id>/index.html)")
    report.add_argument("--title", default="enginebench report")
    report.add_argument("--force", action="store_true", help="overwrite an existing output file")

    comp = sub.add_parser("compare", help="per-case ratios NEW/BASE with a noise-aware verdict")
    comp.add_argument("base", help="results JSON of the baseline run")
    comp.add_argument("new", help="results JSON of the new run")
    comp.add_argument("-o", "--output", help="also write the comparison as HTML here")
    comp.add_argument("--force", action="store_true", help="overwrite an existing output file")
    comp.add_argument("--fail-on-slower", action="store_true", help="exit 1 when any case got slower or broke")

    data = sub.add_parser("data", help="generate (or verify) a workload's data set")
    data.add_argument("dataset", choices=("tpch", "cifar10"),
                      help="tpch: TPC-H tables as parquet and raw .tbl text (defects planted), via DuckDB's dbgen; "
                           "cifar10: the CIFAR-10 python "
                           "batches (imported and verified, or a synthetic set in the same format)")
    data.add_argument("--sf", type=_scale_factor, help="tpch: TPC-H scale factor (default 0.01)")
    data.add_argument("--dir", help="tpch: data root (default $ENGINEBENCH_DATA or ./data)")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--path", metavar="DIR", help="cifar10: import a cifar-10-batches-py folder (or its parent)")
    source.add_argument("--archive", metavar="FILE",
                        help="cifar10: import the official cifar-10-python.tar.gz (md5 verified)")
    source.add_argument("--download", action="store_true",
                        help="cifar10: fetch the official archive (needs network), verify its md5, import it")
    source.add_argument("--synthetic", action="store_true",
                        help="cifar10: write a synthetic set in exactly the CIFAR-10 format (deterministic)")
    data.add_argument("--out", metavar="DIR",
                      help="cifar10: folder for cifar-10-batches-py/ (default under $ENGINEBENCH_DATA or ./data)")
    data.add_argument("--seed", type=_int_in(0, 2**32 - 1, "seed"), help="cifar10 --synthetic: seed (default 0)")
    data.add_argument("--train-images", type=_int_in(5, 10_000_000, "image count"),
                      help="cifar10 --synthetic: training images (default 50000, as in CIFAR-10)")
    data.add_argument("--test-images", type=_int_in(1, 10_000_000, "image count"),
                      help="cifar10 --synthetic: test images (default 10000)")
    data.add_argument("--md5", help="cifar10 --archive: expected md5 (default: the published one)")

    doctor = sub.add_parser("doctor", help="check Python, Java, engine packages, memory and /dev/shm")
    doctor.add_argument("--no-import", action="store_true", help="check installed versions without importing")
    return parser


def cmd_list() -> int:
    from rich.console import Console

    from harness.spec import SCALE_NOTES

    console = Console(highlight=False)
    for name in registry.WORKLOADS:
        wl = registry.workload(name)
        console.print(f"[bold]workload {wl.name}[/]: {wl.title}")
        for case in wl.cases:
            better = "higher" if case.primary.higher_is_better else "lower"
            console.print(f"  [bold]{case.name}[/]: {case.description} "
                          f"[dim](headline {case.primary.name} in {case.primary.unit}, {better} is better)[/]")
            for scale in SCALES:
                params = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                                   for k, v in case.params[scale].items())
                console.print(f"      {scale:<7} {params}   [dim]timeout {case.timeout_s[scale]:g} s[/]")
    console.print("[bold]engines[/]")
    for name in registry.ENGINES:
        cls = registry.engine_class(name)
        console.print(f"  [bold]{name:<13}[/] {cls.description} [dim](cases in workloads/*/{cls.api}.py)[/]")
    console.print("[bold]scales[/]")
    for s in SCALES:
        console.print(f"  [bold]{s:<7}[/] {SCALE_NOTES[s]}")
    return 0


PLAN_OPTIONS = ("workload", "cases", "engines", "scale", "cpus", "memory", "repeat", "warmup", "timeout",
                "ray_address", "dask_scheduler", "spark_master", "inject_fault", "scaling")


def cmd_run(args: argparse.Namespace) -> int:
    from harness.budget import Budget, parse_memory
    from harness.engines.base import Endpoints
    from harness.runner import Plan

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file (accepted: a directory, created if missing)")
    report_dir = None if args.no_report else Path(args.report_dir)
    if report_dir is not None and report_dir.exists() and not report_dir.is_dir():
        raise UsageError(f"--report-dir {report_dir} is a file (accepted: a directory, created if missing)")
    if args.resume:
        given = [f"--{o.replace('_', '-')}" for o in PLAN_OPTIONS if getattr(args, o) is not None]
        if given:
            raise UsageError(f"--resume takes its plan from the results file; drop {', '.join(given)}")
        return resume(args.resume, out, quiet=args.quiet, report_dir=report_dir)

    workload = registry.workload(args.workload or "tasks")
    scale = args.scale or "tiny"
    if scale not in SCALES:
        raise UsageError(f"unknown scale {scale!r} (accepted: {', '.join(SCALES)})")
    memory = parse_memory(args.memory) if args.memory else None
    budgets = [Budget.default(c, memory) for c in (args.cpus or (None,))]
    plans = [Plan(
        workload=workload,
        cases=registry.parse_names(args.cases, f"case of workload {workload.name!r}", workload.case_names),
        engines=registry.parse_names(args.engines, "engine", tuple(registry.ENGINES)),
        scale=scale,
        budget=budget,
        repeat=args.repeat or 3,
        warmup=1 if args.warmup is None else args.warmup,
        timeout_s=args.timeout,
        endpoints=Endpoints(args.ray_address, args.dask_scheduler, args.spark_master),
        fault=args.inject_fault,
        scaling=args.scaling or "strong",
    ) for budget in budgets]
    if len(plans) == 1:
        return execute(plans[0], out, quiet=args.quiet, report_dir=report_dir)[0]
    # A sweep: one run (and results file) per budget, then one report over all of them.
    codes, paths = [], []
    for plan in plans:
        code, path = execute(plan, out, quiet=args.quiet, report_dir=None)
        codes.append(code)
        paths.append(path)
        if code == EXIT_INTERRUPTED:
            return code
    if report_dir is not None:
        from harness.records import load_run
        from harness.report.html import write_report

        target = report_dir / f"sweep-{paths[0].stem}" / "index.html"
        write_report([load_run(p) for p in paths], target, title=f"enginebench {plans[0].scaling} scaling sweep")
        print(f"sweep report: {target}")
    return max(codes)


def resume(run_id: str, out: Path, quiet: bool, report_dir: Path | None) -> int:
    """Finish an interrupted run in place: same plan, finished cases kept, the rest run."""
    from harness.budget import Budget
    from harness.engines.base import Endpoints
    from harness.records import ResultsWriter
    from harness.runner import Plan

    path = Path(run_id) if run_id.endswith(".json") else out / f"{run_id}.json"
    if not path.exists():
        known = sorted(p.stem for p in out.glob("*.json"))[-5:]
        raise UsageError(f"no results file {path} to resume (accepted: a run id in {out}/, e.g. "
                         f"{', '.join(known) or 'none there yet'})")
    writer = ResultsWriter.resume(path)
    p = writer.run.header.get("plan", {})
    try:
        workload = registry.workload(p["workload"])
        plan = Plan(workload=workload, cases=tuple(p["cases"]), engines=tuple(p["engines"]), scale=p["scale"],
                    budget=Budget.from_dict(writer.run.header["budget"]), repeat=int(p["repeat"]),
                    warmup=int(p["warmup"]), timeout_s=p.get("timeout_s"),
                    endpoints=Endpoints(**p.get("endpoints", {})), fault=p.get("fault"),
                    scaling=p.get("scaling", "strong"))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path} has no usable plan to resume ({exc})") from None
    done = len(writer.run.records)
    print(f"resuming {writer.run.run_id}: {done} of {len(plan.cases) * len(plan.engines)} attempts already done")
    return execute(plan, out, quiet=quiet, report_dir=report_dir, writer=writer)[0]


def _output_path(path: Path, force: bool) -> Path:
    if path.exists() and not force:
        raise UsageError(f"{path} already exists (accepted: a new path, or --force to overwrite)")
    if path.exists() and path.is_dir():
        raise UsageError(f"{path} is a directory (accepted: a file path such as reports/NAME/index.html)")
    return path


def cmd_report(args: argparse.Namespace) -> int:
    from harness.records import load_run
    from harness.report.html import write_report

    runs = [load_run(p) for p in args.results]
    name = runs[0].run_id if len(runs) == 1 else f"combined-{runs[-1].run_id}"
    path = _output_path(Path(args.output) if args.output else Path("reports") / name / "index.html", args.force)
    write_report(runs, path, title=args.title)
    print(f"report: {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table

    from harness.console import make_console
    from harness.fmt import format_seconds
    from harness.records import atomic_write_text, load_run
    from harness.report.compare import compare, differences
    from harness.report.html import render_comparison

    base, new = load_run(args.base), load_run(args.new)
    output = _output_path(Path(args.output), args.force) if args.output else None
    rows = compare(base, new)
    console = make_console()
    table = Table(title=f"{new.run_id} vs {base.run_id} (ratio = new/base median time)")
    for col in ("workload", "case", "engine", "scale", "base", "new", "ratio", "verdict"):
        table.add_column(col, justify="right" if col in ("base", "new", "ratio") else "left")
    style = {"faster": "green", "slower": "red", "broken": "bold red", "fixed": "green"}
    for c in rows:
        table.add_row(c.workload, c.case, c.engine, c.scale,
                      format_seconds(c.base_median_s) if c.base_status == "ok" and c.base_median_s else c.base_status,
                      format_seconds(c.new_median_s) if c.new_status == "ok" and c.new_median_s else c.new_status,
                      f"{c.time_ratio:.2f}" if c.time_ratio is not None else "",
                      f"[{style.get(c.verdict, '')}]{c.verdict}[/]" if c.verdict in style else c.verdict)
    console.print(table)
    for note in differences(base, new):
        console.print(f"note: {note}")
    if output is not None:
        atomic_write_text(output, render_comparison(base, new))
        console.print(f"comparison: {output}")
    worse = [c for c in rows if c.verdict in ("slower", "broken")]
    return 1 if args.fail_on_slower and worse else 0


def execute(plan: Plan, out: Path, quiet: bool = False, report_dir: Path | None = None,
            writer: ResultsWriter | None = None) -> tuple[int, Path]:
    """Run a plan with live progress, write the results file (a new one, or `writer`'s when
    resuming), print the summary and where things went; (exit code, results path). SIGTERM is
    handled like Ctrl-C: engines are stopped, unfinished cases recorded as skipped, and the file
    stays valid for --resume."""
    import signal

    from harness.console import LiveProgress, make_console, summary_table
    from harness.records import ResultsWriter
    from harness.runner import Runner, make_header, new_run_id

    console = make_console()
    if writer is None:
        run_id = new_run_id(plan)
        writer = ResultsWriter(out / f"{run_id}.json", make_header(plan, run_id))
    run_id = writer.run.run_id
    b = plan.budget
    console.print(f"enginebench run {run_id}: workload {plan.workload.name}, scale {plan.scale}, "
                  f"{len(plan.cases)} cases x {len(plan.engines)} engines, {b.cpus} CPUs, "
                  f"{b.memory_bytes / 2**30:.1f} GiB per engine, warm-up {plan.warmup}, repeat {plan.repeat}")
    observer = LiveProgress(console, len(plan.cases) * len(plan.engines))
    runner = Runner(plan, writer, observer=None if quiet else observer)

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if quiet:
            runner.run()
        else:
            with observer:
                runner.run()
    except KeyboardInterrupt:
        console.print(f"interrupted: engines stopped; results so far in {writer.path}; "
                      f"finish with: enginebench run --resume {run_id} --out {out}")
        return EXIT_INTERRUPTED, writer.path
    finally:
        signal.signal(signal.SIGTERM, previous)
    records = writer.run.records
    console.print(summary_table(records, writer.run.header.get("engines", {})))
    failed = [r for r in records if r.status in ("wrong", "error", "timeout")]
    console.print(f"results: {writer.path}")
    if report_dir is not None:
        from harness.records import load_run
        from harness.report.html import write_report

        try:
            path = write_report([load_run(writer.path)], report_dir / run_id / "index.html")
            console.print(f"report: {path}")
        except Exception as exc:  # noqa: BLE001 - the results are safe on disk; say why the page is missing
            console.print(f"report not written ({type(exc).__name__}: {exc}); "
                          f"make it later with: enginebench report {writer.path}")
    if failed:
        console.print(f"{len(failed)} of {len(records)} attempts failed: "
                      + "; ".join(f"{r.engine}/{r.case} {r.status}" for r in failed[:8]))
        return EXIT_FAILED_CASES, writer.path
    return 0, writer.path


_CIFAR_FLAGS = ("path", "archive", "download", "synthetic", "out", "seed", "train_images", "test_images", "md5")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def cmd_data(args: argparse.Namespace) -> int:
    import time

    if args.dataset == "cifar10":
        return cmd_data_cifar10(args)
    given = [_flag(f) for f in _CIFAR_FLAGS if getattr(args, f) not in (None, False)]
    if given:
        raise UsageError(f"{', '.join(given)}: for cifar10 only (accepted for tpch: --sf, --dir)")
    from workloads.etl import data

    sf = args.sf if args.sf is not None else 0.01
    root = Path(args.dir).resolve() if args.dir else None
    t0 = time.perf_counter()
    directory, rows = data.ensure_tpch(sf, root)
    print(f"tpch sf={sf:g}: {directory} ({time.perf_counter() - t0:.1f} s)")
    for table, n in rows.items():
        print(f"  {table:<9} {n:>12,} rows")
    t0 = time.perf_counter()
    raw, manifest = data.ensure_raw(sf, root)
    print(f"raw text for the pipeline: {raw} ({time.perf_counter() - t0:.1f} s)")
    for table, n in manifest["lines"].items():
        planted = ", ".join(f"{k} {v}" for k, v in manifest["planted"].get(table, {}).items())
        print(f"  {table:<9} {n:>12,} lines" + (f" (planted: {planted})" if planted else ""))
    return 0


def cmd_data_cifar10(args: argparse.Namespace) -> int:
    """Import (verified) or synthesize CIFAR-10 in its python format; never overwrites a data set."""
    import time

    from workloads.cnn import data

    given = [_flag(f) for f in ("sf", "dir") if getattr(args, f) is not None]
    if given:
        raise UsageError(f"{', '.join(given)}: for tpch only (accepted for cifar10: --path DIR | --archive FILE "
                         "| --download | --synthetic, with --out DIR, --seed N)")
    if not (args.path or args.archive or args.download or args.synthetic):
        raise UsageError("cifar10 needs a source (accepted: --path DIR, --archive FILE, --download or --synthetic)")
    synthetic_only = [_flag(f) for f in ("seed", "train_images", "test_images") if getattr(args, f) is not None]
    if synthetic_only and not args.synthetic:
        raise UsageError(f"{', '.join(synthetic_only)}: for --synthetic only")
    if args.md5 is not None and not args.archive:
        raise UsageError("--md5: for --archive only")
    if args.md5 is not None and not (len(args.md5) == 32 and all(c in "0123456789abcdefABCDEF" for c in args.md5)):
        raise UsageError(f"invalid --md5 {args.md5!r} (accepted: 32 hexadecimal digits)")
    seed = args.seed if args.seed is not None else 0
    n_train = args.train_images if args.train_images is not None else 50_000
    n_test = args.test_images if args.test_images is not None else 10_000
    if args.out:
        dest = Path(args.out).resolve() / data.FOLDER
    elif args.synthetic:
        dest = data.synthetic_dir(n_train, n_test, seed)
    else:
        dest = data.real_dir()
    if dest.parent.exists() and not dest.parent.is_dir():
        raise UsageError(f"--out {dest.parent} is a file (accepted: a directory, created if missing)")
    t0 = time.perf_counter()
    if dest.exists():
        ds = data.load(dest)  # an existing data set is verified, never overwritten
        if args.synthetic and (len(ds.train_y), len(ds.test_y)) != (n_train, n_test):
            raise UsageError(f"{dest} already holds {len(ds.train_y)}+{len(ds.test_y)} images; not overwriting it "
                             "(accepted: another --out, or remove it)")
        what = "already present, verified; not rewritten"
    else:
        if args.synthetic:
            data.write_synthetic(dest, n_train, n_test, seed)
            what = f"synthetic, seed {seed}"
        elif args.path:
            data.import_folder(Path(args.path).resolve(), dest)
            what = f"imported from {args.path}"
        else:
            archive = Path(args.archive).resolve() if args.archive else data.download(dest.parent)
            data.extract_archive(archive, dest.parent, args.md5 or data.PUBLISHED_MD5)
            what = f"extracted from {archive.name}, md5 verified"
        ds = data.load(dest)
    print(f"cifar10: {dest} ({what}; {time.perf_counter() - t0:.1f} s)")
    print(f"  {len(ds.train_y):,} training + {len(ds.test_y):,} test images, classes: {', '.join(ds.label_names)}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.doctor import diagnose

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
            return cmd_list()
        if args.command == "run":
            return cmd_run(args)
        if args.command == "doctor":
            return cmd_doctor(args)
        if args.command == "data":
            return cmd_data(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "compare":
            return cmd_compare(args)
    except UsageError as exc:
        sys.stderr.write(f"enginebench {args.command}: error: {exc}\n")
        return EXIT_USAGE
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())
