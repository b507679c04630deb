"""Run the alignment analysis for one model, turn it into result metrics, a table and plots.

Entry points: :func:`align_result` (checkpoint + result file -> metrics and the typed ``alignment``
block, signed; what ``luab-bench align --checkpoint`` and ``pipeline.run`` call), :func:`align_model`
(a net and an :class:`~luab_bench.alignment.sets.AlignmentSet`'s arrays -> :class:`AlignmentReport`),
:func:`write_alignment` (report -> result file).

Metric names written into a result's ``metrics`` (``<m>`` = saliency method):

* ``align_<m>_r`` – best mean Pearson r over the sigma grid; 95% interval from the bootstrap over
  images that re-picks sigma on every resample (:func:`correlate.bootstrap_best_r`). If that interval
  does not contain the point estimate (possible, since the max over sigma is biased), the interval of
  the mean r at the chosen sigma is recorded instead and the task string says so.
The chosen sigma (px at the 100 x 100 scale) is not a metric: it has no better direction, so it is
recorded in the result's typed ``alignment`` block (``best_sigma`` of each curve) and in each metric's
task string, and printed in the table.
* ``align_<m>_spearman`` – mean Spearman rho at the chosen sigma, bootstrap interval over images.
* ``align_<m>_r_cv`` – split-half cross-validated mean r (only with ``split_half=True``).
* ``align_<m>_nss`` – mean normalised scanpath saliency (:func:`correlate.nss_per_image`) of the model
  map at the chosen sigma against the human *fixation* map; only for fixation-like measures (byproduct
  clicks / icon positions, folder measures flagged ``fixation_like``). CC, the other fixation metric of
  the saliency benchmarks, is by definition the Pearson r of ``align_<m>_r`` (not written twice).
* ``align_<m>_class_gap`` – multi-label (COCO-AB) data only: mean over (image, class) units of
  ``r(model map of c, human map of c) - r(model map of c, human map of another class c' of the same
  image)`` at the chosen sigma (:func:`correlate.class_gap_per_unit`); > 0 means the class-conditional
  maps point at the class, not just at the image's objects.
* ``align_mask_correct`` / ``align_mask_mismatched`` – mean inverse rank ``N/(r+N)`` of the true class
  on images masked with the correct / a mismatched human map; ``align_mask_gap`` = their paired
  difference (see :mod:`luab_bench.alignment.masking`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.alignment import correlate, masking
from luab_bench.alignment.saliency import SaliencyConfig
from luab_bench.alignment.sets import evenly_spaced  # noqa: F401  (re-exported)
from luab_bench.errors import LuabError


def _preset(name: str) -> SaliencyConfig:
    from luab_bench.alignment.saliency import saliency_preset

    return saliency_preset(name)


if TYPE_CHECKING:
    from luab_bench.alignment.human_maps import HumanMaps
    from luab_bench.models import LuabNet
    from luab_bench.results.schema import Metric


TARGETS = ("top", "true")


@dataclass(frozen=True)
class AlignConfig:
    """What to compute; defaults are the protocol of docs/alignment.md (Langlois et al.'s, SI §A, §D)."""

    methods: tuple[str, ...] = ("sgbp", "gradcam")
    measure: str = "clicks"
    sigmas: tuple[float, ...] = correlate.SIGMA_GRID
    n_boot: int = correlate.N_BOOT
    split_half: bool = False
    masking: bool = True
    inverse_rank_n: float | None = None  # None: the number of classes (langlois2021) / 1 (luab-v1)
    seed: int = 0
    # SI §A.2: maps for the model's top predicted class; "true": the labelled class (luab-v1). For
    # (image, class) units of multi-label data the unit's class is always used.
    target: str = "top"
    saliency: SaliencyConfig = field(default_factory=lambda: _preset("langlois2021"))
    blur: str = "imgaussfilt"  # correlate.BLUR_BOUNDARIES
    mask_protocol: str = "langlois2021"  # masking.MASK_PROTOCOLS
    cv_splits: int = 100  # SI §I: 100 random 12/13 splits
    baselines: tuple[str, ...] = ("centre", "spectral_residual")
    # also find each map's peak r and sigma against every other measure of the human maps (and their
    # Human PC when there are several): main Fig. 3A is methods x measures, one sigma per pair
    all_measures: bool = False
    batch_size: int = 32
    data_label: str = ""  # e.g. "synthetic/val, simulated clicks" (goes into task strings)
    # a method that does not apply to the model (e.g. guided backprop on a GELU network): skip it and
    # record why (True) or raise its LuabError (False)
    skip_inapplicable: bool = False


#: What :func:`align_result` runs when the caller names nothing (``pipeline.run``): Grad-CAM and
#: guided backprop are cheap (one forward/backward per image); SmoothGrad-GBP costs 30 of them.
DEFAULT_METHODS: tuple[str, ...] = ("gbp", "gradcam")
DEFAULT_LIMIT = 100


@dataclass
class MethodScore:
    """One method's sigma search and its intervals."""

    method: str
    search: correlate.SigmaSearch
    r_ci: tuple[float, float]
    r_ci_kind: str
    spearman_ci: tuple[float, float]
    r_cv: float | None = None
    nss: np.ndarray | None = None  # per image with a defined NSS (fixation-like measures only)
    nss_ci: tuple[float, float] | None = None
    class_gap: np.ndarray | None = None  # per unit with a same-image partner class (multi-label data)
    class_gap_ci: tuple[float, float] | None = None
    cv: correlate.SplitHalfCV | None = None  # SI §I repeated split-half
    human_boot: correlate.HumanBootstrap | None = None  # SI §D.2 human-data resamples
    kind: str = "method"  # "method" | "baseline"
    model_maps: np.ndarray | None = field(default=None, repr=False)  # raw maps, for the human bootstrap

    def per_image_full(self) -> np.ndarray:
        """Per-image r at the best sigma for *every* image (NaN where undefined), for paired tests."""
        return self.search.r_by_sigma[self.search.best_index].copy()


@dataclass
class AlignmentReport:
    """Everything :func:`align_model` measured."""

    config: AlignConfig
    n_images: int
    scores: list[MethodScore] = field(default_factory=list)
    mask: masking.MaskingOutcome | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # method -> why it was not run
    pairwise: correlate.PairwiseTests | None = None
    pc: Any = None  # human_maps.HumanPC when the measure is human_pc
    num_classes: int | None = None
    # measure -> map -> (peak r, its sigma, n images): the methods x measures table (all_measures)
    per_measure: dict[str, dict[str, tuple[float, float, int]]] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # the compared units, in the order of per-image r
    human_boot_note: str | None = None  # how the human-data error bars were made / why they could not be

    def alignment_block(self) -> Any:
        """The result's typed ``alignment`` block: each method's mean r over the sigma grid."""
        from luab_bench.results.schema import Alignment, AlignmentCurve, AlignmentHumanPC, AlignmentPairwise

        curves = []
        for s in self.scores:
            extra: dict[str, Any] = {"kind": s.kind, "n": int(s.search.valid.sum())}
            if s.cv is not None:
                extra.update(cv_train_r=s.cv.train_r, cv_test_r=s.cv.test_r, cv_test_sd=s.cv.test_sd)
            if s.human_boot is not None:
                hb = s.human_boot
                extra.update(
                    human_boot_n=hb.n_boot,
                    human_boot_sd=hb.sd,
                    human_boot_ci_low=hb.ci[0],
                    human_boot_ci_high=hb.ci[1],
                )
            extra.update(image_ci_low=s.r_ci[0], image_ci_high=s.r_ci[1])
            if len(self.ids) == len(s.search.r_by_sigma[0]):
                extra["per_image_r"] = [float(v) if np.isfinite(v) else None for v in s.per_image_full()]
            curves.append(
                AlignmentCurve(
                    method=s.method,
                    sigmas=[float(v) for v in s.search.sigmas],
                    mean_r=[float(v) if np.isfinite(v) else None for v in s.search.mean_r],
                    best_sigma=float(s.search.best_sigma),
                    best_r=float(s.search.best_r),
                    **extra,
                )
            )
        pw = None
        if self.pairwise is not None and len(self.pairwise.names) >= 2:
            p = self.pairwise

            def _m(a: np.ndarray) -> list[list[float | None]]:
                return [[float(v) if np.isfinite(v) else None for v in row] for row in a]

            pw = AlignmentPairwise(
                names=p.names, n=p.n, mean_diff=_m(p.mean_diff), t=_m(p.t), p_bonferroni=_m(p.p_bonferroni)
            )
        pc = None
        if self.pc is not None:
            pc = AlignmentHumanPC(
                measures=list(self.pc.measures),
                loadings=[float(v) for v in self.pc.loadings],
                weights=[float(v) for v in self.pc.weights],
                explained=float(self.pc.explained),
                convention=self.pc.convention,
            )
        cfg = self.config
        conventions = (
            f"target={cfg.target}; {cfg.saliency.describe()}; blur={cfg.blur}; masking={cfg.mask_protocol}"
        )
        per = None
        if self.per_measure:
            from luab_bench.results.schema import AlignmentPeak

            per = {
                m: [AlignmentPeak(method=k, best_r=v[0], best_sigma=v[1], n=v[2]) for k, v in row.items()]
                for m, row in self.per_measure.items()
            }
        return Alignment(
            measure=cfg.measure,
            data=cfg.data_label,
            curves=curves,
            conventions=conventions,
            pairwise=pw,
            human_pc=pc,
            per_measure=per,
            image_ids=list(self.ids) if self.ids and any(c.per_image_r is not None for c in curves) else None,
            human_boot_note=self.human_boot_note,
        )

    def metrics(self) -> dict[str, Metric]:
        """Result-schema metrics (names in the module doc)."""
        from luab_bench.metrics.bootstrap import bootstrap_ci, bootstrap_diff_ci
        from luab_bench.results.schema import Metric

        cfg = self.config
        grid = f"sigma grid {cfg.sigmas[0]:g}..{cfg.sigmas[-1]:g} px at 100x100"
        where = (
            f"{cfg.data_label}, human measure {cfg.measure!r}"
            if cfg.data_label
            else f"human measure {cfg.measure!r}"
        )
        out: dict[str, Metric] = {}
        for s in self.scores:
            n = int(s.search.valid.sum())
            hb = (
                f"; human-data bootstrap ({s.human_boot.n_boot} resamples of the annotators, maps rebuilt, "
                f"sigma fixed): sd {s.human_boot.sd:.4f}, 95% [{s.human_boot.ci[0]:.3f}, "
                f"{s.human_boot.ci[1]:.3f}]"
                if s.human_boot is not None
                else (f"; {self.human_boot_note}" if self.human_boot_note else "")
            )
            what = (
                "baseline map" if s.kind == "baseline" else f"target {cfg.target}; {cfg.saliency.describe()}"
            )
            out[f"align_{s.method}_r"] = Metric(
                value=s.search.best_r,
                n=n,
                ci_low=s.r_ci[0],
                ci_high=s.r_ci[1],
                unit="",
                higher_is_better=True,
                task=f"{s.method}: mean Pearson r with {where}; "
                f"best sigma {s.search.best_sigma:g} px of {grid} (blur {cfg.blur}); "
                f"95% CI: {s.r_ci_kind}, {cfg.n_boot} resamples over images{hb}; {what}",
            )
            rho = float(s.search.spearman.mean())
            out[f"align_{s.method}_spearman"] = Metric(
                value=rho,
                n=n,
                ci_low=s.spearman_ci[0],
                ci_high=s.spearman_ci[1],
                unit="",
                higher_is_better=True,
                task=f"{s.method}: mean Spearman rho with {where} at sigma {s.search.best_sigma:g} px; "
                f"95% CI: {cfg.n_boot} resamples over images",
            )
            if s.nss is not None and s.nss_ci is not None and len(s.nss):
                out[f"align_{s.method}_nss"] = Metric(
                    value=float(s.nss.mean()),
                    n=len(s.nss),
                    ci_low=s.nss_ci[0],
                    ci_high=s.nss_ci[1],
                    unit="",
                    higher_is_better=True,
                    task=f"{s.method}: mean NSS (z-scored model map at sigma {s.search.best_sigma:g} px, "
                    f"averaged over the human fixation events) with {where}; "
                    f"95% CI: {cfg.n_boot} resamples over images",
                )
            if s.class_gap is not None and s.class_gap_ci is not None and len(s.class_gap):
                out[f"align_{s.method}_class_gap"] = Metric(
                    value=float(s.class_gap.mean()),
                    n=len(s.class_gap),
                    ci_low=s.class_gap_ci[0],
                    ci_high=s.class_gap_ci[1],
                    unit="",
                    higher_is_better=True,
                    task=f"{s.method}: mean r(own class's human map) - r(another class of the same "
                    f"image) at sigma {s.search.best_sigma:g} px ({where}); "
                    f"95% CI: {cfg.n_boot} resamples over units",
                )
            if s.cv is not None:
                out[f"align_{s.method}_r_cv"] = Metric(
                    value=s.cv.test_r,
                    n=n,
                    unit="",
                    higher_is_better=True,
                    task=f"{s.method}: split-half cross-validated mean Pearson r (SI §I: "
                    f"{s.cv.n_splits} random splits, sigma fitted on floor(n/2) images, scored on the "
                    f"rest; mean held-out r, sd "
                    f"{s.cv.test_sd:.4f}; training-half peak r {s.cv.train_r:.3f})",
                )
        if self.mask is not None:
            m = self.mask
            k = len(m.correct)
            if m.protocol == "luab-v1":
                task = (
                    f"inverse rank N/(r+N), N={m.n:g}, of the true class on grayscale images with "
                    f"{masking.REVEAL_FRACTION:.0%} revealed by the {{}} human map ({where}; "
                    "protocol luab-v1)"
                )
                mism = f"a mismatched (r < {masking.MISMATCH_MAX_R}) "
            else:
                task = (
                    f"inverse rank N/(r+N), N={m.n:g} classes, of the unmasked top-1 class on RGB images x "
                    f"the {{}} human map thresholded to reveal {masking.REVEAL_FRACTION:.0%} ({where}; "
                    "Langlois et al. SI §G)"
                )
                mism = f"mean over {m.mismatches_per_image} other images'"
            for name, vals, what in (
                ("correct", m.correct, "image's own"),
                ("mismatched", m.mismatched, mism),
            ):
                ci = bootstrap_ci(vals, n_boot=cfg.n_boot, seed=cfg.seed)
                out[f"align_mask_{name}"] = Metric(
                    value=ci.estimate,
                    n=k,
                    ci_low=ci.low,
                    ci_high=ci.high,
                    unit="",
                    higher_is_better=True,
                    task=task.format(what.strip()),
                )
            gap = bootstrap_diff_ci(m.correct, m.mismatched, paired=True, n_boot=cfg.n_boot, seed=cfg.seed)
            out["align_mask_gap"] = Metric(
                value=gap.estimate,
                n=k,
                ci_low=gap.low,
                ci_high=gap.high,
                unit="",
                higher_is_better=True,
                task="align_mask_correct - align_mask_mismatched, paired bootstrap over images",
            )
        return out

    def table_lines(self) -> list[str]:
        """Plain-text table: one row per method, then the masking test."""
        head = (
            f"{'method':<19} {'r':>7} {'95% CI':>17} {'sigma':>6} {'rho':>7} {'nss':>7} {'r_cv':>7} "
            f"{'cls_gap':>7} {'n':>5}"
        )
        rows = [head]
        for s in self.scores:
            cv = f"{s.cv.test_r:7.3f}" if s.cv is not None else f"{'-':>7}"
            nss = f"{float(s.nss.mean()):7.3f}" if s.nss is not None and len(s.nss) else f"{'-':>7}"
            has_gap = s.class_gap is not None and len(s.class_gap)
            gap = f"{float(s.class_gap.mean()):+7.3f}" if has_gap else f"{'-':>7}"  # type: ignore[union-attr]
            ci = f"[{s.r_ci[0]:.3f}, {s.r_ci[1]:.3f}]"
            label = f"[{s.method}]" if s.kind == "baseline" else s.method
            rows.append(
                f"{label:<19} {s.search.best_r:7.3f} {ci:>17} {s.search.best_sigma:6g} "
                f"{float(s.search.spearman.mean()):7.3f} {nss} {cv} {gap} {int(s.search.valid.sum()):5d}"
            )
        for method, why in self.skipped.items():
            rows.append(f"{method:<19} skipped: {why}")
        if self.pairwise is not None and len(self.pairwise.names) >= 2:
            p = self.pairwise
            best = int(np.nanargmax([s.search.best_r for s in self.scores]))
            top = self.scores[best].method
            i = p.names.index(top)
            worse = [
                p.names[j]
                for j in range(len(p.names))
                if j != i and p.p_bonferroni[i, j] < 0.05 and p.mean_diff[i, j] > 0
            ]
            rows.append(
                f"paired t-tests (n={p.n}, Bonferroni over {len(p.names) * (len(p.names) - 1) // 2} pairs): "
                f"{top} above {', '.join(worse) if worse else 'no other map'} at p < 0.05"
            )
        for m, row in self.per_measure.items():
            cells = ", ".join(
                f"{k} {v[0]:.3f} (σ {v[1]:g})" for k, v in sorted(row.items(), key=lambda kv: -kv[1][0])
            )
            rows.append(f"peak r vs {m}: {cells}")
        if self.pc is not None:
            load = ", ".join(f"{m} {v:.2f}" for m, v in zip(self.pc.measures, self.pc.loadings, strict=True))
            rows.append(f"Human PC loadings ({self.pc.explained:.1%} of variance): {load}")
        if self.mask is not None:
            c, w = self.mask.correct.mean(), self.mask.mismatched.mean()
            rows.append(
                f"masking (inverse rank, N={self.mask.n:g}, {self.mask.protocol}, "
                f"n={len(self.mask.correct)}): "
                f"correct {c:.3f}, mismatched {w:.3f}, gap {c - w:+.3f}"
            )
        return rows


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


def make_predict(net: LuabNet, device: Any, batch_size: int = 256) -> Callable[[np.ndarray], np.ndarray]:
    """``images (N, H, W, 3) on [0, 1] -> logits (N, K)`` for ``net`` (normalised with its mean/std)."""
    import torch

    mean = torch.tensor(net.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(net.input_std).view(1, 3, 1, 1)

    def predict(images: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                x = torch.as_tensor(np.asarray(images[start : start + batch_size]), dtype=torch.float32)
                x = ((x.permute(0, 3, 1, 2) - mean) / std).to(device)
                out.append(net(x).logits.float().cpu().numpy())
        return np.concatenate(out)

    return predict


def model_saliency(
    net: LuabNet,
    images: np.ndarray,
    labels: np.ndarray,
    method: str,
    *,
    device: Any,
    seed: int = 0,
    batch_size: int = 32,
    config: SaliencyConfig | None = None,
) -> np.ndarray:
    """Saliency maps (N, H, W) float32 of uint8 ``images`` (N, H, W, 3) for the classes ``labels``."""
    import torch

    from luab_bench.alignment.saliency import compute_saliency

    mean = torch.tensor(net.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(net.input_std).view(1, 3, 1, 1)
    x = (torch.as_tensor(np.asarray(images), dtype=torch.float32).permute(0, 3, 1, 2) / 255.0 - mean) / std
    t = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    return compute_saliency(
        method, net, x.to(device), t.to(device), seed=seed, batch_size=batch_size, config=config
    ).numpy()


def top_classes(net: LuabNet, images: np.ndarray, *, device: Any, batch_size: int = 64) -> np.ndarray:
    """The model's top predicted class of each uint8 image (SI §A.2: the class the maps explain)."""
    return make_predict(net, device, batch_size)(np.asarray(images, dtype=np.float64) / 255.0).argmax(1)


def convention_fields(name: str) -> dict[str, Any]:
    """AlignConfig fields of a named convention set: ``langlois2021`` (the paper's code; default) or
    ``luab-v1`` (luab-bench's earlier choices: max|g|, ReLU-only GBP, fraction noise, 4-sigma blur,
    grey-fill masking). The target class is chosen separately (``target``)."""
    from luab_bench.alignment.saliency import saliency_preset

    if name == "langlois2021":
        return {"saliency": saliency_preset(name), "blur": "imgaussfilt", "mask_protocol": "langlois2021"}
    if name == "luab-v1":
        return {"saliency": saliency_preset(name), "blur": "scipy-4sigma", "mask_protocol": "luab-v1"}
    raise LuabError(f"unknown conventions {name!r}; use langlois2021 or luab-v1")


def default_measure(maps: str, measure: str | None) -> str:
    """The human measure compared when none is named: byproduct clicks, or a folder's Human PC."""
    return measure or ("clicks" if maps == "byproducts" else "human_pc")


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


def plot_sigma_curves(report: AlignmentReport, out_stem: Path, title: str = "") -> list[Path]:
    """Mean r vs sigma, one line per method, saved as ``<stem>.png`` and ``<stem>.svg`` (atomically)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from luab_bench.io import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    for s in report.scores:
        ax.plot(s.search.sigmas, s.search.mean_r, label=s.method)
        ax.plot([s.search.best_sigma], [s.search.best_r], "o", color=ax.lines[-1].get_color())
    ax.set_xlabel("Gaussian sigma (px at 100x100)")
    ax.set_ylabel("mean Pearson r")
    ax.set_title(title or f"alignment with human {report.config.measure}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths = []
    for ext in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, metadata={"Date": None} if ext == "svg" else None)
        path = out_stem.with_suffix(f".{ext}")
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths


def write_alignment(path: Path, report: AlignmentReport, *, key: Path | None = None) -> bool:
    """Merge ``report``'s ``align_*`` metrics and its ``alignment`` block into the result at ``path``.

    The result becomes schema 1.1 (the version with the block). Curves of methods not re-run are
    kept when the measure and data description are unchanged, otherwise the block is replaced. Then
    re-signed with ``key`` or left unsigned (its old signature no longer matches); returns True
    when signed.
    """
    from luab_bench.results.schema import SCHEMA_VERSION, load_result
    from luab_bench.results.signing import sign_result_file
    from luab_bench.results.store import write_result

    if not report.scores:
        raise LuabError(f"{path}: no saliency method could be run, nothing to write")
    result = load_result(path)
    block = report.alignment_block()
    old = result.alignment
    if old is not None and (old.measure, old.data) == (block.measure, block.data):
        new = {c.method for c in block.curves}
        kept = [c for c in old.curves if c.method not in new]
        if old.image_ids != block.image_ids:  # per-image r only pairs on the same images
            kept = [c.model_copy(update={"per_image_r": None}) for c in kept]
        block = block.model_copy(update={"curves": kept + block.curves})
    update = {
        "schema_version": SCHEMA_VERSION,
        "metrics": {**result.metrics, **report.metrics()},
        "alignment": block,
        "signature": None,
    }
    write_result(path, result.model_validate({**result.model_dump(), **update}))
    if key is not None:
        sign_result_file(path, key)
        return True
    return False


@dataclass
class AlignResultOutcome:
    """What :func:`align_result` did: the report (None when skipped), whether the file is signed, why
    it was skipped (None when it ran)."""

    report: AlignmentReport | None
    signed: bool = False
    skipped: str | None = None


def align_result(
    result_path: Path | None,
    checkpoint_dir: Path,
    *,
    data_dir: Path,
    device: str = "auto",
    methods: Sequence[str] = DEFAULT_METHODS,
    limit: int = DEFAULT_LIMIT,
    seed: int = 0,
    key: Path | None = None,
    progress: Callable[[str], None] | None = None,
    split: str = "val",
    maps: str | Path = "byproducts",
    measure: str | None = None,
    annotators: int = 5,
    kernel_sigma: float = 3.0,
    n_boot: int = correlate.N_BOOT,
    split_half: bool = False,
    run_masking: bool = True,
    skip_inapplicable: bool = True,
    variant: str | None = None,
    target: str = "top",
    conventions: str = "langlois2021",
    all_measures: bool = False,
) -> AlignResultOutcome:
    """Align the checkpoint's model on its own embedded data and write the outcome into its result.

    The checkpoint's ``meta["data"]`` names the variant (and its fingerprint is checked). Methods that
    do not apply to the model (guided backprop on a non-ReLU net) are skipped with their reason in
    ``report.skipped`` when ``skip_inapplicable``; when no method applies, or the checkpoint was
    trained on data without human maps here (real ImageNet/COCO), nothing is written and
    ``outcome.skipped`` says why. Otherwise ``align_*`` metrics and the ``alignment`` block are merged
    into ``result_path`` (see :func:`write_alignment`), re-signed with ``key`` or left unsigned;
    ``result_path=None`` only measures. ``variant`` overrides the checkpoint's data variant.
    """
    from luab_bench.alignment.saliency import method_names
    from luab_bench.alignment.sets import ALIGNABLE_SOURCES, load_alignment_set
    from luab_bench.device import resolve_device
    from luab_bench.train.checkpoint import load_checkpoint

    names = tuple(method_names(",".join(methods)))
    if key is not None and result_path is None:
        raise LuabError("a key signs a result file; give the result path too (--out RESULT.json)")
    if result_path is not None and not Path(result_path).is_file():
        raise LuabError(f"{result_path}: result file not found; create it with `luab-bench evaluate` first")
    dev = resolve_device(device)
    net, meta = load_checkpoint(Path(checkpoint_dir), dev)
    data = meta.get("data") or {}
    source = data.get("source", "synthetic")
    if source not in ALIGNABLE_SOURCES:
        return AlignResultOutcome(
            None,
            skipped=f"trained on {source!r} data: human maps exist here only for the embedded "
            f"{' / '.join(ALIGNABLE_SOURCES)} data (pass --maps DIR to `luab-bench align` for your own)",
        )
    variant = variant or data.get("variant") or source
    aset = load_alignment_set(
        variant,
        Path(data_dir),
        split=split,
        limit=limit,
        maps=maps,
        annotators=annotators,
        kernel_sigma=kernel_sigma,
        seed=seed,
    )
    if conventions != "langlois2021":
        aset.human.pc_convention = conventions
    fingerprint = data.get("fingerprint")
    if variant == data.get("variant") and fingerprint and fingerprint != aset.fingerprint:
        raise LuabError(
            f"{checkpoint_dir}: trained on data {fingerprint[:12]} but the generated {variant} "
            f"data is {aset.fingerprint[:12]}; regenerate with the same luab-bench version or retrain"
        )
    report = align_set(
        net,
        aset,
        AlignConfig(
            methods=names,
            measure=default_measure(maps, measure),
            n_boot=n_boot,
            split_half=split_half,
            masking=run_masking,
            seed=seed,
            data_label=aset.label,
            skip_inapplicable=skip_inapplicable,
            target=target,
            all_measures=all_measures,
            **convention_fields(conventions),
        ),
        device=dev,
        progress=progress,
    )
    if not report.scores:
        why = "; ".join(f"{m}: {r}" for m, r in report.skipped.items())
        return AlignResultOutcome(report, skipped=f"no saliency method applies to this model ({why})")
    signed = write_alignment(Path(result_path), report, key=key) if result_path is not None else False
    return AlignResultOutcome(report, signed=signed)
