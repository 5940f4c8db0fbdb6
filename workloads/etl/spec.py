"""The etl workload: TPC-H queries over parquet, a raw-text-to-parquet pipeline, and the RayDP hand-off.

Cases: q1 (scan + wide aggregation), q3 and q5 (multi-way joins), q6 (selective filter), q10
(high-cardinality group-by after a four-way join), each checked value by value against DuckDB's
published answers; `pipeline` (raw .tbl text with planted defects -> parsed, validated, joined,
aggregated, written as partitioned parquet; output checked row by row against a reference derived
from the clean tables); `spark-to-ray` (spark-on-ray only: the pipeline's Spark result handed to Ray
Data with ray.data.from_spark). The data set for a scale is generated once (DuckDB dbgen), cached
under ENGINEBENCH_DATA (default ./data) and verified; generation is the `inputs` phase, never part
of a case's time.
"""

from __future__ import annotations

import math
import os
import re
import statistics
from collections.abc import Sequence
from typing import Any

from enginebench import Case, Metric, Params, Timed, Verdict, Workload

SCALE_FACTORS = {"tiny": 0.01, "small": 0.1, "medium": 1.0, "large": 10.0}
#: The TPC-H queries measured, one case each (q<N>).
QUERIES = (1, 3, 5, 6, 10)
#: Tables each query reads (for input MB/s).
TABLES_READ = {
    1: ("lineitem",),
    3: ("customer", "orders", "lineitem"),
    5: ("customer", "orders", "lineitem", "supplier", "nation", "region"),
    6: ("lineitem",),
    10: ("customer", "orders", "lineitem", "nation"),
}


def prepare(params: Params) -> dict[str, Any]:
    """Data set on disk (generated if needed), the expected answer, and the input size."""
    from enginebench.workloads.etl import data

    directory, rows = data.ensure_tpch(params["sf"])
    query = params["query"]
    data.check_columns(directory, TABLES_READ[query])
    expected = data.official_answer(query, params["sf"])
    source = "published answer"
    if expected is None:  # scale factors without a published answer: DuckDB's own result is the reference
        con = data.connect()
        for table in data.TABLES:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{directory / table}/*.parquet')")
        df = con.execute(data.query_text(query)).fetchdf()
        for col in df.select_dtypes(include="datetime").columns:  # dates as the published answers write them
            df[col] = df[col].dt.strftime("%Y-%m-%d")
        expected = [{k: str(v) for k, v in r.items()} for r in df.to_dict("records")]
        source = "duckdb result"
    tables = TABLES_READ[query]
    nbytes = sum(f.stat().st_size for t in tables for f in (directory / t).glob("*.parquet"))
    return {"dir": str(directory), "rows": rows, "expected": expected, "source": source,
            "input_rows": sum(rows[t] for t in tables), "input_bytes": nbytes}


def table_path(inputs: dict[str, Any], table: str) -> str:
    return os.path.join(inputs["dir"], table)


def _same(got: Any, want: str) -> bool:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", want):  # a date: engines return date, Timestamp or text
        return str(got)[:10] == want
    try:
        w = float(want)
    except ValueError:
        return str(got).strip() == want.strip()
    try:
        return math.isclose(float(got), w, rel_tol=1e-9, abs_tol=1e-12)  # abs: exact zeros only
    except (TypeError, ValueError):
        return False


def check_answer(answer: Any, params: Params, inputs: Any, reference: Any = None) -> Verdict:
    """Row count, column names, then every value in order (numbers to 1e-9 relative)."""
    expected: list[dict[str, str]] = inputs["expected"]
    rows = list(answer)
    if len(rows) != len(expected):
        return Verdict(False, f"{len(rows)} rows, expected {len(expected)} ({inputs['source']})")
    for i, (got, want) in enumerate(zip(rows, expected, strict=True)):
        if set(got) != set(want):
            return Verdict(False, f"row {i}: columns {sorted(got)}, expected {sorted(want)}")
        for col, value in want.items():
            if not _same(got[col], value):
                return Verdict(False, f"row {i} {col}: got {got[col]!r}, expected {value} ({inputs['source']})")
    return Verdict(True)


def summarize(params: Params, inputs: Any, timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    median = statistics.median(t.seconds for t in timed)
    # The cold (first) run is the record's first warm-up time (warmup_s[0], shown as "cold" in
    # reports); figures here are warm.
    return {"seconds": median, "rows_per_s": inputs["input_rows"] / median,
            "input_mb_per_s": inputs["input_bytes"] / 2**20 / median}


def records(df: Any) -> list[dict[str, Any]]:
    """A pandas result as plain rows, the shape every implementation returns."""
    return [dict(r) for r in df.to_dict("records")]


def _query_case(query: int, description: str) -> Case:
    return Case(
        name=f"q{query}",
        description=description,
        params={scale: {"query": query, "sf": sf} for scale, sf in SCALE_FACTORS.items()},
        primary=Metric("seconds", "s", False),
        size_param="sf",
        size_unit="SF",
        make_inputs=prepare,
        check=check_answer,
        summarize=summarize,
    )


def _pipeline_case(name: str, description: str, **limits: Any) -> Case:
    from enginebench.workloads.etl import pipeline

    return Case(
        name=name,
        description=description,
        params={scale: {"sf": sf} for scale, sf in SCALE_FACTORS.items()},
        primary=Metric("seconds", "s", False),
        size_param="sf",
        size_unit="SF",
        make_inputs=pipeline.prepare,
        teardown=pipeline.teardown,
        check=pipeline.check,
        summarize=pipeline.summarize,
        **limits,
    )


WORKLOAD = Workload(
    name="etl",
    title="Structured ETL (TPC-H on parquet, raw-text pipeline)",
    category="structured ETL",
    package=__package__,
    cases=(
        _query_case(1, "TPC-H Q1: scan of lineitem, filter, group-by with eight aggregates"),
        _query_case(3, "TPC-H Q3: three-way join (customer, orders, lineitem), group-by, top 10"),
        _query_case(5, "TPC-H Q5: six-way join (region to lineitem), group-by nation"),
        _query_case(6, "TPC-H Q6: selective filter on lineitem, one sum"),
        _query_case(10, "TPC-H Q10: four-way join, group-by on customer (high cardinality), top 20"),
        _pipeline_case("pipeline", "Raw .tbl text with planted defects: parse, validate, join, aggregate per "
                                   "nation and month, write partitioned parquet (stages timed)"),
        _pipeline_case("spark-to-ray", "RayDP hand-off: Spark ingests and joins the raw tables, ray.data.from_spark "
                                       "moves the lines to Ray, Ray Data aggregates (spark-on-ray only)",
                       only=("spark-on-ray",),
                       only_reason="the RayDP hand-off from Spark to Ray Data needs Spark running on a Ray cluster "
                                   "(spark-on-ray only)"),
    ),
)
