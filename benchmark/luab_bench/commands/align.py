"""``luab-bench align``: score a model's saliency maps against human visual-selectivity maps."""

from __future__ import annotations

from pathlib import Path

import click

from luab_bench.cli_options import opt_data_dir, opt_device, opt_progress
from luab_bench.errors import LuabError


@click.command()
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Checkpoint directory written by `luab-bench train`.",
)
@click.option("--model", default=None, help="Untrained timm model name (a control) instead of --checkpoint.")
@click.option(
    "--variant", default=None, help="Synthetic variant (default: the checkpoint's, else 'synthetic')."
)
@click.option(
    "--maps",
    default="byproducts",
    show_default=True,
    help="'byproducts' (simulated annotators' clicks + mouse tracks on the split) or a human-map folder.",
)
@click.option(
    "--measure", default=None, help="Human measure to compare with (default: clicks; a folder: human_pc)."
)
@click.option(
    "--method",
    "methods",
    default="sgbp,gradcam",
    show_default=True,
    help="Comma list of saliency methods, or 'all'.",
)
@click.option("--split", default="val", show_default=True, help="Dataset split of the images.")
@click.option(
    "--limit",
    type=click.IntRange(min=2),
    default=200,
    show_default=True,
    help="Use N images evenly spaced over the split (the evaluation splits are in class order).",
)
@click.option(
    "--annotators",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Simulated annotators per image.",
)
@click.option(
    "--kernel-sigma",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    help="Density kernel std (px at 100x100).",
)
@click.option("--split-half", is_flag=True, help="Also report split-half cross-validated r.")
@click.option("--masking/--no-masking", default=True, show_default=True, help="Run the causal masking test.")
@click.option(
    "--n-boot", type=click.IntRange(min=10), default=100, show_default=True, help="Bootstrap resamples."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (noise, bootstrap, mismatches).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Existing result JSON to add the align_* metrics to.",
)
@click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Re-sign --out with this key.",
)
@click.option(
    "--plots",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write r-vs-sigma PNG/SVG here.",
)
@opt_data_dir
@opt_device
@opt_progress
def align(
    checkpoint: Path | None,
    model: str | None,
    variant: str | None,
    maps: str,
    measure: str | None,
    methods: str,
    split: str,
    limit: int,
    annotators: int,
    kernel_sigma: float,
    split_half: bool,
    masking: bool,
    n_boot: int,
    seed: int,
    out: Path | None,
    key: Path | None,
    plots: Path | None,
    data_dir: Path,
    device: str,
    progress: bool,
) -> None:
    """Passive attention vs human selectivity (Langlois et al. 2021): r, sigma, Spearman, masking test."""
    import numpy as np

    from luab_bench import pipeline
    from luab_bench.alignment import human_maps as hm
    from luab_bench.alignment.report import (
        AlignConfig,
        add_metrics_to_result,
        align_model,
        evenly_spaced,
        plot_sigma_curves,
    )
    from luab_bench.alignment.saliency import method_names
    from luab_bench.data.synthetic import load_split

    if (checkpoint is None) == (model is None):
        raise LuabError("give exactly one of --checkpoint DIR or --model NAME")
    if key is not None and out is None:
        raise LuabError("--key signs the result given by --out; add --out RESULT.json")
    if out is not None and not out.is_file():
        raise LuabError(f"{out}: result file not found; create it with `luab-bench evaluate` first")
    names = tuple(method_names(methods))
    dev = pipeline.resolve_device(device)
    if checkpoint is not None:
        from luab_bench.train.checkpoint import load_checkpoint

        net, meta = load_checkpoint(checkpoint, dev)
        variant = variant or (meta.get("data") or {}).get("variant") or "synthetic"
        label = f"{meta['model']['name']} ({checkpoint.name})"
    dataset = pipeline.prepare_synthetic(variant or "synthetic", data_dir.expanduser(), progress=progress)
    arrays = load_split(dataset.directory, split)
    if model is not None:
        from luab_bench.models import create_model

        net = (
            create_model(model, int(np.max(arrays.labels)) + 1, num_point_heads=0, init_seed=seed)
            .to(dev)
            .eval()
        )
        label = f"{model} (untrained)"
    pick = evenly_spaced(len(arrays), limit)
    ids = [arrays.ids[i] for i in pick]
    if maps == "byproducts":
        records = hm.simulate_records(dataset.directory, split, annotators=annotators, seed=seed)
        human = hm.byproduct_density_maps(records, ids, hm.DensityKernel(sigma_px=kernel_sigma))
        source = f"{annotators} simulated annotators' clicks+tracks"
    else:
        human = hm.load_map_folder(Path(maps), ids)
        source = f"maps from {maps}"
    measure = measure or ("clicks" if maps == "byproducts" else "human_pc")
    cfg = AlignConfig(
        methods=names,
        measure=measure,
        n_boot=n_boot,
        split_half=split_half,
        masking=masking,
        seed=seed,
        data_label=f"{dataset.variant}/{split} ({len(ids)} evenly spaced images), {source}",
    )
    click.echo(f"Aligning {label} on {len(human.ids)} images ({cfg.data_label}); measure {measure!r}")
    report = align_model(
        net,
        np.asarray(arrays.images[pick]),
        np.asarray(arrays.labels[pick]),
        ids,
        human,
        cfg,
        device=dev,
        progress=(lambda m: click.echo(f"  {m}")) if progress else None,
    )
    for line in report.table_lines():
        click.echo(line)
    if plots is not None:
        stem = plots / f"align_{(checkpoint.name if checkpoint else model).replace('/', '_')}"  # type: ignore[union-attr]
        for p in plot_sigma_curves(report, stem, title=label):
            click.echo(f"Plot: {p}")
    if out is not None:
        signed = add_metrics_to_result(out, report.metrics(), key=key)
        click.echo(
            f"Result: {out} "
            + ("(re-signed)" if signed else "(UNSIGNED: its old signature was removed; sign it with --key)")
        )
