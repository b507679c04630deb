"""What one alignment run computes (:class:`AlignConfig`) and the named convention sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from luab_bench.alignment import correlate
from luab_bench.alignment.choices import CONVENTIONS, DEFAULT_CONVENTIONS, DEFAULT_TARGET
from luab_bench.alignment.saliency_base import SaliencyConfig, saliency_preset
from luab_bench.errors import LuabError


@dataclass(frozen=True)
class AlignConfig:
    """What to compute; defaults are the protocol of docs/alignment.md (Langlois et al.'s, SI §A, §D)."""

    methods: tuple[str, ...] = ("sgbp", "gradcam")
    measure: str = "clicks"
    sigmas: tuple[float, ...] = correlate.SIGMA_GRID
    n_boot: int = correlate.N_BOOT
    split_half: bool = False
    masking: bool = True
    inverse_rank_n: float | None = None  # None: the number of classes (langlois2021) / 1 (luab-v1)
    seed: int = 0
    # SI §A.2: maps for the model's top predicted class; "true": the labelled class (luab-v1). For
    # (image, class) units of multi-label data the unit's class is always used.
    target: str = DEFAULT_TARGET
    saliency: SaliencyConfig = field(default_factory=lambda: saliency_preset(DEFAULT_CONVENTIONS))
    blur: str = "imgaussfilt"  # correlate.BLUR_BOUNDARIES
    mask_protocol: str = "langlois2021"  # masking.MASK_PROTOCOLS
    cv_splits: int = 100  # SI §I: 100 random 12/13 splits
    baselines: tuple[str, ...] = ("centre", "spectral_residual")
    # also find each map's peak r and sigma against every other measure of the human maps (and their
    # Human PC when there are several): main Fig. 3A is methods x measures, one sigma per pair
    all_measures: bool = False
    batch_size: int = 32
    data_label: str = ""  # e.g. "synthetic/val, simulated clicks" (goes into task strings)
    # a method that does not apply to the model (e.g. guided backprop on a GELU network): skip it and
    # record why (True) or raise its LuabError (False)
    skip_inapplicable: bool = False


def convention_fields(name: str) -> dict[str, Any]:
    """AlignConfig fields of a named convention set: ``langlois2021`` (the paper's code; default) or
    ``luab-v1`` (luab-bench's earlier choices: max|g|, ReLU-only GBP, fraction noise, 4-sigma blur,
    grey-fill masking). The target class is chosen separately (``target``)."""
    from luab_bench.alignment.saliency import saliency_preset

    if name == "langlois2021":
        return {"saliency": saliency_preset(name), "blur": "imgaussfilt", "mask_protocol": "langlois2021"}
    if name == "luab-v1":
        return {"saliency": saliency_preset(name), "blur": "scipy-4sigma", "mask_protocol": "luab-v1"}
    raise LuabError(f"unknown conventions {name!r}; use one of {', '.join(CONVENTIONS)}")


def default_measure(maps: str, measure: str | None) -> str:
    """The human measure compared when none is named: byproduct clicks, or a folder's Human PC."""
    return measure or ("clicks" if maps == "byproducts" else "human_pc")
