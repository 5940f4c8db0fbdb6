"""The report's sections, each declared once, for the HTML page, the Markdown document and the docs alike.

`html.render`, `markdown.document` and the docs' generated blocks (`report.docs`) iterate SECTIONS, in
its order, and name no section themselves. A section shows the numbers `report.model` computed
(`report.content`), in the words of `report.verdicts`, as `report.figures` draws them and `report.tables`
sets them in Markdown.

How to add a section (say one named "memory"):

1. Numbers and words, where it needs new ones: a figure the model does not compute yet is a field of
   `ReportModel` (report/content.py) that `build_model` (report/model.py) fills, or a property of the
   model; a sentence that words it is a function in report/verdicts.py; a Markdown table that the
   document and a docs block share is a function in report/tables.py.
2. Its HTML, if it has some: templates/section-memory.html.j2, rendered with `section` (its entry: begin
   with `<h2 id="{{ section.name }}">{{ section.title }}</h2>`), `model`, `runs`, the filters and
   constants of `html._templates`, and the variables its entry's `html` function returns.
3. One `Section(...)` in SECTIONS below, at the place it is to appear: `name` ("memory": the HTML
   anchor and the template's name), `title` (the HTML heading, and `## title` above its Markdown),
   `shown` (whether a report has it; default always, e.g. only when the runs measured memory), `html`
   (source -> its template's variables, figures included; None: not on the HTML page), `markdown`
   (source -> its Markdown; None: not in the Markdown document) and `kinds` (the docs kinds that put
   parts of it in a page, `<!-- enginebench:generate KIND from=RESULTS.json ... -->`, each with the
   options a block of it must give).

Nothing else changes: report.html.j2, html.py, markdown.document and docs.py take it from SECTIONS.
(A section the page lacks leaves an empty slot, so the HTML of the others does not move.)

Not sections, on purpose: the head of each form (the HTML page's title, the runs it was made from, the
repetition presets and the CSV download; the Markdown document's title and its sentence naming the
results file). It frames every section, comes first, takes what no section has (the title, the link to
the results file) and is said differently in each form, so report.html.j2 and `markdown.document` write
it. The docs kinds that are no part of a report (`run`: what a run did, in sentences; `variants`: a
variant study's table) are in DOCS_ONLY.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from enginebench.report import figures, tables
from enginebench.report.content import ReportModel
from enginebench.report.verdicts import case_ladder_sentence, crossover_text, no_line
from enginebench.results.fit import RULES as LADDER_RULES
from enginebench.results.records import Record, Run


@dataclass(frozen=True)
class Source:
    """What every section is made from: the runs (one results file, or repeated runs of one plan) and
    the report model built from them."""

    runs: list[Run]
    model: ReportModel


#: A docs block's options as its opening comment gives them (`workloads=a,b`, `workload=W`, `case=C`,
#: `columns=x,@cpu`): name -> value.
Options = Mapping[str, str]


@dataclass(frozen=True)
class Kind:
    """A kind of generated block in the docs: `<!-- enginebench:generate NAME from=RESULTS.json ... -->`
    holds what `render` makes of the results file and the block's options, then the sentence naming the
    results file (`tables.provenance`): after a blank line, or in the same paragraph (`paragraph`)."""

    name: str
    render: Callable[[Source, Options], str]
    needs: tuple[str, ...] = ()  # the options a block of this kind must give
    paragraph: bool = False


def _always(source: Source) -> bool:
    return True


@dataclass(frozen=True)
class Section:
    """One section of the report in every form it takes (see the module's docstring)."""

    name: str
    title: str  # "": the section writes its own headings (the workloads: one per workload)
    shown: Callable[[Source], bool] = _always
    html: Callable[[Source], Mapping[str, Any]] | None = None
    markdown: Callable[[Source], str] | None = None
    kinds: tuple[Kind, ...] = ()

    @property
    def template(self) -> str:
        return f"section-{self.name}.html.j2"


def _parts(*texts: str) -> str:
    """Markdown blocks one after another, a blank line apart; empty ones left out."""
    return "\n\n".join(t for t in texts if t)


def _listed(options: Options, key: str) -> list[str] | None:
    """A comma-separated option as a list (None when the block does not give it)."""
    value = options.get(key)
    return [v for v in value.split(",") if v] if value else None


def _no_vars(source: Source) -> Mapping[str, Any]:
    return {}


# -- the sections' own pieces ---------------------------------------------------------------------

def _workload_html(source: Source) -> Mapping[str, Any]:
    """Per workload: the bars of its cases and the curves of its series. A series `<group>/<member>` (one
    curve per trial of a search) is drawn with its group, a panel per engine; a plain name is one figure
    with a curve per engine."""
    model = source.model
    workloads = list(dict.fromkeys(r.workload for r in model.rows))
    charts: dict[str, str] = {}
    curves: dict[str, dict[str, str]] = {}  # workload -> series name -> figure
    for wl in workloads:
        charts[wl] = figures.case_bars([r for r in model.rows if r.workload == wl], model.engines)
        recs = [r for r in model.records if r.workload == wl]
        for name in dict.fromkeys(n for r in recs if r.status == "ok" for n in r.series):
            group, grouped, member = name.partition("/")
            figure = f"{group} per {member.split()[0]}" if grouped else name  # "accuracy per trial"
            if not grouped:
                curves.setdefault(wl, {})[name] = figures.series_lines(recs, name, model.engines)
            elif figure not in curves.get(wl, {}):
                curves.setdefault(wl, {})[figure] = figures.series_panels(recs, group)
    return {"workloads": workloads, "charts": charts, "curves": curves, "metric_names": _metric_names(model)}


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


def _workload_markdown(source: Source) -> str:
    """Per workload a `## Workload W`, and per case a `### case` with its metrics table."""
    model = source.model
    parts: list[str] = []
    for workload in dict.fromkeys(r.workload for r in model.rows):
        parts.append(f"## Workload {workload}")
        for case in dict.fromkeys(r.case for r in model.rows if r.workload == workload):
            parts += [f"### {case}", tables.metrics(model, workload, case, ())]
    return _parts(*parts)


def _ladder_html(source: Source) -> Mapping[str, Any]:
    model = source.model
    return {"chart": figures.ladder_lines(model), "ladder_rules": LADDER_RULES,
            "sentences": {key: case_ladder_sentence(model, key) + no_line(model, key) for key in model.ladders}}


def _ladder_markdown(source: Source) -> str:
    model = source.model
    return _parts(tables.ladder(model), *(("## At your size", tables.asked(model)) if model.asked else ()))


def _environment(source: Source) -> Mapping[str, Any]:
    out = []
    for run in source.runs:
        h = run.header.to_dict()
        out.append({**h, "created": h["created_utc"], "budget": h["plan"]["budget"],
                    "splits": tables.version_splits(run)})
    return {"environment": out}


def _records(source: Source) -> list[Record]:
    return [r for run in source.runs for r in run.records]


# -- the registry ---------------------------------------------------------------------------------

SECTIONS: tuple[Section, ...] = (
    Section("matrix", "Engine fit", html=_no_vars,
            markdown=lambda s: _parts(tables.verdicts(s.model), tables.matrix(s.model)),
            kinds=(Kind("matrix", lambda s, o: tables.matrix(s.model, _listed(o, "workloads"))),
                   Kind("verdicts", lambda s, o: tables.verdicts(s.model, _listed(o, "workloads"))),
                   Kind("spread", lambda s, o: tables.spread(s.model, _listed(o, "workloads"))))),
    Section("workloads", "", html=_workload_html, markdown=_workload_markdown,
            kinds=(Kind("metrics", lambda s, o: tables.metrics(s.model, o["workload"], o["case"],
                                                                 _listed(o, "columns") or ()),
                        needs=("workload", "case")),)),
    Section("scaling", "Scaling", shown=lambda s: bool(s.model.scaling),
            html=lambda s: {"chart": figures.scaling_lines(s.model)}),
    Section("sizes", "Data size", shown=lambda s: bool(s.model.sizes),
            html=lambda s: {"chart": figures.size_lines(s.model),
                            "flips": [(x, crossover_text(x)) for x in s.model.crossovers]}),
    Section("ladder", "Size ladder", shown=lambda s: bool(s.model.fits), html=_ladder_html, markdown=_ladder_markdown,
            kinds=(Kind("ladder", lambda s, o: tables.ladder(s.model, o.get("workload"), o.get("case"))),)),
    Section("phases", "Where the time goes", shown=lambda s: bool(s.model.phases),
            html=lambda s: {"chart": figures.phase_stack(s.model)}),
    Section("starts", "Engine start", markdown=lambda s: tables.engine_starts(s.runs),
            kinds=(Kind("starts", lambda s, o: tables.engine_starts(s.runs)),)),
    Section("failures", "Failures and gaps", html=_no_vars, markdown=lambda s: tables.failures(s.model),
            kinds=(Kind("failures", lambda s, o: tables.failures(s.model, _listed(o, "workloads"))),)),
    Section("environment", "Environment", html=_environment),
    Section("method", "Methodology", html=_no_vars),
)

#: Docs kinds that are no section of a report.
DOCS_ONLY: tuple[Kind, ...] = (
    Kind("run", lambda s, o: tables.summary(s.runs), paragraph=True),
    Kind("variants", lambda s, o: tables.variants(_records(s), o.get("workload"), o.get("case"))),
    Kind("releases", lambda s, o: tables.releases(s.runs)),
    Kind("predictions", lambda s, o: tables.predictions(s.runs, o.get("workload"))),
    Kind("guide", lambda s, o: _guide(s, o)),
)


def _guide(source: Source, options: Options) -> str:
    from enginebench.report.guide import guide

    return guide(source.model, source.runs, options)



def kinds() -> dict[str, Kind]:
    """Every docs kind by name: the sections' (in SECTIONS' order), then DOCS_ONLY."""
    return {k.name: k for k in (*(k for s in SECTIONS for k in s.kinds), *DOCS_ONLY)}

