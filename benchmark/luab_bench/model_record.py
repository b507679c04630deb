"""The ``model_provenance`` block of a result: which model, weights and preprocessing (schema 1.2).

Shared by ``pipeline.evaluate_checkpoint`` (a luab-bench checkpoint) and
:mod:`luab_bench.evaluate_model` (any model spec); it imports neither, so the pipeline does not import
back what it calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Metrics a suite measures only for a model with a point head (see the suite modules).
POINT_METRICS: dict[str, tuple[str, ...]] = {
    "synthetic": ("point_loc_acc", "point_loc_centre_acc"),
    "synthetic-coco": ("synthetic_coco_point_loc_acc",),
    "wsol": ("wsol_point_loc_acc",),
}


def not_applicable(net: Any, suite: str) -> dict[str, str]:
    """``{metric: reason}`` for the suite's point metrics when ``net`` has no point head."""
    if getattr(net, "point_head", None) is not None:
        return {}
    why = "not applicable: the model has no point head (--point-head loads one saved with the weights)"
    return {m: why for m in POINT_METRICS.get(suite, ())}


def checkpoint_provenance(
    net: Any, meta: dict[str, Any], checkpoint: Path, suite: str, *, size_from: str, dataset_dir: Path | None
) -> dict[str, Any]:
    """The ``model_provenance`` block of a luab-bench checkpoint evaluation."""
    import timm

    from luab_bench.preprocess import resolved_preprocessing
    from luab_bench.train.checkpoint import WEIGHTS_FILE

    weights = Path(checkpoint) / WEIGHTS_FILE
    cfg = getattr(net.backbone, "pretrained_cfg", None) or {}
    return {
        "spec": str(meta["model"]["name"]),
        "kind": "checkpoint",
        "architecture": cfg.get("architecture"),
        "pretrained_cfg_tag": cfg.get("tag"),
        "pretrained": False,
        "weights": {
            "file": WEIGHTS_FILE,
            "sha256": str((meta.get("weights") or {}).get("sha256")),
            "size": weights.stat().st_size if weights.is_file() else None,
            "source": "checkpoint",  # result schema: where the weights were read from
        },
        "factory": _checkpoint_factory(str(meta["model"]["name"])),
        "point_head": {"loaded": net.point_head is not None, "num_point_heads": net.num_point_heads},
        "timm_version": timm.__version__,
        "preprocessing": resolved_preprocessing(net, suite, size_from=size_from, dataset_dir=dataset_dir),
        "not_applicable": not_applicable(net, suite),
    }


def _checkpoint_factory(name: str) -> dict[str, Any] | None:
    from luab_bench.code_trust import factory_provenance
    from luab_bench.models import timm_source

    if ":" not in name or timm_source(name) is not None:
        return None
    module, _, attr = name.partition(":")
    return {**factory_provenance(module), "callable": attr}
