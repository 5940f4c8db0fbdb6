"""Your workload: `enginebench new` writes one that runs right on every engine, a folder is found by path
and recorded with its source, each defect a user can make is one line and exit 2 before any engine
starts, installed packages register workloads through entry points, and the installed distribution
puts one package, `enginebench`, into site-packages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import run_plan

from enginebench import API_VERSION, Verdict
from enginebench.contract.wellformed import check
from enginebench.measure.attempt import Session
from enginebench.plan import registry
from enginebench.results.records import load_run

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: generated input files go to a fresh ENGINEBENCH_DATA (inherited by every command these tests run)
pytestmark = pytest.mark.usefixtures("data_root")


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "enginebench"), *args], capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`enginebench new wordjob` in a fresh folder, once per session (engine tests are grouped by engine
    across modules, so a module-scoped folder would be written anew, and refused as a second wordjob)."""
    where = tmp_path_factory.mktemp("new")
    out = cli("new", "wordjob", cwd=where)
    assert out.returncode == 0, out.stderr
    assert "enginebench run --workload ./wordjob" in out.stdout
    return where / "wordjob"


@pytest.mark.engine
@pytest.mark.parametrize("started", tuple(registry.ENGINES), indirect=True, scope="session")
def test_the_generated_workload_runs_right_on_every_engine(started: Session, generated: Path, tmp_path: Path) -> None:
    name = registry.resolve(str(generated))
    source = registry.source(name)
    assert (name, source.kind, source.where) == ("wordjob", "folder", str(generated))
    runner, _ = run_plan(tmp_path, name, (started.name,), repeat=1, warmup=0, session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"{started.name}: {rec.status} {rec.reason}\n{rec.detail}"
    assert rec.metrics["lines_per_s"] > 0 and rec.checks == 1


def test_the_generated_check_catches_a_wrong_count(generated: Path) -> None:
    wl = registry.workload(registry.resolve(str(generated)))
    case = wl.case("count-words")
    params = {**case.params["tiny"], "n_lines": 100, "parts": 3}
    lines = case.make_inputs(params)
    assert len(lines["files"]) == 3
    expected = case.reference(params, lines)  # type: ignore[misc]
    assert case.check(expected, params, lines, expected) == Verdict(True)
    word = sorted(expected)[0]
    short = {w: c for w, c in expected.items() if w != word}
    verdict = case.check(short, params, lines, expected)
    assert not verdict.ok and f"1 words missing (e.g. {word!r})" in verdict.reason


def test_the_generated_tests_pass_and_the_run_records_where_the_workload_came_from(generated: Path,
                                                                                  tmp_path: Path) -> None:
    copy = tmp_path / "wordjob"
    shutil.copytree(generated, copy)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(copy)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600,
                         env={**os.environ, "ENGINEBENCH_ENGINES": "local"})
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout[-3000:] + out.stderr[-2000:]
    results = tmp_path / "results"
    out = cli("run", "--workload", "./wordjob", "--engines", "local", "--repeat", "1", "--warmup", "0",
              "--out", str(results), "--no-report", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    (path,) = results.glob("*.json")
    source = load_run(path).header.plan.sources["wordjob"]
    assert source["kind"] == "folder" and source["where"] == str(copy)
    assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
    listed = cli("list", "--workload", "./wordjob", cwd=tmp_path).stdout
    assert f"workload wordjob: Wordjob (word count: replace with your job) (folder {copy}, files sha256 " \
           f"{source['sha256'][:12]})" in listed
    # report, compare and export read it as any run
    assert cli("report", str(path), "--output", str(tmp_path / "r.html"), cwd=tmp_path).returncode == 0
    assert f"wordjob: folder <span class=\"mono\">{copy}</span>, files sha256 <span class=\"mono\">" \
           f"{source['sha256'][:12]}</span>" in (tmp_path / "r.html").read_text()
    assert cli("compare", str(path), str(path), "--output", str(tmp_path / "c.html"), cwd=tmp_path).returncode == 0
    assert cli("export", str(path), "--csv", str(tmp_path / "r.csv"), cwd=tmp_path).returncode == 0
    assert "wordjob,count-words,local" in (tmp_path / "r.csv").read_text()


@pytest.mark.engine
def test_the_pytest_benchmark_suite_runs_a_folder_workload(generated: Path, tmp_path: Path) -> None:
    bench_json = tmp_path / "bench.json"
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "benchmarks/", "--benchmark-only",
                          "--workloads", str(generated), "--engines", "local,dask", "--rounds", "1",
                          "--warmup-rounds", "0", f"--benchmark-json={bench_json}", "-q"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    names = sorted(b["name"] for b in json.loads(bench_json.read_text())["benchmarks"])
    assert names == ["test_case[wordjob/count-words-dask-tiny]", "test_case[wordjob/count-words-local-tiny]"]
    assert cli("report", str(bench_json), "--output", str(tmp_path / "b.html"), cwd=tmp_path).returncode == 0


def test_resume_reloads_the_folder_and_refuses_changed_files(generated: Path, tmp_path: Path) -> None:
    copy = tmp_path / "wordjob"
    shutil.copytree(generated, copy)
    results = tmp_path / "results"
    out = cli("run", "--workload", str(copy), "--engines", "local", "--repeat", "1", "--warmup", "0",
              "--out", str(results), "--no-report", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (path,) = results.glob("*.json")
    # a run cut short after its first engine: the plan asks for a second one, which --resume runs
    doc = json.loads(path.read_text())
    doc["plan"]["engines"] = ["local", "dask"]
    doc["status"] = "interrupted"
    path.write_text(json.dumps(doc))
    spec = copy / "spec.py"
    original = spec.read_text()
    spec.write_text(original + "\n# changed\n")
    out = cli("run", "--resume", str(path), "--no-report", cwd=tmp_path)
    assert out.returncode == 2 and "changed since the run began" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    spec.write_text(original)
    out = cli("run", "--resume", str(path), "--no-report", cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert [(r.engine, r.status) for r in load_run(path).records] == [("local", "ok"), ("dask", "ok")]


# ---- a broken workload: one line naming the file, exit 2, no engine started, nothing written ----

def _broken(where: Path, generated: Path, name: str, edit: dict[str, tuple[str, str]]) -> Path:
    folder = where / name
    shutil.copytree(generated, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for filename, (old, new) in edit.items():
        text = (folder / filename).read_text()
        assert old in text, (filename, old)
        (folder / filename).write_text(text.replace(old, new))
    return folder


DEFECTS = {
    "no_check": ({"spec.py": ("            check=check,\n", "")},
                 r"spec\.py:\d+: Case\(\.\.\.\) lacks 'check' \(a Case needs name, description, params, primary, "
                 r"make_inputs, check, summarize\)"),
    "bad_signature": ({"local.py": ("def count_words_(ctx: EngineContext, params: Params, inputs: dict[str, Any])",
                                    "def count_words_(ctx: EngineContext, params: Params)")},
                      r"local\.py: CASES\['count-words'\]: count_words_\(ctx, params\) cannot be called as "
                      r"\(ctx, params, inputs\)"),
    "import_fails": ({"ray.py": ("import ray\n", "import ray\nimport no_such_module_here\n")},
                     r"ray\.py:\d+: cannot import: ModuleNotFoundError: No module named 'no_such_module_here'"),
    "bad_size": ({"spec.py": ('size_param="n_lines"', 'size_param="n_rows"')},
                 r"spec\.py: case 'count-words': size_param 'n_rows' is not a number in its tiny params \(its "
                 r"params: seed, vocabulary, words_per_line, parts, n_lines;"),
    "clash": ({"spec.py": ('name="wordjob"', 'name="etl"')},
              r"spec\.py: workload name 'etl' clashes with the shipped workload etl"),
    "unknown_case": ({"dask.py": ('CASES = {"count-words"', 'CASES = {"count-wrds"')},
                     r"dask\.py: CASES names 'count-wrds', which is not a case of wordjob \(accepted: count-words\)"),
    "daft_signature": ({"daft.py": ("def count_words(ctx: EngineContext, params: Params, inputs: dict[str, Any])",
                                    "def count_words(ctx: EngineContext, inputs: dict[str, Any])")},
                       r"daft\.py: CASES\['count-words'\]: count_words\(ctx, inputs\) cannot be called as "
                       r"\(ctx, params, inputs\)"),
    "newer_api": ({"spec.py": (f'requires_api="{API_VERSION}"', 'requires_api="1.99"')},
                  r"spec\.py: needs workload API 1\.99; this enginebench has " + re.escape(API_VERSION)),
}


@pytest.mark.parametrize("defect", tuple(DEFECTS))
def test_a_broken_workload_is_one_line_and_exit_2_before_any_engine_starts(defect: str, generated: Path,
                                                                           tmp_path: Path) -> None:
    edit, expected = DEFECTS[defect]
    folder = _broken(tmp_path, generated, defect, edit)
    results = tmp_path / "results"
    out = cli("run", "--workload", str(folder), "--out", str(results), cwd=tmp_path)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert lines[0].startswith(f"enginebench run: error: {folder}/"), lines[0]
    assert re.search(expected, lines[0]), lines[0]
    assert not results.exists() and not out.stdout  # nothing started, nothing written


def test_an_exception_inside_a_case_is_an_error_record_and_the_run_goes_on(generated: Path, tmp_path: Path) -> None:
    edit = {"local.py": ('    return count_words(read_lines(inputs["files"]))\n', "    raise ValueError('my bug')\n")}
    folder = _broken(tmp_path, generated, "raises", edit)
    out = cli("run", "--workload", str(folder), "--engines", "local,dask", "--repeat", "1", "--warmup", "0",
              "--out", str(tmp_path / "results"), "--no-report", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    (path,) = (tmp_path / "results").glob("*.json")
    records = {r.engine: r for r in load_run(path).records}
    assert records["dask"].status == "ok"
    assert records["local"].status == "error" and "ValueError: my bug" in records["local"].reason


def test_a_folder_named_like_an_installed_module_or_a_bad_name_is_refused(generated: Path, tmp_path: Path) -> None:
    folder = tmp_path / "numpy"
    shutil.copytree(generated, folder)
    out = cli("list", "--workload", str(folder), cwd=tmp_path)
    assert out.returncode == 2 and "the folder's name 'numpy' is also the module" in out.stderr, out.stderr
    out = cli("run", "--workload", "./nowhere", cwd=tmp_path)
    assert out.returncode == 2 and "--workload ./nowhere: no such folder" in out.stderr
    out = cli("run", "--workload", "nosuchname", cwd=tmp_path)
    assert out.returncode == 2 and "unknown workload 'nosuchname' (accepted: tasks, etl" in out.stderr
    for bad, why in (("My-Job", "accepted: lower-case letters"), ("etl", "is a shipped workload"),
                     ("json", "is also an importable module")):
        out = cli("new", bad, cwd=tmp_path)
        assert out.returncode == 2 and why in out.stderr, out.stderr
    out = cli("new", "numpy", "--dir", str(tmp_path / "x"), cwd=tmp_path)
    assert out.returncode == 2
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    out = cli("new", "taken", cwd=tmp_path)
    assert out.returncode == 2 and "already exists" in out.stderr
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


# ---- installed packages and the installed distribution ----

def test_an_installed_package_registers_a_workload_through_an_entry_point(generated: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(generated, site / "acme_jobs" / "words", ignore=shutil.ignore_patterns("__pycache__", "test_*"))
    (site / "acme_jobs" / "__init__.py").write_text("")
    spec = site / "acme_jobs" / "words" / "spec.py"
    spec.write_text(spec.read_text().replace('name="wordjob"', 'name="acme-words"'))
    dist = site / "acme_jobs-2.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-jobs\nVersion: 2.1\n")
    (dist / "entry_points.txt").write_text("[enginebench.workloads]\nacme-words = acme_jobs.words\n")
    (dist / "top_level.txt").write_text("acme_jobs\n")
    env = {"PYTHONPATH": str(site)}
    listed = cli("list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"workload acme-words: .* \(entry point of acme-jobs 2\.1 \(acme_jobs\.words\.spec\), files "
                     r"sha256 [0-9a-f]{12}\)", listed.stdout), listed.stdout
    out = cli("run", "--workload", "acme-words", "--engines", "local", "--repeat", "1", "--warmup", "0",
              "--out", str(tmp_path / "results"), "--no-report", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    (path,) = (tmp_path / "results").glob("*.json")
    source = load_run(path).header.plan.sources["acme-words"]
    assert (source["kind"], source["package"], source["version"]) == ("entry-point", "acme-jobs", "2.1")


def test_every_shipped_workload_passes_the_checks_a_users_workload_gets() -> None:
    for name in registry.WORKLOADS:
        wl, source = registry.workload(name), registry.source(name)
        assert source.kind == "shipped" and source.package == "enginebench"
        assert check(wl, ROOT / "workloads" / name, registry.engine_files()).name == name


def test_shipped_workloads_import_only_the_public_api() -> None:
    private = re.compile(r"^\s*(?:from|import) enginebench\.(?!workloads\b)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "workloads").rglob("*.py") if private.search(p.read_text())]
    assert not offenders, f"import from enginebench's internals: {offenders}"


def test_every_package_folder_is_installed_under_the_enginebench_name() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    # The harness's folder carries the package's name (a source folder); workloads/ installs inside it.
    folders = {"harness/enginebench": "enginebench", "workloads": "enginebench.workloads"}
    on_disk = {".".join((name, *init.parent.relative_to(ROOT / top).parts)) for top, name in folders.items()
               for init in (ROOT / top).rglob("__init__.py")}
    assert set(config["packages"]) == on_disk
    assert config["package-dir"] == {"enginebench": "harness/enginebench", "enginebench.workloads": "workloads"}


def test_pip_install_puts_only_enginebench_into_site_packages(tmp_path: Path) -> None:
    # Built from a copy of the tracked files: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(wheels), str(source)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (wheel,) = wheels.glob("enginebench-*.whl")
    with zipfile.ZipFile(wheel) as z:
        tops = {name.split("/")[0] for name in z.namelist()}
        assert "enginebench/workloads/tasks/spec.py" in z.namelist()
        assert "enginebench/report/templates/report.html.j2" in z.namelist()
    assert tops == {"enginebench", wheel.name.split("-py3")[0] + ".dist-info"}, tops
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True).stdout.strip())
    before = {p.name for p in site.iterdir()}
    out = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    added = {p.name for p in site.iterdir()} - before - {"__pycache__"}
    assert added == {"enginebench", wheel.name.split("-py3")[0] + ".dist-info"}, added
