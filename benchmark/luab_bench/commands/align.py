"""``luab-bench align``: score a model's saliency maps against human visual-selectivity maps."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luab_bench.alignment.choices import CONVENTIONS, DEFAULT_CONVENTIONS, DEFAULT_TARGET, TARGETS
from luab_bench.cli_options import (
    SEED_TYPE,
    opt_allow_code,
    opt_data_dir,
    opt_device,
    opt_key,
    opt_model_weights,
    opt_out,
    opt_progress,
)
from luab_bench.errors import LuabError

if TYPE_CHECKING:
    from luab_bench.alignment.spec import AlignSpec

#: CLI options that become the :class:`~luab_bench.alignment.spec.AlignSpec` (option -> field)
_SPEC_OPTIONS = {
    "variant": "variant",
    "maps": "maps",
    "measure": "measure",
    "target": "target",
    "conventions": "conventions",
    "split": "split",
    "limit": "limit",
    "annotators": "annotators",
    "kernel_sigma": "kernel_sigma",
    "split_half": "split_half",
    "all_measures": "all_measures",
    "masking": "run_masking",
    "n_boot": "n_boot",
    "seed": "seed",
}


def _with_spec(fn: Callable[..., None]) -> Callable[..., None]:
    """Build the AlignSpec once at the CLI edge from the spec options (and ``--method``) and pass it
    to the command as ``spec``: an explicit method list is a request (a method that does not apply is
    an error), ``all`` skips such methods and prints why."""

    @functools.wraps(fn)
    def wrapper(**opts: Any) -> None:
        from luab_bench.alignment.saliency import method_names
        from luab_bench.alignment.spec import AlignSpec

        methods = opts.pop("methods")
        values = {field: opts.pop(option) for option, field in _SPEC_OPTIONS.items()}
        spec = AlignSpec(
            methods=tuple(method_names(methods)), skip_inapplicable=methods.strip() == "all", **values
        )
        fn(spec=spec, **opts)

    return wrapper


@click.command()
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Checkpoint directory written by `luab-bench train`.",
)
@click.option(
    "--model",
    default=None,
    help="A model spec instead of --checkpoint: timm name/tag, hf-hub:, local-dir:, module:callable "
    "(with --weights / --pretrained; a plain name without them is an untrained control).",
)
@opt_model_weights
@click.option(
    "--variant",
    default=None,
    help="Embedded variant, synthetic* or synthetic-coco* (default: the checkpoint's, else synthetic).",
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
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    default=DEFAULT_TARGET,
    show_default=True,
    help="Class the maps explain: the model's top prediction (Langlois et al. SI §A.2) or the label.",
)
@click.option(
    "--conventions",
    type=click.Choice(CONVENTIONS),
    default=DEFAULT_CONVENTIONS,
    show_default=True,
    help="Saliency, blur, Human PC and masking conventions: the paper's code, or luab-bench's earlier ones.",
)
@click.option(
    "--model-arg",
    "model_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Keyword for the untrained --model (repeatable; YAML values), e.g. img_size=32 depth=2.",
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
@click.option(
    "--all-measures",
    is_flag=True,
    help="Also give every map's peak r and sigma against every human measure (and their Human PC).",
)
@click.option("--masking/--no-masking", default=True, show_default=True, help="Run the causal masking test.")
@click.option(
    "--n-boot", type=click.IntRange(min=10), default=100, show_default=True, help="Bootstrap resamples."
)
@click.option(
    "--seed", type=SEED_TYPE, default=0, show_default=True, help="Seed (noise, bootstrap, mismatches)."
)
@opt_out("Existing result JSON to add the align_* metrics and the alignment block to.")
@opt_key("Re-sign --out with this key.")
@click.option(
    "--plots",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write r-vs-sigma PNG/SVG here.",
)
@opt_data_dir
@opt_allow_code
@opt_device
@opt_progress
@_with_spec
def align(
    checkpoint: Path | None,
    model: str | None,
    weights: Path | None,
    sha256: str | None,
    pretrained: bool,
    point_head: bool,
    model_args: tuple[str, ...],
    spec: AlignSpec,
    out: Path | None,
    key: Path | None,
    plots: Path | None,
    data_dir: Path,
    device: str,
    progress: bool,
) -> None:
    """Passive attention vs human selectivity (Langlois et al. 2021): r, sigma, rho, NSS, masking test."""
    from luab_bench import pipeline
    from luab_bench.alignment.report import align_result, align_set, plot_sigma_curves, write_alignment

    if (checkpoint is None) == (model is None):
        raise LuabError("give exactly one of --checkpoint DIR or --model NAME")
    if model_args and model is None:
        raise LuabError("--model-arg applies to an untrained --model, not to --checkpoint")
    kwargs = _model_kwargs(model_args)
    if checkpoint is not None and (weights or sha256 or pretrained or point_head):
        raise LuabError("--weights, --sha256, --pretrained, --point-head go with --model, not --checkpoint")
    if key is not None and out is None:
        raise LuabError("--key signs the result given by --out; add --out RESULT.json")
    if out is not None and not out.is_file():
        raise LuabError(f"{out}: result file not found; create it with `luab-bench evaluate` first")
    echo = (lambda m: click.echo(f"  {m}")) if progress else None
    if checkpoint is not None:
        outcome = align_result(
            out, checkpoint, spec, data_dir=data_dir, device=device, key=key, progress=echo
        )
        if outcome.report is None or not outcome.report.scores:
            raise LuabError(f"{checkpoint}: alignment skipped: {outcome.skipped}")
        report, signed, label = outcome.report, outcome.signed, checkpoint.name
    else:
        from luab_bench.model_spec import build_model, parse_model_spec

        mspec = parse_model_spec(
            model, weights=weights, sha256=sha256, pretrained=pretrained, point_head=point_head
        )
        dev = pipeline.resolve_device(device)
        aset = spec.load_set(spec.variant or "synthetic", data_dir, progress=progress)
        loaded = build_model(mspec, aset.num_classes, init_seed=spec.seed, **kwargs)
        net = loaded.net.to(dev).eval()
        cfg = spec.config(aset.label)
        state = (
            "untrained"
            if loaded.provenance["weights"] is None
            else "weights " + str(loaded.provenance["weights"]["source"])
        )
        click.echo(f"Aligning {model} ({state}) on {aset.label}; measure {cfg.measure!r}")
        report = align_set(net, aset, cfg, device=dev, progress=echo)
        signed = write_alignment(out, report, key=key) if out is not None else False
        label = str(model)
    click.echo(f"{label}: {report.config.data_label}; measure {report.config.measure!r}")
    for line in report.table_lines():
        click.echo(line)
    if plots is not None:
        for p in plot_sigma_curves(report, plots / f"align_{label.replace('/', '_')}", title=label):
            click.echo(f"Plot: {p}")
    if out is not None:
        click.echo(
            f"Result: {out} "
            + ("(re-signed)" if signed else "(UNSIGNED: its old signature was removed; sign it with --key)")
        )


def _model_kwargs(pairs: tuple[str, ...]) -> dict[str, object]:
    """``("img_size=32", "depth=2")`` -> ``{"img_size": 32, "depth": 2}`` (values parsed as YAML)."""
    import yaml

    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise LuabError(f"--model-arg {pair!r}: expected KEY=VALUE, e.g. img_size=32")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise LuabError(f"--model-arg {pair!r}: value is not valid YAML ({err})") from None
    return out
