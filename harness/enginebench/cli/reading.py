"""The commands that read results files: `report` (HTML or Markdown, `--at` predictions), `compare`,
`export` and `docs` (the generated tables and the site). The command line (`cli.main`) dispatches here."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from enginebench.core.errors import UsageError

if TYPE_CHECKING:
    from enginebench.report.content import Ask, Asked
    from enginebench.results.cost import Price
    from enginebench.results.records import Run

#: The results file the README's picture of the engine-fit matrix is taken from, and where it goes.
PICTURE_RESULTS = "docs/results/repeat-1.json,docs/results/repeat-2.json,docs/results/repeat-3.json"
PICTURE = "docs/img/engine-fit.png"
#: Size ladders shipped with the project (relative to the checkout): a report of a run at one size reads its
#: cases against their lines to say which regime each case is in (start-up or throughput). The first whose
#: lines cover a case's size for the same work speaks for it: the 2026-12-07 ladders first, then the
#: 2026-11-29 tiny ladder for the workloads they do not cover yet.
REFERENCE_LADDERS = ("docs/results/ladder-etl-near.json", "docs/results/ladder-etl-medium.json",
                     "docs/results/ladder-etl-medium-ray.json", "docs/results/ladder-etl-medium-ray-again.json",
                     "docs/results/ladder-etl-medium-dask-again.json", "docs/results/ladder-inference-near.json",
                     "docs/results/ladder-inference-medium.json",
                     "docs/results/ladder-inference-medium-ray-again.json", "docs/results/ladder-gbdt-near.json",
                     "docs/results/ladder-gbdt-medium.json", "docs/results/ladder-tasks-near.json",
                     "docs/results/ladder-tasks-medium.json", "docs/results/ladder-tasks-100k.json",
                     "docs/results/ladder-clickstream-8m.json", "docs/results/ladder-cnn-medium.json",
                     "docs/results/ladder-tiny.json")


@functools.cache
def reference_ladders() -> tuple[tuple[str, Run], ...]:
    """The shipped ladders this checkout has, as (file name, run), read once per process; none when the
    docs are absent (an installed package without its checkout) or a file cannot be read."""
    from enginebench.core.machine import REPO_ROOT
    from enginebench.results.records import load_run

    out = []
    for name in REFERENCE_LADDERS:
        path = REPO_ROOT / name
        try:
            out.append((path.name, load_run(path)))
        except (OSError, ValueError, UsageError):
            continue
    return tuple(out)


def ask(at: dict[str, float] | None = None, price: Price | None = None) -> Ask:
    """What a report is asked beside its results: `--at` sizes, a `--price`, the shipped reference ladders."""
    from enginebench.report.content import Ask

    return Ask(at=at, price=price, references=reference_ladders())


def _output_path(path: Path, force: bool) -> Path:
    if path.exists() and not force:
        raise UsageError(f"{path} already exists (accepted: a new path, or --force to overwrite)")
    if path.exists() and path.is_dir():
        raise UsageError(f"{path} is a directory (accepted: a file path such as reports/NAME/index.html)")
    return path


def cmd_report(args: argparse.Namespace) -> int:
    from enginebench.results.records import load_run

    runs = [load_run(p) for p in args.results]
    name = runs[0].run_id if len(runs) == 1 else f"combined-{runs[-1].run_id}"
    default = "report.md" if args.format == "markdown" else "index.html"
    path = _output_path(Path(args.output) if args.output else Path("reports") / name / default, args.force)
    asking = ask(args.at, args.price)
    asked = _asked(runs, asking, args.allow_noisy) if args.at else None  # refused before anything is written
    if args.format == "markdown":
        from enginebench.core.files import atomic_write_text
        from enginebench.report.markdown import document

        atomic_write_text(path, document(runs, args.title, ", ".join(args.results), args.allow_noisy, ask=asking))
    else:
        from enginebench.report.html import write_report

        write_report(runs, path, title=args.title, allow_noisy=args.allow_noisy, ask=asking)
    if asked is not None:
        _print_predictions(asked, asking)
    print(f"report: {path}")
    return 0


def _asked(runs: Sequence[Run], asking: Ask, allow_noisy: bool) -> list[Asked]:
    """`report --at`: each laddered case's predictions at the asked size; a one-line error when the
    results have no ladder or no laddered case has the size's parameter."""
    from enginebench.report.model import build_model

    at = asking.at or {}
    model = build_model(runs, allow_noisy, asking)
    if not model.fits:
        raise UsageError("--at: these results have no ladder to predict from (accepted: a results file of "
                         "enginebench run --ladder)")
    if not model.asked:
        params = sorted({f.param for f in model.fits} | {f"{f.workload}.{f.param}" for f in model.fits})
        raise UsageError(f"--at: no laddered case has a size parameter among {', '.join(sorted(at))} (accepted: "
                         f"{', '.join(params)}, or a factor such as 25x)")
    return model.asked


def _print_predictions(asked: list[Asked], asking: Ask) -> None:
    """Each laddered case's predicted order at the asked size, on the terminal: seconds per call,
    core-seconds, and with a price the money per call and per job (the engine's start included)."""
    from enginebench.core.fmt import fmt_factor, fmt_size
    from enginebench.report.tables import call_cost_text

    price = asking.price
    for q in asked:
        money = f"; {price.text()}: per call, per job with the engine's start" if price else ""
        print(f"{q.workload} {q.case} at {fmt_size(q.param, q.size)}, predicted seconds per call, "
              f"core-seconds{money}; fastest first:")
        width = max(len(fit.engine) for fit, _ in q.order)
        for i, (fit, p) in enumerate(q.order):
            if p.seconds is None:
                print(f"  {fit.engine:<{width}}  no prediction: {p.refused}")
                continue
            beyond = f", {fmt_factor(p.factor)} beyond the ladder" if p.factor > 1 else ""
            ahead = " (ahead of the next)" if q.separated(i) else ""
            cost = call_cost_text(fit, p.seconds, price, q.start(fit.engine))
            print(f"  {fit.engine:<{width}}  {p.seconds.text()}; {cost}{beyond}{ahead}")


def cmd_docs(args: argparse.Namespace) -> int:
    from enginebench.report import docs

    root = docs.project_root(args.root)
    if args.action == "tables":
        stale = docs.stale(docs.pages(root), write=not args.check)
        for page in stale:
            print(f"{'stale' if args.check else 'rewrote'}: {page.relative_to(root)}")
        if args.check and stale:
            print("generated tables differ from their results files: run `enginebench docs tables`", file=sys.stderr)
            return 1
        print(f"{len(docs.blocks(root))} generated blocks, {len(stale)} {'stale' if args.check else 'rewritten'}")
        return 0
    if args.action == "build":
        site = Path(args.site_dir) if args.site_dir else root / "site"
        return docs.mkdocs(root, ["build", "--strict", "--site-dir", str(site.resolve())])
    if args.action == "picture":
        from enginebench.results.records import load_run

        runs = [load_run(root / path) for path in args.results.split(",") if path]
        print(f"picture: {docs.picture(runs, root / PICTURE)}")
        return 0
    return docs.mkdocs(root, ["serve", "--dev-addr", f"127.0.0.1:{args.port}"], replace=True)


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table

    from enginebench.core.fmt import format_metric
    from enginebench.core.stats import THRESHOLD
    from enginebench.measure.console import make_console
    from enginebench.report.compare import compare, differences
    from enginebench.report.html import render_comparison
    from enginebench.results.records import atomic_write_text, load_run

    base, new = load_run(args.base), load_run(args.new)
    output = _output_path(Path(args.output), args.force) if args.output else None
    threshold = THRESHOLD if args.threshold is None else args.threshold
    rows = compare(base, new, threshold)
    console = make_console()
    table = Table(title=f"{new.run_id} vs {base.run_id}: ratio = how many times slower NEW is on the headline "
                        "(median; above 1 is slower) and its interval; slower/faster only when the whole "
                        f"interval is beyond the {threshold:.0%} threshold")
    for col in ("workload", "case", "engine", "scale", "base", "new", "ratio", "interval", "verdict", "why"):
        table.add_column(col, justify="right" if col in ("base", "new", "ratio", "interval") else "left")
    style = {"faster": "green", "slower": "red", "broken": "bold red", "fixed": "green"}

    def figure(status: str, value: float | None, unit: str) -> str:
        return f"{format_metric(value)} {unit}" if status == "ok" and value is not None else status

    for c in rows:
        verdict = c.verdict + (" (borderline)" if c.borderline else "") + (f" [noisy {c.noisy}]" if c.noisy else "")
        table.add_row(c.workload, c.case, c.engine, c.scale, figure(c.base_status, c.base_value, c.unit),
                      figure(c.new_status, c.new_value, c.unit), f"{c.ratio:.2f}" if c.ratio is not None else "",
                      f"[{c.low:.2f}, {c.high:.2f}]" if c.low is not None and c.high is not None else "",
                      f"[{style[c.verdict]}]{verdict}[/]" if c.verdict in style else verdict, c.why)
    console.print(table)
    for note in differences(base, new):
        console.print(f"note: {note}")
    if output is not None:
        atomic_write_text(output, render_comparison(base, new, threshold=threshold))
        console.print(f"comparison: {output}")
    worse = [c for c in rows if c.verdict in ("slower", "broken")]
    return 1 if args.fail_on_slower and worse else 0


def cmd_export(args: argparse.Namespace) -> int:
    """One CSV row per record and metric (harness/export.py) to --csv FILE, or to stdout for '-'."""
    from enginebench.core.files import atomic_write_text
    from enginebench.results.export import csv_rows, to_csv
    from enginebench.results.records import load_run

    runs = [load_run(p) for p in args.results]
    output = None if args.csv == "-" else _output_path(Path(args.csv), args.force)
    text = to_csv(runs)
    rows, records = len(csv_rows(runs)), sum(len(run.records) for run in runs)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write_text(output, text)
    # With '-' the CSV owns stdout: the summary goes to stderr.
    print(f"export: {rows} rows from {records} records -> {args.csv}",
          file=sys.stderr if output is None else sys.stdout)
    return 0
