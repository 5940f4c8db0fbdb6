"""Reading what older enginebench versions and pytest-benchmark wrote: each schema version's upgrade to the
next (`MIGRATIONS`, applied in turn by `records.load_run`) and a `--benchmark-json` document as a results
document. Plain dict -> dict functions: the schema's types live in `records`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from enginebench.core.errors import UsageError

#: Categories of the workloads that existed when files were schema version 1 (which did not store them).
_V1_CATEGORIES = {"tasks": "task parallelism", "etl": "structured ETL", "cnn": "deep learning"}


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """v2 moved the budget into the plan, typed the engine sessions and stored each record's category."""
    plan = dict(doc.get("plan") or {})
    plan.setdefault("budget", doc.pop("budget", None) or (doc["records"][0]["budget"] if doc["records"] else {}))
    plan.setdefault("cases", list(dict.fromkeys(r["case"] for r in doc["records"])))
    plan.setdefault("engines", list(dict.fromkeys(r["engine"] for r in doc["records"])))
    plan.setdefault("workload", doc["records"][0]["workload"] if doc["records"] else "")
    plan.setdefault("scale", doc["records"][0]["scale"] if doc["records"] else "tiny")
    for rec in doc["records"]:
        rec.setdefault("category", _V1_CATEGORIES.get(rec.get("workload", ""), rec.get("workload", "")))
        rec.setdefault("checks", 0)
    return {**doc, "plan": plan, "schema_version": 2}


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """v3 stores the headline of each repetition. Older records only have wall times: their samples
    are the headline scaled by each repetition's time (exact when the headline is work / wall time,
    an approximation otherwise), and the record says so in its notes."""
    for rec in doc["records"]:
        name, times = (rec.get("primary") or {}).get("name"), rec.get("timings_s") or []
        value, median = (rec.get("metrics") or {}).get(name), (rec.get("stats") or {}).get("median")
        if rec.get("status") != "ok" or value is None or not median or not times or "samples" in rec:
            continue
        higher = (rec.get("primary") or {}).get("higher_is_better", True)

        def scaled(t: float, v: float = value, m: float = median, h: bool = higher) -> float:
            return v * m / t if h else v * t / m

        rec["samples"] = [scaled(t) for t in times]
        rec["warmup_samples"] = [scaled(t) for t in rec.get("warmup_s") or []]
        rec.setdefault("notes", {})["samples"] = "derived from wall times (results schema 2)"
    return {**doc, "schema_version": 3}


def _v3_to_v4(doc: dict[str, Any]) -> dict[str, Any]:
    """v4 plans may hold several workloads: `cases` maps each workload to its cases. (v4 records also
    name their size parameter; older ones have none and stay out of size sweeps.)"""
    plan = dict(doc["plan"])
    plan["cases"] = {plan.pop("workload"): plan["cases"]}
    return {**doc, "plan": plan, "schema_version": 4}


def _v4_to_v5(doc: dict[str, Any]) -> dict[str, Any]:
    """v5 plans record where each workload came from (`sources`); every v4 workload was shipped, its files
    unhashed."""
    plan = {**doc["plan"], "sources": {w: {"kind": "shipped", "where": f"enginebench.workloads.{w}"}
                                       for w in doc["plan"].get("cases", {})}}
    return {**doc, "plan": plan, "schema_version": 5}


#: schema version N -> function upgrading a version-N document to N+1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4,
                                                                  4: _v4_to_v5}


def from_pytest_benchmark(doc: dict[str, Any], source: str, key: str, schema_version: int) -> dict[str, Any]:
    """A `--benchmark-json` document as a results document of `schema_version` (records from each benchmark's
    extra_info under `key`)."""
    records: list[dict[str, Any]] = []
    engines: dict[str, Any] = {}
    for bench in doc.get("benchmarks", []):
        extra = bench.get("extra_info", {}).get(key)
        if not extra:
            continue
        records.append(extra["record"])
        engines.setdefault(extra["record"]["engine"], extra.get("engine", {}))
    if not records:
        raise UsageError(f"{source} is a pytest-benchmark file without enginebench records "
                         "(accepted: JSON written by pytest benchmarks/ --benchmark-json=FILE)")
    mi, ci = doc.get("machine_info", {}), doc.get("commit_info", {})
    created = str(doc.get("datetime") or "")
    first = records[0]
    return {
        "schema_version": schema_version,
        "run_id": f"pytest-benchmark-{created[:19].replace(':', '').replace('-', '')}",
        "created_utc": created, "status": "complete", "source": "pytest-benchmark",
        "git": {"commit": ci.get("id"), "dirty": ci.get("dirty")},
        "machine": {"hostname": mi.get("node"), "cpu_model": (mi.get("cpu") or {}).get("brand_raw"),
                    "logical_cpus": (mi.get("cpu") or {}).get("count"), "os": mi.get("system")},
        "software": {"python": mi.get("python_version")},
        "plan": {"engines": list(engines), "scale": first["scale"],
                 "cases": {w: list(dict.fromkeys(r["case"] for r in records if r["workload"] == w))
                           for w in dict.fromkeys(r["workload"] for r in records)}, "repeat": first["repeat"],
                 "warmup": first["warmup"], "budget": first["budget"]},
        "engines": engines,
        "records": records,
    }
