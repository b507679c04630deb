"""Backgrounds Challenge (Xiao et al. 2021, MadryLab/backgrounds_challenge) metrics on IN-9.

- A 1000-way ImageNet model is scored on IN-9 by mapping its argmax through ``in_to_in9.json``
  (ImageNet index -> IN-9 class, -1 = none); an unmapped prediction is wrong.
- BG-gap = acc(mixed_same) - acc(mixed_rand) (:func:`luab_bench.metrics.classification.bg_gap`).
- Challenge: every foreground (``fg_mask`` x ``original``) is pasted on every background of
  ``only_bg_t``; a foreground is *vulnerable* when at least one composite is misclassified. The
  reference prints the vulnerable fraction; BGC-acc here = 100 - vulnerable %, the fraction of
  foregrounds that no background flips. :func:`foreground_survives` runs the reference loop
  (MadryLab ``challenge_eval.py`` / ``adv_bgs_eval_model``): composites in [0, 1] pixel space,
  backgrounds in batches, stop at the first batch with a miss.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from luab_bench.errors import DataError

IN9_CLASSES: tuple[str, ...] = (
    "dog",
    "bird",
    "vehicle",
    "reptile",
    "carnivore",
    "insect",
    "instrument",
    "primate",
    "fish",
)


def load_in_to_in9(path: str | Path, num_classes: int = 1000) -> np.ndarray:
    """The released ``in_to_in9.json`` as an int64 array (num_classes,) of IN-9 classes (-1 = none)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read the IN-9 mapping ({e}); download in_to_in9.json") from e
    if not isinstance(raw, dict) or len(raw) != num_classes:
        raise DataError(f"{path}: expected a JSON object with {num_classes} ImageNet indices")
    out = np.full(num_classes, -1, dtype=np.int64)
    for k, v in raw.items():
        i = int(k)
        if not 0 <= i < num_classes or not isinstance(v, int) or not -1 <= v < len(IN9_CLASSES):
            raise DataError(f"{path}: bad entry {k!r}: {v!r}")
        out[i] = v
    return out


def map_to_in9(pred: Any, mapping: Any) -> np.ndarray:
    """IN-9 class (N,) of 1000-way predictions ``pred`` (-1 where the ImageNet class is unmapped)."""
    return np.asarray(mapping)[np.asarray(pred, dtype=np.intp)]


def composite(fg: Any, mask: Any, bg: Any) -> np.ndarray:
    """``mask * fg + (1 - mask) * bg`` (the challenge's paste); mask broadcasts over channels."""
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim == 2:
        m = m[..., None]
    return m * np.asarray(fg, dtype=np.float32) + (1.0 - m) * np.asarray(bg, dtype=np.float32)


def challenge_survivors(composite_correct: Any) -> np.ndarray:
    """Per-foreground bool (n_fg,): correct on every background; input (n_fg, n_bg) bool."""
    c = np.asarray(composite_correct, dtype=bool)
    if c.ndim != 2 or c.shape[1] == 0:
        raise ValueError(f"need (n_fg, n_bg>0) correctness, got {c.shape}")
    return c.all(axis=1)


def foreground_survives(
    fg: Any,
    mask: Any,
    label: int,
    background_batches: Iterable[Any],
    classify: Callable[[np.ndarray], Any],
) -> tuple[bool, int]:
    """Whether no background flips one foreground, and how many composites were classified.

    ``fg`` (H, W, 3) and every background batch (B, H, W, 3) are float images in [0, 1]; ``mask``
    (H, W) is 1 on the foreground. ``classify`` maps a composite batch to IN-9 predictions (B,).
    The loop stops at the first batch holding a misclassified composite, like the reference.
    """
    m = np.asarray(mask, dtype=np.float32)[None, ..., None]
    f = np.asarray(fg, dtype=np.float32)[None]
    seen = 0
    for bgs in background_batches:
        b = np.asarray(bgs, dtype=np.float32)
        pred = np.asarray(classify(m * f + (1.0 - m) * b))
        seen += b.shape[0]
        if np.any(pred != label):
            return False, seen
    if seen == 0:
        raise ValueError("the challenge needs at least one background")
    return True, seen
