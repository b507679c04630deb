"""Score a model's maps against human maps: per map the sigma search, its intervals (images, human
data), NSS, class gap, split-half; the paired t-tests, the methods x measures table and the masking
test (:func:`align_model`, :func:`align_set`; definitions in docs/alignment.md, Langlois et al. §4,
SI §D-G)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.alignment import correlate, masking
from luab_bench.alignment.align_config import AlignConfig
from luab_bench.alignment.choices import TARGETS
from luab_bench.alignment.inference import make_predict, model_saliency, top_classes
from luab_bench.alignment.report_types import AlignmentReport, MethodScore
from luab_bench.errors import LuabError

if TYPE_CHECKING:
    from luab_bench.alignment.human_maps import HumanMaps
    from luab_bench.models import LuabNet


def _score_method(
    method: str,
    model_maps: np.ndarray,
    human: np.ndarray,
    cfg: AlignConfig,
    fixations: np.ndarray | None = None,
    partners: np.ndarray | None = None,
    kind: str = "method",
) -> MethodScore:
    from luab_bench.metrics.bootstrap import bootstrap_ci

    search = correlate.sigma_search(model_maps, human, cfg.sigmas, cfg.blur)
    table = search.r_by_sigma[:, search.valid]
    value = search.best_r
    lo, hi = correlate.bootstrap_best_r(table, n_boot=cfg.n_boot, seed=cfg.seed)
    kind_ci = "bootstrap re-picking sigma"
    if not lo <= value <= hi:
        fixed = bootstrap_ci(search.per_image_r, n_boot=cfg.n_boot, seed=cfg.seed)
        lo, hi, kind_ci = fixed.low, fixed.high, "bootstrap at the chosen sigma"
    rho = bootstrap_ci(search.spearman, n_boot=cfg.n_boot, seed=cfg.seed)
    cv = (
        correlate.split_half_repeated(table, n_splits=cfg.cv_splits, seed=cfg.seed)
        if cfg.split_half and table.shape[1] >= 2
        else None
    )
    nss = nss_ci = gap = gap_ci = None
    blurred = correlate.blur_maps(correlate.resize_maps(model_maps), search.best_sigma, cfg.blur)
    if partners is not None:
        gap = correlate.class_gap_per_unit(blurred, correlate.resize_maps(human), partners)
        if len(gap):
            ci = bootstrap_ci(gap, n_boot=cfg.n_boot, seed=cfg.seed)
            gap_ci = (ci.low, ci.high)
    if fixations is not None:
        per = correlate.nss_per_image(blurred, correlate.resize_maps(fixations))
        nss = per[np.isfinite(per)]
        if len(nss):
            ci = bootstrap_ci(nss, n_boot=cfg.n_boot, seed=cfg.seed)
            nss_ci = (ci.low, ci.high)
    return MethodScore(
        method,
        search,
        (lo, hi),
        kind_ci,
        (rho.low, rho.high),
        cv.test_r if cv is not None else None,
        nss,
        nss_ci,
        gap,
        gap_ci,
        cv=cv,
        kind=kind,
        model_maps=np.asarray(model_maps),
    )


def _per_measure(
    scores: list[MethodScore], human: HumanMaps, cfg: AlignConfig
) -> dict[str, dict[str, tuple[float, float, int]]]:
    """Peak mean r and its sigma of every scored map against every measure (and the Human PC when
    there are several measures), each pair with its own sigma (main §4: one sigma per method and
    human measure)."""
    names = list(human.maps) + (["human_pc"] if len(human.maps) > 1 else [])
    out: dict[str, dict[str, tuple[float, float, int]]] = {}
    for name in names:
        maps = human.measure(name)
        row: dict[str, tuple[float, float, int]] = {}
        for s in scores:
            try:
                search = correlate.sigma_search(s.model_maps, maps, cfg.sigmas, cfg.blur)  # type: ignore[arg-type]
            except ValueError:  # no image with a defined r against this measure
                continue
            row[s.method] = (search.best_r, search.best_sigma, int(search.valid.sum()))
        out[name] = row
    return out


def _human_bootstrap_all(scores: list[MethodScore], resamples: Any, cfg: AlignConfig) -> None:
    """SI §D.2 error bars for every scored map: one pass over the human resamples, every method's map
    smoothed at its own peak sigma (fixed) against each resample."""
    # z-scored once (Pearson r = mean of the product of the two z-scored maps; NaN rows = constant)
    zmodel = [
        correlate.zscore_flat(
            correlate.blur_maps(correlate.resize_maps(s.model_maps), s.search.best_sigma, cfg.blur)  # type: ignore[arg-type]
        )
        for s in scores
    ]
    means: list[list[float]] = [[] for _ in scores]
    for human in resamples:
        zh = correlate.zscore_flat(correlate.resize_maps(human))
        for k, zm in enumerate(zmodel):
            r = np.clip((zm * zh).mean(1), -1.0, 1.0)
            means[k].append(float(np.nanmean(r)) if np.isfinite(r).any() else np.nan)
    for s, vals in zip(scores, means, strict=True):
        arr = np.asarray(vals)
        arr = arr[np.isfinite(arr)]
        if len(arr):
            lo, hi = np.percentile(arr, [2.5, 97.5])
            s.human_boot = correlate.HumanBootstrap(len(arr), arr, float(arr.std()), (float(lo), float(hi)))


def align_set(
    net: LuabNet,
    aset: Any,
    cfg: AlignConfig,
    *,
    device: Any = "cpu",
    progress: Callable[[str], None] | None = None,
) -> AlignmentReport:
    """:func:`align_model` on an :class:`~luab_bench.alignment.sets.AlignmentSet` (images, targets,
    ids, human maps and per-class groups in one object)."""
    return align_model(
        net,
        aset.images,
        aset.targets,
        aset.ids,
        aset.human,
        cfg,
        device=device,
        progress=progress,
        groups=aset.groups,
    )


def align_model(
    net: LuabNet,
    images: np.ndarray,
    labels: np.ndarray,
    ids: Sequence[str],
    human: HumanMaps,
    cfg: AlignConfig,
    *,
    device: Any = "cpu",
    progress: Callable[[str], None] | None = None,
    groups: Sequence[int] | None = None,
) -> AlignmentReport:
    """Score every method of ``cfg`` against ``human`` on the images that have human maps.

    ``groups`` (aligned with ``ids``): the source image of each unit when units are (image, class)
    pairs; enables ``align_<m>_class_gap``.
    """
    pos = {i: k for k, i in enumerate(ids)}
    missing = [i for i in human.ids if i not in pos]
    if missing:
        raise LuabError(f"{len(missing)} human maps name images not in the split (e.g. {missing[0]!r})")
    idx = np.array([pos[i] for i in human.ids], dtype=np.int64)
    imgs, ys = np.asarray(images)[idx], np.asarray(labels)[idx]
    human_maps = human.measure(cfg.measure)
    fixations = human.fixation_map(cfg.measure) if cfg.measure != "human_pc" else None
    partners = (
        correlate.same_group_partners(np.asarray(groups)[idx], seed=cfg.seed) if groups is not None else None
    )
    report = AlignmentReport(cfg, len(idx), ids=list(human.ids))
    if cfg.measure == "human_pc":
        report.pc = human.pc_fit()
    if cfg.target not in TARGETS:
        raise LuabError(f"unknown target {cfg.target!r}; use one of {', '.join(TARGETS)}")
    explain = ys
    if cfg.target == "top" and groups is None:  # (image, class) units keep their class
        explain = top_classes(net, imgs, device=device)
    for method in cfg.methods:
        if progress:
            progress(f"saliency {method} on {len(idx)} images")
        try:
            maps = model_saliency(
                net,
                imgs,
                explain,
                method,
                device=device,
                seed=cfg.seed,
                batch_size=cfg.batch_size,
                config=cfg.saliency,
            )
        except LuabError as err:
            if not cfg.skip_inapplicable:
                raise
            report.skipped[method] = str(err)
            if progress:
                progress(f"skipped {method}: {err}")
            continue
        if all(np.ptp(m) == 0 for m in maps):
            why = (
                f"every {method} map is constant on these {imgs.shape[1]} px images: the last "
                "convolutional layer the paper's CAMs use (SI §A.2) is 1 x 1 at this input size; "
                "use larger images or another method"
            )
            if not cfg.skip_inapplicable:
                raise LuabError(why)
            report.skipped[method] = why
            continue
        report.scores.append(_score_method(method, maps, human_maps, cfg, fixations, partners))
    if report.scores:
        from luab_bench.alignment.baselines import BASELINES

        for name in cfg.baselines:
            try:
                maps = BASELINES.get(name)(imgs)
            except LuabError as err:
                report.skipped[f"[{name}]"] = str(err)
                continue
            report.scores.append(_score_method(name, maps, human_maps, cfg, fixations, partners, "baseline"))
        resamples = human.resample(cfg.measure, cfg.n_boot, cfg.seed) if cfg.n_boot > 0 else None
        report.human_boot_note = human.resample_note(cfg.measure)
        if resamples is not None:
            if progress:
                progress(f"human-data bootstrap ({cfg.n_boot} resamples of the annotators)")
            _human_bootstrap_all(report.scores, resamples, cfg)
        elif progress:
            progress(report.human_boot_note)
        report.pairwise = correlate.pairwise_t_tests({s.method: s.per_image_full() for s in report.scores})
        if cfg.all_measures:
            if progress:
                progress("peak r against every human measure")
            report.per_measure = _per_measure(report.scores, human, cfg)
            if report.pc is None and len(human.maps) > 1:
                report.pc = human.pc_fit()
        for s in report.scores:
            s.model_maps = None  # not kept in the report
    report.num_classes = int(net.num_classes)
    if cfg.masking and report.scores:
        if progress:
            progress("masking test")
        report.mask = masking.masking_test(
            make_predict(net, device),
            imgs.astype(np.float64) / 255.0,
            ys,
            human_maps,
            n=cfg.inverse_rank_n,
            seed=cfg.seed,
            protocol=cfg.mask_protocol,
        )
    return report
