"""What determines a generated synthetic dataset: its config, the named variants, its identity.

:class:`SyntheticConfig` (every knob of the generator, validated), :class:`DistractorConfig` (the
where-matters variant's background object), :data:`SYNTHETIC_VARIANTS` (the named suite variants),
the class table written to the manifest, and :func:`config_hash` / :func:`dataset_dirname` (the
config hash names the dataset directory). The generator itself: ``synthetic_plan`` (per-image
parameters), ``synthetic_render`` (pixels), ``synthetic_annotator`` (byproduct records),
``synthetic`` (files on disk).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from luab_bench.config import StrictModel
from luab_bench.data.manifest import canonical_json
from luab_bench.hashing import sha256_hex

GENERATOR_VERSION = "1.0.0"
SPLITS: tuple[str, ...] = ("train", "val", "only_fg", "no_fg", "mixed_same", "mixed_rand")
EVAL_SPLITS: tuple[str, ...] = SPLITS[1:]
SHAPE_NAMES: tuple[str, ...] = (
    "disc",
    "square",
    "triangle",
    "cross",
    "ring",
    "star",
    "diamond",
    "hexagon",
    "bar",
    "ell",
)
# ImageNet-AB totals (Han et al. 2023): images, interacted, re-selected.
_AB_IMAGES, _AB_INTERACTED, _AB_SELECTED = 1_281_167, 1_272_225, 1_110_786


class DistractorConfig(StrictModel):
    """A second, class-correlated object that belongs to the *background* (the where-matters variant).

    Every background carries one extra shape: the shape of class ``(c + class_shift) % K`` where c is
    the background's class, at a random position, with a random colour, diameter drawn from ``scale``.
    It travels with its background through every split, so in ``train``/``val`` it is as correlated
    with the label as the background is (``bg_correlation``), it is shown in ``no_fg`` and it comes
    from another class in ``mixed_rand``. The labelled object is pasted last (always fully visible;
    the distractor may be partly hidden behind it). Both objects have the same size range, so a
    model that does not use *where* the labelled object is cannot tell which shape is the label.
    """

    class_shift: int = Field(1, ge=1)
    scale: tuple[float, float] = (0.2, 0.45)


class SyntheticConfig(StrictModel):
    """Everything that determines a generated dataset; its hash names the dataset directory."""

    variant: str = "synthetic"
    seed: int = Field(0, ge=0)
    num_classes: int = Field(10, ge=2, le=len(SHAPE_NAMES))
    image_size: int = Field(64, ge=16, le=512)
    train_per_class: int = Field(400, ge=2)
    eval_per_class: int = Field(100, ge=2)
    bg_correlation: float = Field(0.9, ge=0.0, le=1.0)
    # foreground: object diameter as a fraction of the image side; rotation jitter in degrees
    fg_scale: tuple[float, float] = (0.45, 0.75)
    fg_max_rotation_deg: float = Field(15.0, ge=0.0, le=180.0)
    fg_saturation: tuple[float, float] = (0.5, 1.0)
    fg_value: tuple[float, float] = (0.55, 1.0)
    # background: class-keyed means with jitter (std); overlap grows with the jitter. Defaults are the
    # calibrated ones (docs/calibration.md): a resnet10t baseline lands in the partial-shortcut regime.
    bg_orientation_jitter_deg: float = Field(30.0, ge=0.0)
    bg_frequency_range: tuple[float, float] = (2.0, 7.0)
    bg_frequency_jitter: float = Field(1.5, ge=0.0)
    bg_hue_jitter: float = Field(0.15, ge=0.0)
    bg_grating_contrast: float = Field(0.25, ge=0.0, le=1.0)
    bg_noise: float = Field(0.15, ge=0.0)
    bg_saturation: tuple[float, float] = (0.25, 0.6)
    bg_value: tuple[float, float] = (0.35, 0.75)
    pixel_noise: float = Field(0.03, ge=0.0)
    # simulated annotator (defaults: the ImageNet-AB rates)
    p_interacted: float = Field(_AB_INTERACTED / _AB_IMAGES, ge=0.0, le=1.0)
    p_selected: float = Field(_AB_SELECTED / _AB_INTERACTED, ge=0.0, le=1.0)
    p_click_in_box: float = Field(0.83, ge=0.0, le=1.0)
    p_miss_near: float = Field(0.7, ge=0.0, le=1.0)  # share of off-box final clicks near the object
    p_extra_toggle: float = Field(0.05, ge=0.0, lt=1.0)  # chance of each extra deselect/select pair
    # where-matters variant: a class-correlated distractor object in every background (None = none)
    distractor: DistractorConfig | None = None

    @model_serializer(mode="wrap")
    def _omit_unset_distractor(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without a distractor the dump (hence the config hash and manifests) is the pre-distractor one."""
        out = handler(self)
        if out.get("distractor", 0) is None:
            del out["distractor"]
        return out

    @model_validator(mode="after")
    def _check_ranges(self) -> SyntheticConfig:
        for name in ("fg_scale", "fg_saturation", "fg_value", "bg_saturation", "bg_value"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"{name} must be [lo, hi] with 0 <= lo <= hi <= 1")
        lo, hi = self.bg_frequency_range
        if not 0.0 < lo <= hi:
            raise ValueError("bg_frequency_range must be [lo, hi] with 0 < lo <= hi")
        if self.fg_scale[0] * self.image_size < 8:
            raise ValueError("fg_scale[0] * image_size must be >= 8 pixels so every shape is visible")
        if self.distractor is not None:
            lo, hi = self.distractor.scale
            if not 0.0 < lo <= hi <= 1.0 or lo * self.image_size < 8:
                raise ValueError("distractor.scale must be [lo, hi] with lo * image_size >= 8 and hi <= 1")
            if self.distractor.class_shift % self.num_classes == 0:
                raise ValueError("distractor.class_shift must not be a multiple of num_classes")
        return self


def _variant(name: str, **kw: Any) -> SyntheticConfig:
    return SyntheticConfig(variant=name, **kw)


SYNTHETIC_VARIANTS: dict[str, SyntheticConfig] = {
    "synthetic": _variant("synthetic"),
    "synthetic-corr50": _variant("synthetic-corr50", bg_correlation=0.5),
    "synthetic-corr75": _variant("synthetic-corr75", bg_correlation=0.75),
    "synthetic-corr90": _variant("synthetic-corr90", bg_correlation=0.9),
    "synthetic-corr99": _variant("synthetic-corr99", bg_correlation=0.99),
    "synthetic-tiny": _variant("synthetic-tiny", image_size=32, train_per_class=20, eval_per_class=10),
    # where-matters (docs/calibration.md): small objects anywhere + a class-correlated distractor shape
    "synthetic-where": _variant(
        "synthetic-where",
        bg_correlation=0.5,
        fg_scale=(0.3, 0.5),
        distractor=DistractorConfig(scale=(0.3, 0.5)),
    ),
}


def class_wnid(index: int) -> str:
    """Fake, clearly non-ImageNet wnid of class ``index`` (``n99000003``)."""
    return f"n{99000000 + index:08d}"


def class_table(num_classes: int) -> list[dict[str, Any]]:
    """``[{"index", "wnid", "name"}]`` for the manifest."""
    return [{"index": k, "wnid": class_wnid(k), "name": SHAPE_NAMES[k]} for k in range(num_classes)]


def config_hash(cfg: SyntheticConfig) -> str:
    """sha256 of the canonical JSON of the config and generator version."""
    payload = {"config": cfg.model_dump(mode="json"), "generator_version": GENERATOR_VERSION}
    return sha256_hex(canonical_json(payload))


def dataset_dirname(cfg: SyntheticConfig) -> str:
    """``<variant>-s<seed>-<confighash8>``."""
    return f"{cfg.variant}-s{cfg.seed}-{config_hash(cfg)[:8]}"
