"""Run the alignment analysis for one model, turn it into result metrics, a table and plots.

Metric names written into a result's ``metrics`` (``<m>`` = saliency method):

* ``align_<m>_r`` – best mean Pearson r over the sigma grid; 95% interval from the bootstrap over
  images that re-picks sigma on every resample (:func:`correlate.bootstrap_best_r`). If that interval
  does not contain the point estimate (possible, since the max over sigma is biased), the interval of
  the mean r at the chosen sigma is recorded instead and the task string says so.
* ``align_<m>_sigma`` – the chosen sigma in pixels at the 100 x 100 scale (no interval).
* ``align_<m>_spearman`` – mean Spearman rho at the chosen sigma, bootstrap interval over images.
* ``align_<m>_r_cv`` – split-half cross-validated mean r (only with ``split_half=True``).
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
from luab_bench.errors import LuabError

if TYPE_CHECKING:
    from luab_bench.alignment.human_maps import HumanMaps
    from luab_bench.models import LuabNet
    from luab_bench.results.schema import Metric


@dataclass(frozen=True)
class AlignConfig:
    """What to compute; defaults are the protocol of docs/alignment.md."""

    methods: tuple[str, ...] = ("sgbp", "gradcam")
    measure: str = "clicks"
    sigmas: tuple[float, ...] = correlate.SIGMA_GRID
    n_boot: int = correlate.N_BOOT
    split_half: bool = False
    masking: bool = True
    inverse_rank_n: float = 1.0
    seed: int = 0
    batch_size: int = 32
    data_label: str = ""  # e.g. "synthetic/val, simulated clicks" (goes into task strings)


@dataclass
class MethodScore:
    """One method's sigma search and its intervals."""

    method: str
    search: correlate.SigmaSearch
    r_ci: tuple[float, float]
    r_ci_kind: str
    spearman_ci: tuple[float, float]
    r_cv: float | None = None


@dataclass
class AlignmentReport:
    """Everything :func:`align_model` measured."""

    config: AlignConfig
    n_images: int
    scores: list[MethodScore] = field(default_factory=list)
    mask: masking.MaskingOutcome | None = None

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
            out[f"align_{s.method}_r"] = Metric(
                value=s.search.best_r,
                n=n,
                ci_low=s.r_ci[0],
                ci_high=s.r_ci[1],
                unit="",
                higher_is_better=True,
                task=f"{s.method}: mean Pearson r with {where}; "
                f"best sigma {s.search.best_sigma:g} px of {grid}; "
                f"95% CI: {s.r_ci_kind}, {cfg.n_boot} resamples over images",
            )
            out[f"align_{s.method}_sigma"] = Metric(
                value=s.search.best_sigma,
                n=n,
                unit="",
                higher_is_better=False,
                task=f"{s.method}: Gaussian sigma (px at 100x100) maximising mean Pearson r; not ranked",
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
            if s.r_cv is not None:
                out[f"align_{s.method}_r_cv"] = Metric(
                    value=s.r_cv,
                    n=n,
                    unit="",
                    higher_is_better=True,
                    task=f"{s.method}: split-half cross-validated mean Pearson r (sigma from the other half)",
                )
        if self.mask is not None:
            m = self.mask
            k = len(m.correct)
            task = (
                f"inverse rank N/(r+N), N={cfg.inverse_rank_n:g}, of the true class on grayscale images with "
                f"{masking.REVEAL_FRACTION:.0%} revealed by the {{}} human map ({where})"
            )
            for name, vals, what in (
                ("correct", m.correct, "image's own"),
                ("mismatched", m.mismatched, f"a mismatched (r < {masking.MISMATCH_MAX_R}) "),
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
        rows = [f"{'method':<12} {'r':>7} {'95% CI':>17} {'sigma':>6} {'rho':>7} {'r_cv':>7} {'n':>5}"]
        for s in self.scores:
            cv = f"{s.r_cv:7.3f}" if s.r_cv is not None else f"{'-':>7}"
            ci = f"[{s.r_ci[0]:.3f}, {s.r_ci[1]:.3f}]"
            rows.append(
                f"{s.method:<12} {s.search.best_r:7.3f} {ci:>17} {s.search.best_sigma:6g} "
                f"{float(s.search.spearman.mean()):7.3f} {cv} {int(s.search.valid.sum()):5d}"
            )
        if self.mask is not None:
            c, w = self.mask.correct.mean(), self.mask.mismatched.mean()
            rows.append(
                f"masking (inverse rank, n={len(self.mask.correct)}): correct {c:.3f}, "
                f"mismatched {w:.3f}, gap {c - w:+.3f}"
            )
        return rows


def _score_method(method: str, model_maps: np.ndarray, human: np.ndarray, cfg: AlignConfig) -> MethodScore:
    from luab_bench.metrics.bootstrap import bootstrap_ci

    search = correlate.sigma_search(model_maps, human, cfg.sigmas)
    table = search.r_by_sigma[:, search.valid]
    value = search.best_r
    lo, hi = correlate.bootstrap_best_r(table, n_boot=cfg.n_boot, seed=cfg.seed)
    kind = "bootstrap re-picking sigma"
    if not lo <= value <= hi:
        fixed = bootstrap_ci(search.per_image_r, n_boot=cfg.n_boot, seed=cfg.seed)
        lo, hi, kind = fixed.low, fixed.high, "bootstrap at the chosen sigma"
    rho = bootstrap_ci(search.spearman, n_boot=cfg.n_boot, seed=cfg.seed)
    r_cv = correlate.split_half_score(table, seed=cfg.seed)[0] if cfg.split_half else None
    return MethodScore(method, search, (lo, hi), kind, (rho.low, rho.high), r_cv)


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """Indices of ``min(n, k)`` images spread evenly over ``0..n-1`` (``floor(i * n / k)``)."""
    k = min(n, k)
    return (np.arange(k) * n) // k


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
) -> np.ndarray:
    """Saliency maps (N, H, W) float32 of uint8 ``images`` (N, H, W, 3) for their true ``labels``."""
    import torch

    from luab_bench.alignment.saliency import compute_saliency

    mean = torch.tensor(net.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(net.input_std).view(1, 3, 1, 1)
    x = (torch.as_tensor(np.asarray(images), dtype=torch.float32).permute(0, 3, 1, 2) / 255.0 - mean) / std
    t = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    return compute_saliency(method, net, x.to(device), t.to(device), seed=seed, batch_size=batch_size).numpy()


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
) -> AlignmentReport:
    """Score every method of ``cfg`` against ``human`` on the images that have human maps."""
    pos = {i: k for k, i in enumerate(ids)}
    missing = [i for i in human.ids if i not in pos]
    if missing:
        raise LuabError(f"{len(missing)} human maps name images not in the split (e.g. {missing[0]!r})")
    idx = np.array([pos[i] for i in human.ids], dtype=np.int64)
    imgs, ys = np.asarray(images)[idx], np.asarray(labels)[idx]
    human_maps = human.measure(cfg.measure)
    report = AlignmentReport(cfg, len(idx))
    for method in cfg.methods:
        if progress:
            progress(f"saliency {method} on {len(idx)} images")
        maps = model_saliency(net, imgs, ys, method, device=device, seed=cfg.seed, batch_size=cfg.batch_size)
        report.scores.append(_score_method(method, maps, human_maps, cfg))
    if cfg.masking:
        if progress:
            progress("masking test")
        report.mask = masking.masking_test(
            make_predict(net, device),
            imgs.astype(np.float64) / 255.0,
            ys,
            human_maps,
            n=cfg.inverse_rank_n,
            seed=cfg.seed,
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


def add_metrics_to_result(path: Path, metrics: dict[str, Metric], *, key: Path | None = None) -> bool:
    """Merge ``metrics`` into the result file at ``path``; re-sign with ``key`` or leave it unsigned.

    Returns True when the result is signed afterwards. Any previous signature no longer matches the
    content, so without ``key`` the signature is removed (``luab-bench sign`` can add one later).
    """
    from luab_bench.results.schema import load_result
    from luab_bench.results.signing import sign_result_file
    from luab_bench.results.store import write_result

    result = load_result(path)
    merged = {**result.metrics, **metrics}
    write_result(path, result.model_copy(update={"metrics": merged, "signature": None}))
    if key is not None:
        sign_result_file(path, key)
        return True
    return False
