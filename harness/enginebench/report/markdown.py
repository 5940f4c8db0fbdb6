"""The report as one Markdown document (`enginebench report --format markdown`): its title and the
sentence naming its results, then the Markdown of every section of `report.sections.SECTIONS` that has
some, each under its `## title`.

The tables themselves are `report.tables`' (the docs' generated blocks are made by the same functions);
they are re-exported here under the names they have always had here (`markdown.matrix` is `tables.matrix`).
"""

from __future__ import annotations

from collections.abc import Sequence

from enginebench.report import sections
from enginebench.report.content import Ask
from enginebench.report.model import build_model
from enginebench.report.sections import Source
from enginebench.report.tables import (
    asked,
    cell_text,
    engine_starts,
    failures,
    ladder,
    matrix,
    metrics,
    provenance,
    spread,
    summary,
    table,
    variants,
    verdicts,
)
from enginebench.results.records import Run

__all__ = ["document", "asked", "cell_text", "engine_starts", "failures", "ladder", "matrix", "metrics",
           "provenance", "spread", "summary", "table", "variants", "verdicts"]


def document(runs: Sequence[Run], title: str = "enginebench report", source: str = "results",
             allow_noisy: bool = False, ask: Ask | None = None) -> str:
    """The whole report as one Markdown document: its title and provenance, then every section of
    `report.sections.SECTIONS` that has Markdown (verdicts and matrix, each case's figures, the size
    ladder and the sizes asked, engine starts, failures), each under `## title`."""
    made = Source(list(runs), build_model(runs, allow_noisy, ask))
    parts: list[str] = [f"# {title}", provenance(runs, source)]
    for section in sections.SECTIONS:
        if section.markdown is not None and section.shown(made):
            parts += [f"## {section.title}" if section.title else "", section.markdown(made)]
    return "\n\n".join(p for p in parts if p) + "\n"
