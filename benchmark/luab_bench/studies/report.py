"""The sensitivity study's report (markdown): command, conditions, seed means, paired Δ, MDE, gaps."""

from __future__ import annotations

from typing import Any

from luab_bench.studies.config import PER_IMAGE_SPLITS


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
        src = v.get("per_image_source")
        if src:
            lines += [
                f"Per-image scores of the {sum(src.values())} runs: {src['result']} from the result files' "
                f"signed `per_image` blocks, {src['checkpoint']} re-evaluated from kept checkpoints, "
                f"{src['none']} without (their cells show the Δ alone).",
                "",
            ]
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
