"""The sensitivity study's numbers: per-image scores, seed means, paired differences, MDE, detection.

See :mod:`luab_bench.studies.sensitivity` for the definitions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError
from luab_bench.studies.config import PER_IMAGE_SPLITS, Layout, StudyConfig, jobs, load_verified, read_log


def per_image_scores(
    ckpt: Path, variant: str, *, data_dir: Path, device: str = "cpu", trained: Any = None
) -> Any:
    """bool (len(PER_IMAGE_SPLITS), N): is the checkpoint's top-1 prediction right on each test image.

    Cached next to the checkpoint as ``per_image-<fingerprint12>.npy`` (recomputed when the data or
    the checkpoint changes: the name carries the data fingerprint, the file is newer than the weights).
    ``trained``: the checkpoint's net as it was just trained (``run_job``), used instead of loading it.
    """
    import numpy as np

    from luab_bench.data.prepare import prepare_synthetic
    from luab_bench.data.synthetic import load_split
    from luab_bench.io import atomic_write_bytes
    from luab_bench.suites.base import predict
    from luab_bench.train.checkpoint import load_checkpoint

    dataset = prepare_synthetic(variant, data_dir, progress=False)
    cache = Path(ckpt) / f"per_image-{dataset.fingerprint[:12]}.npy"
    weights = Path(ckpt) / "model.safetensors"
    if cache.is_file() and weights.is_file() and cache.stat().st_mtime >= weights.stat().st_mtime:
        return np.load(cache, allow_pickle=False)
    net, meta = (trained.net, trained.meta) if trained is not None else load_checkpoint(ckpt, device)
    if meta["data"].get("fingerprint") != dataset.fingerprint:
        raise LuabError(f"{ckpt}: trained on other data than the {variant} variant here; retrain it")
    net.eval()
    rows = []
    for split in PER_IMAGE_SPLITS:
        sp = load_split(dataset.directory, split)
        pred = predict(net, np.asarray(sp.images), device=device, normalize=(net.input_mean, net.input_std))
        rows.append(pred.pred == np.asarray(sp.labels))
    scores = np.stack(rows)
    import io

    buf = io.BytesIO()
    np.save(buf, scores, allow_pickle=False)
    atomic_write_bytes(cache, buf.getvalue())
    return scores


def result_scores(result: Any) -> Any:
    """bool (len(PER_IMAGE_SPLITS), N) from a result's signed ``per_image`` block; None if it lacks one.

    What the per-seed paired bootstrap needs, read from the result file alone (no checkpoint).
    """
    import numpy as np

    block = getattr(result, "per_image", None) or {}
    names = [f"{split}_top1" for split in PER_IMAGE_SPLITS]
    if not all(name in block for name in names):
        return None
    rows = [block[name].bits() for name in names]
    if len({len(r) for r in rows}) != 1:
        return None  # splits of different sizes: not the generated BG-challenge layout
    return np.asarray(rows, dtype=bool)


def metric_scores(scores: Any, metric: str) -> Any:
    """Per-image score (in the metric's unit) whose mean is ``metric``; None if it has none.

    ``scores``: bool (len(PER_IMAGE_SPLITS), N), rows in ``PER_IMAGE_SPLITS`` order; BG-gap's score is
    derived as ``results.per_image.gap_sources`` says (the site's rule).
    """
    from luab_bench.results.per_image import gap_sources

    rows = {f"{split}_top1": i for i, split in enumerate(PER_IMAGE_SPLITS)}
    parts = gap_sources(metric)
    if parts is not None:
        if not all(p in rows for p in parts):
            return None
        return 100.0 * (scores[rows[parts[0]]].astype(float) - scores[rows[parts[1]]].astype(float))
    if metric in rows:
        return 100.0 * scores[rows[metric]].astype(float)
    return None


# ---------------------------------------------------------------- analysis
def analyse(
    cfg: StudyConfig, out: Path, *, data_dir: Path, device: str = "cpu", per_image: bool = True
) -> dict[str, Any]:
    """The study's numbers (see the module docstring) from the verified results under ``out``."""
    from luab_bench.leaderboard.aggregate import mean_interval, verdict
    from luab_bench.leaderboard.paired import Z_95, label
    from luab_bench.metrics.bootstrap import bootstrap_diff_ci
    from luab_bench.metrics.paired import minimum_detectable_effect, paired_difference, pooled_sd
    from luab_bench.seeds import named_seed

    layout = Layout(Path(out))
    done = load_verified(layout.results, cfg.model)
    missing = [j for j in jobs(cfg) if (j[0], j[2], j[1]) not in done]
    variants = []
    for variant in cfg.variants:
        have = {(p, s): r for (v, p, s), (_, r) in done.items() if v == variant}
        scores: dict[tuple[str, int], Any] = {}
        source = {"result": 0, "checkpoint": 0, "none": 0}
        for p, s in sorted(have):
            # the result's signed per_image block; else (a result written before the block existed)
            # the checkpoint's re-evaluation, while the checkpoint is still there
            got, where = (result_scores(have[(p, s)]), "result") if per_image else (None, "none")
            ckpt = layout.checkpoint(cfg, variant, p, s)
            if got is None and per_image and (ckpt / "checkpoint.json").is_file():
                got, where = per_image_scores(ckpt, variant, data_dir=data_dir, device=device), "checkpoint"
            source[where if got is not None else "none"] += 1
            if got is not None:
                scores[(p, s)] = got
        means = []
        for p in cfg.protocols:
            seeds = sorted(s for (q, s) in have if q == p)
            if not seeds:
                continue
            cells = {}
            for m in cfg.metrics:
                vals = [have[(p, s)].metrics[m].value for s in seeds if m in have[(p, s)].metrics]
                if vals:
                    mean, half = mean_interval(vals)
                    cells[m] = {"mean": mean, "half": half, "k": len(vals), "values": vals}
            means.append({"protocol": p, "seeds": seeds, "metrics": cells})
        comps = []
        diffs_by_metric: dict[str, list[list[float]]] = {m: [] for m in cfg.metrics}
        se_by_metric: dict[str, list[float]] = {m: [] for m in cfg.metrics}
        for treated, control in cfg.comparisons:
            seeds = sorted(s for (q, s) in have if q == treated and (control, s) in have)
            if not seeds:
                continue
            cells = {}
            for m in cfg.metrics:
                ss = [s for s in seeds if m in have[(treated, s)].metrics and m in have[(control, s)].metrics]
                if not ss:
                    continue
                a = [have[(treated, s)].metrics[m].value for s in ss]
                b = [have[(control, s)].metrics[m].value for s in ss]
                pd = paired_difference(a, b)
                hib = have[(treated, ss[0])].metrics[m].higher_is_better
                per_seed = []
                for s, x, y in zip(ss, a, b, strict=True):
                    entry: dict[str, Any] = {"seed": s, "delta": x - y, "low": None, "high": None}
                    sa, sb = scores.get((treated, s)), scores.get((control, s))
                    va = None if sa is None else metric_scores(sa, m)
                    vb = None if sb is None else metric_scores(sb, m)
                    fp = have[(treated, s)].suite.data_fingerprint  # the site's rule: equal and known
                    same_images = fp is not None and fp == have[(control, s)].suite.data_fingerprint
                    if va is not None and vb is not None and same_images and va.shape == vb.shape:
                        ci = bootstrap_diff_ci(va, vb, paired=True, n_boot=cfg.n_boot, seed=named_seed(s, m))
                        entry.update(low=ci.low, high=ci.high, boot_delta=ci.estimate)
                        se_by_metric[m].append((ci.high - ci.low) / 2 / Z_95)
                    per_seed.append(entry)
                diffs_by_metric[m].append([x - y for x, y in zip(a, b, strict=True)])
                cells[m] = {
                    "delta": pd.mean,
                    "low": pd.low,
                    "high": pd.high,
                    "k": pd.k,
                    "significant": pd.excludes_zero,
                    "verdict": verdict(pd.mean, hib) if pd.excludes_zero else "ns",
                    "unit": have[(treated, ss[0])].metrics[m].unit,
                    "per_seed": per_seed,
                }
            expected = cfg.expected.get(treated, []) if control == "baseline" else []
            detected = None
            if expected:
                detected = all(cells.get(m, {}).get("verdict") == "better" for m in expected)
            comps.append(
                {
                    "treated": treated,
                    "control": control,
                    "label": f"{label(treated)} − {label(control)}",
                    "seeds": seeds,
                    "metrics": cells,
                    "expected": expected,
                    "detected": detected,
                }
            )
        mde = {}
        k = len(cfg.seeds)
        for m in cfg.metrics:
            pooled = pooled_sd(diffs_by_metric[m])
            ses = se_by_metric[m]
            se = sum(ses) / len(ses) if ses else None
            mde[m] = {
                "sd_seed": None if pooled is None else pooled[0],
                "dof": None if pooled is None else pooled[1],
                "se_test": se,
                "k": k,
                "mde": None
                if pooled is None or k < 2
                else minimum_detectable_effect(
                    pooled[0], k, se_test=se or 0.0, alpha=cfg.alpha, power=cfg.power
                ),
            }
        n_test = next((r.metrics["val_top1"].n for r in have.values() if "val_top1" in r.metrics), None)
        variants.append(
            {
                "variant": variant,
                "n_test": n_test,
                "means": means,
                "comparisons": comps,
                "mde": mde,
                "per_image_source": source,
            }
        )
    return {
        "config": cfg.model_dump(mode="json"),
        "variants": variants,
        "missing": [{"variant": v, "seed": s, "protocol": p} for v, s, p in missing],
        "log": read_log(layout),
        "results": {
            f"{v}/{p}/s{s}": {
                "file": path.name,
                "commit": r.provenance.git_commit,
                "dirty": r.provenance.git_dirty,
                "train_wall_s": (r.training or {}).get("wall_time_s"),
            }
            for (v, p, s), (path, r) in sorted(done.items())
        },
    }
