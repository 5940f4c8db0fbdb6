"""ReportModel -> one self-contained HTML page (CSS inline, SVG figures inline, no scripts or fonts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from enginebench.core.budget import format_bytes
from enginebench.core.fmt import fmt_factor, fmt_seconds, fmt_size, format_metric, format_seconds
from enginebench.core.stats import BOOTSTRAP_MIN, MIN_REPETITION_S, RULES, THRESHOLD
from enginebench.report import figures
from enginebench.report.model import CONFIRM_MIN, ReportModel, build_model, fmt_ratio
from enginebench.report.noise import NOISY_SHARE
from enginebench.results.fit import EXTRAPOLATION_CAP
from enginebench.results.fit import RULES as LADDER_RULES
from enginebench.results.records import Run

TEMPLATES = Path(__file__).with_name("templates")
BADGES = {"ok": "checked", "wrong": "WRONG", "error": "error", "timeout": "timeout",
          "unsupported": "n/a", "skipped": "skipped", "absent": "not run"}


def _templates() -> Any:
    """A jinja2 environment over our templates: every string autoescaped, unknown names an error."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined)
    env.filters["metric"] = format_metric
    env.filters["seconds"] = format_seconds
    env.filters["bytes"] = format_bytes
    env.filters["per_call"] = fmt_seconds
    env.filters["factor"] = fmt_factor
    env.globals["size_text"] = fmt_size
    env.globals["ladder_cap"] = fmt_factor(EXTRAPOLATION_CAP)
    env.filters["ratio"] = fmt_ratio
    return env


def render(runs: Sequence[Run], title: str = "enginebench report", allow_noisy: bool = False,
           at: Mapping[str, float] | None = None) -> str:
    """The HTML text of a report over `runs` (pure: reads nothing, writes nothing); `at`: sizes to
    predict each laddered case at (`enginebench report --at`)."""
    model = build_model(runs, allow_noisy, at)
    env = _templates()
    workloads = list(dict.fromkeys(r.workload for r in model.rows))
    charts: dict[str, str] = {}
    curves: dict[str, dict[str, str]] = {}  # workload -> series name -> figure
    for wl in workloads:
        rows = [r for r in model.rows if r.workload == wl]
        charts[wl] = figures.case_bars(rows, model.engines)
        recs = [r for r in model.records if r.workload == wl]
        # A series `<group>/<member>` (one curve per trial of a search) is drawn with its group, a
        # panel per engine; a plain name is one figure with a curve per engine.
        for name in dict.fromkeys(n for r in recs if r.status == "ok" for n in r.series):
            group, grouped, member = name.partition("/")
            figure = f"{group} per {member.split()[0]}" if grouped else name  # "accuracy per trial"
            if not grouped:
                curves.setdefault(wl, {})[name] = figures.series_lines(recs, name, model.engines)
            elif figure not in curves.get(wl, {}):
                curves.setdefault(wl, {})[figure] = figures.series_panels(recs, group)
    phase_chart = figures.phase_stack(model) if model.phases else ""
    scaling_chart = figures.scaling_lines(model) if model.scaling else ""
    size_chart = figures.size_lines(model) if model.sizes else ""
    ladder_chart = figures.ladder_lines(model) if model.fits else ""
    return env.get_template("report.html.j2").render(
        title=title, model=model, workloads=workloads, charts=charts, phase_chart=phase_chart, curves=curves,
        scaling_chart=scaling_chart, size_chart=size_chart, ladder_chart=ladder_chart, presets=_presets(runs),
        ladder_rules=LADDER_RULES, sized_cases=_sized_cases(model),
        several_budgets=len({r.cpus for r in model.rows}) > 1,
        badges=BADGES, generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        metric_names=_metric_names(model), environment=_environment(runs), rules=RULES,
        bootstrap_min=BOOTSTRAP_MIN, noisy_share=NOISY_SHARE, csv_download=csv_download(runs), threshold=THRESHOLD,
        confirm_min=CONFIRM_MIN,
    )


def _sized_cases(model: ReportModel) -> set[tuple[str, str]]:
    """(workload, case) measured at several sizes of one scale and budget (a ladder): their rows name the size."""
    seen: dict[tuple[str, str, str, Any], set[Any]] = {}
    for r in model.rows:
        seen.setdefault((r.workload, r.case, r.scale, r.cpus), set()).add(r.size)
    return {(k[0], k[1]) for k, sizes in seen.items() if len(sizes) > 1}


def csv_download(runs: Sequence[Run]) -> dict[str, str]:
    """The report's data link: the CSV of `enginebench export` (harness/export.py) as base64 for a
    data: URL, and the file name a browser saves it under."""
    import base64

    from enginebench.results.export import to_csv

    name = runs[0].run_id if len(runs) == 1 else f"combined-{runs[-1].run_id}" if runs else "empty"
    return {"filename": f"enginebench-{name}.csv",
            "base64": base64.b64encode(to_csv(runs).encode("utf-8")).decode("ascii")}


def _presets(runs: Sequence[Run]) -> dict[str, Any]:
    """The repetition presets the runs used, by name (runs with hand-chosen counts have none)."""
    from enginebench.results.records import PRESETS

    return {r.header.plan.preset: PRESETS[r.header.plan.preset] for r in runs if r.header.plan.preset in PRESETS}


#: Shown right after a case's headline in the metrics table: the job's start inside the call.
BESIDE_HEADLINE = ("job_start_s",)


def _metric_names(model: ReportModel) -> dict[tuple[str, str], list[str]]:
    """Each case's metric names in the order the metrics table lists them: the headline, then
    `BESIDE_HEADLINE`, then the rest as the records name them."""
    names: dict[tuple[str, str], list[str]] = {}
    for r in model.records:
        key = (r.workload, r.case)
        first = [r.primary.get("name", ""), *BESIDE_HEADLINE]
        for m in sorted(r.metrics, key=lambda m: first.index(m) if m in first else len(first)):
            names.setdefault(key, [])
            if m not in names[key]:
                names[key].append(m)
    return names


def _environment(runs: Sequence[Run]) -> list[dict[str, Any]]:
    out = []
    for run in runs:
        h = run.header.to_dict()
        out.append({**h, "created": h["created_utc"], "budget": h["plan"]["budget"]})
    return out


def write_report(runs: Sequence[Run], path: Path, title: str = "enginebench report",
                 allow_noisy: bool = False, at: Mapping[str, float] | None = None) -> Path:
    """Render and write atomically; the parent directory is created."""
    from enginebench.core.files import atomic_write_text

    atomic_write_text(path, render(runs, title, allow_noisy, at))
    return path


def render_comparison(base: Run, new: Run, title: str = "enginebench comparison", threshold: float = THRESHOLD) -> str:
    """HTML table of a comparison (pure)."""
    from enginebench.report.compare import compare, differences

    return _templates().get_template("compare.html.j2").render(
        title=title, base=base.run_id, new=new.run_id, rows=compare(base, new, threshold), notes=differences(base, new),
        threshold=threshold, rules=RULES, bootstrap_min=BOOTSTRAP_MIN,
        min_repetition_s=MIN_REPETITION_S)
