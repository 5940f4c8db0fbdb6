"""requirements.lock and doctor's drift check: pure functions and the committed lock (no engine starts)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from enginebench.cli.doctor import lock_finding
from enginebench.cli.lockfile import (
    LOCK_NAME,
    lock_drift,
    normalize_name,
    parse_lock,
    pins_from_report,
    render_lock,
    version_matches,
    write_lock,
)
from enginebench.core.machine import REPO_ROOT

LOCK_TEXT = "# a comment\n\nPyYAML==6.0.3\npandas==2.3.3  # trailing comment\ntorch==2.13.0\n"


def _direct_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in ("test", "dev"):
        reqs += project["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


def _committed_lock() -> dict[str, str]:
    return parse_lock((REPO_ROOT / LOCK_NAME).read_text())


def test_parse_lock_normalizes_names_and_skips_comments() -> None:
    assert parse_lock(LOCK_TEXT) == {"pyyaml": "6.0.3", "pandas": "2.3.3", "torch": "2.13.0"}


@pytest.mark.parametrize("line", ["pandas>=2.2", "pandas", "-e .", "pandas==2.3.3; python_version < '3.12'"])
def test_parse_lock_rejects_anything_but_exact_pins(line: str) -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_lock(f"numpy==2.4.6\n{line}\n")


def test_drift_reports_a_changed_version() -> None:
    differ, missing = lock_drift(parse_lock(LOCK_TEXT), {"PyYAML": "6.0.3", "pandas": "3.1.1", "torch": "2.13.0"})
    assert differ == [("pandas", "3.1.1", "2.3.3")]
    assert missing == []


def test_drift_reports_a_missing_package_and_ignores_unlocked_ones() -> None:
    differ, missing = lock_drift(parse_lock(LOCK_TEXT), {"pyyaml": "6.0.3", "pandas": "2.3.3", "extra-pkg": "1.0"})
    assert (differ, missing) == ([], ["torch"])


def test_drift_matches_names_in_any_spelling() -> None:
    assert lock_drift({"typing_extensions": "4.16.0"}, {"Typing.Extensions": "4.16.0"}) == ([], [])
    assert normalize_name("duckdb_extension_tpch") == "duckdb-extension-tpch"


def test_local_label_matches_only_where_the_lock_has_none() -> None:
    assert lock_drift({"torch": "2.13.0"}, {"torch": "2.13.0+cpu"}) == ([], [])
    assert version_matches("2.13.0+cu128", "2.13.0")
    assert not version_matches("2.13.0+cu128", "2.13.0+cpu")
    assert not version_matches("2.13.1+cpu", "2.13.0")
    assert lock_drift({"torch": "2.13.0+cpu"}, {"torch": "2.13.0"}) == ([("torch", "2.13.0", "2.13.0+cpu")], [])


def test_lock_is_written_sorted_without_local_labels_or_the_project(tmp_path: Path) -> None:
    def item(name: str, version: str, info: str = "archive_info") -> dict[str, object]:
        return {"metadata": {"name": name, "version": version}, "download_info": {"url": "x", info: {}}}

    report = {
        "pip_version": "26.3",
        "environment": {"python_version": "3.11", "platform_system": "Linux", "platform_machine": "x86_64"},
        "install": [item("enginebench", "0.1.0", "dir_info"), item("torch", "2.13.0+cpu"), item("PyYAML", "6.0.3")],
    }
    assert pins_from_report(report) == {"torch": "2.13.0", "pyyaml": "6.0.3"}
    (tmp_path / "report.json").write_text(json.dumps(report))
    lock = tmp_path / LOCK_NAME
    lock.write_text("old\n")
    assert write_lock(tmp_path / "report.json", lock) == 2
    text = lock.read_text()
    assert text.startswith("# requirements.lock") and "./enginebench lock" in text and "pip 26.3" in text
    assert [line for line in text.splitlines() if not line.startswith("#")] == ["pyyaml==6.0.3", "torch==2.13.0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([LOCK_NAME, "report.json"])  # no temporary file left
    assert render_lock({"b": "1", "a": "2"}, "26.3", "3.11", "Linux x86_64").endswith("a==2\nb==1\n")


def test_lock_finding_ok_drift_and_absent(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text(LOCK_TEXT)
    ok = lock_finding(tmp_path, {"pyyaml": "6.0.3", "pandas": "2.3.3", "torch": "2.13.0+cpu"})
    assert (ok.level, ok.what, ok.detail) == ("ok", "lock", f"3 packages match {LOCK_NAME}")
    drift = lock_finding(tmp_path, {"pyyaml": "6.0.3", "pandas": "3.1.1"})
    assert drift.level == "warn"
    assert "1 package differs from requirements.lock: pandas 3.1.1 (lock 2.3.3)" in drift.detail
    assert "missing: torch" in drift.detail and "pip install -c requirements.lock" in drift.detail
    (tmp_path / LOCK_NAME).unlink()
    assert lock_finding(tmp_path, {}).level == "ok"  # a wheel install: nothing to compare with
    (tmp_path / "pyproject.toml").write_text("")
    assert lock_finding(tmp_path, {}).level == "warn"  # a checkout without its lock


def test_committed_lock_pins_every_direct_dependency_within_pyproject() -> None:
    lock = _committed_lock()
    for req in _direct_requirements():
        name = normalize_name(req.name)
        assert name in lock, f"{name} is not in {LOCK_NAME}: run ./enginebench lock"
        assert req.specifier.contains(lock[name], prereleases=True), f"{LOCK_NAME}: {name}=={lock[name]} not {req}"
    for name in ("torch", "ray", "pyspark", "dask", "distributed", "raydp", "duckdb", "pandas", "pytest-benchmark"):
        assert name in lock


def test_committed_lock_has_public_versions_only() -> None:
    lock = _committed_lock()
    assert lock["torch"] == "2.13.0"  # the CPU wheel here, a CUDA build elsewhere
    assert all("+" not in version for version in lock.values())
    assert "enginebench" not in lock


def test_committed_lock_keeps_pandas_below_3_for_pyspark() -> None:
    assert int(_committed_lock()["pandas"].split(".")[0]) < 3
