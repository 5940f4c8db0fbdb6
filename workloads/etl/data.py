"""TPC-H data, generated offline with DuckDB's dbgen (the tpch extension loaded by path from the
duckdb-extension-tpch package), written as parquet split into several files per table, cached by
scale factor, and verified by row counts before use."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from enginebench import data_root, replace_dir_atomically

TABLES = ("lineitem", "orders", "customer", "part", "partsupp", "supplier", "nation", "region")
#: Rows per parquet file: big tables are split so engines can read them in parallel.
ROWS_PER_FILE = 150_000
MIN_FILES_BIG_TABLE = 4
DUCKDB_VERSION = "1.5.5"


def connect() -> Any:
    """A DuckDB connection with the tpch extension loaded from the pip package (no download)."""
    import duckdb
    import duckdb_extension_tpch

    ext = Path(duckdb_extension_tpch.__file__).parent / "extensions" / f"v{DUCKDB_VERSION}" / "tpch.duckdb_extension"
    if not ext.exists():
        raise RuntimeError(f"tpch extension not found at {ext}: pip install 'duckdb-extension-tpch=={DUCKDB_VERSION}'")
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    return con


def sf_dir(sf: float, root: Path | None = None) -> Path:
    return (root or data_root()) / "tpch" / f"sf{sf:g}" / "parquet"


def _verify(directory: Path) -> dict[str, int] | None:
    """Row counts from the manifest if every file is present and its parquet footer agrees."""
    import pyarrow.parquet as pq

    manifest = directory / "manifest.json"
    if not manifest.exists():
        return None
    try:
        expected: dict[str, int] = json.loads(manifest.read_text())["rows"]
        for table, rows in expected.items():
            files = sorted((directory / table).glob("*.parquet"))
            if not files or sum(pq.ParquetFile(f).metadata.num_rows for f in files) != rows:
                return None
    except (OSError, ValueError, KeyError):
        return None
    return expected


def ensure_tpch(sf: float, root: Path | None = None) -> tuple[Path, dict[str, int]]:
    """The parquet directory for scale factor `sf`, generated if missing or corrupt; and row counts.

    Decimal columns are written as DOUBLE (what pandas, Dask and Ray Data compute with natively);
    dates stay DATE. Written to a temporary directory and renamed, so a crash never leaves a
    half-written data set that looks complete.
    """
    directory = sf_dir(sf, root)
    rows = _verify(directory)
    if rows is not None:
        return directory, rows
    rows = {}

    def build(tmp: Path) -> None:
        con = connect()
        try:
            con.execute(f"CALL dbgen(sf={sf})")
            for table in TABLES:
                cols = con.execute(f"DESCRIBE {table}").fetchall()
                select = ", ".join(f"CAST({c[0]} AS DOUBLE) AS {c[0]}" if str(c[1]).startswith("DECIMAL") else c[0]
                                   for c in cols)
                rows[table] = _write_split(con, f"SELECT {select} FROM {table}", tmp / table, "parquet",
                                           "FORMAT parquet")
        finally:
            con.close()
        (tmp / "manifest.json").write_text(json.dumps({"sf": sf, "rows": rows,
                                                       "generator": f"duckdb {DUCKDB_VERSION}"}))

    replace_dir_atomically(directory, build)
    return directory, rows


def _write_split(con: Any, select: str, target: Path, suffix: str, options: str) -> int:
    """Write a query's rows into `target`/part-NNN.<suffix>, split into several files for a big table
    (so engines read in parallel); returns the row count. `select` must have a stable row order
    (a table scan), since each file is one LIMIT/OFFSET slice of it."""
    n = int(con.execute(f"SELECT count(*) FROM ({select})").fetchone()[0])
    files = max(MIN_FILES_BIG_TABLE, math.ceil(n / ROWS_PER_FILE)) if n > ROWS_PER_FILE // 10 else 1
    target.mkdir()
    per = math.ceil(n / files)
    for i in range(files):
        con.execute(f"COPY ({select} LIMIT {per} OFFSET {i * per}) TO '{target / f'part-{i:03d}.{suffix}'}' "
                    f"({options})")
    return n


def check_columns(directory: Path, tables: tuple[str, ...]) -> None:
    """Raise ValueError naming the file when a table's parquet lacks a TPC-H column (footers only).

    The manifest check (row counts) rebuilds a truncated data set; a file with the right row count
    but a missing column is someone's edit or a foreign file, and is reported, not overwritten."""
    import pyarrow.parquet as pq

    con = connect()
    try:
        con.execute("CALL dbgen(sf=0)")
        for table in tables:
            expected = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
            for f in sorted((directory / table).glob("*.parquet")):
                have = set(pq.read_schema(f).names)
                missing = [c for c in expected if c not in have]
                if missing:
                    raise ValueError(f"{table}: {f} lacks column(s) {', '.join(missing)} "
                                     f"(expected the TPC-H columns {', '.join(expected)})")
    finally:
        con.close()


def official_answer(query: int, sf: float) -> list[dict[str, str]] | None:
    """DuckDB's published answer rows for a query at SF 0.01, 0.1 or 1 (None at other scales)."""
    con = connect()
    found = con.execute("SELECT answer FROM tpch_answers() WHERE query_nr = ? AND scale_factor = ?",
                        [query, sf]).fetchall()
    con.close()
    if not found:
        return None
    lines = [line for line in found[0][0].strip().splitlines() if line]
    header = lines[0].split("|")
    return [dict(zip(header, line.split("|"), strict=True)) for line in lines[1:]]


def query_text(query: int) -> str:
    con = connect()
    text: str = con.execute("SELECT query FROM tpch_queries() WHERE query_nr = ?", [query]).fetchall()[0][0]
    con.close()
    return text


# -- raw text tables for the ingest pipeline --------------------------------------------------------

#: The tables the pipeline reads as raw text, and their full dbgen column lists (the .tbl layout).
RAW_TABLES = ("lineitem", "orders", "customer", "nation")
#: Planted defects. Row selection is a pure function of the keys, so the clean reference answer can
#: be computed from the parquet tables (see `planted_filters`) without parsing the text.
BAD_DATES = ("1996-02-30", "1996-13-01", "unknown")
BAD_NUMBERS = ("n/a", "1,205.50", "12O5.00")
LINEITEM_MOD, ORDERS_MOD, DUP_MOD = 997, 1009, 2003
_LI_KEY = f"((l_orderkey * 31 + l_linenumber) % {LINEITEM_MOD})"


def planted_filters() -> dict[str, dict[str, str]]:
    """SQL predicates (over the clean tables) selecting each planted defect, per table."""
    return {
        "lineitem": {"bad_date": f"{_LI_KEY} = 0", "bad_number": f"{_LI_KEY} = 1"},
        "orders": {"bad_date": f"o_orderkey % {ORDERS_MOD} = 3",
                   "duplicate_key": f"o_orderkey % {DUP_MOD} = 5 AND o_orderkey % {ORDERS_MOD} <> 3"},
    }


def raw_dir(sf: float, root: Path | None = None) -> Path:
    return (root or data_root()) / "tpch" / f"sf{sf:g}" / "tbl"


def _text(column: str, type_: str) -> str:
    """A column as dbgen prints it: decimals with two places, dates as YYYY-MM-DD."""
    if type_ == "DOUBLE":
        return f"printf('%.2f', {column})"
    if type_ == "DATE":
        return f"strftime({column}, '%Y-%m-%d')"
    return f"CAST({column} AS VARCHAR)"


def _raw_select(con: Any, table: str, source: str) -> str:
    """SELECT producing one text line per row ('a|b|c|', dbgen's trailing bar), defects planted."""
    cols = [(c[0], str(c[1])) for c in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    fields = {name: _text(name, type_) for name, type_ in cols}
    plant = planted_filters()
    if table == "lineitem":
        fields["l_shipdate"] = (f"CASE WHEN {plant['lineitem']['bad_date']} THEN "
                                f"{_pick(BAD_DATES, 'l_linenumber')} ELSE {fields['l_shipdate']} END")
        fields["l_extendedprice"] = (f"CASE WHEN {plant['lineitem']['bad_number']} THEN "
                                     f"{_pick(BAD_NUMBERS, 'l_linenumber')} ELSE {fields['l_extendedprice']} END")
    if table == "orders":
        fields["o_orderdate"] = (f"CASE WHEN {plant['orders']['bad_date']} THEN "
                                 f"{_pick(BAD_DATES, 'o_orderkey')} ELSE {fields['o_orderdate']} END")
    line = "concat_ws('|', " + ", ".join(fields[name] for name, _ in cols) + ") || '|'"
    select = f"SELECT {line} AS line FROM {source}"
    if table == "orders":  # a conflicting second row for some keys (another total price), at the end
        dup = dict(fields, o_totalprice="printf('%.2f', o_totalprice + 1)")
        dup_line = "concat_ws('|', " + ", ".join(dup[name] for name, _ in cols) + ") || '|'"
        select += f" UNION ALL SELECT {dup_line} FROM {source} WHERE {plant['orders']['duplicate_key']}"
    return select


def _pick(values: tuple[str, ...], key: str) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + f"][({key} % {len(values)}) + 1]"


def ensure_raw(sf: float, root: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Raw pipe-delimited text tables ('.tbl', like dbgen's) for scale factor `sf`, made from the
    parquet tables with defects planted; cached and verified by line counts like the parquet set.

    Returns the directory and its manifest: lines per table and the planted defect counts
    ({"lineitem": {"bad_date": n, "bad_number": m}, "orders": {"bad_date": k, "duplicate_key": d}}).
    A duplicated order key is ambiguous, so both of its rows are malformed: 2 x d rows.
    """
    parquet, _ = ensure_tpch(sf, root)
    directory = raw_dir(sf, root)
    manifest = _verify_raw(directory)
    if manifest is not None:
        return directory, manifest
    manifest = {"sf": sf, "lines": {}, "planted": {}, "generator": f"duckdb {DUCKDB_VERSION}"}

    def build(tmp: Path) -> None:
        con = connect()
        try:
            for table in RAW_TABLES:
                source = f"read_parquet('{parquet / table}/*.parquet')"
                # Materialized once: LIMIT/OFFSET slices of a table scan keep insertion order (no row
                # lands in two files or none), which slices of a UNION ALL query would not promise.
                con.execute(f"CREATE OR REPLACE TABLE raw AS {_raw_select(con, table, source)}")
                manifest["lines"][table] = _write_split(
                    con, "SELECT line FROM raw", tmp / table, "tbl",
                    "FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t'")
                for kind, predicate in planted_filters().get(table, {}).items():
                    manifest["planted"].setdefault(table, {})[kind] = int(
                        con.execute(f"SELECT count(*) FROM {source} WHERE {predicate}").fetchone()[0])
        finally:
            con.close()
        (tmp / "manifest.json").write_text(json.dumps(manifest))

    replace_dir_atomically(directory, build)
    return directory, manifest


def malformed_rows(planted: dict[str, dict[str, int]]) -> dict[str, int]:
    """Rows a correct pipeline drops per table: one per planted bad value, two per duplicated key."""
    return {table: sum(2 * n if kind == "duplicate_key" else n for kind, n in kinds.items())
            for table, kinds in planted.items()}


def _verify_raw(directory: Path) -> dict[str, Any] | None:
    """The manifest if every table's files are present with the recorded number of lines."""
    try:
        manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
        for table, n in manifest["lines"].items():
            files = sorted((directory / table).glob("*.tbl"))
            if not files or sum(_count_lines(f) for f in files) != n:
                return None
    except (OSError, ValueError, KeyError):
        return None
    return manifest


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
