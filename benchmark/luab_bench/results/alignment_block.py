"""The ``alignment`` block of a result (schema 1.1; 1.2 adds optional intervals, tests, Human PC).

The r-vs-sigma curves of the human-alignment test behind the ``align_*`` metrics (Langlois et al.
2021, SI §D), what the site plots: one :class:`AlignmentCurve` per saliency method (or reference
map), the paired t-test matrix (:class:`AlignmentPairwise`), how the Human PC was built
(:class:`AlignmentHumanPC`), every map's peak against every human measure (:class:`AlignmentPeak`)
and, optionally, each curve's per-image r with the block's image ids (paired tests across models).
``ALIGNMENT_1_2_BLOCK`` / ``ALIGNMENT_1_2_CURVE`` name the fields a 1.1 file may not hold.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictStr, model_validator

from luab_bench.config import StrictModel
from luab_bench.results.fields import Identifier, MetricFloat, NonNegInt


class AlignmentCurve(StrictModel):
    """One saliency method's mean Pearson r over the Gaussian-sigma grid (the r-vs-sigma plot)."""

    method: Identifier
    sigmas: list[MetricFloat] = Field(description="sigma grid, px at the 100x100 comparison scale")
    mean_r: list[MetricFloat | None] = Field(
        description="mean Pearson r over images at each sigma; null where undefined (constant maps)"
    )
    best_sigma: MetricFloat
    best_r: MetricFloat
    # schema 1.2, all optional (Langlois et al. SI §D.2, §I)
    kind: Literal["method", "baseline"] | None = Field(None, description="a model's map or a reference map")
    n: NonNegInt | None = Field(None, description="images with a defined r")
    image_ci_low: MetricFloat | None = Field(None, description="95% bootstrap over images (sigma re-picked)")
    image_ci_high: MetricFloat | None = None
    human_boot_n: NonNegInt | None = Field(None, description="human-data resamples (annotators redrawn)")
    human_boot_sd: MetricFloat | None = Field(None, description="sd of mean r over the human resamples")
    human_boot_ci_low: MetricFloat | None = None
    human_boot_ci_high: MetricFloat | None = None
    cv_train_r: MetricFloat | None = Field(None, description="split-half: mean training-half peak r")
    cv_test_r: MetricFloat | None = Field(None, description="split-half: mean held-out r")
    cv_test_sd: MetricFloat | None = None
    per_image_r: list[MetricFloat | None] | None = Field(
        None,
        description="r of each image of the block's image_ids at best_sigma (null: undefined); for paired "
        "t-tests across models (SI §D.3)",
    )

    @model_validator(mode="after")
    def _same_length(self) -> AlignmentCurve:
        if len(self.sigmas) != len(self.mean_r) or not self.sigmas:
            raise ValueError(
                f"sigmas ({len(self.sigmas)}) and mean_r ({len(self.mean_r)}) must be non-empty and "
                "of equal length"
            )
        return self


ALIGNMENT_1_2_BLOCK = ("conventions", "pairwise", "human_pc", "per_measure", "image_ids", "human_boot_note")
ALIGNMENT_1_2_CURVE = (
    "kind",
    "n",
    "image_ci_low",
    "image_ci_high",
    "human_boot_n",
    "human_boot_sd",
    "human_boot_ci_low",
    "human_boot_ci_high",
    "cv_train_r",
    "cv_test_r",
    "cv_test_sd",
    "per_image_r",
)


class AlignmentPairwise(StrictModel):
    """Paired t-tests of per-image r between maps (SI §D.3), Bonferroni-corrected (schema 1.2)."""

    names: list[Identifier]
    n: NonNegInt
    mean_diff: list[list[MetricFloat | None]] = Field(description="mean r(row) - r(column) over images")
    t: list[list[MetricFloat | None]]
    p_bonferroni: list[list[MetricFloat | None]]

    @model_validator(mode="after")
    def _square(self) -> AlignmentPairwise:
        m = len(self.names)
        for name in ("mean_diff", "t", "p_bonferroni"):
            rows = getattr(self, name)
            if len(rows) != m or any(len(r) != m for r in rows):
                raise ValueError(f"pairwise {name} must be {m} x {m}")
        return self


class AlignmentHumanPC(StrictModel):
    """How the Human PC was built (SI §D.1; schema 1.2)."""

    measures: list[StrictStr]
    loadings: list[MetricFloat]
    weights: list[MetricFloat]
    explained: MetricFloat
    convention: StrictStr


class AlignmentPeak(StrictModel):
    """One map's peak mean r against one human measure, at its own sigma (schema 1.2)."""

    method: Identifier
    best_r: MetricFloat
    best_sigma: MetricFloat
    n: NonNegInt


class Alignment(StrictModel):
    """Human-alignment curves behind the ``align_*`` metrics (what the site plots)."""

    measure: StrictStr = Field(description='human map measure, e.g. "clicks" or "human_pc"')
    data: StrictStr = Field(description="which images and human maps were compared")
    curves: list[AlignmentCurve]
    conventions: StrictStr | None = Field(None, description="target class, saliency, blur, masking (1.2)")
    pairwise: AlignmentPairwise | None = None
    human_pc: AlignmentHumanPC | None = None
    per_measure: dict[StrictStr, list[AlignmentPeak]] | None = Field(
        None, description="peak r and sigma of every map against every human measure (methods x measures)"
    )
    image_ids: list[StrictStr] | None = Field(
        None, description="the images (units) behind each curve's per_image_r, in that order"
    )
    human_boot_note: StrictStr | None = Field(
        None, description="how the human-data error bars were made, or why they could not be (one line)"
    )

    @model_validator(mode="after")
    def _per_image_lengths(self) -> Alignment:
        for c in self.curves:
            if c.per_image_r is not None and (
                self.image_ids is None or len(c.per_image_r) != len(self.image_ids)
            ):
                raise ValueError(
                    f"curve {c.method!r}: per_image_r needs the block's image_ids and the same length "
                    f"({len(c.per_image_r)} vs {len(self.image_ids or [])})"
                )
        return self
