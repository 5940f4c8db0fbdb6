"""`enginebench new NAME`: a working workload folder to turn into one's own job.

One case, word counting over generated text, written as each engine's own docs write it (Ray Core's
map-reduce example, a Dask bag, Spark's quick-start DataFrame, a Counter in one process), a check
against a reference computed outside every engine, and a pytest file. As generated it passes on all
five engines; docs/your-workload.md walks through making it one's own.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from enginebench.errors import UsageError

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

SPEC = '''"""$title: the workload's vocabulary. Everything engine-neutral lives here: the parameters per
scale, the inputs every engine gets, the reference answer and the check. One file per engine API
beside it (ray.py, dask.py, spark.py, local.py) implements the case; spark-on-ray uses spark.py."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from enginebench import Case, Metric, Params, Timed, Verdict, Workload


def make_lines(params: Params) -> list[str]:
    """The inputs, built once per run and handed to every engine: lines of words drawn from a Zipf
    law over a fixed vocabulary (seeded, so every engine and every run sees the same text)."""
    rng = np.random.default_rng(params["seed"])
    vocabulary = np.array([f"w{i}" for i in range(params["vocabulary"])])
    ranks = np.minimum(rng.zipf(1.3, size=params["n_lines"] * params["words_per_line"]), len(vocabulary)) - 1
    words = vocabulary[ranks].reshape(params["n_lines"], params["words_per_line"])
    return [" ".join(row) for row in words]


def count_words(lines: Sequence[str]) -> dict[str, int]:
    """What every engine must compute, in plain Python: used for the reference and by local.py."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(line.split())
    return dict(counts)


def reference(params: Params, lines: list[str]) -> dict[str, int]:
    """The right answer, computed once per run outside every engine's timers."""
    return count_words(lines)


def check(answer: Any, params: Params, lines: list[str], expected: dict[str, int]) -> Verdict:
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


def summarize(params: Params, lines: list[str], timed: Sequence[Timed], cpus: int) -> dict[str, float]:
    """Figures from the timed repetitions: the headline first."""
    seconds = statistics.median(t.seconds for t in timed)
    return {"lines_per_s": params["n_lines"] / seconds, "words_per_s": params["n_lines"] * params["words_per_line"]
            / seconds}


BASE = {"seed": 0, "vocabulary": 5_000, "words_per_line": 20}

WORKLOAD = Workload(
    name="$name",
    title="$title",
    category="your jobs",
    package=__package__,
    requires_api="$api",
    cases=(
        Case(
            name="count-words",
            description="count every word of generated text lines (map, then reduce by word)",
            params={
                "tiny": {**BASE, "n_lines": 20_000},
                "small": {**BASE, "n_lines": 500_000},
                "medium": {**BASE, "n_lines": 2_000_000},
                "large": {**BASE, "n_lines": 10_000_000},
            },
            primary=Metric("lines_per_s", "lines/s", higher_is_better=True),
            make_inputs=make_lines,
            reference=reference,
            check=check,
            summarize=summarize,
            size_param="n_lines",
            size_unit="line",
        ),
    ),
)
'''

RAY = '''"""Ray Core: the map-reduce of Ray's docs (tasks count chunks of lines, the driver merges their counts)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import ray

from enginebench import EngineContext, Params, cases_of

from .spec import count_words


@ray.remote
def _count(lines: list[str]) -> dict[str, int]:
    return count_words(lines)


def count_words_(ctx: EngineContext, params: Params, lines: list[str]) -> dict[str, int]:
    chunks = _chunks(lines, 4 * ctx.cpus)
    total: Counter[str] = Counter()
    for partial in ray.get([_count.remote(chunk) for chunk in chunks]):
        total.update(partial)
    return dict(total)


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    step = max(1, -(-len(items) // n))
    return [items[i:i + step] for i in range(0, len(items), step)]


CASES = {"count-words": count_words_}
NOTES = {"count-words": "Ray tasks over 4 chunks per CPU, counts merged in the driver"}
'''

DASK = '''"""Dask: a bag of lines, split, flattened and counted with `frequencies` (Dask's own word count)."""

from __future__ import annotations

import dask.bag as db
from distributed import Client

from enginebench import EngineContext, Params


def count_words(ctx: EngineContext, params: Params, lines: list[str]) -> dict[str, int]:
    client: Client = ctx.handle
    bag = db.from_sequence(lines, npartitions=4 * ctx.cpus)
    return dict(client.compute(bag.str.split().flatten().frequencies(sort=False)).result())


CASES = {"count-words": count_words}
NOTES = {"count-words": "dask.bag from the lines, 4 partitions per CPU; split, flatten, frequencies"}
'''

SPARK = '''"""Spark (and spark-on-ray): the DataFrame word count of Spark's quick start (split, explode, group)."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from enginebench import EngineContext, Params


def count_words(ctx: EngineContext, params: Params, lines: list[str]) -> dict[str, int]:
    spark: SparkSession = ctx.handle
    df = spark.createDataFrame([(line,) for line in lines], ["line"]).repartition(4 * ctx.cpus)
    words = df.select(F.explode(F.split(df.line, " ")).alias("word"))
    return {row["word"]: row["count"] for row in words.groupBy("word").count().collect()}


CASES = {"count-words": count_words}
NOTES = {"count-words": "DataFrame: split + explode + groupBy(word).count(), collected to the driver"}
'''

LOCAL = '''"""One process, no engine: the baseline every engine is compared with."""

from __future__ import annotations

from enginebench import EngineContext, Params

from .spec import count_words


def count_words_(ctx: EngineContext, params: Params, lines: list[str]) -> dict[str, int]:
    return count_words(lines)


CASES = {"count-words": count_words_}
NOTES = {"count-words": "collections.Counter over every line in one process"}
'''

TEST = '''"""Tests of $name: the check catches a wrong answer, and the workload runs right on the engines
(ENGINEBENCH_ENGINES, default all five; e.g. ENGINEBENCH_ENGINES=local for a quick run). Run with
`pytest $name/`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from enginebench import Verdict

HERE = Path(__file__).resolve().parent


def test_the_check_names_a_wrong_count() -> None:
    from $name.spec import WORKLOAD, count_words, make_lines  # pytest puts the folder's parent on sys.path

    case = WORKLOAD.case("count-words")
    params = {**case.params["tiny"], "n_lines": 50}
    lines = make_lines(params)
    expected = count_words(lines)
    assert case.check(expected, params, lines, expected) == Verdict(True)
    word = next(iter(expected))
    verdict = case.check({**expected, word: expected[word] + 1}, params, lines, expected)
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
`spark.py` (also spark-on-ray) and `local.py` each implement the case as that engine's docs would.
Replace word counting with your job: see enginebench's docs/your-workload.md.
'''

INIT = '''"""$title: a workload folder (`enginebench run --workload ./$name`)."""
'''

FILES = {"__init__.py": INIT, "spec.py": SPEC, "ray.py": RAY, "dask.py": DASK, "spark.py": SPARK, "local.py": LOCAL,
         "test_$name.py": TEST, "README.md": README}


def write(name: str, where: Path) -> Path:
    """Write the folder `where/name`; refused (nothing written) when the name is not a lower-case identifier,
    clashes with a shipped workload or an importable module, or the folder exists."""
    from enginebench import API_VERSION, registry

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
