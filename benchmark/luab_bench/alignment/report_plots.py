"""The r-vs-sigma plot of an alignment report (PNG + SVG, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from luab_bench.alignment.report_types import AlignmentReport


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
