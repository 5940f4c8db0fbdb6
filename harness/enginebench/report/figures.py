"""Figure data -> inline SVG strings with matplotlib (Agg). Drawing only: numbers come from model.py."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from enginebench.core.fmt import size_label
from enginebench.report.content import ReportModel, Row

PHASE_COLOURS = {"engine start": "#b07aa1", "inputs": "#76b7b2", "run": "#4e79a7", "check": "#edc948"}


def _palette(engines: Sequence[str]) -> dict[str, str]:
    base = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"]
    return {e: base[i % len(base)] for i, e in enumerate(engines)}


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif"})
    return plt


def _panels(count: int, height: float) -> tuple[Any, list[Any]]:
    """A figure of `count` panels, three to a row, each `height` inches tall; the panels left over in
    the last row are switched off."""
    plt = _pyplot()
    cols = min(3, count)
    nrows = (count + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, height * nrows), squeeze=False)
    for ax in list(axes.flat)[count:]:
        ax.axis("off")
    return fig, list(axes.flat)[:count]


def _ylabel(row: Row) -> str:
    return f"{row.unit} ({'higher' if row.higher_is_better else 'lower'} is better)"


def case_bars(rows: Sequence[Row], engines: Sequence[str]) -> str:
    """One panel per case: the headline figure per engine, whiskers from the slowest to the fastest
    repetition; failed or unsupported engines are labelled on the axis instead of drawn."""
    colours = _palette(engines)
    fig, axes = _panels(len(rows), 2.6)
    for ax, row in zip(axes, rows, strict=True):
        labels, values, lows, highs, colors = [], [], [], [], []
        for cell in row.cells:
            if cell.status == "absent":
                continue
            labels.append(cell.engine if cell.value is not None else f"{cell.engine}\n({cell.status})")
            values.append(cell.value or 0.0)
            lo = cell.low if cell.low is not None else cell.value
            hi = cell.high if cell.high is not None else cell.value
            lows.append(max(0.0, (cell.value or 0.0) - (lo or 0.0)))
            highs.append(max(0.0, (hi or 0.0) - (cell.value or 0.0)))
            colors.append(colours[cell.engine])
        xs = range(len(labels))
        ax.bar(xs, values, color=colors, yerr=[lows, highs], capsize=3, ecolor="#333")
        ax.set_xticks(list(xs), labels, rotation=30, ha="right")
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) > 50:
            ax.set_yscale("log")
        ax.set_title(f"{row.case} ({row.scale})", fontsize=10)
        ax.set_ylabel(_ylabel(row))
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def phase_stack(model: ReportModel) -> str:
    """Seconds spent per engine in each phase: engine start, inputs, timed runs, checks."""
    plt = _pyplot()
    engines = [e for e in model.engines if e in model.phases]
    fig, ax = plt.subplots(figsize=(7, 1.4 + 0.45 * max(1, len(engines))))
    left = [0.0] * len(engines)
    for phase, colour in PHASE_COLOURS.items():
        widths = [model.phases[e].get(phase, 0.0) for e in engines]
        ax.barh(engines, widths, left=left, color=colour, label=phase)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlabel("seconds (engine start once per run; run = all timed repetitions)")
    ax.invert_yaxis()
    ax.legend(ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def scaling_lines(model: ReportModel) -> str:
    """One panel per case run at several CPU budgets: headline figure against CPUs, a line per engine."""
    colours = _palette(model.engines)
    keys = list(model.scaling)
    fig, axes = _panels(len(keys), 2.6)
    units = {(r.workload, r.case, r.scale): r for r in model.rows}
    for ax, key in zip(axes, keys, strict=True):
        for engine, points in model.scaling[key].items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", color=colours[engine], label=engine)
        row = units[key]
        ax.set_title(f"{key[1]} ({key[2]})", fontsize=10)
        ax.set_xlabel("CPUs per engine")
        ax.set_ylabel(_ylabel(row))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _svg(fig)


def size_lines(model: ReportModel) -> str:
    """One panel per case run at several input sizes: headline figure against size on log-log axes,
    a line per engine (the baseline dashed), crossovers marked between the two sizes."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    colours = _palette(model.engines)
    keys = list(model.sizes)
    fig, axes = _panels(len(keys), 2.7)
    units = {(r.workload, r.case, r.cpus): r for r in model.rows}
    for ax, key in zip(axes, keys, strict=True):
        for engine, points in model.sizes[key].items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", color=colours[engine], label=engine,
                    linestyle="--" if engine in model.baselines else "-")
        for x in model.crossovers:
            if (x.workload, x.case, x.cpus) == key:
                ax.axvspan(x.before, x.after, color="#f2c14e", alpha=0.15, linewidth=0)
        row = units[key]
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers at 1, 2 and 5 per decade: readable on short spans
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_tick_params(which="minor", labelsize=7)
        ax.set_title(f"{key[0]} {key[1]}" + (f" ({key[2]} CPUs)" if key[2] else ""), fontsize=10)
        ax.set_xlabel(size_label(model.size_params.get(key, "size")))
        ax.set_ylabel(_ylabel(row))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _svg(fig)


def ladder_lines(model: ReportModel) -> str:
    """One panel per laddered case: every timed repetition's wall seconds against the size (dots),
    each rung's median (circles) and the fitted line over the sizes measured, a colour per engine
    (the baseline dashed); linear axes, so a straight line is what the fit claims."""
    colours = _palette(model.engines)
    ladders = model.ladders
    fig, axes = _panels(len(ladders), 2.8)
    for ax, (key, lines) in zip(axes, ladders.items(), strict=True):
        for f in lines:
            colour = colours.get(f.engine, "#333")
            recs = [r for r in model.records if (r.workload, r.case, r.budget.get("cpus"), r.engine) ==
                    (f.workload, f.case, f.cpus, f.engine) and r.status == "ok" and r.size is not None]
            xs = [r.size for r in recs for _ in r.timings_s]
            ys = [t for r in recs for t in r.timings_s]
            ax.scatter(xs, ys, s=6, color=colour, alpha=0.5)
            ax.plot(f.sizes, f.medians, "o", markersize=4, color=colour)
            ends = [f.sizes[0], f.sizes[-1]]
            ax.plot(ends, [f.fixed.value + f.per_unit.value * x for x in ends], color=colour, label=f.engine,
                    linestyle="--" if f.baseline else "-", linewidth=1.2)
        ax.set_title(f"{key[0]} {key[1]}" + (f" ({key[2]} CPUs)" if key[2] else ""), fontsize=10)
        ax.set_xlabel(size_label(lines[0].param))
        ax.set_ylabel("seconds per call")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _svg(fig)


def series_panels(records: Sequence[Any], group: str) -> str:
    """A panel per record (engine, case, scale) with a line per member of a series group: the series
    named `<group>/<member>` (e.g. every trial's accuracy in a hyperparameter search, `accuracy/trial
    03`); a line that ends early is a member stopped early. Only records checked right are drawn."""
    shown = [r for r in records if r.status == "ok" and any(n.startswith(group + "/") for n in r.series)]
    fig, axes = _panels(len(shown), 2.8)
    for ax, rec in zip(axes, shown, strict=True):
        members = sorted(n for n in rec.series if n.startswith(group + "/"))
        for i, name in enumerate(members):
            xs, ys = zip(*rec.series[name], strict=True)
            ax.plot(xs, ys, marker=".", markersize=3, linewidth=1, color=_TRACES[i % len(_TRACES)])
        ax.set_title(f"{rec.engine} ({rec.case}, {rec.scale}): {len(members)} lines", fontsize=10)
        ax.set_xlabel("wall time (s)")
        ax.set_ylabel(group.replace("_", " "))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


#: Line colours of a panel's members (matplotlib's tab20, so neighbours differ).
_TRACES = ["#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd",
           "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d",
           "#17becf", "#9edae5"]


def series_lines(records: Sequence[Any], name: str, engines: Sequence[str]) -> str:
    """A curve per engine (e.g. test accuracy against wall time; a name "Y vs X" is Y against X), from records'
    `series[name]`;
    only records whose answer was checked right are drawn."""
    plt = _pyplot()
    colours = _palette(engines)
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for rec in records:
        points = rec.series.get(name)
        if rec.status != "ok" or not points:
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker=".", color=colours.get(rec.engine, "#333"), label=f"{rec.engine} ({rec.case})")
    # A name "Y vs X" names both axes (a latency-throughput curve); any other is drawn against wall time.
    y_label, _, x_label = name.partition(" vs ")
    ax.set_xlabel(x_label or "wall time (s)")
    ax.set_ylabel(y_label.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _svg(fig)
