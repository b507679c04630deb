"""Result schema 1.2, optional blocks: which model and weights were evaluated how, and re-scoring.

``model_provenance`` (written by ``evaluate`` and ``submission evaluate``): the exact model spec, the
weights' SHA-256 and size and where they came from, the factory module's file hash and version, the
point head, and the resolved evaluation preprocessing (input size, crop, interpolation, mean/std),
plus the metrics that do not apply to this model and why (e.g. point metrics without a point head).

``rescore`` (written by ``submission evaluate``): this result re-scores another, submitted result —
which one (result id, the submitter's key), the suite's tolerance, every metric's drift, and the
verdict. The re-scorer's key is this result's own signature key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, StrictStr

from luab_bench.config import StrictModel
from luab_bench.results.fields import FiniteFloat, NonNegInt


class WeightsRecord(StrictModel):
    """The weights that were loaded: file name, SHA-256, size in bytes, source (file, hf-hub:…, url)."""

    file: StrictStr | None = None
    sha256: StrictStr | None = None
    size: NonNegInt | None = None
    source: StrictStr
    url: StrictStr | None = None


class FactoryRecord(StrictModel):
    """A ``module:callable`` factory: module, callable, its file's name and SHA-256, its version."""

    module: StrictStr
    callable: StrictStr
    file: StrictStr | None = None
    sha256: StrictStr | None = None
    version: StrictStr | None = None


class PointHeadRecord(StrictModel):
    """Whether a point head was loaded, its size, and how many point-head tensors were left out."""

    loaded: StrictBool
    num_point_heads: NonNegInt
    ignored_tensors: NonNegInt = 0


class Preprocessing(StrictModel):
    """The evaluation input the metrics were measured on."""

    input_size: list[NonNegInt] = Field(description="(C, H, W) fed to the model")
    crop_pct: FiniteFloat | None = None
    crop_mode: StrictStr | None = None
    interpolation: StrictStr | None = None
    mean: list[FiniteFloat]
    std: list[FiniteFloat]
    size_from: StrictStr = Field(description="where the input size came from (recipe, --image-size, ...)")
    suite_transform: StrictStr = Field(description="what the suite does with it (resize, crop, ...)")


class ModelProvenance(StrictModel):
    """Exactly which model and weights were evaluated, and with what preprocessing (schema 1.2)."""

    spec: StrictStr = Field(
        description="the model spec as given (timm name/tag, hf-hub:, local-dir:, module:callable)"
    )
    kind: Literal["timm", "hf-hub", "local-dir", "factory", "registry", "checkpoint"]
    architecture: StrictStr | None = None
    pretrained_cfg_tag: StrictStr | None = None
    pretrained: StrictBool = False
    weights: WeightsRecord | None = None
    init: StrictStr | None = Field(None, description="how unloaded weights were initialised (random, seed)")
    factory: FactoryRecord | None = None
    point_head: PointHeadRecord
    timm_version: StrictStr | None = None
    preprocessing: Preprocessing
    notes: list[StrictStr] = Field(default_factory=list, description="what else a reader must know")
    not_applicable: dict[StrictStr, StrictStr] = Field(
        default_factory=dict, description="metrics not measured for this model, with the reason"
    )


class MetricDriftRecord(StrictModel):
    """One metric of a re-score: submitted and re-scored value, drift (re-scored − submitted), verdict."""

    metric: StrictStr
    submitted: FiniteFloat
    rescored: FiniteFloat | None = None
    drift: FiniteFloat | None = None
    unit: StrictStr = ""
    tolerance: FiniteFloat | None = Field(
        None, ge=0, description="largest |drift| accepted for this metric, in its unit (absent: the block's)"
    )
    ok: StrictBool


class Rescore(StrictModel):
    """This result re-scores a submitted result (schema 1.2)."""

    of_result_id: StrictStr
    submitted_key: StrictStr = Field(description="base64 public key that signed the submitted result")
    submission: StrictStr = Field(description="the submission directory name (submissions/<id>)")
    tolerance: FiniteFloat = Field(
        description="the suite's largest |drift| accepted for metrics in % / pp; each drift may carry its own"
    )
    status: Literal["ok", "drifted"]
    drifts: list[MetricDriftRecord]
    not_rescored: list[StrictStr] = Field(
        default_factory=list, description="submitted metrics this re-score does not measure (e.g. align_*)"
    )
