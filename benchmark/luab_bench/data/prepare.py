"""Generated (embedded) datasets: make or reuse them on disk, and turn one into training arrays.

Below the pipeline so training sources (``train/sources/synthetic.py``) and alignment sets
(``alignment/sets.py``) prepare data without importing ``pipeline`` (issue 15: import cycles);
``pipeline`` re-exports these names, so ``pipeline.prepare_synthetic`` etc. keep working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError

Echo = Callable[[str], None]
# Training sources that generate the embedded data: a suite whose default source is one of these
# evaluates held-out splits of that generated dataset itself, and evaluate_checkpoint regenerates it
# and checks its fingerprint against the checkpoint's.
GENERATED_SOURCES = ("synthetic", "synthetic-coco")


def _noop(_: str) -> None:
    pass


@dataclasses.dataclass(frozen=True)
class SyntheticDataset:
    """A generated synthetic dataset directory and what identifies it."""

    variant: str
    directory: Path
    fingerprint: str
    config: dict[str, Any]


def prepare_synthetic(variant: str, data_dir: Path, *, progress: bool = True) -> SyntheticDataset:
    """Generate (or reuse) the synthetic dataset for ``variant`` under ``data_dir``."""
    from luab_bench.data.synthetic import SYNTHETIC_VARIANTS, generate, load_manifest
    from luab_bench.progress import progress_bar
    from luab_bench.registry import unknown_name_message

    if variant not in SYNTHETIC_VARIANTS:
        raise LuabError(unknown_name_message("synthetic variant", variant, SYNTHETIC_VARIANTS))
    cfg = SYNTHETIC_VARIANTS[variant]
    with progress_bar(progress) as prog:
        directory = generate(cfg, Path(data_dir), progress=prog)
    return _dataset(variant, directory, load_manifest(directory), cfg)


def _dataset(variant: str, directory: Path, manifest: dict[str, Any], cfg: Any) -> SyntheticDataset:
    return SyntheticDataset(
        variant=variant,
        directory=Path(directory),
        fingerprint=manifest["fingerprint"],
        config=cfg.model_dump(mode="json"),
    )


def generated_dataset(
    source: str, variant: str, data_dir: Path, *, progress: bool = True
) -> SyntheticDataset:
    """Generate (or reuse) the embedded dataset of a generated training ``source`` (GENERATED_SOURCES)."""
    if source == "synthetic":
        return prepare_synthetic(variant, data_dir, progress=progress)
    if source == "synthetic-coco":
        from luab_bench.data.synthetic_coco import SYNTHETIC_COCO_VARIANTS, generate_coco, load_coco_manifest
        from luab_bench.registry import unknown_name_message

        if variant not in SYNTHETIC_COCO_VARIANTS:
            raise LuabError(unknown_name_message("synthetic-coco variant", variant, SYNTHETIC_COCO_VARIANTS))
        cfg = SYNTHETIC_COCO_VARIANTS[variant]
        directory = generate_coco(cfg, Path(data_dir))
        return _dataset(variant, directory, load_coco_manifest(directory), cfg)
    raise LuabError(f"training source {source!r} does not generate its data (generated: {GENERATED_SOURCES})")


def prepare_training_data(dataset: SyntheticDataset, echo: Echo = _noop) -> tuple[Any, dict[str, Any]]:
    """TrainData for the train split with byproduct Z attached, and the parser's report."""
    from luab_bench.data.byproducts import parse_imagenet_ab
    from luab_bench.data.synthetic import load_split
    from luab_bench.train.data import TrainData

    split = load_split(dataset.directory, "train")
    parsed = parse_imagenet_ab(dataset.directory / "imagenet_ab.json")
    points, has_point = parsed.lookup(list(split.ids))
    report = parsed.report.as_dict()
    n = len(split.labels)
    echo(f"Byproducts: {int(has_point.sum())}/{n} training images have a final click Z")
    data = TrainData(
        images=split.images,
        labels=split.labels,
        points=points.reshape(n, 1, 2),
        has_point=has_point.reshape(n, 1),
    )
    return data, report
