"""The jobs behind `enginebench run` and `enginebench variants`: a plan run with live progress, its results
file, the summary and the HTML report; resuming an interrupted one; SIGTERM handled like Ctrl-C (engines
stopped, the file left valid for --resume). The command line (`cli.main`) only parses and calls these.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from enginebench.core.errors import UsageError
from enginebench.plan import registry
from enginebench.plan.plan import count
from enginebench.results.records import Plan, ResultsWriter

EXIT_USAGE = 2
EXIT_FAILED_CASES = 1
EXIT_INTERRUPTED = 130


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block, so a terminated run ends like a Ctrl-C one:
    engines stopped, unfinished cases recorded as skipped, the results file valid for --resume."""
    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def output_dir(path: str, option: str = "--out") -> Path:
    """A directory the command writes into (created later if missing); a file there is refused."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out} is a file (accepted: a directory, created if missing)")
    return out


def results_to_resume(run_id: str, out: Path) -> ResultsWriter:
    """The results file of an interrupted run (a run id in `out`, or a path), reopened for writing, with
    its workloads loaded again (a user's one from where it was; refused when its files changed)."""
    path = Path(run_id) if run_id.endswith(".json") else out / f"{run_id}.json"
    if not path.exists():
        known = sorted(p.stem for p in out.glob("*.json"))[-5:]
        raise UsageError(f"no results file {path} to resume (accepted: a run id in {out}/, e.g. "
                         f"{', '.join(known) or 'none there yet'})")
    writer = ResultsWriter.resume(path)
    plan = writer.run.header.plan
    registry.restore(plan.sources)
    for name in plan.workloads:
        registry.workload(name)  # still known?
    return writer


def run_plans(plans: list[Plan], out: Path, show: Display, report_dir: Path | None, allow_noisy: bool) -> int:
    """Run one plan, or a sweep (one run and results file per scale and budget, then one report over
    all of them); the exit code."""
    if len(plans) == 1:
        return execute(plans[0], out, show, report_dir=report_dir, allow_noisy=allow_noisy)[0]
    codes, paths = [], []
    for i, plan in enumerate(plans, 1):
        print(f"sweep {i} of {len(plans)}: scale {plan.scale}, {plan.budget.cpus} CPUs", flush=True)
        code, path = execute(plan, out, show, report_dir=None)
        codes.append(code)
        paths.append(path)
        if code == EXIT_INTERRUPTED:
            return code
    if report_dir is not None:
        from enginebench.cli.reading import ask
        from enginebench.report.html import write_report
        from enginebench.results.records import load_run

        scales = {p.scale for p in plans}
        budgets = {p.budget.cpus for p in plans}
        what = " and ".join(w for w, n in (("size", len(scales)), (f"{plans[0].scaling} scaling", len(budgets)))
                            if n > 1)
        target = report_dir / f"sweep-{paths[0].stem}" / "index.html"
        write_report([load_run(p) for p in paths], target, title=f"enginebench {what} sweep", allow_noisy=allow_noisy,
                     ask=ask())
        print(f"sweep report: {target}")
    return max(codes)


@dataclass(frozen=True)
class Display:
    """How a run talks to the terminal: quiet (no live progress line), verbose (engine output on the
    terminal instead of the run's log file)."""

    quiet: bool = False
    verbose: bool = False


def execute(plan: Plan, out: Path, show: Display | None = None, report_dir: Path | None = None,
            writer: ResultsWriter | None = None, allow_noisy: bool = False) -> tuple[int, Path]:
    """Run a plan with live progress, write the results file (a new one, or `writer`'s when
    resuming), print the summary and where things went; (exit code, results path). Engine output
    goes to OUT/<run id>.log unless `show.verbose`. SIGTERM is handled like Ctrl-C: engines are
    stopped, unfinished cases recorded as skipped, and the file stays valid for --resume."""
    from contextlib import nullcontext

    from enginebench.measure.console import EngineOutput
    from enginebench.measure.runner import make_header, new_run_id
    from enginebench.results.records import ResultsWriter

    show = show or Display()
    prepare_environments(plan.engines)  # before the results file: a release pip cannot install is a usage error
    if writer is None:
        run_id = new_run_id(plan)
        writer = ResultsWriter(out / f"{run_id}.json", make_header(plan, run_id))
    log = writer.path.with_suffix(".log")
    with nullcontext(None) if show.verbose else EngineOutput(log) as diverted:
        return _execute(plan, out, show, writer, report_dir, allow_noisy,
                        terminal=diverted.terminal if diverted else None, log=None if show.verbose else log)


def _execute(plan: Plan, out: Path, show: Display, writer: ResultsWriter, report_dir: Path | None,
             allow_noisy: bool, terminal: TextIO | None, log: Path | None) -> tuple[int, Path]:
    from enginebench.measure.console import LiveProgress, make_console, summary_table
    from enginebench.measure.runner import Runner
    from enginebench.results.records import FAILED

    console = make_console(terminal)
    run_id = writer.run.run_id
    b = plan.budget
    what = ", ".join(f"{w} ({len(c)} cases)" for w, c in plan.cases.items())
    console.print(f"enginebench run {run_id}: {what} x {len(plan.engines)} engines, scale {plan.scale}, "
                  f"{b.cpus} CPUs, {b.memory_bytes / 2**30:.1f} GiB per engine, warm-up {plan.warmup}, "
                  f"repeat {plan.repeat}")
    if plan.ladder:
        rungs = ", ".join(f"{v:g}" + ("" if plan.ladder_param else "x") for v in plan.ladder)
        console.print(f"size ladder: {plan.ladder_param + '=' if plan.ladder_param else ''}{rungs}, "
                      f"{count(plan)} attempts (cases without a size parameter run once)")
    if log is not None:
        console.print(f"engine output: {log}")
    warning = busy_machine_warning(b.cpus)
    if warning:
        console.print(warning)
    observer = LiveProgress(console, count(plan))
    runner = Runner(plan, writer, observer=None if show.quiet else observer)

    try:
        with sigterm_as_interrupt():
            if show.quiet:
                runner.run()
            else:
                with observer:
                    runner.run()
    except KeyboardInterrupt:
        console.print(f"interrupted: engines stopped; results so far in {writer.path}; "
                      f"finish with: enginebench run --resume {run_id} --out {out}")
        return EXIT_INTERRUPTED, writer.path
    records = writer.run.records
    console.print(summary_table(records, writer.run.header.engines))
    failed = [r for r in records if r.status in FAILED]
    console.print(f"results: {writer.path}")
    if report_dir is not None:
        from enginebench.cli.reading import ask
        from enginebench.report.html import write_report
        from enginebench.results.records import load_run

        try:
            path = write_report([load_run(writer.path)], report_dir / run_id / "index.html", allow_noisy=allow_noisy,
                                ask=ask())
            console.print(f"report: {path}")
        except Exception as exc:  # noqa: BLE001 - the results are safe on disk; say why the page is missing
            console.print(f"report not written ({type(exc).__name__}: {exc}); "
                          f"make it later with: enginebench report {writer.path}")
    if failed:
        console.print(f"{len(failed)} of {len(records)} attempts failed: "
                      + "; ".join(f"{r.engine}/{r.case} {r.status}" for r in failed[:8])
                      + (f"; engine output in {log}" if log else ""))
        return EXIT_FAILED_CASES, writer.path
    return 0, writer.path


def prepare_environments(engines: tuple[str, ...]) -> None:
    """Build (first use only) the environment of each engine that runs from one of its own (`spark` on
    PySpark 4, a release such as `ray@2.55.1`), saying so; UsageError with pip's reason if one cannot be."""
    from enginebench.engines import environment

    for engine in engines:
        environment.python(registry.environment(engine), lambda line: print(f"enginebench: {line}", flush=True))


def in_environment(engines: tuple[str, ...]) -> None:
    """A variant study runs in one process: when its engines run from an environment other than this
    process's (`spark` from its PySpark 4 overlay), the command starts again there (exec, same arguments);
    engines from different environments are studied one at a time."""
    import os
    import sys

    from enginebench.engines import environment

    envs = {registry.environment(e).name: registry.environment(e) for e in engines}
    here = os.environ.get(environment.ENV_VAR, environment.MAIN)
    if len(envs) > 1:
        raise UsageError("a variant study runs its engines in one process, and these run from different "
                         f"environments ({', '.join(f'{e}: {registry.environment(e).name}' for e in engines)}); "
                         "study them one at a time (accepted: --engines with engines of one environment)")
    (env,) = envs.values()
    if env.main or env.name == here:
        return
    python = str(environment.python(env, lambda line: print(f"enginebench: {line}", flush=True)))
    os.execve(python, [python, "-m", "enginebench", *sys.argv[1:]], {**os.environ, environment.ENV_VAR: env.name})


def busy_machine_warning(cpus: int) -> str:
    """A warning, naming the busiest of them, when processes outside this one's tree keep more than
    NOISY_SHARE of the budget's CPUs busy now."""
    import os
    import time

    from enginebench.measure.metrics import ProcessTreeSampler
    from enginebench.report.noise import NOISY_SHARE

    sampler = ProcessTreeSampler(0.25).start()
    time.sleep(0.5)
    sampler.stop()
    busy = max(0.0, sampler.foreign_cpu_seconds - sampler.foreign_resolution_s) / sampler.wall_s
    if busy <= NOISY_SHARE * cpus:
        return ""
    top = ", ".join(f"{p['name']} (pid {p['pid']})" for p in sampler.foreign_top(2))
    return (f"warning: the machine is busy before the run starts ({busy:.1f} CPUs in use by other processes: "
            f"{top}; load average {os.getloadavg()[0]:.2f}); figures taken now measure contention too. Cases "
            f"during which other processes take over {NOISY_SHARE:.0%} of the {cpus}-CPU budget are marked noisy "
            "and ranked as conservative figures (a noisy engine behind the leader leaves the order undecided).")


def resume_run(run_id: str, out: Path, show: Display, report_dir: Path | None, allow_noisy: bool = False) -> int:
    """Finish an interrupted run in place: same plan, finished cases kept, the rest run."""
    writer = results_to_resume(run_id, out)
    plan = writer.run.header.plan
    print(f"resuming {writer.run.run_id}: {len(writer.run.records)} of {count(plan)} attempts already done")
    return execute(plan, out, show, report_dir=report_dir, writer=writer, allow_noisy=allow_noisy)[0]


def study(plan: Plan | None, out: Path, resume: str | None = None) -> tuple[int, Path]:
    """Run a variant study (or finish an interrupted one: `resume` is its run id or file) with a line per
    block on the terminal (engine output to OUT/<run id>.log), then a table of each engine's variants;
    (exit code: 0, 1 when a variant failed, EXIT_INTERRUPTED when stopped; the results path). SIGTERM is
    handled like Ctrl-C: the engine is stopped and the file is left valid for --resume."""
    from enginebench.measure import variants
    from enginebench.measure.console import EngineOutput, headline, make_console
    from enginebench.measure.runner import make_header, new_run_id
    from enginebench.results.records import FAILED

    if resume is not None:
        writer = results_to_resume(resume, out)
        if writer.run.header.source != variants.SOURCE:
            raise UsageError(f"{writer.path} was written by {writer.run.header.source}, not a variant study "
                             "(accepted: a file of enginebench variants; resume a run with enginebench run --resume)")
        plan = writer.run.header.plan
        in_environment(plan.engines)
    else:
        assert plan is not None
        in_environment(plan.engines)
        run_id = new_run_id(plan, "variants")
        header = dataclasses.replace(make_header(plan, run_id), source=variants.SOURCE)
        writer = ResultsWriter(out / f"{run_id}.json", header)
    workload = registry.workload(plan.workload)
    with EngineOutput(writer.path.with_suffix(".log")) as diverted:
        console = make_console(diverted.terminal)
        kept = f", resumed with {len(writer.run.records)} variant records kept" if resume else ""
        console.print(f"enginebench variants {writer.run.run_id}: {workload.name} x {', '.join(plan.engines)}, scale "
                      f"{plan.scale}, {plan.budget.cpus} CPUs, per variant 2 blocks of warm-up {plan.warmup} + "
                      f"{' and '.join(str(n) for n in variants.block_sizes(plan.repeat) if n)} repetitions{kept}")
        study = variants.Study(plan, workload, writer,
                               progress=lambda r, block: console.print(f"  {block} {r.case}: {headline(r)}"))
        try:
            with sigterm_as_interrupt():
                study.run()
        except KeyboardInterrupt:
            console.print(f"interrupted: engine stopped; finished cases in {writer.path}; finish with: "
                          f"enginebench variants --resume {writer.run.run_id} --out {out}")
            return EXIT_INTERRUPTED, writer.path
        records = writer.run.records
        for g in variants.verdicts(records):
            if len(g.rows) == 1:
                console.print(f"{g.workload} {g.case} on {g.engine}: {g.rows[0].status}, no variants")
                continue
            console.print(f"{g.workload} {g.case} on {g.engine} ({g.metric}, {g.unit}):")
            for row in g.rows:
                outside = " (outside the rule)" if row.outside_rule else ""
                figure = "" if row.value is None or row.ratio is None else \
                    f"{row.value:.4g} {g.unit}  {variants.standing(row.ratio)}{outside}"
                console.print(f"  {row.variant:24} {'default' if row.default else '':8} {row.status:8} {figure}")
            console.print(f"  default within {variants.WITHIN}x of the best variant: "
                          f"{'yes' if g.default_within else 'NO'}")
        console.print(f"results: {writer.path}")
    return (1 if any(r.status in FAILED for r in records) else 0), writer.path
