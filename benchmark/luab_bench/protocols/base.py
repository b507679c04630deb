"""Loading protocols and training recipes from YAML (built-in names or user files).

:func:`load_protocol` validates a protocol YAML against its family's typed config and returns the
family's instance; the contract every family implements (``TrainingProtocol``, ``ProtocolConfig``,
:data:`PROTOCOL_FAMILIES`) is :mod:`luab_bench.api.protocol`, and each family is its own module
(``plain``, ``point_regression``, ``multilabel``, ``controls``), found through the registry. *Recipes*
(``protocols/recipes/<name>.yaml``, :class:`RecipeConfig`) hold the optimisation settings, so one
protocol can be run under several budgets. Every name here stays importable from this module.

torch is imported inside the loss functions only: the CLI lists protocols without loading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from luab_bench.api.protocol import PROTOCOL_FAMILIES, ProtocolConfig, TrainingProtocol, version_str
from luab_bench.config import StrictModel, load_yaml, validate
from luab_bench.errors import ConfigError, LuabError
from luab_bench.protocols.plain import PlainConfig, PlainProtocol
from luab_bench.protocols.point_regression import (
    RANDOM_SLOTS_HELP,
    PointRegressionConfig,
    PointRegressionProtocol,
    RandomSlots,
    masked_smooth_l1,
)
from luab_bench.registry import unknown_name_message

__all__ = [
    "PROTOCOL_DIR",
    "PROTOCOL_FAMILIES",
    "RANDOM_SLOTS_HELP",
    "RECIPE_DIR",
    "AugmentationConfig",
    "MixingConfig",
    "PlainConfig",
    "PlainProtocol",
    "PointRegressionConfig",
    "PointRegressionProtocol",
    "ProtocolConfig",
    "RandAugmentConfig",
    "RandomErasingConfig",
    "RandomSlots",
    "RecipeConfig",
    "TrainingProtocol",
    "list_protocols",
    "list_recipes",
    "load_protocol",
    "load_recipe",
    "masked_smooth_l1",
]

PROTOCOL_DIR = Path(__file__).resolve().parent
RECIPE_DIR = PROTOCOL_DIR / "recipes"


# ----------------------------------------------------------------------------- loading protocols
def list_protocols() -> list[str]:
    """Names of the built-in protocols (``protocols/*.yaml``)."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def _is_path(name_or_path: str | Path) -> bool:
    s = str(name_or_path)
    return isinstance(name_or_path, Path) or s.endswith((".yaml", ".yml")) or "/" in s or "\\" in s


def load_protocol(name_or_path: str | Path) -> TrainingProtocol:
    """A built-in protocol by name (``luab``) or a user YAML file by path, validated."""
    if _is_path(name_or_path):
        path, source = Path(name_or_path), str(name_or_path)
        builtin = False
    else:
        name = str(name_or_path)
        if name not in list_protocols():
            raise LuabError(
                unknown_name_message("protocol", name, list_protocols())
                + " (or pass the path of a protocol YAML file)"
            )
        path, source, builtin = PROTOCOL_DIR / f"{name}.yaml", name, True
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a protocol file must be a mapping with name, version, family, description"
        )
    family = data.get("family")
    if not isinstance(family, str):
        raise ConfigError(
            f"{path}: family: missing or not a string; use one of {', '.join(PROTOCOL_FAMILIES.names())}"
        )
    if family not in PROTOCOL_FAMILIES:
        raise ConfigError(
            f"{path}: family: " + unknown_name_message("protocol family", family, PROTOCOL_FAMILIES.names())
        )
    cls = PROTOCOL_FAMILIES.get(family)
    config = validate(cls.config_class, data, str(path))
    if builtin and config.name != path.stem:
        raise ConfigError(f"{path}: name: {config.name!r} must equal the file name {path.stem!r}")
    return cls(config, source)


# ----------------------------------------------------------------------------- recipes
class AugmentationConfig(StrictModel):
    """Point-aware training augmentation (see ``luab_bench.train.transforms``)."""

    rrc_scale: tuple[float, float] = Field(description="random-resized-crop area fraction [lo, hi]")
    rrc_ratio: tuple[float, float] = Field(description="random-resized-crop aspect ratio [lo, hi]")
    hflip: float = Field(ge=0, le=1, description="horizontal flip probability")

    @field_validator("rrc_scale")
    @classmethod
    def _scale(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1] <= 1:
            raise ValueError("needs 0 < lo <= hi <= 1")
        return v

    @field_validator("rrc_ratio")
    @classmethod
    def _ratio(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError("needs 0 < lo <= hi")
        return v


class MixingConfig(StrictModel):
    """Batch-level mixup / CutMix (timm ``Mixup`` semantics, ``mode='batch'``), point-aware.

    See ``luab_bench.train.mixing`` for what happens to Z.
    """

    mixup_alpha: float = Field(ge=0, description="Beta(α, α) for mixup's λ (0 = no mixup)")
    cutmix_alpha: float = Field(ge=0, description="Beta(α, α) for CutMix's λ (0 = no CutMix)")
    prob: float = Field(1.0, ge=0, le=1, description="probability that a batch is mixed at all")
    switch_prob: float = Field(0.5, ge=0, le=1, description="P(CutMix) when both are enabled")

    @model_validator(mode="after")
    def _one_enabled(self) -> MixingConfig:
        if self.mixup_alpha == 0 and self.cutmix_alpha == 0:
            raise ValueError("set mixup_alpha or cutmix_alpha > 0, or remove the mixing section")
        return self


class RandAugmentConfig(StrictModel):
    """Point-aware RandAugment (timm ``rand_augment_transform`` semantics; see ``train.randaug``).

    The defaults are timm's ``rand-m9-mstd0.5-inc1`` (DeiT): 2 layers, each a uniformly drawn op
    (with replacement) applied with probability 0.5 at a magnitude ~ N(9, 0.5²) clipped to [0, 10].
    """

    num_layers: int = Field(2, ge=1, description="ops per image (timm 'n')")
    magnitude: float = Field(9.0, ge=0, description="mean magnitude on timm's 0..10 scale ('m')")
    magnitude_std: float = Field(0.5, ge=0, description="std of the magnitude noise ('mstd'; 0 = fixed)")
    magnitude_max: float = Field(10.0, gt=0, description="upper clip of the magnitude ('mmax')")
    prob: float = Field(0.5, ge=0, le=1, description="probability that each drawn op is applied ('p')")
    increasing: bool = Field(True, description="timm's increasing-severity op set ('inc1')")
    translate_pct: float = Field(0.45, ge=0, le=1, description="TranslateX/YRel at magnitude 10")


class RandomErasingConfig(StrictModel):
    """Random erasing (timm ``RandomErasing``, one box per image) after normalisation; Z is kept."""

    prob: float = Field(ge=0, le=1, description="probability that an image gets an erased box")
    mode: Literal["pixel", "rand", "const"] = Field(
        "pixel", description="fill: per-pixel N(0,1) / per-channel N(0,1) / zeros (normalised units)"
    )
    min_area: float = Field(0.02, gt=0, le=1, description="box area fraction, lower bound")
    max_area: float = Field(1 / 3, gt=0, le=1, description="box area fraction, upper bound")
    min_aspect: float = Field(0.3, gt=0, le=1, description="aspect ratio drawn log-uniform in [a, 1/a]")

    @model_validator(mode="after")
    def _area(self) -> RandomErasingConfig:
        if self.min_area > self.max_area:
            raise ValueError("needs min_area <= max_area")
        return self


class RecipeConfig(StrictModel):
    """Optimisation settings for one training run."""

    name: str
    version: str
    description: str = ""
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    optimizer: Literal["sgd", "adamw"]
    lr: float = Field(gt=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (ignored by adamw)")
    weight_decay: float = Field(ge=0)
    schedule: Literal["cosine", "step"]
    warmup_epochs: float = Field(0, ge=0, description="linear warm-up from lr/100 (capped at epochs-1)")
    step_epochs: int = Field(30, ge=1, description="step schedule: multiply lr by step_gamma every N epochs")
    step_gamma: float = Field(0.1, gt=0, le=1)
    augmentation: AugmentationConfig
    eval_batch_size: int = Field(ge=1)
    image_size: int = Field(ge=8, description="training input side length (crops are resized to it)")
    mixing: MixingConfig | None = Field(None, description="mixup/CutMix (None = off)")
    drop_path_rate: float = Field(
        0.0, ge=0, lt=1, description="stochastic depth; the model must be created with it (timm kwarg)"
    )
    amp: bool = Field(True, description="bfloat16 autocast when training on CUDA (ignored on CPU)")
    source: str = Field("", description="where the settings come from (paper section, repo, or 'ours')")
    rand_augment: RandAugmentConfig | None = Field(None, description="point-aware RandAugment (None = off)")
    random_erasing: RandomErasingConfig | None = Field(None, description="random erasing (None = off)")
    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="ε of the smoothed cross-entropy (single-label softmax CE only)"
    )
    repeated_aug: int = Field(
        1, ge=1, description="repeated augmentation: each epoch shows N/r images r times (DeiT: 3)"
    )

    _v = field_validator("version", mode="before")(version_str)


def list_recipes() -> list[str]:
    """Names of the built-in recipes (``protocols/recipes/*.yaml``)."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str | Path) -> RecipeConfig:
    """A built-in recipe by name (``synthetic``) or a recipe YAML file by path, validated."""
    if _is_path(name_or_path):
        path = Path(name_or_path)
    else:
        name = str(name_or_path)
        if name not in list_recipes():
            raise LuabError(
                unknown_name_message("recipe", name, list_recipes())
                + " (or pass the path of a recipe YAML file)"
            )
        path = RECIPE_DIR / f"{name}.yaml"
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe file must be a mapping (name, version, epochs, ...)")
    return validate(RecipeConfig, data, str(path))
