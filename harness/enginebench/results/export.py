"""Results files -> CSV: one row per record and metric, for spreadsheets, pandas and R.

`enginebench export RESULTS... --csv FILE` writes it; the HTML report embeds the same text as a
download link. Pure: builds text, reads and writes nothing.

Format (Python's `csv` module, excel dialect: comma-separated, fields quoted where needed, UTF-8,
one header row with COLUMNS in this order; lines end in LF rather than RFC 4180's CRLF, so
line-based tools see no stray CR, and CSV readers accept both):

* One row per metric in the record's `metrics`, the headline (`primary`) first, then the others
  in the record's order. A record without metrics (wrong, error, timeout, unsupported, skipped)
  still gets exactly one row, with `metric` and `value` empty, so every record appears. Records
  appear run by run, in file order (no record replaces another: `run_id` tells them apart).
* run_id, git_commit: from the run's header. workload, case, engine, api, scale, status, reason,
  started_utc: the record's own. cpus, memory_bytes: the record's budget.
* metric, value: the metric's name and the record's value for it (the case's summary, computed
  from the median repetition).
* unit, higher_is_better (yes/no): known for the headline only (`primary`); records carry no unit or
  direction for the other derived metrics, so those rows leave both empty.
* headline: yes on the row of the record's primary metric, no on every other row.
* median, iqr, samples: on the headline row only. median is the median of the headline samples (one
  per timed repetition; the report's figure), or the summary value when the record has no samples;
  iqr is the interquartile range of the samples (inclusive quartiles, as the record's timing stats),
  empty without samples; samples lists them, ';'-joined. Records hold no per-repetition values for
  other metrics, so their median and iqr are empty.
* repetitions: the record's number of timed repetitions (len(timings_s)), on every row.
* versions: the engine's package versions from the run header (`engines[engine].versions`), as
  `pkg=ver;pkg=ver`.

Numbers are written with repr precision, so float(text) == the stored value exactly (inf and nan
included). Text is written as recorded: a spreadsheet may treat a reason starting with `=` as a
formula.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enginebench.results.records import Header, Record, Run

COLUMNS: tuple[str, ...] = (
    "run_id", "workload", "case", "engine", "api", "scale", "cpus", "memory_bytes", "status", "reason",
    "metric", "value", "unit", "higher_is_better", "headline", "median", "iqr", "repetitions", "samples",
    "versions", "started_utc", "git_commit",
)


def number(value: Any) -> str:
    """A number as text that reads back exactly: ints as ints, floats by repr; None as empty."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _versions(header: Header, engine: str) -> str:
    session = header.engines.get(engine)
    versions: Mapping[str, str] = session.versions if session is not None else {}
    return ";".join(f"{pkg}={ver}" for pkg, ver in versions.items())


def record_rows(record: Record, header: Header) -> list[dict[str, str]]:
    """The rows of one record (at least one; see the module's docstring)."""
    from enginebench.core.stats import describe

    common = {
        "run_id": header.run_id, "workload": record.workload, "case": record.case, "engine": record.engine,
        "api": record.api, "scale": record.scale, "cpus": number(record.budget.get("cpus")),
        "memory_bytes": number(record.budget.get("memory_bytes")), "status": record.status.value,
        "reason": record.reason, "repetitions": str(len(record.timings_s)),
        "versions": _versions(header, record.engine), "started_utc": record.started_utc,
        "git_commit": str(header.git.get("commit") or ""),
    }
    empty = dict.fromkeys(COLUMNS, "")
    headline = record.metric
    names = [headline] if headline and (headline in record.metrics or record.samples) else []
    names += [name for name in record.metrics if name != headline]
    if not names:
        return [{**empty, **common, "headline": "no"}]
    rows = []
    for name in names:
        row = {**empty, **common, "metric": name, "value": number(record.metrics.get(name)),
               "headline": _yes(name == headline)}
        if name == headline:
            row.update(unit=str(record.primary.get("unit", "")), higher_is_better=_yes(record.higher_is_better),
                       median=number(record.headline), iqr=number(describe(record.samples).get("iqr")),
                       samples=";".join(number(x) for x in record.samples))
        rows.append(row)
    return rows


def csv_rows(runs: Sequence[Run]) -> list[dict[str, str]]:
    """Every record of every run as rows keyed by COLUMNS, run by run, in file order."""
    return [row for run in runs for record in run.records for row in record_rows(record, run.header)]


def to_csv(runs: Sequence[Run]) -> str:
    """The CSV text (header row + csv_rows) that `export` writes and the report embeds."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(runs))
    return buffer.getvalue()


def read_csv(text: str) -> list[dict[str, str]]:
    """Rows of a CSV written by to_csv; ValueError when its header is not COLUMNS."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"not an enginebench export (columns {reader.fieldnames!r}, expected {list(COLUMNS)!r})")
    return list(reader)
