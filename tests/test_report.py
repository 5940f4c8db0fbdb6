"""Reports from recorded runs: valid self-contained HTML, right winners, honest failures, escaping."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from enginebench.cli.main import main
from enginebench.core.budget import Budget
from enginebench.core.errors import UsageError
from enginebench.core.stats import describe
from enginebench.report.compare import compare
from enginebench.report.html import render
from enginebench.report.model import build_model
from enginebench.report.verdicts import crossover_text
from enginebench.results.records import EngineSession, Header, Plan, Record, Run, load_run

FIXTURE = Path(__file__).parent / "fixtures" / "tasks-tiny-run.json"
VOID = {"meta", "br", "img", "input", "hr", "link", "col", "source", "wbr", "area", "base", "embed", "param", "track"}


class TreeCheck(HTMLParser):
    """Checks that every non-void tag is closed in order; collects svg and forbidden elements."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href") and value and re.match(r"(https?:)?//", value):
                self.errors.append(f"external reference {value}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()


def parse(html: str) -> TreeCheck:
    checker = TreeCheck()
    checker.feed(html)
    checker.close()
    return checker


def rec(engine: str, case: str = "noop", status: str = "ok", seconds: tuple[float, ...] = (1.0, 1.0, 1.0),
        n: int = 100, reason: str = "", foreign: float = 0.0, top: str = "") -> Record:
    """A record of `n` tasks per repetition at the given repetition times (headline: tasks/s); `foreign`
    is the share of the 2-CPU budget other processes took over the window (the repetitions, plus 1 s of
    warm-up), the busiest of them named `top`."""
    stats = describe(seconds)
    wall = sum(seconds) + 1.0
    noise = {"foreign_cpu_share": foreign, "foreign_cpu_s": foreign * wall * 2, "wall_s": wall,
             "foreign_resolution_s": 0.02, "foreign_top": [{"name": top, "pid": 7, "cpu_s": foreign * wall * 2}]
             if top else []}
    return Record(workload="tasks", case=case, engine=engine, api=engine, scale="tiny", status=status,
                  reason=reason, category="task parallelism", params={"n": n},
                  budget={"cpus": 2, "memory_bytes": 2**30}, warmup=1,
                  repeat=len(seconds), timings_s=seconds, stats=stats,
                  samples=tuple(n / t for t in seconds) if status == "ok" else (),
                  phases={"engine_start": 1.0, "inputs": 0.0, "run": stats["median"], "check": 0.01},
                  metrics={"tasks_per_s": n / stats["median"]},
                  primary={"name": "tasks_per_s", "unit": "tasks/s", "higher_is_better": True},
                  resources={"peak_rss_bytes": 2**20, "cpu_utilisation": 0.5, **noise})


def run_of(records: list[Record], run_id: str = "r1", hostname: str = "host") -> Run:
    engines = sorted({r.engine for r in records})
    plan = Plan(cases={"tasks": tuple(dict.fromkeys(r.case for r in records))}, engines=tuple(engines),
                scale="tiny", budget=Budget(cpus=2, memory_bytes=2**30))
    return Run(header=Header(run_id=run_id, plan=plan, created_utc="2026-11-21T00:00:00Z", status="complete",
                             machine={"hostname": hostname, "cpu_model": "cpu"}, software={"python": "3.11"},
                             engines={e: EngineSession(api=e, status="ok", start_s=1.5, baseline=e == "local")
                                      for e in engines}),
               records=records)


def test_report_from_a_recorded_run_is_self_contained_html_with_every_figure() -> None:
    html = render([load_run(FIXTURE)])
    tree = parse(html)
    assert not tree.errors and not tree.stack
    assert "script" not in tree.tags and "link" not in tree.tags and "img" not in tree.tags
    figures = re.findall(r'<div class="figure">(.*?)</div>', html, flags=re.S)
    assert len(figures) == 2  # tasks case bars, phases
    for fig in figures:
        assert fig.lstrip().startswith("<svg") and fig.count("<path") > 10
    for engine in ("ray", "dask", "spark-on-ray", "spark", "local"):
        assert f"<th>{engine}" in html
    assert "Task parallelism: ray is fastest" in html
    assert "20261121T223931Z-tasks-tiny-11c8" in html


def test_matrix_declares_the_winner_and_the_ratio_from_the_numbers() -> None:
    run = run_of([rec("ray", seconds=(1.0, 1.1, 1.2)), rec("dask", seconds=(2.0, 2.1, 2.2)),
                  rec("local", seconds=(0.01, 0.01, 0.01))])
    model = build_model([run])
    (row,) = model.rows
    cells = {c.engine: c for c in row.cells}
    assert cells["ray"].best and not cells["dask"].best and not cells["dask"].tied_with_best
    assert cells["dask"].ratio == pytest.approx(2.1 / 1.1)
    assert not cells["local"].best and cells["local"].baseline  # the baseline is shown, never ranked
    assert model.verdicts["task parallelism"] == (
        "Task parallelism: ray is fastest on the only contested case; on noop ray is 1.9x faster than dask. "
        "The local baseline (one process, no engine) is faster than every engine on its only case (110x).")


def test_overlapping_ranges_are_called_a_tie() -> None:
    run = run_of([rec("ray", seconds=(1.0, 1.1, 1.5)), rec("dask", seconds=(1.4, 1.6, 1.7))])
    model = build_model([run])
    cells = {c.engine: c for c in model.rows[0].cells}
    assert cells["ray"].best and cells["dask"].tied_with_best
    assert "too close to call (tied, or within 10%): noop: ray and dask tied" in model.verdicts["task parallelism"]
    assert "tied with best" in render([run])


def test_a_resolved_difference_under_the_threshold_is_never_a_win() -> None:
    """5% apart with no overlap: the tie rule resolves it, but compare's 10% threshold says it is not
    a difference to act on, so neither the matrix nor the sentence calls it a win."""
    run = run_of([rec("ray", seconds=(1.00, 1.01, 1.02)), rec("dask", seconds=(1.05, 1.06, 1.07))])
    model = build_model([run])
    cells = {c.engine: c for c in model.rows[0].cells}
    assert cells["dask"].versus_best is not None and cells["dask"].versus_best.resolved
    assert cells["ray"].best and cells["dask"].tied_with_best
    sentence = model.verdicts["task parallelism"]
    assert "fastest" not in sentence and "too close to call (tied, or within 10%): noop: ray and dask tied" in sentence
    assert "within 10% of best" in render([run])


def test_a_lead_on_fewer_than_three_repetitions_is_a_lead_to_confirm_and_one_sample_shows_no_interval() -> None:
    run = run_of([rec("ray", seconds=(1.0, 1.1)), rec("dask", seconds=(3.0,)), rec("spark", seconds=(6.0, 6.2))])
    model = build_model([run])
    cells = {c.engine: c for c in model.rows[0].cells}
    assert cells["ray"].best and not cells["dask"].tied_with_best and not cells["dask"].confirmed
    sentence = model.verdicts["task parallelism"]
    assert "is fastest" not in sentence and "faster than" not in sentence
    assert ("leads to confirm (fewer than 3 repetitions per engine, not counted as wins): ray on noop (2.9x ahead "
            "of dask)") in sentence
    html = render([run])
    matrix = html.split('<table class="matrix">')[1].split("</table>")[0]
    assert "2.9x slower" in matrix and "[2.73, 3.00]" not in matrix
    assert "one repetition on a side: no interval" in matrix
    assert "[5.45, 6.20]" in matrix, "two repetitions a side still show the ratios between the ranges"


def test_a_sub_threshold_flip_between_sizes_is_no_crossover() -> None:
    def at(scale: str, n: int, engine: str, seconds: tuple[float, ...]) -> Record:
        r = rec(engine, seconds=seconds)
        return Record.from_dict({**r.to_dict(), "scale": scale, "params": {"n": n}, "size_param": "n"})

    runs = [run_of([at("tiny", 10, "ray", (1.00, 1.01, 1.02)), at("tiny", 10, "dask", (1.05, 1.06, 1.07))], "a"),
            run_of([at("small", 100, "ray", (1.05, 1.06, 1.07)), at("small", 100, "dask", (1.00, 1.01, 1.02))], "b")]
    assert build_model(runs).crossovers == []


def test_wrong_or_failed_record_never_appears_as_a_number() -> None:
    wrong = rec("dask", status="wrong", seconds=(0.123456,), reason="task results: got [1], expected [0]")
    run = run_of([rec("ray"), wrong, rec("spark", status="timeout", reason="exceeded the 120 s case timeout")])
    html = render([run])
    matrix = html.split('<table class="matrix">')[1].split("</table>")[0]
    assert "WRONG" in matrix and "timeout" in matrix
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # chart coordinates are not figures
    assert "810" not in text and "123 ms" not in text  # neither its throughput nor its time is shown
    failures = html.split('id="failures"')[1]
    assert "task results: got [1], expected [0]" in failures and "exceeded the 120 s case timeout" in failures
    # ray alone has a checked figure: no win is claimed, and the failures are named.
    assert build_model([run]).verdicts["task parallelism"] == (
        "Task parallelism: only one engine has a checked result on noop (ray) (not counted as a win). "
        "Failed: dask on noop (wrong), spark on noop (timeout).")


def test_strings_from_records_are_html_escaped() -> None:
    evil = "<script>alert('x')</script>"
    run = run_of([rec("ray"), rec("dask", status="error", reason=evil)], hostname="<b>host</b>")
    html = render([run])
    assert "<script>" not in html and "<b>host</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;host&lt;/b&gt;" in html


def test_compare_gives_noise_aware_verdicts() -> None:
    base = run_of([rec("ray", seconds=(1.0, 1.1, 1.2)), rec("dask", seconds=(1.0, 1.1, 1.2)),
                   rec("spark", seconds=(1.0, 1.0, 1.0))], "base")
    new = run_of([rec("ray", seconds=(0.5, 0.55, 0.6)), rec("dask", seconds=(1.1, 1.15, 1.3)),
                  rec("spark", status="error", reason="boom")], "new")
    verdicts = {c.engine: (c.verdict, c.ratio) for c in compare(base, new)}
    # 3 repetitions a side: separated ranges happen by chance 10% of the time, so nothing is decided.
    assert verdicts["ray"] == ("too few repetitions", pytest.approx(0.5))
    assert verdicts["dask"][0] == "too few repetitions"
    assert verdicts["spark"] == ("broken", None)
    base = run_of([rec("ray", seconds=(1.0, 1.1, 1.2, 1.05, 1.15))], "base")
    new = run_of([rec("ray", seconds=(0.5, 0.55, 0.6, 0.52, 0.58))], "new")
    (c,) = compare(base, new)
    assert c.verdict == "faster" and c.ratio == pytest.approx(0.55 / 1.1) and c.low is not None and c.high < 1


def test_compare_refuses_runs_whose_workload_parameters_differ() -> None:
    with pytest.raises(UsageError, match=r"workload parameters differ \(base \{'n': 100\}, new \{'n': 200\}\)"):
        compare(run_of([rec("ray")]), run_of([rec("ray", n=200)]))


def test_report_and_compare_commands_write_files_and_refuse_to_overwrite(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r" / "index.html"
    assert main(["report", str(FIXTURE), "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    before = out.read_bytes()
    assert main(["report", str(FIXTURE), "-o", str(out)]) == 2
    assert out.read_bytes() == before
    assert "already exists" in capsys.readouterr().err
    assert main(["compare", str(FIXTURE), str(FIXTURE), "-o", str(tmp_path / "c.html")]) == 0
    assert "same" in (tmp_path / "c.html").read_text()
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["report", str(bad), "-o", str(tmp_path / "x.html")]) == 2
    assert not (tmp_path / "x.html").exists()


def test_page_renders_in_headless_chromium_to_a_non_blank_screenshot(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    page = tmp_path / "index.html"
    page.write_text(render([load_run(FIXTURE)]))
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000", f"--screenshot={shot}",
         page.as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    image = Image.open(shot).convert("L")
    assert image.size == (1280, 2000)
    histogram = image.histogram()
    white = histogram[255] / sum(histogram)
    assert white < 0.97, "the screenshot is (nearly) blank"
    assert len([h for h in histogram if h]) > 50, "the screenshot has too few shades to be the report"


def test_the_browser_reads_the_page_title_and_the_engine_fit_sentences(tmp_path: Path) -> None:
    """The DOM Chromium builds: the title is the report's (a search's per-trial figure once leaked
    into it as "accuracy per trial") and every category's sentence is in the engine-fit list."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    def searched(engine: str, seconds: tuple[float, ...]) -> Record:
        return Record.from_dict({**rec(engine, case="search", seconds=seconds).to_dict(), "workload": "tune",
                                 "category": "hyperparameter search",
                                 "series": {"accuracy/trial 00": [[1.0, 0.5]], "accuracy/trial 01": [[1.0, 0.6]]}})

    runs = [load_run(FIXTURE), run_of([searched("ray", (1.0, 1.1, 1.2)), searched("dask", (2.0, 2.1, 2.2))], "tune")]
    page = tmp_path / "index.html"
    page.write_text(render(runs, title="My comparison"))
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert re.search(r"<title>My comparison</title>", dom) and re.search(r"<h1>My comparison</h1>", dom)
    listed = re.search(r'<ul class="verdicts">(.*?)</ul>', dom, re.S)
    assert listed is not None
    shown = [re.sub(r"\s+", " ", li).strip() for li in re.findall(r"<li>(.*?)</li>", listed[1], re.S)]
    model = build_model(runs)
    assert shown == list(model.verdicts.values())
    assert any(s.startswith("Hyperparameter search:") for s in shown)


def test_runs_at_several_cpu_budgets_get_scaling_lines() -> None:
    def at(cpus: int, engine: str, seconds: float) -> Record:
        r = rec(engine, seconds=(seconds,) * 3)
        return Record.from_dict({**r.to_dict(), "budget": {"cpus": cpus, "memory_bytes": 2**30}})

    runs = [run_of([at(1, "ray", 2.0), at(1, "dask", 3.0)], "one"),
            run_of([at(2, "ray", 1.0), at(2, "dask", 2.5)], "two")]
    model = build_model(runs)
    assert model.scaling[("tasks", "noop", "tiny")] == {"ray": [(1, 50.0), (2, 100.0)],
                                                         "dask": [(1, 100 / 3), (2, 40.0)]}
    html = render(runs)
    assert 'id="scaling"' in html
    assert "1 CPUs" in html and "2 CPUs" in html
    assert html.count('<div class="figure">') == 3


def test_training_curves_are_drawn_per_engine_and_never_for_wrong_records() -> None:
    def trained(engine: str, status: str, curve: list[list[float]]) -> Record:
        r = rec(engine, case="train", status=status)
        return Record.from_dict({**r.to_dict(), "workload": "cnn", "series": {"test_accuracy": curve}})

    run = run_of([trained("ray", "ok", [[1.0, 0.3], [2.0, 0.6], [3.0, 0.8]]),
                  trained("local", "ok", [[2.0, 0.4], [4.0, 0.7]]),
                  trained("dask", "wrong", [[1.0, 0.99]])])
    html = render([run])
    assert "test accuracy against wall time" in html
    section = html.split("test accuracy against wall time")[1].split("</div>")[0]
    assert "ray (train)" in section and "local (train)" in section and "dask (train)" not in section
    assert load_run_roundtrip(run).records[0].series == {"test_accuracy": [[1.0, 0.3], [2.0, 0.6], [3.0, 0.8]]}


def load_run_roundtrip(run: Run) -> Run:
    import json as _json
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "r.json"
        path.write_text(_json.dumps(run.to_dict()))
        return load_run(path)


def sized(engine: str, scale: str, n: int, seconds: tuple[float, ...]) -> Record:
    """A noop record at a scale, its input size `n` (the size parameter), at those repetition times."""
    return dataclasses.replace(rec(engine, n=n, seconds=seconds), scale=scale, size_param="n")


def test_a_size_sweep_draws_lines_and_names_where_engines_swap_order() -> None:
    # ray wins small inputs, dask large ones; at medium the two overlap (a tie neither keeps nor breaks
    # the order), so the swap is placed between small and large. local is always slowest.
    fast, slow, mid = (1.0, 1.01, 1.02), (2.0, 2.02, 2.04), (1.5, 1.52, 1.54)
    runs = [run_of([sized("ray", "small", 100, fast), sized("dask", "small", 100, slow),
                    sized("local", "small", 100, (9.0, 9.1, 9.2))], run_id="s"),
            run_of([sized("ray", "medium", 1000, mid), sized("dask", "medium", 1000, (1.51, 1.53, 1.55)),
                    sized("local", "medium", 1000, (9.0, 9.1, 9.2))], run_id="m"),
            run_of([sized("ray", "large", 10_000, slow), sized("dask", "large", 10_000, fast),
                    sized("local", "large", 10_000, (9.0, 9.1, 9.2))], run_id="l")]
    model = build_model(runs)
    assert set(model.sizes[("tasks", "noop", 2)]) == {"ray", "dask", "local"}
    assert [x for x, _ in model.sizes[("tasks", "noop", 2)]["ray"]] == [100.0, 1000.0, 10_000.0]
    assert [crossover_text(x) for x in model.crossovers] == [
        "dask overtakes ray on noop between n 100 and n 10000 (small and large)"]
    sentence = model.verdicts["task parallelism"].lower()
    assert "crossovers: dask overtakes ray on noop between n 100 and n 10000" in sentence
    assert "by input size: at small ray is fastest on 1 of 1 contested cases" in sentence
    assert "at large dask is fastest on 1 of 1" in sentence and "at medium no engine leads" in sentence
    html = render(runs)
    assert 'id="sizes"' in html and "dask overtakes ray on noop" in html
    # One size only: no sweep, no crossover.
    single = build_model(runs[:1])
    assert not single.sizes and not single.crossovers


def test_records_without_a_size_parameter_stay_out_of_size_sweeps() -> None:
    runs = [run_of([dataclasses.replace(rec("ray", n=n), scale=scale)], run_id=scale)
            for scale, n in (("small", 100), ("large", 1000))]
    assert not build_model(runs).sizes


def test_two_workloads_sharing_a_case_name_are_not_a_ladder() -> None:
    import dataclasses

    from enginebench.report.markdown import matrix

    # cnn's train and gbdt's train are two cases at one size each: no row names a size.
    cnn = [dataclasses.replace(rec(e, case="train", n=2048), workload="cnn", size_param="n") for e in ("ray", "dask")]
    gbdt = [dataclasses.replace(rec(e, case="train", n=100_000), workload="gbdt", size_param="n")
            for e in ("ray", "dask")]
    table = matrix(build_model([run_of([*cnn, *gbdt])]))
    assert "| cnn train |" in table and "| gbdt train |" in table and "(n " not in table, table


def test_every_section_is_declared_once_with_its_template_and_shows_its_heading() -> None:
    from enginebench.report import html, sections

    names = [s.name for s in sections.SECTIONS]
    assert len(names) == len(set(names))
    kinds = [k.name for s in sections.SECTIONS for k in s.kinds] + [k.name for k in sections.DOCS_ONLY]
    assert len(kinds) == len(set(kinds)) and list(sections.kinds()) == kinds
    templates = {p.name for p in html.TEMPLATES.glob("section-*.html.j2")}
    assert templates == {s.template for s in sections.SECTIONS if s.html is not None}
    runs = [load_run(FIXTURE)]
    page = render(runs)
    source = sections.Source(runs, build_model(runs))
    for s in sections.SECTIONS:
        if s.html is not None and s.title:
            assert (f'<h2 id="{s.name}">{s.title}</h2>' in page) == s.shown(source), s.name


def test_a_section_added_to_the_registry_reaches_the_page_the_document_and_the_docs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one place: a Section in SECTIONS (and its template) is all a new section takes."""
    from enginebench.report import docs, html, markdown, sections

    templates = tmp_path / "templates"
    shutil.copytree(html.TEMPLATES, templates)
    (templates / "section-memory.html.j2").write_text(
        '<h2 id="{{ section.name }}">{{ section.title }}</h2>\n<p>{{ note }}</p>\n')
    memory = sections.Section("memory", "Memory", html=lambda s: {"note": f"{len(s.model.records)} records <&>"},
                              markdown=lambda s: f"{len(s.model.records)} records",
                              kinds=(sections.Kind("memory", lambda s, o: f"memory of {o['workload']}",
                                                   needs=("workload",)),))
    monkeypatch.setattr(html, "TEMPLATES", templates)
    monkeypatch.setattr(sections, "SECTIONS", (*sections.SECTIONS, memory))
    runs = [load_run(FIXTURE)]
    count = len(build_model(runs).records)
    assert f'<h2 id="memory">Memory</h2>\n<p>{count} records &lt;&amp;&gt;</p>' in render(runs)
    text = markdown.document(runs)
    assert text.endswith(f"## Memory\n\n{count} records\n") and text.index("## Failures") < text.index("## Memory")
    page = tmp_path / "page.md"
    page.write_text(f"<!-- enginebench:generate memory from={FIXTURE} workload=tasks -->\n<!-- enginebench:end -->\n")
    docs.stale([page], write=True)
    assert f"memory of tasks\n\nGenerated from [`{FIXTURE}`]" in page.read_text()
    page.write_text(f"<!-- enginebench:generate memory from={FIXTURE} -->\n<!-- enginebench:end -->\n")
    with pytest.raises(UsageError, match="memory needs workload=NAME"):
        docs.stale([page], write=False)
