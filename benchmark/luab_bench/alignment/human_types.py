"""The data types of human maps: how points become a density (:class:`DensityKernel`,
:func:`density_map`) and the maps of one comparison (:class:`HumanMaps`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from luab_bench.errors import LuabError

if TYPE_CHECKING:
    from luab_bench.alignment.human_pc import HumanPC

#: ``resampler(n_boot, seed)``: ``n_boot`` map sets (N, H, W) rebuilt from the annotators behind each
#: map drawn with replacement (SI §D.2 error bars)
Resampler = Callable[[int, int], Iterator[np.ndarray]]


@dataclass(frozen=True)
class DensityKernel:
    """How points become a density map: a ``size`` x ``size`` histogram blurred with an isotropic
    Gaussian of std ``sigma_px`` (clicks weigh ``click_weight`` each, a record's mouse track
    ``track_weight`` in total)."""

    size: int = 100
    sigma_px: float = 3.0
    click_weight: float = 1.0
    track_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.size < 2 or self.sigma_px < 0 or self.click_weight < 0 or self.track_weight < 0:
            raise ValueError(f"invalid density kernel {self}")
        if self.click_weight == 0 and self.track_weight == 0:
            raise ValueError("click_weight and track_weight cannot both be 0")


@dataclass
class HumanMaps:
    """Maps per measure, aligned to ``ids``: ``maps[measure]`` is float32 (N, H, W)."""

    ids: list[str]
    maps: dict[str, np.ndarray]
    fixation_like: dict[str, bool] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    fixations: dict[str, np.ndarray] = field(default_factory=dict)  # unblurred event maps (for NSS)
    pc_convention: str = "langlois2021"  # how ``measure("human_pc")`` is built (PC_CONVENTIONS)
    # measure -> resampler of its maps from the per-annotator data (SI §D.2); absent where only
    # finished maps exist (then ``no_resample_reason`` says so in one line)
    resamplers: dict[str, Resampler] = field(default_factory=dict, repr=False)
    no_resample_reason: str | None = None

    def pc_fit(self) -> HumanPC:
        """The Human PC of all measures with its loadings (SI §D.1)."""
        from luab_bench.alignment.human_pc import human_pc_fit

        return human_pc_fit(
            np.stack([self.maps[m] for m in self.maps]),
            [self.fixation_like.get(m, False) for m in self.maps],
            list(self.maps),
            self.pc_convention,
        )

    def fixation_map(self, name: str) -> np.ndarray | None:
        """Fixation weights for NSS: the event histogram if kept, the map of a fixation-like measure,
        else None (NSS is not reported for measures that are not fixation-like)."""
        if name in self.fixations:
            return self.fixations[name]
        if self.fixation_like.get(name, False):
            return self.maps[name]
        return None

    def measure(self, name: str) -> np.ndarray:
        """The maps of one measure (``human_pc`` gives the first principal component of all)."""
        if name == "human_pc":
            return self.pc_fit().maps
        if name not in self.maps:
            from luab_bench.registry import unknown_name_message

            raise LuabError(unknown_name_message("human measure", name, [*self.maps, "human_pc"]))
        return self.maps[name]

    def resample(self, name: str, n_boot: int, seed: int) -> Iterator[np.ndarray] | None:
        """``n_boot`` resampled map sets of measure ``name`` (SI §D.2), or None when the per-annotator
        data behind it are not here. ``human_pc``: every measure resampled (resample k of each) and
        combined with the loadings fitted on the full data, as the paper does ("a linear combination
        of the 100 bootstrapped sample map estimates ... using the weights (loadings) from the PCA")."""
        if name != "human_pc":
            fn = self.resamplers.get(name)
            return fn(n_boot, seed) if fn is not None else None
        if not self.maps or any(m not in self.resamplers for m in self.maps):
            return None
        from luab_bench.alignment.human_pc import pc_combine

        pc = self.pc_fit()
        streams = [self.resamplers[m](n_boot, seed + 7919 * k) for k, m in enumerate(self.maps)]
        return (pc_combine(np.stack(sets), pc) for sets in zip(*streams, strict=True))

    def resample_note(self, name: str) -> str:
        """One line: how the human-data error bars of ``name`` are made, or why they cannot be."""
        if name == "human_pc" and self.maps and all(m in self.resamplers for m in self.maps):
            return (
                "human data resampled per measure (annotators redrawn, maps rebuilt), "
                "combined with the PC loadings"
            )
        if name in self.resamplers:
            return "human data resampled (annotators redrawn, maps rebuilt)"
        why = self.no_resample_reason or f"no per-annotator data behind measure {name!r}"
        return f"human-data bootstrap not possible ({why}); error bars are the image bootstrap"


def point_histogram(points: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float64 histogram of relative ``points`` (M, 2) x/y in [0, 1] with ``weights``
    (pixel ``floor(v * size)``, clipped; non-finite points and weights <= 0 ignored)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    hist = np.zeros((size, size), dtype=np.float64)
    ok = np.isfinite(pts).all(1) & (w > 0)
    if ok.any():
        col = np.clip((pts[ok, 0] * size).astype(np.int64), 0, size - 1)
        row = np.clip((pts[ok, 1] * size).astype(np.int64), 0, size - 1)
        np.add.at(hist, (row, col), w[ok])
    return hist


def density_map(points: np.ndarray, weights: np.ndarray, kernel: DensityKernel) -> np.ndarray:
    """(size, size) float64 density of relative ``points`` (M, 2) x/y with ``weights`` (M,): the
    histogram blurred (scipy ``gaussian_filter``, ``mode="constant"``) and divided by its sum."""
    return normalize_density(point_histogram(points, weights, kernel.size)[None], kernel)[0]


def normalize_density(hists: np.ndarray, kernel: DensityKernel) -> np.ndarray:
    """Histograms (N, s, s) -> densities: blurred with the kernel, each divided by its sum (0 stays 0)."""
    from scipy.ndimage import gaussian_filter

    h = np.asarray(hists, dtype=np.float64)
    if kernel.sigma_px > 0:
        h = gaussian_filter(h, kernel.sigma_px, mode="constant", axes=(1, 2))
    tot = h.sum(axis=(1, 2), keepdims=True)
    return np.where(tot > 0, h / np.where(tot > 0, tot, 1.0), 0.0)


def event_map(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float64 count histogram of relative ``points`` (M, 2) x/y, no blur (NSS weights)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return point_histogram(pts, np.ones(len(pts)), size)
