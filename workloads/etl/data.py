"""TPC-H data, generated offline with DuckDB's dbgen (the tpch extension loaded by path from the
duckdb-extension-tpch package), written as parquet split into several files per table, cached by
scale factor, and verified by row counts before use."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

TABLES = ("lineitem", "orders", "customer", "part", "partsupp", "supplier", "nation", "region")
#: Rows per parquet file: big tables are split so engines can read them in parallel.
ROWS_PER_FILE = 150_000
MIN_FILES_BIG_TABLE = 4
DUCKDB_VERSION = "1.5.5"


def data_root() -> Path:
    """ENGINEBENCH_DATA, or ./data (git-ignored)."""
    return Path(os.environ.get("ENGINEBENCH_DATA", "data")).resolve()


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
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    con = connect()
    con.execute(f"CALL dbgen(sf={sf})")
    rows = {}
    for table in TABLES:
        cols = con.execute(f"DESCRIBE {table}").fetchall()
        select = ", ".join(f"CAST({c[0]} AS DOUBLE) AS {c[0]}" if str(c[1]).startswith("DECIMAL") else c[0]
                           for c in cols)
        n = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        files = max(MIN_FILES_BIG_TABLE, math.ceil(n / ROWS_PER_FILE)) if n > ROWS_PER_FILE // 10 else 1
        (tmp / table).mkdir()
        per = math.ceil(n / files)
        for i in range(files):
            con.execute(f"COPY (SELECT {select} FROM {table} LIMIT {per} OFFSET {i * per}) "
                        f"TO '{tmp / table / f'part-{i:03d}.parquet'}' (FORMAT parquet)")
        rows[table] = n
    (tmp / "manifest.json").write_text(json.dumps({"sf": sf, "rows": rows, "generator": f"duckdb {DUCKDB_VERSION}"}))
    con.close()
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)
    return directory, rows


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
