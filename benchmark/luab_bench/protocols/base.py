"""Protocol plugin API, the protocol-family registry, and training recipes.

A *protocol* says what the model is trained on besides (X, Y): nothing (baseline), the annotation
byproduct Z (LUAB), or a random Z (Rand). It is YAML data (``protocols/<name>.yaml``: ``name``,
``version``, ``family``, ``description`` and the family's parameters) validated by the family's typed
config; the family class (registered in :data:`PROTOCOL_FAMILIES`) implements the behaviour:

- ``num_point_heads(num_classes)``: how many points the model regresses (0 = no point head; 1 for
  ImageNet-style single-label data; a multi-label COCO family would return ``num_classes``);
- ``make_targets(points, has_point, seed)``: the (N, P, 2) targets and (N, P) mask actually trained on
  (idempotent: applying it to its own output gives the same arrays);
- ``loss(out, labels, points, has_point)``: the scalar loss and its terms ``{"ce", "point"}``.

A new family is one new module with ``@PROTOCOL_FAMILIES.register("name")`` on a :class:`Protocol`
subclass, named in the registry's ``plugin_modules`` (imported on the first lookup). *Recipes*
(``protocols/recipes/<name>.yaml``, :class:`RecipeConfig`) hold the optimisation settings, so one
protocol can be run under several budgets.

torch is imported inside the loss functions only: the CLI lists protocols without loading it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from luab_bench.config import StrictModel, load_yaml, validate
from luab_bench.errors import ConfigError, LuabError
from luab_bench.protocols import targets as _targets
from luab_bench.registry import Registry, unknown_name_message

if TYPE_CHECKING:
    import numpy as np
    import torch

    from luab_bench.models import ModelOutput
    from luab_bench.train.sources.base import PreparedSource

PROTOCOL_DIR = Path(__file__).resolve().parent
RECIPE_DIR = PROTOCOL_DIR / "recipes"


def _version_str(v: Any) -> Any:
    """Accept ``version: 1`` / ``1.0`` in YAML as the string "1" / "1.0"."""
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


# ----------------------------------------------------------------------------- configs
#: Which slots Rand draws a point for. ``every_sample`` (protocols v1.1): every image (single-label) /
#: every present class (multi-label), LUAB §5.1-5.2 "a uniform-random point Z for each image";
#: ``with_byproduct`` (v1.0, the value when the key is absent so older results reproduce): only the
#: slots that have a byproduct Z, as LUAB.
RandomSlots = Literal["with_byproduct", "every_sample"]
RANDOM_SLOTS_HELP = (
    "Rand only: every_sample = a random Z for every image / present class (LUAB §5.1); "
    "with_byproduct = only where a byproduct Z exists (v1.0; the default when absent)"
)


class ProtocolConfig(StrictModel):
    """Fields every protocol YAML has."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: str
    family: str
    description: str

    _v = field_validator("version", mode="before")(_version_str)


class PlainConfig(ProtocolConfig):
    """``family: plain`` — cross-entropy only, no point head (the baseline)."""

    family: Literal["plain"]


class PointRegressionConfig(ProtocolConfig):
    """``family: point_regression`` — CE + ``loss_weight`` · smooth-L1(point head, Z) where Z exists."""

    family: Literal["point_regression"]
    target: Literal["byproduct", "uniform_random"]
    loss_weight: float = Field(gt=0, description="λ in CE + λ·smoothL1")
    smooth_l1_beta: float = Field(ge=0, description="torch smooth_l1_loss beta (0 = plain L1)")
    random_slots: RandomSlots = Field("with_byproduct", description=RANDOM_SLOTS_HELP)

    @model_validator(mode="after")
    def _slots_only_for_rand(self) -> PointRegressionConfig:
        if self.target != "uniform_random" and self.random_slots != "with_byproduct":
            raise ValueError("random_slots applies to target: uniform_random only; remove it")
        return self


# ----------------------------------------------------------------------------- plugin API
class Protocol(ABC):
    """A training protocol: its validated config plus targets and loss."""

    family: ClassVar[str]
    config_class: ClassVar[type[ProtocolConfig]]

    def __init__(self, config: ProtocolConfig, source: str | None = None) -> None:
        self.config = config
        #: what :func:`load_protocol` was given (a built-in name or a YAML path); loads it again.
        self.source = source or config.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.name!r}, source={self.source!r})"

    @abstractmethod
    def num_point_heads(self, num_classes: int) -> int:
        """How many (x, y) points the model's point head predicts (0 = no point head)."""

    @abstractmethod
    def make_targets(
        self, points: np.ndarray, has_point: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Byproduct points (N, P, 2) + mask (N, P) -> the targets and mask this protocol trains on."""

    @abstractmethod
    def loss(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        points: torch.Tensor,
        has_point: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scalar training loss and its (detached) terms ``{"ce": .., "point": ..}``."""

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The classification term (softmax CE on class indices; multi-label families use BCE)."""
        import torch.nn.functional as F

        return F.cross_entropy(logits, labels)

    def point_mask(self, labels: torch.Tensor, has_point: torch.Tensor) -> torch.Tensor:
        """Which (sample, head) slots the point term averages over (single-label: where Z exists)."""
        return has_point

    def adapt_source(self, prepared: PreparedSource, seed: int) -> PreparedSource:
        """The training source this protocol trains on (default: unchanged).

        Positive controls (``protocols/controls.py``) change the data itself: other backgrounds, or
        noise-free Z. They must keep labels, ids, batch order and the evaluation data, so that the
        run stays paired with the other protocols at the same seed.
        """
        return prepared


# Families in their own modules are plugins, imported on the first lookup (no import cycle with base).
PROTOCOL_FAMILIES: Registry[type[Protocol]] = Registry(
    "protocol family", plugin_modules=("luab_bench.protocols.multilabel", "luab_bench.protocols.controls")
)


@PROTOCOL_FAMILIES.register("plain")
class PlainProtocol(Protocol):
    """Baseline: cross-entropy on the labels; any byproduct is ignored."""

    family = "plain"
    config_class = PlainConfig

    def num_point_heads(self, num_classes: int) -> int:
        return 0

    def make_targets(
        self, points: np.ndarray, has_point: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        return _targets.no_targets(len(has_point))

    def loss(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        points: torch.Tensor,
        has_point: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ce = self.classification_loss(out.logits, labels)
        return ce, {"ce": ce.detach(), "point": ce.new_zeros(())}


def masked_smooth_l1(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """Mean smooth-L1 over the (sample, head) slots where ``mask`` is True (mean over x and y too).

    A masked slot contributes nothing to the value or the gradient, whatever its target holds (even
    NaN); with no slot set the result is exactly 0 and still part of the graph.
    """
    import torch
    import torch.nn.functional as F

    m = mask.to(torch.bool)
    safe_target = torch.where(m.unsqueeze(-1), target.to(pred.dtype), pred.detach())
    per_slot = F.smooth_l1_loss(pred, safe_target, beta=beta, reduction="none").mean(dim=-1)
    per_slot = torch.where(m, per_slot, per_slot.new_zeros(()))
    return per_slot.sum() / m.sum().clamp(min=1).to(per_slot.dtype)


@PROTOCOL_FAMILIES.register("point_regression")
class PointRegressionProtocol(Protocol):
    """LUAB / Rand: CE + λ · mean smooth-L1 between the point head and Z over samples that have Z."""

    family = "point_regression"
    config_class = PointRegressionConfig
    config: PointRegressionConfig

    def num_point_heads(self, num_classes: int) -> int:
        return 1

    def make_targets(
        self, points: np.ndarray, has_point: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.config.target == "byproduct":
            return _targets.byproduct_targets(points, has_point)
        _, has_point = _targets.check_point_arrays(points, has_point)
        if self.config.random_slots == "every_sample":  # multi-label: the loss keeps present classes
            has_point = _targets.all_slots(has_point)
        return _targets.uniform_random_targets(has_point, seed)

    def point_loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The regression term: mean smooth-L1 over the masked slots (one slot per image here)."""
        return masked_smooth_l1(pred, target, mask, self.config.smooth_l1_beta)

    def loss(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        points: torch.Tensor,
        has_point: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        heads = self.num_point_heads(out.logits.shape[1])
        if out.points is None or out.points.shape[1] != heads:
            raise LuabError(
                f"protocol {self.config.name!r} needs {heads} point head(s); create the model with "
                f"num_point_heads={heads}"
            )
        ce = self.classification_loss(out.logits, labels)
        mask = self.point_mask(labels, has_point)
        point = self.point_loss(out.points, points, mask)
        total = ce + self.config.loss_weight * point
        return total, {"ce": ce.detach(), "point": point.detach()}


# ----------------------------------------------------------------------------- loading protocols
def list_protocols() -> list[str]:
    """Names of the built-in protocols (``protocols/*.yaml``)."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def _is_path(name_or_path: str | Path) -> bool:
    s = str(name_or_path)
    return isinstance(name_or_path, Path) or s.endswith((".yaml", ".yml")) or "/" in s or "\\" in s


def load_protocol(name_or_path: str | Path) -> Protocol:
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

    _v = field_validator("version", mode="before")(_version_str)


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
