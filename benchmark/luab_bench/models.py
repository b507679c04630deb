"""The LUAB model: a timm backbone plus a point head on the same penultimate features.

``LuabNet.forward(x) -> ModelOutput(logits, points, features)`` with
``features = backbone.forward_head(backbone.forward_features(x), pre_logits=True)``,
``logits = backbone.get_classifier()(features)`` (identical to ``backbone(x)``) and
``points = point_head(features)`` of shape (B, P, 2), or None when the protocol uses no points.

Backbones come from timm by name (``resnet10t``, ``vit_tiny_patch16_224``, ``resnet50.a1_in1k``) or by
timm's own sources (``hf-hub:org/name``, ``local-dir:PATH``, resolved by ``timm.models.parse_model_name``),
from the :data:`MODELS` registry, or from a ``"package.module:callable"`` factory (for submissions). A
factory is called as ``factory(num_classes=..., pretrained=..., **kwargs)`` and must return a module
with timm's ``forward_features`` / ``forward_head(pre_logits=True)`` / ``get_classifier`` /
``num_features`` surface. Importing a factory needs the caller's opt-in (:mod:`luab_bench.code_trust`).
Which weights go in (files, pretrained tags) is :mod:`luab_bench.model_spec`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import nn

from luab_bench.errors import LuabError
from luab_bench.protocols.heads import PointHead
from luab_bench.registry import Registry, unknown_name_message

#: Extra model factories by name (checked before timm). ``@MODELS.register("my_net")``.
MODELS: Registry[Callable[..., nn.Module]] = Registry("model")


class ModelOutput(NamedTuple):
    """What :class:`LuabNet` returns: logits (B, K), points (B, P, 2) or None, features (B, D)."""

    logits: torch.Tensor
    points: torch.Tensor | None
    features: torch.Tensor


class LuabNet(nn.Module):
    """A classifier backbone with an optional point head on its pre-logits features."""

    def __init__(self, backbone: nn.Module, *, num_point_heads: int, name: str = "") -> None:
        super().__init__()
        for attr in ("forward_features", "forward_head", "get_classifier", "num_features"):
            if not hasattr(backbone, attr):
                raise LuabError(
                    f"model {name or type(backbone).__name__!r} has no {attr!r}; a backbone must "
                    "follow timm's interface (forward_features, forward_head, get_classifier)"
                )
        if num_point_heads < 0:
            raise ValueError(f"num_point_heads must be >= 0, got {num_point_heads}")
        self.backbone = backbone
        self.model_name = name
        self.num_point_heads = int(num_point_heads)
        self.num_features = int(backbone.num_features)
        classifier = backbone.get_classifier()
        self.num_classes = int(getattr(classifier, "out_features", getattr(backbone, "num_classes", 0)))
        self.point_head = PointHead(self.num_features, num_point_heads) if num_point_heads else None
        #: evaluation overrides of timm's data config (e.g. the recipe's input size), see preprocess.py
        self.data_config_overrides: dict[str, Any] = {}

    @property
    def data_config(self) -> dict[str, Any]:
        """timm's preprocessing for the backbone (mean, std, input size, ...) with the overrides."""
        from timm.data import resolve_model_data_config

        return {**resolve_model_data_config(self.backbone), **self.data_config_overrides}

    @property
    def input_mean(self) -> tuple[float, float, float]:
        """Per-channel mean (on the [0, 1] scale) that inputs are normalised with."""
        return tuple(float(v) for v in self.data_config["mean"])  # type: ignore[return-value]

    @property
    def input_std(self) -> tuple[float, float, float]:
        """Per-channel std (on the [0, 1] scale) that inputs are normalised with."""
        return tuple(float(v) for v in self.data_config["std"])  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> ModelOutput:
        """Normalised images (B, 3, H, W) -> :class:`ModelOutput`."""
        features = self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True)
        logits = self.backbone.get_classifier()(features)
        points = self.point_head(features) if self.point_head is not None else None
        return ModelOutput(logits, points, features)


def resolve_model_factory(spec: str) -> Callable[..., nn.Module]:
    """``"package.module:callable"`` -> the callable, with a readable error when it cannot be found."""
    from luab_bench.code_trust import import_factory_module

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise LuabError(f"model factory {spec!r} must look like 'package.module:callable'")
    module = import_factory_module(module_name, spec)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise LuabError(f"model factory {spec!r}: {module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        raise LuabError(f"model factory {spec!r} is not callable")
    return obj


def list_models(pattern: str | None = None) -> list[str]:
    """Model names :func:`create_model` builds by name: this package's ``MODELS`` registry plus
    ``timm.list_models(pattern)``, filtered by the glob ``pattern`` (``"resnet*"``; None = all), in
    natural order as timm lists them (``resnet10t`` before ``resnet101``).

    ``package.module:callable`` factories are not listed (any importable callable is one).
    """
    import fnmatch
    import re

    import timm

    def natural(name: str) -> list[Any]:
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower())]

    own = [n for n in MODELS.names() if pattern is None or fnmatch.fnmatchcase(n, pattern)]
    return sorted(set(own) | set(timm.list_models(pattern or "")), key=natural)


def timm_source(name: str) -> str | None:
    """``"hf-hub"`` / ``"local-dir"`` for timm's sourced names (``hf-hub:org/name``), else None."""
    prefix = name.split(":", 1)[0]
    if prefix not in ("hf-hub", "local-dir"):
        return None
    from timm.models import parse_model_name

    return parse_model_name(name)[0]


def check_model_name(name: str) -> None:
    """Raise :class:`LuabError` (with a did-you-mean) unless ``name`` can be built by :func:`create_model`."""
    if name in MODELS:
        return
    if timm_source(name) is not None:
        return
    if ":" in name:
        resolve_model_factory(name)
        return
    import timm

    if not timm.is_model(name):
        known = set(timm.list_models()) | set(MODELS.names())
        raise LuabError(
            unknown_name_message("model", name, known).split(" Known ")[0]
            + " See `timm.list_models()` for the available names, or pass 'package.module:callable'."
        )


def create_model(
    name: str,
    num_classes: int,
    *,
    num_point_heads: int,
    pretrained: bool = False,
    init_seed: int | None = 0,
    **timm_kwargs: Any,
) -> LuabNet:
    """Build :class:`LuabNet` for ``name`` with ``num_classes`` outputs and ``num_point_heads`` points.

    Initialisation runs under ``torch.manual_seed(init_seed)`` inside a forked RNG state, so the
    same name/seed gives the same weights whatever ran before, and protocols sharing a seed start
    from the same backbone (the point head is created after the backbone). ``init_seed=None`` uses
    the global RNG instead.
    """
    check_model_name(name)
    if num_classes < 1:
        raise LuabError(f"model {name!r}: num_classes must be >= 1, got {num_classes}")
    with torch.random.fork_rng(devices=[]):
        if init_seed is not None:
            torch.manual_seed(init_seed)
        if name in MODELS:
            backbone = MODELS.get(name)(num_classes=num_classes, pretrained=pretrained, **timm_kwargs)
        elif ":" in name and timm_source(name) is None:
            factory = resolve_model_factory(name)
            try:
                backbone = factory(num_classes=num_classes, pretrained=pretrained, **timm_kwargs)
            except TypeError as err:
                extra = "".join(f", {k}=..." for k in timm_kwargs)
                raise LuabError(
                    f"model factory {name!r} rejected its keyword arguments ({err}); luab-bench calls "
                    f"factory(num_classes=..., pretrained=...{extra}): accept (or **kwargs) them"
                ) from None
        else:
            import timm

            try:
                backbone = timm.create_model(
                    name, pretrained=pretrained, num_classes=num_classes, **timm_kwargs
                )
            except TypeError as err:
                raise LuabError(f"model {name!r}: bad keyword argument ({err})") from None
        net = LuabNet(backbone, num_point_heads=num_point_heads, name=name)
    if net.num_classes != num_classes:
        raise LuabError(f"model {name!r} built with {net.num_classes} classes, expected {num_classes}")
    return net
