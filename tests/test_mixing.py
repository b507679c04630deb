"""Point-aware mixup/CutMix: timm's λ rules, what happens to Z, and the mixed loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from luab_bench.models import ModelOutput
from luab_bench.protocols.base import MixingConfig, load_protocol
from luab_bench.train.mixing import mix_batch, mix_params, mixed_loss


def test_config_needs_one_method() -> None:
    with pytest.raises(ValueError, match="mixup_alpha or cutmix_alpha"):
        MixingConfig(mixup_alpha=0, cutmix_alpha=0)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.integers(0, 50), st.integers(4, 40), st.integers(4, 40))
def test_cutmix_lambda_is_the_unpasted_area(seed: int, batch: int, h: int, w: int) -> None:
    cfg = MixingConfig(mixup_alpha=0.0, cutmix_alpha=1.0)
    kind, lam, box = mix_params(cfg, h, w, seed=seed, epoch=0, batch_index=batch)
    assert kind == "cutmix" and box is not None
    top, bottom, left, right = box
    assert 0 <= top <= bottom <= h and 0 <= left <= right <= w
    assert lam == pytest.approx(1 - (bottom - top) * (right - left) / (h * w))
    assert (kind, lam, box) == mix_params(cfg, h, w, seed=seed, epoch=0, batch_index=batch)


def test_switching_and_probability() -> None:
    both = MixingConfig(mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5)
    kinds = [mix_params(both, 8, 8, seed=0, epoch=0, batch_index=i)[0] for i in range(400)]
    assert 150 < kinds.count("cutmix") < 250 and kinds.count("mixup") == 400 - kinds.count("cutmix")
    never = MixingConfig(mixup_alpha=0.8, cutmix_alpha=0.0, prob=0.0)
    assert mix_params(never, 8, 8, seed=0, epoch=0, batch_index=0) == ("none", 1.0, None)


def _batch(b: int = 4, size: int = 10):
    g = torch.Generator().manual_seed(0)
    x = torch.rand((b, 3, size, size), generator=g)
    labels = torch.arange(b) % 3
    pts = torch.rand((b, 1, 2), generator=g)
    return x, labels, pts, torch.ones((b, 1), dtype=torch.bool)


def test_mixup_blends_images_and_keeps_both_points() -> None:
    x, y, p, m = _batch()
    cfg = MixingConfig(mixup_alpha=1.0, cutmix_alpha=0.0)
    mb = mix_batch(x, y, p, m, cfg, seed=0, epoch=0, batch_index=0)
    assert mb.kind == "mixup" and 0 < mb.lam < 1
    torch.testing.assert_close(mb.images, mb.lam * x + (1 - mb.lam) * x.flip(0))
    assert torch.equal(mb.b.points, p.flip(0)) and mb.a.has_point.all() and mb.b.has_point.all()


def test_cutmix_drops_covered_and_absent_points() -> None:
    x, y, _, m = _batch(b=2, size=10)
    cfg = MixingConfig(mixup_alpha=0.0, cutmix_alpha=1.0)

    def box(s: int):
        return mix_params(cfg, 10, 10, seed=s, epoch=0, batch_index=0)[2]

    # a box at least 1 px wide and high that leaves some column free, so both cases exist
    seed = next(s for s in range(200) if (b := box(s)) and b[1] > b[0] and 0 < b[3] - b[2] < 10)
    _, lam, (top, bottom, left, right) = mix_params(cfg, 10, 10, seed=seed, epoch=0, batch_index=0)
    inside = [(left + 0.5) / 10, (top + 0.5) / 10]
    outside_x = (right + 0.5) / 10 if right < 10 else (left - 0.5) / 10
    outside = [outside_x, (top + 0.5) / 10]
    p = torch.tensor([[inside], [outside]], dtype=torch.float32)  # sample 0 inside, sample 1 outside
    mb = mix_batch(x, y, p, m, cfg, seed=seed, epoch=0, batch_index=0)
    assert mb.kind == "cutmix" and mb.lam == pytest.approx(lam)
    # a: Z inside the pasted box is covered (sample 0), Z outside survives (sample 1)
    assert mb.a.has_point[:, 0].tolist() == [False, True]
    # b (partner = flipped batch): sample 0's partner is sample 1 (outside: not pasted), and vice versa
    assert mb.b.has_point[:, 0].tolist() == [False, True]
    torch.testing.assert_close(mb.images[0, :, top:bottom, left:right], x[1, :, top:bottom, left:right])
    rest = torch.ones(10, 10, dtype=torch.bool)
    rest[top:bottom, left:right] = False
    assert torch.equal(mb.images[0][:, rest], x[0][:, rest])


def test_mixed_ce_equals_soft_target_cross_entropy() -> None:
    x, y, p, m = _batch()
    cfg = MixingConfig(mixup_alpha=1.0, cutmix_alpha=0.0)
    mb = mix_batch(x, y, p, m, cfg, seed=3, epoch=1, batch_index=2)
    logits = torch.randn((4, 3), generator=torch.Generator().manual_seed(1))
    out = ModelOutput(logits, None, torch.zeros(4, 1))
    loss, _ = mixed_loss(load_protocol("baseline"), out, mb)
    soft = mb.lam * F.one_hot(y, 3).float() + (1 - mb.lam) * F.one_hot(y.flip(0), 3).float()
    want = -(soft * logits.log_softmax(1)).sum(1).mean()  # independent: soft-label cross-entropy
    torch.testing.assert_close(loss, want)
    # the point term is the λ-weighted pair of masked smooth-L1 losses
    pts = torch.rand((4, 1, 2), generator=torch.Generator().manual_seed(2))
    out = ModelOutput(logits, pts, torch.zeros(4, 1))
    _, terms = mixed_loss(load_protocol("luab"), out, mb)
    l1 = lambda t: float(np.mean(F.smooth_l1_loss(pts, t, reduction="none").numpy()))  # noqa: E731
    assert float(terms["point"]) == pytest.approx(mb.lam * l1(p) + (1 - mb.lam) * l1(p.flip(0)), rel=1e-5)
