"""Inline SVG charts for detail pages (no script, no external image: the CSP allows neither).

Every label is escaped here because the SVG is inserted as markup; numbers are formatted floats.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

W, H, PAD = 320, 160, 34


def _numeric_series(value: Any) -> list[float] | None:
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    ):
        return [float(v) for v in value]
    return None


def find_curves(training: Any, prefix: str = "") -> dict[str, list[float]]:
    """Every list of numbers anywhere in ``training`` (key path -> values), in key order."""
    out: dict[str, list[float]] = {}
    if isinstance(training, dict):
        for k in sorted(training):
            path = f"{prefix}.{k}" if prefix else str(k)
            series = _numeric_series(training[k])
            if series is not None:
                out[path] = series
            else:
                out.update(find_curves(training[k], path))
    return out


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def line_chart(title: str, values: list[float]) -> str:
    """A small line chart of ``values`` against epoch (1-based), with min/max labels."""
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    n = len(values)

    def xy(i: int, v: float) -> str:
        x = PAD + (W - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)
        y = H - PAD - (H - 2 * PAD) * ((v - lo) / span)
        return f"{x:.1f},{y:.1f}"

    pts = " ".join(xy(i, v) for i, v in enumerate(values))
    t = escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{t}"><title>{t}</title>'
        f'<text x="{PAD}" y="16" class="ct">{t}</text>'
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" class="axis"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" class="axis"/>'
        f'<text x="{PAD - 4}" y="{PAD + 4}" class="tick" text-anchor="end">{_fmt(hi)}</text>'
        f'<text x="{PAD - 4}" y="{H - PAD}" class="tick" text-anchor="end">{_fmt(lo)}</text>'
        f'<text x="{W - PAD}" y="{H - PAD + 14}" class="tick" text-anchor="end">epoch {n}</text>'
        f'<polyline points="{pts}" class="line"/></svg>'
    )


def interval_chart(title: str, items: list[tuple[str, float, float | None, float | None]]) -> str:
    """Horizontal bars (value) with interval whiskers, e.g. every % metric of a result."""
    row_h = 18
    height = PAD + row_h * len(items) + 10
    label_w = 130
    hi = max([100.0] + [c for _, _, _, c in items if c is not None] + [v for _, v, _, _ in items])
    lo = min([0.0] + [v for _, v, _, _ in items] + [c for _, _, c, _ in items if c is not None])
    span = hi - lo or 1.0
    width = W + 120

    def x(v: float) -> float:
        return label_w + (width - label_w - 20) * (v - lo) / span

    t = escape(title)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{t}"><title>{t}</title><text x="4" y="16" class="ct">{t}</text>'
    ]
    for i, (name, v, c_lo, c_hi) in enumerate(items):
        y = PAD + i * row_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" class="tick" text-anchor="end">{escape(name)}</text>'
        )
        parts.append(
            f'<rect x="{x(min(0.0, v)):.1f}" y="{y + 3}" '
            f'width="{abs(x(v) - x(0.0)):.1f}" height="11" class="bar"/>'
        )
        if c_lo is not None and c_hi is not None:
            parts.append(
                f'<line x1="{x(c_lo):.1f}" y1="{y + 8}" x2="{x(c_hi):.1f}" y2="{y + 8}" class="whisker"/>'
            )
        parts.append(f'<text x="{x(max(v, 0.0)) + 4:.1f}" y="{y + 12}" class="tick">{_fmt(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)
