"""The sensitivity study: positive controls × seeds × variants, paired statistics, a written report.

``run_study`` trains and evaluates every (variant, seed, protocol) of a :class:`StudyConfig` that has
no verified result yet (one at a time, seed-major, so a stopped study resumes where it left off),
logging the conditions of each job (start/end time, load average, usable cores, wall time). Then
``analyse`` computes, per variant:

* the seed means of every protocol (mean ± 95% t interval over seeds);
* per comparison (treated − control) and metric, the mean paired difference over the shared seeds
  with its 95% t interval (``metrics.paired.paired_difference``) and, per seed, the paired bootstrap
  over the same test images (``metrics.bootstrap.bootstrap_diff_ci(paired=True)`` on the two models'
  per-image scores; top-1 splits and BG-gap, whose per-image score is correct(mixed_same) −
  correct(mixed_rand) for the shared foreground);
* the minimum detectable effect per metric at the study's k and n (``metrics.paired``):
  ``(t_{1-α/2,k-1} + t_{power,k-1}) · sqrt(s_d²/k + se_test²)``, ``s_d`` the seed SD of the paired
  differences pooled over all comparisons, ``se_test`` the measured paired-bootstrap SE of one
  per-seed difference (95% half-width / 1.96) averaged over comparisons and seeds;
* which positive controls are detected: every metric listed under ``expected`` moves in its better
  direction with a t interval that excludes 0.

``render_markdown`` writes the report; the site gets the same tables (``commands/study.py``).
Nothing is tuned toward a result: the study reports whatever the runs give, including nulls.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from luab_bench.config import StrictModel, load_config
from luab_bench.errors import LuabError

STUDY_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = STUDY_DIR / "sensitivity.yaml"
PER_IMAGE_SPLITS = ("val", "only_fg", "no_fg", "mixed_same", "mixed_rand")
LOG_FILE = "study-log.json"
Echo = Callable[[str], None]


def _noop(_: str) -> None:
    pass


class StudyConfig(StrictModel):
    """``studies/sensitivity.yaml``: what the study trains and compares."""

    name: str
    version: str
    model: str
    suite: str
    recipe: str
    variants: list[str] = Field(min_length=1)
    protocols: list[str] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    comparisons: list[tuple[str, str]]
    expected: dict[str, list[str]] = Field(default_factory=dict)
    metrics: list[str] = Field(min_length=1)
    n_boot: int = Field(2000, ge=100)
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0.5, lt=1)
    epochs: int | None = Field(None, ge=1, description="override the recipe's epochs (None = recipe's)")

    @field_validator("version", mode="before")
    @classmethod
    def _v(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def load_study(path: str | Path | None = None) -> StudyConfig:
    """The study config (default: the built-in ``sensitivity.yaml``), validated."""
    return load_config(StudyConfig, path or DEFAULT_CONFIG)


def subset(
    cfg: StudyConfig,
    *,
    variants: str | None = None,
    protocols: str | None = None,
    seeds: list[int] | None = None,
    epochs: int | None = None,
) -> StudyConfig:
    """``cfg`` restricted to some of its variants / protocols, other seeds or epochs (CLI overrides)."""
    update: dict[str, Any] = {}
    for field, spec in (("variants", variants), ("protocols", protocols)):
        if spec is None:
            continue
        names = [n.strip() for n in spec.split(",") if n.strip()]
        unknown = [n for n in names if n not in getattr(cfg, field)]
        if unknown or not names:
            raise LuabError(
                f"--{field} {spec!r}: not in the study's {field} ({', '.join(getattr(cfg, field))})"
            )
        update[field] = names
    if seeds is not None:
        update["seeds"] = seeds
    if epochs is not None:
        update["epochs"] = epochs
    return cfg.model_copy(update=update)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a study keeps things under ``out``: one results dir, checkpoints per variant, the log."""

    out: Path

    @property
    def results(self) -> Path:
        return self.out / "results"

    def runs(self, variant: str) -> Path:
        return self.out / "runs" / variant

    def checkpoint(self, cfg: StudyConfig, variant: str, protocol: str, seed: int) -> Path:
        return self.runs(variant) / f"{cfg.suite}__{cfg.model}__{protocol}__s{seed}"

    @property
    def log(self) -> Path:
        return self.out / LOG_FILE


def _conditions() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "time": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "load1": round(load1, 2),
        "load5": round(load5, 2),
        "usable_cores": cores,
        "cpu_count": os.cpu_count(),
    }


def read_log(layout: Layout) -> list[dict[str, Any]]:
    if not layout.log.is_file():
        return []
    try:
        data = json.loads(layout.log.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise LuabError(
            f"{layout.log}: unreadable study log ({err}); move it away to start a new log"
        ) from None
    return list(data) if isinstance(data, list) else []


def _append_log(layout: Layout, entry: dict[str, Any]) -> None:
    from luab_bench.io import atomic_write_bytes

    log = [e for e in read_log(layout) if e.get("job") != entry["job"]] + [entry]
    atomic_write_bytes(layout.log, (json.dumps(log, indent=1, sort_keys=True) + "\n").encode())


# ---------------------------------------------------------------- results on disk
def load_verified(results_dir: Path, model: str) -> dict[tuple[str, str, int], tuple[Path, Any]]:
    """(variant, protocol, seed) -> (path, Result) of every counted result of ``model``: a valid
    signature (the leaderboard's ``counted``: verified, or self-signed in a build without trust
    anchors, as the study's own throw-away key is) and not a replay."""
    from luab_bench.leaderboard.build import collect_rows, counted

    if not results_dir.is_dir():
        return {}
    report = collect_rows(results_dir)
    out: dict[tuple[str, str, int], tuple[Path, Any]] = {}
    for row in report.rows:
        # a valid signature (verified, or self-signed without trust anchors) and not a replay
        if not counted(row) or row["model"]["name"] != model:
            continue
        key = (row["suite"]["variant"], row["protocol"]["name"], int(row["seed"]))
        out.setdefault(key, (results_dir / row["file"], report.results[row["file"]]))
    return out


def jobs(cfg: StudyConfig) -> list[tuple[str, int, str]]:
    """Every (variant, seed, protocol), variant- then seed-major (a stopped study has whole seeds)."""
    return [(v, s, p) for v in cfg.variants for s in cfg.seeds for p in cfg.protocols]


def run_study(
    cfg: StudyConfig,
    out: Path,
    *,
    data_dir: Path,
    key: Path | None = None,
    device: str = "cpu",
    progress: bool = False,
    echo: Echo = _noop,
) -> list[tuple[str, int, str]]:
    """Train + evaluate every job without a verified result; returns the jobs that ran now."""
    from luab_bench.pipeline import _throwaway_key, evaluate_checkpoint, train_one

    layout = Layout(Path(out))
    layout.results.mkdir(parents=True, exist_ok=True)
    key = key or _throwaway_key(layout.out, echo)
    done = load_verified(layout.results, cfg.model)
    ran = []
    for variant, seed, protocol in jobs(cfg):
        ckpt = layout.checkpoint(cfg, variant, protocol, seed)
        if (variant, protocol, seed) in done and (ckpt / "checkpoint.json").is_file():
            continue
        job = f"{variant}/{protocol}/s{seed}"
        echo(f"study {cfg.name}: {job}")
        start, t0 = _conditions(), time.perf_counter()
        train_one(
            model=cfg.model,
            protocol=protocol,
            suite=cfg.suite,
            variant=variant,
            seed=seed,
            recipe=cfg.recipe,
            epochs=cfg.epochs,
            data_dir=data_dir,
            out=ckpt,
            device=device,
            progress=progress,
            echo=echo,
        )
        t_train = time.perf_counter() - t0
        path = evaluate_checkpoint(
            checkpoint=ckpt,
            suite=cfg.suite,
            data_dir=data_dir,
            results_dir=layout.results,
            key=key,
            device=device,
            progress=progress,
            echo=echo,
        )
        per_image_scores(ckpt, variant, data_dir=data_dir, device=device)
        wall = time.perf_counter() - t0
        _append_log(
            layout,
            {
                "job": job,
                "result": path.name,
                "start": start,
                "end": _conditions(),
                "train_s": round(t_train, 1),
                "wall_s": round(wall, 1),
            },
        )
        ran.append((variant, seed, protocol))
    return ran


# ---------------------------------------------------------------- per-image scores
def per_image_scores(ckpt: Path, variant: str, *, data_dir: Path, device: str = "cpu") -> Any:
    """bool (len(PER_IMAGE_SPLITS), N): is the checkpoint's top-1 prediction right on each test image.

    Cached next to the checkpoint as ``per_image-<fingerprint12>.npy`` (recomputed when the data or
    the checkpoint changes: the name carries the data fingerprint, the file is newer than the weights).
    """
    import numpy as np

    from luab_bench.data.synthetic import load_split
    from luab_bench.io import atomic_write_bytes
    from luab_bench.pipeline import prepare_synthetic
    from luab_bench.suites.base import predict
    from luab_bench.train.checkpoint import load_checkpoint

    dataset = prepare_synthetic(variant, data_dir, progress=False)
    cache = Path(ckpt) / f"per_image-{dataset.fingerprint[:12]}.npy"
    weights = Path(ckpt) / "model.safetensors"
    if cache.is_file() and weights.is_file() and cache.stat().st_mtime >= weights.stat().st_mtime:
        return np.load(cache, allow_pickle=False)
    net, meta = load_checkpoint(ckpt, device)
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


def metric_scores(scores: Any, metric: str) -> Any:
    """Per-image score (in the metric's unit) whose mean is ``metric``; None if it has none."""
    if metric == "bg_gap":
        same, rand = PER_IMAGE_SPLITS.index("mixed_same"), PER_IMAGE_SPLITS.index("mixed_rand")
        return 100.0 * (scores[same].astype(float) - scores[rand].astype(float))
    split = metric.removesuffix("_top1")
    if metric.endswith("_top1") and split in PER_IMAGE_SPLITS:
        return 100.0 * scores[PER_IMAGE_SPLITS.index(split)].astype(float)
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
        if per_image:
            for p, s in sorted(have):
                ckpt = layout.checkpoint(cfg, variant, p, s)
                if (ckpt / "checkpoint.json").is_file():
                    scores[(p, s)] = per_image_scores(ckpt, variant, data_dir=data_dir, device=device)
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
                    if va is not None and vb is not None:
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
            {"variant": variant, "n_test": n_test, "means": means, "comparisons": comps, "mde": mde}
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


# ---------------------------------------------------------------- report
def _f(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:+.1f}" if signed else f"{x:.1f}"


def _delta_cell(c: dict[str, Any]) -> str:
    if c["low"] is None:
        return f"{_f(c['delta'], True)} (k=1)"
    text = f"{_f(c['delta'], True)} [{_f(c['low'], True)}, {_f(c['high'], True)}]"
    return f"**{text}**" if c["significant"] else text


def render_markdown(analysis: dict[str, Any], *, command: str, title: str = "Sensitivity study") -> str:
    """The study report (markdown): command, conditions, seed means, paired Δ, MDE, detection, gaps."""
    cfg = analysis["config"]
    metrics = cfg["metrics"]
    lines = [f"# {title}", ""]
    lines += [
        f"Study `{cfg['name']}` v{cfg['version']} (`benchmark/luab_bench/studies/sensitivity.yaml`): "
        f"{cfg['model']}, suite `{cfg['suite']}`, recipe `{cfg['recipe']}`"
        + (f" with {cfg['epochs']} epochs" if cfg.get("epochs") else "")
        + f"; variants {', '.join(cfg['variants'])}; protocols {', '.join(cfg['protocols'])}; "
        f"seeds {', '.join(map(str, cfg['seeds']))}.",
        "",
        "Command:",
        "",
        "```bash",
        command,
        "```",
        "",
        "Definitions: Δ = treated − control, the mean paired difference over the seeds both have, with its "
        "95% Student-t interval over seeds; **bold** = the interval excludes 0 (a finding), plain = it "
        "includes 0 (not a finding). Per seed, the paired bootstrap interval over the same test images "
        f"({cfg['n_boot']} resamples). MDE = (t_{{1-α/2,k-1}} + t_{{power,k-1}}) · √(s_d²/k + se_test²) at "
        f"α = {cfg['alpha']}, power {cfg['power']} (Chow, Shao & Wang 2008, Sec. 3.1; "
        "`luab_bench.metrics.paired`). Units: top-1 in %, BG-gap in pp (lower is better).",
        "",
    ]
    for v in analysis["variants"]:
        lines += [f"## Variant `{v['variant']}` (n = {v['n_test']} test images per split)", ""]
        head = "| protocol | k | " + " | ".join(metrics) + " |"
        lines += ["### Seed means (mean ± 95% t half-width)", "", head, "|" + "---|" * (len(metrics) + 2)]
        for row in v["means"]:
            cells = []
            for m in metrics:
                c = row["metrics"].get(m)
                if c is None:
                    cells.append("–")
                else:
                    cells.append(_f(c["mean"]) + (f" ± {_f(c['half'])}" if c["half"] is not None else ""))
            lines.append(f"| {row['protocol']} | {len(row['seeds'])} | " + " | ".join(cells) + " |")
        lines += ["", "### Paired differences (Δ [95% t interval over seeds])", ""]
        lines += ["| comparison | seeds | " + " | ".join(metrics) + " |", "|" + "---|" * (len(metrics) + 2)]
        for c in v["comparisons"]:
            cells = [_delta_cell(c["metrics"][m]) if m in c["metrics"] else "–" for m in metrics]
            lines.append(f"| {c['label']} | {','.join(map(str, c['seeds']))} | " + " | ".join(cells) + " |")
        lines += ["", "### Per seed: paired bootstrap over the same test images", ""]
        boot_metrics = [m for m in metrics if m == "bg_gap" or m.removesuffix("_top1") in PER_IMAGE_SPLITS]
        lines += [
            "| comparison | seed | " + " | ".join(boot_metrics) + " |",
            "|" + "---|" * (len(boot_metrics) + 2),
        ]
        for c in v["comparisons"]:
            for i, s in enumerate(c["seeds"]):
                cells = []
                for m in boot_metrics:
                    cell = c["metrics"].get(m)
                    e = cell["per_seed"][i] if cell and i < len(cell["per_seed"]) else None
                    if e is None:
                        cells.append("–")
                    elif e["low"] is None:
                        cells.append(_f(e["delta"], True))
                    else:
                        cells.append(f"{_f(e['delta'], True)} [{_f(e['low'], True)}, {_f(e['high'], True)}]")
                lines.append(f"| {c['label']} | {s} | " + " | ".join(cells) + " |")
        lines += ["", "### Minimum detectable effect (paired, k seeds, this n)", ""]
        lines += [
            "| metric | k | s_d (seed SD of paired Δ) | se_test (paired bootstrap) | MDE |",
            "|---|---|---|---|---|",
        ]
        for m in metrics:
            e = v["mde"][m]
            lines.append(f"| {m} | {e['k']} | {_f(e['sd_seed'])} | {_f(e['se_test'])} | {_f(e['mde'])} |")
        lines += [
            "",
            "se_test '–': the metric has no per-image score here (SI / corruption / challenge analogues), so "
            "its MDE counts seed variation only and is a lower bound.",
        ]
        lines += ["", "### Positive controls", ""]
        for c in v["comparisons"]:
            if c["detected"] is None:
                continue
            want = ", ".join(f"{m} better" for m in c["expected"])
            lines.append(
                f"* {c['label']} (expected: {want}): **{'detected' if c['detected'] else 'NOT detected'}** "
                f"at k = {len(c['seeds'])} — "
                + "; ".join(f"{m} {_delta_cell(c['metrics'][m])}" for m in c["expected"] if m in c["metrics"])
            )
        luab = [c for c in v["comparisons"] if c["treated"] == "luab"]
        for c in luab:
            lines.append(
                f"* {c['label']} (measured, no expected sign): "
                + "; ".join(
                    f"{m} {_delta_cell(c['metrics'][m])}"
                    for m in ("mixed_rand_top1", "bg_gap", "val_top1")
                    if m in c["metrics"]
                )
            )
        lines.append("")
    lines += ["## Runs and conditions", ""]
    log = {e["job"]: e for e in analysis["log"]}
    lines += [
        "| run | result file | commit | train wall (s) | start (UTC), load1 | end, load1 | cores |",
        "|---|---|---|---|---|---|---|",
    ]
    for job, r in analysis["results"].items():
        e = log.get(job)
        start = f"{e['start']['time']}, {e['start']['load1']}" if e else "not logged (see docs)"
        end = f"{e['end']['time']}, {e['end']['load1']}" if e else "–"
        cores = f"{e['start']['usable_cores']}/{e['start']['cpu_count']}" if e else "–"
        commit = (r["commit"] or "?")[:8] + ("+dirty" if r["dirty"] else "")
        wall = "–" if r["train_wall_s"] is None else f"{r['train_wall_s']:.0f}"
        lines.append(f"| {job} | `{r['file']}` | {commit} | {wall} | {start} | {end} | {cores} |")
    lines += ["", "## Not run", ""]
    if analysis["missing"]:
        lines += [f"* {m['variant']} / {m['protocol']} / seed {m['seed']}" for m in analysis["missing"]]
    else:
        lines.append("Nothing: every (variant, protocol, seed) of the config has a verified result.")
    lines.append("")
    return "\n".join(lines)


__all__ = [
    "DEFAULT_CONFIG",
    "Layout",
    "StudyConfig",
    "analyse",
    "jobs",
    "load_study",
    "load_verified",
    "metric_scores",
    "per_image_scores",
    "render_markdown",
    "run_study",
    "subset",
]
