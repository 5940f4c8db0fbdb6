"""The inference workload: the checkpoint cache and its guards, decoding, the check (with planted
bugs in every engine's real answer) and scoring on every engine at tiny scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import implementation, prepared_case, ray_data_settings, run_plan

from enginebench.measure.attempt import Session
from enginebench.plan import registry
from enginebench.workloads.cnn.data import DataError
from enginebench.workloads.inference import model as m
from enginebench.workloads.inference.spec import REFERENCE_FLOOR, WORKLOAD, check, reference

CASE = WORKLOAD.case("score")
PARAMS = CASE.params_for("tiny")


@pytest.fixture(scope="module")
def prepared(data_root: Path) -> Any:
    """Tiny inputs and reference, made once for the module (the checkpoint trains in ~10 s)."""
    yield from prepared_case(CASE, PARAMS)


def test_the_checkpoint_is_cached_verified_and_a_corrupted_one_is_a_one_line_error(prepared: Any) -> None:
    ckpt = prepared.inputs["checkpoint"]
    path = Path(ckpt.path)
    assert m.verified(path, "simple") == ckpt  # the cache gives back the same weights
    with pytest.raises(DataError, match="holds a 'simple' model, the scale asks for 'resnet18'"):
        m.verified(path, "resnet18")
    good = path.read_bytes()
    try:
        path.write_bytes(good[:-100])  # truncated
        with pytest.raises(DataError, match=r"is corrupted \(sha256 .*remove both files to retrain it") as err:
            m.verified(path, "simple")
        assert "\n" not in str(err.value)
    finally:
        path.write_bytes(good)
    with pytest.raises(DataError, match="does not exist"):
        m.verified(path.with_name("nothing.pt"), "simple")


def test_images_of_the_wrong_shape_are_refused_with_the_row_and_its_size() -> None:
    ok = m.decode([bytes(3072), bytes(3072)])
    assert ok.shape == (2, 3, 32, 32) and ok.dtype == np.float32
    with pytest.raises(ValueError, match=r"image 1 of the batch has 3000 bytes, expected 3072 \(3 x 32 x 32 uint8"):
        m.decode([bytes(3072), bytes(3000)])
    with pytest.raises(ValueError, match=r"images of shape \(1024,\), expected \(3072,\)"):
        m.decode(np.zeros((2, 1024), dtype=np.uint8))


def _answer(ids: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    return {"ids": ids, "labels": labels}


def test_the_check_names_missing_repeated_and_differing_predictions(prepared: Any) -> None:
    inputs, ref = prepared.inputs, prepared.reference
    n, labels = inputs["n"], inputs["reference_labels"]
    ids = np.arange(n)
    assert check(_answer(ids[::-1], labels[::-1]), PARAMS, inputs, ref).ok  # any order, keyed by id
    assert "have no prediction (ids [0, 1," in check(_answer(ids[256:], labels[256:]), PARAMS, inputs, ref).reason
    twice = check(_answer(np.r_[ids, 5], np.r_[labels, labels[5]]), PARAMS, inputs, ref)
    assert "1 images predicted more than once (ids [5])" in twice.reason
    flipped = labels.copy()
    flipped[:2] = (flipped[:2] + 1) % 10  # 2 of 2,048: within 0.1%, but accuracy moves by up to 0.1 points
    assert check(_answer(ids, flipped), PARAMS, inputs, ref).ok
    flipped[:20] = (flipped[:20] + 1) % 10
    bad = check(_answer(ids, flipped), PARAMS, inputs, ref)
    assert not bad.ok and "labels differ from the reference model's on 20 of 2048 images" in bad.reason


def test_a_reference_model_below_its_floor_against_the_true_labels_fails_loudly(prepared: Any) -> None:
    """The reference is what every answer is checked against, so a broken one (here: the true labels
    out of step with the images, as a mis-keyed data set would leave them) must stop the case."""
    inputs, ref = prepared.inputs, prepared.reference
    assert ref["accuracy"] >= REFERENCE_FLOOR["synthetic"]
    shuffled = {**inputs, "labels": np.random.default_rng(0).permutation(inputs["labels"])}
    with pytest.raises(ValueError, match=r"the reference model scores 0\.\d+ against the true labels, under the "
                                         r"synthetic floor 0\.8 \(chance: 0\.1\)"):
        reference(PARAMS, shuffled)


@pytest.mark.engine
@pytest.mark.parametrize("started", tuple(registry.ENGINES), indirect=True, scope="session")
def test_every_engine_scores_every_image_and_planted_bugs_are_wrong(started: Session, prepared: Any,
                                                                    tmp_path: Path) -> None:
    ray_based = started.name in ("ray", "spark-on-ray")
    before = ray_data_settings() if ray_based else {}
    runner, _ = run_plan(tmp_path, "inference", (started.name,), repeat=1, warmup=0, session=started)
    (rec,) = runner.records
    assert rec.status == "ok", f"{started.name}: {rec.status} {rec.reason}\n{rec.detail}"
    if ray_based:  # Ray Data's settings are the call's own: a workload run later in the session sees Ray's
        assert ray_data_settings() == before
    assert rec.metrics["images_per_s"] > 0 and rec.metrics["processes"] >= 1
    assert 0 < rec.metrics["job_start_s"] < rec.metrics["seconds"]  # the first batch began inside the call
    assert rec.notes["device"] == "cpu" and rec.size_param == "n_images"
    # The real answer of this engine, then two planted bugs in it.
    impl = implementation(started, WORKLOAD, "score")
    answer = impl(started.ctx, PARAMS, prepared.inputs)
    inputs, ref = prepared.inputs, prepared.reference
    assert check(answer, PARAMS, inputs, ref).ok
    order = np.argsort(answer["ids"])
    ids, labels = np.asarray(answer["ids"])[order], np.asarray(answer["labels"])[order]
    shuffled = labels.copy()
    np.random.default_rng(0).shuffle(shuffled)  # predictions no longer belong to their images
    verdict = check({**answer, "ids": ids, "labels": shuffled}, PARAMS, inputs, ref)
    assert not verdict.ok and "labels differ from the reference model's on" in verdict.reason
    keep = np.r_[0:512, 768:len(ids)]  # one batch of 256 dropped
    verdict = check({**answer, "ids": ids[keep], "labels": labels[keep]}, PARAMS, inputs, ref)
    assert not verdict.ok and "256 of 2048 images have no prediction (ids [512, 513," in verdict.reason
