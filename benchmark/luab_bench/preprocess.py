"""The evaluation preprocessing a result was scored with: resolved once, applied, and recorded.

A model's evaluation input follows timm's data config (``resolve_model_data_config``: the tag's
pretrained_cfg for ``resnet50.a1_in1k``, timm's default cfg for an untagged name, a hub/local-dir
config.json) with one override: the **input size**. A checkpoint trained by luab-bench is evaluated at
its recipe's ``image_size`` (a model trained at 64 px is not scored at timm's 224 px: issue 16, item 8),
and ``--image-size`` sets it explicitly. Crop fraction, crop mode, interpolation, mean and std stay the
data config's. What each suite then does with that config is its own documented convention
(:data:`SUITE_TRANSFORMS`); the record states it next to the numbers.

The generated suites (``synthetic``, ``synthetic-coco``) feed their arrays at native size (no resize, no
crop), so an input size cannot apply to them; asking for one is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError

#: Suites whose file loaders resize to the data config's input size.
SIZED_SUITES = ("imagenet", "coco")
#: What each suite does with the data config (see the suite modules for the references).
SUITE_TRANSFORMS: dict[str, str] = {
    "imagenet": "timm create_transform(is_training=False): resize to input_size/crop_pct, centre crop "
    "input_size, normalise (ImageNet-C: centre crop only; ObjectNet: 2-px border crop first)",
    "coco": "resize to input_size (bilinear), no crop, normalise",
    "wsol": "resize to 224x224 (bilinear), no crop, normalise (wsolevaluation's protocol; input_size unused)",
    "synthetic": "generated uint8 arrays at native size: no resize, no crop; /255 then normalise",
    "synthetic-coco": "generated uint8 arrays at native size: no resize, no crop; /255 then normalise",
}


def apply_input_size(net: Any, suite: str, image_size: int | None, *, explicit: bool) -> str:
    """Set the evaluation input size of ``net`` for ``suite``; return where the size came from.

    ``image_size`` None keeps the data config's. ``explicit`` (``--image-size``) makes a size the
    suite cannot use an error; a recipe's size is simply not applied there (it is recorded as such).
    """
    if image_size is None:
        return "data config (timm pretrained_cfg)"
    if image_size < 8:
        raise LuabError(f"--image-size {image_size}: must be >= 8 pixels")
    if suite not in SIZED_SUITES:
        if explicit:
            raise LuabError(
                f"--image-size: suite {suite!r} does not resize its inputs "
                f"({SUITE_TRANSFORMS.get(suite, 'fixed preprocessing')}); drop --image-size"
            )
        return "suite's own size (the recipe's image_size does not apply)"
    net.data_config_overrides["input_size"] = (3, int(image_size), int(image_size))
    return "--image-size" if explicit else "recipe image_size"


def _native_size(dataset_dir: Path | None) -> list[int] | None:
    import numpy as np

    if dataset_dir is None:
        return None
    arr = Path(dataset_dir) / "val" / "images.npy"
    if not arr.is_file():
        return None
    shape = np.load(arr, mmap_mode="r").shape
    return [int(shape[3]), int(shape[1]), int(shape[2])]


def resolved_preprocessing(
    net: Any, suite: str, *, size_from: str, dataset_dir: Path | None = None
) -> dict[str, Any]:
    """The preprocessing record: input size, crop, interpolation, mean/std, and the suite's transform."""
    cfg = net.data_config
    input_size = [int(v) for v in cfg["input_size"]]
    if suite in ("synthetic", "synthetic-coco"):
        input_size = _native_size(dataset_dir) or input_size
        size_from = "generated arrays (native size)"
    elif suite == "wsol":
        input_size = [3, 224, 224]
    sized = suite in SIZED_SUITES
    return {
        "input_size": input_size,
        "crop_pct": float(cfg["crop_pct"]) if sized and suite == "imagenet" else None,
        "crop_mode": str(cfg.get("crop_mode", "center")) if suite == "imagenet" else None,
        "interpolation": str(cfg["interpolation"]) if suite == "imagenet" else (
            "bilinear" if suite in ("coco", "wsol") else None
        ),
        "mean": [float(v) for v in net.input_mean],
        "std": [float(v) for v in net.input_std],
        "size_from": size_from,
        "suite_transform": SUITE_TRANSFORMS.get(suite, "see the suite's documentation"),
    }  # fmt: skip
