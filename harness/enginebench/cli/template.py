"""`enginebench new NAME`: a working workload folder to turn into one's own job.

One case, word counting over generated text files, written as each engine's own docs write it (Ray Core's
map-reduce example, a Dask bag, Spark's quick-start word count, Daft's read_text, a Counter in one process),
a check against a reference computed outside every engine, and a pytest file. As generated it passes on
every engine; docs/your-workload.md walks through making it one's own.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from enginebench.core.errors import UsageError

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

SPEC = '''"""The $name workload's vocabulary. Everything engine-neutral lives here: the parameters per
scale, the input files every engine reads, the reference answer and the check. One file per engine API
beside it (ray.py, dask.py, spark.py, local.py) implements the case; spark-on-ray uses spark.py."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from enginebench import Case, Metric, Params, Timed, Verdict, Workload, data_root, replace_dir_atomically


def make_files(params: Params) -> dict[str, Any]:
    """The inputs: text files of generated lines, written once under the data root ($$ENGINEBENCH_DATA,
    default ./data) and reused by later runs; every engine reads the same files. Lines are words drawn
    from a Zipf law over a fixed vocabulary, seeded. On a cluster, the data root must be a file system
    every node sees at the same path."""
    key = "-".join(f"{k}{params[k]}" for k in ("n_lines", "words_per_line", "vocabulary", "parts", "seed"))
    folder = data_root() / "$name" / key
    if not folder.is_dir():
        try:
            replace_dir_atomically(folder, lambda tmp: _write_parts(params, tmp), overwrite=False)
        except FileExistsError:
            pass  # another process wrote the same files first
    files = sorted(str(p) for p in folder.glob("part-*.txt"))
    return {"folder": str(folder), "files": files}


def _write_parts(params: Params, folder: Path) -> None:
    rng = np.random.default_rng(params["seed"])
    vocabulary = np.array([f"w{i}" for i in range(params["vocabulary"])])
    per_part = -(-params["n_lines"] // params["parts"])
    for part in range(params["parts"]):
        n = min(per_part, params["n_lines"] - part * per_part)
        ranks = np.minimum(rng.zipf(1.3, size=(n, params["words_per_line"])), len(vocabulary)) - 1
        lines = (" ".join(row) for row in vocabulary[ranks])
        (folder / f"part-{part:03d}.txt").write_text("\\n".join(lines) + "\\n")


def count_words(lines: Iterable[str]) -> dict[str, int]:
    """What every engine must compute, in plain Python: the reference, and the work of each task."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(line.split())
    return dict(counts)


def read_lines(files: Sequence[str]) -> Iterable[str]:
    for name in files:
        with open(name) as f:
            yield from f


def reference(params: Params, inputs: dict[str, Any]) -> dict[str, int]:
    """The right answer, computed once per run outside every engine's timers."""
    return count_words(read_lines(inputs["files"]))


def check(answer: Any, params: Params, inputs: dict[str, Any], expected: dict[str, int]) -> Verdict:
    """Right when every word's count equals the reference's; the reason names what differs."""
    got = {str(k): int(v) for k, v in dict(answer).items()}
    if got == expected:
        return Verdict(True)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(w for w in set(got) & set(expected) if got[w] != expected[w])
    parts = [f"{len(missing)} words missing (e.g. {missing[0]!r})" if missing else "",
             f"{len(extra)} unexpected words (e.g. {extra[0]!r})" if extra else "",
             f"{len(wrong)} counts differ (e.g. {wrong[0]!r}: got {got[wrong[0]]}, expected {expected[wrong[0]]})"
             if wrong else ""]
    return Verdict(False, "; ".join(p for p in parts if p))


def summarize(params: Params, inputs: dict[str, Any], timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    """Figures from the timed repetitions: the headline first."""
    seconds = statistics.median(t.seconds for t in timed)
    words = params["n_lines"] * params["words_per_line"]
    return {"lines_per_s": params["n_lines"] / seconds, "words_per_s": words / seconds}


BASE = {"seed": 0, "vocabulary": 5_000, "words_per_line": 20, "parts": 8}

WORKLOAD = Workload(
    name="$name",
    title="$title",
    category="your jobs",
    package=__package__,
    requires_api="$api",
    cases=(
        Case(
            name="count-words",
            description="count every word of text files (read, split, count by word)",
            params={
                "tiny": {**BASE, "n_lines": 20_000},
                "small": {**BASE, "n_lines": 1_000_000},
                "medium": {**BASE, "n_lines": 10_000_000, "parts": 64},
                "large": {**BASE, "n_lines": 100_000_000, "parts": 512},
            },
            primary=Metric("lines_per_s", "lines/s", higher_is_better=True),
            make_inputs=make_files,
            reference=reference,
            check=check,
            summarize=summarize,
            size_param="n_lines",
            size_unit="line",
        ),
    ),
)
'''

RAY = '''"""Ray Core: the map-reduce of Ray's docs. A task counts each file; the driver merges the counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import ray

from enginebench import EngineContext, Params

from .spec import count_words, read_lines


@ray.remote
def _count_file(name: str) -> dict[str, int]:
    return count_words(read_lines([name]))


def count_words_(ctx: EngineContext, params: Params, inputs: dict[str, Any]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for partial in ray.get([_count_file.remote(name) for name in inputs["files"]]):
        total.update(partial)
    return dict(total)


CASES = {"count-words": count_words_}
NOTES = {"count-words": "a Ray task per file counts its words; the driver merges the partial counts"}
'''

DASK = '''"""Dask: a bag of the files' lines, split, flattened and counted with `frequencies` (Dask's word count)."""

from __future__ import annotations

from typing import Any

import dask.bag as db
from distributed import Client

from enginebench import EngineContext, Params


def count_words(ctx: EngineContext, params: Params, inputs: dict[str, Any]) -> dict[str, int]:
    client: Client = ctx.handle
    bag = db.read_text(inputs["files"])  # a partition per file
    return dict(client.compute(bag.str.split().flatten().frequencies(sort=False)).result())


CASES = {"count-words": count_words}
NOTES = {"count-words": "dask.bag.read_text (a partition per file); split, flatten, frequencies"}
'''

SPARK = '''"""Spark (and spark-on-ray): the word count of Spark's quick start, as DataFrames: read the text,
split, explode, group by word."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from enginebench import EngineContext, Params


def count_words(ctx: EngineContext, params: Params, inputs: dict[str, Any]) -> dict[str, int]:
    spark: SparkSession = ctx.handle
    lines = spark.read.text(inputs["files"])
    words = lines.select(F.explode(F.split(lines.value, " ")).alias("word")).where(F.col("word") != "")
    return {row["word"]: row["count"] for row in words.groupBy("word").count().collect()}


CASES = {"count-words": count_words}
NOTES = {"count-words": "spark.read.text; split + explode + groupBy(word).count(), collected to the driver"}
'''

DAFT = '''"""Daft: the files read as text (a row per line), split, exploded and grouped by word, on Daft's runner."""

from __future__ import annotations

from typing import Any

import daft
from daft import col

from enginebench import EngineContext, Params


def count_words(ctx: EngineContext, params: Params, inputs: dict[str, Any]) -> dict[str, int]:
    lines = daft.read_text(inputs["files"])
    words = lines.select(col("text").split(" ").explode().alias("word")).where(col("word") != "")
    counted = words.groupby("word").agg(col("word").count().alias("count")).to_pydict()
    return dict(zip(counted["word"], counted["count"], strict=True))


CASES = {"count-words": count_words}
NOTES = {"count-words": "daft.read_text; split + explode + groupby(word).count, collected to the driver"}
'''

LOCAL = '''"""One process, no engine: the baseline every engine is compared with."""

from __future__ import annotations

from typing import Any

from enginebench import EngineContext, Params

from .spec import count_words, read_lines


def count_words_(ctx: EngineContext, params: Params, inputs: dict[str, Any]) -> dict[str, int]:
    return count_words(read_lines(inputs["files"]))


CASES = {"count-words": count_words_}
NOTES = {"count-words": "collections.Counter over every line, one file after another, in one process"}
'''

TEST = '''"""Tests of the $name workload: the check catches a wrong answer, and the workload runs right on the engines
(ENGINEBENCH_ENGINES, default all; e.g. ENGINEBENCH_ENGINES=local for a quick run). Run with
`pytest $name/`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from enginebench import Verdict

HERE = Path(__file__).resolve().parent


def test_the_check_names_a_wrong_count() -> None:
    from $name.spec import WORKLOAD, count_words  # pytest puts the folder's parent on sys.path

    case = WORKLOAD.case("count-words")
    params = case.params["tiny"]
    expected = count_words(["a b a", "b c"])
    assert case.check(dict(expected), params, {}, expected) == Verdict(True)
    word = "a"
    verdict = case.check({**expected, word: expected[word] + 1}, params, {}, expected)
    assert not verdict.ok and f"{word!r}: got {expected[word] + 1}" in verdict.reason


def test_every_engine_answers_right(tmp_path: Path) -> None:
    engines = os.environ.get("ENGINEBENCH_ENGINES", "all")
    command = [str(Path(sys.executable).parent / "enginebench"), "run", "--workload", str(HERE), "--engines", engines,
               "--repeat", "1", "--warmup", "0", "--out", str(tmp_path), "--no-report"]
    # run outside this folder: with it on sys.path, `import ray` would find ray.py here
    out = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    # exit 0: every attempt ran and every answer was checked right (1: some case failed; 2: bad input)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
'''

README = '''# $title

A workload of your own for [enginebench](https://github.com/enginebench/enginebench): the same job on
Ray, Dask, Spark, Spark-on-Ray and one process, timed and checked.

    enginebench run --workload ./$name              # every engine, tiny size, ends in an HTML report
    enginebench run --workload ./$name --ladder 1x,2x,4x,8x   # fixed and per-line cost per engine
    pytest $name/                                   # its tests (ENGINEBENCH_ENGINES=local for a quick run)

`spec.py` holds the parameters per scale, the inputs, the reference and the check; `ray.py`, `dask.py`,
`spark.py` (also spark-on-ray), `daft.py` and `local.py` each implement the case as that engine's docs would.
Replace word counting with your job: see enginebench's docs/your-workload.md.
'''

INIT = '''"""$title: a workload folder (`enginebench run --workload ./$name`)."""
'''

FILES = {"__init__.py": INIT, "spec.py": SPEC, "ray.py": RAY, "dask.py": DASK, "spark.py": SPARK, "daft.py": DAFT,
         "local.py": LOCAL, "test_$name.py": TEST, "README.md": README}


def write(name: str, where: Path) -> Path:
    """Write the folder `where/name`; refused (nothing written) when the name is not a lower-case identifier,
    clashes with a shipped workload or an importable module, or the folder exists."""
    from enginebench.core.version import API_VERSION
    from enginebench.plan import registry

    if not NAME.fullmatch(name):
        raise UsageError(f"workload name {name!r} (accepted: lower-case letters, digits and _, starting with a letter, "
                         "up to 40; it names the folder and the Python package)")
    if name in registry.WORKLOADS:
        raise UsageError(f"workload name {name!r} is a shipped workload (accepted: another name)")
    import importlib.util

    if importlib.util.find_spec(name) is not None:
        raise UsageError(f"workload name {name!r} is also an importable module, which its files would clash with "
                         "(accepted: another name)")
    folder = where / name
    if folder.exists():
        raise UsageError(f"{folder} already exists (accepted: a new folder; nothing was written)")
    title = name.replace("_", " ").capitalize() + " (word count: replace with your job)"
    values = {"name": name, "title": title, "api": API_VERSION}
    folder.mkdir(parents=True)
    for filename, text in FILES.items():
        (folder / Template(filename).substitute(values)).write_text(Template(text).substitute(values))
    return folder
