"""Positive-control protocol families: oracles with a known effect, so a null result means something.

- ``background_swap`` (``protocols/oracle_background.yaml``): plain cross-entropy, but trained on the
  Mixed-Rand version of the training split (every foreground, with the generator's exact mask, on the
  background of a randomly chosen class; ``data.synthetic_controls.mixed_rand_training_images``).
  Xiao et al., ICLR 2021 ("Noise or Signal", Sec. 4) show that such training lowers background
  reliance; on this suite it must lower BG-gap (issue 13 acceptance).
- ``oracle_point`` (``protocols/oracle_point.yaml``): LUAB's loss (CE + λ · smooth-L1 of the point
  head) with a noise-free Z: the true object centre (or a point drawn in the true mask), on exactly
  the images that have a byproduct Z, so it differs from LUAB only in where the target is. It is the
  upper bound of what point supervision can carry on this data.

Both need the embedded ``synthetic`` source (the generator's parameters and masks); any other source
is a one-line error. Labels, ids, the batch order and the evaluation data are unchanged, so a control
run is paired with baseline / Rand / LUAB at the same seed (same initial weights and batches).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from luab_bench.api.protocol import PROTOCOL_FAMILIES, ProtocolConfig
from luab_bench.errors import LuabError
from luab_bench.protocols import targets as _targets
from luab_bench.protocols.plain import PlainProtocol
from luab_bench.protocols.point_regression import PointRegressionProtocol

if TYPE_CHECKING:
    from luab_bench.data.synthetic import SyntheticConfig
    from luab_bench.train.sources.base import PreparedSource


class BackgroundSwapConfig(ProtocolConfig):
    """``family: background_swap`` — CE on Mixed-Rand training images (background oracle)."""

    family: Literal["background_swap"]
    background_classes: Literal["any", "other"] = Field(
        description="'any': background class uniform over all K (independent of the label, Xiao et al.); "
        "'other': uniform over the K-1 other classes (like the suite's mixed_rand split)"
    )


class OraclePointConfig(ProtocolConfig):
    """``family: oracle_point`` — CE + λ · smooth-L1 to a noise-free Z (oracle annotator)."""

    family: Literal["oracle_point"]
    point: Literal["object_centre", "mask_point"]
    loss_weight: float = Field(gt=0, description="λ in CE + λ·smoothL1 (as luab.yaml, for pairing)")
    smooth_l1_beta: float = Field(ge=0, description="torch smooth_l1_loss beta (as luab.yaml)")


def _synthetic_config(protocol: str, prepared: PreparedSource) -> SyntheticConfig:
    from luab_bench.data.synthetic import SyntheticConfig

    if prepared.source != "synthetic" or prepared.evaluation_dir is None:
        raise LuabError(
            f"protocol {protocol!r} is a positive control that needs the generator's exact masks: train "
            f"it on the embedded 'synthetic' source (suite synthetic), not {prepared.source!r}"
        )
    return SyntheticConfig.model_validate(prepared.meta["config"])


def _with_meta(prepared: PreparedSource, data: object, control: dict[str, object]) -> PreparedSource:
    meta = {**prepared.meta, "control": control}
    return dataclasses.replace(prepared, data=data, meta=meta)


@PROTOCOL_FAMILIES.register("background_swap")
class BackgroundSwapProtocol(PlainProtocol):
    """Background oracle: the baseline's loss on Mixed-Rand training images."""

    family = "background_swap"
    config_class = BackgroundSwapConfig
    config: BackgroundSwapConfig

    def adapt_source(self, prepared: PreparedSource, seed: int) -> PreparedSource:
        from luab_bench.data.synthetic_controls import mixed_rand_training_images

        cfg = _synthetic_config(self.config.name, prepared)
        images, bg_labels = mixed_rand_training_images(cfg, seed, self.config.background_classes)
        data = prepared.data
        if images.shape != tuple(data.shape_key) or len(bg_labels) != len(data.labels):
            raise LuabError(
                f"protocol {self.config.name!r}: the re-rendered training split {images.shape} does not "
                f"match the loaded one {tuple(data.shape_key)}; regenerate the data"
            )
        same = float(np.mean(bg_labels == np.asarray(data.labels)))
        swapped = dataclasses.replace(data, images=images)
        control = {
            "kind": "mixed_rand_training",
            "background_classes": self.config.background_classes,
            "seed": int(seed),
            "own_class_background_share": round(same, 4),
        }
        return _with_meta(prepared, swapped, control)


@PROTOCOL_FAMILIES.register("oracle_point")
class OraclePointProtocol(PointRegressionProtocol):
    """Oracle annotator: LUAB's loss with Z = the true object centre / a point in the true mask."""

    family = "oracle_point"
    config_class = OraclePointConfig
    config: OraclePointConfig  # type: ignore[assignment]

    def make_targets(
        self, points: np.ndarray, has_point: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        # adapt_source has already put the oracle Z into the data: train on it as LUAB trains on Z
        return _targets.byproduct_targets(points, has_point)

    def adapt_source(self, prepared: PreparedSource, seed: int) -> PreparedSource:
        from luab_bench.data.synthetic import load_split
        from luab_bench.data.synthetic_controls import oracle_points

        cfg = _synthetic_config(self.config.name, prepared)
        assert prepared.evaluation_dir is not None
        masks = load_split(prepared.evaluation_dir, "train").masks
        z = oracle_points(cfg, masks, self.config.point, seed)
        data = prepared.data
        has_point = np.asarray(data.has_point)
        points = np.zeros_like(np.asarray(data.points, dtype=np.float32))
        points[:, 0, :] = z
        points[~has_point] = 0.0
        control = {"kind": "oracle_annotator", "point": self.config.point, "seed": int(seed)}
        return _with_meta(prepared, data.with_targets(points, has_point.copy()), control)
