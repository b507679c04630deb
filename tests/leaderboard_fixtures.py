"""Result files for the leaderboard, site-browser and benchmark tests (built in a tmp dir)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from luab_bench.results.schema import Result

EVIL = "<script>alert(1)</script>"
SYNTHETIC_METRICS = ("val_top1", "only_fg_top1", "no_fg_top1", "mixed_same_top1", "mixed_rand_top1")


def metric(value: float, half: float | None = 1.5, *, higher: bool = True, task: str = "") -> dict[str, Any]:
    m: dict[str, Any] = {"value": value, "n": 500, "unit": "%", "higher_is_better": higher, "task": task}
    if half is not None:
        m.update(ci_low=value - half, ci_high=value + half)
    return m


def synthetic_doc(model: str, protocol: str, seed: int, base: float, **extra: Any) -> dict[str, Any]:
    """A schema-valid result document with the synthetic suite's metric names."""
    metrics = {name: metric(base - 5 * i) for i, name in enumerate(SYNTHETIC_METRICS)}
    metrics["bg_gap"] = metric(base / 10, None, higher=False, task="mixed_same - mixed_rand")
    return {
        "schema_version": "1.0",
        "result_id": "r" + re.sub(r"[^A-Za-z0-9_.-]", "x", f"{model}-{protocol}-{seed}")[:100],
        "created_at": "2026-01-31T12:00:00Z",
        "model": {"name": model, "source": "timm", "pretrained": False, "num_params": 4_900_000},
        "protocol": {"name": protocol, "version": "1.0", "family": "point_regression"},
        "suite": {"name": "synthetic", "variant": "synthetic", "data_fingerprint": "sha256:ab12"},
        "seed": seed,
        "metrics": metrics,
        "config": {"recipe": {"epochs": 3, "lr": 0.1}, "protocol": {"name": protocol}},
        "provenance": {"luab_bench_version": "0.1.0", "python": "3.11", "packages": {"torch": "2.14.1"}},
        "training": {"curves": {"total": [2.3, 1.7, 1.2], "train_top1": [20.0, 45.5, 61.0]}, "epochs": 3},
        **extra,
    }


def write_results(directory: Path, docs: list[dict[str, Any]], key: Path | None) -> list[Path]:
    """Validate, write (and sign with ``key`` when given) each document; returns the paths."""
    from luab_bench.results.signing import load_private_key, sign_result
    from luab_bench.results.store import write_result_to_dir

    private = load_private_key(key) if key is not None else None
    paths = []
    for doc in docs:
        result = Result.model_validate(doc)
        if private is not None:
            result = sign_result(result, private)
        paths.append(write_result_to_dir(directory, result))
    return paths


SIGMAS = [0.0, 2.0, 4.0, 8.0, 16.0]


def alignment_block(methods: tuple[str, ...] = ("gradcam", EVIL), measure: str = "clicks") -> dict[str, Any]:
    """A schema-1.1 ``alignment`` block: one r-vs-sigma curve per method, with one undefined (null) r.

    Method ``i``'s curve peaks at sigma ``SIGMAS[2]`` with r = 0.4 - 0.1 i; its r at sigma 2 is null.
    """
    curves = []
    for i, method in enumerate(methods):
        top = 0.4 - 0.1 * i
        mean_r = [top - 0.2, None, top, top - 0.05, top - 0.15]
        curves.append(
            {"method": method, "sigmas": SIGMAS, "mean_r": mean_r, "best_sigma": SIGMAS[2], "best_r": top}
        )
    return {"measure": measure, "data": f"synthetic human maps <b>{measure}</b>", "curves": curves}


def aligned_doc(model: str, protocol: str, seed: int, base: float, **extra: Any) -> dict[str, Any]:
    """:func:`synthetic_doc` in schema 1.1 with an alignment block and its ``align_*`` metrics."""
    doc = synthetic_doc(model, protocol, seed, base, **extra)
    block = alignment_block()
    doc["schema_version"] = "1.1"
    doc["alignment"] = block
    for c in block["curves"]:
        doc["metrics"][f"align_{c['method']}_r" if c["method"] != EVIL else "align_evil_r"] = {
            "value": c["best_r"],
            "n": 40,
            "ci_low": c["best_r"] - 0.05,
            "ci_high": c["best_r"] + 0.07,
            "unit": "",
            "higher_is_better": True,
            "task": f"{c['method']}: mean Pearson r at the best sigma",
        }
    doc["metrics"]["align_gradcam_sigma"] = {
        "value": SIGMAS[2],
        "n": 40,
        "unit": "",
        "higher_is_better": False,
        "task": "best sigma",
    }
    return doc


def suite_doc(
    model: str, protocol: str, seed: int, suite: str, values: dict[str, float], lower: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A schema-valid result of ``suite`` with exactly the metrics ``values`` (``lower``: lower is better)."""
    doc = synthetic_doc(model, protocol, seed, 50.0)
    doc["suite"] = {"name": suite, "variant": suite, "data_fingerprint": "sha256:cd34"}
    doc["metrics"] = {k: metric(v, higher=k not in lower) for k, v in values.items()}
    return doc


def fixture_per_image_r(name: str, top: float, n: int = 40) -> list[float]:
    """Deterministic per-image r with mean ``top`` (seeded by ``name``: baselines agree across results)."""
    import zlib

    import numpy as np

    z = np.random.default_rng(zlib.crc32(name.encode())).normal(size=n)
    return [float(v) for v in top + 0.05 * (z - z.mean())]


def aligned_doc_v12(
    model: str, protocol: str, seed: int, base: float, r: float, *, per_image: bool = False
) -> dict[str, Any]:
    """A schema-1.2 result: methods gbp (peak ``r``) and gradcam (``r - 0.2``) plus the two baselines
    (same values in every result: they use no model), human-data bootstrap fields, a t-test matrix.
    ``per_image``: also per-image r (:func:`fixture_per_image_r`), image ids and a methods x measures
    block (``clicks`` and ``tracks``)."""
    doc = synthetic_doc(model, protocol, seed, base)
    doc["schema_version"] = "1.2"
    curves = []
    names = ["gbp", "gradcam", "centre", "spectral_residual"]
    peaks = [r, r - 0.2, 0.25, 0.1]
    for name, top in zip(names, peaks, strict=True):
        curves.append(
            {
                "method": name,
                "sigmas": SIGMAS,
                "mean_r": [top - 0.2, top - 0.1, top, top - 0.05, top - 0.15],
                "best_sigma": SIGMAS[2],
                "best_r": top,
                "kind": "baseline" if name in ("centre", "spectral_residual") else "method",
                "n": 40,
                "image_ci_low": top - 0.04,
                "image_ci_high": top + 0.03,
                "human_boot_n": 100,
                "human_boot_sd": 0.011,
                "human_boot_ci_low": top - 0.02,
                "human_boot_ci_high": top + 0.02,
            }
        )
    m = len(names)
    diff = [[None if i == j else peaks[i] - peaks[j] for j in range(m)] for i in range(m)]
    pvals = [
        [None if i == j else (0.001 if abs(peaks[i] - peaks[j]) > 0.1 else 0.5) for j in range(m)]
        for i in range(m)
    ]
    doc["alignment"] = {
        "measure": "clicks",
        "data": "synthetic/val (40 evenly spaced images), 5 simulated annotators' clicks+tracks",
        "curves": curves,
        "conventions": "target=top; conventions langlois2021; blur=imgaussfilt; masking=langlois2021",
        "pairwise": {"names": names, "n": 40, "mean_diff": diff, "t": diff, "p_bonferroni": pvals},
    }
    if per_image:
        doc["alignment"]["image_ids"] = [f"img{k}" for k in range(40)]
        for c in curves:
            key = c["method"] if c["kind"] == "baseline" else f"{model}/{protocol}/{seed}/{c['method']}"
            c["per_image_r"] = fixture_per_image_r(key, c["best_r"])
        doc["alignment"]["per_measure"] = {
            "clicks": [
                {"method": n, "best_r": t, "best_sigma": 4.0, "n": 40}
                for n, t in zip(names, peaks, strict=True)
            ],
            "tracks": [
                {"method": n, "best_r": t - 0.1, "best_sigma": 6.0, "n": 40}
                for n, t in zip(names, peaks, strict=True)
            ],
        }
    for c in curves:
        doc["metrics"][f"align_{c['method']}_r"] = {
            "value": c["best_r"],
            "n": 40,
            "ci_low": c["image_ci_low"],
            "ci_high": c["image_ci_high"],
            "unit": "",
            "higher_is_better": True,
            "task": f"{c['method']}: mean Pearson r at the best sigma",
        }
    return doc


def per_image_doc(
    model: str, protocol: str, seed: int, correct: dict[str, Any], *, fingerprint: str | None = "sha256:ab12"
) -> dict[str, Any]:
    """:func:`synthetic_doc` in schema 1.2 with a ``per_image`` block: each of ``SYNTHETIC_METRICS`` is
    the mean of its boolean vector in ``correct`` (as the schema requires), ``bg_gap`` = mixed_same −
    mixed_rand; ``fingerprint``: the suite's data fingerprint (None: unknown data)."""
    from luab_bench.results.per_image import encode

    doc = synthetic_doc(model, protocol, seed, 50.0)
    doc["schema_version"] = "1.2"
    doc["suite"]["data_fingerprint"] = fingerprint
    for name in SYNTHETIC_METRICS:
        bits = [bool(b) for b in correct[name]]
        doc["metrics"][name] = metric(100.0 * sum(bits) / len(bits)) | {"n": len(bits)}
    gap = doc["metrics"]["mixed_same_top1"]["value"] - doc["metrics"]["mixed_rand_top1"]["value"]
    doc["metrics"]["bg_gap"] = metric(gap, None, higher=False, task="mixed_same - mixed_rand")
    doc["metrics"]["bg_gap"]["n"] = len(correct["mixed_same_top1"])
    doc["per_image"] = {name: encode(correct[name]) for name in SYNTHETIC_METRICS}
    return doc


def paired_correct(seed: int, gain: int, loss: int, n: int = 400) -> tuple[dict[str, Any], dict[str, Any]]:
    """(control, treated) boolean vectors per synthetic metric on the same ``n`` images: the treated
    model fixes ``gain`` of the control's wrong images and breaks ``loss`` of its right ones."""
    import zlib

    import numpy as np

    control, treated = {}, {}
    for name in SYNTHETIC_METRICS:
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        base = rng.random(n) < 0.6
        t = base.copy()
        wrong, right = np.flatnonzero(~base), np.flatnonzero(base)
        t[rng.choice(wrong, gain, replace=False)] = True
        t[rng.choice(right, loss, replace=False)] = False
        control[name], treated[name] = base, t
    return control, treated
