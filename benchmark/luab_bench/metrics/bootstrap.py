"""Seeded percentile-bootstrap confidence intervals for means of per-sample values.

Definition (what the tests check against a plain loop): with ``rng = numpy.random.default_rng(seed)``,
resample ``b = 0..n_boot-1`` draws ``u = rng.random(n)`` and takes the indices ``floor(u * n)``
(i.i.d. uniform over the n samples, with replacement); its statistic is the mean of the values at
those indices. The interval is the ``(1-c)/2`` and ``(1+c)/2`` percentiles of the ``n_boot``
statistics (numpy's default linear interpolation), ``c`` = ``confidence``.

The index matrix is built in chunks of rows (at most ``max_chunk_elements`` indices at a time) so
memory stays bounded for large n; drawing uniforms row by row from one stream makes the result
independent of the chunk size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

DEFAULT_N_BOOT = 1000
DEFAULT_CONFIDENCE = 0.95
_MAX_CHUNK_ELEMENTS = 1 << 22  # 4 Mi indices = 32 MiB of int64 per chunk

Seed = int | Sequence[int] | np.random.SeedSequence


class BootstrapCI(NamedTuple):
    """A point estimate and its percentile-bootstrap interval (``low <= high``)."""

    estimate: float
    low: float
    high: float


def _check_values(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D per-sample values, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a bootstrap needs at least one sample")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_params(n_boot: int, confidence: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _index_chunks(
    n: int, n_boot: int, rng: np.random.Generator, max_chunk_elements: int
) -> Iterator[np.ndarray]:
    """Yield (rows, n) index matrices, rows summing to n_boot, drawn row-major from ``rng``."""
    rows = max(1, max_chunk_elements // n)
    done = 0
    while done < n_boot:
        k = min(rows, n_boot - done)
        u = rng.random((k, n))
        u *= n
        idx = u.astype(np.intp)
        np.minimum(idx, n - 1, out=idx)  # guard against u * n rounding up to n
        yield idx
        done += k


def bootstrap_means(
    values: Any,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: Seed = 0,
    max_chunk_elements: int = _MAX_CHUNK_ELEMENTS,
) -> np.ndarray:
    """The ``n_boot`` resample means of ``values`` (1-D, finite), as float64 (n_boot,)."""
    arr = _check_values(values, "values")
    _check_params(n_boot, DEFAULT_CONFIDENCE)
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot, dtype=np.float64)
    start = 0
    for idx in _index_chunks(arr.size, n_boot, rng, max_chunk_elements):
        out[start : start + idx.shape[0]] = arr[idx].mean(axis=1)
        start += idx.shape[0]
    return out


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.percentile(stats, [100.0 * alpha / 2, 100.0 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_ci(
    values: Any,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: Seed = 0,
    max_chunk_elements: int = _MAX_CHUNK_ELEMENTS,
) -> BootstrapCI:
    """Mean of ``values`` with its seeded percentile-bootstrap interval (95% by default).

    For accuracies pass the per-sample 0/100 scores (``100 * correct``) so the interval is in %.
    """
    _check_params(n_boot, confidence)
    arr = _check_values(values, "values")
    means = bootstrap_means(arr, n_boot=n_boot, seed=seed, max_chunk_elements=max_chunk_elements)
    return BootstrapCI(float(arr.mean()), *_percentiles(means, confidence))


def bootstrap_means_many(
    arrays: Any,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: Seed = 0,
    max_chunk_elements: int = _MAX_CHUNK_ELEMENTS,
) -> list[np.ndarray]:
    """:func:`bootstrap_means` of several equal-length arrays from **one** index draw.

    Each returned array is bit-identical to ``bootstrap_means(a, n_boot=n_boot, seed=seed)`` (the same
    stream, the same chunks, the same row means), so ``m[i] - m[j]`` is exactly the resample
    distribution :func:`bootstrap_diff_ci` (``paired=True``) builds for ``arrays[i]`` vs ``arrays[j]``;
    drawing the indices once for many models is what makes many paired comparisons cheap.
    """
    arrs = [_check_values(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    _check_params(n_boot, DEFAULT_CONFIDENCE)
    if not arrs:
        return []
    if len({a.size for a in arrs}) != 1:
        raise ValueError(f"arrays must have equal length, got {sorted({a.size for a in arrs})}")
    rng = np.random.default_rng(seed)
    outs = [np.empty(n_boot, dtype=np.float64) for _ in arrs]
    start = 0
    for idx in _index_chunks(arrs[0].size, n_boot, rng, max_chunk_elements):
        for arr, out in zip(arrs, outs, strict=True):
            out[start : start + idx.shape[0]] = arr[idx].mean(axis=1)
        start += idx.shape[0]
    return outs


def paired_ci_from_means(
    means_a: np.ndarray, means_b: np.ndarray, estimate: float, *, confidence: float = DEFAULT_CONFIDENCE
) -> BootstrapCI:
    """The paired percentile interval from two models' resample means on one index draw
    (:func:`bootstrap_means_many`); with ``estimate = mean(a) - mean(b)`` it equals
    ``bootstrap_diff_ci(a, b, paired=True)`` on the same seed exactly."""
    _check_params(1, confidence)
    return BootstrapCI(float(estimate), *_percentiles(means_a - means_b, confidence))


def bootstrap_diff_ci(
    a: Any,
    b: Any,
    *,
    paired: bool,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: Seed = 0,
    max_chunk_elements: int = _MAX_CHUNK_ELEMENTS,
) -> BootstrapCI:
    """``mean(a) - mean(b)`` with a percentile-bootstrap interval.

    ``paired=True``: ``a[i]`` and ``b[i]`` are measurements of the same unit (e.g. the same foreground
    on two backgrounds, as in the BG-gap when the splits are index-aligned); each resample draws one
    index set (the same stream as :func:`bootstrap_ci`) and applies it to both, statistic
    ``mean(a[idx]) - mean(b[idx])`` (= the mean of the paired differences). This keeps the
    correlation between the two and gives the narrower, correct interval.

    ``paired=False``: the two samples are independent; each is resampled on its own stream
    (``SeedSequence(seed).spawn(2)``) and the interval is over the differences of resample means.
    """
    _check_params(n_boot, confidence)
    arr_a = _check_values(a, "a")
    arr_b = _check_values(b, "b")
    if paired:
        if arr_a.shape != arr_b.shape:
            raise ValueError(f"paired samples must have equal length, got {arr_a.size} and {arr_b.size}")
        rng = np.random.default_rng(seed)
        diffs = np.empty(n_boot, dtype=np.float64)
        start = 0
        for idx in _index_chunks(arr_a.size, n_boot, rng, max_chunk_elements):
            diffs[start : start + idx.shape[0]] = arr_a[idx].mean(axis=1) - arr_b[idx].mean(axis=1)
            start += idx.shape[0]
        return BootstrapCI(float(arr_a.mean() - arr_b.mean()), *_percentiles(diffs, confidence))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    seed_a, seed_b = ss.spawn(2)
    kw = {"n_boot": n_boot, "max_chunk_elements": max_chunk_elements}
    diffs = bootstrap_means(arr_a, seed=seed_a, **kw) - bootstrap_means(arr_b, seed=seed_b, **kw)
    return BootstrapCI(float(arr_a.mean() - arr_b.mean()), *_percentiles(diffs, confidence))


def bootstrap_index_ci(
    statistic: Any,
    n: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: Seed = 0,
    max_chunk_elements: int = _MAX_CHUNK_ELEMENTS,
) -> BootstrapCI:
    """Percentile-bootstrap interval of any dataset-level statistic (AP, mAP, MaxBoxAcc, PxAP...).

    ``statistic(idx)`` computes the metric on the samples ``idx`` (1-D int array, with repeats);
    the estimate is ``statistic(arange(n))``. Resample indices come from the same stream as
    :func:`bootstrap_ci`, so for ``statistic = mean of values[idx]`` both give the same interval.
    The estimate is widened into the interval if a degenerate resample distribution excludes it.
    """
    _check_params(n_boot, confidence)
    if n < 1:
        raise ValueError("a bootstrap needs at least one sample")
    estimate = float(statistic(np.arange(n)))
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot, dtype=np.float64)
    start = 0
    for idx in _index_chunks(n, n_boot, rng, max_chunk_elements):
        for row in idx:
            stats[start] = statistic(row)
            start += 1
    low, high = _percentiles(stats, confidence)
    return BootstrapCI(estimate, min(low, estimate), max(high, estimate))
