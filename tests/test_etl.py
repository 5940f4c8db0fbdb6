"""The etl workload: TPC-H data generated offline and cached, every query checked on every engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_plan

from harness import registry
from harness.cli import main
from workloads.etl import data
from workloads.etl.spec import check_answer


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENGINEBENCH_DATA", str(root))
        yield root


def test_tpch_is_generated_split_cached_and_regenerated_when_corrupt(data_root: Path) -> None:
    directory, rows = data.ensure_tpch(0.01)
    assert rows["lineitem"] == 60_175 and rows["orders"] == 15_000 and rows["nation"] == 25
    parts = sorted((directory / "lineitem").glob("*.parquet"))
    assert len(parts) == 4  # split so engines read in parallel
    stamp = parts[0].stat().st_mtime_ns
    assert data.ensure_tpch(0.01) == (directory, rows) and parts[0].stat().st_mtime_ns == stamp  # cached
    parts[1].write_bytes(parts[1].read_bytes()[:100])  # truncated file: detected, data set rebuilt
    again, rows_again = data.ensure_tpch(0.01)
    assert rows_again == rows
    import pyarrow.parquet as pq

    assert sum(pq.ParquetFile(p).metadata.num_rows for p in (again / "lineitem").glob("*.parquet")) == 60_175


def test_official_answer_check_catches_a_wrong_value(data_root: Path) -> None:
    from workloads.etl.spec import prepare

    inputs = prepare({"query": 6, "sf": 0.01})
    assert inputs["source"] == "published answer"
    assert check_answer([{"revenue": 1193053.2253}], {}, inputs).ok
    bad = check_answer([{"revenue": 1193053.5}], {}, inputs)
    assert not bad.ok and bad.reason == "row 0 revenue: got 1193053.5, expected 1193053.2253 (published answer)"
    assert check_answer([], {}, inputs).reason == "0 rows, expected 1 (published answer)"


def test_data_command_reports_rows_and_rejects_bad_scale_factors(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "tpch", "--sf", "0.01", "--dir", str(tmp_path)]) == 0
    assert "lineitem        60,175 rows" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["data", "tpch", "--sf", "zero"])
    assert info.value.code == 2


@pytest.mark.engine
@pytest.mark.parametrize("engine", tuple(registry.ENGINES))
def test_every_query_on_every_engine_matches_the_published_answer(engine: str, data_root: Path,
                                                                   tmp_path: Path) -> None:
    runner, _ = run_plan(tmp_path, "etl", (engine,), repeat=1, warmup=0)
    for rec in runner.records:
        assert rec.status == "ok", f"{engine}/{rec.case}: {rec.status} {rec.reason}\n{rec.detail}"
        assert rec.metrics["rows_per_s"] > 0 and rec.metrics["input_mb_per_s"] > 0
        assert rec.phases["inputs"] >= 0
