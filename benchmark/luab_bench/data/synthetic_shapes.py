"""The synthetic benchmark's class shapes (exact masks in object coordinates) and HSV colours."""

from __future__ import annotations

import numpy as np


def _regular_polygon(u: np.ndarray, v: np.ndarray, n: int, phase: float) -> np.ndarray:
    """Inside a regular n-gon of circumradius 1 (edge normals at ``phase + 2πk/n``)."""
    angles = phase + 2 * np.pi * np.arange(n) / n
    proj = u[..., None] * np.cos(angles) + v[..., None] * np.sin(angles)
    return proj.max(axis=-1) <= np.cos(np.pi / n)


def _shape_mask(k: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Exact mask of class-``k`` shape in object coords (u, v); every shape fits the unit disc."""
    au, av = np.abs(u), np.abs(v)
    r2 = u * u + v * v
    if k == 0:  # disc
        return r2 <= 1.0
    if k == 1:  # square
        return np.maximum(au, av) <= 0.7
    if k == 2:  # triangle, apex up
        return _regular_polygon(u, v, 3, np.pi / 2)
    if k == 3:  # cross
        return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))
    if k == 4:  # ring
        return (r2 <= 1.0) & (r2 >= 0.55**2)
    if k == 5:  # five-lobed star
        theta = np.arctan2(v, u)
        return np.sqrt(r2) <= 0.55 + 0.45 * np.cos(5 * theta)
    if k == 6:  # elongated diamond
        return au + av / 0.5 <= 1.0
    if k == 7:  # hexagon
        return _regular_polygon(u, v, 6, 0.0)
    if k == 8:  # bar
        return (au <= 0.95) & (av <= 0.28)
    if k == 9:  # L
        return ((u >= -0.75) & (u <= 0.75) & (v >= 0.35) & (v <= 0.75)) | (
            (u >= -0.75) & (u <= -0.35) & (v >= -0.75) & (v <= 0.75)
        )
    raise ValueError(f"no shape for class {k}")


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB; h in [0,1) (wraps), s, v in [0,1]; returns (..., 3)."""
    h = np.mod(h, 1.0) * 6.0
    i = np.floor(h).astype(np.int64) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack(
        [
            np.stack([v, t, p], -1),
            np.stack([q, v, p], -1),
            np.stack([p, v, t], -1),
            np.stack([p, q, v], -1),
            np.stack([t, p, v], -1),
            np.stack([v, p, q], -1),
        ]
    )
    return np.take_along_axis(table, i[None, ..., None], axis=0)[0]
