"""Reading image files for evaluation, shared by the file-based suites (imagenet, coco, wsol).

:class:`ImageFiles` is a map-style dataset of image paths (RGB PIL -> transform); :func:`make_transform`
builds the evaluation transform from a timm data config (resize + centre crop + normalise, or one of
the per-dataset variants); :func:`default_data_config` is the model's timm data config (a LuabNet's
own, with its evaluation overrides) and :func:`data_config_for` the same with a suite's
``normalize=(mean, std)`` applied; :func:`model_num_classes` reads a model's number of logits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from luab_bench.inference import Normalize


def make_transform(data_config: Mapping[str, Any], kind: str = "standard") -> Callable[[Any], Any]:
    """Eval transform from a timm data config; ``kind``: standard | center_crop_only | objectnet | none."""
    from timm.data import create_transform
    from torchvision import transforms as T

    size = tuple(data_config["input_size"][-2:])
    norm = T.Normalize(mean=data_config["mean"], std=data_config["std"])
    if kind == "center_crop_only":
        return T.Compose([T.CenterCrop(size), T.ToTensor(), norm])
    if kind == "none":
        return T.Compose([T.ToTensor(), norm])
    base = create_transform(**data_config, is_training=False)
    if kind == "objectnet":
        return T.Compose([T.Lambda(border_crop), base])
    return base


def border_crop(img: Any, border: int = 2) -> Any:
    """ObjectNet's preprocessing: remove a ``border``-pixel frame (the red border) from a PIL image."""
    w, h = img.size
    return img.crop((border, border, w - border, h - border))


class ImageFiles:
    """A map-style dataset of image files (RGB PIL -> transform)."""

    def __init__(self, paths: list[Path], transform: Callable[[Any], Any]) -> None:
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Any:
        from PIL import Image

        with Image.open(self.paths[i]) as im:
            return self.transform(im.convert("RGB"))


def default_data_config(model: Any) -> dict[str, Any]:
    """timm's eval data config of ``model`` (a LuabNet's own, with its evaluation overrides)."""
    from timm.data import resolve_model_data_config

    if isinstance(getattr(model, "data_config_overrides", None), dict):
        return model.data_config
    return resolve_model_data_config(getattr(model, "backbone", model))


def data_config_for(model: Any, normalize: Normalize) -> dict[str, Any]:
    """:func:`default_data_config` of ``model`` with ``normalize=(mean, std)`` (if given) as its mean/std."""
    cfg = default_data_config(model)
    if isinstance(normalize, tuple):
        cfg = {**cfg, "mean": tuple(normalize[0]), "std": tuple(normalize[1])}
    return cfg


def model_num_classes(model: Any) -> int | None:
    """The model's number of class logits when it says (LuabNet / timm ``num_classes``), else None."""
    n = getattr(model, "num_classes", None)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None
