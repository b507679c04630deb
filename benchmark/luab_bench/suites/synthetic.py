"""The ``synthetic`` suite: top-1 on the Backgrounds-Challenge-style splits, BG-gap and point localisation.

Metrics (accuracies in %, each with n and a seeded 95% percentile-bootstrap interval):

- ``val_top1``, ``only_fg_top1``, ``no_fg_top1``, ``mixed_same_top1``, ``mixed_rand_top1``: top-1
  against ``labels.npy`` of each split (whatever label convention the generator documents, e.g.
  no_fg keeps the original image's label).
- ``bg_gap`` = ``mixed_same_top1 - mixed_rand_top1`` in percentage points (lower is better). When the
  two splits are index-aligned (same n, identical labels and boxes, i.e. the same foregrounds in the
  same order) the interval is a *paired* bootstrap over foregrounds; otherwise the two splits are
  resampled independently. The metric's ``task`` text says which was done.
- ``point_loc_acc``: on val, the predicted point of head 0 lies inside the true box (borders
  inclusive). Only reported when the model outputs points, together with ``point_loc_centre_acc``,
  the same accuracy for a constant centre prediction (the free floor: objects are large and often
  central, so a head trained on uniform random Z scores near it).
- Analogues of the paper's Table 1 (``SyntheticSuite(analogues=True)``, the default):
  ``si_size_top1``, ``si_loc_top1``, ``si_rot_top1``, ``c_top1``, ``c_mce`` (unnormalised), ``o_aupr``,
  ``bgc_acc``; data from ``luab_bench.data.synthetic_ood``, definitions in
  :mod:`luab_bench.suites.synthetic_analogues`; laid out by ``luab_bench.suites.tables.layout('synthetic')``.

:func:`evaluate_splits` is the core (pre-loaded arrays in, metric dicts out; :func:`score_splits` also
returns the per-image correctness of each top-1 metric, recorded in the result's ``per_image`` block);
:meth:`SyntheticSuite.evaluate` loads a generated dataset directory and delegates to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from luab_bench.errors import DataError
from luab_bench.metrics.bootstrap import bootstrap_ci, bootstrap_diff_ci
from luab_bench.metrics.classification import accuracy, bg_gap, point_in_box
from luab_bench.run.spec import BUILTIN_PROTOCOLS, SuiteTraining
from luab_bench.seeds import named_seed
from luab_bench.suites.base import (
    SUITES,
    EvalOutcome,
    EvalSettings,
    Normalize,
    Suite,
    make_metric,
    predict,
)

if TYPE_CHECKING:
    import torch

    from luab_bench.data.synthetic_ood import AnalogueSplit

EVAL_SPLITS: tuple[str, ...] = ("val", "only_fg", "no_fg", "mixed_same", "mixed_rand")

SPLIT_DESCRIPTIONS: dict[str, str] = {
    "val": "in-distribution (train background-class correlation)",
    "only_fg": "foreground on a neutral background",
    "no_fg": "foreground removed, background only",
    "mixed_same": "foreground on a background of its own class",
    "mixed_rand": "foreground on a background of a random other class",
}


class SplitLike(Protocol):
    """What the suite reads from a split (``luab_bench.data.synthetic.SplitArrays`` satisfies it)."""

    images: np.ndarray  # uint8 (N, H, W, 3)
    labels: np.ndarray  # int64 (N,)
    boxes: np.ndarray  # float32 (N, 4) xyxy relative


def _metric_seed(seed: int, metric: str) -> list[int]:
    """A per-metric bootstrap seed: stable across runs, different between metrics."""
    return named_seed(seed, metric)


def _aligned(a: SplitLike, b: SplitLike) -> bool:
    """True when two splits hold the same foregrounds in the same order (same labels and boxes)."""
    return (
        a.labels.shape == b.labels.shape
        and np.array_equal(a.labels, b.labels)
        and np.array_equal(a.boxes, b.boxes)
    )


def evaluate_splits(
    model: torch.nn.Module,
    splits: Mapping[str, SplitLike],
    *,
    device: str | torch.device = "cpu",
    normalize: Normalize = None,
    progress: Any = None,
    seed: int = 0,
    batch_size: int = 256,
    n_boot: int = 1000,
    analogues: Mapping[str, AnalogueSplit] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run the synthetic suite on pre-loaded splits (``EVAL_SPLITS`` must all be present).

    Moves ``model`` to ``device`` and evaluates it in eval mode (its train/eval mode is restored
    afterwards). Returns ``{metric_name: metric_dict}`` (see the module docstring). With
    ``analogues`` (``luab_bench.data.synthetic_ood.load_analogues``) the SI / corruption / OOD /
    challenge metrics of :mod:`luab_bench.suites.synthetic_analogues` are added.
    """
    return score_splits(
        model, splits, device=device, normalize=normalize, progress=progress, seed=seed,
        batch_size=batch_size, n_boot=n_boot, analogues=analogues,
    )[0]  # fmt: skip


def score_splits(
    model: torch.nn.Module,
    splits: Mapping[str, SplitLike],
    *,
    device: str | torch.device = "cpu",
    normalize: Normalize = None,
    progress: Any = None,
    seed: int = 0,
    batch_size: int = 256,
    n_boot: int = 1000,
    analogues: Mapping[str, AnalogueSplit] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """:func:`evaluate_splits`'s metrics and, per ``<split>_top1`` metric, the per-image correctness
    (bool (N,), the split's image order) behind it: the result's ``per_image`` block."""
    import torch

    missing = [s for s in EVAL_SPLITS if s not in splits]
    if missing:
        raise DataError(f"synthetic suite: missing split(s) {', '.join(missing)}; regenerate the dataset")
    for name in EVAL_SPLITS:
        sp = splits[name]
        if sp.labels.shape[0] == 0:
            raise DataError(f"synthetic suite: split {name!r} is empty; regenerate the dataset")
        if sp.images.shape[0] != sp.labels.shape[0] or sp.boxes.shape != (sp.labels.shape[0], 4):
            raise DataError(
                f"synthetic suite: split {name!r} has {sp.images.shape[0]} images, "
                f"{sp.labels.shape[0]} labels and boxes of shape {sp.boxes.shape}; regenerate the dataset"
            )
    num_labels = 1 + max(int(splits[s].labels.max()) for s in EVAL_SPLITS)

    device = torch.device(device)
    was_training = model.training
    model.to(device)
    model.eval()
    try:
        preds = {
            name: predict(
                model,
                splits[name].images,
                device=device,
                normalize=normalize,
                batch_size=batch_size,
                progress=progress,
                description=f"synthetic/{name}",
                num_labels=num_labels,
                outputs=("pred", "points", "logits")
                if analogues is not None and name == "val"
                else ("pred", "points"),
            )
            for name in EVAL_SPLITS
        }
        analogue_metrics = {}
        if analogues is not None:
            from luab_bench.suites.synthetic_analogues import evaluate_analogues

            analogue_metrics = evaluate_analogues(
                model,
                analogues,
                val_logits=preds["val"].logits,
                device=device,
                normalize=normalize,
                progress=progress,
                seed=seed,
                batch_size=batch_size,
                n_boot=n_boot,
            )
    finally:
        model.train(was_training)

    metrics: dict[str, dict[str, Any]] = {}
    correct: dict[str, np.ndarray] = {}
    for name in EVAL_SPLITS:
        c = preds[name].pred == np.asarray(splits[name].labels)
        correct[name] = c
        key = f"{name}_top1"
        ci = bootstrap_ci(100.0 * c, n_boot=n_boot, seed=_metric_seed(seed, key))
        metrics[key] = make_metric(
            accuracy(c),
            n=c.size,
            ci=(ci.low, ci.high),
            unit="%",
            higher_is_better=True,
            task=f"synthetic/{name}: top-1 accuracy, {SPLIT_DESCRIPTIONS[name]}",
        )

    same, rand = splits["mixed_same"], splits["mixed_rand"]
    paired = _aligned(same, rand)
    gap_ci = bootstrap_diff_ci(
        100.0 * correct["mixed_same"],
        100.0 * correct["mixed_rand"],
        paired=paired,
        n_boot=n_boot,
        seed=_metric_seed(seed, "bg_gap"),
    )
    how = (
        "paired bootstrap over shared foregrounds"
        if paired
        else "splits not index-aligned, independent bootstrap"
    )
    metrics["bg_gap"] = make_metric(
        bg_gap(metrics["mixed_same_top1"]["value"], metrics["mixed_rand_top1"]["value"]),
        n=rand.labels.shape[0] if paired else same.labels.shape[0] + rand.labels.shape[0],
        ci=(gap_ci.low, gap_ci.high),
        unit="pp",
        higher_is_better=False,
        task=f"synthetic: BG-gap = top-1(mixed_same) - top-1(mixed_rand) in percentage points ({how})",
    )

    val_points = preds["val"].points
    if val_points is not None:
        val_points = val_points[:, 0]  # head 0
        inside = point_in_box(val_points, np.asarray(splits["val"].boxes))
        ci = bootstrap_ci(100.0 * inside, n_boot=n_boot, seed=_metric_seed(seed, "point_loc_acc"))
        metrics["point_loc_acc"] = make_metric(
            accuracy(inside),
            n=inside.size,
            ci=(ci.low, ci.high),
            unit="%",
            higher_is_better=True,
            task="synthetic/val: predicted point (head 0) inside the true object box, borders inclusive",
        )
        # The floor any point head gets for free: always answering the image centre (what a head
        # trained on uniform random Z converges to). Read point_loc_acc against this, not against 0.
        centre = point_in_box(np.full_like(val_points, 0.5), np.asarray(splits["val"].boxes))
        ci = bootstrap_ci(100.0 * centre, n_boot=n_boot, seed=_metric_seed(seed, "point_loc_centre"))
        metrics["point_loc_centre_acc"] = make_metric(
            accuracy(centre),
            n=centre.size,
            ci=(ci.low, ci.high),
            unit="%",
            higher_is_better=True,
            task="synthetic/val: reference, the image centre (0.5, 0.5) inside the true object box",
        )
    metrics.update(analogue_metrics)
    return metrics, {f"{name}_top1": c for name, c in correct.items()}


@SUITES.register("synthetic")
class SyntheticSuite(Suite):
    """Embedded synthetic benchmark (see ``luab_bench.data.synthetic`` and ``data.synthetic_ood``)."""

    name = "synthetic"
    training = SuiteTraining("synthetic", "synthetic", "synthetic", BUILTIN_PROTOCOLS)
    description = (
        "Top-1 on val / only_fg / no_fg / mixed_same / mixed_rand, BG-gap, point-in-box localisation, "
        "and the Table-1 analogues (SI size/location/rotation, corruptions, novel-class AUPR, "
        "Backgrounds-Challenge accuracy) on the seeded synthetic dataset"
    )

    def __init__(self, analogues: bool = True) -> None:
        #: also build (first time only; hash-verified reuse afterwards) and evaluate the analogue
        #: splits (``luab_bench.data.synthetic_ood.generate_analogues``)
        self.analogues = analogues

    def prepare(self, dataset_dir: Path | None, progress: Any = None) -> None:
        """Generate (first time only) the analogue splits next to the dataset."""
        if self.analogues and dataset_dir is not None and Path(dataset_dir).is_dir():
            from luab_bench.data.synthetic_ood import generate_analogues

            generate_analogues(Path(dataset_dir), progress=progress)

    def run(self, model: Any, dataset_dir: Path | None, settings: EvalSettings) -> EvalOutcome:
        """Load the evaluation splits of a generated dataset directory and run :func:`evaluate_splits`."""
        from luab_bench.data.synthetic import load_split

        if dataset_dir is None or not dataset_dir.is_dir():
            raise DataError(
                f"{dataset_dir}: synthetic dataset directory not found; generate it first "
                "(luab_bench.data.synthetic.generate or the `data` command)"
            )
        splits = {name: load_split(dataset_dir, name) for name in EVAL_SPLITS}
        analogue_splits, data = None, {}
        if self.analogues:
            from luab_bench.data.synthetic_ood import (
                generate_analogues,
                load_analogue_manifest,
                load_analogues,
            )

            analogue_dir = generate_analogues(dataset_dir, progress=settings.progress)
            analogue_splits = load_analogues(analogue_dir)
            data = {"analogues_fingerprint": load_analogue_manifest(analogue_dir)["fingerprint"]}
        metrics, per_image = score_splits(
            model,
            splits,
            device=settings.device,
            normalize=settings.normalize,
            progress=settings.progress,
            seed=settings.seed,
            batch_size=settings.batch_size,
            n_boot=settings.n_boot,
            analogues=analogue_splits,
        )
        return EvalOutcome(metrics, data=data, per_image=per_image)
