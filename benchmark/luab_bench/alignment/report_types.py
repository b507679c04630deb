"""What an alignment run measured: one :class:`MethodScore` per map, the :class:`AlignmentReport`
and its typed ``alignment`` block (schema 1.2); metrics and the text table in :mod:`.report_metrics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.alignment import correlate, masking
from luab_bench.alignment.align_config import AlignConfig

if TYPE_CHECKING:
    from luab_bench.results.schema import Metric


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
        """Result-schema metrics (names in :mod:`luab_bench.alignment.report`)."""
        from luab_bench.alignment.report_metrics import report_metrics

        return report_metrics(self)

    def table_lines(self) -> list[str]:
        """Plain-text table: one row per method, then the tests, the PC loadings and the masking test."""
        from luab_bench.alignment.report_metrics import report_table

        return report_table(self)
