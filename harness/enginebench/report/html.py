"""ReportModel -> one self-contained HTML page (CSS inline, SVG figures inline, no scripts or fonts).

The page is its head (report.html.j2) and then every section of `report.sections.SECTIONS` that has HTML,
each from its own template under templates/sections/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from enginebench.core.budget import format_bytes
from enginebench.core.fmt import fmt_factor, fmt_seconds, fmt_size, format_metric, format_seconds
from enginebench.core.stats import BOOTSTRAP_MIN, MIN_REPETITION_S, RULES, THRESHOLD
from enginebench.report import sections
from enginebench.report.content import CONFIRM_MIN, Ask
from enginebench.report.model import build_model
from enginebench.report.noise import NOISY_SHARE
from enginebench.report.sections import Section, Source
from enginebench.report.verdicts import fmt_ratio
from enginebench.results.cost import call_cost, core_seconds, fmt_core_seconds, fmt_money
from enginebench.results.fit import EXTRAPOLATION_CAP
from enginebench.results.records import FAILED, Run

TEMPLATES = Path(__file__).with_name("templates")
BADGES = {"ok": "checked", "wrong": "WRONG", "error": "error", "timeout": "timeout",
          "unsupported": "n/a", "skipped": "skipped", "absent": "not run"}


def _templates() -> Any:
    """A jinja2 environment over our templates: every string autoescaped, unknown names an error; the
    filters and constants every section's template may use."""
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
    env.globals.update(core_seconds=core_seconds, call_cost=call_cost)
    env.filters["core_s"] = fmt_core_seconds
    env.filters["money"] = fmt_money
    env.filters["ratio"] = fmt_ratio
    env.globals.update(badges=BADGES, failed=FAILED, rules=RULES, threshold=THRESHOLD, bootstrap_min=BOOTSTRAP_MIN,
                       noisy_share=NOISY_SHARE, confirm_min=CONFIRM_MIN)
    return env


def render(runs: Sequence[Run], title: str = "enginebench report", allow_noisy: bool = False,
           ask: Ask | None = None) -> str:
    """The HTML text of a report over `runs` (pure: reads nothing, writes nothing); `ask`: sizes to
    predict each laddered case at, a price, reference ladders (`content.Ask`)."""
    source = Source(list(runs), build_model(runs, allow_noisy, ask))
    env = _templates()
    # A section this report lacks keeps its slot (a blank line), as when one template held every section.
    parts = [section_html(env, s, source) if s.shown(source) else "" for s in sections.SECTIONS if s.html is not None]
    return env.get_template("report.html.j2").render(
        title=title, runs=source.runs, sections=parts, presets=_presets(runs), csv_download=csv_download(runs),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def section_html(env: Any, section: Section, source: Source) -> str:
    """One section's HTML, from its template and the variables its entry gives (`Section.html`)."""
    assert section.html is not None
    return str(env.get_template(section.template).render(section=section, model=source.model, runs=source.runs,
                                                          **section.html(source)))


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
    from enginebench.plan.plan import PRESETS

    return {r.header.plan.preset: PRESETS[r.header.plan.preset] for r in runs if r.header.plan.preset in PRESETS}


def write_report(runs: Sequence[Run], path: Path, title: str = "enginebench report",
                 allow_noisy: bool = False, ask: Ask | None = None) -> Path:
    """Render and write atomically; the parent directory is created."""
    from enginebench.core.files import atomic_write_text

    atomic_write_text(path, render(runs, title, allow_noisy, ask))
    return path


def render_comparison(base: Run, new: Run, title: str = "enginebench comparison", threshold: float = THRESHOLD) -> str:
    """HTML table of a comparison (pure)."""
    from enginebench.report.compare import compare, differences

    return _templates().get_template("compare.html.j2").render(
        title=title, base=base.run_id, new=new.run_id, rows=compare(base, new, threshold), notes=differences(base, new),
        threshold=threshold, rules=RULES, bootstrap_min=BOOTSTRAP_MIN,
        min_repetition_s=MIN_REPETITION_S)
