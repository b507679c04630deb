"""Metrics of the synthetic suite's OOD / spurious analogues (``luab_bench.data.synthetic_ood``).

Definitions (accuracies in %, each metric with n and a seeded 95% percentile-bootstrap interval):

- ``si_size_top1`` / ``si_loc_top1`` / ``si_rot_top1``: mean over the sweep's bins of the per-bin
  top-1 (bins are equal-sized, so this is also the pooled top-1). The per-bin values are listed in the
  metric's ``task`` text. The interval resamples *foregrounds* (each foreground appears once per
  bin), so it reflects the number of distinct objects, not of renderings.
- ``c_top1``: mean over (corruption, severity) cells of the cell's top-1 (ImageNet-C convention).
- ``c_mce``: **unnormalised** mean corruption error: ``mean_c mean_s (100 - top1_{c,s})`` in %. The
  ImageNet-C mCE divides each corruption's error by AlexNet's; there is no reference network for the
  synthetic data, so no normaliser is applied (with a full design it equals ``100 - c_top1``). A
  normalised variant needs a reference model's per-corruption errors: :func:`normalized_mce` computes
  it (e.g. against the baseline protocol's result) from the per-corruption errors this metric lists
  in its ``task`` text. Both c-metrics resample the clean val images.
- ``o_aupr``: AUPR in % with the novel-shape images as positives and the val images as negatives,
  score = -max softmax over the K classes (``luab_bench.metrics.ood``). The interval resamples the
  pooled positives + negatives.
- ``bgc_acc``: Backgrounds-Challenge accuracy: the share of foregrounds classified correctly on the
  background of *every* class. Backgrounds are evaluated in rounds and a foreground leaves at its
  first miss (the challenge's early stop; the result equals the full foreground x background test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.errors import DataError
from luab_bench.metrics.bootstrap import bootstrap_ci, bootstrap_index_ci
from luab_bench.metrics.classification import accuracy
from luab_bench.metrics.ood import imagenet_o_anomaly_score, ood_aupr
from luab_bench.seeds import named_seed
from luab_bench.suites.base import Normalize, make_metric
from luab_bench.suites.base import predict as batched_predict

if TYPE_CHECKING:
    import torch

    from luab_bench.data.synthetic_ood import AnalogueSplit

SI_SPLITS: dict[str, str] = {
    "si_size": "object size (diameter / image side), centred, upright",
    "si_loc": "object location (grid of centres), fixed size, upright",
    "si_rot": "object rotation (angle bins), centred, fixed size",
}


def _seed(seed: int, metric: str) -> list[int]:
    return named_seed(seed, metric)


def group_mean_accuracy(
    correct: np.ndarray, groups: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Per-group top-1 in % (G,), each image weighted by ``weights`` (bootstrap multiplicities)."""
    w = np.ones(correct.size) if weights is None else np.asarray(weights, dtype=np.float64)
    g = int(groups.max()) + 1
    hits = np.bincount(groups, weights=w * correct, minlength=g)
    total = np.bincount(groups, weights=w, minlength=g)
    return 100.0 * np.divide(hits, total, out=np.full(g, np.nan), where=total > 0)


def normalized_mce(errors: Mapping[str, float], reference_errors: Mapping[str, float]) -> float:
    """``100 * mean_c (E_c / E^ref_c)`` in % over the corruptions of ``errors`` (ImageNet-C's CE form).

    ``errors[c]`` / ``reference_errors[c]``: mean top-1 error over severities, in %, of the evaluated
    and the reference model. The reference scores 100 by construction.
    """
    missing = sorted(set(errors) - set(reference_errors))
    if missing or not errors:
        raise ValueError(f"normalised mCE: reference lacks corruptions {missing}" if missing else "no errors")
    ratios = []
    for c, e in errors.items():
        ref = float(reference_errors[c])
        if ref <= 0:
            raise ValueError(f"normalised mCE: reference error of {c} is {ref}; cannot normalise by 0")
        ratios.append(float(e) / ref)
    return float(100.0 * np.mean(ratios))


def _unit_statistic_ci(
    correct: np.ndarray,
    groups: np.ndarray,
    units: np.ndarray,
    reduce: Callable[[np.ndarray], np.ndarray],
    n_boot: int,
    seed: list[int],
) -> tuple[float, float, float]:
    """Cluster bootstrap of a statistic of per-group accuracies, vectorised over resamples.

    Resample b draws units with replacement (the index stream of ``bootstrap_index_ci``); each image
    counts as often as its unit was drawn. ``reduce`` maps per-group accuracies in % (R, G) to the
    statistic (R,). Returns (estimate on all units, interval low, high), the estimate inside.
    """
    from luab_bench.metrics.bootstrap import DEFAULT_CONFIDENCE, _index_chunks

    n_units, n_groups = int(units.max()) + 1, int(groups.max()) + 1
    cell = units * n_groups + groups
    hits = np.bincount(cell, weights=correct, minlength=n_units * n_groups).reshape(n_units, n_groups)
    count = np.bincount(cell, minlength=n_units * n_groups).reshape(n_units, n_groups).astype(np.float64)

    def stat(w: np.ndarray) -> np.ndarray:
        tot = w @ count
        acc = 100.0 * np.divide(w @ hits, tot, out=np.full(tot.shape, np.nan), where=tot > 0)
        return reduce(acc)

    estimate = float(stat(np.ones((1, n_units)))[0])
    rng = np.random.default_rng(seed)
    stats = []
    for idx in _index_chunks(n_units, n_boot, rng, 1 << 22):
        w = np.zeros((idx.shape[0], n_units))
        np.add.at(w, (np.arange(idx.shape[0])[:, None], idx), 1.0)
        stats.append(stat(w))
    alpha = 1.0 - DEFAULT_CONFIDENCE
    low, high = np.percentile(np.concatenate(stats), [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return estimate, min(float(low), estimate), max(float(high), estimate)


def _mean_over_groups(acc: np.ndarray) -> np.ndarray:
    return np.nanmean(acc, axis=1)


def _check(name: str, sp: AnalogueSplit) -> None:
    n = len(sp.labels)
    if n == 0 or sp.images.shape[0] != n or sp.groups.shape != (n,) or sp.units.shape != (n,):
        raise DataError(
            f"synthetic analogue {name!r}: empty or inconsistent arrays; regenerate the analogues"
        )


def evaluate_analogues(
    model: torch.nn.Module,
    analogues: Mapping[str, AnalogueSplit],
    *,
    val_logits: np.ndarray,
    device: str | torch.device = "cpu",
    normalize: Normalize = None,
    progress: Any = None,
    seed: int = 0,
    batch_size: int = 256,
    n_boot: int = 1000,
) -> dict[str, dict[str, Any]]:
    """Metrics of every analogue split (see the module docstring); ``model`` already in eval mode.

    ``val_logits`` are the model's logits on the val split (the OOD negatives).
    """
    for name, sp in analogues.items():
        _check(name, sp)

    def predict(name: str, images: np.ndarray, keep_logits: bool = False, prog: Any = progress) -> Any:
        return batched_predict(
            model, images, device=device, normalize=normalize, batch_size=batch_size,
            progress=prog, description=f"synthetic/{name}",
            outputs=("pred", "logits") if keep_logits else ("pred",),
        )  # fmt: skip

    metrics: dict[str, dict[str, Any]] = {}
    for name, what in SI_SPLITS.items():
        sp = analogues[name]
        correct = predict(name, sp.images).pred == np.asarray(sp.labels)
        groups, units = np.asarray(sp.groups), np.asarray(sp.units)
        value, lo, hi = _unit_statistic_ci(
            correct, groups, units, _mean_over_groups, n_boot, _seed(seed, f"{name}_top1")
        )
        per_bin = group_mean_accuracy(correct, groups)
        bins = "; ".join(f"{sp.group_names[i]} {a:.1f}%" for i, a in enumerate(per_bin))
        metrics[f"{name}_top1"] = make_metric(
            value, n=correct.size, ci=(lo, hi), unit="%", higher_is_better=True,
            task=(
                f"synthetic/{name}: top-1, mean over {len(per_bin)} bins of {what} on neutral grey, "
                f"{int(units.max()) + 1} foregrounds (CI resamples foregrounds); per bin: {bins}"
            ),
        )  # fmt: skip
    metrics.update(_corruption_metrics(analogues["corrupt"], predict, seed, n_boot))
    metrics.update(_ood_metric(analogues["ood"], predict, val_logits, seed, n_boot))
    metrics.update(_bgc_metric(analogues["bgc"], predict, progress, seed, n_boot))
    return metrics


def corruption_errors(cell_acc: np.ndarray, cell_names: Sequence[str]) -> dict[str, float]:
    """Mean top-1 error over severities (%) per corruption from cell accuracies named ``corr/sev``."""
    per: dict[str, list[float]] = {}
    for acc, name in zip(cell_acc, cell_names, strict=True):
        per.setdefault(name.rsplit("/", 1)[0], []).append(100.0 - float(acc))
    return {c: float(np.mean(v)) for c, v in per.items()}


def _corruption_metrics(sp: AnalogueSplit, predict: Any, seed: int, n_boot: int) -> dict[str, dict[str, Any]]:
    correct = predict("corrupt", sp.images).pred == np.asarray(sp.labels)
    groups, units = np.asarray(sp.groups), np.asarray(sp.units)
    names = sp.group_names
    corr = [n.rsplit("/", 1)[0] for n in names]
    order = list(dict.fromkeys(corr))
    # (G, C) averaging matrix: column c = mean over corruption c's severity cells
    avg = np.array([[float(cn == c) for c in order] for cn in corr])
    avg /= avg.sum(axis=0, keepdims=True)

    def mce(acc: np.ndarray) -> np.ndarray:
        return ((100.0 - acc) @ avg).mean(axis=1)

    acc, a_lo, a_hi = _unit_statistic_ci(
        correct, groups, units, _mean_over_groups, n_boot, _seed(seed, "c_top1")
    )
    err, e_lo, e_hi = _unit_statistic_ci(correct, groups, units, mce, n_boot, _seed(seed, "c_mce"))
    per_c = corruption_errors(group_mean_accuracy(correct, groups), names)
    n_corr, n_img = len(per_c), int(units.max()) + 1
    listing = "; ".join(f"{c} {e:.1f}%" for c, e in per_c.items())
    return {
        "c_top1": make_metric(
            acc, n=correct.size, ci=(a_lo, a_hi), unit="%", higher_is_better=True,
            task=(
                f"synthetic/corrupt: top-1 averaged over {n_corr} corruptions x 5 severities of "
                f"{n_img} val images (CI resamples the val images)"
            ),
        ),
        "c_mce": make_metric(
            err, n=correct.size, ci=(e_lo, e_hi), unit="%", higher_is_better=False,
            task=(
                "synthetic/corrupt: UNNORMALISED mean corruption error (no reference model; "
                f"mean over corruptions of the mean error over 5 severities); per corruption: {listing}"
            ),
        ),
    }  # fmt: skip


def _ood_metric(
    sp: AnalogueSplit, predict: Any, val_logits: np.ndarray, seed: int, n_boot: int
) -> dict[str, dict[str, Any]]:
    pos = imagenet_o_anomaly_score(predict("ood", sp.images, keep_logits=True).logits)
    neg = imagenet_o_anomaly_score(val_logits)
    scores = np.r_[pos, neg]
    is_ood = np.r_[np.ones(pos.size, bool), np.zeros(neg.size, bool)]

    def stat(i: np.ndarray) -> float:
        y = is_ood[i]
        # a resample without positives or negatives has no AUPR; 0 keeps the percentile well-defined
        return ood_aupr(scores[i][y], scores[i][~y]) if y.any() and (~y).any() else 0.0

    ci = bootstrap_index_ci(stat, scores.size, n_boot=n_boot, seed=_seed(seed, "o_aupr"))
    return {
        "o_aupr": make_metric(
            ood_aupr(pos, neg), n=scores.size, ci=(ci.low, ci.high), unit="%", higher_is_better=True,
            task=(
                f"synthetic/ood: AUPR, {pos.size} novel-shape images positive, {neg.size} val images "
                "negative, score -max softmax over the K classes"
            ),
        )
    }  # fmt: skip


def bgc_survivors(sp: AnalogueSplit, predict: Any, progress: Any = None) -> tuple[np.ndarray, int]:
    """Per-foreground bool (F,): correct on every background; and the number of composites evaluated.

    Round b evaluates background b for the foregrounds still standing (early stop at the first miss).
    """
    units, groups = np.asarray(sp.units), np.asarray(sp.groups)
    n_fg, n_bg = int(units.max()) + 1, int(groups.max()) + 1
    if units.size != n_fg * n_bg or not (
        np.array_equal(units, np.repeat(np.arange(n_fg), n_bg))
        and np.array_equal(groups, np.tile(np.arange(n_bg), n_fg))
    ):
        raise DataError("synthetic analogue 'bgc': images are not laid out foreground-major; regenerate")
    labels = np.asarray(sp.labels)
    alive = np.ones(n_fg, dtype=bool)
    evaluated = 0
    task = progress.add_task("synthetic/bgc", total=units.size) if progress is not None else None
    for b in range(n_bg):
        fg = np.flatnonzero(alive)
        if fg.size == 0:
            break
        idx = fg * n_bg + b
        ok = predict("bgc", np.asarray(sp.images[idx]), prog=None).pred == labels[idx]
        alive[fg[~ok]] = False
        evaluated += idx.size
        if task is not None:
            progress.advance(task, idx.size)
    if task is not None:
        progress.update(task, completed=units.size)
    return alive, evaluated


def _bgc_metric(sp: AnalogueSplit, predict: Any, progress: Any, seed: int, n_boot: int) -> dict[str, Any]:
    alive, evaluated = bgc_survivors(sp, predict, progress)
    ci = bootstrap_ci(100.0 * alive, n_boot=n_boot, seed=_seed(seed, "bgc_acc"))
    n_bg = int(np.asarray(sp.groups).max()) + 1
    value = accuracy(alive)
    return {
        "bgc_acc": make_metric(
            value, n=alive.size, ci=(min(ci.low, value), max(ci.high, value)),
            unit="%", higher_is_better=True,
            task=(
                f"synthetic/bgc: share of {alive.size} foregrounds correct on all {n_bg} backgrounds "
                f"(one set per class; early stop at the first miss, {evaluated} composites evaluated)"
            ),
        )
    }  # fmt: skip
