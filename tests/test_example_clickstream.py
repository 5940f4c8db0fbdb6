"""The worked example of a workload of one's own (docs/examples/clickstream): its data, its check, and its
one case on every engine, right, and wrong where a bug is planted.

The folder is loaded as `--workload docs/examples/clickstream` loads it: imported as the package
`clickstream` and registered with each engine's pickler to travel by value, so engine workers, which do
not have docs/examples on their path, get its functions anyway.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, run_plan

from enginebench.contract.spec import Implementation, Params, Resolved, Staged, Workload
from enginebench.measure.attempt import Session
from enginebench.plan import registry

#: Facts of the tiny data set (seed 0), pinned: a change to the generator shows here first.
TINY_EVENTS, TINY_SESSIONS, TINY_USERS = 20_000, 3_418, 909
#: Pauses of exactly the idle gap inside one user's clicks at tiny: a ">=" rule splits each of them.
TINY_AT_THRESHOLD = 82


@functools.cache
def example() -> Any:
    """The clickstream package, found as a user's folder is (`--workload docs/examples/clickstream`)."""
    name = registry.resolve(str(ROOT / "docs" / "examples" / "clickstream"))
    return sys.modules[registry.workload(name).package]


def workload() -> Workload:
    wl: Workload = example().spec.WORKLOAD
    return wl


def tiny() -> Params:
    return workload().case("sessionize").params_for("tiny")


def test_events_are_cached_and_each_users_clicks_are_unsorted_across_files(data_root: Path) -> None:
    data = example().data
    directory, manifest = data.ensure_events(tiny())
    files = sorted((directory / "events").glob("*.jsonl"))
    assert [f.name for f in files] == sorted(manifest["lines"]) and sum(manifest["lines"].values()) == TINY_EVENTS
    rows = [(i, json.loads(line)) for i, f in enumerate(files) for line in f.read_text().splitlines()]
    assert set(rows[0][1]) == {"user_id", "ts", "url", "bytes"}
    files_of: dict[int, set[int]] = {}
    for i, row in rows:
        files_of.setdefault(row["user_id"], set()).add(i)
    assert sum(len(f) > 1 for f in files_of.values()) > 0.9 * len(files_of)  # most users span files
    first = [r["ts"] for _, r in rows if r["user_id"] == rows[0][1]["user_id"]]
    assert first != sorted(first)  # out of time order within the files
    stamp = files[0].stat().st_mtime_ns
    assert data.ensure_events(tiny()) == (directory, manifest) and files[0].stat().st_mtime_ns == stamp  # cached
    files[1].write_text(files[1].read_text()[:500])  # truncated: detected and rebuilt
    assert data.ensure_events(tiny())[1] == manifest
    assert sum(f.read_text().count("\n") for f in files) == TINY_EVENTS


def test_reference_counts_sessions_by_the_strict_gap_rule(data_root: Path) -> None:
    data = example().data
    inputs = data.prepare(tiny())
    ref = data.reference(tiny(), inputs)
    assert (ref["events"], ref["sessions"], ref["users"]) == (TINY_EVENTS, TINY_SESSIONS, TINY_USERS)
    assert sum(ref["histogram"].values()) == TINY_SESSIONS and list(ref["histogram"])[-1] == "20+"
    ev = data.events(tiny())
    order = np.lexsort((ev["ts"], ev["user_id"]))
    user, ts = ev["user_id"][order], ev["ts"][order]
    same_user = user[1:] == user[:-1]
    assert int((same_user & (np.diff(ts) == data.gap_ms(tiny()))).sum()) == TINY_AT_THRESHOLD
    looser = data.reference({**tiny(), "gap_minutes": 30 - 1 / 60_000}, inputs)  # ">=": one ms less
    assert looser["sessions"] == TINY_SESSIONS + TINY_AT_THRESHOLD


def test_check_names_every_total_that_differs_and_the_histogram(data_root: Path) -> None:
    spec, data = example().spec, example().data
    inputs = data.prepare(tiny())
    ref = data.reference(tiny(), inputs)
    assert spec.check(dict(ref), tiny(), inputs, ref).ok
    split = {**ref, "sessions": ref["sessions"] + 1, "histogram": {**ref["histogram"], "1": ref["histogram"]["1"] + 1}}
    verdict = spec.check(split, tiny(), inputs, ref)
    assert not verdict.ok and verdict.reason == (f"sessions: got {TINY_SESSIONS + 1}, expected {TINY_SESSIONS}; "
                                                 f"sessions of length 1: got {ref['histogram']['1'] + 1}, "
                                                 f"expected {ref['histogram']['1']}")
    everything = spec.check({**ref, **{k: ref[k] + 1 for k in spec.TOTALS}}, tiny(), inputs, ref).reason
    assert everything.startswith(f"events: got {TINY_EVENTS + 1}, expected {TINY_EVENTS}; sessions: got")
    assert everything.endswith("; 4 more differ")  # 8 totals differ, 4 spelled out
    assert "lacks the digest's keys" in spec.check({"sessions": 1}, tiny(), inputs, ref).reason


@pytest.mark.engine
@pytest.mark.parametrize("started", tuple(registry.ENGINES), indirect=True, scope="session")
def test_sessionize_is_right_on_every_engine(started: Session, data_root: Path, tmp_path: Path) -> None:
    runner, path = run_plan(tmp_path, workload(), (started.name,), ("sessionize",), repeat=1, warmup=0,
                            session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"{started.name}: {rec.status} {rec.reason}\n{rec.detail}"
    assert rec.metrics["events_per_s"] > 0 and rec.primary["name"] == "events_per_s"
    assert rec.notes["reference"]["sessions"] == TINY_SESSIONS and rec.notes.get("implementation")
    assert rec.size_param == "n_events" and rec.size_unit == "event"
    assert path.exists()


# -- planted bugs: the real implementation of each engine, fed or driven wrong --------------------------

Plant = Callable[[Implementation], Implementation]


def _subset(inputs: Any, files: list[str], folder: Path) -> dict[str, Any]:
    """The inputs with only `files`, copied into `folder` (made once)."""
    if not folder.exists():
        folder.mkdir()
        for f in files:
            shutil.copy(f, folder)
    kept = sorted(str(f) for f in folder.glob("*.jsonl"))
    return {**inputs, "dir": str(folder), "glob": str(folder / "*.jsonl"), "files": kept}


def _without_last_file(tmp: Path) -> Plant:
    """Reads every file but the last: an implementation that loses one partition."""

    def plant(impl: Implementation) -> Implementation:
        def run(ctx: Any, params: Params, inputs: Any) -> Any:
            return impl(ctx, params, _subset(inputs, inputs["files"][:-1], tmp / "all-but-last"))

        return run

    return plant


def _each_half_alone(tmp: Path) -> Plant:
    """Sessionizes each half of the files on its own and adds the digests: a user's clicks in both halves
    are never brought together, which is what skipping the shuffle by user does."""

    def plant(impl: Implementation) -> Implementation:
        def run(ctx: Any, params: Params, inputs: Any) -> Any:
            files, mid = inputs["files"], len(inputs["files"]) // 2
            a, b = (impl(ctx, params, _subset(inputs, part, tmp / f"half-{i}"))
                    for i, part in enumerate((files[:mid], files[mid:])))
            hist = {k: a["histogram"].get(k, 0) + b["histogram"].get(k, 0) for k in {*a["histogram"], *b["histogram"]}}
            return {**{k: a[k] + b[k] for k in a if k != "histogram"}, "histogram": hist}

        return run

    return plant


def _gap_at_least(tmp: Path) -> Plant:
    """Splits where the gap is >= the threshold instead of > (a threshold one millisecond lower)."""

    def plant(impl: Implementation) -> Implementation:
        def run(ctx: Any, params: Params, inputs: Any) -> Any:
            return impl(ctx, {**params, "gap_minutes": params["gap_minutes"] - 1 / 60_000}, inputs)

        return run

    return plant


#: plant -> what the `wrong` reason must say (a pattern: its numbers are checked below).
PLANTS: dict[str, tuple[Callable[[Path], Plant], str]] = {
    "lost-file": (_without_last_file, rf"events: got (\d+), expected {TINY_EVENTS}"),
    "each-half-alone": (_each_half_alone, rf"sessions: got (\d+), expected {TINY_SESSIONS}; "
                                          rf"users: got (\d+), expected {TINY_USERS}"),
    "gap-at-least": (_gap_at_least, rf"sessions: got {TINY_SESSIONS + TINY_AT_THRESHOLD}, expected {TINY_SESSIONS}"),
}


@dataclasses.dataclass(frozen=True)
class Planted(Workload):
    """The example with one case per plant, each running the real `sessionize` through its plant."""

    plants: dict[str, Plant] = dataclasses.field(default_factory=dict)

    def resolve(self, api: str, case: str, engine: str | None = None) -> Resolved:
        found = super().resolve(api, "sessionize", engine)
        impl = found.implementation
        assert impl is not None and not isinstance(impl, Staged), found.reason
        return Resolved(self.plants[case](impl), found.reason, found.note)


@pytest.mark.engine
@pytest.mark.parametrize("started", tuple(registry.ENGINES), indirect=True, scope="session")
def test_a_lost_file_a_split_user_or_a_wrong_gap_rule_is_reported_wrong_and_named(started: Session, data_root: Path,
                                                                                 tmp_path: Path) -> None:
    real = workload()
    case = real.case("sessionize")
    wl = Planted(**{f.name: getattr(real, f.name) for f in dataclasses.fields(Workload)},
                 plants={name: make(tmp_path) for name, (make, _) in PLANTS.items()})
    wl = dataclasses.replace(wl, cases=tuple(dataclasses.replace(case, name=name) for name in PLANTS))
    runner, _ = run_plan(tmp_path, wl, (started.name,), tuple(PLANTS), repeat=1, warmup=0, session=started)
    lost = Path(example().data.prepare(tiny())["files"][-1]).read_text().count("\n")
    assert [rec.case for rec in runner.records] == list(PLANTS)
    for rec in runner.records:
        assert rec.status == "wrong", f"{started.name}/{rec.case}: {rec.status} {rec.reason}\n{rec.detail}"
        found = re.search(PLANTS[rec.case][1], rec.reason)
        assert found, f"{started.name}/{rec.case}: {rec.reason}"
        if rec.case == "lost-file":
            assert int(found[1]) == TINY_EVENTS - lost
        if rec.case == "each-half-alone":  # a user in both halves: counted twice, sessions cut in two
            assert int(found[1]) > TINY_SESSIONS and int(found[2]) > TINY_USERS
