"""Positive controls: Mixed-Rand training images, the oracle annotator, the where-matters variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from luab_bench.data import synthetic as syn
from luab_bench.data.synthetic_controls import mixed_rand_training_images, oracle_points
from luab_bench.errors import LuabError
from luab_bench.protocols.base import load_protocol

TINY = syn.SYNTHETIC_VARIANTS["synthetic-tiny"]
WHERE_TINY = TINY.model_copy(
    update={
        "variant": "where-tiny",
        "image_size": 48,
        "fg_scale": (0.2, 0.45),
        "distractor": syn.DistractorConfig(),
    }
)


def test_default_variants_keep_their_data_identity() -> None:
    """Adding the optional distractor must not change any existing dataset (hash, dump)."""
    assert syn.dataset_dirname(syn.SYNTHETIC_VARIANTS["synthetic"]) == "synthetic-s0-ad9f8f05"
    assert syn.dataset_dirname(TINY) == "synthetic-tiny-s0-4de24979"
    assert "distractor" not in TINY.model_dump(mode="json")
    where = syn.SYNTHETIC_VARIANTS["synthetic-where"]
    assert syn.SyntheticConfig.model_validate(where.model_dump(mode="json")) == where


def test_distractor_config_is_validated() -> None:
    with pytest.raises(ValueError, match="class_shift"):
        syn.SyntheticConfig.model_validate(
            {**TINY.model_dump(mode="json"), "distractor": {"class_shift": 10}}
        )
    with pytest.raises(ValueError, match=r"distractor\.scale"):
        syn.SyntheticConfig.model_validate(
            {**TINY.model_dump(mode="json"), "distractor": {"scale": [0.1, 0.2]}}
        )


def test_where_matters_backgrounds_carry_a_class_shifted_distractor() -> None:
    data = syn.render_splits(WHERE_TINY, splits=("train", "no_fg", "mixed_rand"))
    plans = syn.plan_splits(WHERE_TINY)
    bg = plans["train"].bg
    assert bg is not None and bg.distractor is not None
    np.testing.assert_array_equal(bg.distractor.labels, (bg.labels + 1) % WHERE_TINY.num_classes)
    # the distractor is part of the background: no_fg shows it, its pixels are the distractor colour
    d = plans["no_fg"].bg.distractor  # type: ignore[union-attr]
    dmask = syn._render_masks(WHERE_TINY, d)
    img = data["no_fg"]["images"].astype(float) / 255
    inside = np.array([img[i][dmask[i]].mean(0) for i in range(len(img))])
    assert np.abs(inside - d.rgb).max() < 0.1  # sensor noise only
    # target masks exclude the distractor; the labelled object is fully visible (pasted last)
    assert not data["no_fg"]["masks"].any()
    radius = plans["train"].fg.radius  # type: ignore[union-attr]
    assert radius.min() >= 0.1 - 1e-9 and radius.max() <= 0.225 + 1e-9


def test_mixed_rand_training_keeps_foregrounds_and_swaps_backgrounds() -> None:
    orig = syn.render_splits(TINY, splits=("train",))["train"]
    images, bg_classes = mixed_rand_training_images(TINY, seed=0)
    m = orig["masks"]
    assert images.shape == orig["images"].shape
    np.testing.assert_array_equal(images[m], orig["images"][m])  # same foreground pixels (exact masks)
    assert (images[~m] != orig["images"][~m]).mean() > 0.5  # backgrounds replaced
    # "any": the background class is independent of the label (≈ 1/K own-class share)
    assert abs(float(np.mean(bg_classes == orig["labels"])) - 1 / TINY.num_classes) < 0.08
    again, _ = mixed_rand_training_images(TINY, seed=0)
    other, _ = mixed_rand_training_images(TINY, seed=1)
    np.testing.assert_array_equal(again, images)
    assert not np.array_equal(other, images)
    _, never_own = mixed_rand_training_images(TINY, seed=0, classes="other")
    assert not np.any(never_own == orig["labels"])


def test_oracle_points_are_on_the_object() -> None:
    orig = syn.render_splits(TINY, splits=("train",))["train"]
    fg = syn.plan_splits(TINY)["train"].fg
    centre = oracle_points(TINY, orig["masks"], "object_centre", seed=0)
    np.testing.assert_allclose(centre, np.stack([fg.cx, fg.cy], 1), atol=1e-6)  # type: ignore[union-attr]
    pts = oracle_points(TINY, orig["masks"], "mask_point", seed=0)
    s = TINY.image_size
    cols, rows = (pts[:, 0] * s).astype(int), (pts[:, 1] * s).astype(int)
    assert orig["masks"][np.arange(len(pts)), rows, cols].all()


def test_control_protocols_load_and_refuse_other_sources() -> None:
    bg, pt = load_protocol("oracle_background"), load_protocol("oracle_point")
    assert bg.num_point_heads(10) == 0 and pt.num_point_heads(10) == 1
    assert bg.config.background_classes == "any" and pt.config.point == "object_centre"  # type: ignore[attr-defined]
    fake = type("P", (), {"source": "imagenet-ab", "evaluation_dir": None, "meta": {}})()
    for proto in (bg, pt):
        with pytest.raises(LuabError, match="embedded 'synthetic' source"):
            proto.adapt_source(fake, 0)  # type: ignore[arg-type]


def test_oracle_point_adapts_the_prepared_source(tmp_path: Path) -> None:
    from luab_bench.pipeline import prepare_source_for

    prepared = prepare_source_for("synthetic", variant="synthetic-tiny", data_dir=tmp_path, progress=False)
    adapted = load_protocol("oracle_point").adapt_source(prepared, 0)
    hp = prepared.data.has_point[:, 0]
    np.testing.assert_array_equal(adapted.data.has_point, prepared.data.has_point)  # same supervised images
    boxes = syn.load_split(prepared.evaluation_dir, "train").boxes  # type: ignore[arg-type]
    z = adapted.data.points[hp, 0]
    b = boxes[hp]
    assert ((z >= b[:, :2]) & (z <= b[:, 2:])).all()  # the true centre lies in the box
    assert (
        adapted.meta["control"]["kind"] == "oracle_annotator" and adapted.data.images is prepared.data.images
    )
    swapped = load_protocol("oracle_background").adapt_source(prepared, 0)
    assert swapped.meta["control"]["kind"] == "mixed_rand_training"
    np.testing.assert_array_equal(swapped.data.labels, prepared.data.labels)
    assert swapped.fingerprint == prepared.fingerprint  # evaluation data unchanged
