"""The docs: every generated table matches the results file it names, the README stays short, and the
Markdown the docs are made from says what the HTML report says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from enginebench.cli.main import main
from enginebench.core.errors import UsageError
from enginebench.report import docs, markdown
from enginebench.report.model import build_model
from enginebench.results.records import FAILED, load_run

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "tasks-tiny-run.json"
README_MAX_LINES = 200


def test_every_generated_table_matches_its_results_file() -> None:
    """The test behind `enginebench docs tables --check`: regenerate each block and compare."""
    blocks = docs.blocks(ROOT)
    assert len(blocks) >= 10, "the README and every workload page carry generated tables"
    for page in docs.pages(ROOT):
        text = page.read_text(encoding="utf-8")
        fresh = docs.regenerate(text, page)
        assert fresh == text, f"{page.relative_to(ROOT)}: a generated table differs from its results file " \
                              "(run `enginebench docs tables`)"


def test_every_generated_block_names_a_committed_results_file() -> None:
    for block in docs.blocks(ROOT):
        for source in block.sources:
            assert source.is_file(), block.where
            assert source.is_relative_to(ROOT / "docs" / "results"), f"{block.where}: results outside docs/results"
        page = block.page.read_text(encoding="utf-8")
        links = ", ".join(f"[`{x}`]({x})" for x in block.links)
        assert f"Generated from {links}:" in page, block.where


def test_a_hand_edited_figure_is_found_and_rewritten(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# t\n\n<!-- enginebench:generate matrix from={FIXTURE} -->\n<!-- enginebench:end -->\n")
    assert docs.stale([page], write=True) == [page]
    made = page.read_text()
    assert "| case | headline |" in made and f"Generated from [`{FIXTURE}`]" in made
    assert docs.stale([page], write=False) == []
    # Patch one figure by hand, as a stale README once was: the check sees it and the rewrite restores it.
    number = re.search(r"\*\*([\d,.]+)\*\* best", made)
    assert number is not None
    page.write_text(made.replace(f"**{number[1]}**", "**999**", 1))
    assert docs.stale([page], write=False) == [page]
    docs.stale([page], write=True)
    assert page.read_text() == made


@pytest.mark.parametrize("spec, message", [
    ("histogram from=x.json", "unknown table kind 'histogram'"),
    ("matrix", "needs from=RESULTS.json"),
    ("matrix from=x.json colour=red", "bad option 'colour=red'"),
    ("metrics from=x.json workload=tasks", "needs workload=NAME and case=NAME"),
    ("matrix from=missing.json", "results file missing.json not found"),
])
def test_a_malformed_block_is_a_one_line_error_naming_the_page_and_line(tmp_path: Path, spec: str,
                                                                        message: str) -> None:
    page = tmp_path / "page.md"
    original = f"intro\n\n<!-- enginebench:generate {spec} -->\n<!-- enginebench:end -->\n"
    page.write_text(original)
    with pytest.raises(UsageError, match=re.escape(message)) as err:
        docs.stale([page], write=True)
    assert str(err.value).startswith(f"{page}:3:") and "\n" not in str(err.value)
    assert page.read_text() == original, "nothing is written when a block is malformed"


def test_an_unknown_metric_column_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"<!-- enginebench:generate metrics from={FIXTURE} workload=tasks case=noop columns=@gpu -->\n"
                    "<!-- enginebench:end -->\n")
    with pytest.raises(UsageError, match="unknown column @gpu"):
        docs.stale([page], write=False)


def test_the_markdown_matrix_says_what_the_report_model_says() -> None:
    """Each cell of the Markdown matrix carries the model's median, its standing and the status."""
    run = load_run(FIXTURE)
    model = build_model([run])
    text = markdown.matrix(model)
    lines = text.splitlines()
    assert lines[0].startswith("| case | headline | ") and len(lines) == 2 + len(model.rows)
    for row, line in zip(model.rows, lines[2:], strict=True):
        cells = [c.strip() for c in line.strip("|").split(" | ")][2:]
        assert len(cells) == len(model.engines)
        for cell, shown in zip(row.cells, cells, strict=True):
            assert shown == markdown.cell_text(cell)
            if cell.best:
                assert shown.startswith("**") and shown.endswith("best")
            if cell.status in FAILED:
                assert not re.search(r"\d", shown), "a failed cell never shows a number"
    for sentence in model.verdicts.values():
        assert f"* {sentence}" in markdown.verdicts(model)


def test_a_wrong_cell_shows_its_status_and_no_number() -> None:
    from enginebench.report.content import Cell

    assert markdown.cell_text(Cell("ray", "wrong", reason="sum off by one")) == "**WRONG**"
    assert markdown.cell_text(Cell("ray", "unsupported")) == "n/a"
    assert markdown.cell_text(Cell("ray", "ok", 2.0, 1.0, best=True, ranked=True)) == "**2** best"
    assert markdown.cell_text(Cell("dask", "ok", 5.0, 2.5, ranked=True)) == "5 (2.5x slower)"
    assert markdown.cell_text(Cell("local", "ok", 0.5, 0.25, baseline=True)) == "0.5 (baseline, 4.0x faster)"


def test_report_writes_markdown_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.md"
    assert main(["report", str(FIXTURE), "--format", "markdown", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# enginebench report") and "## Engine fit" in text and "## Workload tasks" in text
    assert main(["report", str(FIXTURE), "--format", "markdown", "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == text


def test_docs_tables_check_exits_1_on_a_stale_page_and_0_when_current(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "p.md"
    page.write_text(f"<!-- enginebench:generate starts from={FIXTURE} -->\nold\n<!-- enginebench:end -->\n")
    assert main(["docs", "tables", "--check", "--root", str(tmp_path)]) == 1
    assert "old" in page.read_text(), "--check changes nothing"
    assert main(["docs", "tables", "--root", str(tmp_path)]) == 0
    assert main(["docs", "tables", "--check", "--root", str(tmp_path)]) == 0
    assert main(["docs", "tables", "--root", str(tmp_path / "nowhere")]) == 2


def test_the_readme_is_short_and_puts_the_two_commands_on_the_first_screen() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"
    first_screen = "\n".join(lines[:40])
    assert "./enginebench run" in first_screen and "./enginebench test" in first_screen


def test_every_docs_page_is_in_the_site_navigation() -> None:
    """mkdocs --strict fails on an omitted page in CI; this says which, without building the site."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "exclude_docs: |\n  examples/\n" in nav  # the worked example is a workload folder, not pages
    for page in sorted((ROOT / "docs").rglob("*.md")):
        rel = page.relative_to(ROOT / "docs").as_posix()
        assert rel.startswith("examples/") or rel in nav, f"docs/{rel} is not in mkdocs.yml's nav"


def test_the_site_builds_with_strict_and_a_broken_link_fails_it(tmp_path: Path) -> None:
    assert main(["docs", "build", "--site-dir", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "workloads" / "cnn" / "index.html").is_file()
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "mkdocs.yml").write_text("site_name: t\nstrict: true\nnav:\n  - index.md\n")
    (project / "docs" / "index.md").write_text("# t\n\nSee [the missing page](missing.md).\n")
    assert main(["docs", "build", "--root", str(project), "--site-dir", str(tmp_path / "broken")]) != 0


def test_every_relative_link_of_the_readme_and_contributing_exists() -> None:
    """mkdocs checks the site's links; the two top-level pages GitHub shows are checked here."""
    for name in ("README.md", "CONTRIBUTING.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not re.match(r"[a-z]+:", target):
                assert (ROOT / target).exists(), f"{name} links to {target}, which does not exist"


def test_a_block_from_repeated_runs_marks_the_cases_that_moved(tmp_path: Path) -> None:
    doc = json.loads(FIXTURE.read_text())
    moved = next(r for r in doc["records"] if r["status"] == "ok" and r["timings_s"])  # schema 1: no samples yet
    (tmp_path / "a.json").write_text(json.dumps(doc))
    moved["timings_s"] = [x * 2 for x in moved["timings_s"]]
    (tmp_path / "b.json").write_text(json.dumps(doc))
    page = tmp_path / "page.md"
    page.write_text("<!-- enginebench:generate matrix from=a.json,b.json -->\n<!-- enginebench:end -->\n")
    assert docs.stale([page], write=True) == [page]
    made = page.read_text()
    assert made.count("[unstable: 2.0x over 2 runs]") == 1, made
    page.write_text("<!-- enginebench:generate spread from=a.json,b.json -->\n<!-- enginebench:end -->\n")
    docs.stale([page], write=True)
    made = page.read_text()
    assert made.count("2.0x unstable**") == 1 and "1.0x" in made and "over 1.3x is unstable" in made, made
    assert "Generated from [`a.json`](a.json), [`b.json`](b.json): run" in made
    page.write_text("<!-- enginebench:generate matrix from=a.json,gone.json -->\n<!-- enginebench:end -->\n")
    with pytest.raises(UsageError, match="results file gone.json not found"):
        docs.stale([page], write=False)
