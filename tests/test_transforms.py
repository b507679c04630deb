"""Point-aware random-resized-crop + flip: the image and Z move together; torchvision agrees."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from torchvision.transforms import RandomResizedCrop
from torchvision.transforms.v2 import functional as TF

from luab_bench.train.transforms import (
    CropParams,
    crop_images,
    crop_points,
    random_resized_crop_flip,
    sample_crop_params,
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@settings(max_examples=80, deadline=None)
@given(
    h=st.integers(12, 40),
    w=st.integers(12, 40),
    out=st.integers(8, 48),
    fy=st.floats(0, 1, exclude_max=True),
    fx=st.floats(0, 1, exclude_max=True),
    lo=st.floats(0.05, 1.0),
    seed=st.integers(0, 2**31 - 1),
    hflip=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_bright_pixel_follows_its_point(
    h: int, w: int, out: int, fy: float, fx: float, lo: float, seed: int, hflip: float
) -> None:
    r, c = int(fy * h), int(fx * w)
    img = torch.zeros(1, 3, h, w)
    img[0, :, r, c] = 1.0
    z = torch.tensor([[[(c + 0.5) / w, (r + 0.5) / h]]])
    g = torch.Generator().manual_seed(seed)
    y, zp, m = random_resized_crop_flip(
        img,
        z,
        torch.ones(1, 1, dtype=torch.bool),
        out_size=out,
        scale=(lo, 1.0),
        ratio=(0.6, 1.6),
        hflip_prob=hflip,
        generator=g,
    )
    assert y.shape == (1, 3, out, out)
    x_, y_ = float(zp[0, 0, 0]), float(zp[0, 0, 1])
    in_view = 0 <= x_ <= 1 and 0 <= y_ <= 1
    assert bool(m[0, 0]) == in_view
    # the same draw again, to know the crop size
    p = sample_crop_params(
        1,
        h,
        w,
        scale=(lo, 1.0),
        ratio=(0.6, 1.6),
        hflip_prob=hflip,
        generator=torch.Generator().manual_seed(seed),
    )
    upsampling = int(p.width[0]) <= out and int(p.height[0]) <= out
    plane = y[0, 0]
    if not in_view:
        return
    if upsampling:
        assert float(plane.max()) > 0
    if float(plane.max()) <= 0:
        return  # a downsampled crop can step over a single pixel
    # the brightest output pixel (any of them: edge replication can make a plateau) sits within one
    # output pixel of the transformed Z
    vs, us = torch.nonzero(plane >= plane.max() - 1e-6, as_tuple=True)
    dist = torch.maximum(((us + 0.5) - x_ * out).abs(), ((vs + 0.5) - y_ * out).abs())
    assert float(dist.min()) <= 1.0 + 1e-4


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(10, 36),
    w=st.integers(10, 36),
    out=st.integers(6, 40),
    seed=st.integers(0, 2**31 - 1),
)
def test_images_match_torchvision_resized_crop_and_hflip(h: int, w: int, out: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    imgs = torch.rand(4, 3, h, w, generator=g)
    p = sample_crop_params(4, h, w, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), hflip_prob=0.5, generator=g)
    got = crop_images(imgs, p, out)
    for i in range(4):
        top, left, ch, cw = (int(v[i]) for v in (p.top, p.left, p.height, p.width))
        ref = TF.resized_crop(imgs[i], top, left, ch, cw, [out, out], antialias=False)
        if p.flip[i]:
            ref = TF.horizontal_flip(ref)
        # identical away from the crop border (there we read the true neighbour, torchvision clamps)
        my, mx = math.ceil(out / (2 * ch)) + 1, math.ceil(out / (2 * cw)) + 1
        inner = (slice(None), slice(my, out - my), slice(mx, out - mx))
        torch.testing.assert_close(got[i][inner], ref[inner], rtol=0, atol=1e-5)
        if top == 0 and left == 0 and ch == h and cw == w:  # whole image: identical everywhere
            torch.testing.assert_close(got[i], ref, rtol=0, atol=1e-5)


def test_crop_box_distribution_matches_torchvision() -> None:
    n, h, w = 3000, 48, 64
    scale, ratio = (0.08, 1.0), (3 / 4, 4 / 3)
    p = sample_crop_params(
        n, h, w, scale=scale, ratio=ratio, hflip_prob=0.5, generator=torch.Generator().manual_seed(0)
    )
    torch.manual_seed(0)
    img = torch.zeros(3, h, w)
    ref = np.array([RandomResizedCrop.get_params(img, list(scale), list(ratio)) for _ in range(n)])
    ours = np.stack([p.top.numpy(), p.left.numpy(), p.height.numpy(), p.width.numpy()], axis=1)
    assert (ours[:, 0] + ours[:, 2] <= h).all() and (ours[:, 1] + ours[:, 3] <= w).all()
    assert (ours >= 0).all() and (ours[:, 2:] >= 1).all()
    for k in range(4):  # each of top, left, height, width: same distribution
        assert stats.ks_2samp(ours[:, k], ref[:, k]).pvalue > 1e-3
    assert 0.4 < float(p.flip.float().mean()) < 0.6


def test_fallback_is_torchvision_centre_crop() -> None:
    # no attempt can satisfy an aspect ratio of 10..20 on a square image: fallback centre crop
    p = sample_crop_params(
        3,
        30,
        30,
        scale=(0.5, 1.0),
        ratio=(10.0, 20.0),
        hflip_prob=0.0,
        generator=torch.Generator().manual_seed(0),
    )
    torch.manual_seed(0)
    ref = RandomResizedCrop.get_params(torch.zeros(3, 30, 30), [0.5, 1.0], [10.0, 20.0])
    for i in range(3):
        assert (int(p.top[i]), int(p.left[i]), int(p.height[i]), int(p.width[i])) == ref


def test_point_mapping_exact_values() -> None:
    p = CropParams(
        top=torch.tensor([10, 0]),
        left=torch.tensor([20, 0]),
        height=torch.tensor([20, 40]),
        width=torch.tensor([40, 80]),
        flip=torch.tensor([False, True]),
    )
    pts = torch.tensor([[[0.5, 0.5], [0.1, 0.1]], [[0.25, 0.75], [1.0, 0.0]]])
    has = torch.tensor([[True, True], [True, False]])
    out, m = crop_points(pts, has, p, height=40, width=80)
    # sample 0: x = (0.5*80-20)/40 = 0.5, y = (0.5*40-10)/20 = 0.5; (0.1,0.1): x = -0.3 -> out of view
    torch.testing.assert_close(out[0, 0], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(out[0, 1], torch.tensor([(8 - 20) / 40, (4 - 10) / 20]))
    # sample 1: the whole image, flipped: x -> 1 - x
    torch.testing.assert_close(out[1, 0], torch.tensor([0.75, 0.75]))
    assert m.tolist() == [[True, False], [True, False]]  # out of view / never had a target


def test_same_generator_same_result_and_shapes() -> None:
    imgs = torch.rand(5, 3, 16, 20)
    pts, has = torch.rand(5, 2, 2), torch.ones(5, 2, dtype=torch.bool)
    kw = dict(out_size=12, scale=(0.3, 1.0), ratio=(0.75, 1.33), hflip_prob=0.5)
    a = random_resized_crop_flip(imgs, pts, has, generator=torch.Generator().manual_seed(3), **kw)
    b = random_resized_crop_flip(imgs, pts, has, generator=torch.Generator().manual_seed(3), **kw)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert a[0].shape == (5, 3, 12, 12) and a[1].shape == (5, 2, 2) and a[2].shape == (5, 2)
    empty = random_resized_crop_flip(imgs, torch.zeros(5, 0, 2), torch.zeros(5, 0, dtype=torch.bool), **kw)
    assert empty[1].shape == (5, 0, 2)
    with pytest.raises(TypeError, match="float"):
        crop_images(
            imgs.to(torch.uint8),
            CropParams(*(torch.zeros(5, dtype=torch.int64),) * 4, torch.zeros(5, dtype=torch.bool)),
            8,
        )
