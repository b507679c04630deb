"""An :class:`~luab_bench.alignment.report_types.AlignmentReport` as result metrics (the ``align_*``
names documented in :mod:`luab_bench.alignment.report`) and as the plain-text table the CLI prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from luab_bench.alignment import masking

if TYPE_CHECKING:
    from luab_bench.alignment.report_types import AlignmentReport
    from luab_bench.results.schema import Metric


def _score(value: float, n: int, ci: tuple[float, float], task: str) -> Metric:
    """One ``align_*`` metric: unitless, higher is better, with its 95% interval."""
    from luab_bench.results.schema import Metric

    return Metric(value=value, n=n, ci_low=ci[0], ci_high=ci[1], unit="", higher_is_better=True, task=task)


def _mean_score(values: np.ndarray, ci: tuple[float, float], task: str) -> Metric:
    """The mean of per-image (or per-unit) ``values`` as an ``align_*`` metric over ``len(values)``."""
    return _score(float(values.mean()), len(values), ci, task)


def report_metrics(report: AlignmentReport) -> dict[str, Metric]:
    """Result-schema metrics (names in the module doc)."""
    from luab_bench.metrics.bootstrap import bootstrap_ci, bootstrap_diff_ci
    from luab_bench.results.schema import Metric

    cfg = report.config
    grid = f"sigma grid {cfg.sigmas[0]:g}..{cfg.sigmas[-1]:g} px at 100x100"
    where = (
        f"{cfg.data_label}, human measure {cfg.measure!r}"
        if cfg.data_label
        else f"human measure {cfg.measure!r}"
    )
    out: dict[str, Metric] = {}
    for s in report.scores:
        n = int(s.search.valid.sum())
        hb = (
            f"; human-data bootstrap ({s.human_boot.n_boot} resamples of the annotators, maps rebuilt, "
            f"sigma fixed): sd {s.human_boot.sd:.4f}, 95% [{s.human_boot.ci[0]:.3f}, "
            f"{s.human_boot.ci[1]:.3f}]"
            if s.human_boot is not None
            else (f"; {report.human_boot_note}" if report.human_boot_note else "")
        )
        what = "baseline map" if s.kind == "baseline" else f"target {cfg.target}; {cfg.saliency.describe()}"
        out[f"align_{s.method}_r"] = _score(
            s.search.best_r,
            n,
            s.r_ci,
            f"{s.method}: mean Pearson r with {where}; "
            f"best sigma {s.search.best_sigma:g} px of {grid} (blur {cfg.blur}); "
            f"95% CI: {s.r_ci_kind}, {cfg.n_boot} resamples over images{hb}; {what}",
        )
        rho = float(s.search.spearman.mean())
        out[f"align_{s.method}_spearman"] = _score(
            rho,
            n,
            s.spearman_ci,
            f"{s.method}: mean Spearman rho with {where} at sigma {s.search.best_sigma:g} px; "
            f"95% CI: {cfg.n_boot} resamples over images",
        )
        per_unit = (
            ("nss", s.nss, s.nss_ci, f"{s.method}: mean NSS (z-scored model map at sigma "
             f"{s.search.best_sigma:g} px, averaged over the human fixation events) with {where}; "
             f"95% CI: {cfg.n_boot} resamples over images"),
            ("class_gap", s.class_gap, s.class_gap_ci, f"{s.method}: mean r(own class's human map) - "
             f"r(another class of the same image) at sigma {s.search.best_sigma:g} px ({where}); "
             f"95% CI: {cfg.n_boot} resamples over units"),
        )  # fmt: skip
        for suffix, values, ci, task in per_unit:
            if values is not None and ci is not None and len(values):
                out[f"align_{s.method}_{suffix}"] = _mean_score(values, ci, task)
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
    if report.mask is not None:
        m = report.mask
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
            out[f"align_mask_{name}"] = _score(
                ci.estimate,
                k,
                (ci.low, ci.high),
                task.format(what.strip()),
            )
        gap = bootstrap_diff_ci(m.correct, m.mismatched, paired=True, n_boot=cfg.n_boot, seed=cfg.seed)
        out["align_mask_gap"] = _score(
            gap.estimate,
            k,
            (gap.low, gap.high),
            "align_mask_correct - align_mask_mismatched, paired bootstrap over images",
        )
    return out


def report_table(report: AlignmentReport) -> list[str]:
    """Plain-text table: one row per method, then the masking test."""
    head = (
        f"{'method':<19} {'r':>7} {'95% CI':>17} {'sigma':>6} {'rho':>7} {'nss':>7} {'r_cv':>7} "
        f"{'cls_gap':>7} {'n':>5}"
    )
    rows = [head]
    for s in report.scores:
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
    for method, why in report.skipped.items():
        rows.append(f"{method:<19} skipped: {why}")
    if report.pairwise is not None and len(report.pairwise.names) >= 2:
        p = report.pairwise
        best = int(np.nanargmax([s.search.best_r for s in report.scores]))
        top = report.scores[best].method
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
    for m, row in report.per_measure.items():
        cells = ", ".join(
            f"{k} {v[0]:.3f} (σ {v[1]:g})" for k, v in sorted(row.items(), key=lambda kv: -kv[1][0])
        )
        rows.append(f"peak r vs {m}: {cells}")
    if report.pc is not None:
        load = ", ".join(f"{m} {v:.2f}" for m, v in zip(report.pc.measures, report.pc.loadings, strict=True))
        rows.append(f"Human PC loadings ({report.pc.explained:.1%} of variance): {load}")
    if report.mask is not None:
        c, w = report.mask.correct.mean(), report.mask.mismatched.mean()
        rows.append(
            f"masking (inverse rank, N={report.mask.n:g}, {report.mask.protocol}, "
            f"n={len(report.mask.correct)}): "
            f"correct {c:.3f}, mismatched {w:.3f}, gap {c - w:+.3f}"
        )
    return rows
