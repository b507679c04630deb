"""Point-aware RandAugment and random erasing: timm/PIL agreement, Z moves with the image, seeded draws."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import stats
from timm.data import auto_augment as timm_aa
from timm.data.random_erasing import RandomErasing

from luab_bench.protocols.base import RandAugmentConfig, RandomErasingConfig, load_recipe
from luab_bench.train.data import TrainData, iter_batches
from luab_bench.train.erasing import apply_erasing, sample_erasing_params
from luab_bench.train.randaug import (
    GEOMETRIC_OPS,
    OPS,
    RandAugParams,
    apply_photometric,
    geometric_matrices,
    sample_randaug_params,
    timm_op_name,
)
from luab_bench.train.transforms import CropParams, crop_images, crop_points, warp_points

FILL = (0.485, 0.456, 0.406)
FILL255 = tuple(round(f * 255) for f in FILL)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _smooth_image(size: int, seed: int = 0) -> np.ndarray:
    """A low-frequency RGB image (bicubic-upsampled noise): interpolation schemes agree on it."""
    small = np.random.default_rng(seed).integers(0, 256, (6, 6, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC)).copy()


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255.0


def _params(names: list[str], magnitudes: list[float], signs: list[float]) -> RandAugParams:
    """One image, one layer per name, every layer applied."""
    return RandAugParams(
        torch.tensor([[OPS.index(n) for n in names]]),
        torch.ones((1, len(names)), dtype=torch.bool),
        torch.tensor([magnitudes], dtype=torch.float64),
        torch.tensor([signs], dtype=torch.float64),
    )


def _full_crop(b: int, h: int, w: int) -> CropParams:
    z = torch.zeros(b, dtype=torch.int64)
    return CropParams(z, z, z + h, z + w, z.to(torch.bool))


def _timm(img: np.ndarray, name: str, magnitude: float, sign: float, cfg: RandAugmentConfig, monkeypatch):
    """timm's op on a PIL image with its own level function; the random sign is forced."""
    key = timm_op_name(name, cfg.increasing)
    # timm's _randomly_negate negates when random.random() > 0.5
    monkeypatch.setattr(random, "random", (lambda: 0.0) if sign > 0 else (lambda: 1.0))
    level_fn = timm_aa.LEVEL_TO_ARG[key]
    args = level_fn(magnitude, {"translate_pct": cfg.translate_pct}) if level_fn else ()
    out = timm_aa.NAME_TO_OP[key](Image.fromarray(img), *args, fillcolor=FILL255, resample=Image.BILINEAR)
    monkeypatch.undo()
    return _to_tensor(np.asarray(out))


# ----------------------------------------------------------------------------- agreement with timm
@pytest.mark.parametrize("name", sorted(GEOMETRIC_OPS))
@pytest.mark.parametrize("magnitude", [2.5, 9.0, 10.0])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_geometric_op_matches_timm_pil(name: str, magnitude: float, sign: float, monkeypatch) -> None:
    cfg = RandAugmentConfig()
    size = 40
    img = _smooth_image(size)
    p = _params([name], [magnitude], [sign])
    m = geometric_matrices(p, cfg, size)
    assert m is not None
    ours = crop_images(_to_tensor(img), _full_crop(1, size, size), size, geometric=m, fill=FILL)
    ref = _timm(img, name, magnitude, sign, cfg, monkeypatch)
    diff = (ours - ref).abs() * 255  # grey levels, whole image including the filled region
    assert float(diff.max()) <= 1.5
    assert float(diff.mean()) <= 0.75


@pytest.mark.parametrize("name", [n for n in OPS if n not in GEOMETRIC_OPS])
@pytest.mark.parametrize("increasing", [True, False])
@pytest.mark.parametrize("magnitude", [3.0, 9.0])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_photometric_op_matches_timm_pil(
    name: str, increasing: bool, magnitude: float, sign: float, monkeypatch
) -> None:
    cfg = RandAugmentConfig(increasing=increasing)
    rng = np.random.default_rng(1)
    img = rng.integers(40, 200, (24, 24, 3)).astype(np.uint8)  # not full range: autocontrast acts
    img[:8] = rng.integers(90, 110, (8, 24, 3))  # a crowded histogram: equalize acts
    img[-3:] = rng.integers(235, 250, (3, 24, 3))  # above every solarize threshold at m >= 3
    ours = apply_photometric(_to_tensor(img), _params([name], [magnitude], [sign]), cfg)
    ref = _timm(img, name, magnitude, sign, cfg, monkeypatch)
    diff = (ours - ref).abs() * 255
    lut_op = name in {"AutoContrast", "Equalize", "Invert", "Posterize", "Solarize", "SolarizeAdd"}
    assert float(diff.max()) <= (1e-3 if lut_op else 1.5)  # PIL rounds blends to uint8, we do not
    assert not torch.equal(ours, _to_tensor(img)) or name == "Posterize"  # every op did something


def test_two_geometric_layers_compose_like_timm(monkeypatch) -> None:
    """timm resamples twice (rotate, then translate); we resample once: close, not equal."""
    cfg = RandAugmentConfig()
    size = 48
    img = _smooth_image(size, seed=3)
    p = _params(["Rotate", "TranslateXRel"], [9.0, 5.0], [1.0, -1.0])
    m = geometric_matrices(p, cfg, size)
    ours = crop_images(_to_tensor(img), _full_crop(1, size, size), size, geometric=m, fill=FILL)
    first = _timm(img, "Rotate", 9.0, 1.0, cfg, monkeypatch)
    first_u8 = (first[0].permute(1, 2, 0) * 255).round().byte().numpy()
    ref = _timm(first_u8, "TranslateXRel", 5.0, -1.0, cfg, monkeypatch)
    diff = (ours - ref).abs() * 255
    assert float(diff.mean()) <= 1.5
    assert float((diff > 8).float().mean()) <= 0.02  # only along the fill boundary


def test_no_geometric_layer_means_no_matrix() -> None:
    p = _params(["Invert", "Solarize"], [9.0, 9.0], [1.0, 1.0])
    assert geometric_matrices(p, RandAugmentConfig(), 16) is None
    p = p._replace(op=torch.tensor([[OPS.index("Rotate"), 0]]), applied=torch.tensor([[False, True]]))
    assert geometric_matrices(p, RandAugmentConfig(), 16) is None  # the rotate was not applied


# ----------------------------------------------------------------------------- Z under RandAugment
def test_translate_moves_points_and_drops_those_leaving_the_frame() -> None:
    cfg = RandAugmentConfig(translate_pct=0.45)
    p = _params(["TranslateXRel"], [10.0], [1.0])  # x_in = x + 0.45 W  =>  x_out = x_in - 0.45
    m = geometric_matrices(p, cfg, 20)
    pts = torch.tensor([[[0.2, 0.5], [0.8, 0.3]]])
    out, mask = warp_points(pts, torch.ones((1, 2), dtype=torch.bool), m, 20)
    torch.testing.assert_close(out, torch.tensor([[[0.2 - 0.45, 0.5], [0.8 - 0.45, 0.3]]]))
    assert mask.tolist() == [[False, True]]


def test_rotate_moves_points_counter_clockwise_about_the_centre() -> None:
    p = _params(["Rotate"], [10.0], [1.0])  # +30 degrees, PIL: counter-clockwise on screen
    m = geometric_matrices(p, RandAugmentConfig(), 32)
    out, mask = warp_points(torch.tensor([[[0.75, 0.5]]]), torch.ones((1, 1), dtype=torch.bool), m, 32)
    a = np.deg2rad(30.0)  # right of centre goes up (y is down)
    want = [0.5 + 0.25 * np.cos(a), 0.5 - 0.25 * np.sin(a)]
    np.testing.assert_allclose(out[0, 0].numpy(), want, atol=1e-6)
    assert bool(mask[0, 0])


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(16, 32),
    fy=st.floats(0.1, 0.9),
    fx=st.floats(0.1, 0.9),
    ops=st.lists(st.sampled_from(sorted(GEOMETRIC_OPS)), min_size=1, max_size=2),
    mags=st.lists(st.floats(0, 10), min_size=2, max_size=2),
    signs=st.lists(st.sampled_from([1.0, -1.0]), min_size=2, max_size=2),
    seed=st.integers(0, 2**31 - 1),
)
def test_bright_pixel_lands_at_the_transformed_point(
    size: int, fy: float, fx: float, ops: list[str], mags: list[float], signs: list[float], seed: int
) -> None:
    """Crop + flip + 1-2 geometric RandAugment layers: the one bright pixel ends up where Z went."""
    out_size = 48  # >= 1.5x any crop: upsampling, so a single pixel cannot be stepped over
    r, c = int(fy * size), int(fx * size)
    img = torch.zeros(1, 3, size, size)
    img[0, :, r, c] = 1.0
    z = torch.tensor([[[(c + 0.5) / size, (r + 0.5) / size]]])
    from luab_bench.train.transforms import sample_crop_params

    crop = sample_crop_params(
        1, size, size, scale=(0.4, 1.0), ratio=(0.75, 1.33), hflip_prob=0.5,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    k = len(ops)
    p = _params(ops, mags[:k], signs[:k])
    m = geometric_matrices(p, RandAugmentConfig(), out_size)
    zc, mask = crop_points(z, torch.ones((1, 1), dtype=torch.bool), crop, size, size)
    zw, mask = warp_points(zc, mask, m, out_size)
    y = crop_images(img, crop, out_size, geometric=m, fill=(0.0, 0.0, 0.0))
    if not bool(mask[0, 0]):
        return
    x_, y_ = float(zw[0, 0, 0]) * out_size, float(zw[0, 0, 1]) * out_size
    assert 0 <= x_ <= out_size and 0 <= y_ <= out_size
    plane = y[0, 0]
    if min(x_, y_, out_size - x_, out_size - y_) < 2:
        return  # at the frame edge the pixel's footprint may be cut off
    assert float(plane.max()) > 0
    # the brightness-weighted centre of the output spot is the transformed pixel centre
    rows, cols = torch.meshgrid(torch.arange(out_size) + 0.5, torch.arange(out_size) + 0.5, indexing="ij")
    w = plane.clamp(min=0)
    cx, cy = float((w * cols).sum() / w.sum()), float((w * rows).sum() / w.sum())
    assert abs(cx - x_) <= 1.0 and abs(cy - y_) <= 1.0


# ----------------------------------------------------------------------------- the draws
def test_randaug_draws_follow_timm_distribution() -> None:
    cfg = RandAugmentConfig(num_layers=2, magnitude=9, magnitude_std=0.5, prob=0.5)
    n = 20000
    p = sample_randaug_params(n, cfg, generator=torch.Generator().manual_seed(0))
    counts = np.bincount(p.op.flatten().numpy(), minlength=len(OPS))
    assert stats.chisquare(counts).pvalue > 1e-3  # uniform over the 15 ops, with replacement
    rate = float(p.applied.double().mean())
    assert abs(rate - 0.5) < 4 * np.sqrt(0.25 / (2 * n))
    mag = p.magnitude.flatten().numpy()
    assert mag.min() >= 0 and mag.max() <= 10
    assert abs(mag.mean() - 9) < 0.02 and abs(mag.std() - 0.5) < 0.02
    assert abs(float((p.sign < 0).double().mean()) - 0.5) < 0.02
    clipped = sample_randaug_params(1000, cfg.model_copy(update={"magnitude": 9.9}))
    assert float(clipped.magnitude.max()) == 10.0  # clipped at magnitude_max


def test_randaug_draws_are_seeded() -> None:
    cfg = RandAugmentConfig()
    a = sample_randaug_params(8, cfg, generator=torch.Generator().manual_seed(5))
    b = sample_randaug_params(8, cfg, generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


# ----------------------------------------------------------------------------- random erasing
def test_erasing_boxes_match_timm_distribution() -> None:
    """Box sizes from our batched draw and from timm's RandomErasing loop: same distribution (KS)."""
    n, hw = 1500, 32
    cfg = RandomErasingConfig(prob=1.0, mode="const")
    ours = sample_erasing_params(n, hw, hw, cfg, generator=torch.Generator().manual_seed(0))
    assert bool(ours.erase.all())
    assert bool((ours.top >= 0).all() and (ours.top + ours.height <= hw).all())
    assert bool((ours.left >= 0).all() and (ours.left + ours.width <= hw).all())
    random.seed(0)
    eraser = RandomErasing(probability=1.0, mode="const", max_count=1, device="cpu")
    areas, tops = [], []
    for _ in range(n):
        x = torch.ones(3, hw, hw)
        eraser(x)
        erased = (x[0] == 0).nonzero()
        areas.append(len(erased))
        tops.append(int(erased[:, 0].min()) if len(erased) else 0)
    ours_area = (ours.height * ours.width).numpy()
    assert stats.ks_2samp(ours_area, areas).pvalue > 1e-3
    assert stats.ks_2samp(ours.top.numpy(), tops).pvalue > 1e-3


@pytest.mark.parametrize("mode", ["pixel", "rand", "const"])
def test_erasing_fills_only_its_box(mode: str) -> None:
    cfg = RandomErasingConfig(prob=1.0, mode=mode)
    x = torch.full((4, 3, 20, 20), 7.0)
    p = sample_erasing_params(4, 20, 20, cfg, generator=torch.Generator().manual_seed(1))
    y = apply_erasing(x.clone(), p, cfg)
    for i in range(4):
        t, le, h, w = (int(v[i]) for v in (p.top, p.left, p.height, p.width))
        box = torch.zeros(20, 20, dtype=torch.bool)
        box[t : t + h, le : le + w] = True
        assert bool((y[i][:, ~box] == 7.0).all())
        inside = y[i][:, box]
        assert bool((inside != 7.0).all())
        if mode == "const":
            assert bool((inside == 0).all())
        if mode == "rand":  # one value per channel
            assert bool((inside == inside[:, :1]).all())
    again = apply_erasing(x.clone(), p, cfg)
    assert torch.equal(y, again)  # noise comes from the drawn per-image seed
    off = sample_erasing_params(4, 20, 20, RandomErasingConfig(prob=0.0))
    assert not bool(off.erase.any())


def test_erasing_config_validation() -> None:
    with pytest.raises(ValueError, match="min_area"):
        RandomErasingConfig(prob=0.5, min_area=0.5, max_area=0.1)


# ----------------------------------------------------------------------------- in the batch iterator
def _data(n: int = 24, size: int = 20) -> TrainData:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3)).astype(np.uint8)
    labels = (np.arange(n) % 3).astype(np.int64)
    points = rng.uniform(0.1, 0.9, (n, 1, 2)).astype(np.float32)
    return TrainData(images, labels, points, np.ones((n, 1), dtype=bool))


def _kw(**extra):
    aug = load_recipe("synthetic").augmentation
    kw = dict(
        batch_size=8, seed=4, epoch=1, out_size=16, augmentation=aug, mean=FILL, std=(0.2, 0.2, 0.2),
        rand_augment=RandAugmentConfig(prob=0.9), random_erasing=RandomErasingConfig(prob=0.5),
    )  # fmt: skip
    return kw | extra


def test_iter_batches_with_randaug_and_erasing_is_seeded_resumable_and_sharded() -> None:
    d = _data()
    full = list(iter_batches(d, **_kw()))
    again = list(iter_batches(d, **_kw()))
    for a, b in zip(full, again, strict=True):
        assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    resumed = list(iter_batches(d, **_kw(start_batch=2)))
    for a, b in zip(full[2:], resumed, strict=True):
        assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    parts = [list(iter_batches(d, **_kw(shard=(r, 2)))) for r in range(2)]
    for k, whole in enumerate(full):
        for field in range(1, len(whole)):  # labels, points and masks: exactly the global batch's
            joined = torch.cat([parts[0][k][field], parts[1][k][field]])
            assert torch.equal(joined, whole[field])
        # images: equal up to float rounding of batched ops, which a later LUT op (quantised to
        # 0..255) can turn into one or two grey levels (1/255/std = 0.02 normalised units each)
        joined = torch.cat([parts[0][k].images, parts[1][k].images])
        assert float((joined - whole.images).abs().max()) <= 2.5 / 255 / 0.2
        assert float((joined - whole.images).abs().mean()) < 1e-3
    assert not (full[0].has_point & ~full[0].has_point_before_aug).any()


def test_augmentations_off_leave_the_crop_draws_alone() -> None:
    """prob 0 RandAugment / erasing: batch 0 equals the crop-only batch (its crop is drawn first)."""
    d = _data()
    plain = next(iter(iter_batches(d, **_kw(rand_augment=None, random_erasing=None))))
    kw = _kw()
    kw["rand_augment"] = RandAugmentConfig(prob=0.0)
    kw["random_erasing"] = RandomErasingConfig(prob=0.0)
    quiet = next(iter(iter_batches(d, **kw)))
    assert all(torch.equal(u, v) for u, v in zip(plain, quiet, strict=True))


def test_randaug_without_a_random_crop_uses_the_whole_image() -> None:
    d = _data(8, size=16)
    kw = _kw(augmentation=None, random_erasing=None, out_size=16, rand_augment=RandAugmentConfig(prob=1.0))
    batch = next(iter(iter_batches(d, **kw)))
    assert batch.images.shape == (8, 3, 16, 16)
    # the same draws by hand: a full-image crop, then the geometric layers on the points
    from luab_bench.train.data import _AUG_STREAM, epoch_generator, epoch_order

    idx = epoch_order(8, 4, 1)
    p = sample_randaug_params(8, kw["rand_augment"], generator=epoch_generator(4, 1, _AUG_STREAM))
    m = geometric_matrices(p, kw["rand_augment"], 16)
    pts = torch.from_numpy(d.points[idx])
    want, mask = (pts, torch.ones(8, 1, dtype=torch.bool))
    if m is not None:
        want, mask = warp_points(pts, mask, m, 16)
    torch.testing.assert_close(batch.points, want)
    assert torch.equal(batch.has_point, mask)
