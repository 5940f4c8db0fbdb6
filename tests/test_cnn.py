"""The cnn workload: the CIFAR-10 loader on synthetic files in the real format (archives, md5,
truncation), the data command, the shared recipe's rules, and training on every engine at tiny scale
with the accuracy check."""

from __future__ import annotations

import dataclasses
import pickle
import tarfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import engines_for, prepared_case, ray_data_settings, run_plan

from enginebench.cli.main import main
from enginebench.measure.attempt import Prepared, Session
from enginebench.workloads.cnn import data
from enginebench.workloads.cnn.spec import PARAMS, WORKLOAD, check, expected_images, world_size


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    return data.write_synthetic(tmp_path / "src" / data.FOLDER, 50, 20, seed=7)


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# -- the data set ----------------------------------------------------------------------------------
def test_synthetic_set_has_the_exact_cifar10_file_format(small_set: Path) -> None:
    assert sorted(p.name for p in small_set.iterdir()) == sorted(data.FILES)
    with (small_set / "data_batch_2").open("rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"batch_label"] == b"training batch 2 of 5"
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (10, 3072)
    assert isinstance(batch[b"labels"], list) and all(isinstance(v, int) and 0 <= v <= 9 for v in batch[b"labels"])
    assert len(batch[b"filenames"]) == 10 and isinstance(batch[b"filenames"][0], bytes)
    with (small_set / "batches.meta").open("rb") as f:
        assert pickle.load(f, encoding="bytes")[b"label_names"][0] == b"airplane"
    ds = data.load(small_set.parent)  # the parent folder works too
    assert ds.train_x.shape == (50, 3072) and ds.test_x.shape == (20, 3072) and ds.label_names[9] == "truck"
    x, y = data.synthetic_arrays(50, 7, 0)
    assert np.array_equal(ds.train_x, x) and np.array_equal(ds.train_y, y)  # deterministic from the seed
    assert not np.array_equal(data.synthetic_arrays(50, 8, 0)[0], x)
    assert not np.array_equal(data.synthetic_arrays(20, 7, 1)[0], x[:20])  # test split drawn apart


def test_rows_are_channel_planes_normalized_with_the_cifar10_mean_and_std() -> None:
    from enginebench.workloads.cnn.model import MEAN, STD, normalize

    row = np.zeros((1, 3072), dtype=np.uint8)
    row[0, 1024:2048] = 255  # the green plane
    x = normalize(row)
    assert x.shape == (1, 3, 32, 32) and x.dtype == np.float32
    assert np.allclose(x[0, 1], (1 - MEAN[1]) / STD[1]) and np.allclose(x[0, 0], -MEAN[0] / STD[0])


def test_archive_is_extracted_only_with_the_right_md5(small_set: Path, tmp_path: Path) -> None:
    archive = data.write_archive(small_set, tmp_path / data.ARCHIVE_NAME)
    with pytest.raises(data.DataError, match=f"expected {data.PUBLISHED_MD5} \\(the published md5 of"):
        data.extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out" / data.FOLDER).exists()
    folder = data.extract_archive(archive, tmp_path / "out", data.md5sum(archive))
    assert data.load(folder).train_x.shape == (50, 3072)
    with pytest.raises(data.DataError, match="already exists; not overwriting"):
        data.extract_archive(archive, tmp_path / "out", data.md5sum(archive))


def test_truncated_files_give_a_clear_error(small_set: Path, tmp_path: Path) -> None:
    archive = data.write_archive(small_set, tmp_path / "a.tar.gz")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(data.DataError, match="md5 of .*cut.tar.gz is"):
        data.extract_archive(cut, tmp_path / "x")
    with pytest.raises(data.DataError, match="cut.tar.gz is truncated or corrupt"):
        data.extract_archive(cut, tmp_path / "x", data.md5sum(cut))  # md5 of a bad mirror matches: still caught
    batch = small_set / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(data.DataError, match="data_batch_3 is truncated or corrupt"):
        data.load(small_set)
    batch.unlink()
    with pytest.raises(data.DataError, match="data_batch_3 is missing"):
        data.load(small_set)


def test_data_command_writes_imports_and_never_overwrites(tmp_path: Path, small_set: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "syn"
    args = ["data", "cifar10", "--synthetic", "--train-images", "30", "--test-images", "10", "--seed", "1"]
    assert main([*args, "--out", str(out)]) == 0
    assert "30 training + 10 test images" in capsys.readouterr().out
    stamp = (out / data.FOLDER / "data_batch_1").stat().st_mtime_ns
    assert main([*args, "--out", str(out)]) == 0  # the same set: kept, not rewritten
    assert "already present, identical; not rewritten" in capsys.readouterr().out
    assert (out / data.FOLDER / "data_batch_1").stat().st_mtime_ns == stamp
    assert main([*args[:3], "--train-images", "40", "--out", str(out)]) == 2  # a different set there: refused
    assert "not overwriting" in _error_line(capsys)
    assert main(["data", "cifar10", "--path", str(small_set), "--out", str(tmp_path / "imp")]) == 0
    assert "50 training + 20 test images" in capsys.readouterr().out
    archive = data.write_archive(small_set, tmp_path / data.ARCHIVE_NAME)
    assert main(["data", "cifar10", "--archive", str(archive), "--out", str(tmp_path / "arc")]) == 2
    assert "md5 of" in _error_line(capsys)
    assert main(["data", "cifar10", "--archive", str(archive), "--md5", data.md5sum(archive),
                 "--out", str(tmp_path / "arc")]) == 0
    capsys.readouterr()
    (small_set / "data_batch_1").write_bytes(b"\x80\x02}q")
    assert main(["data", "cifar10", "--path", str(small_set), "--out", str(tmp_path / "bad")]) == 2
    assert "data_batch_1 is truncated or corrupt" in _error_line(capsys)
    assert not (tmp_path / "bad").exists()


def test_data_command_refuses_a_path_that_differs_from_the_set_already_there(
        tmp_path: Path, small_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["data", "cifar10", "--path", str(small_set), "--out", str(out)]) == 0
    assert main(["data", "cifar10", "--path", str(small_set), "--out", str(out)]) == 0
    assert "already present, identical" in capsys.readouterr().out
    other = data.write_synthetic(tmp_path / "other" / data.FOLDER, 50, 20, seed=8)  # same shape, other images
    kept = {f: data.md5sum(out / data.FOLDER / f) for f in data.FILES}
    assert main(["data", "cifar10", "--path", str(other), "--out", str(out)]) == 2
    assert "already holds a different data set" in _error_line(capsys)
    (other / "test_batch").write_bytes(b"\x80\x02}q")  # a broken source is reported, never taken for the set there
    assert main(["data", "cifar10", "--path", str(other), "--out", str(out)]) == 2
    assert "test_batch is truncated or corrupt" in _error_line(capsys)
    assert {f: data.md5sum(out / data.FOLDER / f) for f in data.FILES} == kept
    (out / data.FOLDER / "data_batch_2").write_bytes(b"\x80\x02}q")  # both broken: the source is named first
    assert main(["data", "cifar10", "--path", str(other), "--out", str(out)]) == 2
    assert f"{other / 'test_batch'} is truncated or corrupt" in _error_line(capsys)
    assert [p.name for p in out.iterdir()] == [data.FOLDER]  # nothing left beside it
    assert (out / data.FOLDER / "data_batch_2").read_bytes() == b"\x80\x02}q"  # the broken set there is kept


@pytest.mark.parametrize("argv", [
    ["data", "cifar10"],
    ["data", "cifar10", "--path", "/nonexistent"],
    ["data", "cifar10", "--seed", "3", "--download"],
    ["data", "cifar10", "--archive", "x.tar.gz", "--md5", "nothex"],
])
def test_bad_data_arguments_are_one_line_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    _error_line(capsys)


@pytest.mark.parametrize("argv", [["data", "cifar10", "--synthetic", "--path", "x"],
                                  ["data", "cifar10", "--synthetic", "--seed", "-1"],
                                  ["data", "cifar10", "--sf", "1", "--synthetic"],
                                  ["data", "tpch", "--synthetic"]])
def test_conflicting_data_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    _error_line(capsys)


# -- the recipe's rules ----------------------------------------------------------------------------
def test_device_option_reaches_the_params_and_cuda_without_a_gpu_is_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from enginebench.contract.spec import use_gpu
    from enginebench.core.budget import Budget
    from enginebench.plan.plan import case_params
    from enginebench.results.records import Plan

    case = WORKLOAD.case("train")
    plan = Plan(cases={"cnn": ("train",)}, engines=("local",), scale="tiny", budget=Budget(2, 2**30),
                device="cpu")
    assert case_params(plan, case)["device"] == "cpu"
    assert case_params(dataclasses.replace(plan, device="auto"), case)["device"] == "auto"
    assert not use_gpu({"device": "cpu"}, True, "x") and use_gpu({"device": "auto"}, True, "x")
    assert not use_gpu({"device": "auto"}, False, "x") and use_gpu({}, True, "x")
    with pytest.raises(RuntimeError, match="--device cuda, but no GPU is visible to the Ray cluster"):
        use_gpu({"device": "cuda"}, False, "the Ray cluster")
    assert main(["run", "--workload", "tasks", "--device", "cpu", "--no-report"]) == 2
    assert "no case of the plan trains on a device (accepted with: cnn, gbdt)" in _error_line(capsys)
    if not torch.cuda.is_available():
        assert main(["run", "--workload", "cnn", "--device", "cuda", "--no-report"]) == 2
        assert "--device cuda: this machine has no GPU" in _error_line(capsys)


def test_world_size_splits_the_global_batch_evenly() -> None:
    p = PARAMS["tiny"]
    assert world_size(p, cpus=2) == 2 and world_size(p, cpus=1) == 1 and world_size(p, cpus=3) == 2
    assert world_size(p, cpus=16, gpus=1) == 1 and world_size({**p, "workers": 1}, cpus=2) == 1


def test_shards_are_disjoint_equal_and_take_the_same_number_of_steps() -> None:
    from enginebench.workloads.cnn.model import Recipe, shard_rows

    recipe = Recipe.from_params(PARAMS["tiny"])
    a, b = shard_rows(2000, recipe, 0, 2), shard_rows(2000, recipe, 1, 2)
    assert a == (0, 992) and b == (992, 1984)  # 31 steps x 32 images each; the remainder is dropped
    assert shard_rows(2000, recipe, 0, 1) == (0, 1984)


#: One epoch's coverage when every image of the tiny set was used exactly once.
ONCE = {"indices": 2048, "distinct": 2048, "repeated_in_a_rank": 0, "shared_between_ranks": 0}


def _good_answer() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(params, inputs, an answer the check accepts) at tiny, two ranks."""
    p = PARAMS["tiny"]
    inputs = {"train_y": np.zeros(2048), "test_y": np.zeros(512)}
    hist = [{"epoch": e + 1, "test_accuracy": 0.9, "elapsed_s": 1.0, "test_images": 512, "coverage": ONCE}
            for e in range(p["epochs"])]
    hist[-1]["weight_hashes"] = ["ab12", "ab12"]
    return p, inputs, {"history": hist, "images": expected_images(p, inputs), "final_accuracy": 0.93, "world_size": 2}


def test_check_wants_all_images_the_target_and_local_within_3_points() -> None:
    p, inputs, good = _good_answer()
    assert check(good, p, inputs, 0.95).ok
    far = check({**good, "final_accuracy": 0.90}, p, inputs, 0.95)
    assert not far.ok and "5.0 points from the local loop's 0.950" in far.reason
    orders = {"low": 0.94, "high": 0.99, "accuracies": [0.94, 0.97, 0.99]}
    assert check({**good, "final_accuracy": 0.915}, p, inputs, orders).ok  # within 3 points of the range
    below = check({**good, "final_accuracy": 0.90}, p, inputs, orders)
    assert not below.ok and "4.0 points from the local loop's 0.940-0.990 over 3 sample orders" in below.reason
    # spark-on-ray's band is its own measured spread (spec.ENGINE_TOLERANCE): 5.7 points off passes there only.
    off = {**good, "final_accuracy": 0.883}
    assert check({**off, "engine": "spark-on-ray"}, p, inputs, orders).ok
    assert not check({**off, "engine": "ray"}, p, inputs, orders).ok
    beyond = check({**good, "final_accuracy": 0.86, "engine": "spark-on-ray"}, p, inputs, orders)
    assert not beyond.ok and "(allowed 7.2)" in beyond.reason
    low = check({**good, "final_accuracy": 0.70}, p, inputs, 0.70)
    assert not low.ok and "below the scale's target 0.8" in low.reason
    short = check({**good, "images": good["images"] - 64}, p, inputs, 0.95)
    assert not short.ok and "trained on 6080 images, expected 6144" in short.reason


def _with(good: dict[str, Any], epoch: int, **entry: Any) -> dict[str, Any]:
    history = [dict(e) for e in good["history"]]
    history[epoch].update(entry)
    return {**good, "history": history}


def test_check_wants_each_image_once_equal_weights_and_the_whole_test_set() -> None:
    p, inputs, good = _good_answer()
    once = ONCE
    shared = check(_with(good, 1, coverage={**once, "distinct": 1024, "shared_between_ranks": 1024}), p, inputs, 0.95)
    assert not shared.ok and "epoch 2: ranks trained on the same images (1,024 shared between ranks" in shared.reason
    twice = check(_with(good, 0, coverage={**once, "distinct": 1024, "repeated_in_a_rank": 1024}), p, inputs, 0.95)
    assert not twice.ok and "1,024 repeated within a rank" in twice.reason
    missing = check(_with(good, 2, coverage={**once, "distinct": 2047}), p, inputs, 0.95)
    assert not missing.ok and "2,047 distinct of 2,048 trained" in missing.reason
    diverged = check(_with(good, 2, weight_hashes=["ab12", "cd34"]), p, inputs, 0.95)
    assert not diverged.ok and "different weights" in diverged.reason and "no all-reduce" in diverged.reason
    one_hash = check(_with(good, 2, weight_hashes=["ab12"]), p, inputs, 0.95)
    assert not one_hash.ok and "1 weight hashes reported for 2 ranks" in one_hash.reason
    half_test = check(_with(good, 0, test_images=256), p, inputs, 0.95)
    assert not half_test.ok and "evaluated on 256 test images, the test set has 512" in half_test.reason


# -- training on every engine ----------------------------------------------------------------------
def test_a_zero_learning_rate_is_recorded_wrong(data_root: Path, tmp_path: Path) -> None:
    case = WORKLOAD.case("train")
    broken = dataclasses.replace(case, params={**case.params, "tiny": {**PARAMS["tiny"], "lr": 0.0, "epochs": 1}})
    wl = dataclasses.replace(WORKLOAD, cases=(broken,))
    runner, _ = run_plan(tmp_path, wl, ("local",), repeat=1, warmup=0)
    (rec,) = runner.records
    assert rec.status == "wrong" and "below the scale's target 0.8" in rec.reason, rec.reason


@pytest.mark.engine
@pytest.mark.parametrize("started", engines_for("cnn"), indirect=True, scope="session")
def test_every_engine_trains_to_the_target_and_agrees_with_local(started: Session, data_root: Path,
                                                                 tmp_path: Path) -> None:
    engine = started.name
    runner, _ = run_plan(tmp_path, "cnn", (engine,), repeat=1, warmup=0, session=started)
    (rec,) = runner.records
    if rec.status == "wrong" and "final test accuracy" in rec.reason:
        # Known and open (issue #24): where ranks read a streaming split, the order in which blocks
        # reach them can vary with timing, and with it the final accuracy. In the clean-clone CI runs of
        # 2026-11-29 it left the accuracy band once on ray (0.752, not reproduced in six runs alone), every
        # coverage and weight clause right (spark-on-ray's misses came from the Spark hand-off's order,
        # now sorted). One more training keeps this test about whether the engine trains correctly; a
        # second miss fails it. The product still records such a run `wrong`.
        warnings.warn(f"{engine}: {rec.reason}; training once more", stacklevel=1)
        (tmp_path / "again").mkdir()
        runner, _ = run_plan(tmp_path / "again", "cnn", (engine,), repeat=1, warmup=0, session=started)
        (rec,) = runner.records
    assert rec.status == "ok", f"{engine}: {rec.status} {rec.reason}\n{rec.detail}"
    m = rec.metrics
    assert m["final_accuracy"] >= PARAMS["tiny"]["target_accuracy"]
    ref = rec.notes["reference"]  # the local loop over 5 sample orders
    accs = ref["accuracies"]
    assert len(accs) == 5 and (ref["low"], ref["high"]) == (min(accs), max(accs))
    assert ref["low"] - 0.03 <= m["final_accuracy"] <= ref["high"] + 0.03
    assert m["images_per_s"] > 0 and m["epoch_s"] > 0
    # The headline: time to the target from the call's start, which includes loading the data.
    assert rec.headline == m["time_to_target_s"] and not rec.higher_is_better
    assert 0 < m["load_s"] < m["time_to_target_s"] and 0 < m["e2e_images_per_s"] < m["images_per_s"]
    assert m["load_s"] <= m["job_start_s"] < m["time_to_target_s"]  # rank 0 trains after the data is in place
    # The reference was trained once, in the inputs phase: this engine's checks do not carry it.
    assert rec.phases["reference"] > rec.phases["check"] and rec.phases["check"] < 1.0
    # The device comes from the record (CI has no GPU; on a GPU machine engines that see one use it):
    # one rank per GPU there, one per budgeted CPU here; NCCL on CUDA, gloo on CPU.
    device = rec.notes["device"]
    assert device in ("cpu", "cuda")
    world = rec.notes["world_size"]
    assert m["world_size"] == world
    if engine == "local":
        assert world == 1 and rec.notes["backend"] == "none"
    elif device == "cuda":
        import torch

        assert 1 <= world <= torch.cuda.device_count() and rec.notes["backend"] == "nccl"
    else:
        assert world == 2 and rec.notes["backend"] == "gloo"
    curve = rec.series["test_accuracy"]  # one point per epoch: the per-epoch reports arrived
    assert len(curve) == PARAMS["tiny"]["epochs"] and curve[-1][1] == m["final_accuracy"]
    assert all(t1 < t2 for (t1, _), (t2, _) in zip(curve, curve[1:], strict=False))
    assert rec.resources["peak_rss_bytes"] > 0  # peak memory of the engine's process tree


#: The variants' test runs tiny on CPUs (barrier-tasks trains on CPUs only), all three epochs: at two, the
#: accuracy still climbs steeply (0.54 after the first) and a spark-on-ray call whose sorted hand-off cut its
#: shards unluckily ended at 0.654 against the local loop's 0.938-0.955 (measured 2026-12-07).
TINY_CPU = {**PARAMS["tiny"], "device": "cpu"}
#: Each engine's ways to write the case, its default first (`enginebench variants`).
VARIANTS = {"dask": ["array-persist", "scatter-shards", "scatter-raw"],
            "spark": ["distributor", "local-mode", "dataframe-partitions", "barrier-tasks"],
            "spark-on-ray": ["normalize-in-spark", "normalize-in-ray", "parquet-handoff", "ray-default-shuffle"]}
#: The variants each test trains beside the default: all of them, but spark-on-ray's hand-off forms (normalize-in-ray,
#: parquet-handoff), about 30 s each: their answers were checked by the variant study that measured them
#: (docs/results/variants-cnn-sides-tiny.json) and the hand-off's shuffle setting, the one they share with
#: the default, is the variant kept here.
TRAINED = {**{engine: names[1:] for engine, names in VARIANTS.items()}, "spark-on-ray": ["ray-default-shuffle"]}


@pytest.fixture(scope="module")
def tiny_cpu(data_root: Path) -> Iterator[Prepared]:
    yield from prepared_case(WORKLOAD.case("train"), TINY_CPU)


@pytest.mark.engine
@pytest.mark.parametrize("started", tuple(VARIANTS), indirect=True, scope="session")
def test_every_variant_of_the_dask_and_spark_sides_trains_a_right_answer(started: Session, tiny_cpu: Prepared) -> None:
    """Each variant a study measures against the default computes an answer the check accepts: every image
    once per epoch, the same weights on every rank, the whole test set, the accuracy of the local loop."""
    if started.ctx is None:
        assert started.start() is not None, started.info.reason
    assert started.ctx is not None
    found = WORKLOAD.variants(started.cls.api, "train", started.name)
    assert list(found) == VARIANTS[started.name]
    before = ray_data_settings() if started.name == "spark-on-ray" else {}
    for name in TRAINED[started.name]:
        got = found[name].implementation(started.ctx, TINY_CPU, tiny_cpu.inputs)  # type: ignore[operator,misc]
        verdict = check(got, TINY_CPU, tiny_cpu.inputs, tiny_cpu.reference)
        assert verdict.ok, f"{started.name}:{name}: {verdict.reason}"
        assert got["engine"] == started.name and got["world_size"] == 2 and got["backend"] == "gloo"
        assert 0 < got["load_s"] <= got["history"][0]["job_start_s"] < got["history"][-1]["elapsed_s"]
    if started.name == "spark-on-ray":  # the hand-off's shuffle setting is the call's own
        assert ray_data_settings() == before


def test_archive_members_outside_the_folder_are_not_extracted(small_set: Path, tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(small_set, arcname=data.FOLDER)
        tar.add(small_set / "batches.meta", arcname="../escaped")
    data.extract_archive(archive, tmp_path / "dest", data.md5sum(archive))
    assert not (tmp_path / "escaped").exists()


def test_a_synthetic_set_is_written_whole_or_not_at_all_and_a_lost_race_keeps_the_winner(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    dest = data.synthetic_dir(10, 5, 1, tmp_path)
    write = data._write_batches

    def crash(tmp: Path, *args: Any) -> None:
        write(tmp, *args)
        raise OSError("disk full")

    monkeypatch.setattr(data, "_write_batches", crash)
    with pytest.raises(OSError, match="disk full"):
        data.write_synthetic(dest, 10, 5, 1)
    assert list(dest.parent.iterdir()) == []  # neither a half-written set nor its temporary folder

    def another_process_finishes_first(tmp: Path, *args: Any) -> None:
        write(tmp, *args)
        shutil.copytree(tmp, dest)

    monkeypatch.setattr(data, "_write_batches", another_process_finishes_first)
    ds = data.ensure_synthetic(10, 5, 1, tmp_path)
    assert (len(ds.train_y), len(ds.test_y)) == (10, 5) and [p.name for p in dest.parent.iterdir()] == [data.FOLDER]
