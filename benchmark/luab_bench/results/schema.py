"""The typed result format: one JSON file per (model, protocol, suite, seed) run.

Every number is a typed, finite float (or int) with its ``n`` and, where it applies, a confidence
interval; strings are never accepted where a number belongs and NaN/inf are rejected, because a result
file is what the leaderboard ranks and what a signature vouches for. ``schema_version`` is a literal:
a file written by a newer luab-bench fails with a message that says so instead of half-loading.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictStr, ValidationError, field_validator, model_validator

from luab_bench.config import StrictModel, format_validation_error
from luab_bench.errors import LuabError
from luab_bench.results.alignment_block import (
    ALIGNMENT_1_2_BLOCK,
    ALIGNMENT_1_2_CURVE,
    Alignment,
    AlignmentCurve,
    AlignmentHumanPC,
    AlignmentPairwise,
    AlignmentPeak,
)
from luab_bench.results.fields import MAX_METRIC_MAGNITUDE, FiniteFloat, Identifier, MetricFloat, NonNegInt
from luab_bench.results.model_provenance import ModelProvenance, Rescore
from luab_bench.results.per_image import PerImage, check_against_metric

__all__ = [  # the alignment block's models and the typed numbers stay importable from here
    "MAX_METRIC_MAGNITUDE",
    "SCHEMA_VERSION",
    "Alignment",
    "AlignmentCurve",
    "AlignmentHumanPC",
    "AlignmentPairwise",
    "AlignmentPeak",
    "FiniteFloat",
    "Metric",
    "Result",
    "ResultError",
    "load_result",
    "read_json_document",
    "result_json_schema",
    "validate_result",
]

SCHEMA_VERSION = "1.2"
# 1.0 files (no ``alignment`` block) stay readable and verifiable (a signature covers the file's own
# bytes); an absent block is never written back as ``null`` (see :meth:`Result.to_json_dict`).
# 1.2 adds optional fields only (``submission_id``, ``tasks``, ``model_provenance``, ``rescore``
# (results/model_provenance.py); the alignment block's intervals, tests and Human PC
# (results/alignment_block.py)); absent ones are never written back as ``null``; 1.0 / 1.1 files
# still load and verify. ``per_image`` (results/per_image.py) is a later optional 1.2 field, like the
# alignment curves' ``per_image_r``: a reader older than either refuses a file that holds it.
SUPPORTED_SCHEMA_VERSIONS = ("1.0", "1.1", SCHEMA_VERSION)

#: a submission directory name, ``submissions/<id>/``
SubmissionId = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")]
MetricName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)]


class ResultError(LuabError):
    """A result file is missing, is not JSON, or does not match the result schema."""


def _check_finite_tree(value: Any, where: str = "") -> Any:
    """Raise ValueError on a NaN/inf anywhere in a nested JSON-like value (it cannot be serialised)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite number {value!r} at {where or '(top)'}; record it as null instead")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"non-string key {k!r} at {where or '(top)'}")
            _check_finite_tree(v, f"{where}.{k}" if where else k)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite_tree(v, f"{where}[{i}]")
    return value


class Metric(StrictModel):
    """One measured number with its sample size and (optional) confidence interval."""

    value: MetricFloat
    n: NonNegInt
    ci_low: MetricFloat | None = None
    ci_high: MetricFloat | None = None
    unit: StrictStr = Field(description='"%" for accuracies in percent, "" for unitless numbers')
    higher_is_better: StrictBool
    task: StrictStr = Field("", description="what was measured and on which split/dataset")

    @model_validator(mode="after")
    def _interval_contains_value(self) -> Metric:
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("ci_low and ci_high must be given together (or both left out)")
        if (
            self.ci_low is not None
            and self.ci_high is not None
            and not (self.ci_low <= self.value <= self.ci_high)
        ):
            raise ValueError(
                f"interval [{self.ci_low}, {self.ci_high}] does not contain value {self.value}; "
                "need ci_low <= value <= ci_high"
            )
        return self


class ModelInfo(StrictModel):
    """Which network was evaluated."""

    name: Identifier
    source: StrictStr = Field("timm", description='where the architecture/weights come from, e.g. "timm"')
    pretrained: StrictBool = False
    num_params: NonNegInt | None = None


class ProtocolInfo(StrictModel):
    """Which training protocol (baseline / rand / luab / ...) produced the model."""

    name: Identifier
    version: StrictStr
    family: Identifier

    @field_validator("version", mode="before")
    @classmethod
    def _int_version_to_str(cls, v: Any) -> Any:
        # Protocol YAML files may write `version: 1`; a version is an identifier, not a quantity.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class SuiteInfo(StrictModel):
    """Which evaluation suite, which variant of it, and the fingerprint of the exact data used."""

    name: Identifier
    variant: StrictStr = ""
    data_fingerprint: StrictStr | None = None


class Provenance(StrictModel):
    """Where and with what software a result was produced (no hostname: privacy)."""

    luab_bench_version: StrictStr
    git_commit: StrictStr | None = None
    git_dirty: StrictBool | None = None
    python: StrictStr | None = None
    platform: StrictStr | None = None
    packages: dict[str, StrictStr | None] = Field(default_factory=dict)
    cpu: StrictStr | None = None
    gpu: StrictStr | None = None
    data_fingerprint: StrictStr | None = None
    extra_data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extra_data")
    @classmethod
    def _finite(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _check_finite_tree(v)


class Signature(StrictModel):
    """Ed25519 signature over :func:`luab_bench.results.signing.canonical_bytes` of the result."""

    algorithm: Literal["ed25519"]
    public_key: StrictStr = Field(description="base64 of the raw 32-byte Ed25519 public key")
    value: StrictStr = Field(description="base64 of the 64-byte Ed25519 signature")

    @field_validator("public_key")
    @classmethod
    def _key_is_32_bytes(cls, v: str) -> str:
        _b64_of_length(v, 32, "public_key")
        return v

    @field_validator("value")
    @classmethod
    def _sig_is_64_bytes(cls, v: str) -> str:
        _b64_of_length(v, 64, "signature value")
        return v


class TaskOutcome(StrictModel):
    """Whether one evaluation task ran (schema 1.2): ``ok``, ``missing`` (no data) or ``failed``."""

    status: Literal["ok", "missing", "failed"]
    reason: StrictStr = Field("", description="why the task is missing or failed (one line)")


def _b64_of_length(text: str, length: int, what: str) -> bytes:
    from luab_bench.results.ed25519_checks import strict_b64decode

    raw = strict_b64decode(text, what)  # canonical base64 only: one accepted spelling per value
    if len(raw) != length:
        raise ValueError(f"{what} must decode to {length} bytes, got {len(raw)}")
    return raw


def utc_now_iso() -> str:
    """Current time as ``YYYY-MM-DDTHH:MM:SSZ`` (seconds resolution, UTC)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_result_id() -> str:
    """A fresh random result id (32 hex characters)."""
    return uuid.uuid4().hex


class Result(StrictModel):
    """One run's outcome: what was trained/evaluated, the metrics, and how to reproduce it."""

    schema_version: Literal["1.0", "1.1", "1.2"]
    result_id: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")]
    created_at: StrictStr = Field(description="ISO-8601 timestamp in UTC, e.g. 2026-01-31T12:00:00Z")
    model: ModelInfo
    protocol: ProtocolInfo
    suite: SuiteInfo
    seed: NonNegInt
    metrics: dict[MetricName, Metric]
    config: dict[str, Any] = Field(description="resolved protocol + recipe + data config")
    provenance: Provenance
    training: dict[str, Any] | None = Field(None, description="per-epoch curves (lists of numbers)")
    alignment: Alignment | None = Field(
        None, description="r-vs-sigma curves of the human-alignment test (schema 1.1; absent if not run)"
    )
    submission_id: SubmissionId | None = Field(
        None,
        description="schema 1.2: the leaderboard submission (submissions/<id>/) this result belongs to; "
        "covered by the signature, set with `luab-bench sign --submission ID`",
    )
    tasks: dict[MetricName, TaskOutcome] | None = Field(
        None,
        description="each evaluation task's status (schema 1.2): the metrics of missing or failed "
        "tasks are absent, and this says why",
    )
    model_provenance: ModelProvenance | None = Field(
        None, description="exact model spec, weights hash, preprocessing (schema 1.2; absent if not recorded)"
    )
    rescore: Rescore | None = Field(
        None, description="this result re-scores a submitted result (schema 1.2; absent otherwise)"
    )
    per_image: dict[MetricName, PerImage] | None = Field(
        None,
        description="schema 1.2 (optional): per-test-image correctness behind accuracy metrics, for "
        "paired bootstraps between results on the same images (results/per_image.py)",
    )
    signature: Signature | None = None

    @field_validator("created_at")
    @classmethod
    def _utc_iso(cls, v: str) -> str:
        try:
            ts = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{v!r} is not an ISO-8601 timestamp (e.g. 2026-01-31T12:00:00Z)") from None
        if ts.utcoffset() is None or ts.utcoffset().total_seconds() != 0:
            raise ValueError(f"{v!r} must be in UTC (end it with 'Z' or '+00:00')")
        return v

    @field_validator("config", "training")
    @classmethod
    def _finite(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_finite_tree(v)

    @model_validator(mode="after")
    def _alignment_needs_1_1(self) -> Result:
        if self.alignment is not None and self.schema_version == "1.0":
            raise ValueError('an "alignment" block needs schema_version "1.1" (1.0 has no such field)')
        if self.tasks is not None and self.schema_version in ("1.0", "1.1"):
            raise ValueError(
                f'a "tasks" block needs schema_version "1.2" ({self.schema_version} has no such field)'
            )
        return self

    @model_validator(mode="after")
    def _submission_needs_1_2(self) -> Result:
        if self.submission_id is not None and self.schema_version in ("1.0", "1.1"):
            raise ValueError('"submission_id" needs schema_version "1.2" (older versions have no such field)')
        return self

    @model_validator(mode="after")
    def _provenance_needs_1_2(self) -> Result:
        for name in ("model_provenance", "rescore", "per_image"):
            if getattr(self, name) is not None and self.schema_version in ("1.0", "1.1"):
                raise ValueError(f'a "{name}" block needs schema_version "1.2"')
        return self

    @model_validator(mode="after")
    def _per_image_matches_metrics(self) -> Result:
        for name, block in (self.per_image or {}).items():
            metric = self.metrics.get(name)
            if metric is None:
                raise ValueError(f"per_image.{name} has no metric {name!r} in metrics")
            check_against_metric(name, block, metric.value, metric.n)
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (what is written to disk and what is signed).

        An absent ``alignment`` block is left out rather than written as ``null``, so a 1.0 result
        written back by this version is still a valid 1.0 document.
        """
        doc = self.model_dump(mode="json")
        if doc.get("alignment") is None:
            doc.pop("alignment", None)
        else:  # optional 1.2 fields that are absent stay absent (a 1.1 block round-trips unchanged)
            block = doc["alignment"]
            for key in ALIGNMENT_1_2_BLOCK:
                if block.get(key) is None:
                    block.pop(key, None)
            for curve in block.get("curves", []):
                for key in ALIGNMENT_1_2_CURVE:
                    if curve.get(key) is None:
                        curve.pop(key, None)
        if doc.get("submission_id") is None:
            doc.pop("submission_id", None)
        if doc.get("tasks") is None:
            doc.pop("tasks", None)
        for optional in ("model_provenance", "rescore", "per_image"):
            if doc.get(optional) is None:
                doc.pop(optional, None)
        return doc


def read_json_document(path: str | Path) -> dict[str, Any]:
    """Parse a result file into a dict with the shared safe loader (:mod:`luab_bench.safe_json`).

    Missing or non-regular file (a FIFO would block), over the size cap, not UTF-8, bad JSON,
    duplicate keys, nesting deeper than :data:`~luab_bench.safe_json.MAX_DEPTH` or a lone surrogate
    → :class:`ResultError` naming the file: one such file never crashes a command or a site build.
    """
    from luab_bench import safe_json

    path = Path(path)
    try:
        data = safe_json.read_regular_file(path, max_bytes=safe_json.MAX_DOC_BYTES)
    except FileNotFoundError:
        raise ResultError(f"{path}: result file not found") from None
    except OSError as err:
        raise ResultError(f"{path}: cannot read result file ({err.__class__.__name__}: {err})") from None
    except safe_json.InputProblem as err:
        raise ResultError(f"{path}: cannot read result file: {err}") from None
    try:
        doc = safe_json.loads(data, reject_duplicates=True)
    except safe_json.InputProblem as err:
        raise ResultError(f"{path}: not valid JSON ({err}); re-create it with luab-bench") from None
    if not isinstance(doc, dict):
        raise ResultError(f"{path}: a result must be a JSON object, got {type(doc).__name__}")
    return doc


def validate_result(doc: Any, source: str) -> Result:
    """Validate a parsed document as :class:`Result`; errors name ``source`` and each bad field."""
    if isinstance(doc, dict):
        version = doc.get("schema_version")
        if version is not None and version not in SUPPORTED_SCHEMA_VERSIONS:
            raise ResultError(
                f"{source}: schema_version {version!r} is not supported by this luab-bench "
                f"(supports {', '.join(SUPPORTED_SCHEMA_VERSIONS)}); upgrade luab-bench to read it"
            )
    try:
        return Result.model_validate(doc)
    except ValidationError as err:
        raise ResultError(format_validation_error(source, err)) from None


def load_result(path: str | Path) -> Result:
    """Read and validate one result JSON file, raising :class:`ResultError` naming file and field."""
    return validate_result(read_json_document(path), str(path))


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Result` (published with the leaderboard)."""
    schema = Result.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema.setdefault("title", "luab-bench result")
    schema["description"] = f"luab-bench result file, schema_version {SCHEMA_VERSION}"
    return schema
