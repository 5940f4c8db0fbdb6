"""Generated tables in the docs: every measured table is made from a results file committed beside it.

A page marks a generated block with two HTML comments (invisible on GitHub and in the docs site):

    <!-- enginebench:generate matrix from=results/quick-tiny.json workloads=tasks,etl -->
    ...whatever `enginebench docs tables` last wrote here...
    <!-- enginebench:end -->

`from` is the results file, relative to the page, or several joined by commas: repeated runs of one plan (the
figures are the last file's, and a case whose median moved more than 1.3x between the runs is marked unstable
with its spread), or ladders of different workloads side by side (the guide). `regime=` names ladder files
whose lines say which regime each case of a one-size run is in (the verdicts say it). The kinds are declared
with the report's sections (`report.sections.kinds()`: each section's `kinds`, and DOCS_ONLY) and rendered by
enginebench.report.tables: matrix, verdicts, spread (repeated runs: each cell's medians across them and their
spread), metrics (workload=W case=C [columns=a,b,@cpu]), ladder ([workload=W] [case=C]: fixed and per-unit
cost per engine from a file `enginebench run --ladder` wrote), starts, failures, run (what the run did and
where it came from, in sentences), releases (each engine run at two releases in one run, `--engines
ray,ray@2.55.1`: case by case, the older and the newer release, their ratio and verdict), predictions
(from=NEAR.json,FAR.json[,...] [workload=W]: the near ladder's lines against the far ladders' sizes,
`results.farout`), guide ([at=PARAM=SIZE] [price=AMOUNT/core-hour] [form=summary]: which engine when, per
category, `report.guide`) and variants ([workload=W] [case=C]: a variant study's table, from a file
`enginebench variants` wrote). Every block ends with the sentence naming its results file, run, date and
commit. `enginebench docs tables` rewrites every block of README.md and docs/**/*.md; `--check` (and the test
suite) fails when a block differs from what its results file gives, so a figure cannot drift from its record."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from enginebench.core.errors import UsageError
from enginebench.core.machine import REPO_ROOT
from enginebench.report.sections import Source, kinds
from enginebench.results.records import Run

BLOCK = re.compile(r"(?P<open><!-- enginebench:generate (?P<spec>.*?) -->\n)(?P<body>.*?)"
                   r"(?P<close><!-- enginebench:end -->)", re.S)
OPTIONS = {"from", "workloads", "workload", "case", "columns", "at", "price", "form", "regime", "link"}


@dataclass(frozen=True)
class Block:
    """One generated block of a page: what to make, from which results file."""

    page: Path
    line: int
    kind: str
    options: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def links(self) -> list[str]:
        """The block's results files as the page links them (relative to the page)."""
        return [v for v in self.options["from"].split(",") if v]

    @property
    def sources(self) -> tuple[Path, ...]:
        return tuple((self.page.parent / link).resolve() for link in self.links)

    @property
    def references(self) -> tuple[Path, ...]:
        """The ladder files (`regime=`, relative to the page) that say which regime a one-size run is in."""
        return tuple((self.page.parent / v).resolve() for v in self.options.get("regime", "").split(",") if v)


def parse(spec: str, page: Path, line: int) -> Block:
    """A block's opening comment -> Block; a malformed one is a one-line UsageError naming the line."""
    words = shlex.split(spec)
    known = kinds()
    if not words or words[0] not in known:
        raise UsageError(f"{page}:{line}: unknown table kind {words[0] if words else ''!r} "
                         f"(accepted: {', '.join(known)})")
    options: dict[str, str] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or key not in OPTIONS:
            raise UsageError(f"{page}:{line}: bad option {word!r} (accepted: KEY=VALUE with KEY one of "
                             f"{', '.join(sorted(OPTIONS))})")
        options[key] = value
    if "from" not in options:
        raise UsageError(f"{page}:{line}: {words[0]} needs from=RESULTS.json (a results file relative to the page)")
    needs = known[words[0]].needs
    if not set(needs) <= options.keys():
        raise UsageError(f"{page}:{line}: {words[0]} needs {' and '.join(f'{n}=NAME' for n in needs)}")
    return Block(page, line, words[0], options)


def render(block: Block, source: Source) -> str:
    """The Markdown a block holds: what its kind makes (`sections.Kind`; a table or sentences) and the
    sentence naming its source (a results file, once loaded, is a `Source` however many blocks use it)."""
    from enginebench.report.tables import provenance

    kind = kinds()[block.kind]
    try:
        body = kind.render(source, block.options)
    except ValueError as exc:
        raise UsageError(f"{block.where}: {exc}") from None
    gap = " " if kind.paragraph else "\n\n"
    return f"{body}{gap}{provenance(source.runs, block.links)}"


def _loader() -> Callable[[Block], Source]:
    """Load each results file, and build its report model, once however many blocks use it."""
    from enginebench.report.content import Ask
    from enginebench.report.model import build_model
    from enginebench.results.records import load_run

    cache: dict[tuple[tuple[Path, ...], tuple[Path, ...]], Source] = {}

    def load(block: Block) -> Source:
        paths, references = block.sources, block.references
        if (paths, references) not in cache:
            for path in (*paths, *references):
                if not path.is_file():
                    raise UsageError(f"{block.where}: results file {path.name} not found "
                                     f"(accepted: a results JSON relative to {block.page.parent})")
            runs = [load_run(path) for path in paths]
            ask = Ask(references=[(path.name, load_run(path)) for path in references])
            cache[(paths, references)] = Source(runs, build_model(runs, ask=ask))
        return cache[(paths, references)]

    return load


def _parsed(m: re.Match[str], text: str, page: Path) -> Block:
    """The Block of one match of BLOCK in `text`, with the line its opening comment is on."""
    return parse(m["spec"], page, text.count("\n", 0, m.start()) + 1)


def regenerate(text: str, page: Path, load: Callable[[Block], Source] | None = None) -> str:
    """The page's text with every generated block made afresh from its results file."""
    load = load or _loader()

    def fill(m: re.Match[str]) -> str:
        block = _parsed(m, text, page)
        return f"{m['open']}{render(block, load(block))}\n{m['close']}"

    return BLOCK.sub(fill, text)


def pages(root: Path) -> list[Path]:
    """Every page that may hold generated blocks: the README and the docs."""
    readme = root / "README.md"
    return ([readme] if readme.is_file() else []) + sorted((root / "docs").rglob("*.md"))


def stale(paths: Iterable[Path], write: bool) -> list[Path]:
    """The pages whose generated blocks differ from their results files (rewritten when `write`)."""
    load = _loader()
    out = []
    for page in paths:
        text = page.read_text(encoding="utf-8")
        fresh = regenerate(text, page, load)
        if fresh != text:
            out.append(page)
            if write:
                from enginebench.core.files import atomic_write_text

                atomic_write_text(page, fresh)
    return out


def blocks(root: Path) -> list[Block]:
    """Every generated block under `root` (for listing and tests)."""
    out = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        out += [_parsed(m, text, page) for m in BLOCK.finditer(text)]
    return out


def project_root(given: str | None) -> Path:
    """The checkout whose docs to work on: --root, else the one this harness runs from (it has mkdocs.yml)."""
    root = Path(given) if given else REPO_ROOT
    if not (root / "mkdocs.yml").is_file():
        raise UsageError(f"no mkdocs.yml in {root} (accepted: --root pointing at an enginebench checkout)")
    return root


def mkdocs(root: Path, args: list[str], replace: bool = False) -> int:
    """Run mkdocs (from the dev extra) on the project's mkdocs.yml; a missing install is one line.
    replace: become mkdocs (exec) instead of waiting for it, so a long-lived `serve` is the very
    process the user's Ctrl-C or SIGTERM reaches and nothing is left listening."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        raise UsageError("mkdocs-material is not installed (accepted: pip install -c requirements.lock -e '.[dev]'; "
                         "./enginebench installs it)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about MkDocs 2, printed on every build
    command = [sys.executable, "-m", "mkdocs", *args, "-f", str(root / "mkdocs.yml")]
    if replace:
        os.chdir(root)
        os.execve(sys.executable, command, env)
    return subprocess.call(command, cwd=root, env=env)


def matrix_page(report_html: str) -> str:
    """The report's engine-fit section alone (its styles, verdicts, matrix and legend) as a page to
    take the README's picture of: the same HTML the report shows, nothing drawn anew."""
    start = report_html.index('<h2 id="matrix">')
    table_end = report_html.index("</table>", start) + len("</table>")
    legend_end = report_html.index("</p>", table_end) + len("</p>")
    head = report_html[:report_html.index("<body>") + len("<body>")]
    return f"{head}\n{report_html[start:legend_end]}\n</body>\n</html>\n"


def picture(runs: list[Run], out: Path, width: int = 1280) -> Path:
    """A PNG of the report's engine-fit matrix for `runs`, taken by headless Chromium (which must be on
    PATH) and cropped to the content."""
    import shutil
    import subprocess
    import tempfile

    from PIL import Image, ImageChops

    from enginebench.core.files import atomic_write_bytes
    from enginebench.report.html import render

    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        raise UsageError("no Chromium on PATH (accepted: install it, e.g. apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page, shot = Path(tmp) / "matrix.html", Path(tmp) / "shot.png"
        page.write_text(matrix_page(render(runs)), encoding="utf-8")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp}/profile", "--hide-scrollbars", f"--window-size={width},4000",
                        f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
        image = Image.open(shot).convert("RGB")
        box = ImageChops.difference(image, Image.new("RGB", image.size, (255, 255, 255))).getbbox()
        if box is not None:
            pad = 16
            image = image.crop((max(0, box[0] - pad), max(0, box[1] - pad),
                                min(image.width, box[2] + pad), min(image.height, box[3] + pad)))
        buffer = Path(tmp) / "out.png"
        image.quantize(256).save(buffer, optimize=True)  # a palette keeps the PNG small; the page has few colours
        atomic_write_bytes(out, buffer.read_bytes())
    return out
