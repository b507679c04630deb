"""Inline SVG charts for detail pages (no script, no external image: the CSP allows neither).

Every label is escaped here because the SVG is inserted as markup; numbers are formatted floats.
Colours are SVG presentation attributes, not ``style=`` attributes, which the detail pages' CSP
(style only by hash) would block.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any, Protocol

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
    # halves: hi - lo of two finite floats can overflow to inf (±1.7e308), their halves cannot
    span = hi / 2 - lo / 2 or 0.5
    n = len(values)

    def xy(i: int, v: float) -> str:
        x = PAD + (W - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)
        y = H - PAD - (H - 2 * PAD) * ((v / 2 - lo / 2) / span)
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


class _Curve(Protocol):
    """What :func:`alignment_chart` reads from a curve (``results.schema.AlignmentCurve``)."""

    method: str
    sigmas: Sequence[float]
    mean_r: Sequence[float | None]
    best_sigma: float
    best_r: float


# One colour + dash pattern per method (dashes keep lines apart without colour vision); cycles.
SERIES_STYLES = (
    ("#0969da", ""),
    ("#cf222e", "6 3"),
    ("#1a7f37", "2 2"),
    ("#8250df", "8 3 2 3"),
    ("#bc4c00", "4 4"),
    ("#24292f", "1 3"),
)
LEGEND_CHARS = 28


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round ticks (steps of 1, 2 or 5 x 10^k) inside ``[lo, hi]``: at least 2, about ``target``.

    The step is the smallest nice step >= span / (target - 1) (so at most ``target`` ticks), or the
    next smaller one while fewer than 2 ticks would fall inside; ``[lo]`` if the span is 0.
    """
    span = hi - lo
    if not span > 0:
        return [lo]
    raw = span / max(target - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    steps = [m * mag for m in (10, 5, 2, 1)] + [m * mag / 10 for m in (5, 2, 1)]
    ticks: list[float] = []
    for step in [s for s in steps if s >= raw][-1:] + [s for s in steps if s < raw]:
        k = math.ceil(lo / step - 1e-9)
        ticks = []
        while k * step <= hi + step * 1e-9:
            ticks.append(round(k * step, 12) + 0.0)  # + 0.0 turns -0.0 into 0.0
            k += 1
        if len(ticks) >= 2:
            break
    return ticks


def segments(xs: Sequence[float], ys: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive defined points: a ``None`` (undefined r) breaks the line there."""
    out: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            if run:
                out.append(run)
            run = []
        else:
            run.append((float(x), float(y)))
    if run:
        out.append(run)
    return out


def _short(text: str, n: int = LEGEND_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def alignment_chart(curves: Sequence[_Curve], *, measure: str, data: str) -> str:
    """r-vs-sigma chart of a result's alignment block: one line per saliency method.

    x = Gaussian sigma (px at the 100x100 comparison scale), y = mean Pearson r over images; a null
    r breaks its line (an isolated defined point is drawn as a dot); each method's best point
    (``best_sigma``, ``best_r``) is ringed and its values are in the legend. Every string (method,
    measure, data) is escaped; long method names are shortened in the legend (full name on hover).
    """
    width, left, right, top = 480, 52, 16, 30
    plot_h = 170
    bottom = top + plot_h
    legend_y = bottom + 44
    height = legend_y + 16 * len(curves) + 4
    xs_all = [float(s) for c in curves for s in c.sigmas] + [float(c.best_sigma) for c in curves]
    ys_all = [float(r) for c in curves for r in c.mean_r if r is not None] + [float(c.best_r) for c in curves]
    x_lo, x_hi = (min(xs_all), max(xs_all)) if xs_all else (0.0, 1.0)
    y_lo, y_hi = (min(ys_all), max(ys_all)) if ys_all else (0.0, 1.0)
    if x_hi - x_lo <= 0:
        x_lo, x_hi = x_lo - 1.0, x_hi + 1.0
    if y_hi - y_lo <= 0:
        y_lo, y_hi = y_lo - 0.05, y_hi + 0.05
    pad = 0.06 * (y_hi - y_lo)
    y_lo, y_hi = y_lo - pad, y_hi + pad

    def px(x: float) -> float:
        return left + (width - left - right) * (x - x_lo) / (x_hi - x_lo)

    def py(y: float) -> float:
        return bottom - plot_h * (y - y_lo) / (y_hi - y_lo)

    title = f"Human alignment: mean Pearson r vs Gaussian σ (human maps: {measure})"
    t = escape(title)
    parts = [
        f'<svg class="chart alignment-chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{t}"><title>{t}; data: {escape(data)}</title>'
        f'<text x="4" y="16" class="ct">{escape(_short(title, 90))}</text>'
        f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" class="axis"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" class="axis"/>'
    ]
    for v in nice_ticks(x_lo, x_hi, 7):
        x = px(v)
        parts.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 3}" class="axis"/>'
            f'<text x="{x:.1f}" y="{bottom + 13}" class="tick" text-anchor="middle">{_fmt(v)}</text>'
        )
    for v in nice_ticks(y_lo, y_hi, 5):
        y = py(v)
        grid = 'class="zero" stroke="#999" stroke-dasharray="3 3"' if v == 0 else 'class="grid" stroke="#eee"'
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" {grid}/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" class="tick" text-anchor="end">{_fmt(v)}</text>'
        )
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{bottom + 28}" class="tick" '
        'text-anchor="middle">Gaussian σ (px at 100×100)</text>'
        f'<text x="12" y="{(top + bottom) / 2:.1f}" class="tick" text-anchor="middle" '
        f'transform="rotate(-90 12 {(top + bottom) / 2:.1f})">mean Pearson r</text>'
    )
    for i, c in enumerate(curves):
        colour, dash = SERIES_STYLES[i % len(SERIES_STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        name = escape(c.method)
        parts.append(f'<g class="series" data-method="{name}"><title>{name}</title>')
        for run in segments(c.sigmas, c.mean_r):
            if len(run) == 1:
                (x, y) = run[0]
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" fill="{colour}"/>')
            else:
                pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
                parts.append(
                    f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.6"{dash_attr}/>'
                )
        parts.append(
            f'<circle class="best" cx="{px(c.best_sigma):.1f}" cy="{py(c.best_r):.1f}" r="4.5" '
            f'fill="#fff" stroke="{colour}" stroke-width="2"/></g>'
        )
        ly = legend_y + 16 * i
        parts.append(
            f'<g class="legend"><title>{name}</title>'
            f'<line x1="{left}" y1="{ly - 4}" x2="{left + 26}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="1.6"{dash_attr}/>'
            f'<circle cx="{left + 13}" cy="{ly - 4}" r="3.5" fill="#fff" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{left + 34}" y="{ly}" class="tick">{escape(_short(c.method))}: best r '
            f"{_fmt(c.best_r)} at σ {_fmt(c.best_sigma)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
